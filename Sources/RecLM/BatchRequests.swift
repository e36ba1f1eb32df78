import Foundation
import RecCore

/// One prompt of a batch to generate from.
public struct GenerationRequest: Codable, Sendable, Hashable {
    public var prompt: Prompt
    public var parameters: SamplingParameters

    public init(_ prompt: Prompt, _ parameters: SamplingParameters) {
        self.prompt = prompt
        self.parameters = parameters
    }
}

/// One prompt of a batch to score continuations after.
public struct ScoringRequest: Codable, Sendable, Hashable {
    public var prompt: Prompt
    public var continuations: [String]

    public init(_ prompt: Prompt, continuations: [String]) {
        self.prompt = prompt
        self.continuations = continuations
    }
}

/// How a batch call reports each request: once, as it ends, never two at a time.
public typealias Finished<Response> = (Int, Result<Response, any Error>) -> Void

extension LanguageModel {
    /// One request after another (backends without a batched path).
    public func generateEach(_ requests: [GenerationRequest], finished: Finished<Generation>) {
        for (index, request) in requests.enumerated() { finished(index, Result { try generate(request.prompt, request.parameters) }) }
    }

    public func scoreEach(_ requests: [ScoringRequest], finished: Finished<[ContinuationScore]>) {
        for (index, request) in requests.enumerated() { finished(index, Result { try score(request.prompt, continuations: request.continuations) }) }
    }

    /// Every request's generation in input order. When some fail, the error comes after every
    /// request has run (a cached model has stored the others) and names how many failed and
    /// why the first did.
    public func generateAll(_ requests: [GenerationRequest]) throws -> [Generation] {
        var results = [Result<Generation, any Error>?](repeating: nil, count: requests.count)
        try generate(requests) { results[$0] = $1 }
        return try BatchFailure.collect(results, what: "prompts")
    }

    /// Each message sent as one user turn of a chat, greedy, at most `maxTokens` generated;
    /// generations in input order, failures as in `generateAll`.
    public func chatAll(_ messages: [String], maxTokens: Int) throws -> [Generation] {
        try generateAll(messages.map { GenerationRequest(.chat([ChatMessage(role: "user", content: $0)]), SamplingParameters(maxTokens: maxTokens)) })
    }

    /// Every request's scores in input order; failures as in `generateAll`. `answered` is told
    /// how many requests have ended, after each one ends (for progress on long batches).
    public func scoreAll(_ requests: [ScoringRequest], answered: ((Int) -> Void)? = nil) throws -> [[ContinuationScore]] {
        var results = [Result<[ContinuationScore], any Error>?](repeating: nil, count: requests.count)
        var ended = 0
        try score(requests) {
            results[$0] = $1
            ended += 1
            answered?(ended)
        }
        return try BatchFailure.collect(results, what: "scoring requests")
    }
}

/// The error of a batch in which some requests failed.
public enum BatchFailure {
    static func collect<T>(_ results: [Result<T, any Error>?], what: String) throws -> [T] {
        var values: [T] = [], failed: [(Int, any Error)] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let value)?: values.append(value)
            case .failure(let error)?: failed.append((index, error))
            case nil: failed.append((index, RecError(.plugin, "the backend never answered")))
            }
        }
        guard let (index, first) = failed.first else { return values }
        let cause = (first as? RecError)?.message ?? "\(first)"
        let kind = (first as? RecError)?.kind ?? .plugin
        if results.count == 1 { throw first }
        throw RecError(kind, "\(failed.count) of \(results.count) \(what) failed (the others are stored); the first, #\(index + 1): \(cause)")
    }
}
