import Foundation
import RecCore
import RecStore
import RecTesting
import Testing

@testable import RecLM

/// Replies an OpenAI-compatible server should never send, and requests a user should never
/// be able to send: each gives a clear error, and no secret reaches a message.
@Suite(.serialized)
struct HostileReplyTests {
    let chat = Prompt.chat([ChatMessage(role: "user", content: "Pick a movie")])

    /// The error `reply` (to a chat generation, or to `prompt` if given) produces.
    func failure(_ replies: [FaultServer.Action], prompt: Prompt? = nil, score: Bool = false, attempts: Int = 1) throws -> String {
        let server = try FaultServer(replies)
        defer { server.stop() }
        let model = try client(server, attempts: attempts)
        let error = #expect(throws: RecError.self) {
            if score { _ = try model.score(.text("The"), continuations: [" end"]) } else { _ = try model.generate(prompt ?? chat, SamplingParameters(maxTokens: 2)) }
        }
        return error?.message ?? ""
    }

    @Test(arguments: [
        (#"{"choices":[{"message":{"content":"x"},"logprobs":{"content":[{"logprob":-0.1,"id":4294967296}]}}]}"#, "logprobs.content[0].id: a token id from 0 to 2147483647"),
        (#"{"choices":[{"message":{"content":"x"},"logprobs":{"content":[{"logprob":-0.1,"id":-3}]}}]}"#, "logprobs.content[0].id"),
        (#"{"choices":[{"message":{"content":"x"},"logprobs":{"content":[{"logprob":7.5}]}}]}"#, "a finite log-probability <= 0"),
        (#"{"choices":[{"message":{"content":"x"},"logprobs":{"content":[{"logprob":"high"}]}}]}"#, "logprobs.content[0].logprob"),
        (#"{"choices":[]}"#, "lacks choices[0]"),
        (#"{"choices":[{"message":{"content":42}}]}"#, "lacks choices[0].message.content"),
        (#"[1, 2, 3]"#, "the reply is not a JSON object"),
    ])
    func malformedChatRepliesAreNamed(_ body: String, _ message: String) throws {
        let text = try failure([.reply(status: 200, body: body)])
        #expect(text.contains(message), "\(text)")
    }

    @Test func aShortTextOffsetArrayIsAnError() throws {
        let echo = #"{"choices":[{"text":"The end","logprobs":{"token_logprobs":[null,-1.0,-2.0],"text_offset":[0]}}]}"#
        let text = try failure([.reply(status: 200, body: echo)], score: true)
        #expect(text.contains("logprobs.text_offset: one non-negative offset per entry of token_logprobs (3)"), "\(text)")
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: -7\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
        "HTTP/1.1 banana\r\n\r\n",
        "garbage without a status line",
        "HTTP/1.1 503 Busy\r\nRetry-After: nan\r\nContent-Length: 0\r\n\r\n",
    ])
    func brokenHTTPIsAFailureNotACrash(_ response: String) throws {
        let text = try failure([.raw(response), .raw(response)], attempts: 2)
        #expect(text.contains("failed after 2 attempts") || text.contains("lacks") || text.contains("not a JSON object"), "\(text)")
    }

    @Test func anEchoedKeyIsRedacted() throws {
        setenv("RECLAB_HOSTILE_KEY", "sk-secret-0123456789", 1)
        let server = try FaultServer([.reply(status: 401, body: #"{"error":"invalid key sk-secret-0123456789 for http://alice:pw@example.test"}"#)])
        defer { server.stop() }
        let error = #expect(throws: RecError.self) { _ = try client(server, key: "RECLAB_HOSTILE_KEY").generate(chat, SamplingParameters()) }
        let text = error?.message ?? ""
        #expect(text.contains("HTTP 401") && !text.contains("sk-secret") && !text.contains("alice:pw"), "\(text)")
    }

    @Test func urlCredentialsNeverReachAMessage() throws {
        let server = try FaultServer([.reply(status: 404, body: "no such route")])
        defer { server.stop() }
        let url = server.baseURL.replacingOccurrences(of: "http://", with: "http://bob:hunter2@")
        var options = OpenAILanguageModel.Options(baseURL: url, model: "m")
        options.maxAttempts = 1
        let model = try OpenAILanguageModel(options)
        let error = #expect(throws: RecError.self) { _ = try model.generate(chat, SamplingParameters()) }
        #expect(error?.message.contains("HTTP 404") == true && error?.message.contains("hunter2") == false, "\(error?.message ?? "")")
        #expect(!model.identity.contains("hunter2"))
        let bad = #expect(throws: RecError.self) { _ = try OpenAILanguageModel(.init(baseURL: "ftp://carol:secret@host", model: "m")) }
        #expect(bad?.message.contains("secret") == false && bad?.kind == .usage)
    }

    @Test func aKeyWithALineBreakIsRefusedBeforeAnyRequest() throws {
        setenv("RECLAB_INJECTED_KEY", "sk-1\r\nX-Injected: yes", 1)
        let server = try FaultServer([.reply(status: 200, body: chatReply)])
        defer { server.stop() }
        let error = #expect(throws: RecError.self) { _ = try client(server, key: "RECLAB_INJECTED_KEY") }
        #expect(error?.kind == .usage && error?.message.contains("line break") == true && error?.message.contains("X-Injected") == false)
        #expect(server.count == 0)
        #expect(throws: RecError.self) { _ = try OpenAILanguageModel(.init(baseURL: server.baseURL, model: "m\nX: y")) }
    }

    @Test func samplingParametersAreCheckedBeforeTheyAreSent() throws {
        let server = try FaultServer([.reply(status: 200, body: chatReply)])
        defer { server.stop() }
        let model = try client(server)
        for parameters in [SamplingParameters(maxTokens: -1), SamplingParameters(temperature: -1), SamplingParameters(topK: -5), SamplingParameters(topP: 0)] {
            #expect((#expect(throws: RecError.self) { _ = try model.generate(chat, parameters) })?.kind == .usage)
        }
        #expect(server.count == 0)
    }

    @Test func theCacheMissesWhenTheBaseURLChanges() throws {
        let store = try ResultStore(path: Fixtures.temporaryDirectory("hostile-cache") + "/cache.sqlite")
        let first = try FaultServer([.reply(status: 200, body: chatReply)])
        let second = try FaultServer([.reply(status: 200, body: chatReply.replacingOccurrences(of: "Heat", with: "Ronin"))])
        defer { first.stop(); second.stop() }
        let a = CachedLanguageModel(try client(first), cache: store)
        let b = CachedLanguageModel(try client(second), cache: store)
        #expect(a.model == b.model && a.identity != b.identity)
        #expect(try a.generate(chat, SamplingParameters(maxTokens: 4)).text == "Heat (1995)")
        #expect(try b.generate(chat, SamplingParameters(maxTokens: 4)).text == "Ronin (1995)", "the second server's answer, not the first's from the cache")
        #expect(second.count == 1)
        #expect(try a.generate(chat, SamplingParameters(maxTokens: 4)).text == "Heat (1995)")
        #expect(first.count == 1, "the first server's answer is now a cache hit")
        #expect(try store.lmCacheStats().hits == 1 && store.lmCacheStats().misses == 2)
    }
}
