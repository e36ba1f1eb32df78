import Foundation
import RecCore
import RecEval
import RecTesting
import Testing
@testable import CTR

/// A synthetic CTR set in which clicks depend on a user field crossed with an item field
/// (users of group g like items of genre g), so a model with interactions must beat one
/// without, and both must beat chance.
func syntheticCTR(users: Int = 200, items: Int = 60, perUser: Int = 30, seed: UInt64 = 7) -> TrainingSet {
    var rng = SplitMix64(seed: seed)
    let groups = ["a", "b", "c"]
    let userGroup = (0..<users).map { _ in groups[Int(rng.next() % 3)] }
    let itemGenre = (0..<items).map { _ in groups[Int(rng.next() % 3)] }
    var train: [Interaction] = [], validation: [Interaction] = []
    for user in 0..<users {
        for position in 0..<perUser {
            let item = Int(rng.next() % UInt64(items))
            let likes = userGroup[user] == itemGenre[item]
            let noise = rng.next() % 10 == 0
            let rating: Float = (likes != noise) ? 5 : 2
            let event = Interaction(user: Int32(user), item: Int32(item), rating: rating, time: Int64(position))
            if user % 5 == 0 { validation.append(event) } else { train.append(event) }
        }
    }
    return TrainingSet(
        userCount: users, itemCount: items, interactions: train, history: Array(repeating: [], count: users), hasRatings: true,
        validation: validation, userFeatures: FeatureTable([.categorical("group", values: userGroup.map { [$0] })]),
        itemFeatures: FeatureTable([.categorical("genres", multi: true, values: itemGenre.map { [$0, "x"] }), .numeric("year", values: (0..<items).map { Float(1990 + $0 % 20) })]),
        labelRule: LabelRule(.greater, 3))
}

@Suite struct CTRTests {
    /// The FM's analytic gradient of the logit against central finite differences, for every
    /// parameter a pair touches (categorical, mean-pooled multi-valued and numeric fields).
    @Test func fmGradientMatchesFiniteDifferences() throws {
        let data = syntheticCTR(users: 4, items: 5, perUser: 3)
        let layout = try FieldLayout(fieldNames: ["user_id", "item_id", "group", "genres", "year"], userCount: 4, itemCount: 5, users: data.userFeatures, items: data.itemFeatures)
        var model = FMModel(rows: layout.rowCount, factors: 3, seed: 1)
        // Larger weights than the initialisation, so the second-order term matters.
        model.embeddings = model.embeddings.indices.map { Float(sin(Double($0))) * 0.5 }
        model.linear = model.linear.indices.map { Float(cos(Double($0))) * 0.3 }
        let trainer = CTRTrainer(configuration: CTRTrainingConfiguration(), layout: layout)
        let pair = trainer.pair(user: 2, item: 3)
        var scratch: [Float] = []
        _ = model.logit(pair, scratch: &scratch)
        var gradient = model.zeros
        model.accumulate(pair, scale: 1, scratch: scratch, into: &gradient)
        func logit(_ m: FMModel) -> Double { var s: [Float] = []; return Double(m.logit(pair, scratch: &s)) }
        let h: Float = 1e-2
        var checked = 0
        for index in model.embeddings.indices {
            var plus = model, minus = model
            plus.embeddings[index] += h
            minus.embeddings[index] -= h
            let numeric = (logit(plus) - logit(minus)) / Double(2 * h)
            #expect(abs(numeric - Double(gradient.embeddings[index])) < 2e-3, "embedding \(index): \(numeric) vs \(gradient.embeddings[index])")
            if gradient.embeddings[index] != 0 { checked += 1 }
        }
        for index in model.linear.indices {
            var plus = model, minus = model
            plus.linear[index] += h
            minus.linear[index] -= h
            let numeric = (logit(plus) - logit(minus)) / Double(2 * h)
            #expect(abs(numeric - Double(gradient.linear[index])) < 2e-3, "linear \(index)")
        }
        #expect(checked >= 5 * 3, "the pair touches at least one row per field")
        #expect(gradient.bias == 1)
    }

    private func auc(_ scorer: some Scorer, _ data: TrainingSet) throws -> Double {
        let predictions = try scorer.predict(users: data.validation.map(\.user), items: data.validation.map(\.item), history: data.history)
        return CTRTrainer.auc(predictions, labels: data.validation.map { data.label($0) })
    }

    /// FM learns the user-group × item-genre interaction; LR, which has none, can only learn
    /// per-item popularity. Both beat chance; FM beats LR.
    @Test func fmLearnsFieldInteractionsAndBeatsLR() throws {
        let data = syntheticCTR()
        var settings = CTRTrainingConfiguration()
        settings.fields = ["group", "genres", "item_id"]
        settings.epochs = 30
        settings.batchSize = 64
        settings.learningRate = 0.02
        var fmConfiguration = FactorizationMachine.Configuration()
        fmConfiguration.training = settings
        fmConfiguration.factors = 4
        var fm = try FactorizationMachine(configuration: fmConfiguration, context: ComponentContext(seed: 3))
        try fm.fit(data, context: TrainingContext(seed: 3))
        var lr = try LogisticRegression(configuration: settings, context: ComponentContext(seed: 3))
        try lr.fit(data, context: TrainingContext(seed: 3))
        let fmAUC = try auc(fm, data), lrAUC = try auc(lr, data)
        #expect(fmAUC > 0.8, "FM validation AUC \(fmAUC)")
        #expect(lrAUC > 0.5 && lrAUC < fmAUC - 0.1, "LR \(lrAUC), FM \(fmAUC)")
        // Every prediction is a probability.
        let all = try fm.predict(users: data.interactions.map(\.user), items: data.interactions.map(\.item), history: data.history)
        #expect(all.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test func checkpointRestoresTheSamePredictionsAndRefusesDamage() throws {
        let data = syntheticCTR(users: 40, items: 20, perUser: 10)
        var settings = FactorizationMachine.Configuration()
        settings.training.epochs = 2
        var fm = try FactorizationMachine(configuration: settings, context: ComponentContext(seed: 1))
        try fm.fit(data, context: TrainingContext(seed: 1))
        let bytes = try fm.checkpoint()
        var restored = try FactorizationMachine(configuration: settings, context: ComponentContext(seed: 99))
        try restored.restore(from: bytes)
        let users = data.validation.map(\.user), items = data.validation.map(\.item)
        #expect(try fm.predict(users: users, items: items, history: []) == restored.predict(users: users, items: items, history: []))
        for cut in [0, 7, bytes.count / 2, bytes.count - 1] {
            #expect(throws: RecError.self) { try restored.restore(from: Array(bytes.prefix(cut))) }
        }
        #expect(throws: RecError.self) { try restored.restore(from: bytes + [0]) }
    }

    @Test func sameSeedSameModel() throws {
        let data = syntheticCTR(users: 30, items: 10, perUser: 8)
        var settings = FactorizationMachine.Configuration()
        settings.training.epochs = 2
        func trained(_ seed: UInt64) throws -> [Float] {
            var fm = try FactorizationMachine(configuration: settings, context: ComponentContext(seed: seed))
            try fm.fit(data, context: TrainingContext(seed: seed))
            return try fm.predict(users: [0, 1, 2], items: [3, 4, 5], history: [])
        }
        #expect(try trained(5) == trained(5))
        #expect(try trained(5) != trained(6))
    }

    @Test func fieldErrorsNameTheFieldAndTheProblem() throws {
        let users = FeatureTable([.categorical("tags", multi: true, values: [["x"]])])
        let items = FeatureTable([.categorical("tags", multi: true, values: [["y"]]), .text("title", values: ["T"])])
        let cases: [(String, String)] = [
            ("title", "is text"), ("tags", "write user.tags or item.tags"), ("genre", "not a feature of this dataset"),
        ]
        for (name, expected) in cases {
            let error = #expect(throws: RecError.self) { _ = try FieldLayout.resolve(name, users: users, items: items) }
            #expect(error?.message.contains(expected) == true, "\(name): \(String(describing: error))")
            #expect(error?.keyPath == "fields")
        }
        #expect(try FieldLayout.resolve("item.tags", users: users, items: items).0 == .item)
    }
}

@Suite struct CTRConformanceTests {
    static func settings() -> CTRTrainingConfiguration {
        var settings = CTRTrainingConfiguration()
        settings.epochs = 10
        settings.batchSize = 64
        settings.learningRate = 0.02
        return settings
    }

    @Test func lrAndFMConform() throws {
        try Conformance.scorer(LogisticRegression.self) { try LogisticRegression(configuration: Self.settings(), context: ComponentContext(seed: $0)) }
        try Conformance.scorer(FactorizationMachine.self) { seed in
            var configuration = FactorizationMachine.Configuration()
            configuration.training = Self.settings()
            return try FactorizationMachine(configuration: configuration, context: ComponentContext(seed: seed))
        }
    }
}
