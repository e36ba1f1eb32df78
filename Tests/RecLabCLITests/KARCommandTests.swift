import Foundation
import RecTesting
import Testing

@testable import RecStore

/// KAR end to end with the real SmolLM2 on the tiny dataset: knowledge written once per user
/// and item, reused by every later cell, the spec re-run elsewhere from the exported call
/// cache with the same numbers, the knowledge exported, and a knowledge file that lacks a user
/// refused.
@Suite(.serialized) struct KARCommandTests {
    static let spec = Fixtures.directory + "/tiny/tiny-kar.yaml"

    @Test func knowledgeIsWrittenOnceAndReused() throws {
        let folder = Fixtures.temporaryDirectory()
        let db = folder + "/kar.sqlite", report = folder + "/kar.md"
        let run = try CLI.run(["run", Self.spec, "--db", db, "--report", report])
        #expect(run.status == 0, "\(run.stderr)")
        for line in ["kar.history wrote history for 80 entries (80 new)", "kar.reasoning wrote reasoning for 80 entries (80 new)", "kar.facts wrote facts for 50 entries (50 new)"] {
            #expect(run.stderr.contains(line), "\(line): \(run.stderr)")
        }
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("| kar-deepfm |") && text.contains("User prompt:\n> Given a female user who is aged"), "\(text)")
        for stage in ["> kar.history wrote history for user ", "> kar.reasoning wrote reasoning for user ", "> kar.facts wrote facts for item "] {
            #expect(text.components(separatedBy: stage).count - 1 == 3, "the report quotes three texts of each stage: \(stage)")
        }
        let calls = try AugmentCommandTests.generateCalls(db)
        #expect(calls == 130, "one call per user and per item: \(calls)")

        // The spec run again in another process on a fresh database that holds only the
        // exported call cache: the knowledge comes from the cache, everything else is computed
        // again (vectors, training), and every number is the same.
        let calls1 = folder + "/calls.jsonl.xz", fresh = folder + "/fresh.sqlite"
        #expect(try CLI.run(["cache", "export", calls1, "--db", db]).status == 0)
        #expect(try CLI.run(["cache", "import", calls1, "--db", fresh]).status == 0)
        let rerun = try CLI.run(["run", Self.spec, "--db", fresh, "--no-report"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("0 model calls, 80 from the cache") && rerun.stderr.contains("0 model calls, 50 from the cache"), "\(rerun.stderr)")
        let first = try metricRows(db, "tiny-kar"), second = try metricRows(fresh, "tiny-kar")
        #expect(!first.isEmpty && first == second, "\(first) vs \(second)")

        // Another seed trains new cells on the stored knowledge: no model call.
        let again = try CLI.run(["run", Self.spec, "--db", db, "--no-report", "--set", "seeds=[2]"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("kar.reasoning wrote reasoning for 80 entries (0 new)"), "\(again.stderr)")
        #expect(try AugmentCommandTests.generateCalls(db) == calls)

        // Exported knowledge that lacks a user stops an importing run, naming the file.
        let exported = folder + "/knowledge.jsonl"
        let export = try CLI.run(["augment", Self.spec, "--db", db, "--export", exported])
        #expect(export.status == 0, "\(export.stderr)")
        let lines = try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n")
        let reasoning = lines.filter { $0.contains("\"field\":\"reasoning\"") }
        #expect(reasoning.count == 80)
        try (lines.filter { $0 != reasoning[0] }.joined(separator: "\n") + "\n").write(toFile: exported, atomically: true, encoding: .utf8)
        let missing = try CLI.run(["run", Self.spec, "--db", folder + "/b.sqlite", "--no-report", "--set", "pipelines.kar-deepfm.augment.1.import=\(exported)"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("knowledge.jsonl has no user text for field 'reasoning' for 1 of 80 users"), "\(missing.stderr)")
    }

    /// A KAR pipeline without the encoder vectors it reads is refused before anything runs,
    /// naming the scorer's line.
    @Test func missingVectorsAreRefusedByThePlan() throws {
        let noUsers = try CLI.run(["validate", Self.spec, "--set", "pipelines.kar-deepfm.encode_user_fields=[]"])
        #expect(noUsers.status == 1)
        #expect(noUsers.stderr.contains("tiny-kar.yaml:28:") && noUsers.stderr.contains("'kar' reads user vectors; name the user text to encode under encode_user_fields:"), "\(noUsers.stderr)")
        let factsOnly = try CLI.run(["validate", Self.spec, "--set", "pipelines.kar-deepfm.encode_user_fields=[]", "--set", "pipelines.kar-deepfm.scorer.knowledge=facts"])
        #expect(factsOnly.status == 0, "\(factsOnly.stderr)")
    }
}
