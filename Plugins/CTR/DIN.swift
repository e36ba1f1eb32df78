import RecCore
import RecTensor

/// DIN (Zhou et al., KDD 2018): a local activation unit weighs each earlier interaction by its
/// relevance to the candidate item, and the weighted sum of the behaviour sequence joins the
/// fields in an MLP with Dice activations.
///
/// Shapes, for `Fi` item fields and `L` earlier interactions (KAR's behaviour sequence: each
/// interaction's item fields and, with `rating: true`, its rating):
/// - keys `[B, L, K]`, `K = Fi·D (+ D)`; query `q = item fields · W_q [B, K]` (a projection, as
///   KAR's DIN, when the keys carry the rating; the item fields themselves otherwise);
/// - activation unit: `[q, k, q − k, q ⊙ k] [B·L, 4K] -> 80 -> 40` (Dice, or sigmoid with
///   `attention_activation: sigmoid`) `-> 1`, weights `[B, L]`,
///   zero on padding and not normalised (the paper keeps the intensity of interest);
/// - interest `Σ_t w_t k_t [B, K]`; MLP over `[flatten(fields), interest]` -> 200 -> 80 (Dice) -> 1.
///
/// ```yaml
/// scorer: { type: din, behaviour: { length: 10, rating: true } }
/// ```
public enum DIN: DeepCTRModel, BuildsCTRNetwork {
    public struct Configuration: DeepCTRConfigurable {
        public struct Behaviour: Codable, Sendable, Equatable {
            /// The last `length` interactions before each pair.
            public var length = 10
            /// Whether each earlier interaction's rating is part of its key.
            public var rating = true

            enum CodingKeys: String, CodingKey, CaseIterable { case length, rating }

            public init() {}

            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                length = try c.decode(.length, default: 10, in: 1...1000)
                rating = try c.decode(.rating, default: true)
            }
        }

        public var common = DeepCTRConfiguration()
        public var behaviour = Behaviour()
        /// Hidden sizes of the local activation unit.
        public var attentionMLP = [80, 40]
        /// Activation of the final MLP.
        public var activation = "dice"
        /// Activation of the local activation unit: Dice as in the paper, or sigmoid as
        /// RecBole's DIN.
        public var attentionActivation = "dice"

        enum CodingKeys: String, CodingKey, CaseIterable { case behaviour, attentionMLP = "attention_mlp", activation, attentionActivation = "attention_activation" }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            behaviour = try c.decode(.behaviour, default: Behaviour())
            attentionMLP = try c.decode(.attentionMLP, default: [80, 40])
            guard attentionMLP.count <= 8, attentionMLP.allSatisfy({ (1...4096).contains($0) }) else {
                throw DecodingError.dataCorruptedError(forKey: .attentionMLP, in: c, debugDescription: "hidden sizes must be 1...4096, at most 8 layers")
            }
            activation = try c.decode(.activation, default: "dice")
            attentionActivation = try c.decode(.attentionActivation, default: "dice")
            for (key, value) in [(CodingKeys.activation, activation), (.attentionActivation, attentionActivation)] where MLP.Activation(rawValue: value) == nil {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "activation is dice, relu or sigmoid, not '\(value)'")
            }
            common = try DeepCTRConfiguration(from: decoder, readsBehaviour: true, kind: DIN.kind)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(behaviour, forKey: .behaviour)
            try c.encode(attentionMLP, forKey: .attentionMLP)
            try c.encode(activation, forKey: .activation)
            if attentionActivation != "dice" { try c.encode(attentionActivation, forKey: .attentionActivation) }
            try common.encode(to: encoder)
        }
    }

    public static let kind = "din"
    public static let summary = "DIN: attention of the candidate over the behaviour sequence, Dice MLPs (Zhou et al., KDD 2018)"

    static func network(_ configuration: Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) -> any CTRNetwork {
        DINNetwork(configuration, embedding: embedding, rng: &rng)
    }
}

final class DINNetwork: CTRNetwork {
    let behaviourLength: Int
    let userFields: Int, itemWidth: Int, keyWidth: Int
    /// `[11, D]`: ratings 1...10, row 0 for unknown (present only with `rating: true`).
    let ratings: Tensor?
    let query: Tensor?
    let unit: MLP, unitOutput: LinearLayer
    let mlp: MLP
    let output: LinearLayer

    init(_ configuration: DIN.Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) {
        let d = embedding.width
        behaviourLength = configuration.behaviour.length
        userFields = embedding.userFields
        itemWidth = embedding.itemFields * d
        keyWidth = itemWidth + (configuration.behaviour.rating ? d : 0)
        ratings = configuration.behaviour.rating ? Initializer.normal([11, d], std: (2 / Float(11 + d)).squareRoot(), rng: &rng) : nil
        query = configuration.behaviour.rating ? Initializer.normal([itemWidth, keyWidth], std: (2 / Float(itemWidth + keyWidth)).squareRoot(), rng: &rng) : nil
        unit = MLP(4 * keyWidth, configuration.attentionMLP, dropout: 0, activation: MLP.Activation(rawValue: configuration.attentionActivation)!, rng: &rng)
        unitOutput = LinearLayer(unit.outputWidth, 1, rng: &rng)
        let common = configuration.common
        mlp = MLP(embedding.fieldCount * d + keyWidth, common.mlp, dropout: common.dropout, activation: MLP.Activation(rawValue: configuration.activation)!, rng: &rng)
        output = LinearLayer(mlp.outputWidth, 1, rng: &rng)
    }

    var parameters: [(String, Tensor)] {
        (ratings.map { [("ratings", $0)] } ?? []) + (query.map { [("query", $0)] } ?? []) + unit.parameters("unit") + unitOutput.parameters("unit_output")
            + mlp.parameters("mlp") + output.parameters("output")
    }

    func logits(_ batch: CTRBatch, training: Bool, rng: inout SplitMix64) -> Tensor {
        let b = batch.size
        let fields = batch.fields.reshaped([b, -1])
        guard let behaviour = batch.behaviour else { preconditionFailure("DIN needs each pair's behaviour sequence") }
        let l = behaviour.length
        var keys = behaviour.items  // [B, L, Fi·D]
        if let ratings {
            keys = Tensor.concat([keys, ratings.gather(rows: behaviour.ratings).reshaped([b, l, -1])], axis: 2)
        }
        let target = batch.fields.slice(axis: 1, userFields..<batch.fields.shape[1]).reshaped([b, itemWidth])
        let q = query.map { target.matmul($0) } ?? target  // [B, K]
        let rows = (0..<Int32(b)).flatMap { Array(repeating: $0, count: l) }
        let flatKeys = keys.reshaped([b * l, keyWidth])
        let mask = Tensor(shape: [b, l], data: behaviour.lengths.flatMap { n in (0..<l).map { $0 < n ? 1 : 0 } })
        let weights = unitOutput(unit(firstLayerOutput: unitFirstLayer(q, flatKeys, rows: rows), training: training, rng: &rng)).reshaped([b, l]) * mask
        let interest = weights.reshaped([b, 1, l]).bmm(keys).reshaped([b, keyWidth])
        return output(mlp(Tensor.concat([fields, interest], axis: 1), training: training, rng: &rng))
    }

    /// The activation unit's first layer, `[q, k, q − k, q ⊙ k] W + b` with `W = [W₁; W₂; W₃; W₄]`,
    /// as `q (W₁ + W₃) + b`, once per pair and repeated over its `L` keys, plus
    /// `k (W₂ − W₃) + (q ⊙ k) W₄` per key: the same function at half the per-key products.
    /// `q [B, K]`, `keys [B·L, K]`, `rows` the pair of each key -> `[B·L, sizes[0]]`.
    func unitFirstLayer(_ q: Tensor, _ keys: Tensor, rows: [Int32]) -> Tensor {
        let k = keyWidth, layer = unit.layers[0]
        let block = { (index: Int) in layer.weight.slice(axis: 0, index * k..<(index + 1) * k) }
        let perPair = q.linear(block(0) + block(2), layer.bias)  // [B, H]
        let repeated = q.gather(rows: rows)  // [B·L, K]
        return keys.matmul(block(1) - block(2)).addingGroupRows(perPair, groupSize: keys.shape[0] / max(1, q.shape[0])) + (repeated * keys).matmul(block(3))
    }
}
