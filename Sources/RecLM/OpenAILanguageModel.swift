import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import RecCore

/// A `LanguageModel` served by any OpenAI-compatible HTTP server (OpenAI, vLLM, llama-server):
/// chat prompts go to `/v1/chat/completions`, text prompts to `/v1/completions`, and scoring
/// uses `/v1/completions` with `echo` and `logprobs`. Failed calls (HTTP 429 and 5xx, time-outs,
/// dropped connections, replies that are not JSON) are retried with exponential back-off and
/// jitter, honouring `Retry-After`; other HTTP errors fail at once. The API key is read from the
/// environment variable the caller names and never leaves the request's header.
public final class OpenAILanguageModel: LanguageModel, @unchecked Sendable {
    public struct Options: Sendable {
        public var baseURL: String
        public var model: String
        /// Environment variable holding the API key (none: no Authorization header).
        public var apiKeyEnvironment: String?
        /// Seconds before one attempt is abandoned.
        public var timeout: Double = 60
        public var maxAttempts: Int = 5
        /// First back-off in seconds; doubled after each failure, with jitter in [0.5, 1.5).
        public var backoff: Double = 0.5
        public var maxBackoff: Double = 30
        /// Requests in flight at once: across the prompts of a batch, and across the
        /// continuations of one scoring request.
        public var concurrency: Int = 8
        /// Optional limits over any 60 seconds: requests sent, and tokens (prompt characters / 4
        /// plus max_tokens, an estimate made before sending).
        public var requestsPerMinute: Int?
        public var tokensPerMinute: Int?

        public init(baseURL: String, model: String, apiKeyEnvironment: String? = nil) {
            self.baseURL = baseURL
            self.model = model
            self.apiKeyEnvironment = apiKeyEnvironment
        }
    }

    public let options: Options
    public let backend = "openai"
    public var model: String { options.model }
    /// The endpoint without credentials, and the model name.
    public var identity: String { "openai \(Redaction.url(endpoint.absoluteString)) model \(options.model)" }
    private let apiKey: String?
    private let session: URLSession
    private let endpoint: URL
    /// Retries made so far (for tests and progress).
    public private(set) var retries = 0
    private let lock = NSLock()
    let limiter: RateLimiter?

    public init(_ options: Options) throws {
        self.options = options
        var base = options.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/v1") { base.removeLast(3) }
        guard !Excerpt.hasControlCharacters(base), let url = URL(string: base), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw RecError(.usage, "base URL '\(Excerpt.of(Redaction.url(options.baseURL)))' is not an http(s) URL")
        }
        endpoint = url
        guard !Excerpt.hasControlCharacters(options.model) else {
            throw RecError(.usage, "the model name '\(Excerpt.of(options.model))' holds control characters")
        }
        if let variable = options.apiKeyEnvironment {
            guard let key = ProcessInfo.processInfo.environment[variable], !key.isEmpty else {
                throw RecError(.usage, "the API key variable \(Excerpt.of(variable)) is not set in the environment")
            }
            // A line break in a header value would start a header of its own.
            guard !Excerpt.hasControlCharacters(key) else {
                throw RecError(.usage, "the API key in \(variable) holds a line break or another control character; an HTTP header cannot carry it")
            }
            apiKey = key
        } else {
            apiKey = nil
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = options.timeout
        configuration.timeoutIntervalForResource = options.timeout
        configuration.httpMaximumConnectionsPerHost = max(1, options.concurrency)
        session = URLSession(configuration: configuration)
        limiter = options.requestsPerMinute == nil && options.tokensPerMinute == nil ? nil : RateLimiter(requests: options.requestsPerMinute, tokens: options.tokensPerMinute)
    }

    // MARK: - LanguageModel

    public func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        let parameters = try parameters.validated()
        var body: [String: Any] = [
            "model": options.model, "max_tokens": parameters.maxTokens, "temperature": parameters.temperature,
            "top_p": parameters.topP, "seed": parameters.seed,
        ]
        if parameters.topK > 0 { body["top_k"] = parameters.topK }
        if !parameters.stop.isEmpty { body["stop"] = parameters.stop }
        switch prompt {
        case .chat(let messages):
            body["messages"] = messages.map { ["role": $0.role, "content": $0.content] }
            body["logprobs"] = true
            let json = try post("/v1/chat/completions", body)
            let choice = try firstChoice(json, "/v1/chat/completions")
            guard let message = choice["message"] as? [String: Any], let text = message["content"] as? String else {
                throw malformed("/v1/chat/completions", "choices[0].message.content")
            }
            let tokens = try tokenLogprobs(choice, "/v1/chat/completions")
            return Generation(text: text, tokens: tokens.compactMap(\.id), logprobs: tokens.map(\.logprob), finish: finish(choice), promptTokens: usage(json, "prompt_tokens"))
        case .text(let text):
            body["prompt"] = text
            body["logprobs"] = 1
            let json = try post("/v1/completions", body)
            let choice = try firstChoice(json, "/v1/completions")
            guard let generated = choice["text"] as? String else { throw malformed("/v1/completions", "choices[0].text") }
            let tokens = try tokenLogprobs(choice, "/v1/completions")
            return Generation(text: generated, tokens: tokens.compactMap(\.id), logprobs: tokens.map(\.logprob), finish: finish(choice), promptTokens: usage(json, "prompt_tokens"))
        }
    }

    /// Scores by echoing prompt + continuation through `/v1/completions` with `logprobs`: the
    /// continuation's tokens are those whose text offset lies at or past the prompt's end.
    public func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        try concurrentMap(Array(continuations.indices)) { try self.scoreOne(prompt, continuations[$0]) }
    }

    /// One continuation's log-probabilities after `prompt`.
    func scoreOne(_ prompt: Prompt, _ continuation: String) throws -> ContinuationScore {
        guard case .text(let text) = prompt else {
            throw RecError(.plugin, "the openai backend scores text prompts only (/v1/completions with echo); apply the chat template to the text first")
        }
        let json = try post(
            "/v1/completions", ["model": options.model, "prompt": text + continuation, "max_tokens": 0, "echo": true, "logprobs": 1, "temperature": 0])
        let choice = try firstChoice(json, "/v1/completions")
        let boundary = text.unicodeScalars.count  // offsets count characters (code points)
        let tokens = try tokenLogprobs(choice, "/v1/completions").filter { ($0.offset ?? -1) >= boundary }
        guard !tokens.isEmpty || continuation.isEmpty else {
            throw malformed("/v1/completions", "logprobs.text_offset (the server did not echo the prompt with log-probabilities)")
        }
        return ContinuationScore(tokens: [], logprobs: tokens.map(\.logprob))
    }

    /// `body(i)` for every item with at most `options.concurrency` in flight; the first error
    /// (in item order) is thrown after all have finished.
    public func concurrentMap<T>(_ items: [Int], _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        if items.count <= 1 || options.concurrency <= 1 { return try items.map(body) }
        let results = UncheckedSendable(UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: items.count))
        results.value.initialize(repeating: nil)
        defer { results.value.deinitialize().deallocate() }
        inParallel(items.count, { index in Result { try body(items[index]) } }, each: { results.value[$0] = $1 })
        return try results.value.map { try $0!.get() }
    }

    // MARK: - HTTP with retries

    /// POSTs `body` as JSON to `path` and returns the decoded JSON object, retrying as described.
    func post(_ path: String, _ body: [String: Any]) throws -> [String: Any] {
        let url = endpoint.appendingPathComponent(path)
        var headers = ["Content-Type": "application/json", "Accept": "application/json"]
        if let apiKey { headers["Authorization"] = "Bearer \(apiKey)" }
        let payload = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        var failures: [String] = []
        let estimate =
            ((body["prompt"] as? String)?.count ?? 0) / 4 + ((body["messages"] as? [[String: String]])?.map { ($0["content"] ?? "").count }.reduce(0, +) ?? 0) / 4
            + (body["max_tokens"] as? Int ?? 0)
        for attempt in 1...max(1, options.maxAttempts) {
            limiter?.acquire(estimate)
            var delay = min(options.maxBackoff, options.backoff * pow(2, Double(attempt - 1))) * Double.random(in: 0.5..<1.5)
            do {
                let response = try send(url, headers: headers, body: payload)
                if response.status == 200 {
                    if let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] { return json }
                    failures.append("the reply is not a JSON object: \(snippet(response.body))")
                } else if response.status == 429 || response.status >= 500 {
                    failures.append("HTTP \(response.status)")
                    if let after = response.headers["retry-after"].flatMap(Double.init), after.isFinite { delay = min(options.maxBackoff, max(0, after)) }
                } else if Self.exceedsContext(response.body) {
                    throw RecError(
                        .plugin,
                        "openai: the prompt does not fit the context of the model at \(Redaction.url(url.absoluteString)) (HTTP \(response.status): \(snippet(response.body))); shorten the prompt or max_tokens, or start the server with a longer context (llama-server -c, vLLM --max-model-len)"
                    )
                } else {
                    throw RecError(.plugin, "openai: POST \(Redaction.url(url.absoluteString)) answered HTTP \(response.status): \(snippet(response.body))")
                }
            } catch let failure as HTTPClient.HTTPFailure {
                failures.append(failure.description)
            } catch let error as URLError {
                failures.append(Self.describe(error, timeout: options.timeout))
            }
            if attempt < options.maxAttempts {
                lock.withLock { retries += 1 }
                Thread.sleep(forTimeInterval: delay)
            }
        }
        throw RecError(.plugin, "openai: POST \(Redaction.url(url.absoluteString)) failed after \(failures.count) attempts: \(failures.joined(separator: "; "))")
    }

    /// Plain http goes through `HTTPClient` (one connection per attempt, exact time-outs);
    /// https through URLSession.
    private func send(_ url: URL, headers: [String: String], body: Data) throws -> HTTPClient.Response {
        if url.scheme == "http" { return try HTTPClient.post(url, headers: headers, body: body, timeout: options.timeout) }
        var request = URLRequest(url: url, timeoutInterval: options.timeout)
        request.httpMethod = "POST"
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        final class Box: @unchecked Sendable { var value: (Data?, URLResponse?, Error?) = (nil, nil, nil) }
        let box = Box(), done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            box.value = (data, response, error)
            done.signal()
        }.resume()
        done.wait()
        if let error = box.value.2 { throw error as? URLError ?? URLError(.unknown) }
        guard let http = box.value.1 as? HTTPURLResponse else { throw HTTPClient.HTTPFailure.dropped }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields { headers[String(describing: name).lowercased()] = String(describing: value) }
        return HTTPClient.Response(status: http.statusCode, headers: headers, body: box.value.0 ?? Data())
    }

    static func describe(_ error: Error, timeout: Double) -> String {
        if let url = error as? URLError {
            switch url.code {
            case .timedOut: return "no reply within \(timeout) s"
            case .networkConnectionLost, .cannotParseResponse, .badServerResponse: return "the connection was dropped"
            case .cannotConnectToHost: return "cannot connect"
            default: return "network error \(url.code.rawValue)"
            }
        }
        return "\(error)"
    }

    /// The start of a reply body for an error message: short, printable, and with the API key
    /// and URL credentials removed (a server may echo the request).
    func snippet(_ data: Data?) -> String {
        let text = String(decoding: (data ?? Data()).prefix(4096), as: UTF8.self)
        let clean = Redaction.redact(text, secrets: apiKey.map { [$0] } ?? [])
        return clean.isEmpty ? "(empty)" : "'\(Excerpt.of(clean, limit: 120))'"
    }

    // MARK: - Reply layouts

    func firstChoice(_ json: [String: Any], _ path: String) throws -> [String: Any] {
        guard let choices = json["choices"] as? [[String: Any]], let first = choices.first else { throw malformed(path, "choices[0]") }
        return first
    }

    func malformed(_ path: String, _ field: String) -> RecError {
        RecError(.plugin, "openai: the reply of \(Redaction.url(endpoint.absoluteString))\(path) lacks \(field)")
    }

    func finish(_ choice: [String: Any]) -> Generation.Finish {
        switch choice["finish_reason"] as? String {
        case "length": return .length
        case "stop": return .stop
        default: return .endOfText
        }
    }

    func usage(_ json: [String: Any], _ key: String) -> Int? { (json["usage"] as? [String: Any])?[key] as? Int }

    /// Per-token log-probabilities in either layout servers use: `logprobs.content[i]` with
    /// `logprob` (and `id` where the server gives token ids: llama-server), as chat completions
    /// return them, or `logprobs.token_logprobs[i]` with `text_offset[i]`, as legacy completions
    /// do (an echoed first token has null and is skipped).
    ///
    /// Every value is checked: a log-probability must be finite and at most 0, a token id a
    /// non-negative 32-bit integer, and `text_offset` as long as `token_logprobs`.
    func tokenLogprobs(_ choice: [String: Any], _ path: String) throws -> [(id: Int32?, offset: Int?, logprob: Double)] {
        guard let logprobs = choice["logprobs"] as? [String: Any] else { return [] }
        func logprob(_ value: Any?, _ field: String) throws -> Double? {
            guard let value, !(value is NSNull) else { return nil }
            guard let number = value as? Double, number.isFinite, number <= 1e-6 else {
                throw malformed(path, "\(field): a finite log-probability <= 0")
            }
            return number
        }
        if let content = logprobs["content"] as? [[String: Any]] {
            return try content.enumerated().compactMap { index, item in
                guard let value = try logprob(item["logprob"], "logprobs.content[\(index)].logprob") else { return nil }
                var id: Int32?
                if let raw = item["id"], !(raw is NSNull) {
                    guard let number = raw as? Int, let exact = Int32(exactly: number), exact >= 0 else {
                        throw malformed(path, "logprobs.content[\(index)].id: a token id from 0 to \(Int32.max)")
                    }
                    id = exact
                }
                return (id, nil, value)
            }
        }
        guard let values = logprobs["token_logprobs"] as? [Any] else { return [] }
        var offsets: [Int]?
        if let raw = logprobs["text_offset"], !(raw is NSNull) {
            guard let list = raw as? [Int], list.count == values.count, list.allSatisfy({ $0 >= 0 }) else {
                throw malformed(path, "logprobs.text_offset: one non-negative offset per entry of token_logprobs (\(values.count))")
            }
            offsets = list
        }
        return try values.indices.compactMap { i in
            try logprob(values[i], "logprobs.token_logprobs[\(i)]").map { (nil, offsets?[i], $0) }
        }
    }
}
