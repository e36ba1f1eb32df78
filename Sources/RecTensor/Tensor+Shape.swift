extension Tensor {
    /// The same values with another shape (one axis may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let free = target.firstIndex(of: -1) {
            target[free] = count / target.enumerated().filter { $0.offset != free }.map(\.element).reduce(1, *)
        }
        precondition(target.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: target, data: data, parents: [self]) { result in self.accumulate(result.grad!) }
    }

    /// Permutes axes: `permuted([0, 2, 1, 3])` turns [B, T, h, d] into [B, h, T, d].
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.sorted() == Array(0..<rank), "\(axes) is not a permutation of \(rank) axes")
        if axes == [0, 2, 1, 3] { return swappingMiddleAxes() }
        let newShape = axes.map { shape[$0] }
        let inStrides = strides
        let permutedStrides = axes.map { inStrides[$0] }
        // Source index of each output element.
        var source = [Int](repeating: 0, count: count)
        var position = [Int](repeating: 0, count: rank)
        for i in 0..<count {
            var index = 0
            for axis in 0..<rank { index += position[axis] * permutedStrides[axis] }
            source[i] = index
            var axis = rank - 1
            while axis >= 0 {
                position[axis] += 1
                if position[axis] < newShape[axis] { break }
                position[axis] = 0
                axis -= 1
            }
        }
        let out = source.map { data[$0] }
        return Tensor(shape: newShape, data: out, parents: [self]) { result in
            let g = result.grad!
            var gx = [Float](repeating: 0, count: self.count)
            for i in 0..<g.count { gx[source[i]] += g[i] }
            self.accumulate(gx)
        }
    }

    /// `[A, B, C, D] -> [A, C, B, D]` (splitting and merging attention heads) with direct loops.
    private func swappingMiddleAxes() -> Tensor {
        let (a, b, c, d) = (shape[0], shape[1], shape[2], shape[3])
        func swap(_ source: UnsafeBufferPointer<Float>, rows: Int, columns: Int) -> [Float] {
            // Within each leading block, [rows, columns, d] -> [columns, rows, d].
            makeArray(source.count) { out in
                for block in 0..<a {
                    let base = block * rows * columns * d
                    for r in 0..<rows {
                        for col in 0..<columns {
                            let from = base + (r * columns + col) * d, to = base + (col * rows + r) * d
                            for k in 0..<d { out[to + k] = source[from + k] }
                        }
                    }
                }
            }
        }
        let out = data.withUnsafeBufferPointer { swap($0, rows: b, columns: c) }
        return Tensor(shape: [a, c, b, d], data: out, parents: [self]) { result in
            self.accumulate(result.grad!.withUnsafeBufferPointer { swap($0, rows: c, columns: b) })
        }
    }

    /// Swaps the last two axes.
    public func transposed() -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Elements `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let length = shape[axis], block = range.count * inner
        var newShape = shape
        newShape[axis] = range.count
        // Each outer index keeps one contiguous block of `range.count · inner` values.
        let out = data.withUnsafeBufferPointer { x in
            makeArray(outer * block) { o in
                for i in 0..<outer { (o.baseAddress! + i * block).initialize(from: x.baseAddress! + (i * length + range.lowerBound) * inner, count: block) }
            }
        }
        return Tensor(shape: newShape, data: out, parents: [self]) { result in
            var gx = [Float](repeating: 0, count: self.count)
            result.grad!.withUnsafeBufferPointer { g in
                gx.withUnsafeMutableBufferPointer { gx in
                    for i in 0..<outer { (gx.baseAddress! + (i * length + range.lowerBound) * inner).update(from: g.baseAddress! + i * block, count: block) }
                }
            }
            self.accumulate(gx)
        }
    }

    /// Joins tensors along `axis`; the other axes must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        let first = parts[0].shape
        let outer = first[..<axis].reduce(1, *), inner = first[(axis + 1)...].reduce(1, *)
        let lengths = parts.map { $0.shape[axis] }
        let total = lengths.reduce(0, +)
        var newShape = first
        newShape[axis] = total
        let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
        var out = [Float](repeating: 0, count: outer * total * inner)
        out.withUnsafeMutableBufferPointer { o in
            for (index, part) in parts.enumerated() {
                precondition(part.rank == first.count, "concat needs equal ranks")
                let block = lengths[index] * inner
                part.data.withUnsafeBufferPointer { x in
                    for i in 0..<outer { (o.baseAddress! + (i * total + offsets[index]) * inner).update(from: x.baseAddress! + i * block, count: block) }
                }
            }
        }
        return Tensor(shape: newShape, data: out, parents: parts) { result in
            result.grad!.withUnsafeBufferPointer { g in
                for (index, part) in parts.enumerated() where part.requiresGrad {
                    let block = lengths[index] * inner
                    part.accumulate(
                        makeArray(part.count) { gx in
                            for i in 0..<outer { (gx.baseAddress! + i * block).initialize(from: g.baseAddress! + (i * total + offsets[index]) * inner, count: block) }
                        })
                }
            }
        }
    }

    /// Rows of a matrix-like tensor: `indices` select along axis 0; the result has shape
    /// `[indices.count] + shape[1...]`; the gradient is added into the selected rows.
    /// - Parameter skipping: a row index whose lookups pass no gradient back (a padding token).
    public func gather(rows indices: [Int32], skipping: Int32? = nil) -> Tensor {
        let width = count / shape[0]
        var out = [Float](repeating: 0, count: indices.count * width)
        data.withUnsafeBufferPointer { table in
            out.withUnsafeMutableBufferPointer { o in
                for (r, index) in indices.enumerated() {
                    let source = Int(index) * width
                    for j in 0..<width { o[r * width + j] = table[source + j] }
                }
            }
        }
        return Tensor(shape: [indices.count] + shape.dropFirst(), data: out, parents: [self]) { result in
            let g = result.grad!
            if self.grad == nil { self.grad = [Float](repeating: 0, count: self.count) }
            self.grad!.withUnsafeMutableBufferPointer { gx in
                for (r, index) in indices.enumerated() where index != skipping {
                    let target = Int(index) * width
                    for j in 0..<width { gx[target + j] += g[r * width + j] }
                }
            }
        }
    }
}
