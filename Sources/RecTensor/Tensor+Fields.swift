import Foundation

/// The layers of feature-interaction CTR models (FM, xDeepFM, FiBiNet, DIN) as fused ops: each
/// is a loop over `[batch, fields, width]` that the generic broadcasting ops would run through
/// index arrays. Their derivatives are checked against finite differences in GradientTests.
extension Tensor {
    /// Pooled embedding lookups ("embedding bags"): bag `b` is the weighted sum of the table rows
    /// `rows[starts[b]..<starts[b + 1]]` with `weights` at the same positions, so one call gives
    /// every field vector of a batch: a categorical field is a bag of one row with weight 1, a
    /// multi-valued field a bag of its values with weights 1/n (mean) or 1 (sum), a numeric field
    /// one row scaled by its value, and an empty bag the zero vector.
    ///
    /// `table [rows, width]` -> `[bags, width]`. The gradient is sparse, as for `gather`.
    public func embeddingBag(rows: [Int32], weights: [Float], starts: [Int32]) -> Tensor {
        precondition(rank == 2 && rows.count == weights.count && starts.last.map(Int.init) == rows.count, "embeddingBag: malformed bags")
        let width = shape[1], bags = starts.count - 1
        let out = data.withUnsafeBufferPointer { table in
            makeArray(bags * width) { o in
                for b in 0..<bags {
                    let target = o.baseAddress! + b * width
                    target.initialize(repeating: 0, count: width)
                    for t in Int(starts[b])..<Int(starts[b + 1]) {
                        let source = table.baseAddress! + Int(rows[t]) * width, w = weights[t]
                        for j in 0..<width { target[j] += w * source[j] }
                    }
                }
            }
        }
        return Tensor(shape: [bags, width], data: out, parents: [self]) { result in
            if self.grad == nil { self.grad = [Float](repeating: 0, count: self.count) }
            result.grad!.withUnsafeBufferPointer { g in
                self.grad!.withUnsafeMutableBufferPointer { gx in
                    for b in 0..<bags {
                        for t in Int(starts[b])..<Int(starts[b + 1]) {
                            let target = Int(rows[t]) * width, w = weights[t]
                            for j in 0..<width { gx[target + j] += w * g[b * width + j] }
                        }
                    }
                }
            }
        }
    }

    /// A factorization machine's second-order term over field vectors (Rendle 2010):
    /// `[B, F, D]` -> `[B, 1]`, `½ Σ_d ((Σ_f x_fd)² − Σ_f x_fd²)`; `∂/∂x_fd = Σ_f' x_f'd − x_fd`.
    public func fmInteraction() -> Tensor {
        precondition(rank == 3, "fmInteraction takes [B, F, D], got \(shape)")
        let (batch, fields, width) = (shape[0], shape[1], shape[2])
        var sums = [Float](repeating: 0, count: batch * width)
        let out = makeArray(batch) { o in
            for b in 0..<batch {
                var square: Float = 0
                for f in 0..<fields {
                    for d in 0..<width {
                        let x = data[(b * fields + f) * width + d]
                        sums[b * width + d] += x
                        square += x * x
                    }
                }
                var total: Float = 0
                for d in 0..<width { total += sums[b * width + d] * sums[b * width + d] }
                o[b] = 0.5 * (total - square)
            }
        }
        return Tensor(shape: [batch, 1], data: out, parents: [self]) { result in
            let g = result.grad!
            self.accumulate(
                makeArray(self.count) { dx in
                    for b in 0..<batch {
                        for f in 0..<fields {
                            for d in 0..<width {
                                let i = (b * fields + f) * width + d
                                dx[i] = g[b] * (sums[b * width + d] - self.data[i])
                            }
                        }
                    }
                })
        }
    }

    /// CIN's feature-map outer product (xDeepFM), width-major so that the layer's 1×1
    /// convolution is one matrix product: `self [B, D, H]`, `x0 [B, D, M]` ->
    /// `[B, D, H·M]` with `out[b, d, h·M + m] = self[b, d, h] · x0[b, d, m]`.
    public func fieldOuterProduct(_ x0: Tensor) -> Tensor {
        precondition(rank == 3 && x0.rank == 3 && shape[0] == x0.shape[0] && shape[1] == x0.shape[1], "fieldOuterProduct: \(shape) with \(x0.shape)")
        let (rows, h, m) = (shape[0] * shape[1], shape[2], x0.shape[2])
        let out = data.withUnsafeBufferPointer { a in
            x0.data.withUnsafeBufferPointer { b in
                makeArray(rows * h * m) { o in
                    for r in 0..<rows {
                        let right = b.baseAddress! + r * m
                        for i in 0..<h {
                            let value = a[r * h + i], target = o.baseAddress! + (r * h + i) * m
                            for j in 0..<m { target[j] = value * right[j] }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [shape[0], shape[1], h * m], data: out, parents: [self, x0]) { result in
            result.grad!.withUnsafeBufferPointer { g in
                self.data.withUnsafeBufferPointer { a in
                    x0.data.withUnsafeBufferPointer { b in
                        // Per row r: dA = G Bᵀ and dB = Aᵀ G for G [h, m], A [h], B [m].
                        if self.requiresGrad {
                            self.accumulate(
                                makeArray(self.count) { dx in
                                    for r in 0..<rows {
                                        let right = b.baseAddress! + r * m
                                        for i in 0..<h {
                                            let row = g.baseAddress! + (r * h + i) * m
                                            var total: Float = 0
                                            for j in 0..<m { total += row[j] * right[j] }
                                            dx[r * h + i] = total
                                        }
                                    }
                                })
                        }
                        if x0.requiresGrad {
                            x0.accumulate(
                                makeArray(x0.count) { dx in
                                    dx.initialize(repeating: 0)
                                    for r in 0..<rows {
                                        let target = dx.baseAddress! + r * m
                                        for i in 0..<h {
                                            let row = g.baseAddress! + (r * h + i) * m, value = a[r * h + i]
                                            for j in 0..<m { target[j] += row[j] * value }
                                        }
                                    }
                                })
                        }
                    }
                }
            }
        }
    }

    /// Element-wise products of field pairs (FiBiNet's bilinear interaction after the field
    /// transform): `self [B, F, D]`, `other [B, F, D]` -> `[B, P, D]` with
    /// `out[b, p] = self[b, pairs[p].0] ⊙ other[b, pairs[p].1]`.
    public func pairwiseProducts(_ other: Tensor, pairs: [(Int, Int)]) -> Tensor {
        precondition(rank == 3 && other.shape == shape, "pairwiseProducts: \(shape) with \(other.shape)")
        let (batch, fields, width) = (shape[0], shape[1], shape[2])
        let p = pairs.count
        let out = makeArray(batch * p * width) { o in
            for b in 0..<batch {
                for (index, (i, j)) in pairs.enumerated() {
                    let x = (b * fields + i) * width, y = (b * fields + j) * width, target = (b * p + index) * width
                    for d in 0..<width { o[target + d] = data[x + d] * other.data[y + d] }
                }
            }
        }
        return Tensor(shape: [batch, p, width], data: out, parents: [self, other]) { result in
            let g = result.grad!
            var dx = [Float](repeating: 0, count: self.count), dy = dx
            for b in 0..<batch {
                for (index, (i, j)) in pairs.enumerated() {
                    let x = (b * fields + i) * width, y = (b * fields + j) * width, source = (b * p + index) * width
                    for d in 0..<width {
                        dx[x + d] += g[source + d] * other.data[y + d]
                        dy[y + d] += g[source + d] * self.data[x + d]
                    }
                }
            }
            if self.requiresGrad { self.accumulate(dx) }
            if other.requiresGrad { other.accumulate(dy) }
        }
    }

    /// Scales every field vector by a per-field weight (FiBiNet's SENET re-weighting):
    /// `self [B, F, D]`, `weights [B, F]` -> `[B, F, D]`.
    public func scalingFields(by weights: Tensor) -> Tensor {
        precondition(rank == 3 && weights.shape == [shape[0], shape[1]], "scalingFields: \(shape) by \(weights.shape)")
        let rows = shape[0] * shape[1], width = shape[2]
        let out = makeArray(count) { o in
            for r in 0..<rows { for d in 0..<width { o[r * width + d] = data[r * width + d] * weights.data[r] } }
        }
        return Tensor(shape: shape, data: out, parents: [self, weights]) { result in
            let g = result.grad!
            if self.requiresGrad {
                self.accumulate(makeArray(self.count) { dx in for r in 0..<rows { for d in 0..<width { dx[r * width + d] = g[r * width + d] * weights.data[r] } } })
            }
            if weights.requiresGrad {
                weights.accumulate(
                    makeArray(rows) { dw in
                        for r in 0..<rows {
                            var total: Float = 0
                            for d in 0..<width { total += g[r * width + d] * self.data[r * width + d] }
                            dw[r] = total
                        }
                    })
            }
        }
    }
}

extension Tensor {
    /// Dice (Zhou et al., DIN, 2018), the data-adaptive PReLU: per column `j` of `self [N, E]`,
    /// `p = σ((x − μ_j) / √(σ²_j + ε))` and `y = p·x + (1 − p)·α_j·x`, with `alpha [E]` learnt.
    ///
    /// With `statistics` nil (training) μ and σ² are the batch's (biased variance) and the
    /// gradient flows through them, as in batch normalisation; they are returned so that the
    /// caller can keep running averages for inference, where it passes them in.
    public func dice(alpha: Tensor, statistics: (mean: [Float], variance: [Float])? = nil, epsilon: Float = 1e-8) -> (output: Tensor, mean: [Float], variance: [Float]) {
        precondition(rank == 2 && alpha.shape == [shape[1]], "dice: \(shape) with alpha \(alpha.shape)")
        let (n, e) = (shape[0], shape[1])
        // Every loop runs over raw buffers with the column innermost, so that the compiler
        // vectorises across columns; each column's sums keep their row order.
        var mean = [Float](repeating: 0, count: e), variance = mean
        if let statistics {
            (mean, variance) = statistics
        } else {
            data.withUnsafeBufferPointer { x in
                mean.withUnsafeMutableBufferPointer { m in
                    variance.withUnsafeMutableBufferPointer { v in
                        let (x, m, v) = (x.baseAddress!, m.baseAddress!, v.baseAddress!)
                        for r in 0..<n { for j in 0..<e { m[j] += x[r * e + j] } }
                        for j in 0..<e { m[j] /= Float(max(1, n)) }
                        for r in 0..<n { for j in 0..<e { let c = x[r * e + j] - m[j]; v[j] += c * c } }
                        for j in 0..<e { v[j] /= Float(max(1, n)) }
                    }
                }
            }
        }
        let inverse = variance.map { 1 / ($0 + epsilon).squareRoot() }
        // x̂ (normalised), p = σ(x̂) and y.
        var normalised = [Float](repeating: 0, count: count), p = normalised
        let out = data.withUnsafeBufferPointer { x in
            normalised.withUnsafeMutableBufferPointer { z in
                p.withUnsafeMutableBufferPointer { p in
                    makeArray(count) { o in
                        withBuffers(mean, inverse, alpha.data) { mean, inverse, a in
                            let (x, z, p, o) = (x.baseAddress!, z.baseAddress!, p.baseAddress!, o.baseAddress!)
                            for r in 0..<n { for j in 0..<e { z[r * e + j] = (x[r * e + j] - mean[j]) * inverse[j] } }
                            forEachLanes(count) { offset, load in store(1 / (1 + vexp(-load(z))), p, offset: offset, count: count) }
                            for r in 0..<n { for j in 0..<e { let i = r * e + j; o[i] = x[i] * (a[j] + (1 - a[j]) * p[i]) } }
                        }
                    }
                }
            }
        }
        let batchStatistics = statistics == nil
        let result = Tensor(shape: shape, data: out, parents: [self, alpha]) { result in
            var da = [Float](repeating: 0, count: e)
            // Direct path, plus the path through p: ∂y/∂x̂ = x (1 − α) p (1 − p).
            var dNormalised = [Float](repeating: 0, count: result.count)
            let dx = makeArray(result.count) { dx in
                withBuffers(result.grad!, self.data, p, normalised) { g, x, p, z in
                    withBuffers(inverse, alpha.data) { inverse, a in
                        da.withUnsafeMutableBufferPointer { da in
                            dNormalised.withUnsafeMutableBufferPointer { dz in
                                let (dx, da, dz) = (dx.baseAddress!, da.baseAddress!, dz.baseAddress!)
                                for r in 0..<n { for j in 0..<e { let i = r * e + j; da[j] += g[i] * x[i] * (1 - p[i]) } }
                                for r in 0..<n {
                                    for j in 0..<e {
                                        let i = r * e + j, a = a[j]
                                        dx[i] = g[i] * (a + (1 - a) * p[i])
                                        dz[i] = g[i] * x[i] * (1 - a) * p[i] * (1 - p[i])
                                    }
                                }
                                if batchStatistics {
                                    // Batch normalisation's backward: (g − mean(g) − x̂ · mean(g x̂)) / σ.
                                    var sums = [Float](repeating: 0, count: 2 * e)
                                    sums.withUnsafeMutableBufferPointer { sums in
                                        let (meanG, meanGX) = (sums.baseAddress!, sums.baseAddress! + e)
                                        for r in 0..<n { for j in 0..<e { let i = r * e + j; meanG[j] += dz[i]; meanGX[j] += dz[i] * z[i] } }
                                        for r in 0..<n {
                                            for j in 0..<e {
                                                let i = r * e + j
                                                dx[i] += inverse[j] * (dz[i] - meanG[j] / Float(n) - z[i] * meanGX[j] / Float(n))
                                            }
                                        }
                                    }
                                } else {
                                    for r in 0..<n { for j in 0..<e { dx[r * e + j] += inverse[j] * dz[r * e + j] } }
                                }
                            }
                        }
                    }
                }
            }
            if alpha.requiresGrad { alpha.accumulate(da) }
            if self.requiresGrad { self.accumulate(dx) }
        }
        return (result, mean, variance)
    }
}
