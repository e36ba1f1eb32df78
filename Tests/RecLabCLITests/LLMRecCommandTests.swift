import Foundation
import RecTesting
import Testing

@testable import RecStore

/// LLM-Rec end to end with the real SmolLM2 on the tiny dataset, shaped as
/// Experiments/llmrec-ml1m.yaml: a split per seed, the recommendation-driven texts written once
/// and the engagement-guided ones once per split, grouped item fields, the shuffled control and
/// a CTR baseline, compared in one report; run again, nothing reaches the model.
@Suite(.serialized) struct LLMRecCommandTests {
    static let spec = Fixtures.directory + "/tiny/tiny-llmrec.yaml"

    @Test func strategiesControlsAndBaselinesRunAsOneSpec() throws {
        let folder = Fixtures.temporaryDirectory()
        let db = folder + "/llmrec.sqlite", report = folder + "/llmrec.md"
        let run = try CLI.run(["run", Self.spec, "--db", db, "--report", report])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("ran 12, skipped 0 already done, failed 0"), "\(run.stderr)")
        // 50 recommendation-driven texts, shared by three pipelines and both seeds; engagement
        // texts per split (items with no co-engaged neighbour are not prompted).
        #expect(run.stderr.components(separatedBy: "llmrec.text wrote rec for 50 entries (50 new)").count - 1 == 1, "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "llmrec.text wrote eng for 50 entries (50 new)").count - 1 == 2, "\(run.stderr)")
        let calls = try AugmentCommandTests.generateCalls(db)
        #expect(calls > 50 && calls <= 150, "\(calls)")

        let text = try String(contentsOfFile: report, encoding: .utf8)
        for row in ["| mlp-id |", "| dcnv2-original |", "| mlp-original |", "| mlp-recommend |", "| mlp-rec-eng |", "| mlp-rec-eng-shuffled |"] {
            #expect(text.contains(row), "\(row)")
        }
        #expect(text.contains("## Significance against `mlp-original`") && text.contains("| mlp-rec-eng vs mlp-rec-eng-shuffled | ndcg@10 |"), "\(text)")
        // Three texts quoted per strategy and pipeline: mlp-recommend's and mlp-rec-eng's
        // recommendation-driven ones, mlp-rec-eng's engagement-guided ones.
        #expect(text.components(separatedBy: "> llmrec.text wrote rec for item ").count - 1 == 6, "\(text)")
        #expect(text.components(separatedBy: "> llmrec.text wrote eng for item ").count - 1 == 3, "\(text)")
        // The control quotes its own (moved) texts, not the ones it was given.
        #expect(text.contains("> llmrec.text (then shuffled) wrote eng for item "), "\(text)")

        // Every cell again from the stage cache: no model call, the same numbers.
        let first = try metricRows(db, "tiny-llmrec")
        #expect(first.count == 12 && first.values.allSatisfy { $0.count == 3 }, "\(first)")
        try ResultStore(path: db).db.execute("DELETE FROM metrics; DELETE FROM user_metrics; UPDATE cells SET status = 'pending'")
        let again = try CLI.run(["run", Self.spec, "--db", db, "--no-report"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("(50 new)"), "\(again.stderr)")
        #expect(try AugmentCommandTests.generateCalls(db) == calls)
        #expect(try metricRows(db, "tiny-llmrec") == first)
    }
}
