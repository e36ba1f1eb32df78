import Foundation
import Testing

@testable import RecCore
@testable import RecQuant

/// ggml's raw block bytes for `rows` × `blocks` random blocks of a format.
func randomBlocks(_ format: BlockQuantizedMatrix.Format, rows: Int, blocks: Int, rng: inout SplitMix64) -> [UInt8] {
    var bytes: [UInt8] = []
    func half(_ x: Float) -> [UInt8] { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { Array($0) } }
    for _ in 0..<(rows * blocks) {
        bytes += half(rng.nextFloat() * 0.1 + 0.001)
        switch format {
        case .q4_0: bytes += (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case .q4_1: bytes += half(rng.nextFloat() - 0.5) + (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case .q8_0: bytes += (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case .q5_0: bytes += (0..<20).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case .q5_1: bytes += half(rng.nextFloat() - 0.5) + (0..<20).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
    }
    return bytes
}

/// ggml's arithmetic written out plainly (quants.c, AVX2 path): the activation row quantised
/// to Q8 (d and s rounded through Float16), integer dots of four consecutive values per lane,
/// `acc = fma(d_w d_x, lane, acc)` over blocks, `summs = fma(m, s, summs)`, then hsum + summs.
func ggmlDot(_ format: BlockQuantizedMatrix.Format, _ raw: [UInt8], row: Int, blocks: Int, _ x: [Float]) -> Float {
    let bytesPerBlock = format.blockBytes
    func half(_ at: Int) -> Float { Float(Float16(bitPattern: UInt16(raw[at]) | UInt16(raw[at + 1]) << 8)) }
    var acc = [Float](repeating: 0, count: 8), summs: Float = 0
    for b in 0..<blocks {
        let at = (row * blocks + b) * bytesPerBlock, v = Array(x[(32 * b)..<(32 * b + 32)])
        let amax = v.map(abs).max()!, d = amax / 127, id: Float = amax != 0 ? 127 / amax : 0
        let q = v.map { Int(($0 * id).rounded(.toNearestOrEven)) }
        let dx = Float(Float16(d)), sx = Float(Float16(d * Float(q.reduce(0, +))))
        let w: [Int] = (0..<32).map { j in
            switch format {
            case .q8_0: return Int(Int8(bitPattern: raw[at + 2 + j]))
            case .q4_0, .q4_1:
                let byte = raw[at + (format == .q4_1 ? 4 : 2) + j % 16], n = Int(j < 16 ? byte & 15 : byte >> 4)
                return format == .q4_0 ? n - 8 : n
            case .q5_0: return q5(raw, at, j) - 16
            case .q5_1: return q5(raw, at + 2, j)
            }
        }
        let scale = half(at) * dx
        for lane in 0..<8 {
            let sum = (0..<4).map { w[4 * lane + $0] * q[4 * lane + $0] }.reduce(0, +)
            acc[lane] = acc[lane].addingProduct(scale, Float(sum))
        }
        if format == .q4_1 || format == .q5_1 { summs = summs.addingProduct(half(at + 2), sx) }
    }
    let four = (0..<4).map { acc[$0] + acc[$0 + 4] }
    return ((four[0] + four[2]) + (four[1] + four[3])) + summs
}

/// Value j of the 5-bit block whose `qh` starts 2 bytes after `at` (Q5_0; Q5_1's `m` takes 2
/// more): its nibble, plus 16 when bit j of `qh` is set.
func q5(_ raw: [UInt8], _ at: Int, _ j: Int) -> Int {
    let byte = raw[at + 6 + j % 16], nibble = Int(j < 16 ? byte & 15 : byte >> 4)
    return nibble + Int(raw[at + 2 + j / 8] >> UInt8(j % 8) & 1) * 16
}

// Serialized: the wide-path tests switch a process-wide flag that the others read.
@Suite(.serialized, .enabled(if: BlockQuantizedMatrix.supported, "this CPU lacks AVX2, FMA or F16C"))
struct BlockQuantizedTests {
    @Test(arguments: [BlockQuantizedMatrix.Format.q4_0, .q4_1, .q5_0, .q5_1, .q8_0])
    func productsAreGGMLsBitForBit(format: BlockQuantizedMatrix.Format) {
        Self.checkProducts(format, wide: false)
    }

    /// The AVX-512 VNNI path of every format against the same plain arithmetic.
    @Test(
        .enabled(if: BlockQuantizedMatrix.wideAvailable, "this CPU lacks AVX-512 VNNI"), arguments: [BlockQuantizedMatrix.Format.q4_0, .q4_1, .q5_0, .q5_1, .q8_0])
    func wideProductsAreGGMLsBitForBit(format: BlockQuantizedMatrix.Format) {
        Self.checkProducts(format, wide: true)
    }

    static func checkProducts(_ format: BlockQuantizedMatrix.Format, wide: Bool) {
        let saved = BlockQuantizedMatrix.wide
        BlockQuantizedMatrix.wide = wide
        defer { BlockQuantizedMatrix.wide = saved }
        var rng = SplitMix64(seed: 11)
        // 9 rows (not a multiple of four), 3 blocks (an odd number: a half-empty pair), and
        // 1 to 131 tokens (the one-token kernel; the batched ones eight tokens at a time in
        // tiles of 128, with remainders in both).
        let (rows, blocks) = (9, 3)
        let raw = randomBlocks(format, rows: rows, blocks: blocks, rng: &rng)
        let matrix = raw.withUnsafeBytes { BlockQuantizedMatrix(format: format, rows: rows, columns: 32 * blocks, source: $0.baseAddress!) }
        for tokens in [1, 2, 4, 6, 7, 13, 41, 70, 131] {
            let x = (0..<(tokens * 32 * blocks)).map { _ in (rng.nextFloat() - 0.5) * 4 }
            var out = [Float](repeating: .nan, count: tokens * rows)
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { o in
                    matrix.multiply(QuantizedActivations(xp.baseAddress!, rows: tokens, columns: 32 * blocks), into: o.baseAddress!, stride: rows)
                }
            }
            for t in 0..<tokens {
                for r in 0..<rows {
                    let expected = ggmlDot(format, raw, row: r, blocks: blocks, Array(x[(t * 32 * blocks)..<((t + 1) * 32 * blocks)]))
                    #expect(out[t * rows + r].bitPattern == expected.bitPattern, "\(format) token \(t) row \(r): \(out[t * rows + r]) vs \(expected)")
                }
            }
        }
    }

    /// Activations quantised while the wide path is off (they carry no pairs) and multiplied
    /// with it on take the AVX2 kernels, not the wide one over an empty buffer.
    @Test(.enabled(if: BlockQuantizedMatrix.wideAvailable, "this CPU lacks AVX-512 VNNI"))
    func activationsWithoutPairsTakeTheOtherKernels() {
        let saved = BlockQuantizedMatrix.wide
        defer { BlockQuantizedMatrix.wide = saved }
        var rng = SplitMix64(seed: 13)
        let raw = randomBlocks(.q4_1, rows: 8, blocks: 2, rng: &rng)
        let matrix = raw.withUnsafeBytes { BlockQuantizedMatrix(format: .q4_1, rows: 8, columns: 64, source: $0.baseAddress!) }
        let x = (0..<(16 * 64)).map { _ in (rng.nextFloat() - 0.5) * 4 }
        BlockQuantizedMatrix.wide = false
        let activations = x.withUnsafeBufferPointer { QuantizedActivations($0.baseAddress!, rows: 16, columns: 64) }
        BlockQuantizedMatrix.wide = true
        var out = [Float](repeating: .nan, count: 16 * 8)
        out.withUnsafeMutableBufferPointer { matrix.multiply(activations, into: $0.baseAddress!, stride: 8) }
        for t in 0..<16 {
            for r in 0..<8 {
                let expected = ggmlDot(.q4_1, raw, row: r, blocks: 2, Array(x[(t * 64)..<((t + 1) * 64)]))
                #expect(out[t * 8 + r].bitPattern == expected.bitPattern, "token \(t) row \(r)")
            }
        }
    }

    @Test(arguments: [BlockQuantizedMatrix.Format.q4_0, .q4_1, .q5_0, .q5_1, .q8_0])
    func rowsWidenAsGGMLDequantises(format: BlockQuantizedMatrix.Format) {
        var rng = SplitMix64(seed: 5)
        let raw = randomBlocks(format, rows: 2, blocks: 3, rng: &rng)
        let matrix = raw.withUnsafeBytes { BlockQuantizedMatrix(format: format, rows: 2, columns: 96, source: $0.baseAddress!) }
        let bytesPerBlock = format.blockBytes
        func half(_ at: Int) -> Float { Float(Float16(bitPattern: UInt16(raw[at]) | UInt16(raw[at + 1]) << 8)) }
        let row = matrix.row(1)
        for b in 0..<3 {
            let at = (3 + b) * bytesPerBlock
            for j in 0..<32 {
                let expected: Float =
                    switch format {
                    case .q8_0: Float(Int8(bitPattern: raw[at + 2 + j])) * half(at)
                    case .q4_0: Float(Int(j < 16 ? raw[at + 2 + j] & 15 : raw[at + 2 + j - 16] >> 4) - 8) * half(at)
                    case .q4_1: Float(j < 16 ? raw[at + 4 + j] & 15 : raw[at + 4 + j - 16] >> 4) * half(at) + half(at + 2)
                    case .q5_0: Float(q5(raw, at, j) - 16) * half(at)
                    case .q5_1: Float(q5(raw, at + 2, j)) * half(at) + half(at + 2)
                    }
                #expect(row[32 * b + j] == expected)
            }
        }
    }

    /// Products of several tokens with k-quant rows (each row decoded once per tile of 128
    /// tokens) against the one-token kernels, which BlockProductTests holds to ggml's own
    /// bits: 5 rows, 2 super-blocks, and token counts up to one that crosses a tile.
    @Test(arguments: [SuperBlockMatrix.Format.q4K, .q5K, .q6K])
    func superBlockProductsOfManyTokensAreTheOneTokenKernels(format: SuperBlockMatrix.Format) {
        var rng = SplitMix64(seed: 17)
        let (rows, blocks) = (5, 2)
        func half(_ x: Float) -> [UInt8] { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { Array($0) } }
        var raw: [UInt8] = []
        for _ in 0..<(rows * blocks) {
            let random = (0..<(format.blockBytes - (format == .q6K ? 2 : 4))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            raw += format == .q6K ? random + half(rng.nextFloat() * 0.01 + 0.001) : half(rng.nextFloat() * 0.01 + 0.001) + half(rng.nextFloat() * 0.01) + random
        }
        let matrix = raw.withUnsafeBytes { SuperBlockMatrix(format: format, rows: rows, columns: 256 * blocks, source: $0.baseAddress!) }
        for tokens in [2, 9, 13, 70, 131] {
            let x = (0..<(tokens * 256 * blocks)).map { _ in (rng.nextFloat() - 0.5) * 4 }
            func product(_ range: Range<Int>) -> [Float] {
                var out = [Float](repeating: .nan, count: range.count * rows)
                x[(range.lowerBound * 256 * blocks)..<(range.upperBound * 256 * blocks)].withUnsafeBufferPointer { xp in
                    out.withUnsafeMutableBufferPointer { o in
                        matrix.multiply(SuperBlockActivations(xp.baseAddress!, rows: range.count, columns: 256 * blocks), into: o.baseAddress!, stride: rows)
                    }
                }
                return out
            }
            let batched = product(0..<tokens), alone = (0..<tokens).flatMap { product($0..<($0 + 1)) }
            for (i, (a, b)) in zip(batched, alone).enumerated() {
                #expect(a.bitPattern == b.bitPattern, "\(format) \(tokens) tokens: token \(i / rows) row \(i % rows): \(a) vs \(b)")
            }
        }
    }

    /// The vectorised quantisation of activations to Q8_K against ggml's
    /// `quantize_row_q8_K_ref` written out plainly, on blocks whose largest magnitude comes
    /// twice with opposite signs (the first decides the sign of the scale).
    @Test func superBlockActivationsQuantiseAsGGML() {
        var rng = SplitMix64(seed: 23)
        var x = (0..<(3 * 256)).map { _ in (rng.nextFloat() - 0.5) * 6 }
        x[256 + 40] = -9
        x[256 + 200] = 9
        x[512 + 3] = 9
        x[512 + 100] = -9
        let activations = x.withUnsafeBufferPointer { SuperBlockActivations($0.baseAddress!, rows: 3, columns: 256) }
        for block in 0..<3 {
            let v = Array(x[(256 * block)..<(256 * block + 256)])
            var largest: Float = 0, magnitude: Float = 0
            for value in v where abs(value) > magnitude { (magnitude, largest) = (abs(value), value) }
            let scale = -127 / largest
            let q = v.map { Int8(min(127, Int((scale * $0 + 12_582_912) - 12_582_912))) }
            #expect(Array(activations.quants[(256 * block)..<(256 * block + 256)]) == q)
            #expect(activations.d[block].bitPattern == (1 / scale).bitPattern)
            for group in 0..<16 { #expect(activations.bsums[16 * block + group] == q[(16 * group)..<(16 * group + 16)].reduce(0) { $0 + Int32($1) }) }
        }
    }

    @Test func stackedMatricesMultiplyLikeTheirParts() {
        var rng = SplitMix64(seed: 3)
        let a = randomBlocks(.q4_1, rows: 5, blocks: 2, rng: &rng), b = randomBlocks(.q4_1, rows: 3, blocks: 2, rng: &rng)
        let ma = a.withUnsafeBytes { BlockQuantizedMatrix(format: .q4_1, rows: 5, columns: 64, source: $0.baseAddress!) }
        let mb = b.withUnsafeBytes { BlockQuantizedMatrix(format: .q4_1, rows: 3, columns: 64, source: $0.baseAddress!) }
        let stacked = BlockQuantizedMatrix(stacking: [ma, mb])
        #expect(stacked.rows == 8)
        for r in 0..<3 { #expect(stacked.row(5 + r) == mb.row(r)) }
    }

    /// ggml's vectorised exp is within a few ulp of the correctly rounded one, flushes below
    /// -88 to 0 and overflows to +∞.
    @Test func ggmlExpTracksExp() {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<64 {
            let x = SIMD16<Float>((0..<16).map { _ in (rng.nextFloat() - 0.5) * 170 })
            let y = ggmlExp(x)
            for i in 0..<16 {
                let exact = Foundation.exp(Double(x[i]))
                if exact < Double(Float.leastNormalMagnitude) { continue }
                #expect(abs(Double(y[i]) - exact) <= 4 * Double(Float(exact).ulp), "exp(\(x[i]))")
            }
        }
        let edges = ggmlExp(SIMD16<Float>(repeating: -200))
        #expect(edges[0] == 0)
        #expect(ggmlExp(SIMD16<Float>(repeating: 200))[0] == .infinity)
        #expect(ggmlExp(SIMD16<Float>(repeating: -.infinity))[0] == 0)
    }

    @Test func forkJoinRunsEveryPartOnce() {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { counts.deallocate() }
        for _ in 0..<200 {
            counts.initialize(repeating: 0, count: 64)
            let target = UncheckedSendable(counts)
            parallelParts { part, parts in
                #expect(parts == ForkJoin.shared.workers + 1)
                target.value[part] += 1
            }
            for part in 0...ForkJoin.shared.workers { #expect(counts[part] == 1) }
        }
    }
}
