import Foundation
import RecTesting
import Testing

@testable import RecStore

/// `reclab encode`: standard input lines to JSON arrays, token ids, the embedding cache, and a
/// clear error when the weights are missing.
struct EncodeCommandTests {
    static let miniLMPresent = Fixtures.modelRequired("all-MiniLM-L6-v2/model.safetensors")

    func vectors(_ stdout: String) -> [[Double]] {
        stdout.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Double]) ?? []
        }
    }

    @Test(.enabled(if: miniLMPresent)) func tokensAndVectorsInInputOrder() throws {
        let tokens = try CLI.run(["encode", "--tokens"], input: "Toy Story (1995)\nHeat (1995)\n")
        #expect(tokens.status == 0)
        #expect(tokens.stdout == "[101,9121,2466,1006,2786,1007,102]\n[101,3684,1006,2786,1007,102]\n")
        let out = try CLI.run(["encode", "--set", "batch_size=1"], input: "Toy Story (1995)\nHeat (1995)\n\n")
        #expect(out.status == 0, "\(out.stderr)")
        let rows = vectors(out.stdout)
        #expect(rows.count == 3 && rows.allSatisfy { $0.count == 384 })
        // The fixture's reference value for "Toy Story (1995)", first component.
        #expect(abs(rows[0][0] - -0.0828351) < 1e-4)
    }

    @Test func hashingTFIDFWithTheEmbeddingCache() throws {
        let folder = Fixtures.temporaryDirectory("reclab-encode")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let db = folder + "/cache.sqlite", input = "toy story\nstory of a toy\nheat\n"
        let first = try CLI.run(["encode", "--encoder", "hashing-tfidf", "--set", "dimension=64", "--db", db], input: input)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("3 texts, 0 from the cache"))
        let rows = vectors(first.stdout)
        #expect(rows.count == 3 && rows.allSatisfy { abs($0.map { $0 * $0 }.reduce(0, +) - 1) < 1e-5 && $0.count == 64 })
        let second = try CLI.run(["encode", "--encoder", "hashing-tfidf", "--set", "dimension=64", "--db", db], input: input)
        #expect(second.stderr.contains("3 texts, 3 from the cache"))
        #expect(second.stdout == first.stdout)
        // Another corpus changes the IDF weights, so nothing is reused.
        let other = try CLI.run(["encode", "--encoder", "hashing-tfidf", "--set", "dimension=64", "--db", db], input: input + "more\n")
        #expect(other.stderr.contains("4 texts, 0 from the cache"))
        // A stored vector of another width under the same configuration is refused, not mixed
        // with the new encoder's vectors, and the store keeps it.
        let store = try ResultStore(path: db)
        let key = try #require(try store.artifactKeys(kind: "embedding").first)
        _ = try store.db.query("UPDATE artifacts SET data=? WHERE key=?", [.blob([UInt8](repeating: 0, count: 32 * 4)), .text(key)])
        let mismatched = try CLI.run(["encode", "--encoder", "hashing-tfidf", "--set", "dimension=64", "--db", db], input: input)
        #expect(mismatched.status == 1)
        #expect(mismatched.stderr.contains("\(db) holds a 32-dimensional 'hashing-tfidf' embedding of") && mismatched.stderr.contains("now gives 64 dimensions"), "\(mismatched.stderr)")
        #expect(try store.artifact(key)?.count == 32 * 4)
    }

    @Test func missingWeightsNameTheFileAndTheSetupCommand() throws {
        let out = try CLI.run(["encode"], input: "text\n", environment: ["RECLAB_MODELS": "/nonexistent-models"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("error: /nonexistent-models/all-MiniLM-L6-v2/config.json is missing; run `bash scripts/fetch-models.sh`"))
        let bad = try CLI.run(["encode", "--encoder", "hashing-tfidf", "--set", "dimension=0"], input: "text\n")
        #expect(bad.status == 1 && bad.stderr.contains("dimension"), "\(bad.stderr)")
        let unknown = try CLI.run(["encode", "--encoder", "minilmm"], input: "")
        #expect(unknown.stderr.contains("unknown encoder type 'minilmm'; valid kinds: hashing-tfidf, minilm (did you mean 'minilm'?)"))
    }
}
