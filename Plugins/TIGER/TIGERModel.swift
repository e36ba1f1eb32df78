import Foundation
import RecCore
import RecTensor

/// TIGER's sequence-to-sequence Transformer: a bidirectional encoder over the user token and
/// the history's semantic IDs, and a causal decoder that writes the next item's ID, attending to
/// the encoder's output. Pre-norm blocks (LayerNorm before each sub-layer, as T5), ReLU
/// feed-forward layers, learned absolute positions, token embeddings shared by both sides and a
/// separate output projection. Pure tensor math; `TIGER` wraps it as a plugin.
///
/// Shapes, for `B` sequences, `d` = `dModel`, `A` = heads × headWidth, vocabulary `V`:
/// - encoder: tokens `[B, Le]` -> `[B, Le, d]`; self-attention q, k, v `[d, A]`, out `[A, d]`;
/// - decoder: tokens `[B, Ld]` and memory `[B, Le, d]` -> logits `[B, Ld, V]`; causal
///   self-attention, then cross-attention (queries from the decoder, keys and values from the
///   memory), each `[d, A]` / `[A, d]`;
/// - feed-forward `[d, ff] -> [ff, d]` in every block.
final class TIGERModel: @unchecked Sendable {
    struct Shape: Equatable {
        var vocabulary: Int
        var dModel = 128
        var heads = 6
        var headWidth = 64
        var feedForward = 1024
        var encoderLayers = 4
        var decoderLayers = 4
        var encoderLength: Int
        var decoderLength: Int
        var dropout: Float = 0.1
    }

    let shape: Shape
    /// Every parameter by a stable name (the checkpoint's keys).
    private(set) var parameters: [String: Tensor] = [:]

    init(_ shape: Shape, rng: inout SplitMix64) {
        self.shape = shape
        let d = shape.dModel, a = shape.heads * shape.headWidth
        func add(_ name: String, _ tensor: Tensor) { parameters[name] = tensor }
        func linear(_ name: String, _ inputs: Int, _ outputs: Int) {
            add(name + ".weight", Initializer.normal([inputs, outputs], std: (2 / Float(inputs + outputs)).squareRoot(), rng: &rng))
            add(name + ".bias", Tensor.zeros([outputs], requiresGrad: true))
        }
        func norm(_ name: String) {
            add(name + ".weight", Initializer.constant([d], 1))
            add(name + ".bias", Initializer.constant([d], 0))
        }
        add("embedding", Initializer.normal([shape.vocabulary, d], std: 0.02, rng: &rng))
        add("encoder.position", Initializer.normal([shape.encoderLength, d], std: 0.02, rng: &rng))
        add("decoder.position", Initializer.normal([shape.decoderLength, d], std: 0.02, rng: &rng))
        for (side, layers) in [("encoder", shape.encoderLayers), ("decoder", shape.decoderLayers)] {
            for layer in 0..<layers {
                let p = "\(side).\(layer)."
                let attentions = side == "encoder" ? ["self"] : ["self", "cross"]
                for attention in attentions {
                    norm(p + attention + ".norm")
                    for projection in ["query", "key", "value"] { linear(p + attention + "." + projection, d, a) }
                    linear(p + attention + ".output", a, d)
                }
                norm(p + "ffn.norm")
                linear(p + "ffn.in", d, shape.feedForward)
                linear(p + "ffn.out", shape.feedForward, d)
            }
            norm(side + ".final_norm")
        }
        linear("output", d, shape.vocabulary)
    }

    /// Parameters in a fixed order (for the optimiser and the checkpoint).
    var orderedParameters: [Tensor] { parameters.inNameOrder }

    func replace(with loaded: [String: Tensor]) throws { try parameters.copyValues(from: loaded, checkpoint: "TIGER checkpoint") }

    private func p(_ name: String) -> Tensor { parameters[name]! }

    /// Token embeddings plus positions, `[B, L, d]`, with dropout.
    private func embed(_ tokens: [[Int32]], positions: String, training: Bool, rng: inout SplitMix64) -> Tensor {
        let b = tokens.count, l = tokens[0].count, d = shape.dModel
        let words = p("embedding").gather(rows: tokens.flatMap { $0 }).reshaped([b, l, d])
        let places = p(positions).slice(axis: 0, 0..<l)
        return (words + places).dropout(shape.dropout, training: training, rng: &rng)
    }

    /// One attention sub-layer: `x + out(attention(norm(x) q, source k, source v))`, where the
    /// source is `norm(x)` itself (self-attention) or the encoder's memory (cross-attention).
    private func attend(
        _ x: Tensor, _ prefix: String, memory: Tensor?, causal: Bool, keyPadding: [[Bool]]?, training: Bool, rng: inout SplitMix64
    ) -> Tensor {
        let normed = x.layerNorm(gamma: p(prefix + ".norm.weight"), beta: p(prefix + ".norm.bias"), eps: 1e-6)
        let source = memory ?? normed
        func project(_ input: Tensor, _ name: String) -> Tensor { input.linear(p(prefix + "." + name + ".weight"), p(prefix + "." + name + ".bias")) }
        let attended = Tensor.attention(
            q: project(normed, "query"), k: project(source, "key"), v: project(source, "value"), heads: shape.heads, causal: causal, keyPadding: keyPadding,
            dropout: shape.dropout, training: training, rng: &rng)
        return x + project(attended, "output").dropout(shape.dropout, training: training, rng: &rng)
    }

    private func feedForward(_ x: Tensor, _ prefix: String, training: Bool, rng: inout SplitMix64) -> Tensor {
        let normed = x.layerNorm(gamma: p(prefix + ".norm.weight"), beta: p(prefix + ".norm.bias"), eps: 1e-6)
        let inner = normed.linearReLU(p(prefix + ".in.weight"), p(prefix + ".in.bias")).dropout(shape.dropout, training: training, rng: &rng)
        return x + inner.linear(p(prefix + ".out.weight"), p(prefix + ".out.bias")).dropout(shape.dropout, training: training, rng: &rng)
    }

    /// The encoder's memory `[B, Le, d]` for token rows of equal length (0 pads; padded keys
    /// are not attended).
    func encode(_ tokens: [[Int32]], training: Bool, rng: inout SplitMix64) -> Tensor {
        let padding = tokens.map { $0.map { $0 == 0 } }
        var x = embed(tokens, positions: "encoder.position", training: training, rng: &rng)
        for layer in 0..<shape.encoderLayers {
            x = attend(x, "encoder.\(layer).self", memory: nil, causal: false, keyPadding: padding, training: training, rng: &rng)
            x = feedForward(x, "encoder.\(layer).ffn", training: training, rng: &rng)
        }
        return x.layerNorm(gamma: p("encoder.final_norm.weight"), beta: p("encoder.final_norm.bias"), eps: 1e-6)
    }

    /// Logits `[B, Ld, V]` of the next token at every decoder position, for decoder token rows
    /// of equal length and the memory of the encoder rows they belong to.
    func decode(_ tokens: [[Int32]], memory: Tensor, memoryPadding: [[Bool]], training: Bool, rng: inout SplitMix64) -> Tensor {
        var y = embed(tokens, positions: "decoder.position", training: training, rng: &rng)
        for layer in 0..<shape.decoderLayers {
            y = attend(y, "decoder.\(layer).self", memory: nil, causal: true, keyPadding: nil, training: training, rng: &rng)
            y = attend(y, "decoder.\(layer).cross", memory: memory, causal: false, keyPadding: memoryPadding, training: training, rng: &rng)
            y = feedForward(y, "decoder.\(layer).ffn", training: training, rng: &rng)
        }
        let normed = y.layerNorm(gamma: p("decoder.final_norm.weight"), beta: p("decoder.final_norm.bias"), eps: 1e-6)
        return normed.linear(p("output.weight"), p("output.bias"))
    }
}
