import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecStore

/// `reclab cache export` and `cache import`: a generation's calls carried to a fresh database,
/// where the same augmentation resumes from them; damaged files are refused whole.
@Suite(.serialized) struct CacheCommandTests {
    /// Generates 4 tokens for the tiny dataset's 50 items into `db` and exports the texts.
    static func augment(_ spec: String, _ db: String, _ texts: String) throws -> CLI.Output {
        try CLI.run(["augment", spec, "--db", db, "--export", texts])
    }

    @Test func anImportedCallCacheResumesAGenerationWhereTheExportWasTaken() throws {
        let folder = Fixtures.temporaryDirectory()
        let spec = try AugmentCommandTests.spec(folder, maxTokens: 4)
        let first = try Self.augment(spec, folder + "/a.sqlite", folder + "/a.jsonl")
        #expect(first.status == 0, "\(first.stderr)")
        // A generation stopped after 30 of its 50 calls, as the export of a run still going.
        let partial = try ResultStore(path: folder + "/a.sqlite")
        try partial.db.query("DELETE FROM lm_calls WHERE key NOT IN (SELECT key FROM lm_calls ORDER BY key LIMIT 30)")
        let kept = try partial.storedLMCalls()
        #expect(kept.count == 30)

        let export = try CLI.run(["cache", "export", folder + "/calls.jsonl.xz", "--db", folder + "/a.sqlite"])
        #expect(export.status == 0 && export.stdout.contains("exported 30 calls"), "\(export.stderr)")
        let imported = try CLI.run(["cache", "import", folder + "/calls.jsonl.xz", "--db", folder + "/b.sqlite"])
        #expect(imported.status == 0 && imported.stdout.contains("imported 30 of 30 calls"), "\(imported.stdout) \(imported.stderr)")
        #expect(try ResultStore(path: folder + "/b.sqlite", readOnly: true).storedLMCalls() == kept, "keys, requests, responses and times kept")

        let resumed = try Self.augment(spec, folder + "/b.sqlite", folder + "/b.jsonl")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("20 model calls, 30 from the cache"), "only the calls the export lacked reach the model: \(resumed.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/b.jsonl")) == Data(contentsOf: URL(fileURLWithPath: folder + "/a.jsonl")))

        let again = try CLI.run(["cache", "import", folder + "/calls.jsonl.xz", "--db", folder + "/b.sqlite"])
        #expect(again.stdout.contains("imported 0 of 30 calls") && again.stdout.contains("30 already stored"), "\(again.stdout)")
    }

    @Test func aDamagedExportIsRefusedWithItsLineAndNothingIsStored() throws {
        let folder = Fixtures.temporaryDirectory()
        let store = try ResultStore(path: folder + "/a.sqlite")
        for prompt in ["one", "two"] {
            let request = "{\"prompt\":\"\(prompt)\"}"
            try store.storeLMCall(
                .init(key: SHA256.hex(request), backend: "local", model: "m", kind: "generate", request: request, response: "{\"text\":\"x\"}", promptTokens: 3, completionTokens: 1))
        }
        let plain = folder + "/calls.jsonl"
        #expect(try CLI.run(["cache", "export", plain, "--db", folder + "/a.sqlite"]).status == 0)
        let lines = try String(contentsOfFile: plain, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let cases: [(String, String)] = [
            (lines[0] + "\n" + lines[1].replacingOccurrences(of: "two", with: "three"), ":2:1: key "),
            (lines[0] + "\n{\"key\": 1}", ":2:1: not a call-cache line"),
            (lines[0].replacingOccurrences(of: "\"prompt_tokens\":3", with: "\"prompt_tokens\":\"3\""), "'prompt_tokens' is not a whole number"),
            (lines[0].replacingOccurrences(of: "{\\\"text\\\":\\\"x\\\"}", with: "{oops"), "is not JSON"),
        ]
        for (index, (text, expected)) in cases.enumerated() {
            let damaged = folder + "/damaged\(index).jsonl"
            try text.write(toFile: damaged, atomically: true, encoding: .utf8)
            let result = try CLI.run(["cache", "import", damaged, "--db", folder + "/b.sqlite"])
            #expect(result.status == 1 && result.stderr.contains(damaged) && result.stderr.contains(expected), "case \(index): \(result.stderr)")
            #expect(try ResultStore(path: folder + "/b.sqlite").storedLMCalls().isEmpty, "case \(index): nothing stored")
        }
        let truncated = folder + "/calls.jsonl.xz"
        #expect(try CLI.run(["cache", "export", truncated, "--db", folder + "/a.sqlite"]).status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: truncated))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        let cut = try CLI.run(["cache", "import", truncated, "--db", folder + "/b.sqlite"])
        #expect(cut.status == 1 && cut.stderr.contains("not a valid xz file or is truncated"), "\(cut.stderr)")
        #expect(try CLI.run(["cache", "import", "--db", folder + "/b.sqlite"]).status == 64)
    }
}
