import Foundation
import RecCore

extension OpenAILanguageModel {
    /// The requests with at most `options.concurrency` in flight, so a server with parallel
    /// slots (vLLM, llama-server `-np`) works on several at once; each is reported, on the
    /// calling thread, as it ends.
    public func generate(_ requests: [GenerationRequest], finished: Finished<Generation>) throws {
        inParallel(requests.count, { index in Result { try self.generate(requests[index].prompt, requests[index].parameters) } }, each: finished)
    }

    /// Scoring requests as `generate`'s; each request's continuations go one after another,
    /// so the requests in flight stay within `options.concurrency`.
    public func score(_ requests: [ScoringRequest], finished: Finished<[ContinuationScore]>) throws {
        inParallel(requests.count, { index in Result { try requests[index].continuations.map { try self.scoreOne(requests[index].prompt, $0) } } }, each: finished)
    }

    /// `body(i)` for i in 0..<count on at most `options.concurrency` threads, each result handed
    /// to `each` on the calling thread as it arrives. Plain threads: URLSession's completion
    /// handlers need Dispatch workers that blocked callers would otherwise occupy.
    func inParallel<T>(_ count: Int, _ body: @escaping @Sendable (Int) -> T, each: (Int, T) -> Void) {
        let workers = min(max(1, options.concurrency), count)
        guard workers > 1 else { return (0..<count).forEach { each($0, body($0)) } }
        let queue = ResultQueue<T>()
        for _ in 0..<workers {
            Thread.detachNewThread {
                while true {
                    let index: Int? = queue.lock.withLock {
                        defer { queue.next += 1 }
                        return queue.next < count ? queue.next : nil
                    }
                    guard let index else { return }
                    let result = body(index)
                    queue.lock.withLock { queue.done.append((index, result)) }
                    queue.ready.signal()
                }
            }
        }
        for _ in 0..<count {
            queue.ready.wait()
            let (index, result) = queue.lock.withLock { queue.done.removeFirst() }
            each(index, result)
        }
    }

    /// Whether an error reply says the prompt exceeds the model's context, in the words of
    /// OpenAI (`context_length_exceeded`), vLLM ("maximum context length") and llama-server
    /// (`exceed_context_size_error`, "exceeds the available context size").
    static func exceedsContext(_ body: Data) -> Bool {
        let text = String(decoding: body.prefix(8192), as: UTF8.self).lowercased()
        return ["context_length_exceeded", "maximum context length", "exceed_context_size", "exceeds the available context size", "context size"].contains {
            text.contains($0)
        }
    }
}

/// Work handed out by index and results handed back, between worker threads and the caller.
final class ResultQueue<T>: @unchecked Sendable {
    let lock = NSLock(), ready = DispatchSemaphore(value: 0)
    var next = 0, done: [(Int, T)] = []
}

/// Requests and estimated tokens sent over the last `window` seconds (a minute), against
/// optional limits: `acquire` waits until one more request of `cost` tokens fits.
final class RateLimiter: @unchecked Sendable {
    let requests: Int?, tokens: Int?, window: Double
    private let lock = NSLock()
    private var sent: [(at: Date, cost: Int)] = []

    init(requests: Int?, tokens: Int?, window: Double = 60) {
        self.requests = requests
        self.tokens = tokens
        self.window = window
    }

    func acquire(_ cost: Int) {
        while true {
            let wait: Double = lock.withLock {
                let now = Date()
                sent.removeAll { now.timeIntervalSince($0.at) >= window }
                let fitsRequests = requests.map { sent.count < $0 } ?? true
                // One request larger than the whole token budget goes alone rather than never.
                let fitsTokens = tokens.map { sent.isEmpty || sent.map(\.cost).reduce(0, +) + cost <= $0 } ?? true
                if fitsRequests && fitsTokens {
                    sent.append((now, cost))
                    return 0
                }
                return max(0.005, window - now.timeIntervalSince(sent[0].at))
            }
            if wait == 0 { return }
            Thread.sleep(forTimeInterval: wait)
        }
    }
}
