import Foundation
import RecCore

/// A language model made on first use: plans build components only to check their
/// configuration, and that must not load weights.
public final class LazyLanguageModel: @unchecked Sendable {
    private let spec: LanguageModelSpec
    private let cache: (any LanguageModelCallCache)?
    private let lock = NSLock()
    private var made: (any LanguageModel)?

    /// `preset` is used instead of the spec's model (tests, and callers that already hold one).
    public init(_ spec: LanguageModelSpec, cache: (any LanguageModelCallCache)?, preset: (any LanguageModel)? = nil) {
        self.spec = spec
        self.cache = cache
        made = preset
    }

    public func get() throws -> any LanguageModel {
        try lock.withLock {
            if let made { return made }
            let model = try spec.make(cache: cache)
            made = model
            return model
        }
    }
}
