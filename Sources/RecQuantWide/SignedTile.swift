#if arch(x86_64)
    import _Builtin_intrinsics.intel

    /// Eight tokens' sums for one row of a block matrix with signed byte quants (Q8_0, Q5_0) on
    /// AVX-512 with VNNI: two tokens per 512-bit register, the block's 32 quants broadcast to
    /// both halves. ggml's AVX2 product multiplies |w| by x with w's sign (`vpsignb`, then
    /// `vpmaddubsw` and `vpmaddwd`); here x's bytes are negated where w is negative and
    /// `vpdpbusd` sums |w| · x by fours. Both give the same integers, since no pair of products
    /// reaches `vpmaddubsw`'s Int16 limit (|w| ≤ 128, |x| ≤ 127). Per token, lane k of block b
    /// is then converted to Float32 and added as `acc = fma(d_w d_x, lanes, acc)` in block
    /// order, the AVX2 kernel's rounding in the AVX2 kernel's order: the same bits, with about
    /// half the instructions.
    ///
    /// - Parameters:
    ///   - weights: the row's quants, 32 signed bytes per block.
    ///   - d: the row's block scales.
    ///   - x: token `t`'s activation bytes of block 0; token `t + i` starts `i · step` bytes on.
    ///   - scales: `xScalesByBlock` at token `t` of block 0 (block b at `b · tokens`).
    ///   - out: eight accumulators of eight lanes, one per token.
    public func signedTileEight(
        blocks: Int, weights: UnsafeRawPointer, d: UnsafePointer<Float>, x: UnsafePointer<Int8>, step: Int,
        scales: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0
        let zero = _mm512_setzero_si512()
        // Lanes 0-7 take scale 2p, lanes 8-15 scale 2p + 1.
        @inline(__always) func pick(_ p: Int32) -> __m512i {
            unsafeBitCast(SIMD16<Int32>(lowHalf: SIMD8(repeating: 2 &* p), highHalf: SIMD8(repeating: 2 &* p &+ 1)), to: __m512i.self)
        }
        let (pick0, pick1, pick2, pick3) = (pick(0), pick(1), pick(2), pick(3))
        for b in 0..<blocks {
            let w = _mm512_broadcast_i64x4(weights.loadUnaligned(fromByteOffset: 32 &* b, as: __m256i.self))
            let negative = _mm512_movepi8_mask(w), magnitude = _mm512_abs_epi8(w)
            let eight = SIMD8(repeating: d[b]) * UnsafeRawPointer(scales + b &* tokens).loadUnaligned(as: SIMD8<Float>.self)
            let scale: __m512 = SIMD16(lowHalf: eight, highHalf: eight)
            let xb = x + 32 &* b
            @inline(__always) func lanes(_ i: Int) -> SIMD16<Float> {
                let both = twoTokens(xb + i &* step, xb + (i &+ 1) &* step)
                let signed = _mm512_mask_sub_epi8(both, negative, zero, both)
                return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, magnitude, signed))
            }
            @inline(__always) func broadcast(_ pick: __m512i) -> SIMD16<Float> {
                _mm512_permutexvar_ps(pick, scale)
            }
            a0 = a0.addingProduct(broadcast(pick0), lanes(0))
            a1 = a1.addingProduct(broadcast(pick1), lanes(2))
            a2 = a2.addingProduct(broadcast(pick2), lanes(4))
            a3 = a3.addingProduct(broadcast(pick3), lanes(6))
        }
        (out[0], out[1], out[2], out[3]) = (a0.lowHalf, a0.highHalf, a1.lowHalf, a1.highHalf)
        (out[4], out[5], out[6], out[7]) = (a2.lowHalf, a2.highHalf, a3.lowHalf, a3.highHalf)
    }
#endif
