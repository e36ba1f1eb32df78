import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecStore

/// The ledger of which calls each augment stage made, and the costs read from it.
struct AugmentStageLedgerTests {
    /// A generate call stored at `stamp` with its token counts and finish reason.
    func call(_ store: ResultStore, _ key: String, stamp: String, prompt: Int, generated: Int, finish: String = "stop") throws {
        try store.db.query(
            "INSERT INTO lm_calls(key, backend, model, kind, request, response, prompt_tokens, completion_tokens, created_at) VALUES(?,?,?,?,?,?,?,?,?)",
            [
                .text(key), .text("local"), .text("m"), .text("generate"), .text("{}"), .text("{\"finish\":\"\(finish)\",\"text\":\"t\"}"), .int(Int64(prompt)),
                .int(Int64(generated)), .text(stamp),
            ])
    }

    /// A stage of experiment `e` built by the cell `cell`, which the plan `plan(_:)` registers.
    func stage(_ pipeline: String, _ stage: String, strategy: String, writes: String, entries: Int = 10, cell: String = "now") -> ResultStore.AugmentStage {
        ResultStore.AugmentStage(experiment: "e", pipeline: pipeline, stage: stage, strategy: strategy, kind: "k", writes: writes, entries: entries, cell: cell)
    }

    /// Registers experiment `e` with one planned cell per key.
    func plan(_ store: ResultStore, _ keys: [String]) throws {
        try store.register(
            experiment: "e", specFile: "e.yaml", specHash: "h", infoJSON: "{}",
            plan: keys.map { ResultStore.PlannedCell(key: $0, pipeline: "p", sweepLabel: "base", seed: 1, configHash: $0, configJSON: "{}") })
    }

    @Test func costsAddDistinctCallsPerStrategyAndSplitWallTimeIntoSittings() throws {
        let store = try ResultStore(path: Fixtures.temporaryDirectory() + "/r.sqlite")
        try plan(store, ["now", "later"])
        // Strategy a: two splits' stages; the first split in two sittings (10 s, then 20 s after a
        // 1-hour break), the second sharing one call with the first.
        try call(store, "c1", stamp: "2026-01-01T10:00:00Z", prompt: 100, generated: 10)
        try call(store, "c2", stamp: "2026-01-01T10:00:10Z", prompt: 200, generated: 20, finish: "length")
        try call(store, "c3", stamp: "2026-01-01T11:00:10Z", prompt: 300, generated: 30)
        try call(store, "c4", stamp: "2026-01-01T11:00:30Z", prompt: 400, generated: 40, finish: "length")
        // Strategy b, stored earlier: one call.
        try call(store, "d1", stamp: "2026-01-01T09:00:00Z", prompt: 5, generated: 1)
        for record in [
            stage("p", "s1", strategy: "a", writes: "x"), stage("p", "s2", strategy: "a", writes: "x"), stage("q", "s1", strategy: "a", writes: "x"),
            stage("q", "t1", strategy: "b", writes: "y", entries: 4), stage("q", "t2", strategy: "b", writes: "y", entries: 4, cell: "later"),
            // Built by a cell the plan no longer has: a configuration since changed.
            stage("p", "old", strategy: "a", writes: "x", cell: "before"), stage("r", "older", strategy: "z", writes: "x", cell: "before"),
        ] {
            try store.recordAugmentStage(record)
        }
        try store.recordStageCalls(stage: "s1", calls: ["c1", "c2", "c3"])
        try store.recordStageCalls(stage: "s2", calls: ["c3", "c4", "gone"])
        try store.recordStageCalls(stage: "t1", calls: ["d1", "d1"])
        try call(store, "c5", stamp: "2026-01-01T11:00:20Z", prompt: 7, generated: 7)
        try store.recordStageCalls(stage: "old", calls: ["c1", "c5"])
        try store.recordStageCalls(stage: "older", calls: ["c2"])

        let costs = try store.augmentCosts(experiment: "e")
        #expect(costs.map(\.fields) == [["y"], ["x"]], "strategies in the order their first calls were stored")
        let b = costs[0], a = costs[1]
        #expect(a.pipelines == ["p", "q"] && a.stages == 2 && a.entries == 20, "a stage shared by two pipelines counts once")
        #expect(a.calls == 4 && a.missingCalls == 1 && a.unrecordedStages == 0)
        #expect(a.promptTokens == 1000 && a.generatedTokens == 100 && a.cut == 2)
        #expect(a.sittings == 2 && a.seconds == 30)
        #expect(b.calls == 1 && b.stages == 2 && b.entries == 8 && b.unrecordedStages == 1, "t2 holds texts but no recorded call")
        #expect(b.sittings == 1 && b.seconds == 0)
        #expect(try store.augmentStagesOutsidePlan(experiment: "e") == 2, "the stages of cell 'before' count in no strategy")
        #expect(try store.augmentCosts(experiment: "other").isEmpty)

        // Once the plan holds 'before' again, its stages count: pipeline r's strategy, and stage
        // old in strategy a with call c5, which strategy a's other stages never made.
        try plan(store, ["now", "later", "before"])
        let again = try store.augmentCosts(experiment: "e")
        #expect(again.map(\.fields) == [["y"], ["x"], ["x"]] && again[1].stages == 3 && again[1].calls == 5 && again[2].pipelines == ["r"])
        #expect(try store.augmentStagesOutsidePlan(experiment: "e") == 0)
        try plan(store, ["now", "later"])

        // The ledger travels with a results-only merge; the calls do not.
        let copy = try ResultStore(path: Fixtures.temporaryDirectory() + "/copy.sqlite")
        try copy.merge(from: store.db.path, resultsOnly: true)
        let copied = try copy.augmentCosts(experiment: "e")
        #expect(copied.map(\.fields) == [["x"], ["y"]], "with no call stored, in the order of their fields")
        #expect(copied.map(\.stages) == [2, 2] && copied.map(\.calls) == [0, 0] && copied.map(\.missingCalls) == [5, 1])
    }

    @Test func aRecordingHoldsTheCallsTheCacheAnsweredOrStoredMeanwhile() throws {
        let store = try ResultStore(path: Fixtures.temporaryDirectory() + "/r.sqlite")
        try call(store, "old", stamp: "2026-01-01T10:00:00Z", prompt: 1, generated: 1)
        _ = try store.cachedLMResponse("old")
        let (value, calls) = try store.recordingCalls { () -> Int in
            _ = try? store.cachedLMResponse("old")
            _ = try? store.cachedLMResponse("absent")
            try? store.storeLMCall(
                LanguageModelCall(key: "new", backend: "b", model: "m", kind: "generate", request: "{}", response: "{}", promptTokens: 1, completionTokens: 1))
            return 7
        }
        #expect(value == 7 && calls == ["old", "new"], "a miss is noted when its answer is stored")
        _ = try store.cachedLMResponse("old")
        #expect(try store.recordingCalls { 0 }.calls.isEmpty, "nothing is noted outside a recording")
        struct Failure: Error {}
        #expect(throws: Failure.self) { try store.recordingCalls { throw Failure() } }
        #expect(try store.recordingCalls { 0 }.calls.isEmpty)
    }
}
