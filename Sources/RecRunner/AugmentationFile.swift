import Foundation
import RecCore

/// One text an augment stage wrote, as a line of an augmentation file (JSON Lines):
/// `{"field":"summary","id":"1","level":"item","pipeline":"llm-text-knn","stage":"llm.item_text","text":"..."}`.
/// `id` is the dataset's own user or item id, so a file written on one machine (or by a larger
/// model elsewhere) can be read on another whatever the internal numbering.
public struct AugmentedText: Codable, Sendable, Equatable {
    /// The pipeline and augmenter that wrote the text (informational on import).
    public var pipeline: String?
    public var stage: String?
    /// `item` or `user`.
    public var level: String
    /// The text field the stage writes (`writes:`).
    public var field: String
    public var id: String
    public var text: String

    public init(pipeline: String?, stage: String?, level: String, field: String, id: String, text: String) {
        self.pipeline = pipeline
        self.stage = stage
        self.level = level
        self.field = field
        self.id = id
        self.text = text
    }
}

/// Texts read from an augmentation file for one stage: by entity id, with the file's hash
/// (part of the stage's key, so imported texts never mix with a model's).
struct ImportedTexts {
    var path: String
    var sha256: String
    var texts: [String: String]

    /// The texts of `level` and `field` in the JSONL file at `path`. A line that is not such an
    /// object, or one id given two different texts, is an error naming the line.
    init(path: String, level: String, field: String) throws {
        let bytes = try InputFile.read(path, what: "augmentation file", limit: 1 << 30)
        self.path = path
        var hasher = SHA256()
        hasher.update(bytes)
        sha256 = hasher.finalize().hexString
        texts = [:]
        let decoder = JSONDecoder()
        for (number, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            let entry: AugmentedText
            do { entry = try decoder.decode(AugmentedText.self, from: Data(line.utf8)) } catch {
                throw RecError(.data, "\(path):\(number + 1): not an augmentation line (an object with level, field, id and text): \(Self.reason(error))")
            }
            guard entry.level == level && entry.field == field else { continue }
            if let earlier = texts[entry.id], earlier != entry.text {
                throw RecError(.data, "\(path):\(number + 1): \(level) '\(entry.id)' has a second, different text for field '\(field)'")
            }
            texts[entry.id] = entry.text
        }
    }

    /// The texts of `file` (relative to `directory`), an error in it located at the spec's
    /// `import:` key.
    static func load(_ file: String, relativeTo directory: String, level: String, field: String, at location: SourceLocation?, key: String) throws -> ImportedTexts {
        let path = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: directory + "/")).path
        do {
            return try ImportedTexts(path: path, level: level, field: field)
        } catch let error as RecError {
            throw RecError(error.kind, error.message, at: location, key: key)
        }
    }

    /// The text of each id, in order; an error naming how many ids the file lacks, and the first.
    func texts(for ids: [String], level: String, field: String) throws -> [String] {
        let missing = ids.filter { texts[$0] == nil }
        guard missing.isEmpty else {
            throw RecError(
                .data,
                "\(path) has no \(level) text for field '\(field)' for \(missing.count) of \(ids.count) \(level)s (first: \(missing.prefix(3).map { "'\($0)'" }.joined(separator: ", "))); export every \(level) with `reclab augment SPEC --export FILE`"
            )
        }
        return ids.map { texts[$0]! }
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "no '\(key.stringValue)'"
        case DecodingError.typeMismatch(let type, let context), DecodingError.valueNotFound(let type, let context):
            return "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' is not \(type == String.self ? "a string" : "a whole number")"
        case DecodingError.dataCorrupted: return "not valid JSON"
        default: return "\(error)"
        }
    }
}
