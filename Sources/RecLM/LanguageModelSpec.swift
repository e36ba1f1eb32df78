import Foundation
import RecCore

/// Which language model a plugin calls, as written under its `lm:` key:
///
/// ```yaml
/// lm: { backend: local, model: SmolLM2-135M-Instruct, numerics: exact }
/// lm: { backend: openai, base_url: http://127.0.0.1:8080, model: smollm2, api_key_env: OPENAI_API_KEY }
/// ```
///
/// The API key itself never appears here: only the name of the environment variable holding it.
public struct LanguageModelSpec: Codable, Sendable, Equatable {
    public var backend: String = "local"
    /// A GGUF path or a folder under $RECLAB_MODELS (local), or the server's model name (openai).
    public var model: String = "SmolLM2-135M-Instruct"
    /// Local only: `exact` (llama.cpp's arithmetic) or `fast` (Float32 BLAS).
    public var numerics: String = "exact"
    public var baseURL: String?
    public var apiKeyEnv: String?
    /// Local only: a LoRA adapter (safetensors, as `LoRAModel.saveAdapter` writes) applied at
    /// run time.
    public var adapter: String?
    /// Local only: the chat template family (chatml, llama3, gemma) to render chats in instead
    /// of the file's own; base models, which have none, need one for chat prompts.
    public var chatTemplate: String?
    /// Local only: sequences decoded at once in batched calls, and the memory their key/value
    /// caches may take (MiB).
    public var slots = 16
    public var kvBudgetMiB = 4096
    /// OpenAI only: requests in flight at once, and optional limits per minute.
    public var concurrency = 8
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case backend, model, numerics, baseURL = "base_url", apiKeyEnv = "api_key_env", adapter, chatTemplate = "chat_template"
        case slots, kvBudgetMiB = "kv_budget_mib", concurrency, requestsPerMinute = "requests_per_minute", tokensPerMinute = "tokens_per_minute"
    }

    /// The keys that change answers only. Slots, budgets, concurrency and rate limits change
    /// how fast the answers come, so they stay out of configurations that key caches.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(backend, forKey: .backend)
        try c.encode(model, forKey: .model)
        try c.encode(numerics, forKey: .numerics)
        try c.encodeIfPresent(baseURL, forKey: .baseURL)
        try c.encodeIfPresent(apiKeyEnv, forKey: .apiKeyEnv)
        try c.encodeIfPresent(adapter, forKey: .adapter)
        try c.encodeIfPresent(chatTemplate, forKey: .chatTemplate)
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backend = try c.decode(.backend, default: "local")
        guard ["local", "openai"].contains(backend) else {
            throw DecodingError.dataCorruptedError(forKey: .backend, in: c, debugDescription: "unknown backend '\(backend)'; valid: local, openai")
        }
        model = try c.decode(.model, default: "SmolLM2-135M-Instruct")
        numerics = try c.decode(.numerics, default: "exact")
        guard LlamaModel.Numerics(rawValue: numerics) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .numerics, in: c, debugDescription: "unknown numerics '\(numerics)'; valid: exact, fast")
        }
        baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL)
        apiKeyEnv = try c.decodeIfPresent(String.self, forKey: .apiKeyEnv)
        adapter = try c.decodeIfPresent(String.self, forKey: .adapter)
        chatTemplate = try c.decodeIfPresent(String.self, forKey: .chatTemplate)
        if let chatTemplate, ChatTemplate.Family(rawValue: chatTemplate) == nil {
            throw DecodingError.dataCorruptedError(
                forKey: .chatTemplate, in: c,
                debugDescription: "unknown chat_template '\(chatTemplate)'; valid: \(ChatTemplate.Family.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        slots = try c.decode(.slots, default: 16, in: 1...256)
        kvBudgetMiB = try c.decode(.kvBudgetMiB, default: 4096, in: 1...1_048_576)
        concurrency = try c.decode(.concurrency, default: 8, in: 1...256)
        requestsPerMinute = try c.decodeIfPresent(.requestsPerMinute, in: 1...1_000_000_000)
        tokensPerMinute = try c.decodeIfPresent(.tokensPerMinute, in: 1...1_000_000_000_000)
        if backend == "openai" && chatTemplate != nil {
            throw DecodingError.dataCorruptedError(forKey: .chatTemplate, in: c, debugDescription: "chat_template applies to the local backend only; the server renders its own")
        }
        if backend == "openai" && adapter != nil {
            throw DecodingError.dataCorruptedError(forKey: .adapter, in: c, debugDescription: "adapters apply to the local backend only; serve a tuned model through the openai backend by name")
        }
        if backend == "openai" && baseURL == nil {
            throw DecodingError.keyNotFound(
                CodingKeys.baseURL,
                DecodingError.Context(
                    codingPath: c.codingPath, debugDescription: "the openai backend needs base_url"))
        }
    }

    /// The model this spec names, behind the call cache in `store` when one is given. Local
    /// engines are loaded once per process and shared by every component that names them.
    public func make(cache: (any LanguageModelCallCache)?) throws -> any LanguageModel {
        let inner: any LanguageModel
        switch backend {
        case "openai":
            var options = OpenAILanguageModel.Options(baseURL: baseURL ?? "", model: model, apiKeyEnvironment: apiKeyEnv)
            options.concurrency = concurrency
            options.requestsPerMinute = requestsPerMinute
            options.tokensPerMinute = tokensPerMinute
            inner = try OpenAILanguageModel(options)
        default:
            let engine = try LocalEngines.shared.engine(model, numerics: LlamaModel.Numerics(rawValue: numerics) ?? .exact, adapter: adapter)
            inner = LocalLanguageModel(
                engine: engine, batching: .init(slots: slots, memoryBudget: kvBudgetMiB << 20), chatTemplate: chatTemplate.flatMap(ChatTemplate.Family.init))
        }
        return cache.map { CachedLanguageModel(inner, cache: $0) } ?? inner
    }
}

/// Local engines loaded in this process, by file and numerics: loading reads and repacks the
/// weights, so components naming the same model share one engine.
final class LocalEngines: @unchecked Sendable {
    static let shared = LocalEngines()
    private let lock = NSLock()
    private var loaded: [String: LlamaModel] = [:]

    func engine(_ name: String, numerics: LlamaModel.Numerics, adapter: String?) throws -> LlamaModel {
        let path = try ModelFiles.file(name, suffix: ".gguf")
        if let adapter, !FileManager.default.fileExists(atPath: adapter) {
            throw RecError(.data, "LoRA adapter '\(adapter)' does not exist")
        }
        return try lock.withLock {
            let key = "\(path)|\(numerics.rawValue)|\(adapter ?? "")"
            if let model = loaded[key] { return model }
            let model = try LlamaModel(path: path, numerics: numerics, adapter: adapter)
            loaded[key] = model
            return model
        }
    }
}
