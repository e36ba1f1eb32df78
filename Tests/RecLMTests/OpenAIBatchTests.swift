import Foundation
import RecCore
import RecStore
import RecTesting
import Testing

@testable import RecLM

/// A chat reply whose content is the request's last message.
func echoReply(_ request: FaultServer.Request) -> String {
    let body = (try? JSONSerialization.jsonObject(with: Data(request.body.utf8))) as? [String: Any]
    let content = ((body?["messages"] as? [[String: Any]])?.last?["content"] as? String) ?? ""
    let reply: [String: Any] = [
        "choices": [["message": ["role": "assistant", "content": "echo: " + content], "finish_reason": "stop"]], "usage": ["prompt_tokens": 5, "completion_tokens": 2],
    ]
    return String(decoding: try! JSONSerialization.data(withJSONObject: reply), as: UTF8.self)
}

/// Requests in flight at once, as the server sees them.
final class InFlight: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 0
    private(set) var most = 0
    func enter() {
        lock.withLock {
            now += 1; most = max(most, now)
        }
    }
    func leave() { lock.withLock { now -= 1 } }
}

@Suite(.serialized)
struct OpenAIBatchTests {
    static func prompts(_ n: Int) -> [GenerationRequest] {
        (0..<n).map { GenerationRequest(.chat([ChatMessage(role: "user", content: "prompt \($0)")]), SamplingParameters(maxTokens: 4)) }
    }

    @Test func aBatchKeepsEightRequestsInFlightAndComesBackInInputOrder() throws {
        let flight = InFlight()
        let server = try FaultServer([
            .handler { request in
                flight.enter()
                defer { flight.leave() }
                // Later prompts answer sooner, so they finish out of order.
                let number = Int(echoReply(request).split(separator: " ").last?.prefix { $0.isNumber } ?? "0") ?? 0
                Thread.sleep(forTimeInterval: 0.05 + 0.01 * Double(20 - number))
                return (200, echoReply(request))
            }
        ])
        defer { server.stop() }
        let model = try client(server)
        #expect(model.options.concurrency == 8)
        var order: [Int] = []
        var results = [Generation?](repeating: nil, count: 20)
        try model.generate(Self.prompts(20)) { index, result in
            order.append(index)
            results[index] = try? result.get()
        }
        #expect(flight.most == 8)
        #expect(results.map { $0?.text } == (0..<20).map { "echo: prompt \($0)" })
        #expect(order != Array(0..<20))
        #expect(try model.generateAll(Self.prompts(3)).map(\.text) == ["echo: prompt 0", "echo: prompt 1", "echo: prompt 2"])
    }

    @Test func aServerThatFailsSomePromptsLeavesTheOthersCachedAndTheRerunAsksOnlyForTheMissing() throws {
        // The same endpoint (the cache keys on it) fails prompts 2 and 4 until it is healed.
        let healed = InFlight()
        let server = try FaultServer([
            .handler { request in
                let reply = echoReply(request)
                let failing = healed.most == 0 && (reply.contains("prompt 2") || reply.contains("prompt 4"))
                return failing ? (400, #"{"error":{"message":"bad request"}}"#) : (200, reply)
            }
        ])
        defer { server.stop() }
        let folder = Fixtures.temporaryDirectory("lm-batch")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try ResultStore(path: folder + "/cache.sqlite")
        let model = CachedLanguageModel(try client(server), cache: store)
        let error = #expect(throws: RecError.self) { _ = try model.generateAll(Self.prompts(6)) }
        #expect(error?.message.hasPrefix("2 of 6 prompts failed (the others are stored); the first, #3: openai: POST") == true)
        #expect(try store.lmCacheStats().calls == 4)
        #expect(server.count == 6)
        healed.enter()
        #expect(try model.generateAll(Self.prompts(6)).map(\.text) == (0..<6).map { "echo: prompt \($0)" })
        #expect(server.count == 8)
    }

    @Test func aPromptPastTheServersContextIsAClearErrorAndNotRetried() throws {
        let server = try FaultServer([
            .reply(
                status: 400,
                body: #"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#)
        ])
        defer { server.stop() }
        let error = #expect(throws: RecError.self) { _ = try client(server).generateAll(Self.prompts(1)) }
        #expect(error?.message.contains("the prompt does not fit the context of the model") == true)
        #expect(server.count == 1)
    }

    @Test func theRateLimiterHoldsRequestsAndTokensToTheirWindow() {
        let limiter = RateLimiter(requests: 2, tokens: 100, window: 0.3)
        let started = Date()
        limiter.acquire(10)
        limiter.acquire(10)
        #expect(Date().timeIntervalSince(started) < 0.3)
        limiter.acquire(10)  // a third request in the window waits for the first to leave it
        #expect(Date().timeIntervalSince(started) >= 0.3)
        let tokens = RateLimiter(requests: nil, tokens: 100, window: 0.3), again = Date()
        tokens.acquire(90)
        tokens.acquire(20)  // 110 tokens would exceed the window's 100
        #expect(Date().timeIntervalSince(again) >= 0.3)
        tokens.acquire(1000)  // alone in its window, a request larger than the limit still goes
    }
}
