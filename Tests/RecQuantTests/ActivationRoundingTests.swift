import RecQuant
import Testing

/// What ggml turns activations into against weights it has no exact kernel for here.
struct ActivationRoundingTests {
    func rounded(_ rounding: ActivationRounding, _ x: [Float], columns: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { rounding.apply(x.baseAddress!, rows: x.count / columns, columns: columns, into: $0.baseAddress!) } }
        return out
    }

    @Test func sixteenBitRoundingsAreToNearestEven() {
        let a: Float = 1 + 0x1p-9, b: Float = 1 + 3 * 0x1p-9, c: Float = 1 + 0x1p-12, up: Float = 1 + 0x1p-7
        let x: [Float] = [a, b, c, -2.5]
        let bf16: [Float] = [1, up, 1, -2.5], f16: [Float] = [a, b, 1, -2.5]
        #expect(rounded(.bf16, x, columns: 4) == bf16)
        #expect(rounded(.f16, x, columns: 4) == f16)
    }

    /// Blocks of 32 (Float16 scale max|x| / 127) and of 256 (scale −127 / the largest value):
    /// the largest value comes back within its scale's rounding, zeros stay zero, and the
    /// formats name their weight types as ggml pairs them.
    @Test func eightBitBlocksKeepTheirLargestValue() {
        var x = (0..<256).map { Float($0 % 7) - 3 }
        x[100] = 12.7
        let q8_0 = rounded(.q8_0, x, columns: 256), q8_K = rounded(.q8_K, x, columns: 256)
        #expect(abs(q8_0[100] - 12.7) < 0.01 && abs(q8_K[100] - 12.7) < 1e-5)
        #expect(q8_0[3] == 0 && q8_K[3] == 0)
        let bound: Float = 12.7 / 254 + 1e-6
        #expect(zip(x, q8_K).allSatisfy { pair in abs(pair.0 - pair.1) <= bound })
        #expect(ActivationRounding(weightType: "Q5_1") == .q8_0 && ActivationRounding(weightType: "Q5_K") == .q8_K)
        #expect(ActivationRounding(weightType: "BF16") == .bf16 && ActivationRounding(weightType: "F32") == nil)
    }
}
