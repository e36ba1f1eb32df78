extension Tensor {
    /// Multi-head self-attention among a few fields (AutoInt's interacting layer), without masks:
    /// `q, k, v [B, F, heads·d]` -> `[B, F, heads·d]`, `softmax(q kᵀ / √d) v` per head. With a
    /// handful of fields every block is a few dozen products, so plain loops beat one BLAS
    /// call per (batch, head) block, which `attention` makes for long sequences.
    ///
    /// The dot products of a row against every field run eight fields at a time: each (batch,
    /// head) block's keys (and, backwards, values) are transposed to `[d, F]` first, so that
    /// one lane accumulates one field's products in the same order as a scalar loop would.
    public static func fieldAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int) -> Tensor {
        precondition(q.rank == 3 && k.shape == q.shape && v.shape == q.shape && q.shape[2] % heads == 0, "fieldAttention: q, k, v [B, F, heads·d]")
        let (batch, fields, width) = (q.shape[0], q.shape[1], q.shape[2])
        let d = width / heads, scale = 1 / Float(d).squareRoot()
        let block = FieldBlock(fields: fields, width: width, d: d)
        // P [B, heads, F, F]
        var probabilities = [Float](repeating: 0, count: batch * heads * fields * fields)
        var transposed = [Float](repeating: 0, count: block.transposedCount)
        let out = makeArray(q.count) { o in
            o.initialize(repeating: 0)
            q.data.withUnsafeBufferPointer { qp in
                k.data.withUnsafeBufferPointer { kp in
                    v.data.withUnsafeBufferPointer { vp in
                        probabilities.withUnsafeMutableBufferPointer { pp in
                            transposed.withUnsafeMutableBufferPointer { tp in
                                let t = tp.baseAddress!
                                for b in 0..<batch {
                                    for h in 0..<heads {
                                        let head = b * fields * width + h * d
                                        block.transpose(kp.baseAddress! + head, into: t)
                                        for i in 0..<fields {
                                            let row = pp.baseAddress! + ((b * heads + h) * fields + i) * fields
                                            let offset = head + i * width
                                            block.dots(qp.baseAddress! + offset, t, scale: scale, into: row)
                                            softmaxInPlace(row, fields)
                                            let oi = o.baseAddress! + offset
                                            for j in 0..<fields {
                                                let p = row[j], vj = vp.baseAddress! + head + j * width
                                                block.axpy(p, vj, oi)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: q.shape, data: out, parents: [q, k, v]) { result in
            var dq = [Float](repeating: 0, count: q.count), dk = dq, dv = dq
            var ds = [Float](repeating: 0, count: block.padded)
            var transposed = [Float](repeating: 0, count: block.transposedCount)
            result.grad!.withUnsafeBufferPointer { gp in
                q.data.withUnsafeBufferPointer { qp in
                    k.data.withUnsafeBufferPointer { kp in
                        v.data.withUnsafeBufferPointer { vp in
                            probabilities.withUnsafeBufferPointer { pp in
                                dq.withUnsafeMutableBufferPointer { dqp in
                                    dk.withUnsafeMutableBufferPointer { dkp in
                                        dv.withUnsafeMutableBufferPointer { dvp in
                                            transposed.withUnsafeMutableBufferPointer { tp in
                                                ds.withUnsafeMutableBufferPointer { dsp in
                                                    let (t, ds) = (tp.baseAddress!, dsp.baseAddress!)
                                                    for b in 0..<batch {
                                                        for h in 0..<heads {
                                                            let head = b * fields * width + h * d
                                                            block.transpose(vp.baseAddress! + head, into: t)
                                                            for i in 0..<fields {
                                                                let row = pp.baseAddress! + ((b * heads + h) * fields + i) * fields
                                                                let offset = head + i * width
                                                                let gi = gp.baseAddress! + offset, qi = qp.baseAddress! + offset, dqi = dqp.baseAddress! + offset
                                                                // dP[j] = dO[i] · v[j]; dV[j] += P[i, j] dO[i]
                                                                block.dots(gi, t, scale: 1, into: ds)
                                                                var total: Float = 0
                                                                for j in 0..<fields {
                                                                    let dvj = dvp.baseAddress! + head + j * width, p = row[j]
                                                                    block.axpy(p, gi, dvj)
                                                                    total += ds[j] * p
                                                                }
                                                                // dS = P ⊙ (dP − Σ dP ⊙ P) / √d; dQ[i] += dS k[j]; dK[j] += dS q[i]
                                                                for j in 0..<fields {
                                                                    let kj = kp.baseAddress! + head + j * width, dkj = dkp.baseAddress! + head + j * width
                                                                    let s = row[j] * (ds[j] - total) * scale
                                                                    block.axpy(s, kj, dqi)
                                                                    block.axpy(s, qi, dkj)
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if q.requiresGrad { q.accumulate(dq) }
            if k.requiresGrad { k.accumulate(dk) }
            if v.requiresGrad { v.accumulate(dv) }
        }
    }
}

/// One (batch, head) block of `fieldAttention`: `F` rows of `d` values, `width` apart.
private struct FieldBlock {
    let fields: Int, width: Int, d: Int
    /// `F` rounded up to whole groups of eight lanes.
    let padded: Int

    init(fields: Int, width: Int, d: Int) {
        (self.fields, self.width, self.d) = (fields, width, d)
        padded = (fields + 7) / 8 * 8
    }

    var transposedCount: Int { d * padded }

    /// The block's `[F, d]` rows as `[d, padded]` (the padding lanes stay zero).
    @inline(__always)
    func transpose(_ rows: UnsafePointer<Float>, into t: UnsafeMutablePointer<Float>) {
        for x in 0..<d {
            let column = rows + x, out = t + x &* padded
            for j in 0..<fields { out[j] = column[j &* width] }
        }
    }

    /// `y += a · x` over one head's `d` values, eight at a time.
    @inline(__always)
    func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var i = 0
        while i &+ 8 <= d {
            let sum = UnsafeRawPointer(y + i).loadUnaligned(as: Lanes.self) + Lanes(repeating: a) * UnsafeRawPointer(x + i).loadUnaligned(as: Lanes.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: sum, as: Lanes.self)
            i &+= 8
        }
        while i < d {
            y[i] += a * x[i]
            i &+= 1
        }
    }

    /// `out[j] = (a · row j) · scale` for every field `j`, each dot product summed over `x` in order.
    @inline(__always)
    func dots(_ a: UnsafePointer<Float>, _ t: UnsafePointer<Float>, scale: Float, into out: UnsafeMutablePointer<Float>) {
        for j in stride(from: 0, to: fields, by: 8) {
            var sum = Lanes(repeating: 0)
            for x in 0..<d { sum += Lanes(repeating: a[x]) * UnsafeRawPointer(t + x * padded + j).loadUnaligned(as: Lanes.self) }
            store(sum * scale, out, offset: j, count: fields)
        }
    }
}
