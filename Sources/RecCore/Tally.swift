import Foundation

/// Counts and the first few examples a component keeps for the report (see `Diagnosing`).
public final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Int] = [:]
    private var examples: [String] = []
    public let keep: Int

    public init(keep: Int = 2) { self.keep = keep }

    public func count(_ name: String, _ amount: Int = 1) { lock.withLock { values[name, default: 0] += amount } }

    public func example(_ text: @autoclosure () -> String) {
        lock.withLock { if examples.count < keep { examples.append(text()) } }
    }

    public var counts: [String: Int] { lock.withLock { values } }
    public var kept: [String] { lock.withLock { examples } }
}
