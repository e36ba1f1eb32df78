#if arch(x86_64)
    import _Builtin_intrinsics.intel

    /// One block's 32 activation bytes of two tokens in one register: `low`'s in the low half,
    /// `high`'s in the high half.
    @inline(__always) func twoTokens(_ low: UnsafePointer<Int8>, _ high: UnsafePointer<Int8>) -> __m512i {
        __m512i(lowHalf: UnsafeRawPointer(low).loadUnaligned(as: __m256i.self), highHalf: UnsafeRawPointer(high).loadUnaligned(as: __m256i.self))
    }

    /// Eight tokens' sums for one row of a 4-bit block matrix on AVX-512 with VNNI: two tokens
    /// per 512-bit register, the weights' 32 quants broadcast to both halves. Per token, lane k
    /// of block b is `Σ_r w[4k+r] x[4k+r]` (less the Q4_0 bias), converted to Float32 and added
    /// as `acc = fma(scale, lanes, acc)` in block order: the integers and the order of every
    /// rounding are the AVX2 kernel's, so the sums are the same bits, with half the instructions.
    ///
    /// - Parameters:
    ///   - weights: the row's quants, 32 unpacked bytes per block (unsigned nibbles).
    ///   - d: the row's block scales.
    ///   - x: token `t`'s activation bytes of block 0; token `t + i` starts `i · step` bytes on.
    ///   - scales: `xScalesByBlock` at token `t` of block 0 (block b at `b · tokens`).
    ///   - biases: Q4_0's per-(token, block) biases at token `t`, block 0 (token stride
    ///     `blocks`), or nil (Q4_1).
    ///   - offsets: Q4_1's block offsets `m` and the activations' `xSumsByBlock` at token `t`
    ///     of block 0, whose products `summs = fma(m, s, summs)` (eight tokens' lanes) run in the
    ///     same loop, beside the other chains; nil for Q4_0.
    ///   - out: eight accumulators of eight lanes, one per token, then the eight tokens' summs.
    public func nibbleTileEight(
        blocks: Int, weights: UnsafeRawPointer, d: UnsafePointer<Float>, x: UnsafePointer<Int8>, step: Int,
        scales: UnsafePointer<Float>, tokens: Int, biases: UnsafePointer<SIMD8<Int32>>?, offsets: (m: UnsafePointer<Float>, sums: UnsafePointer<Float>)?,
        into out: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        // One loop per layout, so that neither tests for biases or offsets inside it.
        if let biases {
            nibbleTileEightSpecialised(blocks: blocks, weights: weights, d: d, x: x, step: step, scales: scales, tokens: tokens, biases: biases, offsets: nil, into: out)
        } else if let offsets {
            nibbleTileEightSpecialised(blocks: blocks, weights: weights, d: d, x: x, step: step, scales: scales, tokens: tokens, biases: nil, offsets: offsets, into: out)
        } else {
            nibbleTileEightSpecialised(blocks: blocks, weights: weights, d: d, x: x, step: step, scales: scales, tokens: tokens, biases: nil, offsets: nil, into: out)
        }
    }

    @inline(__always)
    private func nibbleTileEightSpecialised(
        blocks: Int, weights: UnsafeRawPointer, d: UnsafePointer<Float>, x: UnsafePointer<Int8>, step: Int,
        scales: UnsafePointer<Float>, tokens: Int, biases: UnsafePointer<SIMD8<Int32>>?, offsets: (m: UnsafePointer<Float>, sums: UnsafePointer<Float>)?,
        into out: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, summs = SIMD8<Float>()
        let zero = _mm512_setzero_si512()
        @inline(__always) func pair(_ w: __m512i, _ at: UnsafePointer<Int8>) -> __m512i {
            _mm512_dpbusd_epi32(zero, w, twoTokens(at, at + step))
        }
        @inline(__always) func lanes(_ sums: __m512i, _ b: Int, _ i: Int) -> SIMD16<Float> {
            guard let biases else { return _mm512_cvtepi32_ps(sums) }
            let bias = SIMD16<Int32>(lowHalf: biases[i &* blocks &+ b], highHalf: biases[(i &+ 1) &* blocks &+ b])
            return _mm512_cvtepi32_ps(_mm512_sub_epi32(sums, unsafeBitCast(bias, to: __m512i.self)))
        }
        @inline(__always) func broadcast(_ s: SIMD8<Float>, _ i: Int) -> SIMD16<Float> {
            SIMD16(lowHalf: SIMD8(repeating: s[i]), highHalf: SIMD8(repeating: s[i + 1]))
        }
        for b in 0..<blocks {
            let w = _mm512_broadcast_i64x4(weights.loadUnaligned(fromByteOffset: 32 &* b, as: __m256i.self))
            let scale = SIMD8(repeating: d[b]) * UnsafeRawPointer(scales + b &* tokens).loadUnaligned(as: SIMD8<Float>.self)
            let xb = x + 32 &* b
            a0 = a0.addingProduct(broadcast(scale, 0), lanes(pair(w, xb), b, 0))
            a1 = a1.addingProduct(broadcast(scale, 2), lanes(pair(w, xb + 2 &* step), b, 2))
            a2 = a2.addingProduct(broadcast(scale, 4), lanes(pair(w, xb + 4 &* step), b, 4))
            a3 = a3.addingProduct(broadcast(scale, 6), lanes(pair(w, xb + 6 &* step), b, 6))
            if let offsets {
                summs = summs.addingProduct(SIMD8(repeating: offsets.m[b]), UnsafeRawPointer(offsets.sums + b &* tokens).loadUnaligned(as: SIMD8<Float>.self))
            }
        }
        (out[0], out[1], out[2], out[3]) = (a0.lowHalf, a0.highHalf, a1.lowHalf, a1.highHalf)
        (out[4], out[5], out[6], out[7]) = (a2.lowHalf, a2.highHalf, a3.lowHalf, a3.highHalf)
        out[8] = summs
    }

    /// `nibbleTileEight` for the last `count` (1 to 7) tokens of a product: pairs of tokens as
    /// there, an odd last token paired with itself (its copy is discarded), and every per-token
    /// value read only for the tokens that exist. `out[i]` for i < count, the summs in `out[8]`.
    public func nibbleTileFew(
        count: Int, blocks: Int, weights: UnsafeRawPointer, d: UnsafePointer<Float>, x: UnsafePointer<Int8>, step: Int,
        scales: UnsafePointer<Float>, tokens: Int, biases: UnsafePointer<SIMD8<Int32>>?, offsets: (m: UnsafePointer<Float>, sums: UnsafePointer<Float>)?,
        into out: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        precondition((1..<8).contains(count))
        var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, summs = SIMD8<Float>()
        let zero = _mm512_setzero_si512(), pairs = (count + 1) / 2
        /// Token p's partner: the next one, or itself when p is the last.
        @inline(__always) func partner(_ p: Int) -> Int { min(p + 1, count - 1) }
        @inline(__always) func lanes(_ w: __m512i, _ xb: UnsafePointer<Int8>, _ b: Int, _ i: Int) -> SIMD16<Float> {
            let sums = _mm512_dpbusd_epi32(zero, w, twoTokens(xb + i * step, xb + partner(i) * step))
            guard let biases else { return _mm512_cvtepi32_ps(sums) }
            let bias = SIMD16<Int32>(lowHalf: biases[i * blocks + b], highHalf: biases[partner(i) * blocks + b])
            return _mm512_cvtepi32_ps(_mm512_sub_epi32(sums, unsafeBitCast(bias, to: __m512i.self)))
        }
        @inline(__always) func broadcast(_ s: SIMD8<Float>, _ i: Int) -> SIMD16<Float> {
            SIMD16(lowHalf: SIMD8(repeating: s[i]), highHalf: SIMD8(repeating: s[partner(i)]))
        }
        for b in 0..<blocks {
            let w = _mm512_broadcast_i64x4(weights.loadUnaligned(fromByteOffset: 32 * b, as: __m256i.self))
            var perToken = SIMD8<Float>(), activationSums = SIMD8<Float>()
            for i in 0..<count {
                perToken[i] = scales[b * tokens + i]
                if let offsets { activationSums[i] = offsets.sums[b * tokens + i] }
            }
            let scale = SIMD8(repeating: d[b]) * perToken, xb = x + 32 * b
            a0 = a0.addingProduct(broadcast(scale, 0), lanes(w, xb, b, 0))
            if pairs > 1 { a1 = a1.addingProduct(broadcast(scale, 2), lanes(w, xb, b, 2)) }
            if pairs > 2 { a2 = a2.addingProduct(broadcast(scale, 4), lanes(w, xb, b, 4)) }
            if pairs > 3 { a3 = a3.addingProduct(broadcast(scale, 6), lanes(w, xb, b, 6)) }
            if let offsets { summs = summs.addingProduct(SIMD8(repeating: offsets.m[b]), activationSums) }
        }
        // Every half is written (out has room for eight); the caller reads the first `count`.
        (out[0], out[1], out[2], out[3]) = (a0.lowHalf, a0.highHalf, a1.lowHalf, a1.highHalf)
        (out[4], out[5], out[6], out[7]) = (a2.lowHalf, a2.highHalf, a3.lowHalf, a3.highHalf)
        out[8] = summs
    }
#endif
