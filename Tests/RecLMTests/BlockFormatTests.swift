import Foundation
import RecCore
import RecQuant
@testable import RecLM
import RecTesting
import Testing

/// The 5-bit, k-quant and 16-bit formats widened exactly as ggml widens them: the fixture holds
/// seeded rows quantised by ggml's reference quantisers and ggml's dequantisation of each
/// (Benchmarks/kquants/make-fixture.py).
struct BlockFormatTests {
    static let formats = ["Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "F16", "BF16"]

    @Test(arguments: formats)
    func widensAsGGMLDoes(_ format: String) throws {
        let file = try GGUFFile(path: Fixtures.directory + "/kquants/blocks.gguf")
        let tensor = try #require(file.tensors["\(format).quantized"])
        #expect(tensor.typeName == format && tensor.dimensions == [512, 4])
        let reference = try file.floats("\(format).reference", dimensions: [512, 4])
        let widened = try file.floats("\(format).quantized")
        let differing = zip(widened, reference).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        #expect(differing == 0, "\(format): \(differing) of \(reference.count) values differ from ggml's")
        // The rows were built so that the formats' scales and mins take many values.
        #expect(Set(reference).count > 256)
    }

    /// A k-quant tensor whose rows are not whole super-blocks of 256 is refused when the file
    /// is opened.
    /// Rows read through a projection (an embedding lookup) widen as ggml widens them, on the
    /// quantised kernels' storage and on the Float32 one.
    @Test(arguments: ["Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"])
    func projectionRowsAreGGMLsRows(_ format: String) throws {
        let file = try GGUFFile(path: Fixtures.directory + "/kquants/blocks.gguf")
        let reference = try file.floats("\(format).reference", dimensions: [512, 4])
        for numerics in LlamaModel.Numerics.allCases {
            let projection = try LlamaModel.Projection(file, ["\(format).quantized"], in: 512, out: [4], numerics: numerics)
            for row in 0..<4 { #expect(projection.row(row) == Array(reference[(row * 512)..<((row + 1) * 512)]), "\(format) \(numerics) row \(row)") }
        }
    }

    @Test func rowsThatDoNotFillSuperBlocksAreRefused() throws {
        let path = Fixtures.temporaryDirectory("kquant-rows") + "/bad.gguf"
        var builder = GGUFBuilder()
        builder.addF32("w", [128, 2])
        builder.tensors[0].type = 12
        builder.tensors[0].data = [UInt8](repeating: 0, count: 144)
        try builder.write(to: path)
        let error = #expect(throws: RecError.self) { _ = try GGUFFile(path: path) }
        #expect(error?.message.contains("rows of 128 values do not fill Q4_K blocks of 256") == true)
    }
}

/// RecLab's products with ggml's own (`ggml_vec_dot_*` from libggml-cpu, recorded in the
/// fixture): bit for bit, for the formats it multiplies without widening.
@Suite(.enabled(if: BlockQuantizedMatrix.supported, "this CPU lacks AVX2, FMA or F16C"))
struct BlockProductTests {
    /// All three tokens in one product (the batched kernels: k-quant rows decoded once for the
    /// tokens) and each token alone (the one-token kernels).
    @Test(arguments: ["Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"])
    func productsAreGGMLsBitForBit(_ format: String) throws {
        let file = try GGUFFile(path: Fixtures.directory + "/kquants/blocks.gguf")
        let x = try file.floats("activations", dimensions: [512, 3]), expected = try file.floats("\(format).dots", dimensions: [4, 3])
        let tensor = try #require(file.tensors["\(format).quantized"])
        func product(tokens: Range<Int>) -> [Float] {
            var out = [Float](repeating: .nan, count: 4 * tokens.count)
            file.withBytes(of: tensor) { source in
                x[(tokens.lowerBound * 512)..<(tokens.upperBound * 512)].withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { out in
                        if let superFormat = SuperBlockMatrix.Format(rawValue: format) {
                            SuperBlockMatrix(format: superFormat, rows: 4, columns: 512, source: source)
                                .multiply(SuperBlockActivations(x.baseAddress!, rows: tokens.count, columns: 512), into: out.baseAddress!, stride: 4)
                        } else {
                            BlockQuantizedMatrix(format: BlockQuantizedMatrix.Format(rawValue: format)!, rows: 4, columns: 512, source: source)
                                .multiply(QuantizedActivations(x.baseAddress!, rows: tokens.count, columns: 512), into: out.baseAddress!, stride: 4)
                        }
                    }
                }
            }
            return out
        }
        for (path, out) in [("batched", product(tokens: 0..<3)), ("one token", (0..<3).flatMap { product(tokens: $0..<($0 + 1)) })] {
            for (index, (mine, ggml)) in zip(out, expected).enumerated() {
                #expect(mine.bitPattern == ggml.bitPattern, "\(format) \(path), token \(index / 4) row \(index % 4): \(mine) vs ggml's \(ggml)")
            }
        }
    }
}
