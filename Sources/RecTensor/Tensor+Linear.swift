import COpenBLAS
import Synchronization

/// Floating-point operations (2·m·n·k each) of every `gemm` call in the process, for
/// benchmarks that compare a run's time with what its matrix products alone must take.
public enum GemmWork {
    @usableFromInline static let operations = Atomic<Int>(0)

    public static var total: Int { operations.load(ordering: .relaxed) }

    @usableFromInline static func add(_ count: Int) { operations.add(count, ordering: .relaxed) }
}

/// `C = op(A) op(B) + beta C` on raw row-major buffers; the leading dimensions default to
/// packed matrices and can be set for strided views (one head inside `[B, T, H]`).
@inlinable
public func gemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false, beta: Float = 0,
    lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
) {
    GemmWork.add(2 * m * n * k)
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), 1, a, Int32(lda ?? (transposeA ? m : k)), b, Int32(ldb ?? (transposeB ? k : n)),
        beta, c, Int32(ldc ?? n))
}

extension Tensor {
    /// `[..., M, K] x [K, N] -> [..., M, N]` (a weight matrix on the right), or with
    /// `transposeB`, `[..., M, K] x [N, K]ᵀ`. One `cblas_sgemm` over all leading axes.
    public func matmul(_ weight: Tensor, transposeB: Bool = false) -> Tensor {
        precondition(weight.rank == 2, "matmul's right side is a matrix, got \(weight.shape)")
        let k = shape[rank - 1]
        let n = transposeB ? weight.shape[0] : weight.shape[1]
        precondition((transposeB ? weight.shape[1] : weight.shape[0]) == k, "matmul: \(shape) x \(weight.shape)\(transposeB ? "ᵀ" : "")")
        let m = count / k
        let out = data.withUnsafeBufferPointer { a in
            weight.data.withUnsafeBufferPointer { b in
                makeArray(m * n) { c in
                    gemm(a.baseAddress!, b.baseAddress!, c.baseAddress!, m: m, n: n, k: k, transposeB: transposeB)
                }
            }
        }
        return Tensor(shape: Array(shape.dropLast()) + [n], data: out, parents: [self, weight]) { result in
            let g = result.grad!
            g.withUnsafeBufferPointer { g in
                if self.requiresGrad {
                    // dA = dC Bᵀ (or dC B when B was transposed)
                    self.accumulate(
                        weight.data.withUnsafeBufferPointer { b in
                            makeArray(self.count) { d in
                                gemm(g.baseAddress!, b.baseAddress!, d.baseAddress!, m: m, n: k, k: n, transposeB: !transposeB)
                            }
                        })
                }
                if weight.requiresGrad {
                    // dB = Aᵀ dC, or (dCᵀ A) for a transposed B
                    weight.accumulate(
                        self.data.withUnsafeBufferPointer { a in
                            makeArray(weight.count) { d in
                                if transposeB {
                                    gemm(g.baseAddress!, a.baseAddress!, d.baseAddress!, m: n, n: k, k: m, transposeA: true)
                                } else {
                                    gemm(a.baseAddress!, g.baseAddress!, d.baseAddress!, m: k, n: n, k: m, transposeA: true)
                                }
                            }
                        })
                }
            }
        }
    }

    /// Batched matrix product over the leading axes: `[..., M, K] x [..., K, N] -> [..., M, N]`
    /// (with `transposeB`, the right side is `[..., N, K]`).
    public func bmm(_ other: Tensor, transposeB: Bool = false) -> Tensor {
        precondition(rank >= 3 && other.rank == rank, "bmm needs two tensors of equal rank >= 3")
        let batch = shape.dropLast(2).reduce(1, *)
        precondition(Array(other.shape.dropLast(2)) == Array(shape.dropLast(2)), "bmm batch axes differ: \(shape) \(other.shape)")
        let m = shape[rank - 2], k = shape[rank - 1]
        let n = transposeB ? other.shape[rank - 2] : other.shape[rank - 1]
        precondition((transposeB ? other.shape[rank - 1] : other.shape[rank - 2]) == k, "bmm: \(shape) x \(other.shape)")
        var out = [Float](repeating: 0, count: batch * m * n)
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    for i in 0..<batch {
                        gemm(a.baseAddress! + i * m * k, b.baseAddress! + i * k * n, c.baseAddress! + i * m * n, m: m, n: n, k: k, transposeB: transposeB)
                    }
                }
            }
        }
        return Tensor(shape: Array(shape.dropLast(2)) + [m, n], data: out, parents: [self, other]) { result in
            result.grad!.withUnsafeBufferPointer { g in
                if self.requiresGrad {
                    var da = [Float](repeating: 0, count: self.count)
                    other.data.withUnsafeBufferPointer { b in
                        da.withUnsafeMutableBufferPointer { d in
                            for i in 0..<batch {
                                gemm(g.baseAddress! + i * m * n, b.baseAddress! + i * k * n, d.baseAddress! + i * m * k, m: m, n: k, k: n, transposeB: !transposeB)
                            }
                        }
                    }
                    self.accumulate(da)
                }
                if other.requiresGrad {
                    var db = [Float](repeating: 0, count: other.count)
                    self.data.withUnsafeBufferPointer { a in
                        db.withUnsafeMutableBufferPointer { d in
                            for i in 0..<batch {
                                if transposeB {
                                    gemm(g.baseAddress! + i * m * n, a.baseAddress! + i * m * k, d.baseAddress! + i * n * k, m: n, n: k, k: m, transposeA: true)
                                } else {
                                    gemm(a.baseAddress! + i * m * k, g.baseAddress! + i * m * n, d.baseAddress! + i * k * n, m: k, n: n, k: m, transposeA: true)
                                }
                            }
                        }
                    }
                    other.accumulate(db)
                }
            }
        }
    }
}

extension Tensor {
    /// `x W + b` for `x` of shape `[..., in]`, `W` `[in, out]`, `b` `[out]`: one sgemm onto rows
    /// prefilled with the bias; the bias gradient is one sgemv (column sums of the output's).
    public func linear(_ weight: Tensor, _ bias: Tensor) -> Tensor { linear(weight, bias, relu: false) }

    /// `max(0, x W + b)` in one op: the same values and gradients as `linear(_:_:).relu()`,
    /// without the activation's own output and gradient arrays.
    public func linearReLU(_ weight: Tensor, _ bias: Tensor) -> Tensor { linear(weight, bias, relu: true) }

    private func linear(_ weight: Tensor, _ bias: Tensor, relu: Bool) -> Tensor {
        precondition(
            weight.rank == 2 && weight.shape[0] == shape[rank - 1] && bias.count == weight.shape[1],
            "linear: \(shape) x \(weight.shape) + \(bias.shape)")
        let k = weight.shape[0], n = weight.shape[1], m = count / k
        let out = data.withUnsafeBufferPointer { a in
            weight.data.withUnsafeBufferPointer { w in
                bias.data.withUnsafeBufferPointer { b in
                    makeArray(m * n) { c in
                        fillRows(c.baseAddress!, with: b.baseAddress!, rows: m, width: n)
                        gemm(a.baseAddress!, w.baseAddress!, c.baseAddress!, m: m, n: n, k: k, beta: 1)
                        if relu {
                            forEachLanes(m * n) { offset, load in
                                let lanes = load(c.baseAddress!)
                                store(lanes.replacing(with: 0, where: lanes .< 0), c.baseAddress!, offset: offset, count: m * n)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: Array(shape.dropLast()) + [n], data: out, parents: [self, weight, bias]) { result in
            // Through the activation first: no gradient where the output is 0 (as `relu()`).
            let masked: [Float]? =
                relu
                ? withBuffers(result.grad!, result.data) { g, y in
                    makeArray(m * n) { o in
                        forEachLanes(m * n) { offset, load in store(load(g).replacing(with: 0, where: load(y) .<= 0), o.baseAddress!, offset: offset, count: m * n) }
                    }
                } : nil
            (masked ?? result.grad!).withUnsafeBufferPointer { g in
                if self.requiresGrad {
                    self.accumulate(
                        weight.data.withUnsafeBufferPointer { w in
                            makeArray(self.count) { d in
                                gemm(g.baseAddress!, w.baseAddress!, d.baseAddress!, m: m, n: k, k: n, transposeB: true)
                            }
                        })
                }
                if weight.requiresGrad {
                    weight.accumulate(
                        self.data.withUnsafeBufferPointer { a in
                            makeArray(weight.count) { d in
                                gemm(a.baseAddress!, g.baseAddress!, d.baseAddress!, m: k, n: n, k: m, transposeA: true)
                            }
                        })
                }
                if bias.requiresGrad {
                    let ones = [Float](repeating: 1, count: m)
                    bias.accumulate(
                        makeArray(n) { d in
                            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), 1, g.baseAddress!, Int32(n), ones, 1, 0, d.baseAddress!, 1)
                        })
                }
            }
        }
    }

    /// `self + v` where `v` has the shape of the last axis (a bias), without broadcast index
    /// arrays.
    public func addingRowVector(_ vector: Tensor) -> Tensor {
        precondition(shape.last == vector.count, "row vector of \(vector.count) against \(shape)")
        return addingGroupRows(vector.reshaped([1, vector.count]), groupSize: count / max(1, vector.count))
    }

    /// `self [G·S, n] + rows [G, n]`: row `g` of `rows` added to the `S` rows of group `g`
    /// (a per-pair term over each of the pair's keys), without materialising the repeats.
    public func addingGroupRows(_ rows: Tensor, groupSize: Int) -> Tensor {
        let n = shape.last ?? 0, groups = rows.count / max(1, n)
        precondition(rows.shape.last == n && groups * groupSize * n == count, "group rows \(rows.shape) × \(groupSize) against \(shape)")
        let out = withBuffers(data, rows.data) { x, v in
            makeArray(count) { o in
                for r in 0..<groups * groupSize {
                    let base = r * n, row = (r / groupSize) * n
                    for j in 0..<n { o[base + j] = x[base + j] + v[row + j] }
                }
            }
        }
        return Tensor(shape: shape, data: out, parents: [self, rows]) { result in
            let g = result.grad!
            if self.requiresGrad { self.accumulate(g) }
            if rows.requiresGrad {
                var gv = [Float](repeating: 0, count: rows.count)
                g.withUnsafeBufferPointer { g in
                    gv.withUnsafeMutableBufferPointer { gv in
                        for r in 0..<groups * groupSize {
                            let base = r * n, row = (r / groupSize) * n
                            for j in 0..<n { gv[row + j] += g[base + j] }
                        }
                    }
                }
                rows.accumulate(gv)
            }
        }
    }
}

/// Every one of `rows` rows of `out` set to `row`: the rows filled so far are copied onward,
/// doubling each time, so that short rows cost a few large copies instead of one call each.
@inline(__always)
func fillRows(_ out: UnsafeMutablePointer<Float>, with row: UnsafePointer<Float>, rows: Int, width: Int) {
    guard rows > 0 else { return }
    out.initialize(from: row, count: width)
    var filled = 1
    while filled < rows {
        let copy = min(filled, rows - filled)
        (out + filled * width).initialize(from: out, count: copy * width)
        filled += copy
    }
}
