import Foundation
import RecCore
import RecTensor

/// The MLP baseline of Kang et al. (2023): a user and an item embedding, concatenated, through
/// ReLU layers to one output added to the training mean, trained on the squared error.
///
/// Shapes: user `[B, D]` and item `[B, D]` rows of `[U, D]` and `[I, D]` tables -> `[B, 2D]` ->
/// hidden layers -> `[B, 1]` + μ. Adam; early stopping on the validation RMSE where the split
/// has validation ratings (patience 3 by default), keeping the best epoch. Predictions are
/// clipped to the training ratings' range; a user or item without training ratings reads its
/// untrained (near-zero) row.
///
/// ```yaml
/// scorer: { type: rating_mlp, embedding: 32, hidden: [64, 32], epochs: 20 }
/// ```
public struct RatingMLP: Scorer, Trainable {
    public struct Configuration: Codable, Sendable, Equatable {
        public var embedding = 32
        public var hidden = [64, 32]
        public var epochs = 20
        public var batchSize = 256
        public var learningRate = 0.001
        public var weightDecay = 0.0
        public var patience = 3

        enum CodingKeys: String, CodingKey, CaseIterable { case embedding, hidden, epochs, batchSize, learningRate, weightDecay, patience }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            embedding = try c.decode(.embedding, default: 32, in: 1...4096)
            hidden = try c.decodeLayerSizes(.hidden, default: [64, 32])
            epochs = try c.decode(.epochs, default: 20, in: 0...10000)
            batchSize = try c.decode(.batchSize, default: 256, in: 1...1_000_000)
            learningRate = try c.decode(.learningRate, default: 0.001, in: 1e-8...10)
            weightDecay = try c.decode(.weightDecay, default: 0, in: 0...10)
            patience = try c.decode(.patience, default: 3, in: 0...1000)
        }
    }

    public static let kind = "rating_mlp"
    public static let summary = "an MLP over user and item embeddings trained on the squared rating error (Kang et al. 2023's MLP baseline)"
    public let configuration: Configuration
    public var predicts: PredictionKind { .rating }
    let seed: UInt64
    private var network: RatingMLPNetwork?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard !data.interactions.isEmpty else { throw RecError(.plugin, "rating_mlp has no training ratings") }
        let network = RatingMLPNetwork(configuration, users: data.userCount, items: data.itemCount, ratings: data.interactions, seed: seed)
        try network.train(on: data, configuration: configuration, context: context)
        self.network = network
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        guard let network else { throw RecError(.plugin, "rating_mlp predicts before it was trained") }
        return network.predict(users: users, items: items)
    }
}
