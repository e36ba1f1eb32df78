import COpenBLAS
import Foundation
import RecCore
import RecQuant
import RecTensor

/// A decoder read from GGUF: `general.architecture` `llama` (RMSNorm, rotary position
/// embeddings with the file's base, Llama 3.1's frequency factors and linear scaling where
/// given, grouped-query attention, SwiGLU feed-forward layers and a tied or separate output
/// head), `qwen2` and `qwen3` (the same with NeoX rope, and query/key/value biases or per-head
/// query and key norms), or `gemma3` (Gemma's scaled embedding, per-head query and key norms,
/// NeoX rope, post-attention and post-feed-forward norms, GeGLU and interleaved sliding-window
/// layers; see `Configuration.Architecture`), in one of two numerics:
///
/// - `exact` (the default) follows the arithmetic of llama.cpp's CPU backend, so its
///   log-probabilities and greedy continuations can be checked against llama.cpp's (within
///   0.001 nats of the committed SmolLM2 and Gemma 3 fixtures; llama.cpp's own output varies
///   between machines, while this engine's summation orders are fixed, so its output does
///   not): block-quantised weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K) stay
///   quantised and multiply 8-bit-quantised activations with ggml's generic kernels'
///   arithmetic (RecQuant; llama.cpp swaps some of these for repacked or tiled kernels on some
///   CPUs); F16 weights multiply activations rounded to Float16 in ggml's orders
///   (`vec_dot_f16` for one token, tinyBLAS for batches; `HalfMatrix`); BF16 weights are
///   widened to Float32 and multiply activations rounded as ggml rounds them, which is close to
///   ggml but not equal; keys, values, queries and attention weights are rounded through
///   Float16 as in llama.cpp's default F16 cache; attention sums follow tinyBLAS's order for
///   batches and `vec_dot_f16`'s for one token, as llama.cpp does; exp, softmax, SwiGLU,
///   GeGLU, rope and RMS norm follow ggml's order of operations.
/// - `fast` also widens every weight to Float32 once and runs batches of tokens (prompts,
///   scored continuations) through `cblas_sgemm`: faster on long prompts, about twice the
///   memory, close to llama.cpp but not identical (its 8-bit activations are not emulated).
///   One-token steps (generation) keep the quantised weights, which stream 4x fewer bytes.
///
/// Either way, a prompt scored in one batch gives the log-probabilities the same tokens get
/// when generated one by one, up to the order of the attention sums.
public final class LlamaModel: @unchecked Sendable {
    public enum Numerics: String, Sendable, CaseIterable { case exact, fast }

    public struct Configuration: Sendable, Equatable {
        /// `general.architecture`: what the blocks hold and how they run.
        public enum Architecture: String, Sendable, CaseIterable {
            /// RMSNorm, SwiGLU, adjacent-pair rope, softmax scaled by 1/√headDim.
            case llama
            /// Gemma 3: the embedding scaled by √hidden; RMSNorm on each head's query and key;
            /// rope on the halves of each head (NeoX); queries scaled by `attentionScale`;
            /// norms after attention and after the feed-forward layer too; GeGLU; all but every
            /// `slidingPattern`-th layer attend to the last `slidingWindow` positions, with rope
            /// base `ropeBaseLocal`.
            case gemma3
            /// Qwen2 and Qwen2.5: llama with NeoX rope (and the biases on the query, key and
            /// value projections that their files carry).
            case qwen2
            /// Qwen3: llama with RMSNorm on each head's query and key, NeoX rope, and heads
            /// whose size need not be hidden / heads.
            case qwen3

            /// Whether rope turns value i with value i + headDim/2 (NeoX) rather than adjacent
            /// pairs.
            var neoxRope: Bool { self != .llama }
        }
        public var architecture: Architecture
        public var layers: Int, hidden: Int, heads: Int, kvHeads: Int, feedForward: Int
        public var contextLength: Int, ropeBase: Float, normEps: Float, vocabulary: Int
        /// Values per attention head (Gemma's need not be hidden / heads).
        public var headDim: Int
        public var slidingWindow: Int?, slidingPattern: Int, ropeBaseLocal: Float
        /// What queries are multiplied by before their products with the keys.
        public var attentionScale: Float
        /// `c · tanh(logits / c)` when set.
        public var finalLogitSoftcap: Float?
        /// What positions are multiplied by before rotation (1 / the linear scaling factor; not
        /// on sliding-window layers).
        public var ropeFrequencyScale: Float
        public var queryDim: Int { heads * headDim }
        public var kvDim: Int { kvHeads * headDim }

        public init(
            architecture: Architecture = .llama, layers: Int, hidden: Int, heads: Int, kvHeads: Int, feedForward: Int, contextLength: Int, ropeBase: Float,
            normEps: Float, vocabulary: Int, headDim: Int? = nil, slidingWindow: Int? = nil, slidingPattern: Int = 6, ropeBaseLocal: Float = 10_000,
            attentionScale: Float? = nil, finalLogitSoftcap: Float? = nil, ropeFrequencyScale: Float = 1
        ) {
            self.architecture = architecture
            (self.layers, self.hidden, self.heads, self.kvHeads, self.feedForward) = (layers, hidden, heads, kvHeads, feedForward)
            (self.contextLength, self.ropeBase, self.normEps, self.vocabulary) = (contextLength, ropeBase, normEps, vocabulary)
            let headDim = headDim ?? hidden / heads
            self.headDim = headDim
            (self.slidingWindow, self.slidingPattern, self.ropeBaseLocal) = (slidingWindow, slidingPattern, ropeBaseLocal)
            self.attentionScale = attentionScale ?? 1 / Float(headDim).squareRoot()
            self.finalLogitSoftcap = finalLogitSoftcap
            self.ropeFrequencyScale = ropeFrequencyScale
        }

        /// Whether layer `index` attends to the last `slidingWindow` positions only.
        public func isSliding(_ index: Int) -> Bool { slidingWindow != nil && index % slidingPattern < slidingPattern - 1 }
    }

    /// How attention products are summed: as llama.cpp's batched (tinyBLAS) or one-token
    /// (`vec_dot_f16`) paths do, or by `cblas_sgemm`.
    enum AttentionOrder { case tinyBLAS, vecDot, blas }

    struct Layer {
        var attentionNorm: [Float], ffnNorm: [Float]
        /// Query, key and value stacked (`[queryDim + 2 kvDim, hidden]`); gate and up stacked.
        var qkv: Projection, output: Projection, gateUp: Projection, down: Projection
        /// Gemma 3: RMSNorm weights of each head's query and key (`[headDim]`), and of the
        /// attention's and the feed-forward layer's outputs (`[hidden]`).
        var queryNorm: [Float]? = nil, keyNorm: [Float]? = nil
        /// Biases added to the stacked query, key and value (`[queryDim + 2 kvDim]`; Qwen2).
        var qkvBias: [Float]? = nil
        var postAttentionNorm: [Float]? = nil, postFeedForwardNorm: [Float]? = nil
    }

    public let configuration: Configuration
    public let numerics: Numerics
    public let tokenizer: BPETokenizer
    public let file: GGUFFile
    let embedding: Projection
    /// The output head `[vocabulary, hidden]` (the embedding itself when tied).
    let outputHead: Projection
    let outputNorm: [Float]
    let layers: [Layer]
    /// cos and sin of every (position, pair) up to the context length.
    let ropeCos: [Float], ropeSin: [Float]
    /// The same at the sliding-window layers' base (Gemma 3; empty otherwise).
    let localRopeCos: [Float], localRopeSin: [Float]
    /// A LoRA adapter added to the projections at run time, if one was given.
    let adapter: LoRADeltas?
    /// SHA-256 of the GGUF file's bytes.
    public let weightsHash: String
    /// Held by whoever runs the engine: passes share its worker threads.
    public let lock = NSLock()
    /// SHA-256 of the adapter file (nil without one).
    public var adapterFingerprint: String? { adapter?.fingerprint }

    public init(path: String, numerics: Numerics = .exact, adapter adapterPath: String? = nil) throws {
        if numerics == .exact && !BlockQuantizedMatrix.supported {
            throw RecError(.usage, "exact numerics need a CPU with AVX2, FMA and F16C; use numerics 'fast'")
        }
        // The checksum first: a damaged file says so rather than failing somewhere inside.
        weightsHash = try ContentHash.verify(path)
        let file = try GGUFFile(path: path)
        self.file = file
        self.numerics = numerics
        let config = try Configuration(gguf: file, numerics: numerics)
        tokenizer = try BPETokenizer(gguf: file)
        var c = config
        c.vocabulary = tokenizer.vocabularySize
        configuration = c
        let (h, qd, kv, f, v) = (c.hidden, c.queryDim, c.kvDim, c.feedForward, c.vocabulary)
        embedding = try Projection(file, ["token_embd.weight"], in: h, out: [v], numerics: numerics)
        outputHead = file.tensors["output.weight"] == nil ? embedding : try Projection(file, ["output.weight"], in: h, out: [v], numerics: numerics)
        outputNorm = try file.floats("output_norm.weight", dimensions: [h])
        // llama.cpp adds an output bias where a file has one; RecLab has no such term.
        guard file.tensors["output.bias"] == nil else { throw RecError(.data, "\(file.path): tensor 'output.bias' (a bias on the output head) is not supported") }
        layers = try (0..<c.layers).map { i in
            let p = "blk.\(i)."
            var layer = Layer(
                attentionNorm: try file.floats(p + "attn_norm.weight", dimensions: [h]),
                ffnNorm: try file.floats(p + "ffn_norm.weight", dimensions: [h]),
                qkv: try Projection(file, [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"], in: h, out: [qd, kv, kv], numerics: numerics),
                output: try Projection(file, [p + "attn_output.weight"], in: qd, out: [h], numerics: numerics),
                gateUp: try Projection(file, [p + "ffn_gate.weight", p + "ffn_up.weight"], in: h, out: [f, f], numerics: numerics),
                down: try Projection(file, [p + "ffn_down.weight"], in: f, out: [h], numerics: numerics))
            if c.architecture == .gemma3 || c.architecture == .qwen3 {
                layer.queryNorm = try file.floats(p + "attn_q_norm.weight", dimensions: [c.headDim])
                layer.keyNorm = try file.floats(p + "attn_k_norm.weight", dimensions: [c.headDim])
            }
            // Biases where the file has them (Qwen2's query, key and value), as llama.cpp
            // loads them for every architecture; a missing one adds nothing.
            let biases = [("attn_q.bias", qd), ("attn_k.bias", kv), ("attn_v.bias", kv)]
            if biases.contains(where: { file.tensors[p + $0.0] != nil }) {
                layer.qkvBias = try biases.flatMap { name, n in
                    file.tensors[p + name] == nil ? [Float](repeating: 0, count: n) : try file.floats(p + name, dimensions: [n])
                }
            }
            if c.architecture == .gemma3 {
                layer.postAttentionNorm = try file.floats(p + "post_attention_norm.weight", dimensions: [h])
                layer.postFeedForwardNorm = try file.floats(p + "post_ffw_norm.weight", dimensions: [h])
            }
            return layer
        }
        // Llama 3.1 and later divide each pair's frequency by a factor (`rope_freqs`).
        let factors = c.architecture == .llama && file.tensors["rope_freqs.weight"] != nil ? try file.floats("rope_freqs.weight", dimensions: [c.headDim / 2]) : nil
        (ropeCos, ropeSin) = Self.rotaryTables(c, base: c.ropeBase, scale: c.ropeFrequencyScale, factors: factors)
        // llama.cpp leaves the sliding-window layers' positions unscaled.
        (localRopeCos, localRopeSin) = c.slidingWindow == nil ? ([], []) : Self.rotaryTables(c, base: c.ropeBaseLocal, scale: 1, factors: nil)
        adapter = try adapterPath.map { try LoRADeltas(path: $0, configuration: c) }
    }

    /// Rotary tables as ggml builds them: cos and sin of every (position, pair) up to the
    /// context length, pair i turning by scale · (position · θ^i / factor_i) with
    /// θ = base^(-2/d), the power taken by repeated Float32 multiplication.
    static func rotaryTables(_ c: Configuration, base: Float, scale: Float, factors: [Float]?) -> (cos: [Float], sin: [Float]) {
        let half = c.headDim / 2, positions = c.contextLength
        let thetaScale = Foundation.pow(base, -2 / Float(c.headDim))
        var cos = [Float](repeating: 0, count: positions * half), sin = cos
        for position in 0..<positions {
            var theta = Float(position)
            for i in 0..<half {
                let angle = scale * (theta / (factors?[i] ?? 1))
                cos[position * half + i] = Foundation.cos(angle)
                sin[position * half + i] = Foundation.sin(angle)
                theta *= thetaScale
            }
        }
        return (cos, sin)
    }

    /// `projection` over `rows` rows of `x`, plus the adapter's update for (layer, group),
    /// applied segment by segment so that each segment's update is the product a pass of it
    /// alone computes.
    func apply(
        _ projection: Projection, _ x: [Float], rows: Int, into out: inout [Float], accumulate: Bool = false, adapted: (Int, String)? = nil,
        layouts: [SegmentLayout] = []
    ) {
        x.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                projection.apply(x.baseAddress!, rows: rows, into: o.baseAddress!, accumulate: accumulate)
                if let adapter, let (layer, group) = adapted {
                    let stride = o.count / rows, inputs = x.count / rows
                    for s in layouts {
                        adapter.apply(layer: layer, group, x.baseAddress! + s.first * inputs, rows: s.count, into: o.baseAddress! + s.first * stride, stride: stride)
                    }
                }
            }
        }
    }

    /// ggml's RMS norm: the mean square summed in Float64, `x · (1 / √(mean + ε))`, then the
    /// weight.
    func rmsNorm(_ x: [Float], _ weight: [Float], into out: inout [Float], rows: Int) {
        x.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { out in rmsNorm(x.baseAddress!, weight, into: out.baseAddress!, rows: rows, width: configuration.hidden) }
        }
    }

    /// The same over `rows` rows of `width` values (a head's query or key with Gemma's norms;
    /// `x` and `out` may be the same memory).
    func rmsNorm(_ x: UnsafePointer<Float>, _ weight: [Float], into out: UnsafeMutablePointer<Float>, rows: Int, width h: Int) {
        let eps = configuration.normEps
        weight.withUnsafeBufferPointer { weight in
            parallelRanges(rows) { range in
                for r in range {
                    var sum: Double = 0
                    for j in 0..<h { sum += Double(x[r * h + j] * x[r * h + j]) }
                    let mean = Float(sum / Double(h))
                    let scale = 1 / (mean + eps).squareRoot()
                    for j in 0..<h { out[r * h + j] = x[r * h + j] * scale * weight[j] }
                }
            }
        }
    }

    /// ggml's `soft_max_ext` on one row: scaled, the maximum subtracted, exponentials summed
    /// in Float64, then multiplied by the reciprocal of the sum.
    func softmax(_ row: UnsafeMutablePointer<Float>, count n: Int, scale: Float) {
        var maximum = -Float.infinity
        for j in 0..<n {
            row[j] *= scale
            maximum = max(maximum, row[j])
        }
        var sum: Double = 0
        for j in 0..<n {
            row[j] = Foundation.exp(row[j] - maximum)
            sum += Double(row[j])
        }
        let inverse = Float(1 / sum)
        for j in 0..<n { row[j] *= inverse }
    }

    /// Rotates each head's pairs in every row of `width` values, row r at `positions[r]`:
    /// adjacent pairs for llama (ggml's "normal" rope; the GGUF converter permutes Q and K so
    /// that this matches the original model), value i with value i + headDim/2 for Gemma and
    /// Qwen (NeoX). `local`: the sliding-window layers' base.
    func rope(_ x: UnsafeMutablePointer<Float>, width: Int, positions: [Int], local: Bool = false) {
        let hd = configuration.headDim, half = hd / 2
        let (cosTable, sinTable) = local ? (localRopeCos, localRopeSin) : (ropeCos, ropeSin)
        let (step, offset) = configuration.architecture.neoxRope ? (1, half) : (2, 1)
        parallelRanges(positions.count) { rows in
            for r in rows {
                let position = positions[r]
                for head in 0..<(width / hd) {
                    let base = x + r * width + head * hd
                    for i in 0..<half {
                        let cos = cosTable[position * half + i], sin = sinTable[position * half + i]
                        let a = base[step * i], b = base[step * i + offset]
                        // As GCC contracts ggml's `x0 cos - x1 sin` and `x0 sin + x1 cos`.
                        base[step * i] = (-(b * sin)).addingProduct(a, cos)
                        base[step * i + offset] = (b * cos).addingProduct(a, sin)
                    }
                }
            }
        }
    }
}
