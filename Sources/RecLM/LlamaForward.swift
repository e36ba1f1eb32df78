import Foundation
import RecCore
import RecQuant
import RecTensor

extension LlamaModel {
    /// One sequence's share of a forward pass: `ids` after the tokens its session holds.
    ///
    /// With `branches`, the ids are several independent continuations of the cached tokens,
    /// laid out one after another (lengths given): each sees the cache and its own earlier
    /// tokens only, at positions counted from the end of the cache.
    struct Segment {
        var session: Session
        var ids: [Int32]
        var allLogits: Bool
        var branches: [Int]?
    }

    /// Where a segment's rows lie in the pass and how its attention runs.
    struct SegmentLayout {
        /// Its first row in the pass, its row count, and the cache rows before it.
        let first: Int, count: Int, start: Int
        /// Position of each row, and the first cache row of its own branch it may see.
        let positions: [Int], branchStart: [Int]
        let order: AttentionOrder
        let keys: [UnsafeMutablePointer<Float>], values: [UnsafeMutablePointer<Float>]
        var total: Int { start + count }
        var padded: Int { (total + 15) / 16 * 16 }

        init(_ segment: Segment, first: Int, exact: Bool) {
            let t = segment.ids.count, start = segment.session.tokens.count
            var positions = Array(start..<(start + t)), branchStart = [Int](repeating: start, count: t)
            if let branches = segment.branches {
                var row = 0
                for length in branches {
                    for i in 0..<length {
                        positions[row + i] = start + i
                        branchStart[row + i] = start + row
                    }
                    row += length
                }
            }
            (self.first, count, self.start, self.positions, self.branchStart) = (first, t, start, positions, branchStart)
            // llama.cpp multiplies with tinyBLAS for two tokens or more and with ggml's vec_dot
            // for one, each summing in its own order. Branches always take the batched order, so
            // a continuation scores the same alone or beside others.
            order = !exact ? .blas : t == 1 && segment.branches == nil ? .vecDot : .tinyBLAS
            keys = segment.session.keys
            values = segment.session.values
        }
    }

    /// The transformer over every segment's new tokens in one pass, writing their keys and
    /// values into each segment's session cache; returns each segment's logits (all its rows,
    /// or its last). Nothing is committed to the sessions' token lists.
    ///
    /// Every row's arithmetic is the same whatever else is in the pass: the projections and
    /// norms work row by row (the quantised kernel sums each row in one fixed order, one
    /// token or many), and each segment's attention runs over its own cache in the order a pass
    /// of that segment alone would take. So a sequence decoded beside others gets the bits it
    /// gets alone.
    func forward(_ segments: [Segment]) -> [[Float]] {
        guard !segments.isEmpty else { return [] }
        let c = configuration, exact = numerics == .exact
        let (h, qd, kv, f, hd) = (c.hidden, c.queryDim, c.kvDim, c.feedForward, c.headDim)
        let group = c.heads / c.kvHeads, width = qd + 2 * kv, gemma = c.architecture == .gemma3
        var layouts: [SegmentLayout] = [], t = 0
        for segment in segments {
            layouts.append(SegmentLayout(segment, first: t, exact: exact))
            t += segment.ids.count
        }
        var x = [Float](repeating: 0, count: t * h)
        for (row, id) in segments.flatMap(\.ids).enumerated() { x.replaceSubrange((row * h)..<((row + 1) * h), with: embedding.row(Int(id))) }
        // Gemma scales the embedding by √hidden (ggml_scale by sqrtf(n_embd)).
        if gemma {
            let scale = Float(h).squareRoot()
            for i in x.indices { x[i] *= scale }
        }
        var normed = [Float](repeating: 0, count: t * h), residual = normed
        var q = [Float](repeating: 0, count: t * qd), attended = q
        var qkv = [Float](repeating: 0, count: t * width), gateUp = [Float](repeating: 0, count: t * 2 * f)
        var swiglu = [Float](repeating: 0, count: t * f)
        let parts = parallelPartCount, scoreSize = layouts.map { $0.count * $0.padded }.max() ?? 0
        var scores = [Float](repeating: 0, count: parts * scoreSize)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: parts * 64 * hd)
        defer { scratch.deallocate() }
        // Llama scales the scores in the softmax; Gemma scales the queries (by a power of two
        // for its sizes, which commutes with every rounding after it).
        let scale = gemma ? 1 : c.attentionScale
        let blas = layouts.contains { $0.order == .blas }
        for (index, layer) in layers.enumerated() {
            let local = c.isSliding(index)
            rmsNorm(x, layer.attentionNorm, into: &normed, rows: t)
            apply(layer.qkv, normed, rows: t, into: &qkv, adapted: (index, "qkv"), layouts: layouts)
            if let bias = layer.qkvBias {
                for row in 0..<t {
                    for j in 0..<width { qkv[row * width + j] += bias[j] }
                }
            }
            // Queries; keys and values into each cache's rows start..<total. Queries and keys
            // are normed per head (Gemma, Qwen3), rotated and the queries scaled (Gemma), then
            // everything the attention reads is rounded through Float16 (llama.cpp's F16 cache,
            // and the F16 copy of Q its matrix product makes).
            q.withUnsafeMutableBufferPointer { qp in
                for s in layouts {
                    let (k0, v0, q0) = (s.keys[index] + s.start * kv, s.values[index] + s.start * kv, qp.baseAddress! + s.first * qd)
                    for r in 0..<s.count {
                        let row = (s.first + r) * width
                        for j in 0..<qd { q0[r * qd + j] = qkv[row + j] }
                        for j in 0..<kv {
                            k0[r * kv + j] = qkv[row + qd + j]
                            v0[r * kv + j] = qkv[row + qd + kv + j]
                        }
                    }
                    if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                        rmsNorm(q0, queryNorm, into: q0, rows: s.count * c.heads, width: hd)
                        rmsNorm(k0, keyNorm, into: k0, rows: s.count * c.kvHeads, width: hd)
                    }
                    rope(q0, width: qd, positions: s.positions, local: local)
                    if gemma {
                        for j in 0..<(s.count * qd) { q0[j] *= c.attentionScale }
                    }
                    if exact { roundThroughHalf(q0, count: s.count * qd) }
                    rope(k0, width: kv, positions: s.positions, local: local)
                    if exact {
                        roundThroughHalf(k0, count: s.count * kv)
                        roundThroughHalf(v0, count: s.count * kv)
                    }
                }
            }
            // Per (segment, head): scores = q_h K_gᵀ, causal softmax, out_h = P V_g. The pairs
            // split across the cores, each part with its own scores and scratch.
            q.withUnsafeBufferPointer { qp in
                scores.withUnsafeMutableBufferPointer { allScores in
                    attended.withUnsafeMutableBufferPointer { op in
                        let views = UncheckedSendable((qp.baseAddress!, allScores.baseAddress!, op.baseAddress!, scratch))
                        func attend(_ part: Int, _ parts: Int) {
                            let (qbase, scoreBase, obase, scratchBase) = views.value
                            let sp = scoreBase + part * scoreSize, scratch = scratchBase + part * 64 * hd
                            for (number, s) in layouts.enumerated() {
                                for head in 0..<c.heads where (number * c.heads + head) % parts == part {
                                    let g = head / group
                                    let (qh, out) = (qbase + s.first * qd + head * hd, obase + s.first * qd + head * hd)
                                    attention(
                                        s, qh, s.keys[index] + g * hd, s.values[index] + g * hd, out, scores: sp, scratch: scratch, scale: scale,
                                        window: local ? c.slidingWindow : nil)
                                }
                            }
                        }
                        // BLAS is threaded already (fast numerics): its parts run one by one.
                        if blas {
                            for part in 0..<parts { attend(part, parts) }
                        } else {
                            parallelParts(attend)
                        }
                    }
                }
            }
            addResidual(layer.output, attended, rows: t, to: &x, through: layer.postAttentionNorm, scratch: &residual, adapted: (index, "output"), layouts: layouts)
            rmsNorm(x, layer.ffnNorm, into: &normed, rows: t)
            apply(layer.gateUp, normed, rows: t, into: &gateUp, adapted: (index, "gateUp"), layouts: layouts)
            gateUp.withUnsafeBufferPointer { gu in
                swiglu.withUnsafeMutableBufferPointer { out in
                    parallelRanges(t) { rows in
                        for row in rows {
                            let (gate, up, into) = (gu.baseAddress! + row * 2 * f, gu.baseAddress! + row * 2 * f + f, out.baseAddress! + row * f)
                            if gemma { ggmlGeGLU(gate: gate, up: up, into: into, count: f) } else { ggmlSwiGLU(gate: gate, up: up, into: into, count: f) }
                        }
                    }
                }
            }
            addResidual(layer.down, swiglu, rows: t, to: &x, through: layer.postFeedForwardNorm, scratch: &residual, adapted: (index, "down"), layouts: layouts)
        }
        // The rows whose logits are wanted, from every segment, through one pass of the head.
        var wanted: [Float] = [], counts: [Int] = []
        for (segment, s) in zip(segments, layouts) {
            let rows = segment.allLogits ? s.count : 1
            wanted += x[((s.first + s.count - rows) * h)..<((s.first + s.count) * h)]
            counts.append(rows)
        }
        let rows = counts.reduce(0, +)
        var final = [Float](repeating: 0, count: rows * h)
        rmsNorm(wanted, outputNorm, into: &final, rows: rows)
        var logits = [Float](repeating: 0, count: rows * c.vocabulary)
        apply(outputHead, final, rows: rows, into: &logits)
        if let cap = c.finalLogitSoftcap {
            for i in logits.indices { logits[i] = Foundation.tanh(logits[i] * (1 / cap)) * cap }
        }
        var offset = 0
        return counts.map { count in
            defer { offset += count }
            return Array(logits[(offset * c.vocabulary)..<((offset + count) * c.vocabulary)])
        }
    }

    /// `projection` of `x` added to the residual stream `x` (llama), or normed first (Gemma's
    /// post-attention and post-feed-forward norms) by way of `scratch`.
    private func addResidual(
        _ projection: Projection, _ input: [Float], rows t: Int, to x: inout [Float], through norm: [Float]?, scratch: inout [Float], adapted: (Int, String),
        layouts: [SegmentLayout]
    ) {
        guard let norm else {
            apply(projection, input, rows: t, into: &x, accumulate: true, adapted: adapted, layouts: layouts)
            return
        }
        apply(projection, input, rows: t, into: &scratch, adapted: adapted, layouts: layouts)
        rmsNorm(scratch, norm, into: &scratch, rows: t)
        for i in 0..<(t * configuration.hidden) { x[i] = scratch[i] + x[i] }
    }

    /// One head of one segment: `out = softmax(q Kᵀ · scale) V` over the keys it may see
    /// (within the last `window` positions, when given).
    private func attention(
        _ s: SegmentLayout, _ qh: UnsafePointer<Float>, _ kg: UnsafePointer<Float>, _ vg: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        scores sp: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, scale: Float, window: Int?
    ) {
        let c = configuration
        let (h, kv, hd, t, start, padded) = (c.queryDim, c.kvDim, c.headDim, s.count, s.start, s.padded)
        switch s.order {
        case .vecDot: attentionScoresOneToken(qh, kg, keyStride: kv, columns: s.total, dim: hd, into: sp)
        case .tinyBLAS:
            attentionScores(qh, queryStride: h, kg, keyStride: kv, rows: t, start: start, visibleFrom: s.branchStart, dim: hd, into: sp, outStride: padded)
        case .blas: gemm(qh, kg, sp, m: t, n: s.total, k: hd, transposeB: true, lda: h, ldb: kv, ldc: padded)
        }
        for row in 0..<t {
            let r = sp + row * padded
            if let window {
                // Keys `window` or more positions back are masked, as ggml's mask does. Cache
                // rows before `start` are at their own positions; later columns are this row's
                // branch in the batched and one-token layouts, every new row in cache order.
                let position = s.positions[row]
                let columns = s.order == .blas ? start + row + 1 : 2 * start + row + 1 - s.branchStart[row]
                for j in 0..<columns {
                    let key = j < start ? j : s.order == .blas ? s.positions[j - start] : s.positions[s.branchStart[row] - start + j - start]
                    if position - key >= window { r[j] = -.infinity }
                }
            }
            if s.order == .blas {
                // Cache order (the product with V below runs over every row): the columns of
                // other branches are masked.
                for j in start..<s.branchStart[row] { r[j] = -.infinity }
                ggmlSoftmax(r, count: start + row + 1, padded: padded, scale: scale)
                continue
            }
            // The cache before `start`, then this row's branch up to itself, laid out as if
            // alone (see attentionScores).
            let visible = 2 * start + row + 1 - s.branchStart[row]
            ggmlSoftmax(r, count: visible, padded: (visible + 15) / 16 * 16, scale: scale)
            roundThroughHalf(r, count: visible)
            if s.order == .vecDot {
                attentionValuesOneToken(r, count: visible, vg, valueStride: kv, dim: hd, into: out + row * h, scratch: scratch)
            }
        }
        switch s.order {
        case .blas: gemm(sp, vg, out, m: t, n: hd, k: s.total, lda: padded, ldb: kv, ldc: h)
        case .vecDot: break
        case .tinyBLAS:
            // Four (AVX-512) or two rows of one branch at a time share the loads of their value rows.
            var row = 0
            while row < t {
                let visible = 2 * start + row + 1 - s.branchStart[row], rows = ValueRows(from: start, by: s.branchStart[row] - start)
                if row + 3 < t, s.branchStart[row + 3] == s.branchStart[row],
                    attentionValuesFour(sp + row * padded, weightStride: padded, count: visible, rows: rows, vg, valueStride: kv, dim: hd, into: out + row * h, outStride: h, scratch: scratch)
                {
                    row += 4
                } else if row + 1 < t, s.branchStart[row + 1] == s.branchStart[row], hd % 64 == 0 {
                    attentionValuesTwo(
                        sp + row * padded, count: visible, sp + (row + 1) * padded, count: visible + 1, rows: rows, vg, valueStride: kv, dim: hd,
                        into: out + row * h, out + (row + 1) * h, scratch: scratch)
                    row += 2
                } else {
                    attentionValues(sp + row * padded, count: visible, rows: rows, vg, valueStride: kv, dim: hd, into: out + row * h, scratch: scratch)
                    row += 1
                }
            }
        }
    }
}
