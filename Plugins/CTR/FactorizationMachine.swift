import RecCore

/// Factorization machine for CTR prediction, on user and item feature fields.
///
/// **Paper:** Rendle, "Factorization Machines", ICDM 2010: a bias, a weight per feature and a
/// pairwise interaction `<v_i, v_j>` per pair of features, computed in O(k·n) as
/// `½ Σ_d ((Σ_i v_id x_i)² − Σ_i v_id² x_i²)`.
///
/// **Ours:** RecBole 1.2.1's FM, so the two can be compared on one split: interactions between
/// *fields*, a multi-valued field (genres) entering as the mean of its value embeddings (and
/// the sum of its first-order weights), Xavier-normal initialisation, Adam on binary
/// cross-entropy, and the epoch with the best validation AUC kept. See FMModel for the shapes
/// and gradients, FieldLayout for how fields become rows.
///
/// ```yaml
/// scorer: { type: fm, factors: 10, fields: [user_id, item_id, genres, gender, age, occupation] }
/// ```
public struct FactorizationMachine: Scorer, Trainable, Checkpointable, ReadsFeatures {
    public struct Configuration: Codable, Sendable, Equatable {
        /// Embedding size of every field (RecBole's FM `embedding_size`, 10 by default).
        public var factors: Int = 10
        public var training = CTRTrainingConfiguration()

        enum CodingKeys: String, CodingKey, CaseIterable { case factors }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            factors = try c.decode(.factors, default: 10, in: 1...1024)
            training = try CTRTrainingConfiguration(from: decoder)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(factors, forKey: .factors)
            try training.encode(to: encoder)
        }
    }

    public static let kind = "fm"
    public static let summary = "factorization machine over user and item fields, Adam on BCE (Rendle, ICDM 2010; RecBole's FM)"
    public let configuration: Configuration
    public var predicts: PredictionKind { .probability }
    private let seed: UInt64
    private var layout: FieldLayout?
    private var model: FMModel?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        self.seed = context.seed
    }

    public func check(userFeatures: FeatureTable, itemFeatures: FeatureTable) throws {
        for name in configuration.training.fields { _ = try FieldLayout.resolve(name, users: userFeatures, items: itemFeatures) }
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        (layout, model) = try CTRTrainer.fit(factors: configuration.factors, configuration.training, data: data, context: context)
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        guard let layout, let model else { throw RecError(.plugin, "fm predicts before it was trained") }
        return CTRTrainer(configuration: configuration.training, layout: layout).predict(model, users: users, items: items)
    }

    public func checkpoint() throws -> [UInt8] { try CTRTrainer.checkpoint(layout, model, name: Self.kind) }

    public mutating func restore(from bytes: [UInt8]) throws {
        (layout, model) = try CTRTrainer.restore(bytes, name: Self.kind, factors: configuration.factors)
    }
}
