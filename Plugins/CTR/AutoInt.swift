import RecCore
import RecTensor

/// AutoInt (Song et al., CIKM 2019): multi-head self-attention over the fields learns which
/// fields interact, with a residual connection, beside an MLP and a linear part.
///
/// Shapes: fields `[B, F, D]` -> `[B, F, A]` (a linear map to the attention size); `layers`
/// rounds of multi-head self-attention over the F fields (`heads` heads, input and output
/// projections, scaled dot products); plus the residual `fields · W_res [B, F, A]`; ReLU;
/// flattened `[B, F·A]` to one unit. The logit adds the MLP over the fields and the first-order
/// term (as RecBole 1.2.1's AutoInt).
///
/// ```yaml
/// scorer: { type: autoint, attention_size: 16, heads: 2, layers: 3 }
/// ```
public enum AutoInt: DeepCTRModel, BuildsCTRNetwork {
    public struct Configuration: DeepCTRConfigurable {
        public var common = DeepCTRConfiguration()
        public var attentionSize = 16
        public var heads = 2
        public var layers = 3

        enum CodingKeys: String, CodingKey, CaseIterable { case attentionSize, heads, layers }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            attentionSize = try c.decode(.attentionSize, default: 16, in: 1...4096)
            heads = try c.decode(.heads, default: 2, in: 1...64)
            layers = try c.decode(.layers, default: 3, in: 1...16)
            guard attentionSize % heads == 0 else {
                throw DecodingError.dataCorruptedError(forKey: .heads, in: c, debugDescription: "attention_size \(attentionSize) is not divisible by \(heads) heads")
            }
            common = try DeepCTRConfiguration(from: decoder, readsBehaviour: false, kind: AutoInt.kind)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(attentionSize, forKey: .attentionSize)
            try c.encode(heads, forKey: .heads)
            try c.encode(layers, forKey: .layers)
            try common.encode(to: encoder)
        }
    }

    public static let kind = "autoint"
    public static let summary = "AutoInt: multi-head self-attention over fields with residuals, an MLP and a linear part (Song et al., CIKM 2019)"

    static func network(_ configuration: Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) -> any CTRNetwork {
        AutoIntNetwork(configuration, embedding: embedding, rng: &rng)
    }
}

final class AutoIntNetwork: CTRNetwork {
    let bias = Tensor.zeros([1], requiresGrad: true)
    let heads: Int
    let project: LinearLayer, residual: LinearLayer
    /// Per layer: the query, key and value projections, and the output projection.
    let attention: [(query: LinearLayer, key: LinearLayer, value: LinearLayer, output: LinearLayer)]
    let attentionOutput: LinearLayer
    let mlp: MLP
    let output: LinearLayer

    init(_ configuration: AutoInt.Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) {
        let a = configuration.attentionSize, fields = embedding.fieldCount
        heads = configuration.heads
        project = LinearLayer(embedding.width, a, rng: &rng)
        attention = (0..<configuration.layers).map { _ in
            (LinearLayer(a, a, rng: &rng), LinearLayer(a, a, rng: &rng), LinearLayer(a, a, rng: &rng), LinearLayer(a, a, rng: &rng))
        }
        residual = LinearLayer(embedding.width, a, rng: &rng)
        attentionOutput = LinearLayer(fields * a, 1, rng: &rng)
        mlp = MLP(fields * embedding.width, configuration.common.mlp, dropout: configuration.common.dropout, rng: &rng)
        output = LinearLayer(mlp.outputWidth, 1, rng: &rng)
    }

    var parameters: [(String, Tensor)] {
        var list = [("bias", bias)] + project.parameters("project") + residual.parameters("residual")
        for (index, layer) in attention.enumerated() {
            list += layer.query.parameters("attention.\(index).query") + layer.key.parameters("attention.\(index).key")
            list += layer.value.parameters("attention.\(index).value") + layer.output.parameters("attention.\(index).output")
        }
        return list + attentionOutput.parameters("attention_output") + mlp.parameters("mlp") + output.parameters("output")
    }

    func logits(_ batch: CTRBatch, training: Bool, rng: inout SplitMix64) -> Tensor {
        var x = project(batch.fields)  // [B, F, A]
        for layer in attention {
            x = layer.output(Tensor.fieldAttention(q: layer.query(x), k: layer.key(x), v: layer.value(x), heads: heads))
        }
        let crossed = (x + residual(batch.fields)).relu().reshaped([batch.size, -1])
        let deep = output(mlp(batch.fields.reshaped([batch.size, -1]), training: training, rng: &rng))
        return (batch.firstOrder + attentionOutput(crossed) + deep).addingRowVector(bias)
    }
}
