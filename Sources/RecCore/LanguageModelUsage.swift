import Foundation

/// Language-model work done in this process, for progress lines and cost accounting: calls
/// that reached a model and calls answered by the cache, with their tokens, and the wall time
/// spent waiting for models.
public final class LanguageModelUsage: @unchecked Sendable {
    public static let shared = LanguageModelUsage()
    public struct Counts: Sendable, Equatable {
        /// Calls that reached a model, and their tokens.
        public var calls = 0, promptTokens = 0, generatedTokens = 0
        /// Calls the cache answered, and the tokens they had cost when they were made.
        public var cached = 0, cachedPromptTokens = 0, cachedGeneratedTokens = 0
        /// Wall seconds spent inside model calls (a batch counts once, however many it holds).
        public var seconds = 0.0

        public init() {}

        /// The work done between `earlier` and this reading.
        public func since(_ earlier: Counts) -> Counts {
            var out = Counts()
            out.calls = calls - earlier.calls
            out.promptTokens = promptTokens - earlier.promptTokens
            out.generatedTokens = generatedTokens - earlier.generatedTokens
            out.cached = cached - earlier.cached
            out.cachedPromptTokens = cachedPromptTokens - earlier.cachedPromptTokens
            out.cachedGeneratedTokens = cachedGeneratedTokens - earlier.cachedGeneratedTokens
            out.seconds = seconds - earlier.seconds
            return out
        }
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

    public func recordCached(prompt: Int, generated: Int) {
        lock.withLock {
            counts.cached += 1
            counts.cachedPromptTokens += prompt
            counts.cachedGeneratedTokens += generated
        }
    }

    /// Runs `body`, a call into a model, adding its wall time.
    public func timed<T>(_ body: () throws -> T) rethrows -> T {
        let start = Date()
        defer {
            let elapsed = Date().timeIntervalSince(start)
            lock.withLock { counts.seconds += elapsed }
        }
        return try body()
    }
}
