/// One completed language-model call, as the call cache keeps it: the key (a hash of
/// everything that determines the answer), the request and response as canonical JSON, and
/// token counts for cost accounting. API keys are never part of a request.
public struct LanguageModelCall: Sendable, Equatable {
    public var key: String, backend: String, model: String, kind: String
    public var request: String, response: String
    public var promptTokens: Int, completionTokens: Int

    public init(key: String, backend: String, model: String, kind: String, request: String, response: String, promptTokens: Int, completionTokens: Int) {
        self.key = key
        self.backend = backend
        self.model = model
        self.kind = kind
        self.request = request
        self.response = response
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// Where answered calls are kept, so that a call asked again is not sent again. The results
/// store implements it; inference code sees only this protocol, not the database.
public protocol LanguageModelCallCache: Sendable {
    /// The stored response of call `key`, or nil.
    func cachedLMResponse(_ key: String) throws -> String?
    /// Stores a completed call; a call already stored is kept as it is.
    func storeLMCall(_ call: LanguageModelCall) throws
}
