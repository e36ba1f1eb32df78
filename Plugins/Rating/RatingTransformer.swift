import Foundation
import RecCore
import RecTensor

/// The Transformer-MLP baseline of Kang et al. (2023): the user's last ratings before a pair, each
/// an item embedding plus a rating embedding plus a position, through Transformer blocks; the
/// most recent position's output beside the candidate's item embedding through an MLP to one
/// output added to the training mean, trained on the squared error.
///
/// Shapes: history `[B, L]` (left-padded) -> `[B, L, D]` -> `blocks` × (self-attention with
/// `heads` heads over the real positions, residual, layer norm; feed-forward `D -> 2D -> D`,
/// residual, layer norm) -> last position `[B, D]`; with the candidate `[B, D]` -> `[B, 2D]` ->
/// ReLU layers `hidden` -> `[B, 1]` + μ. Adam; early stopping on validation RMSE (patience 3)
/// where the split has validation ratings.
///
/// A pair reads the `history` interactions before it in time (`ReadsBehaviour`); training pairs
/// read those among the training ratings and the history-only prefix.
///
/// ```yaml
/// scorer: { type: rating_transformer, history: 10, embedding: 32, blocks: 1, heads: 2 }
/// ```
public struct RatingTransformer: Scorer, Trainable, ReadsBehaviour {
    public struct Configuration: Codable, Sendable, Equatable {
        public var history = 10
        public var embedding = 32
        public var blocks = 1
        public var heads = 2
        public var hidden = [64, 32]
        public var epochs = 20
        public var batchSize = 256
        public var learningRate = 0.001
        public var patience = 3

        enum CodingKeys: String, CodingKey, CaseIterable { case history, embedding, blocks, heads, hidden, epochs, batchSize, learningRate, patience }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            history = try c.decode(.history, default: 10, in: 1...200)
            embedding = try c.decode(.embedding, default: 32, in: 1...4096)
            blocks = try c.decode(.blocks, default: 1, in: 1...12)
            heads = try c.decode(.heads, default: 2, in: 1...64)
            guard embedding % heads == 0 else {
                throw DecodingError.dataCorruptedError(forKey: .heads, in: c, debugDescription: "embedding \(embedding) is not divisible by \(heads) heads")
            }
            hidden = try c.decodeLayerSizes(.hidden, default: [64, 32])
            epochs = try c.decode(.epochs, default: 20, in: 0...10000)
            batchSize = try c.decode(.batchSize, default: 256, in: 1...1_000_000)
            learningRate = try c.decode(.learningRate, default: 0.001, in: 1e-8...10)
            patience = try c.decode(.patience, default: 3, in: 0...1000)
        }
    }

    public static let kind = "rating_transformer"
    public static let summary = "a Transformer over the rated history and an MLP with the candidate, on the squared rating error (Kang et al. 2023's Transformer-MLP)"
    public let configuration: Configuration
    public var predicts: PredictionKind { .rating }
    public var behaviourLength: Int { configuration.history }
    let seed: UInt64
    private var network: RatingTransformerNetwork?
    /// The training timeline, for pairs scored without one.
    private var trained: Timeline?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard !data.interactions.isEmpty else { throw RecError(.plugin, "rating_transformer has no training ratings") }
        let network = RatingTransformerNetwork(configuration, items: data.itemCount, ratings: data.interactions, seed: seed)
        let timeline = Timeline(userCount: data.userCount, data.historyOnly + data.interactions)
        try network.train(on: data, timeline: timeline, configuration: configuration, context: context)
        self.network = network
        trained = timeline
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        guard let trained else { throw RecError(.plugin, "rating_transformer predicts before it was trained") }
        // The pair is placed after everything the user rated in training.
        return try predict(zip(users, items).map { Interaction(user: $0, item: $1, rating: 0, time: .max) }, timeline: trained)
    }

    public func predict(_ pairs: [Interaction], timeline: Timeline) throws -> [Float] {
        guard let network else { throw RecError(.plugin, "rating_transformer predicts before it was trained") }
        return network.predict(pairs, timeline: timeline)
    }
}
