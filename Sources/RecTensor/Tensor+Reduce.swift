extension Tensor {
    /// Sum over `axes` (all axes when empty); kept axes have length 1 when `keepDims`.
    public func sum(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let reduce = Set(axes.isEmpty ? Array(0..<rank) : axes.map { $0 < 0 ? $0 + rank : $0 })
        let kept = shape.enumerated().map { reduce.contains($0.offset) ? 1 : $0.element }
        let index = broadcastIndices(kept, to: shape)
        var out = [Float](repeating: 0, count: kept.reduce(1, *))
        for i in 0..<count { out[index[i]] += data[i] }
        let outShape = keepDims ? kept : shape.enumerated().filter { !reduce.contains($0.offset) }.map(\.element)
        return Tensor(shape: outShape, data: out, parents: [self]) { result in
            let g = result.grad!
            self.accumulate(index.map { g[$0] })
        }
    }

    public func mean(axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        let reduce = axes.isEmpty ? Array(0..<rank) : axes.map { $0 < 0 ? $0 + rank : $0 }
        let n = reduce.map { shape[$0] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
    }
}
