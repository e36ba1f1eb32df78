import COpenBLAS
import Foundation
import RecCore
import RecTensor

/// A Llama-architecture decoder read from GGUF (`general.architecture: llama`): RMSNorm,
/// rotary position embeddings with the file's base, grouped-query attention, SwiGLU
/// feed-forward layers and a tied or separate output head. Quantised weights are expanded to
/// Float32 once at load time, so every projection is one `cblas_sgemm` over all new tokens
/// (`cblas_sgemv` for one), and activations stay Float32 throughout: a prompt scored in one
/// batch gives the log-probabilities the same tokens get when generated one by one.
public final class LlamaModel: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        public var layers: Int, hidden: Int, heads: Int, kvHeads: Int, feedForward: Int
        public var contextLength: Int, ropeBase: Float, normEps: Float, vocabulary: Int
        public var headDim: Int { hidden / heads }
        public var kvDim: Int { kvHeads * headDim }
    }

    struct Layer {
        var attentionNorm: [Float], query: [Float], key: [Float], value: [Float], output: [Float]
        var ffnNorm: [Float], gate: [Float], up: [Float], down: [Float]
    }

    public let configuration: Configuration
    public let tokenizer: BPETokenizer
    public let file: GGUFFile
    let embedding: [Float]
    /// The output head `[vocabulary, hidden]` (the embedding itself when tied).
    let outputHead: [Float]
    let outputNorm: [Float]
    let layers: [Layer]
    /// cos and sin of every (position, pair) up to the context length.
    let ropeCos: [Float], ropeSin: [Float]

    public init(path: String) throws {
        let file = try GGUFFile(path: path)
        self.file = file
        let arch = try file.require("general.architecture").string ?? ""
        guard arch == "llama" else { throw RecError(.data, "\(path): general.architecture is '\(arch)'; RecLab runs llama-architecture models") }
        func int(_ key: String) throws -> Int {
            guard let value = try file.require(key).int, value > 0 else { throw RecError(.data, "\(path): metadata '\(key)' is not a positive integer") }
            return value
        }
        let heads = try int("llama.attention.head_count")
        let config = Configuration(
            layers: try int("llama.block_count"), hidden: try int("llama.embedding_length"), heads: heads,
            kvHeads: file.metadata["llama.attention.head_count_kv"]?.int ?? heads, feedForward: try int("llama.feed_forward_length"),
            contextLength: try int("llama.context_length"), ropeBase: Float(file.metadata["llama.rope.freq_base"]?.double ?? 10_000),
            normEps: Float(file.metadata["llama.attention.layer_norm_rms_epsilon"]?.double ?? 1e-5),
            vocabulary: 0)
        guard config.hidden % heads == 0, heads % config.kvHeads == 0, config.headDim % 2 == 0 else {
            throw RecError(.data, "\(path): \(heads) heads, \(config.kvHeads) key-value heads over \(config.hidden) dimensions do not fit")
        }
        tokenizer = try BPETokenizer(gguf: file)
        var c = config
        c.vocabulary = tokenizer.vocabularySize
        configuration = c
        let (h, kv, f, v) = (c.hidden, c.kvDim, c.feedForward, c.vocabulary)
        func matrix(_ name: String, _ dimensions: [Int]) throws -> [Float] { try file.floats(name, dimensions: dimensions) }
        embedding = try matrix("token_embd.weight", [h, v])
        outputHead = file.tensors["output.weight"] == nil ? embedding : try matrix("output.weight", [h, v])
        outputNorm = try file.floats("output_norm.weight", dimensions: [h])
        layers = try (0..<c.layers).map { i in
            let p = "blk.\(i)."
            return Layer(
                attentionNorm: try file.floats(p + "attn_norm.weight", dimensions: [h]),
                query: try matrix(p + "attn_q.weight", [h, h]), key: try matrix(p + "attn_k.weight", [h, kv]),
                value: try matrix(p + "attn_v.weight", [h, kv]), output: try matrix(p + "attn_output.weight", [h, h]),
                ffnNorm: try file.floats(p + "ffn_norm.weight", dimensions: [h]),
                gate: try matrix(p + "ffn_gate.weight", [h, f]), up: try matrix(p + "ffn_up.weight", [h, f]),
                down: try matrix(p + "ffn_down.weight", [f, h]))
        }
        // Rotary tables: pair i of a head turns by position · base^(-2i/d).
        let half = c.headDim / 2, positions = c.contextLength
        var cos = [Float](repeating: 0, count: positions * half), sin = cos
        for position in 0..<positions {
            for i in 0..<half {
                let angle = Double(position) * pow(Double(c.ropeBase), -2 * Double(i) / Double(c.headDim))
                cos[position * half + i] = Float(Foundation.cos(angle))
                sin[position * half + i] = Float(Foundation.sin(angle))
            }
        }
        ropeCos = cos
        ropeSin = sin
    }

    /// A conversation with the model: the key/value cache of every token so far.
    public final class Session {
        public let model: LlamaModel
        public private(set) var tokens: [Int32] = []
        var keys: [[Float]], values: [[Float]]

        init(model: LlamaModel) {
            self.model = model
            keys = (0..<model.configuration.layers).map { _ in [] }
            values = keys
        }

        /// Grows the cache to hold `count` rows (doubling up to the context length; batched
        /// branches may need rows past it, their positions stay within it).
        func reserve(_ count: Int) {
            let kv = model.configuration.kvDim
            guard keys[0].count < count * kv else { return }
            let capacity = max(count, min(model.configuration.contextLength, max(2 * keys[0].count / kv, 256))) * kv
            for layer in keys.indices {
                keys[layer] += [Float](repeating: 0, count: capacity - keys[layer].count)
                values[layer] += [Float](repeating: 0, count: capacity - values[layer].count)
            }
        }

        /// Forgets every token after the first `count` (a shared prefix stays cached).
        public func truncate(to count: Int) { tokens.removeLast(max(0, tokens.count - count)) }

        /// Runs `new` tokens through the model after those already cached.
        /// - Parameter allLogits: logits for every new token (`[new.count, vocabulary]`);
        ///   otherwise for the last one only.
        public func append(_ new: [Int32], allLogits: Bool = false) throws -> [Float] {
            try run(new, allLogits: allLogits, branches: nil)
            tokens += new
            return logits
        }

        /// Logits `[Σ lengths, vocabulary]` of several continuations of the cached tokens, run in
        /// one pass (each sees the cache and itself only); the cache is left as it was.
        public func branches(_ continuations: [[Int32]]) throws -> [Float] {
            let lengths = continuations.map(\.count)
            guard lengths.allSatisfy({ $0 > 0 }) else { throw RecError(.plugin, "an empty continuation cannot be scored in a batch") }
            guard tokens.count + (lengths.max() ?? 0) <= model.configuration.contextLength else {
                throw RecError(.plugin, "a continuation exceeds the model's context of \(model.configuration.contextLength)")
            }
            try run(continuations.flatMap { $0 }, allLogits: true, branches: lengths)
            return logits
        }

        private var logits: [Float] = []

        private func run(_ new: [Int32], allLogits: Bool, branches: [Int]?) throws {
            logits = []
            guard !new.isEmpty else { return }
            guard branches != nil || tokens.count + new.count <= model.configuration.contextLength else {
                throw RecError(.plugin, "\(tokens.count + new.count) tokens exceed the model's context of \(model.configuration.contextLength)")
            }
            if let bad = new.first(where: { $0 < 0 || Int($0) >= model.configuration.vocabulary }) {
                throw RecError(.plugin, "token id \(bad) is outside the vocabulary of \(model.configuration.vocabulary)")
            }
            reserve(tokens.count + new.count)
            logits = model.forward(new, start: tokens.count, session: self, allLogits: allLogits, branches: branches)
        }
    }

    public func session() -> Session { Session(model: self) }

    /// The transformer over `ids` at positions `start...`, writing their keys and values into
    /// `session`'s cache; returns logits (all rows or the last).
    ///
    /// With `branches`, the new tokens are several independent continuations of the cached
    /// tokens, laid out one after another (lengths given): each sees the cache and its own
    /// earlier tokens only, at positions counted from the end of the cache.
    func forward(_ ids: [Int32], start: Int, session: Session, allLogits: Bool, branches: [Int]? = nil) -> [Float] {
        let c = configuration
        let (t, h, kv, f, hd) = (ids.count, c.hidden, c.kvDim, c.feedForward, c.headDim)
        let group = c.heads / c.kvHeads, total = start + t
        // Position of each new row, and the first of its own branch's rows it may see.
        var positions = Array(start..<total), branchStart = [Int](repeating: start, count: t)
        if let branches {
            var row = 0
            for length in branches {
                for i in 0..<length {
                    positions[row + i] = start + i
                    branchStart[row + i] = start + row
                }
                row += length
            }
        }
        var x = [Float](repeating: 0, count: t * h)
        for (row, id) in ids.enumerated() {
            for j in 0..<h { x[row * h + j] = embedding[Int(id) * h + j] }
        }
        var normed = [Float](repeating: 0, count: t * h)
        var q = [Float](repeating: 0, count: t * h), attended = q
        var gate = [Float](repeating: 0, count: t * f), up = gate
        var scores = [Float](repeating: 0, count: t * total)
        let scale = 1 / Float(hd).squareRoot()
        for (index, layer) in layers.enumerated() {
            rmsNorm(x, layer.attentionNorm, into: &normed, rows: t)
            project(normed, layer.query, into: &q, rows: t, out: h, in: h)
            // New keys and values go straight into the cache rows start..<total.
            session.keys[index].withUnsafeMutableBufferPointer { keys in
                session.values[index].withUnsafeMutableBufferPointer { values in
                    project(normed, layer.key, into: keys.baseAddress! + start * kv, rows: t, out: kv, in: h)
                    project(normed, layer.value, into: values.baseAddress! + start * kv, rows: t, out: kv, in: h)
                    q.withUnsafeMutableBufferPointer { rope($0.baseAddress!, width: h, positions: positions) }
                    rope(keys.baseAddress! + start * kv, width: kv, positions: positions)
                    // Per head: scores = q_h K_gᵀ (strided views), causal softmax, out_h = P V_g.
                    q.withUnsafeBufferPointer { qp in scores.withUnsafeMutableBufferPointer { sp in attended.withUnsafeMutableBufferPointer { op in
                        for head in 0..<c.heads {
                            let g = head / group
                            gemm(qp.baseAddress! + head * hd, keys.baseAddress! + g * hd, sp.baseAddress!, m: t, n: total, k: hd,
                                 transposeB: true, lda: h, ldb: kv, ldc: total)
                            for row in 0..<t {
                                // Visible: the cache before `start`, then this row's branch up to itself.
                                let visible = start + row + 1, r = sp.baseAddress! + row * total
                                for j in 0..<visible { r[j] *= scale }
                                for j in start..<branchStart[row] { r[j] = -.infinity }
                                softmaxInPlace(r, visible)
                                for j in visible..<total { r[j] = 0 }
                            }
                            gemm(sp.baseAddress!, values.baseAddress! + g * hd, op.baseAddress! + head * hd, m: t, n: hd, k: total,
                                 ldb: kv, ldc: h)
                        }
                    } } }
                }
            }
            project(attended, layer.output, into: &x, rows: t, out: h, in: h, accumulate: true)
            rmsNorm(x, layer.ffnNorm, into: &normed, rows: t)
            project(normed, layer.gate, into: &gate, rows: t, out: f, in: h)
            project(normed, layer.up, into: &up, rows: t, out: f, in: h)
            for i in 0..<(t * f) {
                let g = gate[i]
                gate[i] = g / (1 + Foundation.exp(-g)) * up[i]
            }
            project(gate, layer.down, into: &x, rows: t, out: h, in: f, accumulate: true)
        }
        let rows = allLogits ? t : 1
        let last = Array(x[((t - rows) * h)...])
        var final = [Float](repeating: 0, count: rows * h)
        rmsNorm(last, outputNorm, into: &final, rows: rows)
        var logits = [Float](repeating: 0, count: rows * c.vocabulary)
        project(final, outputHead, into: &logits, rows: rows, out: c.vocabulary, in: h)
        return logits
    }

    /// `out = a Wᵀ` (or `out += a Wᵀ`) for `a` `[rows, in]` and `W` `[out, in]`.
    func project(_ a: [Float], _ w: [Float], into out: inout [Float], rows: Int, out n: Int, in k: Int, accumulate: Bool = false) {
        out.withUnsafeMutableBufferPointer { o in project(a, w, into: o.baseAddress!, rows: rows, out: n, in: k, accumulate: accumulate) }
    }

    func project(_ a: [Float], _ w: [Float], into out: UnsafeMutablePointer<Float>, rows: Int, out n: Int, in k: Int, accumulate: Bool = false) {
        a.withUnsafeBufferPointer { x in w.withUnsafeBufferPointer { w in
            if rows == 1 {
                // One token (generation): a matrix-vector product.
                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, w.baseAddress!, Int32(k), x.baseAddress!, 1, accumulate ? 1 : 0, out, 1)
            } else {
                gemm(x.baseAddress!, w.baseAddress!, out, m: rows, n: n, k: k, transposeB: true, beta: accumulate ? 1 : 0)
            }
        } }
    }

    func rmsNorm(_ x: [Float], _ weight: [Float], into out: inout [Float], rows: Int) {
        let h = configuration.hidden
        for r in 0..<rows {
            var sum: Float = 0
            for j in 0..<h { sum += x[r * h + j] * x[r * h + j] }
            let scale = 1 / (sum / Float(h) + configuration.normEps).squareRoot()
            for j in 0..<h { out[r * h + j] = x[r * h + j] * scale * weight[j] }
        }
    }

    /// Rotates adjacent pairs (ggml's "normal" rope; the GGUF converter permutes Q and K so that
    /// this matches the original model) of every head in each row of `width` values, row r at
    /// `positions[r]`.
    func rope(_ x: UnsafeMutablePointer<Float>, width: Int, positions: [Int]) {
        let hd = configuration.headDim, half = hd / 2
        for (r, position) in positions.enumerated() {
            for head in 0..<(width / hd) {
                let base = x + r * width + head * hd
                for i in 0..<half {
                    let cos = ropeCos[position * half + i], sin = ropeSin[position * half + i]
                    let a = base[2 * i], b = base[2 * i + 1]
                    base[2 * i] = a * cos - b * sin
                    base[2 * i + 1] = a * sin + b * cos
                }
            }
        }
    }
}
