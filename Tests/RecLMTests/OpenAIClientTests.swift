import Foundation
import RecCore
import RecStore
import RecTesting
import Testing

@testable import RecLM

let chatReply = """
    {"choices":[{"message":{"role":"assistant","content":"Heat (1995)"},"finish_reason":"stop",
    "logprobs":{"content":[{"token":"Heat","logprob":-0.5},{"token":" (1995)","logprob":-0.25}]}}],
    "usage":{"prompt_tokens":12,"completion_tokens":2}}
    """

func client(_ server: FaultServer, attempts: Int = 6, timeout: Double = 2, key: String? = nil) throws -> OpenAILanguageModel {
    var options = OpenAILanguageModel.Options(baseURL: server.baseURL + "/v1", model: "test-model", apiKeyEnvironment: key)
    options.maxAttempts = attempts
    options.timeout = timeout
    options.backoff = 0.01
    options.maxBackoff = 0.2
    return try OpenAILanguageModel(options)
}

@Suite(.serialized)
struct OpenAIClientTests {
    let chat = Prompt.chat([ChatMessage(role: "user", content: "Pick a movie")])

    @Test func retriesEveryTransientFaultThenSucceeds() throws {
        let server = try FaultServer([
            .reply(status: 429, headers: ["Retry-After": "0.1"], body: "{}"), .reply(status: 500, body: "oops"),
            .reply(status: 200, body: "<html>not json</html>"), .slow(seconds: 4, body: chatReply), .drop,
            .reply(status: 200, body: chatReply),
        ])
        defer { server.stop() }
        setenv("RECLAB_TEST_API_KEY", "sk-test-123", 1)
        let model = try client(server, key: "RECLAB_TEST_API_KEY")
        let generation = try model.generate(chat, SamplingParameters(maxTokens: 8, seed: 3))
        #expect(generation.text == "Heat (1995)" && generation.logprobs == [-0.5, -0.25] && generation.finish == .stop)
        #expect(generation.promptTokens == 12)
        #expect(server.count == 6 && model.retries == 5)
        #expect(server.requests.allSatisfy { $0.path == "/v1/chat/completions" && $0.headers["authorization"] == "Bearer sk-test-123" })
        let body = try JSONSerialization.jsonObject(with: Data(server.requests[0].body.utf8)) as? [String: Any]
        #expect(body?["model"] as? String == "test-model" && body?["seed"] as? Int == 3 && body?["max_tokens"] as? Int == 8)
    }

    @Test func finalFailureIsClearAndKeepsCachedCalls() throws {
        let server = try FaultServer([.reply(status: 200, body: chatReply), .reply(status: 503, body: ""), .reply(status: 500, body: ""), .drop])
        defer { server.stop() }
        let folder = Fixtures.temporaryDirectory("lm-cache")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try ResultStore(path: folder + "/cache.sqlite")
        let model = CachedLanguageModel(try client(server, attempts: 3), cache: store)
        let first = try model.generate(chat, SamplingParameters(maxTokens: 8))
        let other = Prompt.chat([ChatMessage(role: "user", content: "Another")])
        let error = #expect(throws: RecError.self) { _ = try model.generate(other, SamplingParameters(maxTokens: 8)) }
        #expect(error?.message == "openai: POST \(server.baseURL)/v1/chat/completions failed after 3 attempts: HTTP 503; HTTP 500; the connection was dropped")
        // The completed call survived the failure: asked again, it comes from the store.
        #expect(try model.generate(chat, SamplingParameters(maxTokens: 8)) == first)
        #expect(server.count == 4)
        let stats = try store.lmCacheStats()
        #expect(stats.hits == 1 && stats.misses == 2 && stats.calls == 1 && stats.promptTokens == 12 && stats.completionTokens == 2)
        let stored = try store.db.query("SELECT request FROM lm_calls").map { $0[0].text ?? "" }
        #expect(stored.count == 1 && !stored[0].contains("sk-") && stored[0].contains("\"seed\":0"))
    }

    @Test func clientErrorsAreNotRetried() throws {
        let server = try FaultServer([.reply(status: 400, body: "{\"error\":\"bad model\"}")])
        defer { server.stop() }
        let error = #expect(throws: RecError.self) { _ = try client(server).generate(chat, SamplingParameters()) }
        #expect(error?.message.contains("answered HTTP 400: '{\"error\":\"bad model\"}'") == true)
        #expect(server.count == 1)
    }

    @Test func completionsLayoutForTextAndScoring() throws {
        let completion = """
            {"choices":[{"text":" Paris","finish_reason":"length","logprobs":{"tokens":[" Paris"],"token_logprobs":[-0.3],"text_offset":[24]}}],
            "usage":{"prompt_tokens":5}}
            """
        // Echo of "The capital of France is" + " Paris": the first token has no log-probability.
        let echo = """
            {"choices":[{"text":"The capital of France is Paris","logprobs":{"tokens":["The"," capital"," of"," France"," is"," Paris"],
            "token_logprobs":[null,-5.0,-1.0,-2.0,-0.5,-0.3],"text_offset":[0,3,11,14,21,24]}}]}
            """
        let server = try FaultServer([.reply(status: 200, body: completion), .reply(status: 200, body: echo)])
        defer { server.stop() }
        let model = try client(server)
        let generation = try model.generate(.text("The capital of France is"), SamplingParameters(maxTokens: 1))
        #expect(generation.text == " Paris" && generation.logprobs == [-0.3] && generation.finish == .length)
        let scores = try model.score(.text("The capital of France is"), continuations: [" Paris"])
        #expect(scores[0].logprobs == [-0.3] && scores[0].total == -0.3)
        #expect(server.requests.map(\.path) == ["/v1/completions", "/v1/completions"])
        let body = try JSONSerialization.jsonObject(with: Data(server.requests[1].body.utf8)) as? [String: Any]
        #expect(body?["echo"] as? Bool == true && body?["prompt"] as? String == "The capital of France is Paris")
    }

    @Test func boundedConcurrencyKeepsOrder() throws {
        let replies = (0..<6).map { i in FaultServer.Action.reply(status: 200, body: "{\"choices\":[{\"text\":\"\(i)\",\"logprobs\":{\"token_logprobs\":[-1.0],\"text_offset\":[100]}}]}") }
        let server = try FaultServer(replies)
        defer { server.stop() }
        var options = OpenAILanguageModel.Options(baseURL: server.baseURL, model: "m")
        options.concurrency = 3
        let model = try OpenAILanguageModel(options)
        let scores = try model.score(.text("p"), continuations: ["a", "b", "c", "d", "e", "f"])
        #expect(scores.count == 6 && scores.allSatisfy { $0.logprobs == [-1.0] })
        #expect(Set(server.requests.map(\.body)).count == 6)
    }

    @Test func missingKeyVariableIsAUsageError() {
        let error = #expect(throws: RecError.self) {
            _ = try OpenAILanguageModel(.init(baseURL: "http://127.0.0.1:1", model: "m", apiKeyEnvironment: "RECLAB_UNSET_KEY_VARIABLE"))
        }
        #expect(error?.message == "the API key variable RECLAB_UNSET_KEY_VARIABLE is not set in the environment")
    }
}
