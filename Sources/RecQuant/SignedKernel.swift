#if arch(x86_64)
    import RecQuantWide

    /// Rows `first..<end` of a product of several tokens with signed byte quants (Q8_0, Q5_0) on
    /// the wide path: two rows at a time, unpacked (with their `signedCorrections`) once per
    /// tile of 64 tokens, whose activations stay in cache, then `signedTile` over the tile eight
    /// tokens at a time, remainders included. The sums are `kernel`'s, bit for bit.
    @inline(never)
    func signedKernel<L: BlockLayout>(_: L.Type, _ o: Operands, rows first: Int, _ end: Int) {
        let blocks = o.blocks, size = o.blockBytes, rowBytes = size * blocks
        let quants = UnsafeMutablePointer<Quants>.allocate(capacity: 2 * blocks)
        let corrections = UnsafeMutablePointer<SIMD16<Int32>>.allocate(capacity: 2 * blocks)
        let d = UnsafeMutablePointer<Float>.allocate(capacity: 2 * blocks)
        let sums = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 16)
        defer {
            quants.deallocate()
            corrections.deallocate()
            d.deallocate()
            sums.deallocate()
        }
        let pairs = o.pairs!
        for tile in Swift.stride(from: 0, to: o.tokens, by: 64) {
            let tileEnd = min(o.tokens, tile + 64)
            for r in Swift.stride(from: first, to: end, by: 2) {
                let rows = min(2, end - r)
                for i in 0..<rows {
                    for b in 0..<blocks {
                        let block = o.data + (r + i) * rowBytes + b * size
                        quants[i * blocks + b] = L.unpack(block + o.header)
                        d[i * blocks + b] = half(block)
                    }
                    signedCorrections(blocks: blocks, weights: UnsafeRawPointer(quants + i * blocks), into: corrections + i * blocks)
                }
                for t in Swift.stride(from: tile, to: tileEnd, by: 8) {
                    let count = min(8, tileEnd - t)
                    signedTile(
                        count: count, rows: rows, blocks: blocks, weights: UnsafeRawPointer(quants), corrections: corrections, d: d,
                        pairs: pairs + t / 2 * blocks * 64, scales: o.xScalesByBlock + t, tokens: o.tokens, into: sums)
                    for i in 0..<rows {
                        for j in 0..<count {
                            let value = horizontalSum(sums[8 * i + j]), at = o.out + (t + j) * o.stride + r + i
                            at.pointee = o.accumulate ? at.pointee + value : value
                        }
                    }
                }
            }
        }
    }
#endif
