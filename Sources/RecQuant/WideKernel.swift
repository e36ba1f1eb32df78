#if arch(x86_64)
    import RecQuantWide
    import _Builtin_intrinsics.intel

    /// Rows `first..<end` of a product of several tokens on the wide path (AVX-512 VNNI), any
    /// block format: two rows at a time, unpacked once per tile of 128 tokens (whose activations
    /// stay in cache) into signed weights (Q4_0's nibbles less 8) with their
    /// `signedCorrections`, then `signedTile` over the tile eight tokens at a time, remainders
    /// included (Q4_1 and Q5_1 with their offsets' chains). The sums are `kernel`'s, bit for bit.
    @inline(never)
    func wideKernel<L: BlockLayout>(_: L.Type, _ o: Operands, rows first: Int, _ end: Int) {
        let blocks = o.blocks, size = o.blockBytes, rowBytes = size * blocks
        let quants = UnsafeMutablePointer<Quants>.allocate(capacity: 2 * blocks)
        let corrections = UnsafeMutablePointer<SIMD16<Int32>>.allocate(capacity: 2 * blocks)
        let d = UnsafeMutablePointer<Float>.allocate(capacity: 4 * blocks), m = d + 2 * blocks
        let sums = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 18)
        defer {
            quants.deallocate()
            corrections.deallocate()
            d.deallocate()
            sums.deallocate()
        }
        let pairs = o.pairs!, centre = _mm256_set1_epi8(L.centre)
        for tile in Swift.stride(from: 0, to: o.tokens, by: 128) {
            let tileEnd = min(o.tokens, tile + 128)
            for r in Swift.stride(from: first, to: end, by: 2) {
                let rows = min(2, end - r)
                for i in 0..<rows {
                    for b in 0..<blocks {
                        let block = o.data + (r + i) * rowBytes + b * size
                        let unpacked = L.unpack(block + o.header)
                        quants[i * blocks + b] = L.centre == 0 ? unpacked : _mm256_sub_epi8(unpacked, centre)
                        d[i * blocks + b] = half(block)
                        if L.hasOffsets { m[i * blocks + b] = half(block + 2) }
                    }
                    signedCorrections(blocks: blocks, weights: UnsafeRawPointer(quants + i * blocks), into: corrections + i * blocks)
                }
                for t in Swift.stride(from: tile, to: tileEnd, by: 8) {
                    let count = min(8, tileEnd - t)
                    signedTile(
                        count: count, rows: rows, blocks: blocks, weights: UnsafeRawPointer(quants), corrections: corrections, d: d,
                        pairs: pairs + t / 2 * blocks * 64, scales: o.xScalesByBlock + t, tokens: o.tokens,
                        offsets: L.hasOffsets ? (UnsafePointer(m), o.xSumsByBlock + t) : nil, into: sums)
                    for i in 0..<rows {
                        for j in 0..<count { o.store(r + i, t + j, sums[8 * i + j], sums[16 + i][j]) }
                    }
                }
            }
        }
    }
#endif
