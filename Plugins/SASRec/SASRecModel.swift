import RecCore
import RecTensor

/// The SASRec network: item and position embeddings, post-norm Transformer blocks with causal
/// self-attention and a GELU feed-forward layer, and dot-product scores against the item table.
/// Pure tensor math; `SASRec` wraps it as a plugin.
final class SASRecModel: @unchecked Sendable {
    struct Shape {
        var items: Int  // catalogue size; token 0 is padding, item i is token i + 1
        var hidden: Int
        var inner: Int
        var layers: Int
        var heads: Int
        var maxLength: Int
        var dropout: Float
        var attentionDropout: Float
        var layerNormEps: Float
    }

    let shape: Shape
    /// Every parameter by a stable name (the safetensors keys).
    private(set) var parameters: [String: Tensor] = [:]

    init(_ shape: Shape, initStd: Float, rng: inout SplitMix64) {
        self.shape = shape
        let h = shape.hidden
        func add(_ name: String, _ tensor: Tensor) { parameters[name] = tensor }
        let items = Initializer.normal([shape.items + 1, h], std: initStd, rng: &rng)
        for j in 0..<h { items.data[j] = 0 }  // the padding token's row
        add("item_embedding", items)
        add("position_embedding", Initializer.normal([shape.maxLength, h], std: initStd, rng: &rng))
        add("input_norm.weight", Initializer.constant([h], 1))
        add("input_norm.bias", Initializer.constant([h], 0))
        for layer in 0..<shape.layers {
            let p = "layers.\(layer)."
            for projection in ["query", "key", "value", "output"] {
                add(p + projection + ".weight", Initializer.normal([h, h], std: initStd, rng: &rng))
                add(p + projection + ".bias", Initializer.constant([h], 0))
            }
            add(p + "attention_norm.weight", Initializer.constant([h], 1))
            add(p + "attention_norm.bias", Initializer.constant([h], 0))
            add(p + "ffn_in.weight", Initializer.normal([h, shape.inner], std: initStd, rng: &rng))
            add(p + "ffn_in.bias", Initializer.constant([shape.inner], 0))
            add(p + "ffn_out.weight", Initializer.normal([shape.inner, h], std: initStd, rng: &rng))
            add(p + "ffn_out.bias", Initializer.constant([h], 0))
            add(p + "ffn_norm.weight", Initializer.constant([h], 1))
            add(p + "ffn_norm.bias", Initializer.constant([h], 0))
        }
    }

    /// Parameters in a fixed order (for the optimizer).
    var orderedParameters: [Tensor] { parameters.inNameOrder }

    func replace(with loaded: [String: Tensor]) throws { try parameters.copyValues(from: loaded, checkpoint: "SASRec checkpoint") }

    /// Leaf copies of the parameters that share their values but collect their own gradients,
    /// so that several threads can run forward and backward passes on one model at once.
    func replicas() -> [String: Tensor] {
        parameters.mapValues { Tensor(shape: $0.shape, data: $0.data, requiresGrad: true) }
    }

    /// Hidden states for token sequences `[B][L]` (right-padded with 0), computed with
    /// `weights` (the parameters themselves, or replicas of them).
    ///
    /// With `lastPositions`, the result is `[B, H]`: only each sequence's state at that position.
    /// The last block then computes attention queries, the feed-forward layer and the norms for
    /// those rows alone (keys and values still cover every position), which gives the same
    /// values as slicing the full output, for about a quarter less work. Without it, `[B, L, H]`.
    func encode(
        _ tokens: [[Int32]], lastPositions: [Int]? = nil, training: Bool, rng: inout SplitMix64,
        weights: [String: Tensor]? = nil
    ) -> Tensor {
        let w = weights ?? parameters
        func p(_ name: String) -> Tensor { w[name]! }
        let b = tokens.count, l = shape.maxLength, h = shape.hidden, heads = shape.heads
        let flat = tokens.flatMap { $0 }
        let positions = (0..<b).flatMap { _ in (0..<Int32(l)).map { $0 } }
        // The padding token's row gets no gradient from lookups (PyTorch's padding_idx).
        var x = (p("item_embedding").gather(rows: flat, skipping: 0) + p("position_embedding").gather(rows: positions)).reshaped([b, l, h])
        x = x.layerNorm(gamma: p("input_norm.weight"), beta: p("input_norm.bias"), eps: shape.layerNormEps)
        x = x.dropout(shape.dropout, training: training, rng: &rng)
        let padding = tokens.map { $0.map { $0 == 0 } }
        for layer in 0..<shape.layers {
            let pre = "layers.\(layer)."
            let trimmed = layer == shape.layers - 1 ? lastPositions : nil
            let queries =
                trimmed.map { rows in
                    // [B, L, H] -> [B·L, H] -> the chosen row of each sequence: [B, 1, H]
                    x.reshaped([-1, h]).gather(rows: rows.enumerated().map { Int32($0.offset * l + $0.element) }).reshaped([b, 1, h])
                } ?? x
            // Heads are strided views of [B, T, H]: no split or merge copies.
            let q = queries.linear(p(pre + "query.weight"), p(pre + "query.bias"))
            let k = x.linear(p(pre + "key.weight"), p(pre + "key.bias"))
            let v = x.linear(p(pre + "value.weight"), p(pre + "value.bias"))
            // A lone query at the last real position sees every real key: keys after it are padding.
            let merged = Tensor.attention(
                q: q, k: k, v: v, heads: heads, causal: trimmed == nil, keyPadding: padding,
                dropout: shape.attentionDropout, training: training, rng: &rng)
            let attended = merged.linear(p(pre + "output.weight"), p(pre + "output.bias")).dropout(shape.dropout, training: training, rng: &rng)
            x = (attended + queries).layerNorm(gamma: p(pre + "attention_norm.weight"), beta: p(pre + "attention_norm.bias"), eps: shape.layerNormEps)
            let inner = x.linear(p(pre + "ffn_in.weight"), p(pre + "ffn_in.bias")).gelu()
            let out = inner.linear(p(pre + "ffn_out.weight"), p(pre + "ffn_out.bias")).dropout(shape.dropout, training: training, rng: &rng)
            x = (out + x).layerNorm(gamma: p(pre + "ffn_norm.weight"), beta: p(pre + "ffn_norm.bias"), eps: shape.layerNormEps)
        }
        if let lastPositions {
            // [B, 1, H] -> [B, H]; with no blocks, pick the rows from the embeddings.
            return shape.layers > 0
                ? x.reshaped([b, h])
                : x.reshaped([-1, h]).gather(rows: lastPositions.enumerated().map { Int32($0.offset * l + $0.element) })
        }
        return x
    }

    /// The hidden state at each sequence's last real position: `[B, H]`.
    func lastHidden(_ tokens: [[Int32]], lengths: [Int], training: Bool, rng: inout SplitMix64, weights: [String: Tensor]? = nil) -> Tensor {
        encode(tokens, lastPositions: lengths.map { $0 - 1 }, training: training, rng: &rng, weights: weights)
    }

    /// Right-padded token sequence of the last `maxLength` items, and its length.
    func tokens(for items: ArraySlice<Int32>) -> ([Int32], Int) {
        let recent = items.suffix(shape.maxLength)
        var sequence = recent.map { $0 + 1 }
        let length = sequence.count
        sequence += [Int32](repeating: 0, count: shape.maxLength - length)
        return (sequence, length)
    }
}
