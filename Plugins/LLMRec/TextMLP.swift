import Foundation
import RecCore
import RecTensor

/// LLM-Rec's recommender: an MLP over a user representation and an item's text vector, trained
/// with binary cross-entropy against sampled negatives and ranking every item.
///
/// Shapes, for text vectors of width `K` (the pipeline encoder's, over the original and any
/// augmented fields) and id embeddings of width `D`:
/// - user: `id` -> its embedding `[D]`; `history` -> the mean of its history's item
///   representations;
/// - item: `text` -> its vector `[K]` (fixed); `id` -> its embedding `[D]` (the ID-only baseline);
/// - MLP: `[user, item] -> 128 -> 64` (ReLU) `-> 1`.
///
/// Scoring factors the first layer, `[u, v] W = u W_u + v W_v`: `v W_v` once for all items,
/// then per user the rest of the network over every item.
///
/// ```yaml
/// retriever: { type: llmrec.mlp, user: id, item: text, hidden: [128, 64], epochs: 20 }
/// ```
public struct TextMLP: Retriever, Trainable, Checkpointable, ReadsVectors {
    public enum Side: String, Codable, Sendable, CaseIterable { case id, text, history }

    public struct Configuration: Codable, Sendable, Equatable {
        public var user = Side.id
        public var item = Side.text
        public var embedding = 64
        public var hidden = [128, 64]
        public var epochs = 20
        public var batchSize = 1024
        public var learningRate = 0.001
        public var weightDecay = 0.0
        /// Sampled negatives per training interaction (uniform over items the user has not had).
        public var negatives = 1

        enum CodingKeys: String, CodingKey, CaseIterable { case user, item, embedding, hidden, epochs, batchSize, learningRate, weightDecay, negatives }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            user = try c.decode(.user, default: .id)
            guard user != .text else { throw DecodingError.dataCorruptedError(forKey: .user, in: c, debugDescription: "a user is id or history") }
            item = try c.decode(.item, default: .text)
            guard item != .history else { throw DecodingError.dataCorruptedError(forKey: .item, in: c, debugDescription: "an item is text or id") }
            embedding = try c.decode(.embedding, default: 64, in: 1...4096)
            hidden = try c.decode(.hidden, default: [128, 64])
            guard !hidden.isEmpty, hidden.count <= 8, hidden.allSatisfy({ (1...8192).contains($0) }) else {
                throw DecodingError.dataCorruptedError(forKey: .hidden, in: c, debugDescription: "1 to 8 hidden sizes of 1...8192; got \(hidden)")
            }
            epochs = try c.decode(.epochs, default: 20, in: 0...10_000)
            batchSize = try c.decode(.batchSize, default: 1024, in: 1...1_000_000)
            learningRate = try c.decode(.learningRate, default: 0.001, in: 1e-9...10)
            weightDecay = try c.decode(.weightDecay, default: 0, in: 0...10)
            negatives = try c.decode(.negatives, default: 1, in: 1...100)
        }
    }

    public static let kind = "llmrec.mlp"
    public static let summary = "LLM-Rec's MLP over a user (id or history) and an item's text vector, BCE with sampled negatives"
    public let configuration: Configuration
    private var network: TextMLPNetwork?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public var readsUserVectors: Bool { false }
    public var readsItemVectors: Bool { configuration.item == .text }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        var vectors: [Float] = [], width = 0
        if configuration.item == .text {
            guard data.itemVectors.count == data.itemCount, let first = data.itemVectors.first, !first.isEmpty, data.itemVectors.allSatisfy({ $0.count == first.count }) else {
                throw RecError(.plugin, "llmrec.mlp with item: text needs one encoder vector per item (\(data.itemVectors.count) for \(data.itemCount) items); give the pipeline an encoder: slot")
            }
            width = first.count
            vectors = data.itemVectors.flatMap { $0 }
        }
        let network = TextMLPNetwork(configuration, users: data.userCount, items: data.itemCount, itemVectors: vectors, vectorWidth: width, seed: context.seed)
        try network.train(on: data, configuration: configuration, context: context)
        self.network = network
    }

    public func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        guard let network else { throw RecError(.plugin, "llmrec.mlp scores before it was trained") }
        network.score(users: users, history: history, into: scores)
    }

    public func checkpoint() throws -> [UInt8] {
        guard let network else { throw RecError(.plugin, "llmrec.mlp has no trained state to checkpoint") }
        return network.checkpoint()
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        network = try TextMLPNetwork(restoring: bytes, configuration: configuration)
    }
}
