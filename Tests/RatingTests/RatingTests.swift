import Foundation
import RecCore
import RecEval
import RecTesting
import Testing
@testable import Rating

/// Ratings from a rank-2 model plus user and item offsets and noise, on a 1-5 scale.
func syntheticRatings(users: Int = 150, items: Int = 80, perUser: Int = 40, seed: UInt64 = 11) -> (train: TrainingSet, test: [Interaction]) {
    var rng = SplitMix64(seed: seed)
    func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
    let userTaste = (0..<users).map { _ in (uniform() * 2 - 1, uniform() * 2 - 1, uniform() - 0.5) }
    let itemTaste = (0..<items).map { _ in (uniform() * 2 - 1, uniform() * 2 - 1, uniform() - 0.5) }
    var train: [Interaction] = [], test: [Interaction] = []
    for user in 0..<users {
        var seen = Set<Int>()
        for position in 0..<perUser {
            let item = Int(rng.next() % UInt64(items))
            guard seen.insert(item).inserted else { continue }
            let (a, b, offset) = userTaste[user], (c, d, itemOffset) = itemTaste[item]
            let value = 3 + 1.2 * (a * c + b * d) + offset + itemOffset + (uniform() - 0.5) * 0.4
            let event = Interaction(user: Int32(user), item: Int32(item), rating: Float(min(5, max(1, value.rounded()))), time: Int64(position))
            if position % 5 == 4 { test.append(event) } else { train.append(event) }
        }
    }
    return (TrainingSet(userCount: users, itemCount: items, interactions: train, history: Array(repeating: [], count: users), hasRatings: true), test)
}

private func rmse(_ predictions: [Float], _ test: [Interaction]) -> Double {
    (zip(predictions, test).reduce(0.0) { $0 + pow(Double($1.0 - $1.1.rating), 2) } / Double(test.count)).squareRoot()
}

@Suite struct RatingTests {
    /// The SGD step moves every parameter by −γ times the gradient of the per-rating loss,
    /// checked against central finite differences of that loss.
    @Test func sgdStepFollowsTheFiniteDifferenceGradient() {
        let k = 3, lr: Float = 1e-3, reg: Float = 0.05, rating: Float = 4, mean: Float = 3.2
        let p0: [Float] = [0.3, -0.2, 0.5], q0: [Float] = [0.1, 0.4, -0.3]
        let bu0: Float = 0.2, bi0: Float = -0.1
        func loss(_ bu: Double, _ bi: Double, _ p: [Double], _ q: [Double]) -> Double {
            let e = Double(rating) - (Double(mean) + bu + bi + zip(p, q).reduce(0) { $0 + $1.0 * $1.1 })
            return 0.5 * e * e + 0.5 * Double(reg) * (bu * bu + bi * bi + p.reduce(0) { $0 + $1 * $1 } + q.reduce(0) { $0 + $1 * $1 })
        }
        var bu = bu0, bi = bi0, p = p0, q = q0
        p.withUnsafeMutableBufferPointer { pp in
            q.withUnsafeMutableBufferPointer { qq in
                _ = BiasedMF.step(rating: rating, mean: mean, userBias: &bu, itemBias: &bi, p: pp.baseAddress!, q: qq.baseAddress!, factors: k, learningRate: lr, regularization: reg)
            }
        }
        let base = (Double(bu0), Double(bi0), p0.map(Double.init), q0.map(Double.init))
        let h = 1e-5
        func numeric(_ perturb: (inout (Double, Double, [Double], [Double]), Double) -> Void) -> Double {
            var plus = base, minus = base
            perturb(&plus, h)
            perturb(&minus, -h)
            return (loss(plus.0, plus.1, plus.2, plus.3) - loss(minus.0, minus.1, minus.2, minus.3)) / (2 * h)
        }
        #expect(abs(Double(bu - bu0) / -Double(lr) - numeric { $0.0 += $1 }) < 1e-3)
        #expect(abs(Double(bi - bi0) / -Double(lr) - numeric { $0.1 += $1 }) < 1e-3)
        for d in 0..<k {
            #expect(abs(Double(p[d] - p0[d]) / -Double(lr) - numeric { $0.2[d] += $1 }) < 1e-3, "p[\(d)]")
            #expect(abs(Double(q[d] - q0[d]) / -Double(lr) - numeric { $0.3[d] += $1 }) < 1e-3, "q[\(d)]")
        }
    }

    @Test func biasedMFBeatsTheMeansWhichBeatNothing() throws {
        let (train, test) = syntheticRatings()
        let users = test.map(\.user), items = test.map(\.item)
        var errors: [String: Double] = [:]
        for by in MeanRating.Configuration.Grouping.allCases {
            var model = try MeanRating(configuration: .init(by: by), context: ComponentContext(seed: 1))
            try model.fit(train, context: TrainingContext(seed: 1))
            errors[by.rawValue] = rmse(try model.predict(users: users, items: items, history: []), test)
        }
        var configuration = BiasedMF.Configuration()
        configuration.factors = 8
        configuration.epochs = 60
        configuration.learningRate = 0.01
        var mf = try BiasedMF(configuration: configuration, context: ComponentContext(seed: 1))
        try mf.fit(train, context: TrainingContext(seed: 1))
        let predictions = try mf.predict(users: users, items: items, history: [])
        errors["mf"] = rmse(predictions, test)
        #expect(errors["user"]! < errors["global"]! && errors["item"]! < errors["global"]!, "\(errors)")
        #expect(errors["mf"]! < min(errors["user"]!, errors["item"]!) - 0.1, "\(errors)")
        #expect(predictions.allSatisfy { (1...5).contains($0) }, "clipped to the training range")
        // Unseen users and items get the baseline without factors.
        let cold = try mf.predict(users: [Int32(train.userCount + 5)], items: [0], history: [])
        #expect(cold[0].isFinite)
    }

    /// The MLP learns the synthetic ratings' user and item structure: better than the global
    /// mean, and early stopping keeps the epoch with the lowest validation RMSE.
    @Test func ratingMLPBeatsTheGlobalMean() throws {
        var (train, test) = syntheticRatings()
        train.validation = Array(test.prefix(test.count / 2))
        let held = Array(test.dropFirst(test.count / 2))
        var global = try MeanRating(configuration: .init(by: .global), context: ComponentContext(seed: 1))
        try global.fit(train, context: TrainingContext(seed: 1))
        var configuration = RatingMLP.Configuration()
        configuration.epochs = 30
        configuration.learningRate = 0.01
        var mlp = try RatingMLP(configuration: configuration, context: ComponentContext(seed: 1))
        let log = EventLog()
        try mlp.fit(train, context: log.context(seed: 1))
        let users = held.map(\.user), items = held.map(\.item)
        let errors = (mlp: rmse(try mlp.predict(users: users, items: items, history: []), held), mean: rmse(try global.predict(users: users, items: items, history: []), held))
        #expect(errors.mlp < errors.mean - 0.1, "\(errors)")
        let validation = log.validations.map(\.value)
        #expect(!validation.isEmpty)
        let kept = rmse(try mlp.predict(users: train.validation.map(\.user), items: train.validation.map(\.item), history: []), train.validation)
        #expect(abs(kept - validation.min()!) < 1e-6, "the best epoch is kept: \(kept) vs \(validation)")
        #expect(try mlp.predict(users: [Int32(train.userCount + 5)], items: [0], history: []).allSatisfy(\.isFinite))
    }

    /// Ratings that repeat the user's previous rating (each user drifts between moods): only a
    /// model that reads the rated history before the pair can follow them.
    @Test func ratingTransformerReadsTheRatedHistory() throws {
        var rng = SplitMix64(seed: 5)
        var events: [Interaction] = []
        for user in 0..<120 {
            var mood = 1 + rng.nextInt(below: 5)
            for t in 0..<30 {
                if rng.nextInt(below: 6) == 0 { mood = 1 + rng.nextInt(below: 5) }
                events.append(Interaction(user: Int32(user), item: Int32(rng.nextInt(below: 40)), rating: Float(mood), time: Int64(t)))
            }
        }
        let dataset = Dataset(
            name: "moods", userIDs: (0..<120).map(String.init), itemIDs: (0..<40).map(String.init), interactions: events, itemText: [], hasRatings: true,
            hasTimestamps: true)
        let split = try dataset.split(.leaveOneOut, ratios: [], seed: 1)
        var configuration = RatingTransformer.Configuration()
        configuration.history = 4
        configuration.embedding = 16
        configuration.epochs = 15
        configuration.learningRate = 0.005
        var transformer = try RatingTransformer(configuration: configuration, context: ComponentContext(seed: 1))
        try transformer.fit(split.trainingSet, context: TrainingContext(seed: 1))
        let predicted = try transformer.predict(split.test, timeline: split.timeline)
        var global = try MeanRating(configuration: .init(by: .global), context: ComponentContext(seed: 1))
        try global.fit(split.trainingSet, context: TrainingContext(seed: 1))
        let mean = try global.predict(users: split.test.map(\.user), items: split.test.map(\.item), history: [])
        let errors = (transformer: rmse(predicted, split.test), mean: rmse(mean, split.test))
        // The mean is at about 1.34; repeating the last rating exactly would be at about 0.8.
        #expect(errors.transformer < errors.mean - 0.35, "\(errors)")
    }

    @Test func retrieverRowMatchesUnclippedPredictions() throws {
        let (train, _) = syntheticRatings(users: 20, items: 15, perUser: 10)
        var configuration = BiasedMF.Configuration()
        configuration.factors = 4
        configuration.epochs = 5
        configuration.clip = false
        var mf = try BiasedMF(configuration: configuration, context: ComponentContext(seed: 2))
        try mf.fit(train, context: TrainingContext(seed: 2))
        var row = [Float](repeating: 0, count: 2 * 15)
        try row.withUnsafeMutableBufferPointer { try mf.score(users: [3, 7], history: [], into: $0) }
        let direct = try mf.predict(users: Array(repeating: 3, count: 15) + Array(repeating: 7, count: 15), items: (0..<15).map(Int32.init) + (0..<15).map(Int32.init), history: [])
        for (a, b) in zip(row, direct) { #expect(abs(a - b) < 1e-4) }
        let bytes = try mf.checkpoint()
        var restored = try BiasedMF(configuration: configuration, context: ComponentContext(seed: 9))
        try restored.restore(from: bytes)
        #expect(try restored.predict(users: [3], items: [4], history: []) == mf.predict(users: [3], items: [4], history: []))
        #expect(throws: RecError.self) { try restored.restore(from: Array(bytes.dropLast(3))) }
    }
}

@Suite struct RatingConformanceTests {
    @Test func anUnknownGroupingListsTheValidOnes() {
        #expect {
            try JSONDecoder().decode(MeanRating.Configuration.self, from: Data(#"{"by": "weekly"}"#.utf8))
        } throws: { error in
            "\(error)".contains("unknown value 'weekly'; valid: global, user, item")
        }
    }

    @Test func meansAndBiasedMFConform() throws {
        for by in MeanRating.Configuration.Grouping.allCases {
            try Conformance.scorer(MeanRating.self) { try MeanRating(configuration: .init(by: by), context: ComponentContext(seed: $0)) }
        }
        try Conformance.scorer(BiasedMF.self)
        try Conformance.scorer(RatingMLP.self)
        try Conformance.scorer(RatingTransformer.self)
        try Conformance.retriever(BiasedMF.self) { seed in
            var configuration = BiasedMF.Configuration()
            configuration.factors = 8
            configuration.epochs = 30
            configuration.learningRate = 0.02
            return try BiasedMF(configuration: configuration, context: ComponentContext(seed: seed))
        }
    }
}
