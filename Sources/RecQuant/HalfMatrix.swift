import RecCore

/// F16 weights `[rows, columns]` multiplied with ggml's arithmetic for them: the activations
/// rounded to Float16 (ggml's `vec_dot_type` for F16), then, for one token, `vec_dot_f16`'s
/// order (`vecDotF16`: four accumulators over steps of 64) and, for several, tinyBLAS's
/// (`tinyDot`: sixteen lanes, each the fused multiply-adds of its values in order, then
/// `reduce16`), which llama.cpp's AVX-512 build takes for batches. Every product of two
/// Float16 values is exact in Float32, so only the order of the sums is ggml's to follow.
public struct HalfMatrix: Sendable {
    public let rows: Int, columns: Int
    /// The weights widened to Float32 (exactly), row by row.
    let weights: [Float]

    /// Whether ggml's kernels take rows of `columns` values the way this type follows
    /// (`vec_dot_f16` in steps of 64; other widths end in a scalar tail, not followed).
    public static func takes(columns: Int) -> Bool { columns % 64 == 0 }

    /// Reads `rows` rows of little-endian Float16 values at `source`.
    public init(rows: Int, columns: Int, source: UnsafeRawPointer) {
        precondition(Self.takes(columns: columns))
        (self.rows, self.columns) = (rows, columns)
        weights = (0..<(rows * columns)).map { Float(Float16(bitPattern: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))) }
    }

    /// Row `row` as Float32 (an embedding lookup).
    public func row(_ row: Int) -> [Float] { Array(weights[(row * columns)..<((row + 1) * columns)]) }

    /// `out[t · stride + r] (+)= Σ_c W[r, c] x[t, c]` for `tokens` rows of `x`, rows split across
    /// the cores.
    public func multiply(_ x: UnsafePointer<Float>, tokens: Int, into out: UnsafeMutablePointer<Float>, stride: Int, accumulate: Bool = false) {
        let rounded = UnsafeMutablePointer<Float>.allocate(capacity: tokens * columns)
        defer { rounded.deallocate() }
        rounded.initialize(from: x, count: tokens * columns)
        roundThroughHalf(rounded, count: tokens * columns)
        let (rows, columns) = (self.rows, self.columns)
        weights.withUnsafeBufferPointer { w in
            let views = UncheckedSendable((w.baseAddress!, UnsafePointer(rounded), out))
            let count = min(ForkJoin.shared.workers + 1, max(1, rows / 4))
            ForkJoin.shared.run { chunk in
                guard chunk < count else { return }
                let (w, x, out) = views.value
                for r in (chunk * rows / count)..<((chunk + 1) * rows / count) {
                    for t in 0..<tokens {
                        let value =
                            tokens == 1 ? vecDotF16(w + r * columns, x + t * columns, count: columns) : tinyDot(w + r * columns, x + t * columns, count: columns)
                        let at = out + t * stride + r
                        at.pointee = accumulate ? at.pointee + value : value
                    }
                }
            }
        }
    }
}
