import Testing

@testable import RecCore
@testable import RecQuant

/// The two-row and (AVX-512) four-row attention paths against one row at a time, bit for bit:
/// scores over cached keys and a branch, and weighted values with a branch's rows laid out
/// after the shared ones.
struct AttentionPairsTests {
    @Test(arguments: [false, true]) func pairedRowsGiveTheBitsOfSingleRows(wide: Bool) {
        var rng = SplitMix64(seed: 29)
        let (dim, start, rows, stride) = (128, 5, 16, 160)
        // Rows 0-2 one branch, rows 3-9 another, rows 10-15 a third (their own keys after the
        // branch's start): runs of four rows, of two and single rows.
        let visibleFrom = [5, 5, 5, 8, 8, 8, 8, 8, 8, 8, 15, 15, 15, 15, 15, 15]
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextFloat() - 0.5 } }
        let q = random(rows * stride), k = random((start + rows) * stride), v = random((start + rows + 4) * stride)
        let outStride = 32
        var paired = [Float](repeating: 0, count: rows * outStride)
        // The wide path where asked for and the CPU has it, passed in rather than set globally,
        // as other suites switch `BlockQuantizedMatrix.wide` while this one runs.
        let wide = wide && BlockQuantizedMatrix.wideAvailable
        attentionScores(
            q, queryStride: stride, k, keyStride: stride, rows: rows, start: start, visibleFrom: visibleFrom, dim: dim, into: &paired, outStride: outStride, wide: wide)
        // Row i sees the start cached keys, then its branch's keys up to itself.
        for i in 0..<rows {
            let visible = 2 * start + i + 1 - visibleFrom[i]
            var expected = [Float](repeating: 0, count: visible)
            for j in 0..<visible {
                let key = j < start ? j : visibleFrom[i] + j - start
                var acc = SIMD16<Float>()
                for c in Swift.stride(from: 0, to: dim, by: 16) {
                    acc = acc.addingProduct(SIMD16(q[(i * stride + c)..<(i * stride + c + 16)]), SIMD16(k[(key * stride + c)..<(key * stride + c + 16)]))
                }
                expected[j] = reduce16(acc)
            }
            for j in 0..<visible { #expect(paired[i * outStride + j].bitPattern == expected[j].bitPattern, "score row \(i) column \(j)") }
        }
        // Values: weights of two rows of one branch, n and n + 1 long (weights 4 on read rows 6 on).
        let p0 = random(11), p1 = random(12), layout = ValueRows(from: 4, by: 2)
        var out0 = [Float](repeating: 0, count: dim), out1 = out0, alone0 = out0, alone1 = out0
        var scratch = [Float](repeating: 0, count: 32 * dim)
        attentionValuesTwo(p0, count: 11, p1, count: 12, rows: layout, v, valueStride: stride, dim: dim, into: &out0, &out1, scratch: &scratch)
        attentionValues(p0, count: 11, rows: layout, v, valueStride: stride, dim: dim, into: &alone0, scratch: &scratch)
        attentionValues(p1, count: 12, rows: layout, v, valueStride: stride, dim: dim, into: &alone1, scratch: &scratch)
        #expect(out0.map(\.bitPattern) == alone0.map(\.bitPattern))
        #expect(out1.map(\.bitPattern) == alone1.map(\.bitPattern))
        // Four rows of weights 11 to 14 long, 16 apart.
        let four = random(4 * 16)
        var outFour = [Float](repeating: 0, count: 4 * dim), scratchFour = [Float](repeating: 0, count: 64 * dim)
        let ran = attentionValuesFour(
            four, weightStride: 16, count: 11, rows: layout, v, valueStride: stride, dim: dim, into: &outFour, outStride: dim, scratch: &scratchFour, wide: wide)
        #expect(ran == wide, "the four-row path runs exactly when asked for on a CPU that has it")
        if ran {
            for r in 0..<4 {
                var alone = [Float](repeating: 0, count: dim)
                attentionValues(Array(four[(16 * r)...]), count: 11 + r, rows: layout, v, valueStride: stride, dim: dim, into: &alone, scratch: &scratch)
                #expect(outFour[(r * dim)..<((r + 1) * dim)].map(\.bitPattern) == alone.map(\.bitPattern), "four rows: row \(r)")
            }
        }
    }
}
