import Foundation

/// Language-model work done in this process, for progress lines and cost accounting: calls
/// that reached a model and calls answered by the cache, with their tokens.
public final class LanguageModelUsage: @unchecked Sendable {
    public static let shared = LanguageModelUsage()
    public struct Counts: Sendable, Equatable {
        public var calls = 0, cached = 0, promptTokens = 0, generatedTokens = 0
    }
    private let lock = NSLock()
    private var counts = Counts()

    public var current: Counts { lock.withLock { counts } }

    public func record(call prompt: Int, generated: Int) {
        lock.withLock {
            counts.calls += 1
            counts.promptTokens += prompt
            counts.generatedTokens += generated
        }
    }

    public func recordCached() { lock.withLock { counts.cached += 1 } }
}
