import COpenBLAS
import RecCore
import RecQuant
import RecTensor

extension LlamaModel {
    /// A weight matrix `[out, in]`, stacked from one or more tensors (query, key and value,
    /// say): block-quantised under exact numerics where RecQuant has ggml's kernel for every
    /// part's format (each run of one format with its own kernel, against the activations
    /// quantised once per kind); otherwise, and also under fast numerics, as Float32.
    struct Projection {
        /// A run of parts of one format, stacked.
        enum Kernel {
            /// Blocks of 32 (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) against 8-bit blocks of 32.
            case blocks(BlockQuantizedMatrix)
            /// Q4_K, Q5_K or Q6_K super-blocks against 8-bit blocks of 256.
            case superBlocks(SuperBlockMatrix)
            /// F16 weights against activations rounded to Float16.
            case half(HalfMatrix)
        }
        /// The runs and the output row each starts at.
        let quantized: [(first: Int, kernel: Kernel)]?
        /// Float32 `[out, in]`, multiplied by BLAS (fast numerics, and formats without a kernel).
        let dense: [Float]?
        /// Under exact numerics, for weights multiplied as Float32: each part's output rows
        /// and how ggml rounds the activations against its type (see `ActivationRounding`).
        /// Empty when no part is rounded (Float32 weights, fast numerics, quantised kernels).
        let roundings: [(rows: Range<Int>, rounding: ActivationRounding?)]
        let out: Int, `in`: Int

        /// The named tensors (each `[in, out_i]` in ggml order) stacked into one matrix.
        init(_ file: GGUFFile, _ names: [String], in k: Int, out: [Int], numerics: Numerics) throws {
            let tensors = try zip(names, out).map { name, n in
                guard let tensor = file.tensors[name] else { throw RecError(.data, "\(file.path): no tensor '\(name)'") }
                guard tensor.dimensions == [k, n] else {
                    throw RecError(.data, "\(file.path): tensor '\(name)' has dimensions \(tensor.dimensions), expected \([k, n])")
                }
                return tensor
            }
            self.out = out.reduce(0, +)
            self.in = k
            let names = tensors.map(\.typeName)
            let kernelFormat = { (name: String) in
                BlockQuantizedMatrix.Format(rawValue: name) != nil || SuperBlockMatrix.Format(rawValue: name) != nil || (name == "F16" && HalfMatrix.takes(columns: k))
            }
            if BlockQuantizedMatrix.supported, names.allSatisfy(kernelFormat) {
                var runs: [(first: Int, kernel: Kernel)] = [], first = 0, index = 0
                while index < tensors.count {
                    var end = index + 1
                    while end < tensors.count && names[end] == names[index] { end += 1 }
                    if let format = BlockQuantizedMatrix.Format(rawValue: names[index]) {
                        let parts = (index..<end).map { i in
                            file.withBytes(of: tensors[i]) { BlockQuantizedMatrix(format: format, rows: out[i], columns: k, source: $0) }
                        }
                        runs.append((first, .blocks(BlockQuantizedMatrix(stacking: parts))))
                    } else {
                        // Super-block and F16 parts are not stacked: one run each.
                        var row = first
                        for i in index..<end {
                            let kernel = file.withBytes(of: tensors[i]) { source in
                                SuperBlockMatrix.Format(rawValue: names[index]).map { Kernel.superBlocks(SuperBlockMatrix(format: $0, rows: out[i], columns: k, source: source)) }
                                    ?? .half(HalfMatrix(rows: out[i], columns: k, source: source))
                            }
                            runs.append((row, kernel))
                            row += out[i]
                        }
                    }
                    first += out[index..<end].reduce(0, +)
                    index = end
                }
                quantized = runs
            } else {
                quantized = nil
            }
            dense = numerics == .fast || quantized == nil ? try tensors.flatMap { try file.floats($0.name) } : nil
            var first = 0, roundings: [(Range<Int>, ActivationRounding?)] = []
            for (tensor, n) in zip(tensors, out) {
                roundings.append((first..<(first + n), ActivationRounding(weightType: tensor.typeName)))
                first += n
            }
            self.roundings = numerics == .exact && quantized == nil && roundings.contains { $0.1 != nil } ? roundings : []
        }

        /// Row `i` as Float32 (an embedding lookup).
        func row(_ i: Int) -> [Float] {
            if let dense { return Array(dense[(i * self.in)..<((i + 1) * self.in)]) }
            let run = quantized!.last { $0.first <= i }!
            switch run.kernel {
            case .blocks(let matrix): return matrix.row(i - run.first)
            case .superBlocks(let matrix):
                var values = [Float](repeating: 0, count: self.in)
                let type: GGUFFile.TensorType =
                    switch matrix.format {
                    case .q4K: .q4_K
                    case .q5K: .q5_K
                    case .q6K: .q6_K
                    }
                matrix.withRow(i - run.first) { source in values.withUnsafeMutableBufferPointer { GGUFFile.dequantize(type, source, into: $0) } }
                return values
            case .half(let matrix): return matrix.row(i - run.first)
            }
        }

        /// `out[t · stride + j] (+)= Σ_c W[j, c] x[t, c]` for `rows` rows of `x`.
        func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, stride: Int? = nil, accumulate: Bool = false) {
            if let quantized, rows == 1 || dense == nil {
                var blocks: QuantizedActivations?, superBlocks: SuperBlockActivations?
                for (first, kernel) in quantized {
                    switch kernel {
                    case .blocks(let matrix):
                        blocks = blocks ?? QuantizedActivations(x, rows: rows, columns: self.in)
                        matrix.multiply(blocks!, into: out + first, stride: stride ?? self.out, accumulate: accumulate)
                    case .superBlocks(let matrix):
                        superBlocks = superBlocks ?? SuperBlockActivations(x, rows: rows, columns: self.in)
                        matrix.multiply(superBlocks!, into: out + first, stride: stride ?? self.out, accumulate: accumulate)
                    case .half(let matrix): matrix.multiply(x, tokens: rows, into: out + first, stride: stride ?? self.out, accumulate: accumulate)
                    }
                }
                return
            }
            let (n, k) = (self.out, self.in)
            dense!.withUnsafeBufferPointer { w in
                guard !roundings.isEmpty else {
                    if rows == 1, stride == nil {
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, w.baseAddress!, Int32(k), x, 1, accumulate ? 1 : 0, out, 1)
                    } else {
                        gemm(x, w.baseAddress!, out, m: rows, n: n, k: k, transposeB: true, beta: accumulate ? 1 : 0, ldc: stride ?? n)
                    }
                    return
                }
                // Each part against the activations rounded as ggml rounds them for its type.
                let rounded = UnsafeMutablePointer<Float>.allocate(capacity: rows * k)
                defer { rounded.deallocate() }
                var current: ActivationRounding?
                for (range, rounding) in roundings {
                    if let rounding, rounding != current { rounding.apply(x, rows: rows, columns: k, into: rounded) }
                    current = rounding ?? current
                    gemm(
                        rounding == nil ? x : UnsafePointer(rounded), w.baseAddress! + range.lowerBound * k, out + range.lowerBound, m: rows, n: range.count,
                        k: k, transposeB: true, beta: accumulate ? 1 : 0, ldc: stride ?? n)
                }
            }
        }
    }
}
