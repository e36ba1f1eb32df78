import Foundation
import RecCore
#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

// Matrix-vector and matrix-matrix products on ggml's block-quantised weights, with ggml's own
// arithmetic: activations are quantised per block of 32 to 8 bits (Q8_1 against Q4_1 weights,
// Q8_0 against Q4_0 and Q8_0), each block's integer dot product is split into eight partial
// sums of four consecutive values (`maddubs` then `madd`, as ggml's AVX2 code does), and those
// are scaled and accumulated lane by lane with fused multiply-adds, then summed in ggml's
// order. Integer sums are exact whichever instructions compute them, and every rounding step
// is ggml's AVX2 path's. The order is fixed here, whatever the CPU or the thread count, so the
// results are the same on every machine (llama.cpp's vary with the kernels it picks).
//
// This module is compiled for Haswell (AVX2, FMA, F16C, BMI2; see Package.swift) and is kept
// small on purpose: nothing here is @inlinable, so no caller compiled for the baseline inlines
// these loops, and `BlockQuantizedMatrix.supported` tells callers whether this CPU can run them.
// Elsewhere than x86-64 the same kernels run on portable Swift (`Quants`, `lanes`).

/// Weights `[rows, columns]` in one of ggml's block formats, kept in ggml's own bytes: every
/// block's Float16 scale `d` (and, for Q4_1, offset `m`) beside its quants, so one token's
/// product streams the weights once, as llama.cpp does (generation is bound by memory).
public struct BlockQuantizedMatrix: Sendable {
    public enum Format: String, Sendable {
        case q4_0 = "Q4_0", q4_1 = "Q4_1", q5_0 = "Q5_0", q5_1 = "Q5_1", q8_0 = "Q8_0"

        /// Bytes of one block of 32 values.
        public var blockBytes: Int {
            switch self {
            case .q4_0: 18;
            case .q4_1: 20;
            case .q5_0: 22;
            case .q5_1: 24;
            case .q8_0: 34
            }
        }
        /// Bytes before a block's quants (`d`, and `m` for Q4_1 and Q5_1). Q4 quants are 16
        /// bytes, byte j holding value j in its low nibble and value j + 16 in its high one; Q5's
        /// are its 4 bytes of fifth bits and then those 16; Q8_0's are 32 signed bytes.
        var header: Int { self == .q4_1 || self == .q5_1 ? 4 : 2 }
    }
    public let format: Format
    public let rows: Int, columns: Int
    /// Blocks per row.
    public var blocks: Int { columns / 32 }
    /// The blocks, row by row, as ggml stores them.
    let data: [UInt8]

    /// Reads `rows` rows of `columns` values stored in ggml's layout at `source`.
    public init(format: Format, rows: Int, columns: Int, source: UnsafeRawPointer) {
        precondition(columns % 32 == 0)
        self.format = format
        self.rows = rows
        self.columns = columns
        data = Array(UnsafeRawBufferPointer(start: source, count: rows * columns / 32 * format.blockBytes))
    }

    /// Matrices of one format and width stacked row-wise (query, key and value, say).
    public init(stacking parts: [BlockQuantizedMatrix]) {
        precondition(!parts.isEmpty && parts.allSatisfy { $0.format == parts[0].format && $0.columns == parts[0].columns })
        format = parts[0].format
        columns = parts[0].columns
        rows = parts.map(\.rows).reduce(0, +)
        data = parts.flatMap(\.data)
    }

    /// Row `row` widened to Float32 (`d q + m`, `d (q - 8)` or `d (q - 16)`), as ggml's
    /// `get_rows` does.
    public func row(_ row: Int) -> [Float] {
        var values = [Float](repeating: 0, count: columns)
        data.withUnsafeBytes { raw in
            for b in 0..<blocks {
                let block = raw.baseAddress! + (row * blocks + b) * format.blockBytes, q = block + format.header
                let d = half(block), m = format.header == 4 ? half(block + 2) : 0
                for j in 0..<32 {
                    values[b * 32 + j] =
                        switch format {
                        case .q8_0: Float(q.load(fromByteOffset: j, as: Int8.self)) * d
                        case .q4_0: Float(Int(j < 16 ? q.load(fromByteOffset: j, as: UInt8.self) & 15 : q.load(fromByteOffset: j - 16, as: UInt8.self) >> 4) - 8) * d
                        case .q4_1: Float(j < 16 ? q.load(fromByteOffset: j, as: UInt8.self) & 15 : q.load(fromByteOffset: j - 16, as: UInt8.self) >> 4) * d + m
                        case .q5_0, .q5_1:
                            Float(
                                Int(j < 16 ? q.load(fromByteOffset: 4 + j, as: UInt8.self) & 15 : q.load(fromByteOffset: 4 + j - 16, as: UInt8.self) >> 4)
                                    | Int(q.loadUnaligned(as: UInt32.self) >> UInt32(j) & 1) << 4 - (format == .q5_0 ? 16 : 0)) * d + m
                        }
                }
            }
        }
        return values
    }

    /// The CPU's feature flags as Linux lists them (empty where /proc/cpuinfo cannot be read).
    static let cpuFlags: Set<String> = {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(flags.split(separator: " ").map(String.init))
    }()

    /// Whether this CPU has the instructions the kernels are compiled for (Haswell: AVX2, FMA,
    /// F16C, BMI2). Elsewhere than x86-64 the module is portable Swift.
    public static let supported: Bool = {
        #if arch(x86_64)
            return ["avx2", "fma", "f16c", "bmi2"].allSatisfy(cpuFlags.contains)
        #else
            return true
        #endif
    }()

    /// Whether this CPU has AVX-512 with VNNI, which the wide kernels need.
    public static let wideAvailable: Bool = {
        #if arch(x86_64)
            return supported && ["avx512f", "avx512bw", "avx512vl", "avx512_vnni"].allSatisfy(cpuFlags.contains)
        #else
            return false
        #endif
    }()

    /// Whether products of several tokens take the wide path (`wideKernel`), two tokens per
    /// register (the same bits, fewer instructions): where the CPU has it, unless
    /// RECLAB_QUANT_KERNELS=avx2. Tests switch it to run both paths; both give the same bits,
    /// so a switch mid-run changes no result.
    nonisolated(unsafe) static var wide = wideAvailable && ProcessInfo.processInfo.environment["RECLAB_QUANT_KERNELS"] != "avx2"

    /// Whether a kernel takes its wide variant: as the caller asks, else as `wide` says, and only
    /// where the CPU has it.
    static func usesWide(_ asked: Bool?) -> Bool { (asked ?? wide) && wideAvailable }
}

/// Rows of Float32 activations quantised to 8 bits per block of 32 exactly as ggml's
/// `quantize_row_q8_1` does (`d = max|x| / 127`, `q = round(x · 127 / max|x|)`, `d` and
/// `s = d Σq` stored as Float16).
public struct QuantizedActivations {
    public let rows: Int, columns: Int
    /// The 8-bit values in their natural order.
    var values: [Int8]
    /// Per block, lane k: 8 (q[4k] + q[4k+1] + q[4k+2] + q[4k+3]), what Q4_0's `- 8` takes
    /// from a block's partial sums when its nibbles are multiplied unbiased.
    var biases: [SIMD8<Int32>]
    /// `d` per block, rounded through Float16.
    var scales: [Float]
    /// `s = d Σq` per block, rounded through Float16 (used against Q4_1).
    var sums: [Float]
    /// `scales` and `sums` indexed `[block · rows + row]`.
    var scalesByBlock: [Float], sumsByBlock: [Float]
    /// For the wide kernel when there are several rows: rows 2p and 2p + 1 of each
    /// block side by side (pair p, block b at `(p · blocks + b) · 64`), as x + 128 in unsigned
    /// bytes; an odd last row is paired with zeros.
    var pairs: [UInt8]

    public init(_ x: UnsafePointer<Float>, rows: Int, columns: Int) {
        precondition(columns % 32 == 0)
        self.rows = rows
        self.columns = columns
        let count = rows * columns / 32
        var scales = [Float](repeating: 0, count: count), sums = scales
        var biases = [SIMD8<Int32>](repeating: .zero, count: count)
        values = [Int8](unsafeUninitializedCapacity: count * 32) { out, initialized in
            initialized = count * 32
            for block in 0..<count {
                let (d, sum) = quantizeBlock(x + block * 32, into: out.baseAddress! + block * 32, biases: &biases[block])
                scales[block] = Float(Float16(d))
                sums[block] = Float(Float16(d * Float(sum)))
            }
        }
        self.scales = scales
        self.sums = sums
        self.biases = biases
        // Block-major copies, so the batched kernel loads eight tokens' values at once.
        let blocks = columns / 32
        scalesByBlock = (0..<count).map { scales[($0 % rows) * blocks + $0 / rows] }
        sumsByBlock = (0..<count).map { sums[($0 % rows) * blocks + $0 / rows] }
        pairs = rows > 1 && BlockQuantizedMatrix.wide ? Self.pairs(values, rows: rows, blocks: blocks) : []
    }

    static func pairs(_ values: [Int8], rows: Int, blocks: Int) -> [UInt8] {
        let count = (rows + 1) / 2 * blocks * 64
        return [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            initialized = count
            let to = UnsafeMutableRawPointer(out.baseAddress!)
            values.withUnsafeBytes { v in
                // Eight bytes at a time: x + 128 flips each byte's top bit.
                for row in 0..<((rows + 1) / 2 * 2) {
                    for word in 0..<(blocks * 4) {
                        let value = row < rows ? v.loadUnaligned(fromByteOffset: (row * blocks * 4 + word) * 8, as: UInt64.self) : 0
                        let at = ((row / 2) * blocks + word / 4) * 64 + (row % 2) * 32 + (word % 4) * 8
                        to.storeBytes(of: value ^ 0x8080_8080_8080_8080, toByteOffset: at, as: UInt64.self)
                    }
                }
            }
        }
    }
}

/// ggml's `quantize_row_q8_1` for one block of 32: `d = max|x| / 127` and `q = round(x / d)`
/// (as `x · (127 / max|x|)`, rounded to nearest even) into `q`; `biases` lane k gets
/// 8 (q[4k] + … + q[4k+3]). Returns `d` and `Σ q`.
@inline(__always) func quantizeBlock(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>, biases: inout SIMD8<Int32>) -> (Float, Int32) {
    #if arch(x86_64)
        let v = UnsafeRawPointer(x)
        let x0 = v.loadUnaligned(as: __m256.self), x1 = v.loadUnaligned(fromByteOffset: 32, as: __m256.self)
        let x2 = v.loadUnaligned(fromByteOffset: 64, as: __m256.self), x3 = v.loadUnaligned(fromByteOffset: 96, as: __m256.self)
        let sign = _mm256_set1_ps(-0.0)
        let m = _mm256_max_ps(
            _mm256_max_ps(_mm256_andnot_ps(sign, x0), _mm256_andnot_ps(sign, x1)),
            _mm256_max_ps(_mm256_andnot_ps(sign, x2), _mm256_andnot_ps(sign, x3)))
        var maximum = m[0]
        for i in 1..<8 { maximum = max(maximum, m[i]) }
        let d = maximum / 127, inverse = _mm256_set1_ps(maximum != 0 ? 127 / maximum : 0)
        // Rounded to nearest even by the default rounding mode, as ggml's `_mm256_round_ps`.
        let i0 = _mm256_cvtps_epi32(_mm256_mul_ps(x0, inverse)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(x1, inverse))
        let i2 = _mm256_cvtps_epi32(_mm256_mul_ps(x2, inverse)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(x3, inverse))
        // Packing interleaves 128-bit halves; the permutation restores the order (as ggml does).
        let packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3))
        let bytes = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
        UnsafeMutableRawPointer(q).storeBytes(of: bytes, as: __m256i.self)
        let lanes = unsafeBitCast(pairSums(_mm256_set1_epi8(8), bytes), to: SIMD8<Int32>.self)
        biases = lanes
        return (d, lanes.wrappedSum() / 8)
    #else
        var maximum: Float = 0
        for j in 0..<32 { maximum = max(maximum, abs(x[j])) }
        let d = maximum / 127, inverse = maximum != 0 ? 127 / maximum : 0
        var sum: Int32 = 0
        biases = .zero
        for j in 0..<32 {
            let value = Int8((x[j] * inverse).rounded(.toNearestOrEven))
            q[j] = value
            biases[j / 4] &+= 8 * Int32(value)
            sum += Int32(value)
        }
        return (d, sum)
    #endif
}
