import RecCore
import RecQuant
import Testing

/// ggml's GELU table, which its GeGLU reads, rebuilt bit for bit: the SHA-256 of
/// `ggml_table_gelu_f16` (65,536 little-endian Float16 values) read from llama.cpp's
/// libggml-cpu after `ggml_cpu_init()` (Benchmarks/ggml_gelu_table.py, on the build of
/// ../shared/peers/setup.sh).
struct GELUTableTests {
    @Test func tableEqualsGGMLs() {
        var hasher = SHA256()
        hasher.update(ggmlGELUTable.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(hasher.finalize().hexString == "5eceda6f287dec9dc0bcfa24516d6744a031a5c52d1984688b4558aeb1daf909")
    }

    @Test func geGLUReadsTheTableAndClampsOutsideTen() {
        let gate: [Float] = [-11, -1, 0, 0.5, 3, 12], up: [Float] = [2, 2, 2, 2, 2, 2]
        var out = [Float](repeating: .nan, count: 6)
        ggmlGeGLU(gate: gate, up: up, into: &out, count: 6)
        #expect(out[0] == 0 && out[2] == 0 && out[5] == 24)
        #expect(abs(out[3] - 2 * 0.345714) < 1e-3 && abs(out[4] - 2 * 2.996363) < 2e-3)
    }
}
