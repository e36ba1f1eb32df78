import RecCore
import RecTensor

/// FiBiNET (Huang et al., RecSys 2019): a squeeze-excitation network re-weights the fields,
/// and bilinear interactions of field pairs, over both the original and the re-weighted
/// fields, feed an MLP.
///
/// Shapes: fields `E [B, F, D]`. SENET: `z = mean_D(E) [B, F]`,
/// `a = relu(relu(z W₁) W₂) [B, F]` (`W₁ [F, ⌈F/r⌉]`), `V = a ⊙ E [B, F, D]`. Bilinear, for the
/// F(F−1)/2 pairs i < j: `p_ij = (e_i W) ⊙ e_j` with one `W [D, D]` (`bilinear: all`) or one
/// per field `W_i` (`bilinear: each`), over E and over V (separate weights): `[B, F(F−1), D]`,
/// flattened into the MLP and one output unit; the logit adds the first-order term.
///
/// ```yaml
/// scorer: { type: fibinet, reduction_ratio: 3, bilinear: each }
/// ```
public enum FiBiNet: DeepCTRModel, BuildsCTRNetwork {
    public struct Configuration: DeepCTRConfigurable {
        public enum Bilinear: String, Codable, Sendable { case all, each }

        public var common = DeepCTRConfiguration()
        public var reductionRatio = 3
        public var bilinear = Bilinear.each

        enum CodingKeys: String, CodingKey, CaseIterable { case reductionRatio, bilinear }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            reductionRatio = try c.decode(.reductionRatio, default: 3, in: 1...1024)
            bilinear = try c.decode(.bilinear, default: .each)
            common = try DeepCTRConfiguration(from: decoder, readsBehaviour: false, kind: FiBiNet.kind)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(reductionRatio, forKey: .reductionRatio)
            try c.encode(bilinear, forKey: .bilinear)
            try common.encode(to: encoder)
        }
    }

    public static let kind = "fibinet"
    public static let summary = "FiBiNET: SENET field re-weighting and bilinear field interactions into an MLP (Huang et al., RecSys 2019)"

    static func network(_ configuration: Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) -> any CTRNetwork {
        FiBiNetNetwork(configuration, embedding: embedding, rng: &rng)
    }
}

final class FiBiNetNetwork: CTRNetwork {
    let bias = Tensor.zeros([1], requiresGrad: true)
    let squeeze: LinearLayer, excite: LinearLayer
    /// `[D, D]` (all) or `[F, D, D]` (each), for the original and the re-weighted fields.
    let bilinear: [Tensor]
    let pairs: [(Int, Int)]
    let mlp: MLP
    let output: LinearLayer

    init(_ configuration: FiBiNet.Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) {
        let (f, d) = (embedding.fieldCount, embedding.width)
        let reduced = max(1, (f + configuration.reductionRatio - 1) / configuration.reductionRatio)
        squeeze = LinearLayer(f, reduced, bias: false, rng: &rng)
        excite = LinearLayer(reduced, f, bias: false, rng: &rng)
        let shape = configuration.bilinear == .all ? [d, d] : [f, d, d]
        bilinear = (0..<2).map { _ in Initializer.normal(shape, std: (1 / Float(d)).squareRoot(), rng: &rng) }
        pairs = (0..<f).flatMap { i in ((i + 1)..<f).map { (i, $0) } }
        mlp = MLP(2 * pairs.count * d, configuration.common.mlp, dropout: configuration.common.dropout, rng: &rng)
        output = LinearLayer(mlp.outputWidth, 1, rng: &rng)
    }

    var parameters: [(String, Tensor)] {
        [("bias", bias)] + squeeze.parameters("squeeze") + excite.parameters("excite") + [("bilinear.0", bilinear[0]), ("bilinear.1", bilinear[1])]
            + mlp.parameters("mlp") + output.parameters("output")
    }

    /// `(e_i W) ⊙ e_j` for every pair: `[B, F, D]` -> `[B, P, D]`.
    private func interactions(_ fields: Tensor, _ weight: Tensor) -> Tensor {
        let transformed =
            weight.rank == 2
            ? fields.matmul(weight)
            : fields.permuted([1, 0, 2]).bmm(weight).permuted([1, 0, 2])  // field i through its own W_i
        return transformed.pairwiseProducts(fields, pairs: pairs)
    }

    func logits(_ batch: CTRBatch, training: Bool, rng: inout SplitMix64) -> Tensor {
        let z = batch.fields.mean(axes: [2])  // [B, F]
        let weights = excite(squeeze(z).relu()).relu()
        let reweighted = batch.fields.scalingFields(by: weights)
        let crossed = Tensor.concat([interactions(batch.fields, bilinear[0]), interactions(reweighted, bilinear[1])], axis: 1)
        let deep = output(mlp(crossed.reshaped([batch.size, -1]), training: training, rng: &rng))
        return (batch.firstOrder + deep).addingRowVector(bias)
    }
}
