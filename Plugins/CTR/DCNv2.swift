import RecCore
import RecTensor

/// DCN-V2 (Wang et al., WWW 2021): a cross network of explicit bounded-degree interactions,
/// stacked under an MLP.
///
/// Shapes: `x₀ = flatten(fields) [B, F·D]`; each cross layer
/// `x_{l+1} = x₀ ⊙ (x_l W_l + b_l) + x_l` with `W_l [F·D, F·D]` (full rank) or
/// `W_l = V_l U_l`, `V_l [F·D, r]`, `U_l [r, F·D]` (low rank, `low_rank: r`); then the MLP
/// `[B, F·D] -> [B, 200] -> [B, 80]` and one output unit (RecBole's stacked structure, one
/// expert).
///
/// ```yaml
/// scorer: { type: dcnv2, cross_layers: 3, low_rank: 0 }
/// ```
public enum DCNv2: DeepCTRModel, BuildsCTRNetwork {
    public struct Configuration: DeepCTRConfigurable {
        public var common = DeepCTRConfiguration()
        public var crossLayers = 3
        /// Rank of each cross layer's weight; 0 means full rank.
        public var lowRank = 0

        enum CodingKeys: String, CodingKey, CaseIterable { case crossLayers, lowRank }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            crossLayers = try c.decode(.crossLayers, default: 3, in: 0...16)
            lowRank = try c.decode(.lowRank, default: 0, in: 0...4096)
            common = try DeepCTRConfiguration(from: decoder, readsBehaviour: false, kind: DCNv2.kind)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(crossLayers, forKey: .crossLayers)
            try c.encode(lowRank, forKey: .lowRank)
            try common.encode(to: encoder)
        }
    }

    public static let kind = "dcnv2"
    public static let summary = "DCN-V2: full- or low-rank cross layers stacked under an MLP (Wang et al., WWW 2021)"

    static func network(_ configuration: Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) -> any CTRNetwork {
        DCNv2Network(configuration, embedding: embedding, rng: &rng)
    }
}

final class DCNv2Network: CTRNetwork {
    /// Per layer: `W` (full rank) or `V`, `U` (low rank), and the bias.
    let cross: [(weights: [Tensor], bias: Tensor)]
    let mlp: MLP
    let output: LinearLayer

    init(_ configuration: DCNv2.Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) {
        let width = embedding.fieldCount * embedding.width, rank = configuration.lowRank
        cross = (0..<configuration.crossLayers).map { _ in
            let weights =
                rank == 0
                ? [Initializer.normal([width, width], std: (1 / Float(width)).squareRoot(), rng: &rng)]
                : [
                    Initializer.normal([width, rank], std: (2 / Float(width + rank)).squareRoot(), rng: &rng),
                    Initializer.normal([rank, width], std: (2 / Float(width + rank)).squareRoot(), rng: &rng),
                ]
            return (weights, Tensor.zeros([width], requiresGrad: true))
        }
        mlp = MLP(width, configuration.common.mlp, dropout: configuration.common.dropout, rng: &rng)
        output = LinearLayer(mlp.outputWidth, 1, rng: &rng)
    }

    var parameters: [(String, Tensor)] {
        cross.enumerated().flatMap { index, layer in
            layer.weights.enumerated().map { ("cross.\(index).w\($0)", $1) } + [("cross.\(index).bias", layer.bias)]
        } + mlp.parameters("mlp") + output.parameters("output")
    }

    func logits(_ batch: CTRBatch, training: Bool, rng: inout SplitMix64) -> Tensor {
        let x0 = batch.fields.reshaped([batch.size, -1])
        var x = x0
        for (weights, bias) in cross {
            var projected = x
            for weight in weights { projected = projected.matmul(weight) }
            x = x0 * projected.addingRowVector(bias) + x
        }
        return output(mlp(x, training: training, rng: &rng))
    }
}
