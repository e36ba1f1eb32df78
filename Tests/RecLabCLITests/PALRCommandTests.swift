import Foundation
import RecTesting
import Testing

@testable import RecStore

@Suite struct PALRCommandTests {
    static let tinySpec = Fixtures.directory + "/tiny/palr-tiny.yaml"

    /// The whole PALR chain with the real model: profiles, both ranking modes, counts and
    /// examples in the report, and a second run of the same pipelines (under another experiment
    /// name, so every cell runs again) answered entirely from the call cache, with equal metrics.
    @Test(.enabled(if: LMCommandTests.smolLMPresent)) func palrRunsEndToEndAndReRunsFromTheCache() throws {
        let folder = Fixtures.temporaryDirectory()
        let db = folder + "/r.sqlite", report = folder + "/palr.md"
        let run = try CLI.run(["run", Self.tinySpec, "--db", db, "--report", report])
        #expect(run.status == 0, "\(run.stderr)")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("## Counts"))
        #expect(text.contains("## Paired comparisons"))
        #expect(text.contains("| v2 vs generate | hr@5 |"))
        #expect(text.contains("| generate vs likelihood | hr@5 |"))
        #expect(text.contains("| generate | 1 |"))
        #expect(text.contains("## Examples: generate (seed 1)"))
        #expect(text.contains("> Profile request (user"))
        // Random fill reuses generate's calls, so its examples are not quoted twice.
        #expect(text.contains("## Examples: generate-random-fill (seed 1)\n\nThe same prompts and answers as `generate` above."))
        #expect(text.contains("popularity + palr.profile("))
        let store = try ResultStore(path: db, readOnly: true)
        let calls = try store.lmCacheStats()
        // 3 profiles, 3 generated rankings, 3 likelihood rankings, 3 rankings by the tuned model;
        // generate-random-fill makes the same calls as generate, answered from the cache.
        #expect(calls.calls == 12)
        #expect(run.stderr.contains("LoRA fine-tuning on 8 examples (recommend + recommend_retrieval)"))
        #expect(text.contains("palr.rank(finetune="))
        let adapters = try store.db.query("SELECT COUNT(*) FROM artifacts WHERE kind='lora:palr'").first?[0].int
        #expect(adapters == 1)
        let profiles = try store.db.query("SELECT COUNT(*) FROM artifacts WHERE kind='knowledge:palr.profile'").first?[0].int
        #expect(profiles == 3)

        let again = try CLI.run(["run", Self.tinySpec, "--db", db, "--set", "name=palr-tiny-again", "--no-report"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("ran 5, skipped 0"))
        #expect(again.stderr.contains("LoRA adapter restored from the stage cache"))
        let after = try ResultStore(path: db, readOnly: true).lmCacheStats()
        #expect(after.misses == calls.misses)
        #expect(after.hits == calls.hits + 18)
        let first = try metricRows(db, "palr-tiny"), second = try metricRows(db, "palr-tiny-again")
        #expect(Set(first.values.map { $0.joined() }) == Set(second.values.map { $0.joined() }))
        // The cost of each cell: the same tokens whether the model or the cache answered, and
        // no model time when the cache answered everything.
        let reread = try ResultStore(path: db, readOnly: true)
        func costs(_ name: String) throws -> [String: [String: Double]] {
            var out: [String: [String: Double]] = [:]
            for cell in try reread.cells(of: try reread.experiment(named: name)) { out[cell.pipeline] = try reread.costs(cell: cell.id) }
            return out
        }
        let paid = try costs("palr-tiny"), free = try costs("palr-tiny-again")
        #expect((paid["generate"]?["llm_calls"] ?? 0) >= 2 && (paid["generate"]?["prompt_tokens"] ?? 0) > 100, "\(paid)")
        for (pipeline, cost) in paid {
            let again = try #require(free[pipeline])
            #expect(again["prompt_tokens"] == cost["prompt_tokens"] && again["generated_tokens"] == cost["generated_tokens"], "\(pipeline)")
            #expect(again["llm_calls"] == 0 && again["llm_seconds"] == 0 && again["llm_cached"] == cost["llm_calls"]! + cost["llm_cached"]!, "\(pipeline)")
        }
        #expect(text.contains("## Timings and cost") && text.contains("](palr-figures/cost-hr@5.svg)"))
    }
}
