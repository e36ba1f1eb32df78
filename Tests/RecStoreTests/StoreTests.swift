import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecStore

struct StoreTests {
    func plan(_ keys: [String]) -> [ResultStore.PlannedCell] {
        keys.map { ResultStore.PlannedCell(key: $0, pipeline: "p", sweepLabel: "base", seed: 1, configHash: $0, configJSON: "{}") }
    }

    func result(_ value: Double) -> ResultStore.CellResult {
        ResultStore.CellResult(
            dataFingerprint: "f", datasetStatsJSON: "{}", metrics: [("hr", 10, value), ("auc", 0, .nan)], users: [3, 5],
            perUser: [("hr", 10, [value, 1 - value])], timings: [("fit", 1.5)], costs: [("llm_calls", 4), ("peak_rss_bytes", 1e8)],
            curves: [("loss", 1, 0.9), ("loss", 2, .nan), ("loss", 3, 0.5)])
    }

    @Test func finishingTwiceWritesOnce() throws {
        let store = try ResultStore(path: Fixtures.temporaryDirectory() + "/r.sqlite")
        let id = try store.register(experiment: "e", specFile: "s.yaml", specHash: "h", infoJSON: "{}", plan: plan(["a", "b"]))
        let cell = try store.status(experiment: id, cell: "a")
        #expect(cell.status == .pending)
        try store.markRunning(cell: cell.id)
        #expect(try store.status(experiment: id, cell: "a").status == .running)
        #expect(try store.finish(cell: cell.id, result: result(0.25)))
        #expect(try !store.finish(cell: cell.id, result: result(0.75)), "a done cell keeps its first result")
        let metrics = try store.metrics(cell: cell.id)
        #expect(metrics.count == 2)
        #expect(metrics.first { $0.name == "hr" }?.value == 0.25)
        #expect(metrics.first { $0.name == "auc" }?.value.isNaN == true)
        let perUser = try #require(try store.perUser(cell: cell.id, name: "hr", k: 10))
        #expect(perUser.users == [3, 5] && perUser.values == [0.25, 0.75])
        // Registering again keeps finished cells.
        _ = try store.register(experiment: "e", specFile: "s.yaml", specHash: "h", infoJSON: "{}", plan: plan(["a", "b"]))
        #expect(try store.status(experiment: id, cell: "a").status == .done)
    }

    @Test func failedCellsRecordTheirError() throws {
        let store = try ResultStore(path: Fixtures.temporaryDirectory() + "/r.sqlite")
        let id = try store.register(experiment: "e", specFile: "s.yaml", specHash: "h", infoJSON: "{}", plan: plan(["a"]))
        let cell = try store.status(experiment: id, cell: "a")
        try store.markFailed(cell: cell.id, error: "boom")
        let record = try #require(try store.cells(of: try store.experiment(named: "e")).first)
        #expect(record.status == .failed && record.error == "boom")
    }

    @Test func artifactsAreContentAddressed() throws {
        let store = try ResultStore(path: Fixtures.temporaryDirectory() + "/r.sqlite")
        try store.putArtifact("k1", kind: "test", data: [1, 2, 3])
        try store.putArtifact("k1", kind: "test", data: [9])
        #expect(try store.artifact("k1") == [1, 2, 3])
        #expect(try store.artifact("missing") == nil)
    }

    @Test func mergeUnionsShards() throws {
        let folder = Fixtures.temporaryDirectory()
        let shardA = try ResultStore(path: folder + "/a.sqlite"), shardB = try ResultStore(path: folder + "/b.sqlite")
        for (store, key, value) in [(shardA, "a", 0.1), (shardB, "b", 0.2)] {
            let id = try store.register(experiment: "e", specFile: "s.yaml", specHash: "h", infoJSON: "{}", plan: plan(["a", "b"]))
            try store.finish(cell: try store.status(experiment: id, cell: key).id, result: result(value))
        }
        try shardB.putArtifact("model", kind: "test", data: [7])
        try shardB.putArtifact(ResultStore.notesKey(cell: "b"), kind: "notes", data: Array("[\"n\"]".utf8))
        let call = LanguageModelCall(key: "k1", backend: "local", model: "m", kind: "generate", request: "{}", response: "{\"text\":\"x\"}", promptTokens: 3, completionTokens: 1)
        _ = try shardB.importLMCalls([.init(call: call, createdAt: "2020-01-01T00:00:00Z")])
        let merged = try ResultStore(path: folder + "/m.sqlite")
        #expect(try merged.merge(from: folder + "/a.sqlite") == 1)
        #expect(try merged.merge(from: folder + "/b.sqlite") == 1)
        #expect(try merged.merge(from: folder + "/b.sqlite") == 0, "merging again copies nothing")
        let experiment = try merged.experiment(named: "e")
        #expect(experiment.plan == ["a", "b"])
        let cells = try merged.cells(of: experiment)
        #expect(cells.allSatisfy { $0.status == .done })
        #expect(try merged.metrics(cell: cells[1].id).first { $0.name == "hr" }?.value == 0.2)
        // Costs and curves travel with their cell; a diverged (NaN) epoch is left out.
        #expect(try merged.costs(cell: cells[1].id) == ["llm_calls": 4, "peak_rss_bytes": 1e8])
        #expect(try merged.curves(cell: cells[1].id)["loss"]?.map(\.step) == [1, 3])
        #expect(try merged.artifact("model") == [7])
        #expect(try merged.cachedLMResponse("k1") == "{\"text\":\"x\"}")
        #expect(try merged.lmCacheStats().calls == 1)
        #expect(try merged.storedLMCalls().map(\.createdAt) == ["2020-01-01T00:00:00Z"], "a merged call keeps its time")
        let missing = #expect(throws: RecError.self) { _ = try merged.experiment(named: "f") }
        #expect(missing?.message.contains("no experiment named 'f'") == true)

        let results = try ResultStore(path: folder + "/results.sqlite")
        #expect(try results.merge(from: folder + "/m.sqlite", resultsOnly: true) == 2)
        let carried = try results.cells(of: try results.experiment(named: "e"))
        #expect(carried.allSatisfy { $0.status == .done })
        #expect(try results.metrics(cell: carried[1].id).first { $0.name == "hr" }?.value == 0.2)
        #expect(try results.curves(cell: carried[1].id)["loss"]?.map(\.step) == [1, 3])
        let perUser = try #require(try results.perUser(cell: carried[1].id, name: "hr", k: 10))
        #expect(perUser.users == [3, 5] && perUser.values == [0.2, 0.8])
        #expect(try results.artifact("model") == nil, "a results-only merge leaves artifacts behind")
        #expect(try results.artifact(ResultStore.notesKey(cell: "b")) == Array("[\"n\"]".utf8), "but a cell's notes travel with it")
        #expect(try results.lmCacheStats().calls == 0, "and calls")
    }

    @Test func missingDatabaseIsAClearError() {
        let error = #expect(throws: RecError.self) { _ = try ResultStore(path: "/nonexistent/r.sqlite", readOnly: true) }
        #expect(error?.message.contains("does not exist") == true)
    }
}
