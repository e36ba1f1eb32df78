import COpenBLAS
import Foundation
import RecCore
import RecQuant
import RecTensor

/// A Llama-architecture decoder read from GGUF (`general.architecture: llama`): RMSNorm,
/// rotary position embeddings with the file's base, grouped-query attention, SwiGLU
/// feed-forward layers and a tied or separate output head, in one of two numerics:
///
/// - `exact` (the default) follows the arithmetic of llama.cpp's CPU backend, so its
///   log-probabilities and greedy continuations can be checked against llama.cpp's (within
///   0.0003 nats of the committed fixture; llama.cpp's own output varies between machines,
///   while this engine's summation orders are fixed, so its output does not):
///   block-quantised weights (Q4_0, Q4_1, Q8_0) stay quantised and multiply 8-bit-quantised
///   activations with ggml's arithmetic (RecQuant); keys, values, queries and attention weights
///   are rounded through Float16 as in llama.cpp's default F16 cache; attention sums follow
///   tinyBLAS's order for batches and `vec_dot_f16`'s for one token, as llama.cpp does; exp,
///   softmax, SwiGLU, rope and RMS norm follow ggml's order of operations.
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
        public var layers: Int, hidden: Int, heads: Int, kvHeads: Int, feedForward: Int
        public var contextLength: Int, ropeBase: Float, normEps: Float, vocabulary: Int
        public var headDim: Int { hidden / heads }
        public var kvDim: Int { kvHeads * headDim }
    }

    /// A weight matrix `[out, in]`: block-quantised under exact numerics; under fast numerics
    /// and for float tensors (F32, F16, BF16; llama.cpp's bits are matched for block-quantised
    /// weights only) also or only as Float32.
    struct Projection {
        /// ggml's blocks, multiplied with ggml's arithmetic. Fast numerics keep them too for
        /// one-token steps, which stream every weight per token: 4x fewer bytes than Float32.
        let quantized: BlockQuantizedMatrix?
        /// Float32 `[out, in]`, multiplied by BLAS (fast numerics, float tensors).
        let dense: [Float]?
        let out: Int, `in`: Int

        /// The named tensors (each `[in, out_i]` in ggml order) stacked into one matrix.
        init(_ file: GGUFFile, _ names: [String], in k: Int, out: [Int], numerics: Numerics) throws {
            let tensors = try zip(names, out).map { name, n in
                guard let tensor = file.tensors[name] else { throw RecError(.data, "\(file.path): no tensor '\(name)'") }
                guard tensor.dimensions == [k, n] else {
                    throw RecError(.data, "\(file.path): tensor '\(name)' has dimensions \(tensor.dimensions), expected \([k, n])")
                }
                return tensor
            }
            self.out = out.reduce(0, +)
            self.in = k
            let formats = tensors.map { BlockQuantizedMatrix.Format(rawValue: $0.typeName) }
            if BlockQuantizedMatrix.supported, let format = formats[0], formats.allSatisfy({ $0 == format }) {
                quantized = BlockQuantizedMatrix(
                    stacking: zip(tensors, out).map { tensor, n in
                        file.withBytes(of: tensor) { BlockQuantizedMatrix(format: format, rows: n, columns: k, source: $0) }
                    })
            } else {
                quantized = nil
            }
            dense = numerics == .fast || quantized == nil ? try names.flatMap { try file.floats($0) } : nil
        }

        /// Row `i` as Float32 (an embedding lookup).
        func row(_ i: Int) -> [Float] {
            if let dense { return Array(dense[(i * self.in)..<((i + 1) * self.in)]) }
            return quantized!.row(i)
        }

        /// `out[t · stride + j] (+)= Σ_c W[j, c] x[t, c]` for `rows` rows of `x`.
        func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, stride: Int? = nil, accumulate: Bool = false) {
            if let quantized, rows == 1 || dense == nil {
                quantized.multiply(QuantizedActivations(x, rows: rows, columns: quantized.columns), into: out, stride: stride ?? quantized.rows, accumulate: accumulate)
                return
            }
            let (n, k) = (self.out, self.in)
            dense!.withUnsafeBufferPointer { w in
                if rows == 1, stride == nil {
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, w.baseAddress!, Int32(k), x, 1, accumulate ? 1 : 0, out, 1)
                } else {
                    gemm(x, w.baseAddress!, out, m: rows, n: n, k: k, transposeB: true, beta: accumulate ? 1 : 0, ldc: stride ?? n)
                }
            }
        }
    }

    /// How attention products are summed: as llama.cpp's batched (tinyBLAS) or one-token
    /// (`vec_dot_f16`) paths do, or by `cblas_sgemm`.
    enum AttentionOrder { case tinyBLAS, vecDot, blas }

    struct Layer {
        var attentionNorm: [Float], ffnNorm: [Float]
        /// Query, key and value stacked (`[hidden + 2 kvDim, hidden]`); gate and up stacked.
        var qkv: Projection, output: Projection, gateUp: Projection, down: Projection
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
    /// A LoRA adapter added to the projections at run time, if one was given.
    let adapter: LoRADeltas?
    /// SHA-256 of the GGUF file's bytes.
    public let weightsHash: String
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
        let (h, kv, f, v) = (c.hidden, c.kvDim, c.feedForward, c.vocabulary)
        embedding = try Projection(file, ["token_embd.weight"], in: h, out: [v], numerics: numerics)
        outputHead = file.tensors["output.weight"] == nil ? embedding : try Projection(file, ["output.weight"], in: h, out: [v], numerics: numerics)
        outputNorm = try file.floats("output_norm.weight", dimensions: [h])
        layers = try (0..<c.layers).map { i in
            let p = "blk.\(i)."
            return Layer(
                attentionNorm: try file.floats(p + "attn_norm.weight", dimensions: [h]),
                ffnNorm: try file.floats(p + "ffn_norm.weight", dimensions: [h]),
                qkv: try Projection(file, [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"], in: h, out: [h, kv, kv], numerics: numerics),
                output: try Projection(file, [p + "attn_output.weight"], in: h, out: [h], numerics: numerics),
                gateUp: try Projection(file, [p + "ffn_gate.weight", p + "ffn_up.weight"], in: h, out: [f, f], numerics: numerics),
                down: try Projection(file, [p + "ffn_down.weight"], in: f, out: [h], numerics: numerics))
        }
        (ropeCos, ropeSin) = Self.rotaryTables(c)
        adapter = try adapterPath.map { try LoRADeltas(path: $0, configuration: c) }
    }

    /// Rotary tables as ggml builds them: cos and sin of every (position, pair) up to the
    /// context length, pair i turning by position · θ^i with θ = base^(-2/d), the power taken by
    /// repeated Float32 multiplication.
    static func rotaryTables(_ c: Configuration) -> (cos: [Float], sin: [Float]) {
        let half = c.headDim / 2, positions = c.contextLength
        let thetaScale = Foundation.pow(c.ropeBase, -2 / Float(c.headDim))
        var cos = [Float](repeating: 0, count: positions * half), sin = cos
        for position in 0..<positions {
            var theta = Float(position)
            for i in 0..<half {
                cos[position * half + i] = Foundation.cos(theta)
                sin[position * half + i] = Foundation.sin(theta)
                theta *= thetaScale
            }
        }
        return (cos, sin)
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
        let group = c.heads / c.kvHeads, total = start + t, width = h + 2 * kv
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
        for (row, id) in ids.enumerated() { x.replaceSubrange((row * h)..<((row + 1) * h), with: embedding.row(Int(id))) }
        var normed = [Float](repeating: 0, count: t * h), q = normed, attended = normed
        var qkv = [Float](repeating: 0, count: t * width), gateUp = [Float](repeating: 0, count: t * 2 * f)
        var swiglu = [Float](repeating: 0, count: t * f)
        let padded = (total + 15) / 16 * 16, exact = numerics == .exact
        // llama.cpp multiplies with tinyBLAS for two tokens or more and with ggml's vec_dot for
        // one, each summing in its own order. Branches always take the batched order, so a
        // continuation scores the same alone or beside others.
        let order: AttentionOrder = !exact ? .blas : t == 1 && branches == nil ? .vecDot : .tinyBLAS
        let parts = parallelPartCount
        var scores = [Float](repeating: 0, count: parts * t * padded)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: parts * 64 * hd)
        defer { scratch.deallocate() }
        let scale = 1 / Float(hd).squareRoot()
        for (index, layer) in layers.enumerated() {
            rmsNorm(x, layer.attentionNorm, into: &normed, rows: t)
            apply(layer.qkv, normed, rows: t, into: &qkv, adapted: (index, "qkv"))
            session.keys[index].withUnsafeMutableBufferPointer { keys in
                session.values[index].withUnsafeMutableBufferPointer { values in
                    // Queries; keys and values into the cache rows start..<total. Keys are
                    // rotated, then everything the attention reads is rounded through Float16
                    // (llama.cpp's F16 cache, and the F16 copy of Q its matrix product makes).
                    let (k0, v0) = (keys.baseAddress! + start * kv, values.baseAddress! + start * kv)
                    for row in 0..<t {
                        for j in 0..<h { q[row * h + j] = qkv[row * width + j] }
                        for j in 0..<kv {
                            k0[row * kv + j] = qkv[row * width + h + j]
                            v0[row * kv + j] = qkv[row * width + h + kv + j]
                        }
                    }
                    q.withUnsafeMutableBufferPointer {
                        rope($0.baseAddress!, width: h, positions: positions)
                        if exact { roundThroughHalf($0.baseAddress!, count: t * h) }
                    }
                    rope(k0, width: kv, positions: positions)
                    if exact {
                        roundThroughHalf(k0, count: t * kv)
                        roundThroughHalf(v0, count: t * kv)
                    }
                    // Per head: scores = q_h K_gᵀ, causal softmax, out_h = P V_g.
                    // Heads split across the cores, each part with its own scores and scratch.
                    q.withUnsafeBufferPointer { qp in
                        scores.withUnsafeMutableBufferPointer { allScores in
                            attended.withUnsafeMutableBufferPointer { op in
                                let views = UncheckedSendable((qp.baseAddress!, allScores.baseAddress!, op.baseAddress!, keys.baseAddress!, values.baseAddress!, scratch))
                                func attend(_ part: Int, _ parts: Int) {
                                    let (qbase, scoreBase, obase, kbase, vbase, scratchBase) = views.value
                                    let sp = scoreBase + part * t * padded, scratch = scratchBase + part * 64 * hd
                                    for head in Swift.stride(from: part, to: c.heads, by: parts) {
                                        let g = head / group
                                        let (qh, kg, vg, out) = (qbase + head * hd, kbase + g * hd, vbase + g * hd, obase + head * hd)
                                        switch order {
                                        case .vecDot: attentionScoresOneToken(qh, kg, keyStride: kv, columns: total, dim: hd, into: sp)
                                        case .tinyBLAS:
                                            attentionScores(
                                                qh, queryStride: h, kg, keyStride: kv, rows: t, start: start, visibleFrom: branchStart,
                                                dim: hd, into: sp, outStride: padded)
                                        case .blas: gemm(qh, kg, sp, m: t, n: total, k: hd, transposeB: true, lda: h, ldb: kv, ldc: padded)
                                        }
                                        for row in 0..<t {
                                            let r = sp + row * padded
                                            if order == .blas {
                                                // Cache order (the product with V below runs over every row):
                                                // the columns of other branches are masked.
                                                for j in start..<branchStart[row] { r[j] = -.infinity }
                                                ggmlSoftmax(r, count: start + row + 1, padded: padded, scale: scale)
                                                continue
                                            }
                                            // The cache before `start`, then this row's branch up to itself, laid
                                            // out as if alone (see attentionScores).
                                            let visible = 2 * start + row + 1 - branchStart[row]
                                            ggmlSoftmax(r, count: visible, padded: (visible + 15) / 16 * 16, scale: scale)
                                            roundThroughHalf(r, count: visible)
                                            if order == .vecDot {
                                                attentionValuesOneToken(r, count: visible, vg, valueStride: kv, dim: hd, into: out + row * h, scratch: scratch)
                                            } else {
                                                attentionValues(
                                                    r, count: visible, rows: ValueRows(from: start, by: branchStart[row] - start), vg, valueStride: kv,
                                                    dim: hd, into: out + row * h, scratch: scratch)
                                            }
                                        }
                                        if order == .blas {
                                            gemm(sp, vg, out, m: t, n: hd, k: total, lda: padded, ldb: kv, ldc: h)
                                        }
                                    }
                                }
                                // BLAS is threaded already (fast numerics): its parts run one by one.
                                if order == .blas {
                                    for part in 0..<parts { attend(part, parts) }
                                } else {
                                    parallelParts(attend)
                                }
                            }
                        }
                    }
                }
            }
            apply(layer.output, attended, rows: t, into: &x, accumulate: true, adapted: (index, "output"))
            rmsNorm(x, layer.ffnNorm, into: &normed, rows: t)
            apply(layer.gateUp, normed, rows: t, into: &gateUp, adapted: (index, "gateUp"))
            gateUp.withUnsafeBufferPointer { gu in
                swiglu.withUnsafeMutableBufferPointer { out in
                    for row in 0..<t {
                        ggmlSwiGLU(gate: gu.baseAddress! + row * 2 * f, up: gu.baseAddress! + row * 2 * f + f, into: out.baseAddress! + row * f, count: f)
                    }
                }
            }
            apply(layer.down, swiglu, rows: t, into: &x, accumulate: true, adapted: (index, "down"))
        }
        let rows = allLogits ? t : 1
        let last = Array(x[((t - rows) * h)...])
        var final = [Float](repeating: 0, count: rows * h)
        rmsNorm(last, outputNorm, into: &final, rows: rows)
        var logits = [Float](repeating: 0, count: rows * c.vocabulary)
        apply(outputHead, final, rows: rows, into: &logits)
        return logits
    }

    /// `projection` over `rows` rows of `x`, plus the adapter's update for (layer, group).
    func apply(_ projection: Projection, _ x: [Float], rows: Int, into out: inout [Float], accumulate: Bool = false, adapted: (Int, String)? = nil) {
        x.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                projection.apply(x.baseAddress!, rows: rows, into: o.baseAddress!, accumulate: accumulate)
                if let adapter, let (layer, group) = adapted {
                    adapter.apply(layer: layer, group, x.baseAddress!, rows: rows, into: o.baseAddress!, stride: o.count / rows)
                }
            }
        }
    }

    /// ggml's RMS norm: the mean square summed in Float64, `x · (1 / √(mean + ε))`, then the
    /// weight.
    func rmsNorm(_ x: [Float], _ weight: [Float], into out: inout [Float], rows: Int) {
        let h = configuration.hidden
        for r in 0..<rows {
            var sum: Double = 0
            for j in 0..<h { sum += Double(x[r * h + j] * x[r * h + j]) }
            let mean = Float(sum / Double(h))
            let scale = 1 / (mean + configuration.normEps).squareRoot()
            for j in 0..<h { out[r * h + j] = x[r * h + j] * scale * weight[j] }
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
                    // As GCC contracts ggml's `x0 cos - x1 sin` and `x0 sin + x1 cos`.
                    base[2 * i] = (-(b * sin)).addingProduct(a, cos)
                    base[2 * i + 1] = (b * cos).addingProduct(a, sin)
                }
            }
        }
    }
}
