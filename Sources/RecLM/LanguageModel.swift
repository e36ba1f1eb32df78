import Foundation
import RecCore

/// What a language model is asked: plain text, or chat messages the backend formats with the
/// model's chat template.
public enum Prompt: Codable, Sendable, Hashable {
    case text(String)
    case chat([ChatMessage])
}

/// The one protocol every backend serves: generation, and log-probabilities of continuations
/// after a shared prompt.
public protocol LanguageModel: Sendable {
    /// `local` or `openai`: part of every cache key.
    var backend: String { get }
    /// The model's name as reports show it (file name, or the server's model name).
    var model: String { get }
    /// What produces the answers, for the call cache: the weights' SHA-256 for a local model,
    /// the endpoint and model name for a server. Two models with the same name but other
    /// weights or another server must never share cached answers.
    var identity: String { get }
    func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation
    func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore]
}

extension LanguageModel {
    /// Models that have no weights file or endpoint (test doubles) are named by backend and model.
    public var identity: String { "\(backend) \(model)" }
}

/// The in-process engine as a `LanguageModel`.
public final class LocalLanguageModel: LanguageModel, @unchecked Sendable {
    public let engine: LlamaModel
    public let template: ChatTemplate?
    public let backend = "local"
    public let model: String
    public let identity: String
    private let lock = NSLock()

    public init(engine: LlamaModel) {
        self.engine = engine
        // Fast numerics give other numbers, so they are another model to the cache.
        let file = (engine.file.path as NSString).lastPathComponent
        // An adapter makes another model too, named by its file's hash.
        let tags = (engine.numerics == .exact ? [] : [engine.numerics.rawValue]) + (engine.adapterFingerprint.map { ["lora " + $0.prefix(16)] } ?? [])
        model = tags.isEmpty ? file : "\(file) [\(tags.joined(separator: ", "))]"
        identity =
            (["local weights sha256:\(engine.weightsHash)", "numerics \(engine.numerics.rawValue)"]
            + (engine.adapterFingerprint.map { ["adapter sha256:\($0)"] } ?? [])).joined(separator: ", ")
        template = (engine.file.metadata["tokenizer.chat_template"]?.string).flatMap { try? ChatTemplate($0, file: engine.file.path) }
    }

    public func tokens(_ prompt: Prompt) throws -> [Int32] {
        switch prompt {
        case .text(let text): return engine.tokenizer.encode(text, parseSpecial: true, addSpecial: true)
        case .chat(let messages):
            guard let template else { throw RecError(.plugin, "\(engine.file.path) has no ChatML chat template; send plain text") }
            return engine.tokenizer.encode(template.apply(messages), parseSpecial: true, addSpecial: true)
        }
    }

    public func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        let ids = try tokens(prompt)
        return try lock.withLock { try engine.generate(prompt: ids, parameters: parameters) }
    }

    public func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        let ids = try tokens(prompt)
        return try lock.withLock {
            try engine.score(prompt: ids, continuations: continuations.map { engine.tokenizer.encode($0, parseSpecial: false) })
        }
    }
}

/// Any `LanguageModel` behind the results store's call cache: a call seen before (same backend,
/// model, prompt, parameters and seed) is answered from the store without reaching the model;
/// a new call is stored as soon as it returns.
public final class CachedLanguageModel: LanguageModel, @unchecked Sendable {
    public let inner: any LanguageModel
    public let cache: any LanguageModelCallCache
    public var backend: String { inner.backend }
    public var model: String { inner.model }
    public var identity: String { inner.identity }

    public init(_ inner: any LanguageModel, cache: any LanguageModelCallCache) {
        self.inner = inner
        self.cache = cache
    }

    /// The cache key's layout. Version 2 keys on `identity` (weights hash or endpoint) where
    /// version 1 keyed on the model's name alone; rows under version-1 keys are never read.
    static let keyVersion = 2

    struct GenerateRequest: Encodable {
        var version = keyVersion
        var backend: String, model: String, identity: String
        var kind = "generate"
        var prompt: Prompt, parameters: SamplingParameters
    }
    struct ScoreRequest: Encodable {
        var version = keyVersion
        var backend: String, model: String, identity: String
        var kind = "score"
        var prompt: Prompt, continuations: [String]
    }

    func cached<Request: Encodable, Response: Codable>(
        _ request: Request, kind: String, tokens: (Response) -> (prompt: Int, completion: Int), call: () throws -> Response
    ) throws -> Response {
        let text = try canonicalJSON(request, keys: .asDeclared)
        let key = SHA256.hex(text)
        if let stored = try cache.cachedLMResponse(key) {
            do {
                return try JSONDecoder().decode(Response.self, from: Data(stored.utf8))
            } catch {
                throw RecError(.store, "cached \(kind) call \(key.prefix(12)) cannot be read (\(error)); the cache row is damaged")
            }
        }
        let response = try call()
        let (prompt, completion) = tokens(response)
        try cache.storeLMCall(
            LanguageModelCall(
                key: key, backend: backend, model: model, kind: kind, request: text, response: try canonicalJSON(response, keys: .asDeclared),
                promptTokens: prompt, completionTokens: completion))
        return response
    }

    public func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        try cached(
            GenerateRequest(backend: backend, model: model, identity: identity, prompt: prompt, parameters: parameters), kind: "generate",
            tokens: { ($0.promptTokens ?? 0, max($0.tokens.count, $0.logprobs.count)) }
        ) {
            try inner.generate(prompt, parameters)
        }
    }

    public func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        try cached(
            ScoreRequest(backend: backend, model: model, identity: identity, prompt: prompt, continuations: continuations), kind: "score",
            tokens: { (0, $0.map(\.tokens.count).reduce(0, +)) }
        ) {
            try inner.score(prompt, continuations: continuations)
        }
    }
}
