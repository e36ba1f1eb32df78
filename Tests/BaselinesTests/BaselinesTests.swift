import AllPlugins
import Foundation
import RecCore
import RecData
import RecEval
import RecTesting
import Testing

@testable import Baselines

/// Trains `retriever` on the clustered fixture and returns test NDCG@10 under full ranking.
func fixtureNDCG(_ retriever: inout some Retriever & Trainable, seed: UInt64 = 1) throws -> (ndcg: Double, perUser: [Double]) {
    let split = try Fixtures.clusteredDataset().split(.leaveOneOut)
    try retriever.fit(split.trainingSet, context: TrainingContext(seed: seed))
    let model = retriever
    let evaluator = RankingEvaluator(metrics: ["ndcg"], cutoffs: [10], protocol: .full, batchUsers: 32)
    let result = try evaluator.evaluate(.test(split)) { users, out in
        try model.score(users: users, history: split.trainHistory, into: out)
    }
    return (result.aggregate[MetricKey("ndcg", 10)]!, result.perUser[MetricKey("ndcg", 10)]!)
}

struct BaselineQualityTests {
    // Random ranking on 60 items gives NDCG@10 of about 0.07 and popularity about the same on
    // this fixture; the floors below need the cluster structure to be learnt.
    @Test func popularityIsPopularity() throws {
        var pop = try Popularity(configuration: .init(), context: ComponentContext(seed: 0))
        let split = try Fixtures.clusteredDataset().split(.leaveOneOut)
        try pop.fit(split.trainingSet, context: TrainingContext(seed: 0))
        var scores = [Float](repeating: 0, count: 2 * 60)
        try scores.withUnsafeMutableBufferPointer { try pop.score(users: [0, 1], history: split.trainHistory, into: $0) }
        let counts = split.trainingSet.itemPopularity.map { Float($0) }
        #expect(Array(scores[0..<60]) == counts && Array(scores[60...]) == counts)
    }

    @Test func itemKNNLearnsTheClusters() throws {
        var model = try ItemKNN(configuration: .init(neighbors: 20), context: ComponentContext(seed: 0))
        #expect(try fixtureNDCG(&model).ndcg > 0.25)
    }

    @Test func easeLearnsTheClusters() throws {
        var model = try EASE(configuration: .init(l2: 10), context: ComponentContext(seed: 0))
        #expect(try fixtureNDCG(&model).ndcg > 0.25)
    }

    @Test func bprLearnsTheClustersAndIsSeeded() throws {
        var a = try BPRMF(configuration: .init(factors: 8, epochs: 20), context: ComponentContext(seed: 5))
        var b = try BPRMF(configuration: .init(factors: 8, epochs: 20), context: ComponentContext(seed: 5))
        let first = try fixtureNDCG(&a), second = try fixtureNDCG(&b)
        #expect(first.ndcg > 0.2)
        #expect(first.perUser == second.perUser, "same seed, same result")
        var untrained = try BPRMF(configuration: .init(factors: 8, epochs: 0), context: ComponentContext(seed: 5))
        #expect(try fixtureNDCG(&untrained).ndcg < 0.15, "the floor is out of an untrained model's reach")
    }

    @Test func bprCheckpointRoundTrips() throws {
        var model = try BPRMF(configuration: .init(factors: 4, epochs: 2), context: ComponentContext(seed: 1))
        _ = try fixtureNDCG(&model)
        var restored = try BPRMF(configuration: .init(factors: 4, epochs: 2), context: ComponentContext(seed: 99))
        try restored.restore(from: try model.checkpoint())
        #expect(restored.userFactors == model.userFactors && restored.itemFactors == model.itemFactors)
        #expect(throws: RecError.self) { try restored.restore(from: [1, 2, 3]) }
    }
}

struct HandCheckedTests {
    /// Users: {0, 1}, {0, 1, 2}, {2}. Items 0 and 1 co-occur twice; 1 and 2 once.
    let training = TrainingSet(
        userCount: 3, itemCount: 3,
        interactions: [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 2)].map { Interaction(user: Int32($0.0), item: Int32($0.1)) },
        history: [[0, 1], [0, 1, 2], [2]])

    @Test func itemKNNSimilarityByHand() throws {
        var model = try ItemKNN(configuration: .init(neighbors: 5, shrink: 1), context: ComponentContext(seed: 0))
        try model.fit(training, context: TrainingContext(seed: 0))
        var scores = [Float](repeating: 0, count: 3)
        try scores.withUnsafeMutableBufferPointer { try model.score(users: [2], history: training.history, into: $0) }
        // User 2 holds item 2. sim(2, 0) = 0 co-occurrences... items 2 and 0 co-occur once (user 1):
        // 1 / (sqrt(2) sqrt(2) + 1 + 1e-6) = 1/3; sim(2, 1) the same; sim(2, 2) = 0.
        #expect(abs(scores[0] - 1.0 / 3.0) < 1e-5 && abs(scores[1] - 1.0 / 3.0) < 1e-5 && scores[2] == 0)
    }

    @Test func easeAgainstADoublePrecisionInverse() throws {
        var model = try EASE(configuration: .init(l2: 0.5), context: ComponentContext(seed: 0))
        try model.fit(training, context: TrainingContext(seed: 0))
        // G = XᵀX + 0.5 I, inverted by Gauss-Jordan in Float64.
        var g: [[Double]] = [[2, 2, 1], [2, 2, 1], [1, 1, 2]]
        for i in 0..<3 { g[i][i] += 0.5 }
        let p = invert(g)
        var scores = [Float](repeating: 0, count: 3)
        try scores.withUnsafeMutableBufferPointer { try model.score(users: [0], history: training.history, into: $0) }
        // User 0 holds items 0 and 1: score_j = B[0][j] + B[1][j], B[i][j] = -P[i][j] / P[j][j], B[j][j] = 0.
        for j in 0..<3 {
            let expected = (0..<2).reduce(0.0) { $0 + ($1 == j ? 0 : -p[$1][j] / p[j][j]) }
            #expect(abs(Double(scores[j]) - expected) < 1e-4, "item \(j): \(scores[j]) vs \(expected)")
        }
    }

    func invert(_ m: [[Double]]) -> [[Double]] {
        let n = m.count
        var a = m.enumerated().map { i, row in row + (0..<n).map { $0 == i ? 1.0 : 0.0 } }
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            a.swapAt(col, pivot)
            let scale = a[col][col]
            a[col] = a[col].map { $0 / scale }
            for row in 0..<n where row != col {
                let factor = a[row][col]
                a[row] = zip(a[row], a[col]).map { $0 - factor * $1 }
            }
        }
        return a.map { Array($0[n...]) }
    }

    @Test func bprGradientMatchesFiniteDifferences() {
        var rng = SplitMix64(seed: 11)
        let pu = (0..<6).map { _ in Float(rng.nextGaussian()) * 0.5 }
        let qi = (0..<6).map { _ in Float(rng.nextGaussian()) * 0.5 }
        let qj = (0..<6).map { _ in Float(rng.nextGaussian()) * 0.5 }
        let reg: Float = 0.01
        // Loss in Float64: -ln σ(p·(qi - qj)) + reg/2 (|p|² + |qi|² + |qj|²).
        func loss(_ p: [Double], _ i: [Double], _ j: [Double]) -> Double {
            let x = zip(p, zip(i, j)).reduce(0.0) { $0 + $1.0 * ($1.1.0 - $1.1.1) }
            let norms = (p + i + j).reduce(0.0) { $0 + $1 * $1 }
            return log1p(exp(-x)) + Double(reg) / 2 * norms
        }
        let gradient = BPRMF.gradient(pu: pu, qi: qi, qj: qj, reg: reg)
        let point = [pu, qi, qj].map { $0.map(Double.init) }
        let analytic = [gradient.pu, gradient.qi, gradient.qj]
        let h = 1e-6
        for block in 0..<3 {
            for f in 0..<6 {
                var plus = point, minus = point
                plus[block][f] += h
                minus[block][f] -= h
                let numeric = (loss(plus[0], plus[1], plus[2]) - loss(minus[0], minus[1], minus[2])) / (2 * h)
                #expect(abs(numeric - Double(analytic[block][f])) < 1e-4, "block \(block) factor \(f)")
            }
        }
    }

    @Test func bprStepDescendsTheGradient() {
        var users: [Float] = [0.1, -0.2], items: [Float] = [0.3, 0.1, -0.1, 0.2]
        let before = (users, items)
        let g = BPRMF.gradient(pu: [0.1, -0.2], qi: [0.3, 0.1], qj: [-0.1, 0.2], reg: 0.01)
        _ = BPRMF.step(user: 0, positive: 0, negative: 1, d: 2, lr: 0.1, reg: 0.01, users: &users, items: &items)
        for f in 0..<2 {
            #expect(abs(users[f] - (before.0[f] - 0.1 * g.pu[f])) < 1e-6)
            #expect(abs(items[f] - (before.1[f] - 0.1 * g.qi[f])) < 1e-6)
            #expect(abs(items[2 + f] - (before.1[2 + f] - 0.1 * g.qj[f])) < 1e-6)
        }
    }
}

/// Defaults, except `epochs: 1` for plugins that train for epochs (a smoke test, not a fit).
struct OneEpoch: ConfigurationSource {
    // JSONDecoder is not strict: configurations without an `epochs` key ignore it, and those
    // without `examples` (the fine-tuned rating model's training sample) that one.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data("{\"epochs\": 1, \"examples\": 4}".utf8))
    }
}

/// A deriver's defaults, with a codebook that fits the 30-item fixture (semantic IDs refuse more
/// codes than items) and one epoch.
struct SmallDerive: ConfigurationSource {
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data("{\"epochs\": 1, \"codes\": 8}".utf8))
    }
}

/// Registry-wide smoke test: every retriever kind trains for an epoch on the fixture.
struct RegistrySmokeTests {
    @Test(arguments: try! makeRegistry().retrieverKinds)
    func everyRetrieverRunsWithDefaults(_ kind: String) throws {
        let registry = try makeRegistry()
        var (retriever, json) = try registry.makeRetriever(kind: kind, configuration: OneEpoch(), context: ComponentContext(seed: 1))
        #expect(json.hasPrefix("{"))
        let split = try Fixtures.clusteredDataset(users: 40, items: 30).split(.leaveOneOut)
        var training = split.trainingSet
        if let reader = retriever as? any ReadsVectors, reader.readsItemVectors {
            var random = SplitMix64(seed: 5)
            training.itemVectors = (0..<training.itemCount).map { _ in (0..<8).map { _ in random.nextFloat() - 0.5 } }
        }
        // A retriever that reads derived artifacts gets them from the registry's derivers
        // (with their defaults, but a codebook of 8) over seeded random item vectors, as a
        // derive stage would give.
        if let reader = retriever as? any ReadsDerived {
            var random = SplitMix64(seed: 3)
            training.itemVectors = (0..<training.itemCount).map { _ in (0..<8).map { _ in random.nextFloat() - 0.5 } }
            for name in reader.readsDerived {
                let builder = try #require(
                    try registry.deriverKinds.lazy.map { try registry.makeDeriver(kind: $0, configuration: SmallDerive(), context: ComponentContext(seed: 1)).0 }.first { $0.output == name })
                try builder.install(try builder.derive(from: training, context: TrainingContext(seed: 1)), into: &training.derived)
            }
        }
        if var trainable = retriever as? any Retriever & Trainable {
            try trainable.fit(training, context: TrainingContext(seed: 1))
            retriever = trainable
        }
        var scores = [Float](repeating: .nan, count: 2 * 30)
        // A user with an empty history is scored too.
        var history = split.trainHistory
        history[1] = []
        try scores.withUnsafeMutableBufferPointer { try retriever.score(users: [0, 1], history: history, into: $0) }
        #expect(scores.allSatisfy { $0.isFinite })
    }

    @Test(arguments: try! makeRegistry().scorerKinds)
    func everyScorerRunsWithDefaults(_ kind: String) throws {
        let registry = try makeRegistry()
        var (scorer, json) = try registry.makeScorer(kind: kind, configuration: OneEpoch(), context: ComponentContext(seed: 1))
        #expect(json.hasPrefix("{"))
        var split = try Fixtures.labelledDataset(users: 40, items: 20).split(.user, ratios: [0.7, 0.1, 0.2], seed: 1)
        split.labelRule = LabelRule(.greater, 3)
        if let reader = scorer as? any ReadsFeatures {
            try reader.check(userFeatures: split.dataset.userFeatures, itemFeatures: split.dataset.itemFeatures)
        }
        var training = split.trainingSet
        // A scorer that reads encoder vectors gets seeded random ones, as an encoder would give.
        if let reader = scorer as? any ReadsVectors {
            var random = SplitMix64(seed: 3)
            if reader.readsUserVectors { training.userVectors = (0..<training.userCount).map { _ in (0..<8).map { _ in random.nextFloat() - 0.5 } } }
            if reader.readsItemVectors { training.itemVectors = (0..<training.itemCount).map { _ in (0..<8).map { _ in random.nextFloat() - 0.5 } } }
        }
        if var trainable = scorer as? any Scorer & Trainable {
            try trainable.fit(training, context: TrainingContext(seed: 1))
            scorer = trainable
        }
        let predictions = try scorer.predict(users: split.test.map(\.user), items: split.test.map(\.item), history: split.trainHistory)
        #expect(predictions.count == split.test.count && predictions.allSatisfy { $0.isFinite })
    }

    /// Every kind of the other roles builds from its defaults (the role suites exercise them).
    @Test func everyKindOfEveryRoleBuildsFromDefaults() throws {
        let registry = try makeRegistry()
        let context = ComponentContext(seed: 1)
        for kind in registry.rankerKinds { _ = try registry.makeRanker(kind: kind, configuration: DefaultConfiguration(), context: context) }
        for kind in registry.augmenterKinds { _ = try registry.makeAugmenter(kind: kind, configuration: DefaultConfiguration(), context: context) }
        for kind in registry.encoderKinds { _ = try registry.makeEncoder(kind: kind, configuration: DefaultConfiguration(), context: context) }
        for kind in registry.itemAugmenterKinds { _ = try registry.makeItemAugmenter(kind: kind, configuration: DefaultConfiguration(), context: context) }
        for kind in registry.deriverKinds { _ = try registry.makeDeriver(kind: kind, configuration: DefaultConfiguration(), context: context) }
        let listed = Set(
            registry.retrieverKinds + registry.scorerKinds + registry.rankerKinds + registry.augmenterKinds + registry.encoderKinds + registry.itemAugmenterKinds
                + registry.deriverKinds)
        #expect(listed == Set(registry.entries.map(\.kind)))
    }
}
