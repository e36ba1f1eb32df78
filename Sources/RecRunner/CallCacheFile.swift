import Foundation
import RecCore
import RecData
import RecStore

/// The language-model call cache as a file (JSON Lines, xz-compressed when the name ends in
/// `.xz`), one call per line:
///
/// `{"backend":"local","completion_tokens":41,"created_at":"…","key":"…","kind":"chat","model":"…","prompt_tokens":407,"request":"…","response":"…"}`
///
/// A run's expensive part is its model calls, and every stage re-derives its texts from the
/// cache at no cost, so an export carries a long generation to another machine: import it
/// there and the run resumes where the export was taken.
public enum CallCacheFile {
    struct Line: Codable {
        var key, backend, model, kind, request, response: String
        var promptTokens, completionTokens: Int
        var createdAt: String

        enum CodingKeys: String, CodingKey {
            case key, backend, model, kind, request, response
            case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", createdAt = "created_at"
        }
    }

    /// Writes every call in `store` to `path` (replacing it only once the whole file is
    /// written) and returns how many.
    public static func export(from store: ResultStore, to path: String) throws -> Int {
        let calls = try store.storedLMCalls()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8] = []
        for stored in calls {
            let call = stored.call
            let line = Line(
                key: call.key, backend: call.backend, model: call.model, kind: call.kind, request: call.request, response: call.response,
                promptTokens: call.promptTokens, completionTokens: call.completionTokens, createdAt: stored.createdAt)
            bytes += try encoder.encode(line)
            bytes.append(0x0A)
        }
        if path.hasSuffix(".xz") { bytes = try XZ.compress(bytes) }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw RecError(.io, "cannot write the call cache to '\(path)': \(error.localizedDescription)")
        }
        return calls.count
    }

    /// Reads every call in `path`; each line is checked before any is stored: a line that is
    /// not such an object, a key that is not the SHA-256 of its request, or a response that is
    /// not JSON is an error naming the file and line.
    public static func read(_ path: String) throws -> [ResultStore.StoredLMCall] {
        let file = try TextFile(path: path)
        let decoder = JSONDecoder()
        var calls: [ResultStore.StoredLMCall] = []
        for (number, text) in try file.lines() where !text.allSatisfy(\.isWhitespace) {
            let location = file.location(line: number)
            let line: Line
            do { line = try decoder.decode(Line.self, from: Data(text.utf8)) } catch {
                throw RecError(.data, "not a call-cache line (an object with key, backend, model, kind, request, response, token counts and created_at): \(ImportedTexts.reason(error))", at: location)
            }
            guard SHA256.hex(line.request) == line.key else {
                throw RecError(.data, "key \(line.key.prefix(12)) is not the SHA-256 of its request; the line was altered", at: location)
            }
            guard (try? JSONSerialization.jsonObject(with: Data(line.response.utf8), options: [.fragmentsAllowed])) != nil else {
                throw RecError(.data, "the response of call \(line.key.prefix(12)) is not JSON", at: location)
            }
            guard line.promptTokens >= 0, line.completionTokens >= 0 else {
                throw RecError(.data, "call \(line.key.prefix(12)) has a negative token count", at: location)
            }
            calls.append(
                ResultStore.StoredLMCall(
                    call: LanguageModelCall(
                        key: line.key, backend: line.backend, model: line.model, kind: line.kind, request: line.request, response: line.response,
                        promptTokens: line.promptTokens, completionTokens: line.completionTokens),
                    createdAt: line.createdAt))
        }
        return calls
    }
}
