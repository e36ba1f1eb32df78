import RecCore

/// Logistic regression on user and item feature fields: a bias and one weight per feature
/// value, `p = σ(bias + Σ_f w_f)`, trained like FM (the same model with no factors).
///
/// **Ours:** RecBole 1.2.1's LR (its first-order layer): a multi-valued field adds the sum of
/// its values' weights. Adam on binary cross-entropy, best validation AUC kept.
///
/// ```yaml
/// scorer: { type: lr, fields: [user_id, item_id, genres, gender, age, occupation] }
/// ```
public struct LogisticRegression: Scorer, Trainable, Checkpointable, ReadsFeatures {
    public typealias Configuration = CTRTrainingConfiguration

    public static let kind = "lr"
    public static let summary = "logistic regression over user and item fields, Adam on BCE"
    public let configuration: Configuration
    public var predicts: PredictionKind { .probability }
    private var layout: FieldLayout?
    private var model: FMModel?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public func check(userFeatures: FeatureTable, itemFeatures: FeatureTable) throws {
        for name in configuration.fields { _ = try FieldLayout.resolve(name, users: userFeatures, items: itemFeatures) }
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        (layout, model) = try CTRTrainer.fit(factors: 0, configuration, data: data, context: context)
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        guard let layout, let model else { throw RecError(.plugin, "lr predicts before it was trained") }
        return CTRTrainer(configuration: configuration, layout: layout).predict(model, users: users, items: items)
    }

    public func checkpoint() throws -> [UInt8] { try CTRTrainer.checkpoint(layout, model, name: Self.kind) }

    public mutating func restore(from bytes: [UInt8]) throws {
        (layout, model) = try CTRTrainer.restore(bytes, name: Self.kind, factors: 0)
    }
}
