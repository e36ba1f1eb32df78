import Foundation
import RecCore
import RecData
import RecReport
@testable import RecRunner
import RecSpec
import RecStore
import AllPlugins
import RecTesting
import Testing

/// `data.split.cold_items`: a seeded share of the test items withheld from training and
/// validation, and every ranking metric again over the users whose test item is one of them.
struct ColdItemsTests {
    static func dataSpec(_ share: Double?) throws -> DataSpec {
        let extra = share.map { ", cold_items: \($0)" } ?? ""
        var spec = try NodeDecoder().decode(
            DataSpec.self, from: try YAMLParser.parse("dataset: tiny\nsplit: { method: leave_one_out\(extra) }\n", file: "data.yaml"))
        spec.path = Fixtures.directory + "/tiny"
        spec.format = "recbole"
        return spec
    }

    static func prepared(_ share: Double?) throws -> DataStage.Prepared {
        try DataStage(catalog: DataCatalog(root: Fixtures.directory)).prepare(try dataSpec(share))
    }

    @Test func withheldItemsAreMetOnlyAtTestTime() throws {
        let all = try Self.prepared(nil).split, split = try Self.prepared(0.2).split
        let testItems = Set(all.test.map(\.item)), cold = Set(split.coldItems)
        #expect(split.coldItems == split.coldItems.sorted())
        #expect(cold.count == Int((Double(testItems.count) * 0.2).rounded()) && cold.isSubset(of: testItems))
        #expect(split.test == all.test, "the test set is kept whole")
        #expect(!split.train.contains { cold.contains($0.item) } && !split.validation.contains { cold.contains($0.item) })
        #expect(!split.historyBeforeTest.joined().contains { cold.contains($0) }, "no model reads a withheld item before the test")
        #expect(split.train.count == all.train.filter { !cold.contains($0.item) }.count)
        // Seeded by the split's seed; the share is part of the data's key only when set.
        #expect(try Self.prepared(0.2).split.coldItems == split.coldItems)
        let plainJSON = try canonicalJSON(try Self.dataSpec(nil))
        #expect(all.coldItems.isEmpty && !plainJSON.contains("cold"))
        #expect(ExperimentPlan.describeSplit(try Self.dataSpec(0.2)).contains("20% of the test items withheld"))
        let statistics = try Self.prepared(0.2).statisticsJSON
        #expect(statistics.contains("\"cold_items\":\(cold.count)") && statistics.contains("\"cold_test\":\(split.test.filter { cold.contains($0.item) }.count)"))
    }

    /// The `cold:` metrics are the per-user metrics' means over the cold users, they are stored
    /// per user for paired tests, and the report shows them. Popularity never ranks an item
    /// nobody trained on above the popular ones, so its cold hit rate is 0 while its overall one
    /// is not.
    @Test func coldMetricsAreTheMeanOverTheColdUsersAndAreReported() throws {
        let spec = """
            name: cold
            data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole, split: { method: leave_one_out, cold_items: 0.2 } }
            evaluation: { metrics: [hr, ndcg], cutoffs: [10] }
            seeds: [1]
            pipelines:
              popularity: { retriever: { type: popularity } }
              bprmf: { retriever: { type: bprmf, factors: 8, epochs: 3 } }
            """
        let folder = Fixtures.temporaryDirectory("cold-items")
        try spec.write(toFile: folder + "/cold.yaml", atomically: true, encoding: .utf8)
        let registry = try makeRegistry()
        let plan = try ExperimentPlan(try SpecLoader.load(path: folder + "/cold.yaml"), registry: registry)
        let store = try ResultStore(path: folder + "/r.sqlite")
        let runner = Runner(registry: registry, store: store, data: DataStage(catalog: DataCatalog(root: Fixtures.directory)), progress: ProgressReporter(quiet: true))
        let summary = try runner.run(plan, cells: plan.cells)
        #expect(summary.ran == 2 && summary.failed.isEmpty)
        let split = try Self.prepared(0.2).split, cold = Set(split.coldItems)
        let coldUsers = Set(split.test.filter { cold.contains($0.item) }.map(\.user))
        #expect(!coldUsers.isEmpty)
        let cells = try store.cells(of: try store.experiment(named: "cold"))
        for cell in cells {
            let metrics = Dictionary(uniqueKeysWithValues: try store.metrics(cell: cell.id).map { ("\($0.name)@\($0.k)", $0.value) })
            let all = try #require(try store.perUser(cell: cell.id, name: "hr", k: 10))
            let subset = try #require(try store.perUser(cell: cell.id, name: "cold:hr", k: 10))
            #expect(subset.users == all.users)
            let expected = zip(all.users, all.values).filter { coldUsers.contains($0.0) }.map(\.1)
            #expect(zip(subset.users, subset.values).allSatisfy { coldUsers.contains($0.0) != $0.1.isNaN })
            #expect(abs(metrics["cold:hr@10"]! - expected.reduce(0, +) / Double(expected.count)) < 1e-12)
            if cell.pipeline == "popularity" { #expect(metrics["cold:hr@10"] == 0 && metrics["hr@10"]! > 0) }
        }
        let report = try MarkdownReport.render(store: store, experiment: "cold", figureFolder: folder + "/figures").markdown
        #expect(report.contains("| cold:hr@10 | cold:ndcg@10 |") && report.contains("- Cold-start items: \(cold.count), withheld"))
    }
}
