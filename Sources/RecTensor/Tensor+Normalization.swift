import Foundation

extension Tensor {
    /// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * gamma + beta`.
    /// Rows are processed eight lanes at a time.
    public func layerNorm(gamma: Tensor, beta: Tensor, eps: Float = 1e-12) -> Tensor {
        let n = shape[rank - 1], rows = count / n
        var rstd = [Float](repeating: 0, count: rows)
        var normalised = [Float]()
        let out = data.withUnsafeBufferPointer { x in
            gamma.data.withUnsafeBufferPointer { w in
                beta.data.withUnsafeBufferPointer { b in
                    makeArray(count) { out in
                        normalised = makeArray(count) { xhat in
                            let (w, b) = (w.baseAddress!, b.baseAddress!)
                            for r in 0..<rows {
                                let row = x.baseAddress! + r * n, xr = xhat.baseAddress! + r * n, o = out.baseAddress! + r * n
                                var sum = Lanes()
                                forEachLanes(n) { _, load in sum += load(row) }
                                let mean = sum.sum() / Float(n)
                                var squares = Lanes()
                                forEachLanes(n) { offset, load in
                                    let d = (load(row) - mean).replacing(with: 0, where: Lanes.tail(offset, n))
                                    squares += d * d
                                }
                                let s = 1 / (squares.sum() / Float(n) + eps).squareRoot()
                                rstd[r] = s
                                forEachLanes(n) { offset, load in
                                    let value = (load(row) - mean) * s
                                    store(value, xr, offset: offset, count: n)
                                    store(value * load(w) + load(b), o, offset: offset, count: n)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, data: out, parents: [self, gamma, beta]) { result in
            var dgamma = [Float](repeating: 0, count: n), dbeta = [Float](repeating: 0, count: n)
            let dx = result.grad!.withUnsafeBufferPointer { g in
                gamma.data.withUnsafeBufferPointer { w in
                    normalised.withUnsafeBufferPointer { xhat in
                        dgamma.withUnsafeMutableBufferPointer { dgamma in
                            dbeta.withUnsafeMutableBufferPointer { dbeta in
                                makeArray(self.count) { dx in
                                    let (w, dg, db) = (w.baseAddress!, dgamma.baseAddress!, dbeta.baseAddress!)
                                    for r in 0..<rows {
                                        let gr = g.baseAddress! + r * n, xr = xhat.baseAddress! + r * n, dr = dx.baseAddress! + r * n
                                        var sumD = Lanes(), sumDX = Lanes()
                                        forEachLanes(n) { offset, load in
                                            let gv = load(gr), xv = load(xr)
                                            let d = gv * load(w)
                                            sumD += d
                                            sumDX += d * xv
                                            store(load(dg) + gv * xv, dg, offset: offset, count: n)
                                            store(load(db) + gv, db, offset: offset, count: n)
                                        }
                                        let total = sumD.sum(), totalX = sumDX.sum()
                                        let scale = rstd[r] / Float(n), width = Float(n)
                                        forEachLanes(n) { offset, load in
                                            store(scale * (width * load(gr) * load(w) - total - load(xr) * totalX), dr, offset: offset, count: n)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if self.requiresGrad { self.accumulate(dx) }
            if gamma.requiresGrad { gamma.accumulate(dgamma) }
            if beta.requiresGrad { beta.accumulate(dbeta) }
        }
    }

    /// RMS normalisation over the last axis: `x / sqrt(mean(x²) + eps) * gamma`.
    public func rmsNorm(gamma: Tensor, eps: Float = 1e-6) -> Tensor {
        let n = shape[rank - 1], rows = count / n
        var out = [Float](repeating: 0, count: count)
        var inverse = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let base = r * n
            var squares: Float = 0
            for j in 0..<n { squares += data[base + j] * data[base + j] }
            let s = 1 / (squares / Float(n) + eps).squareRoot()
            inverse[r] = s
            for j in 0..<n { out[base + j] = data[base + j] * s * gamma.data[j] }
        }
        return Tensor(shape: shape, data: out, parents: [self, gamma]) { result in
            let g = result.grad!
            var dx = [Float](repeating: 0, count: self.count), dgamma = [Float](repeating: 0, count: n)
            for r in 0..<rows {
                let base = r * n, s = inverse[r]
                var dot: Float = 0
                for j in 0..<n {
                    dot += g[base + j] * gamma.data[j] * self.data[base + j]
                    dgamma[j] += g[base + j] * self.data[base + j] * s
                }
                for j in 0..<n {
                    dx[base + j] = s * g[base + j] * gamma.data[j] - self.data[base + j] * s * s * s * dot / Float(n)
                }
            }
            if self.requiresGrad { self.accumulate(dx) }
            if gamma.requiresGrad { gamma.accumulate(dgamma) }
        }
    }

    /// Softmax over the last axis (max-subtracted, so large inputs do not overflow).
    public func softmax() -> Tensor {
        let n = shape[rank - 1]
        let out = Tensor.softmaxRows(data, width: n)
        return Tensor(shape: shape, data: out, parents: [self]) { result in
            let g = result.grad!
            var dx = [Float](repeating: 0, count: self.count)
            for r in 0..<(self.count / n) {
                let base = r * n
                var dot: Float = 0
                for j in 0..<n { dot += g[base + j] * out[base + j] }
                for j in 0..<n { dx[base + j] = out[base + j] * (g[base + j] - dot) }
            }
            self.accumulate(dx)
        }
    }

    /// Log-softmax over the last axis: `x - logsumexp(x)`.
    public func logSoftmax() -> Tensor {
        let n = shape[rank - 1]
        let probabilities = Tensor.softmaxRows(data, width: n)
        // log p from x directly: more accurate than the log of a tiny probability.
        var exact = [Float](repeating: 0, count: count)
        for r in 0..<(count / n) {
            let base = r * n
            var m = -Float.infinity
            for j in 0..<n { m = max(m, data[base + j]) }
            var total: Float = 0
            for j in 0..<n { total += exp(data[base + j] - m) }
            let lse = m + log(total)
            for j in 0..<n { exact[base + j] = data[base + j] - lse }
        }
        return Tensor(shape: shape, data: exact, parents: [self]) { result in
            let g = result.grad!
            var dx = [Float](repeating: 0, count: self.count)
            for r in 0..<(self.count / n) {
                let base = r * n
                var total: Float = 0
                for j in 0..<n { total += g[base + j] }
                for j in 0..<n { dx[base + j] = g[base + j] - probabilities[base + j] * total }
            }
            self.accumulate(dx)
        }
    }

    static func softmaxRows(_ x: [Float], width n: Int) -> [Float] {
        var out = x
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<(x.count / n) { softmaxInPlace(o.baseAddress! + r * n, n) }
        }
        return out
    }
}
