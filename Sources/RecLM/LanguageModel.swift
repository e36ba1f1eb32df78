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
    /// Many prompts at once, each reported to `finished` as it ends, in whatever order they
    /// end. A request that fails does not stop the others; the call throws only when the batch
    /// as a whole cannot run.
    func generate(_ requests: [GenerationRequest], finished: Finished<Generation>) throws
    func score(_ requests: [ScoringRequest], finished: Finished<[ContinuationScore]>) throws
}

extension LanguageModel {
    public func generate(_ requests: [GenerationRequest], finished: Finished<Generation>) throws { generateEach(requests, finished: finished) }
    public func score(_ requests: [ScoringRequest], finished: Finished<[ContinuationScore]>) throws { scoreEach(requests, finished: finished) }

    /// Models that have no weights file or endpoint (test doubles) are named by backend and model.
    public var identity: String { "\(backend) \(model)" }
}

/// The in-process engine as a `LanguageModel`.
public final class LocalLanguageModel: LanguageModel, @unchecked Sendable {
    public let engine: LlamaModel
    public let template: ChatTemplate?
    /// Why chat prompts cannot be rendered, when `template` is nil.
    let templateProblem: String
    public let backend = "local"
    public let model: String
    public let identity: String
    /// Slots and memory budget of batched calls.
    public let batching: LlamaModel.Batching
    /// Where the batch plan (slots, cache per slot) is reported, each new plan once.
    let log: (String) -> Void
    private let lastPlan = NSLock()
    private var reported = ""

    /// `chatTemplate`: the family to render chats in, instead of the file's template (or where
    /// the file has none, as base models do).
    public init(
        engine: LlamaModel, batching: LlamaModel.Batching = .init(), chatTemplate: ChatTemplate.Family? = nil,
        log: @escaping (String) -> Void = { ProgressReporter.standardError.line($0) }
    ) {
        self.engine = engine
        self.batching = batching
        self.log = log
        // Fast numerics give other numbers, so they are another model to the cache.
        let file = (engine.file.path as NSString).lastPathComponent
        // An adapter makes another model too, named by its file's hash.
        let tags = (engine.numerics == .exact ? [] : [engine.numerics.rawValue]) + (engine.adapterFingerprint.map { ["lora " + $0.prefix(16)] } ?? [])
        model = tags.isEmpty ? file : "\(file) [\(tags.joined(separator: ", "))]"
        // A chat template given in the spec renders chats into other prompts: another model to
        // the cache, whose keys hold the messages.
        identity =
            (["local weights sha256:\(engine.weightsHash)", "numerics \(engine.numerics.rawValue)"]
            + (engine.adapterFingerprint.map { ["adapter sha256:\($0)"] } ?? []) + (chatTemplate.map { ["chat template \($0.rawValue)"] } ?? []))
            .joined(separator: ", ")
        let families = ChatTemplate.Family.allCases.map(\.rawValue).joined(separator: ", ")
        if let chatTemplate {
            (template, templateProblem) = (ChatTemplate(family: chatTemplate), "")
        } else if let text = engine.file.metadata["tokenizer.chat_template"]?.string {
            do {
                (template, templateProblem) = (try ChatTemplate(text, file: engine.file.path), "")
            } catch {
                (template, templateProblem) = (nil, "\(error); set lm.chat_template (\(families)) or send plain text")
            }
        } else {
            (template, templateProblem) = (nil, "\(engine.file.path) has no chat template (a base model); set lm.chat_template (\(families)) or send plain text")
        }
    }

    public func tokens(_ prompt: Prompt) throws -> [Int32] {
        switch prompt {
        case .text(let text): return engine.tokenizer.encode(text, parseSpecial: true, addSpecial: true)
        case .chat(let messages):
            guard let template else { throw RecError(.plugin, templateProblem) }
            return engine.tokenizer.encode(template.apply(messages), parseSpecial: true, addSpecial: true)
        }
    }

    public func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        let ids = try tokens(prompt)
        return try engine.lock.withLock { try engine.generate(prompt: ids, parameters: parameters) }
    }

    public func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        let ids = try tokens(prompt)
        let scores = try engine.lock.withLock {
            try engine.score(prompt: ids, continuations: continuations.map { engine.tokenizer.encode($0, parseSpecial: false) })
        }
        return Self.counted(scores, prompt: ids.count)
    }

    private func report(_ plan: String) {
        let fresh = lastPlan.withLock {
            defer { reported = plan }
            return reported != plan
        }
        if fresh { log("local engine \(model): batched generation with " + plan) }
    }

    /// The requests that tokenize, through the engine's batched decoding; the others fail alone.
    public func generate(_ requests: [GenerationRequest], finished: Finished<Generation>) throws {
        var runnable: [Int] = [], prompts: [[Int32]] = []
        for (index, request) in requests.enumerated() {
            do {
                prompts.append(try tokens(request.prompt))
                runnable.append(index)
            } catch {
                finished(index, .failure(error))
            }
        }
        try engine.lock.withLock {
            _ = try engine.generate(prompts: prompts, parameters: runnable.map { requests[$0].parameters }, batching: batching, log: report) {
                finished(runnable[$0], $1)
            }
        }
    }

    public func score(_ requests: [ScoringRequest], finished: Finished<[ContinuationScore]>) throws {
        var runnable: [Int] = [], encoded: [(prompt: [Int32], continuations: [[Int32]])] = []
        for (index, request) in requests.enumerated() {
            do {
                encoded.append((try tokens(request.prompt), request.continuations.map { engine.tokenizer.encode($0, parseSpecial: false) }))
                runnable.append(index)
            } catch {
                finished(index, .failure(error))
            }
        }
        try engine.lock.withLock {
            try engine.score(requests: encoded, batching: batching) { index, result in
                finished(runnable[index], result.map { Self.counted($0, prompt: encoded[index].prompt.count) })
            }
        }
    }

    /// Scores that carry their prompt's length, for the call cache's token counts.
    static func counted(_ scores: [ContinuationScore], prompt: Int) -> [ContinuationScore] {
        scores.map { score in
            var score = score
            score.promptTokens = prompt
            return score
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
        let (text, key) = try keyed(request)
        if let stored = try lookup(key, kind: kind, as: Response.self, tokens: tokens) { return stored }
        let response = try LanguageModelUsage.shared.timed(call)
        try store(response, text: text, key: key, kind: kind, tokens: tokens)
        return response
    }

    /// The request's canonical text and its cache key.
    func keyed<Request: Encodable>(_ request: Request) throws -> (text: String, key: String) {
        let text = try canonicalJSON(request, keys: .asDeclared)
        return (text, SHA256.hex(text))
    }

    func lookup<Response: Decodable>(_ key: String, kind: String, as: Response.Type, tokens: (Response) -> (prompt: Int, completion: Int)) throws -> Response? {
        guard let stored = try cache.cachedLMResponse(key) else { return nil }
        do {
            let response = try JSONDecoder().decode(Response.self, from: Data(stored.utf8))
            let (prompt, completion) = tokens(response)
            LanguageModelUsage.shared.recordCached(prompt: prompt, generated: completion)
            return response
        } catch {
            throw RecError(.store, "cached \(kind) call \(key.prefix(12)) cannot be read (\(error)); the cache row is damaged")
        }
    }

    func store<Response: Encodable>(_ response: Response, text: String, key: String, kind: String, tokens: (Response) -> (prompt: Int, completion: Int)) throws {
        let (prompt, completion) = tokens(response)
        LanguageModelUsage.shared.record(call: prompt, generated: completion)
        try cache.storeLMCall(
            LanguageModelCall(
                key: key, backend: backend, model: model, kind: kind, request: text, response: try canonicalJSON(response, keys: .asDeclared),
                promptTokens: prompt, completionTokens: completion))
    }

    /// Requests seen before are answered from the cache at once; the rest go to the inner
    /// model in one batch, and each is stored as soon as it finishes, so a killed run loses
    /// only the calls still in flight.
    func batched<Request: Encodable, Inner, Response: Codable>(
        _ requests: [Inner], key: (Inner) -> Request, kind: String, tokens: @escaping (Response) -> (prompt: Int, completion: Int), finished: Finished<Response>,
        call: ([Inner], Finished<Response>) throws -> Void
    ) throws {
        var misses: [(index: Int, text: String, key: String)] = []
        for (index, request) in requests.enumerated() {
            do {
                let (text, key) = try keyed(key(request))
                if let stored = try lookup(key, kind: kind, as: Response.self, tokens: tokens) {
                    finished(index, .success(stored))
                } else {
                    misses.append((index, text, key))
                }
            } catch {
                finished(index, .failure(error))
            }
        }
        guard !misses.isEmpty else { return }
        try withoutActuallyEscaping(finished) { finished in
            try LanguageModelUsage.shared.timed {
                try call(misses.map { requests[$0.index] }) { position, result in
                    let miss = misses[position]
                    if case .success(let response) = result {
                        do {
                            try store(response, text: miss.text, key: miss.key, kind: kind, tokens: tokens)
                        } catch {
                            finished(miss.index, .failure(error))
                            return
                        }
                    }
                    finished(miss.index, result)
                }
            }
        }
    }

    static func generationTokens(_ generation: Generation) -> (prompt: Int, completion: Int) {
        (generation.promptTokens ?? 0, max(generation.tokens.count, generation.logprobs.count))
    }

    static func scoreTokens(_ scores: [ContinuationScore]) -> (prompt: Int, completion: Int) {
        (scores.first?.promptTokens ?? 0, scores.map(\.tokens.count).reduce(0, +))
    }

    public func generate(_ requests: [GenerationRequest], finished: Finished<Generation>) throws {
        try batched(
            requests, key: { GenerateRequest(backend: backend, model: model, identity: identity, prompt: $0.prompt, parameters: $0.parameters) }, kind: "generate",
            tokens: Self.generationTokens, finished: finished
        ) { try inner.generate($0, finished: $1) }
    }

    public func score(_ requests: [ScoringRequest], finished: Finished<[ContinuationScore]>) throws {
        try batched(
            requests, key: { ScoreRequest(backend: backend, model: model, identity: identity, prompt: $0.prompt, continuations: $0.continuations) }, kind: "score",
            tokens: Self.scoreTokens, finished: finished
        ) { try inner.score($0, finished: $1) }
    }

    public func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        try cached(
            GenerateRequest(backend: backend, model: model, identity: identity, prompt: prompt, parameters: parameters), kind: "generate",
            tokens: Self.generationTokens
        ) {
            try inner.generate(prompt, parameters)
        }
    }

    public func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        try cached(
            ScoreRequest(backend: backend, model: model, identity: identity, prompt: prompt, continuations: continuations), kind: "score",
            tokens: Self.scoreTokens
        ) {
            try inner.score(prompt, continuations: continuations)
        }
    }
}
