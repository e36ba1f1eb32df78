#if arch(x86_64)
    import _Builtin_intrinsics.intel

    /// One row of k-quant super-blocks decoded once for many tokens (a prompt, scored
    /// continuations): per block, the 256 quants as the eight unsigned byte registers the AVX2
    /// product multiplies, the eight scale registers they are multiplied by, and the block's
    /// Float16 factors and integer mins. Decoding is what `Q4K.dot`, `Q5K.dot` and `Q6K.dot`
    /// repeat for every token; a token's product from the decoded row runs the same integer
    /// sums (exact, in any order) and the same Float32 steps in the same order, so it gives
    /// their bits.
    ///
    /// Per block b, run k (0..<8) of 32 values: `quants[8b + k]` against activation bytes
    /// `x + offset(k)`, scaled by `scales[8b + k]` (16-bit lanes).
    struct DecodedRow {
        let format: SuperBlockMatrix.Format
        let blocks: Int
        var quants: UnsafeMutablePointer<__m256i>, scales: UnsafeMutablePointer<__m256i>
        /// The block's `d` and `dmin` (Q4_K, Q5_K) as Float32.
        var d: UnsafeMutablePointer<Float>, dmin: UnsafeMutablePointer<Float>
        /// Q4_K and Q5_K: the eight 6-bit mins; Q6_K: the sixteen scales, for the −32 offset; as
        /// 16-bit lanes, which `vpmaddwd` multiplies by the activations' sums and adds in pairs.
        var mins: UnsafeMutablePointer<__m128i>, sixteen: UnsafeMutablePointer<__m256i>

        init(format: SuperBlockMatrix.Format, blocks: Int) {
            (self.format, self.blocks) = (format, blocks)
            quants = .allocate(capacity: 8 * blocks)
            scales = .allocate(capacity: 8 * blocks)
            d = .allocate(capacity: 2 * blocks)
            dmin = d + blocks
            mins = .allocate(capacity: blocks)
            sixteen = .allocate(capacity: blocks)
        }

        func deallocate() {
            quants.deallocate()
            scales.deallocate()
            d.deallocate()
            mins.deallocate()
            sixteen.deallocate()
        }

        /// Where run k's activations start within a block of 256.
        @inline(__always) func offset(_ k: Int) -> Int {
            format == .q6K ? 128 * (k / 4) + 32 * (k % 4) : 64 * (k / 2) + 32 * (k % 2)
        }

        /// Decodes the row whose blocks start at `w`.
        func decode(_ w: UnsafeRawPointer) {
            for b in 0..<blocks {
                let block = w + b * format.blockBytes, q = quants + 8 * b, s = scales + 8 * b
                switch format {
                case .q4K, .q5K:
                    d[b] = half(block)
                    dmin[b] = half(block + 2)
                    let packed = (block + 4).assumingMemoryBound(to: UInt8.self)
                    let qs = (block + (format == .q4K ? 16 : 48)).assumingMemoryBound(to: UInt8.self)
                    var mins = SIMD8<Int16>()
                    for j in 0..<8 {
                        let (scale, min) = kQuantScaleMin(j, packed)
                        s[j] = _mm256_set1_epi16(Int16(scale))
                        mins[j] = Int16(min)
                    }
                    self.mins[b] = unsafeBitCast(mins, to: __m128i.self)
                    let high = format == .q5K ? (block + 16).loadUnaligned(as: __m256i.self) : nil
                    for j in 0..<4 { (q[2 * j], q[2 * j + 1]) = kQuantRunPair(qs, fifthBits: high, j) }
                case .q6K:
                    d[b] = half(block + 208)
                    let ql = block.assumingMemoryBound(to: UInt8.self), qh = ql + 128
                    let scales = (block + 192).assumingMemoryBound(to: Int8.self)
                    var sixteen = SIMD16<Int16>()
                    for j in 0..<16 { sixteen[j] = Int16(scales[j]) }
                    self.sixteen[b] = unsafeBitCast(sixteen, to: __m256i.self)
                    for group in 0..<2 {
                        (q[4 * group], q[4 * group + 1], q[4 * group + 2], q[4 * group + 3]) = q6KRuns(ql, qh, group: group)
                        for run in 0..<4 {
                            s[4 * group + run] = _mm256_set_m128i(
                                _mm_set1_epi16(Int16(scales[8 * group + 2 * run + 1])), _mm_set1_epi16(Int16(scales[8 * group + 2 * run])))
                        }
                    }
                }
            }
        }

        /// This row's product with one token's activations (quants `y`, scales `d8`, 16-value
        /// sums `sums` and their pairs per run of 32 `runs`, as in `SuperBlockActivations`), in
        /// the arithmetic of the format's `dot`: the mins' integers come from one `vpmaddwd`
        /// (exact; each lane the same pair of products the `dot` adds).
        @inline(__always)
        func dot(_ y: UnsafePointer<Int8>, _ d8: UnsafePointer<Float>, _ sums: UnsafePointer<Int16>, _ runs: UnsafePointer<Int16>) -> Float {
            var acc = SIMD8<Float>(), accMins = SIMD4<Float>(), summs: Float = 0
            for b in 0..<blocks {
                let x = y + 256 * b, q = quants + 8 * b, s = scales + 8 * b
                var sum = _mm256_setzero_si256()
                for k in 0..<8 {
                    let xk = UnsafeRawPointer(x + offset(k)).loadUnaligned(as: __m256i.self)
                    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(s[k], _mm256_maddubs_epi16(q[k], xk)))
                }
                var lanes = unsafeBitCast(sum, to: SIMD8<Int32>.self)
                switch format {
                case .q4K, .q5K:
                    // Lane k: m_2k (Σx over run 2k) + m_2k+1 (Σx over run 2k + 1).
                    let weighted = unsafeBitCast(_mm_madd_epi16(mins[b], UnsafeRawPointer(runs + 8 * b).loadUnaligned(as: __m128i.self)), to: SIMD4<Int32>.self)
                    if format == .q4K {
                        accMins = accMins.addingProduct(SIMD4(repeating: -d8[b] * dmin[b]), SIMD4<Float>(weighted))
                    } else {
                        summs = summs.addingProduct(-d8[b] * dmin[b], Float(weighted.wrappedSum()))
                    }
                case .q6K:
                    // Lane k: s_2k (Σx over values 32k..<32k+16) + s_2k+1 (over the next 16).
                    let weighted = _mm256_madd_epi16(sixteen[b], UnsafeRawPointer(sums + 16 * b).loadUnaligned(as: __m256i.self))
                    lanes &-= 32 &* unsafeBitCast(weighted, to: SIMD8<Int32>.self)
                }
                acc = acc.addingProduct(SIMD8(repeating: d8[b] * d[b]), SIMD8<Float>(lanes))
            }
            switch format {
            case .q4K: return horizontalSum(acc) + ((accMins[0] + accMins[2]) + (accMins[1] + accMins[3]))
            case .q5K: return horizontalSum(acc) + summs
            case .q6K: return horizontalSum(acc)
            }
        }
    }
#endif
