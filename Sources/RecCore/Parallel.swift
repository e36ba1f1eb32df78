import Dispatch
import Foundation

/// Wraps a value (a raw buffer, say) whose concurrent use the caller makes safe by writing
/// disjoint parts from each task.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}

/// The cores this process may use, read once: on Linux every read of
/// `ProcessInfo.activeProcessorCount` queries the affinity mask and the cgroup's CPU quota,
/// tens of microseconds that small parallel loops would pay on every call.
public let activeCores = ProcessInfo.processInfo.activeProcessorCount

/// Runs `body(chunk, chunks)` once per core; each call handles its own stride of the work.
/// Use it for CPU work outside BLAS, never around BLAS calls (they are threaded already).
public func parallelChunks(_ count: Int, _ body: @Sendable (_ chunk: Int, _ chunks: Int) -> Void) {
    let chunks = max(1, min(activeCores, count))
    if chunks == 1 { body(0, 1); return }
    DispatchQueue.concurrentPerform(iterations: chunks) { body($0, chunks) }
}

/// A value behind a lock, for state that `@Sendable` closures (progress callbacks, training
/// events) share across threads.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func get() -> Value { lock.withLock { value } }
    public func set(_ new: Value) { lock.withLock { value = new } }
    /// Changes the value in place, under the lock.
    public func update(_ body: (inout Value) -> Void) { lock.withLock { body(&value) } }
}
