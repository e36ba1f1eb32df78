import Foundation
import RecCore

/// The broadcast shape of two shapes (NumPy rules), or a precondition failure.
func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    let rank = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: rank - a.count) + a
    let pb = [Int](repeating: 1, count: rank - b.count) + b
    return zip(pa, pb).map { x, y in
        precondition(x == y || x == 1 || y == 1, "shapes \(a) and \(b) do not broadcast")
        return max(x, y)
    }
}

/// For each element of the broadcast output, the index of the element it reads in an input.
func broadcastIndices(_ input: [Int], to output: [Int]) -> [Int] {
    let count = output.reduce(1, *)
    if input == output { return Array(0..<count) }
    let inputCount = input.reduce(1, *)
    if inputCount == 1 { return [Int](repeating: 0, count: count) }
    let padded = [Int](repeating: 1, count: output.count - input.count) + input
    // Suffix case ([H] against [B, T, H]): the index wraps.
    if Array(output.suffix(input.count)) == input { return (0..<count).map { $0 % inputCount } }
    var strides = [Int](repeating: 0, count: output.count)
    var running = 1
    for axis in stride(from: output.count - 1, through: 0, by: -1) {
        strides[axis] = padded[axis] == 1 ? 0 : running
        running *= padded[axis]
    }
    var result = [Int](repeating: 0, count: count)
    var position = [Int](repeating: 0, count: output.count)
    for i in 0..<count {
        var index = 0
        for axis in 0..<output.count { index += position[axis] * strides[axis] }
        result[i] = index
        var axis = output.count - 1
        while axis >= 0 {
            position[axis] += 1
            if position[axis] < output[axis] { break }
            position[axis] = 0
            axis -= 1
        }
    }
    return result
}

extension Tensor {
    /// A broadcasting binary op. `forward(x, y)` gives the value, `dx`/`dy` its partial
    /// derivatives at (x, y) (given the output value too).
    func binary(
        _ other: Tensor, _ forward: (Float, Float) -> Float,
        dx: @escaping (Float, Float, Float) -> Float, dy: @escaping (Float, Float, Float) -> Float
    ) -> Tensor {
        if self.shape == other.shape { return sameShape(other, forward, dx: dx, dy: dy) }
        let shape = broadcastShape(self.shape, other.shape)
        let ia = broadcastIndices(self.shape, to: shape), ib = broadcastIndices(other.shape, to: shape)
        let n = ia.count
        var out = [Float](repeating: 0, count: n)
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                for i in 0..<n { out[i] = forward(a[ia[i]], b[ib[i]]) }
            }
        }
        return Tensor(shape: shape, data: out, parents: [self, other]) { result in
            let g = result.grad!
            if self.requiresGrad {
                var ga = [Float](repeating: 0, count: self.count)
                for i in 0..<n { ga[ia[i]] += g[i] * dx(self.data[ia[i]], other.data[ib[i]], result.data[i]) }
                self.accumulate(ga)
            }
            if other.requiresGrad {
                var gb = [Float](repeating: 0, count: other.count)
                for i in 0..<n { gb[ib[i]] += g[i] * dy(self.data[ia[i]], other.data[ib[i]], result.data[i]) }
                other.accumulate(gb)
            }
        }
    }

    /// `binary` for equal shapes: no index arrays.
    private func sameShape(
        _ other: Tensor, _ forward: (Float, Float) -> Float,
        dx: @escaping (Float, Float, Float) -> Float, dy: @escaping (Float, Float, Float) -> Float
    ) -> Tensor {
        let n = count
        let out = data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                makeArray(n) { o in for i in 0..<n { o[i] = forward(a[i], b[i]) } }
            }
        }
        return Tensor(shape: shape, data: out, parents: [self, other]) { result in
            result.grad!.withUnsafeBufferPointer { g in
                self.data.withUnsafeBufferPointer { a in
                    other.data.withUnsafeBufferPointer { b in
                        result.data.withUnsafeBufferPointer { y in
                            if self.requiresGrad { self.accumulate(makeArray(n) { o in for i in 0..<n { o[i] = g[i] * dx(a[i], b[i], y[i]) } }) }
                            if other.requiresGrad { other.accumulate(makeArray(n) { o in for i in 0..<n { o[i] = g[i] * dy(a[i], b[i], y[i]) } }) }
                        }
                    }
                }
            }
        }
    }

    /// An element-wise op with derivative `d(x, y)` (y the output).
    func unary(_ forward: (Float) -> Float, _ d: @escaping (Float, Float) -> Float) -> Tensor {
        let n = count
        let out = data.withUnsafeBufferPointer { x in makeArray(n) { o in for i in 0..<n { o[i] = forward(x[i]) } } }
        return Tensor(shape: shape, data: out, parents: [self]) { result in
            let gx = result.grad!.withUnsafeBufferPointer { g in
                self.data.withUnsafeBufferPointer { x in
                    result.data.withUnsafeBufferPointer { y in makeArray(n) { o in for i in 0..<n { o[i] = g[i] * d(x[i], y[i]) } } }
                }
            }
            self.accumulate(gx)
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        if a.shape == b.shape {
            // Same shape: the common case (residuals), without index arrays.
            var out = a.data
            out.withUnsafeMutableBufferPointer { o in b.data.withUnsafeBufferPointer { y in for i in 0..<o.count { o[i] += y[i] } } }
            return Tensor(shape: a.shape, data: out, parents: [a, b]) { result in
                if a.requiresGrad { a.accumulate(result.grad!) }
                if b.requiresGrad { b.accumulate(result.grad!) }
            }
        }
        if b.rank == 1 && a.shape.last == b.count { return a.addingRowVector(b) }
        return a.binary(b, +, dx: { _, _, _ in 1 }, dy: { _, _, _ in 1 })
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor { a.binary(b, -, dx: { _, _, _ in 1 }, dy: { _, _, _ in -1 }) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.binary(b, *, dx: { _, y, _ in y }, dy: { x, _, _ in x }) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.binary(b, /, dx: { _, y, _ in 1 / y }, dy: { x, y, _ in -x / (y * y) }) }

    public static func * (a: Tensor, s: Float) -> Tensor { a.unary({ $0 * s }, { _, _ in s }) }
    public static func + (a: Tensor, s: Float) -> Tensor { a.unary({ $0 + s }, { _, _ in 1 }) }

    // MARK: - Activations

    public func relu() -> Tensor {
        let n = count
        let out = data.withUnsafeBufferPointer { x in
            makeArray(n) { o in
                forEachLanes(n) { offset, load in
                    let lanes = load(x.baseAddress!)
                    store(lanes.replacing(with: 0, where: lanes .< 0), o.baseAddress!, offset: offset, count: n)
                }
            }
        }
        return Tensor(shape: shape, data: out, parents: [self]) { result in
            let gx = result.grad!.withUnsafeBufferPointer { g in
                result.data.withUnsafeBufferPointer { y in
                    makeArray(n) { o in
                        forEachLanes(n) { offset, load in
                            store(load(g.baseAddress!).replacing(with: 0, where: load(y.baseAddress!) .<= 0), o.baseAddress!, offset: offset, count: n)
                        }
                    }
                }
            }
            self.accumulate(gx)
        }
    }
    public func tanh() -> Tensor { unary({ Foundation.tanh($0) }, { _, y in 1 - y * y }) }
    /// σ(x) = 1 / (1 + e^−x) with `vexp`, eight lanes at a time; the derivative is y (1 − y).
    public func sigmoid() -> Tensor {
        let n = count
        let out = data.withUnsafeBufferPointer { x in
            makeArray(n) { o in
                forEachLanes(n) { offset, load in store(1 / (1 + vexp(-load(x.baseAddress!))), o.baseAddress!, offset: offset, count: n) }
            }
        }
        return Tensor(shape: shape, data: out, parents: [self]) { result in
            let gx = withBuffers(result.grad!, result.data) { g, y in
                makeArray(n) { o in
                    forEachLanes(n) { offset, load in
                        let y = load(y)
                        store(load(g) * y * (1 - y), o.baseAddress!, offset: offset, count: n)
                    }
                }
            }
            self.accumulate(gx)
        }
    }
    public func silu() -> Tensor {
        unary(
            { $0 / (1 + exp(-$0)) },
            { x, _ in
                let s = 1 / (1 + exp(-x))
                return s * (1 + x * (1 - s))
            })
    }

    /// GELU with the erf form, as BERT and RecBole's SASRec use (erf by `verf`, within 6e-7).
    public func gelu() -> Tensor {
        let n = count
        let invSqrt2 = 1 / Float(2).squareRoot(), invSqrt2Pi = 1 / Float(2 * Double.pi).squareRoot()
        // Keep Φ(x) and φ(x) from the forward pass for the derivative Φ(x) + x φ(x).
        var cdf = [Float](), density = [Float]()
        let out = data.withUnsafeBufferPointer { x in
            makeArray(n) { o in
                cdf = makeArray(n) { c in
                    density = makeArray(n) { d in
                        forEachLanes(n) { offset, load in
                            let value = load(x.baseAddress!)
                            let (erf, gaussian) = verf(value * invSqrt2)
                            let phi = 0.5 * (1 + erf)
                            store(phi, c.baseAddress!, offset: offset, count: n)
                            store(gaussian * invSqrt2Pi, d.baseAddress!, offset: offset, count: n)
                            store(value * phi, o.baseAddress!, offset: offset, count: n)
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, data: out, parents: [self]) { result in
            let gx = result.grad!.withUnsafeBufferPointer { g in
                self.data.withUnsafeBufferPointer { x in
                    cdf.withUnsafeBufferPointer { c in
                        density.withUnsafeBufferPointer { d in
                            makeArray(n) { o in for i in 0..<n { o[i] = g[i] * (c[i] + x[i] * d[i]) } }
                        }
                    }
                }
            }
            self.accumulate(gx)
        }
    }

    /// Inverted dropout: in training, zeroes each value with probability `p` and scales the rest
    /// by 1/(1-p); the mask comes from `rng`, so runs repeat under a seed.
    public func dropout(_ p: Float, training: Bool, rng: inout SplitMix64) -> Tensor {
        guard training, p > 0 else { return self }
        let keep = 1 - p, scale = 1 / keep, n = count
        let mask = makeArray(n) { m in for i in 0..<n { m[i] = rng.nextFloat() < keep ? scale : 0 } }
        let out = data.withUnsafeBufferPointer { x in mask.withUnsafeBufferPointer { m in makeArray(n) { o in for i in 0..<n { o[i] = x[i] * m[i] } } } }
        return Tensor(shape: shape, data: out, parents: [self]) { result in
            let gx = result.grad!.withUnsafeBufferPointer { g in mask.withUnsafeBufferPointer { m in makeArray(n) { o in for i in 0..<n { o[i] = g[i] * m[i] } } } }
            self.accumulate(gx)
        }
    }
}
