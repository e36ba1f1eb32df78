import Foundation

/// What ggml turns Float32 activations into before it multiplies them with weights of a given
/// type (the type's `vec_dot_type`), for weights RecLab multiplies as Float32: the activations
/// are quantised (or rounded) as ggml does and widened back, so the product sees the values
/// ggml's sees. The sums still run in Float32 in BLAS's order, so the result is close to
/// ggml's, not equal to it.
public enum ActivationRounding: Sendable, Equatable {
    /// Blocks of 32 to 8 bits with a Float16 scale (`quantize_row_q8_0`, as against Q4_0, Q5_0,
    /// Q8_0; `q8_1`'s values are the same, as against Q4_1, Q5_1).
    case q8_0
    /// Blocks of 256 to 8 bits with a Float32 scale (`quantize_row_q8_K`, as against the
    /// k-quants).
    case q8_K
    /// Rounded through Float16 or BFloat16 (as against F16 and BF16 weights).
    case f16, bf16

    /// The rounding ggml applies against weights of type `name` ("Q5_0", "Q4_K", ...), nil for
    /// Float32 weights and types it does not know.
    public init?(weightType name: String) {
        switch name {
        case "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0": self = .q8_0
        case "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K": self = .q8_K
        case "F16": self = .f16
        case "BF16": self = .bf16
        default: return nil
        }
    }

    /// `rows` rows of `columns` activations (a multiple of the block) as ggml's product reads
    /// them.
    public func apply(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
        let count = rows * columns
        switch self {
        case .q8_0:
            var q = [Int8](repeating: 0, count: 32), biases = SIMD8<Int32>()
            q.withUnsafeMutableBufferPointer { q in
                for block in 0..<(count / 32) {
                    let (d, _) = quantizeBlock(x + block * 32, into: q.baseAddress!, biases: &biases)
                    let scale = Float(Float16(d))
                    for j in 0..<32 { out[block * 32 + j] = scale * Float(q[j]) }
                }
            }
        case .q8_K:
            SuperBlockActivations(x, rows: rows, columns: columns).widened(into: out)
        case .f16:
            for i in 0..<count { out[i] = Float(Float16(x[i])) }
        case .bf16:
            for i in 0..<count {
                // ggml rounds to nearest even and keeps NaNs quiet.
                let bits = x[i].bitPattern
                out[i] = x[i].isNaN ? x[i] : Float(bitPattern: (bits &+ (0x7FFF &+ ((bits >> 16) & 1))) & 0xFFFF_0000)
            }
        }
    }
}
