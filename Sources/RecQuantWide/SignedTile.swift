#if arch(x86_64)
    import _Builtin_intrinsics.intel

    /// Each block's starting sums for `signedTile`: lane k of both halves gets
    /// −128 (w[4k] + w[4k+1] + w[4k+2] + w[4k+3]) for a row of signed quants (32 bytes per
    /// block), so that activations can enter `vpdpbusd` as the unsigned bytes x + 128:
    /// Σ (x + 128) w − 128 Σ w = Σ x w, in integers.
    public func signedCorrections(blocks: Int, weights: UnsafeRawPointer, into out: UnsafeMutablePointer<SIMD16<Int32>>) {
        let ones = _mm256_set1_epi8(1), pairs = _mm256_set1_epi16(1)
        for b in 0..<blocks {
            let w = weights.loadUnaligned(fromByteOffset: 32 &* b, as: __m256i.self)
            let sums = _mm256_madd_epi16(_mm256_maddubs_epi16(ones, w), pairs)
            let lanes = SIMD8<Int32>.zero &- unsafeBitCast(_mm256_slli_epi32(sums, 7), to: SIMD8<Int32>.self)
            out[b] = SIMD16(lowHalf: lanes, highHalf: lanes)
        }
    }

    /// Up to eight tokens' sums for one or two rows of a block matrix whose weights are signed
    /// bytes (Q8_0, Q5_0, Q4_0's nibbles less 8; Q4_1's and Q5_1's unsigned quants fit too) on
    /// AVX-512 with VNNI: a pair of tokens per 512-bit register against each row's block
    /// broadcast to both halves. `vpdpbusd` sums (x + 128) · w by fours from the row's
    /// `signedCorrections`, which gives the integers of ggml's AVX2 products (`vpsignb` or the
    /// Q4_0 bias, then `vpmaddubsw` and `vpmaddwd`; no pair of products reaches `vpmaddubsw`'s
    /// Int16 limit there, and none overflows here). Per token, lane k of block b is then
    /// converted to Float32 and added as `acc = fma(d_w d_x, lanes, acc)` in block order: the
    /// AVX2 kernel's rounding in the AVX2 kernel's order, so the same bits. Two rows share each
    /// load of the activations.
    ///
    /// - Parameters:
    ///   - count: tokens, 1 to 8 (`(count + 1) / 2` pairs).
    ///   - rows: 1 or 2; row 1's quants, corrections and scales follow row 0's (`blocks` on).
    ///   - weights: the rows' quants, 32 signed bytes per block.
    ///   - corrections: the rows' `signedCorrections`.
    ///   - d: the rows' block scales.
    ///   - pairs: the first pair's activations as `QuantizedActivations.pairs` lays them out:
    ///     pair p, block b at `(p · blocks + b) · 64`, the two tokens' x + 128 in its halves.
    ///   - scales: `xScalesByBlock` at the first token, block 0 (block b at `b · tokens`).
    ///   - offsets: Q4_1's and Q5_1's block offsets `m` (row 1's `blocks` on) and the
    ///     activations' `xSumsByBlock` at the first token, block 0; nil for the other formats.
    ///   - out: per row, eight accumulators of eight lanes, one per token (row r, token i at
    ///     `8 r + i`), then the rows' `summs` (zero without offsets) at 16 and 17.
    public func signedTile(
        count: Int, rows: Int, blocks: Int, weights: UnsafeRawPointer, corrections: UnsafePointer<SIMD16<Int32>>, d: UnsafePointer<Float>,
        pairs: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, tokens: Int, offsets: (m: UnsafePointer<Float>, sums: UnsafePointer<Float>)?,
        into out: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        // The full tile as its own instances, so their loops have no test for missing pairs,
        // rows or offsets.
        if count == 8 && rows == 2 {
            if let offsets {
                signedTileSpecialised(
                    count: 8, rows: 2, blocks: blocks, weights: weights, corrections: corrections, d: d, pairs: pairs, scales: scales, tokens: tokens,
                    offsets: offsets, into: out)
            } else {
                signedTileSpecialised(
                    count: 8, rows: 2, blocks: blocks, weights: weights, corrections: corrections, d: d, pairs: pairs, scales: scales, tokens: tokens,
                    offsets: nil, into: out)
            }
        } else {
            signedTileSpecialised(
                count: count, rows: rows, blocks: blocks, weights: weights, corrections: corrections, d: d, pairs: pairs, scales: scales, tokens: tokens,
                offsets: offsets, into: out)
        }
    }

    @inline(__always)
    private func signedTileSpecialised(
        count: Int, rows: Int, blocks: Int, weights: UnsafeRawPointer, corrections: UnsafePointer<SIMD16<Int32>>, d: UnsafePointer<Float>,
        pairs: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, tokens: Int, offsets: (m: UnsafePointer<Float>, sums: UnsafePointer<Float>)?,
        into out: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        let pairCount = (count + 1) / 2, two = rows == 2
        // Row 0's accumulators a, row 1's b; pair p's two tokens in the low and high halves.
        var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0
        var summs0 = SIMD8<Float>(), summs1 = summs0
        // Lanes 0-7 take scale 2p, lanes 8-15 scale 2p + 1.
        @inline(__always) func pick(_ p: Int32) -> __m512i {
            unsafeBitCast(SIMD16<Int32>(lowHalf: SIMD8(repeating: 2 &* p), highHalf: SIMD8(repeating: 2 &* p &+ 1)), to: __m512i.self)
        }
        let (pick0, pick1, pick2, pick3) = (pick(0), pick(1), pick(2), pick(3))
        let pairStride = 64 &* blocks
        // The tokens' values of block `blk` in a block-major array (`tokens` per block), zero
        // past `count`.
        @inline(__always) func tokensOf(_ values: UnsafePointer<Float>, _ blk: Int) -> SIMD8<Float> {
            let at = values + blk &* tokens
            if count == 8 { return UnsafeRawPointer(at).loadUnaligned(as: SIMD8<Float>.self) }
            var eight = SIMD8<Float>()
            for i in 0..<count { eight[i] = at[i] }
            return eight
        }
        for blk in 0..<blocks {
            let xScales = tokensOf(scales, blk)
            if let offsets {
                // The offsets' chains `summs = fma(m, s, summs)`, eight tokens' lanes at once.
                let s = tokensOf(offsets.sums, blk)
                summs0 = summs0.addingProduct(SIMD8(repeating: offsets.m[blk]), s)
                if two { summs1 = summs1.addingProduct(SIMD8(repeating: offsets.m[blocks &+ blk]), s) }
            }
            let x = UnsafeRawPointer(pairs + 64 &* blk)
            @inline(__always) func activations(_ p: Int) -> __m512i { x.loadUnaligned(fromByteOffset: p &* pairStride, as: __m512i.self) }
            @inline(__always) func row(_ r: Int) -> (w: __m512i, c: __m512i, scale: __m512) {
                let w = _mm512_broadcast_i64x4(weights.loadUnaligned(fromByteOffset: 32 &* (r &* blocks &+ blk), as: __m256i.self))
                let eight = SIMD8(repeating: d[r &* blocks &+ blk]) * xScales
                return (w, unsafeBitCast(corrections[r &* blocks &+ blk], to: __m512i.self), SIMD16(lowHalf: eight, highHalf: eight))
            }
            @inline(__always) func step(_ acc: inout SIMD16<Float>, _ r: (w: __m512i, c: __m512i, scale: __m512), _ x: __m512i, _ pick: __m512i) {
                acc = acc.addingProduct(_mm512_permutexvar_ps(pick, r.scale), _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(r.c, x, r.w)))
            }
            let r0 = row(0), r1 = two ? row(1) : r0
            // Pair p's activations, loaded once for both rows.
            @inline(__always) func pair(_ p: Int, _ pick: __m512i, _ a: inout SIMD16<Float>, _ b: inout SIMD16<Float>) {
                let x = activations(p)
                step(&a, r0, x, pick)
                if two { step(&b, r1, x, pick) }
            }
            pair(0, pick0, &a0, &b0)
            if pairCount > 1 { pair(1, pick1, &a1, &b1) }
            if pairCount > 2 { pair(2, pick2, &a2, &b2) }
            if pairCount > 3 { pair(3, pick3, &a3, &b3) }
        }
        (out[0], out[1], out[2], out[3]) = (a0.lowHalf, a0.highHalf, a1.lowHalf, a1.highHalf)
        (out[4], out[5], out[6], out[7]) = (a2.lowHalf, a2.highHalf, a3.lowHalf, a3.highHalf)
        if two {
            (out[8], out[9], out[10], out[11]) = (b0.lowHalf, b0.highHalf, b1.lowHalf, b1.highHalf)
            (out[12], out[13], out[14], out[15]) = (b2.lowHalf, b2.highHalf, b3.lowHalf, b3.highHalf)
        }
        (out[16], out[17]) = (summs0, summs1)
    }
#endif
