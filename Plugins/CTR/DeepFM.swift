import RecCore
import RecTensor

/// DeepFM (Guo et al., IJCAI 2017): a factorization machine and an MLP over the same field
/// embeddings, their logits summed.
///
/// Shapes: fields `[B, F, D]`; `logit = bias + Σ_f w_f + FM(fields) + mlp(flatten(fields)) · w`,
/// the FM term `[B, 1]`, the MLP `[B, F·D] -> [B, 200] -> [B, 80] -> [B, 1]`. As RecBole 1.2.1's
/// DeepFM.
///
/// ```yaml
/// scorer: { type: deepfm, fields: [user_id, item_id, genres, gender, age, occupation] }
/// ```
public enum DeepFM: DeepCTRModel, BuildsCTRNetwork {
    public struct Configuration: DeepCTRConfigurable {
        public var common = DeepCTRConfiguration()

        public init() {}
        public init(from decoder: any Decoder) throws { common = try DeepCTRConfiguration(from: decoder, readsBehaviour: false, kind: DeepFM.kind) }
        public func encode(to encoder: any Encoder) throws { try common.encode(to: encoder) }
    }

    public static let kind = "deepfm"
    public static let summary = "DeepFM: FM and an MLP over shared field embeddings (Guo et al., IJCAI 2017)"

    static func network(_ configuration: Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) -> any CTRNetwork {
        DeepFMNetwork(configuration.common, embedding: embedding, rng: &rng)
    }
}

final class DeepFMNetwork: CTRNetwork {
    let bias = Tensor.zeros([1], requiresGrad: true)
    let mlp: MLP
    let output: LinearLayer

    init(_ common: DeepCTRConfiguration, embedding: FieldEmbedding, rng: inout SplitMix64) {
        mlp = MLP(embedding.fieldCount * embedding.width, common.mlp, dropout: common.dropout, rng: &rng)
        output = LinearLayer(mlp.outputWidth, 1, rng: &rng)
    }

    var parameters: [(String, Tensor)] { [("bias", bias)] + mlp.parameters("mlp") + output.parameters("output") }

    func logits(_ batch: CTRBatch, training: Bool, rng: inout SplitMix64) -> Tensor {
        let flat = batch.fields.reshaped([batch.size, -1])
        return (batch.firstOrder + batch.fields.fmInteraction() + output(mlp(flat, training: training, rng: &rng))).addingRowVector(bias)
    }
}
