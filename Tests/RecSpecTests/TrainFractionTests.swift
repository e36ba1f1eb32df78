import Foundation
import RecCore
import RecData
@testable import RecRunner
import RecSpec
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

    static func dataSpec(_ fraction: Double?) throws -> DataSpec {
        let extra = fraction.map { "train_fraction: \($0)\n" } ?? ""
        return try NodeDecoder().decode(DataSpec.self, from: try YAMLParser.parse("dataset: tiny\nsplit: { method: leave_one_out }\n" + extra, file: "data.yaml"))
    }
}
