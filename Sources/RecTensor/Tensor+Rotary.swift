import Foundation

extension Tensor {
    /// Rotary position embedding on rows of heads: for `self` of shape `[..., T, width]` with
    /// `width` a multiple of `headDim`, row t of every leading index turns each adjacent pair
    /// `(x[2i], x[2i+1])` of every head by the angle whose cosine and sine are
    /// `cos[positions[t] * headDim/2 + i]` and `sin[...]` (ggml's "normal" rope, the layout of
    /// llama-architecture GGUF files). The derivative is the inverse rotation.
    public func rotary(cos: [Float], sin: [Float], positions: [Int], headDim: Int) -> Tensor {
        let width = shape[rank - 1], rows = count / width, t = positions.count, half = headDim / 2
        precondition(width % headDim == 0 && headDim % 2 == 0 && rows % t == 0, "rotary needs [..., T, heads·headDim] with T = positions")
        func turn(_ source: [Float], inverse: Bool) -> [Float] {
            source.withUnsafeBufferPointer { x in
                makeArray(source.count) { o in
                    for row in 0..<rows {
                        let position = positions[row % t]
                        for head in 0..<(width / headDim) {
                            let base = row * width + head * headDim
                            for i in 0..<half {
                                let c = cos[position * half + i], s = inverse ? -sin[position * half + i] : sin[position * half + i]
                                let a = x[base + 2 * i], b = x[base + 2 * i + 1]
                                o[base + 2 * i] = a * c - b * s
                                o[base + 2 * i + 1] = a * s + b * c
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, data: turn(data, inverse: false), parents: [self]) { result in
            self.accumulate(turn(result.grad!, inverse: true))
        }
    }

    /// Grouped-query attention's sharing of key/value heads: `[..., kvHeads·d]` to
    /// `[..., kvHeads·groups·d]`, head j of the result being head j / groups of the input. The
    /// derivative sums each group back into its head.
    public func repeatingHeads(_ groups: Int, headDim d: Int) -> Tensor {
        guard groups > 1 else { return self }
        let width = shape[rank - 1], rows = count / width, heads = width / d
        precondition(width % d == 0, "width \(width) is not a multiple of the head size \(d)")
        let out = data.withUnsafeBufferPointer { x in
            makeArray(count * groups) { o in
                for row in 0..<rows {
                    for head in 0..<heads {
                        let source = x.baseAddress! + row * width + head * d
                        for g in 0..<groups {
                            (o.baseAddress! + row * width * groups + (head * groups + g) * d).update(from: source, count: d)
                        }
                    }
                }
            }
        }
        var outShape = shape
        outShape[rank - 1] = width * groups
        return Tensor(shape: outShape, data: out, parents: [self]) { result in
            let gx = result.grad!.withUnsafeBufferPointer { g in
                makeArray(self.count) { o in
                    o.initialize(repeating: 0)
                    for row in 0..<rows {
                        for head in 0..<heads {
                            for g2 in 0..<groups {
                                let source = row * width * groups + (head * groups + g2) * d
                                for i in 0..<d { o[row * width + head * d + i] += g[source + i] }
                            }
                        }
                    }
                }
            }
            self.accumulate(gx)
        }
    }
}
