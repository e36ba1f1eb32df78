import Foundation
import RecCore
import RecData
@testable import RecRunner
import RecSpec
import RecStore
import AllPlugins
import RecTesting
import Testing

/// `data.train_fraction`: training samples from a seeded share of the users, the rest of their
/// interactions kept as history.
struct TrainFractionTests {
    static func prepared(_ fraction: Double?, seed: UInt64 = 2020) throws -> DataStage.Prepared {
        var spec = try dataSpec(nil)
        spec.path = Fixtures.directory + "/tiny"
        spec.format = "recbole"
        spec.trainFraction = fraction
        return try DataStage(catalog: DataCatalog(root: Fixtures.directory)).prepare(spec, runSeed: seed)
    }

    @Test func aQuarterOfTheUsersGiveTrainingSamplesAndEveryHistoryStays() throws {
        let all = try Self.prepared(nil).split, quarter = try Self.prepared(0.25).split
        let users = Set(all.train.map(\.user)), kept = Set(quarter.train.map(\.user))
        #expect(kept.count == Int((Double(users.count) * 0.25).rounded()) && kept.isSubset(of: users))
        #expect(quarter.train.count + quarter.historyOnly.count == all.train.count + all.historyOnly.count)
        #expect(quarter.trainHistory == all.trainHistory, "models read the same histories")
        #expect(quarter.test.count == all.test.count && quarter.validation.count == all.validation.count)
        // Seeded: the same share again, and the key of the data changes with the fraction.
        #expect(Set(try Self.prepared(0.25).split.train.map(\.user)) == kept)
        #expect(ExperimentPlan.describeSplit(try Self.dataSpec(0.25)).contains("training samples from 25% of the users"))
        #expect(try canonicalJSON(try Self.dataSpec(nil)) == (try canonicalJSON(try Self.dataSpec(1))), "a fraction of 1 is the default and keeps cell keys")
    }

    /// A model trained on a share of the users is its own stage: the base point's model is not
    /// restored for it.
    @Test func eachShareTrainsItsOwnModel() throws {
        let spec = """
            name: fraction
            data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole, train_fraction: 1 }
            evaluation: { metrics: [hr], cutoffs: [10] }
            seeds: [1]
            pipelines:
              bprmf: { retriever: { type: bprmf, factors: 8, epochs: 3 } }
            sweep:
              data.train_fraction: [0.5]
            """
        let folder = Fixtures.temporaryDirectory("train-fraction")
        try spec.write(toFile: folder + "/fraction.yaml", atomically: true, encoding: .utf8)
        let registry = try makeRegistry()
        let plan = try ExperimentPlan(try SpecLoader.load(path: folder + "/fraction.yaml"), registry: registry)
        #expect(plan.cells.count == 2)
        #expect(plan.info.points.map { $0.settings ?? [] } == [[["data.train_fraction", "1"]], [["data.train_fraction", "0.5"]]])
        let store = try ResultStore(path: folder + "/r.sqlite")
        let runner = Runner(registry: registry, store: store, data: DataStage(catalog: DataCatalog(root: Fixtures.directory)), progress: ProgressReporter(quiet: true))
        let summary = try runner.run(plan, cells: plan.cells)
        #expect(summary.ran == 2 && summary.failed.isEmpty)
        #expect(try store.artifactKeys(kind: "retriever:bprmf").count == 2)
    }

    /// `evaluation.margins` reach the report through the plan's info and leave the cell keys
    /// as they were.
    @Test func marginsAreForTheReportOnly() throws {
        func plan(_ margins: String) throws -> ExperimentPlan {
            let spec = """
                name: margins
                data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole }
                evaluation: { metrics: [hr, mrr], cutoffs: [10]\(margins) }
                seeds: [1]
                pipelines:
                  pop: { retriever: { type: popularity } }
                  bprmf: { retriever: { type: bprmf, factors: 8, epochs: 3 } }
                sweep:
                  data.train_fraction: [0.5]
                """
            let folder = Fixtures.temporaryDirectory("margins")
            try spec.write(toFile: folder + "/margins.yaml", atomically: true, encoding: .utf8)
            return try ExperimentPlan(try SpecLoader.load(path: folder + "/margins.yaml"), registry: try makeRegistry())
        }
        let claimed = try plan(", margins: [{ pipeline: bprmf, against: pop, metric: hr@10, margin: 0.05 }]"), plain = try plan("")
        #expect(claimed.info.margins == [.init(pipeline: "bprmf", against: "pop", metric: "hr@10", margin: 0.05)])
        #expect(plain.info.margins == nil)
        #expect(claimed.cells.map(\.key) == plain.cells.map(\.key) && claimed.cells.count == 4)
    }

    static func dataSpec(_ fraction: Double?) throws -> DataSpec {
        let extra = fraction.map { "train_fraction: \($0)\n" } ?? ""
        return try NodeDecoder().decode(DataSpec.self, from: try YAMLParser.parse("dataset: tiny\nsplit: { method: leave_one_out }\n" + extra, file: "data.yaml"))
    }
}
