import Foundation
import RecCore

/// A Float32 tensor, row-major and contiguous, that records how it was computed so that
/// `backward()` can run reverse-mode differentiation.
///
/// Every op writes its result into a new tensor and, when an input requires a gradient, attaches
/// a hand-written derivative that adds the output's gradient into the inputs' gradients. The
/// tape is the graph's reverse topological order, built when `backward()` is called.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public var data: [Float]
    /// The gradient, allocated on first accumulation; same layout as `data`.
    public var grad: [Float]?
    public let requiresGrad: Bool

    let parents: [Tensor]
    let derivative: ((Tensor) -> Void)?

    /// Whether ops record derivatives (off inside `Tensor.noGrad`).
    @TaskLocal public static var recording = true

    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) values")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
        parents = []
        derivative = nil
    }

    /// An op's result: records `derivative` only when some parent needs a gradient.
    init(shape: [Int], data: [Float], parents: [Tensor], derivative: @escaping (Tensor) -> Void) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) values")
        self.shape = shape
        self.data = data
        let needs = Tensor.recording && parents.contains { $0.requiresGrad }
        requiresGrad = needs
        self.parents = needs ? parents : []
        self.derivative = needs ? derivative : nil
    }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    public static func scalar(_ value: Float) -> Tensor { Tensor(shape: [], data: [value]) }

    public var count: Int { data.count }
    public var rank: Int { shape.count }
    /// Row-major strides (the layout is always contiguous).
    public var strides: [Int] {
        var result = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { result[axis] = result[axis + 1] * shape[axis + 1] }
        return result
    }

    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, shape is \(shape)")
        return data[0]
    }

    /// Runs `body` without recording derivatives (evaluation, scoring).
    public static func noGrad<T>(_ body: () throws -> T) rethrows -> T {
        try $recording.withValue(false) { try body() }
    }

    /// Adds `values` into the gradient.
    @inlinable
    public func accumulate(_ values: UnsafeBufferPointer<Float>) {
        if grad == nil {
            grad = Array(values)
            return
        }
        grad!.withUnsafeMutableBufferPointer { g in
            for i in 0..<g.count { g[i] += values[i] }
        }
    }

    public func accumulate(_ values: [Float]) {
        if grad == nil {
            // The first gradient is taken as it is (no zero-fill and add).
            grad = values
            return
        }
        values.withUnsafeBufferPointer { accumulate($0) }
    }

    public func zeroGrad() {
        grad = nil
    }

    /// Reverse-mode differentiation from this scalar: every tensor it depends on that requires a
    /// gradient receives d(self)/d(tensor) in `grad`.
    public func backward() {
        precondition(count == 1, "backward() starts from a scalar, shape is \(shape)")
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative depth-first post-order (graphs can be deep).
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            guard visited.insert(ObjectIdentifier(node)).inserted else { continue }
            stack.append((node, true))
            for parent in node.parents where parent.requiresGrad { stack.append((parent, false)) }
        }
        grad = [1]
        for node in order.reversed() where node.grad != nil {
            node.derivative?(node)
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(\(shape), \(data.prefix(8))\(count > 8 ? "…" : ""))" }
}

/// An array of `count` floats filled by `body` (no zero-fill first).
@inlinable
public func makeArray(_ count: Int, _ body: (UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        body(buffer)
        initialized = count
    }
}

/// Base addresses of a few arrays' storage for the length of `body`, for loops over raw
/// buffers (which the compiler vectorises; array subscripts it often does not). An empty
/// array's address is a valid pointer to nothing.
@inlinable
public func withBuffers<R>(_ a: [Float], _ b: [Float], _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
    a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in body(a.baseAddress ?? emptyBuffer, b.baseAddress ?? emptyBuffer) } }
}

@usableFromInline nonisolated(unsafe) let emptyBuffer = UnsafePointer(UnsafeMutablePointer<Float>.allocate(capacity: 1))

@inlinable
public func withBuffers<R>(_ a: [Float], _ b: [Float], _ c: [Float], _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
    withBuffers(a, b) { a, b in c.withUnsafeBufferPointer { c in body(a, b, c.baseAddress ?? emptyBuffer) } }
}

@inlinable
public func withBuffers<R>(
    _ a: [Float], _ b: [Float], _ c: [Float], _ d: [Float], _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> R
) -> R {
    withBuffers(a, b, c) { a, b, c in d.withUnsafeBufferPointer { d in body(a, b, c, d.baseAddress ?? emptyBuffer) } }
}

import COpenBLAS

extension Tensor {
    /// Keeps freed buffers in the heap instead of returning them to the kernel: training
    /// allocates and frees the same large arrays every step, and fresh pages cost a page fault
    /// and a zero-fill each. Call once, early, in processes that train.
    ///
    /// glibc caps the mmap threshold at 32 MiB (a larger value is refused, and setting the trim
    /// threshold alone would pin the mmap threshold at its 128 KiB default), so arrays up to
    /// 32 MiB come from the heap and larger ones are still mapped. Worker threads would get
    /// arenas of their own, whose 64 MiB heaps glibc unmaps as soon as they empty (whatever
    /// the trim threshold), so every thread shares the main arena.
    /// - Returns: whether glibc accepted the settings.
    @discardableResult
    public static func retainFreedMemory() -> Bool {
        let mapped = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        let trimmed = mallopt(M_TRIM_THRESHOLD, 1 << 30)
        let arenas = mallopt(M_ARENA_MAX, 1)
        return mapped == 1 && trimmed == 1 && arenas == 1
    }
}
