import RecCore
import RecTensor

/// xDeepFM (Lian et al., KDD 2018): a Compressed Interaction Network (CIN) learns explicit
/// vector-wise interactions of bounded degree beside an MLP and a linear part.
///
/// CIN, width-major: `X⁰ [B, D, F]`; layer k forms `Z = X^{k-1} ⊗ X⁰` `[B, D, H_{k-1}·F]`
/// (`fieldOuterProduct`), then `X^k = relu(Z W_k + b_k)` `[B, D, H_k]` (the paper's 1×1
/// convolution as one matrix product). Unless `direct`, every layer but the last passes half
/// of its maps on and sends half to the output, as RecBole's xDeepFM. The output is the sum
/// over D of every sent map `[B, ΣH]`, then a linear unit; the logit adds the MLP and the
/// first-order term.
///
/// ```yaml
/// scorer: { type: xdeepfm, cin: [100, 100, 100] }
/// ```
public enum XDeepFM: DeepCTRModel, BuildsCTRNetwork {
    public struct Configuration: DeepCTRConfigurable {
        public var common = DeepCTRConfiguration()
        /// Feature maps per CIN layer (even, except the last, unless `direct`).
        public var cin = [100, 100, 100]
        /// Every layer's maps go both to the next layer and to the output.
        public var direct = false

        enum CodingKeys: String, CodingKey, CaseIterable { case cin, direct }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            cin = try c.decode(.cin, default: [100, 100, 100])
            direct = try c.decode(.direct, default: false)
            guard !cin.isEmpty, cin.count <= 8, cin.allSatisfy({ (1...4096).contains($0) }) else {
                throw DecodingError.dataCorruptedError(forKey: .cin, in: c, debugDescription: "CIN needs 1 to 8 layers of 1...4096 maps; got \(cin)")
            }
            if !direct, let odd = cin.dropLast().first(where: { $0 % 2 != 0 }) {
                throw DecodingError.dataCorruptedError(
                    forKey: .cin, in: c, debugDescription: "layer size \(odd) is odd; every CIN layer but the last splits its maps in half unless direct: true")
            }
            common = try DeepCTRConfiguration(from: decoder, readsBehaviour: false, kind: XDeepFM.kind)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(cin, forKey: .cin)
            try c.encode(direct, forKey: .direct)
            try common.encode(to: encoder)
        }
    }

    public static let kind = "xdeepfm"
    public static let summary = "xDeepFM: a compressed interaction network, an MLP and a linear part (Lian et al., KDD 2018)"

    static func network(_ configuration: Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) -> any CTRNetwork {
        XDeepFMNetwork(configuration, embedding: embedding, rng: &rng)
    }
}

final class XDeepFMNetwork: CTRNetwork {
    let bias = Tensor.zeros([1], requiresGrad: true)
    let layers: [LinearLayer]
    let sizes: [Int]
    let direct: Bool
    let cinOutput: LinearLayer
    let mlp: MLP
    let output: LinearLayer

    init(_ configuration: XDeepFM.Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) {
        let fields = embedding.fieldCount
        sizes = configuration.cin
        direct = configuration.direct
        var maps = fields, sent = 0
        var layers: [LinearLayer] = []
        for (index, size) in sizes.enumerated() {
            layers.append(LinearLayer(maps * fields, size, rng: &rng))
            let last = index == sizes.count - 1
            maps = direct ? size : size / 2
            sent += direct || last ? size : size / 2
        }
        self.layers = layers
        cinOutput = LinearLayer(sent, 1, rng: &rng)
        mlp = MLP(fields * embedding.width, configuration.common.mlp, dropout: configuration.common.dropout, rng: &rng)
        output = LinearLayer(mlp.outputWidth, 1, rng: &rng)
    }

    var parameters: [(String, Tensor)] {
        [("bias", bias)] + layers.enumerated().flatMap { $1.parameters("cin.\($0)") } + cinOutput.parameters("cin_output") + mlp.parameters("mlp")
            + output.parameters("output")
    }

    func logits(_ batch: CTRBatch, training: Bool, rng: inout SplitMix64) -> Tensor {
        let x0 = batch.fields.permuted([0, 2, 1])  // [B, D, F]
        var hidden = x0
        var sent: [Tensor] = []
        for (index, layer) in layers.enumerated() {
            let maps = layer(hidden.fieldOuterProduct(x0)).relu()  // [B, D, H_k]
            let size = sizes[index]
            if direct || index == layers.count - 1 {
                sent.append(maps)
                hidden = maps
            } else {
                hidden = maps.slice(axis: 2, 0..<(size / 2))
                sent.append(maps.slice(axis: 2, (size / 2)..<size))
            }
        }
        // Sum pooling over D as one batched product: [B, 1, D] x [B, D, ΣH].
        let maps = Tensor.concat(sent, axis: 2)
        let ones = Tensor(shape: [batch.size, 1, maps.shape[1]], data: [Float](repeating: 1, count: batch.size * maps.shape[1]))
        let pooled = ones.bmm(maps).reshaped([batch.size, -1])  // [B, ΣH]
        let deep = output(mlp(batch.fields.reshaped([batch.size, -1]), training: training, rng: &rng))
        return (batch.firstOrder + cinOutput(pooled) + deep).addingRowVector(bias)
    }
}
