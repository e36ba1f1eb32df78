import Foundation
import RecCore

extension LlamaModel {
    /// How many sequences run at once, and how much memory their caches may take.
    public struct Batching: Sendable, Equatable {
        /// Sequences decoded together, each in a slot with its own key/value cache.
        public var slots: Int
        /// Bytes the slots' key/value caches may take together.
        public var memoryBudget: Int
        /// Keep generating past end-of-text (benchmarks that need a fixed length).
        public var ignoreEndOfText: Bool
        /// Keep the prefix a slot's cache shares with its next prompt (off: benchmarks that
        /// measure what keeping it saves).
        public var reusePrefixes: Bool

        public init(slots: Int = 16, memoryBudget: Int = 4 << 30, ignoreEndOfText: Bool = false, reusePrefixes: Bool = true) {
            self.slots = slots
            self.memoryBudget = memoryBudget
            self.ignoreEndOfText = ignoreEndOfText
            self.reusePrefixes = reusePrefixes
        }

        public static let one = Batching(slots: 1)
    }

    /// What a batched run holds in memory: its slots, and each slot's cache rows and bytes.
    public struct BatchPlan: Sendable, Equatable {
        public var slots: Int, rowsPerSlot: Int, bytesPerSlot: Int
        public var description: String {
            String(
                format: "%d slot%@, key/value cache %.1f MiB per slot (%d tokens), %.1f MiB in all", slots, slots == 1 ? "" : "s",
                Double(bytesPerSlot) / 1_048_576, rowsPerSlot, Double(slots * bytesPerSlot) / 1_048_576)
        }
    }

    /// What a batched run did: its plan, and its passes split into those that ran a prompt
    /// (with any other sequences' next tokens beside it) and those that only decoded.
    /// `promptTokens` counts the prompt tokens the passes ran; `reusedTokens` those a slot
    /// already held from its previous prompt (a shared prefix, such as the chat template's
    /// system message), which no pass ran again.
    public struct BatchReport: Sendable, Equatable {
        public var plan: BatchPlan
        public var promptTokens = 0, promptSeconds = 0.0, reusedTokens = 0
        public var decodedTokens = 0, decodeSeconds = 0.0
        public var generatedTokens = 0
    }

    /// The slots `requests` sequences of at most `rows` cache rows each get under `batching`;
    /// an error when one slot's cache alone exceeds the budget.
    public func plan(rows: Int, requests: Int, _ batching: Batching) throws -> BatchPlan {
        let bytes = Session.cacheBytes(rows: rows, configuration)
        guard bytes <= batching.memoryBudget else {
            throw RecError(
                .usage,
                String(
                    format: "one sequence's key/value cache needs %.1f MiB (%d tokens x %d layers), more than the memory budget of %.1f MiB; raise kv_budget_mib or shorten the prompts",
                    Double(bytes) / 1_048_576, rows, configuration.layers, Double(batching.memoryBudget) / 1_048_576))
        }
        let slots = max(1, min(batching.slots, requests, batching.memoryBudget / max(1, bytes)))
        return BatchPlan(slots: slots, rowsPerSlot: rows, bytesPerSlot: bytes)
    }

    /// One sequence in a slot: what it feeds next, and what it has generated.
    private struct Running {
        let index: Int, parameters: SamplingParameters, session: Session
        var pending: [Int32]
        /// Whether `pending` is (the rest of) the prompt rather than a generated token.
        var prompting = true
        var rng: SplitMix64
        var tokens: [Int32] = [], logprobs: [Double] = [], bytes: [UInt8] = []
        let promptTokens: Int

        func finished(_ finish: Generation.Finish, text: String? = nil) -> Generation {
            Generation(
                text: text ?? String(decoding: bytes, as: UTF8.self), tokens: tokens, logprobs: logprobs, finish: finish, promptTokens: promptTokens)
        }
    }

    /// Continues every prompt (token ids) under its parameters, `batching.slots` sequences at a
    /// time (continuous batching: a finished sequence's slot takes the next waiting prompt, and
    /// its prompt runs in the same pass as the others' next tokens). A prompt goes to the free
    /// slot whose cached tokens share its longest prefix, and only the rest of it runs: under
    /// exact numerics a token's keys and values depend on the tokens before it alone, so the
    /// result is the same. `finished(i, result)` is called on this thread as each sequence
    /// ends, in the order they end; a prompt that cannot run (empty, longer than the context,
    /// bad parameters, non-finite logits) fails alone. Under exact numerics every continuation
    /// is the one a batch of one gives.
    /// Throws, before running anything, when one sequence's cache exceeds the memory budget.
    @discardableResult
    public func generate(
        prompts: [[Int32]], parameters: [SamplingParameters], batching: Batching = .one, log: ((String) -> Void)? = nil,
        finished: (Int, Result<Generation, any Error>) -> Void
    ) throws -> BatchReport? {
        precondition(prompts.count == parameters.count)
        let context = configuration.contextLength
        var waiting: [(Int, SamplingParameters)] = []
        for (index, (prompt, parameters)) in zip(prompts, parameters).enumerated() {
            do {
                guard !prompt.isEmpty else { throw RecError(.plugin, "generate needs a non-empty prompt") }
                guard prompt.count <= context else {
                    throw RecError(.plugin, "the prompt has \(prompt.count) tokens, more than the model's context of \(context); shorten it")
                }
                try checkVocabulary(prompt)
                waiting.append((index, try parameters.validated()))
            } catch {
                finished(index, .failure(error))
            }
        }
        guard !waiting.isEmpty else { return nil }
        let rows = waiting.map { min(context, prompts[$0.0].count + $0.1.maxTokens) }.max()!
        let plan = try plan(rows: rows, requests: waiting.count, batching)
        if waiting.count > 1 { log?(plan.description) }
        var free = (0..<plan.slots).map { _ in session() }
        free.forEach { $0.reserve(plan.rowsPerSlot, exactly: true) }
        waiting.reverse()
        var running: [Running] = [], report = BatchReport(plan: plan)
        while true {
            while !free.isEmpty, let (index, parameters) = waiting.popLast() {
                let prompt = prompts[index]
                let kept = free.map { batching.reusePrefixes ? $0.reusablePrefix(of: prompt) : 0 }
                let best = kept.indices.max { (kept[$0], $0) < (kept[$1], $1) }!
                let slot = free.remove(at: best)
                slot.truncate(to: kept[best])
                report.reusedTokens += kept[best]
                running.append(
                    Running(
                        index: index, parameters: parameters, session: slot, pending: Array(prompt[kept[best]...]), rng: SplitMix64(seed: parameters.seed),
                        promptTokens: prompt.count))
            }
            guard !running.isEmpty else { return report }
            let started = Date()
            let logits = forward(running.map { Segment(session: $0.session, ids: $0.pending, allLogits: false, branches: nil) })
            let seconds = Date().timeIntervalSince(started), prompts = running.filter(\.prompting)
            if prompts.isEmpty {
                report.decodedTokens += running.count
                report.decodeSeconds += seconds
            } else {
                report.promptTokens += prompts.map(\.pending.count).reduce(0, +)
                report.promptSeconds += seconds
            }
            var still: [Running] = []
            for (var sequence, logits) in zip(running, logits) {
                sequence.session.commit(sequence.pending)
                sequence.prompting = false
                let outcome: Result<Generation, any Error>?
                do {
                    outcome = try advance(&sequence, try checkedFinite(logits), ignoreEndOfText: batching.ignoreEndOfText).map { .success($0) }
                } catch {
                    outcome = .failure(error)
                }
                if let outcome {
                    report.generatedTokens += sequence.tokens.count
                    free.append(sequence.session)
                    finished(sequence.index, outcome)
                } else {
                    still.append(sequence)
                }
            }
            running = still
        }
    }

    /// One step of `sequence` after `logits`: its finished generation, or nil with the next
    /// token pending. The order of checks is the single-sequence loop's: the length limit,
    /// end-of-text, stop strings, then the context.
    private func advance(_ sequence: inout Running, _ logits: [Float], ignoreEndOfText: Bool) throws -> Generation? {
        let parameters = sequence.parameters
        guard sequence.tokens.count < parameters.maxTokens else { return sequence.finished(.length) }
        let next = Int32(sample(logits, parameters, rng: &sequence.rng))
        if !ignoreEndOfText && tokenizer.endOfGeneration.contains(next) { return sequence.finished(.endOfText) }
        sequence.logprobs.append(logits.withUnsafeBufferPointer { logProbability($0.baseAddress!, count: configuration.vocabulary, index: Int(next)) })
        sequence.tokens.append(next)
        sequence.bytes += tokenizer.bytes(of: next)
        if !parameters.stop.isEmpty {
            let text = String(decoding: sequence.bytes, as: UTF8.self)
            if let cut = parameters.stop.compactMap({ text.range(of: $0)?.lowerBound }).min() { return sequence.finished(.stop, text: String(text[..<cut])) }
        }
        guard sequence.session.tokens.count < configuration.contextLength else { return sequence.finished(.length) }
        sequence.pending = [next]
        return nil
    }

    /// Log-probabilities of each request's continuations after its prompt, `batching.slots`
    /// requests at a time: their prompts run in one pass, then all their continuations in
    /// another, each over its own cache. A slot keeps what its previous prompt shares with
    /// the next one. `finished(i, result)` is called on this thread as each request ends; a
    /// request that cannot run fails alone. Under exact numerics every score is the one a
    /// request alone gets.
    /// - Returns: how many prompt tokens the slots already held, which no pass ran again.
    @discardableResult
    public func score(
        requests: [(prompt: [Int32], continuations: [[Int32]])], batching: Batching = .one, finished: (Int, Result<[ContinuationScore], any Error>) -> Void
    ) throws -> Int {
        let context = configuration.contextLength
        var valid: [Int] = []
        for (index, request) in requests.enumerated() {
            do {
                guard !request.prompt.isEmpty else { throw RecError(.plugin, "score needs a non-empty prompt") }
                guard request.prompt.count <= context else {
                    throw RecError(.plugin, "the prompt has \(request.prompt.count) tokens, more than the model's context of \(context); shorten it")
                }
                try checkVocabulary(request.prompt + request.continuations.flatMap { $0 })
                valid.append(index)
            } catch {
                finished(index, .failure(error))
            }
        }
        guard !valid.isEmpty else { return 0 }
        let rows = valid.map { requests[$0].prompt.count + requests[$0].continuations.map { max(0, $0.count - 1) }.reduce(0, +) }.max()!
        let plan = try plan(rows: rows, requests: valid.count, batching)
        let sessions = (0..<plan.slots).map { _ in session() }
        sessions.forEach { $0.reserve(plan.rowsPerSlot, exactly: true) }
        var reused = 0
        for start in stride(from: 0, to: valid.count, by: plan.slots) {
            let chunk = Array(valid[start..<min(valid.count, start + plan.slots)])
            let slots = Array(sessions.prefix(chunk.count))
            var failures: [Int: any Error] = [:]
            // The prompts, one segment each, less what each slot holds of its previous prompt.
            let rests = zip(chunk, slots).map { request, slot in
                let prompt = requests[request].prompt, kept = batching.reusePrefixes ? slot.reusablePrefix(of: prompt) : 0
                slot.truncate(to: kept)
                reused += kept
                return Array(prompt[kept...])
            }
            let promptLogits = forward(try zip(slots, rests).map { try segment($0, $1) })
            for (slot, rest) in zip(slots, rests) { slot.commit(rest) }
            // Logits before token i of a continuation: the prompt's last row for i = 0, else
            // row i - 1 of that continuation's own pass (its last token needs no pass).
            var branching: [(Int, Segment)] = []
            for (position, request) in chunk.enumerated() {
                let heads = requests[request].continuations.map { Array($0.dropLast()) }.filter { !$0.isEmpty }
                guard !heads.isEmpty else { continue }
                do {
                    branching.append((position, try segment(slots[position], branches: heads)))
                } catch {
                    failures[position] = error
                }
            }
            let branchLogits = forward(branching.map(\.1))
            var rowsOf: [Int: [Float]] = [:]
            for ((position, _), logits) in zip(branching, branchLogits) { rowsOf[position] = logits }
            for (position, request) in chunk.enumerated() {
                if let failure = failures[position] {
                    finished(request, .failure(failure))
                    continue
                }
                finished(request, Result { try scores(requests[request].continuations, promptLogits[position], rowsOf[position] ?? []) })
            }
        }
        return reused
    }

    /// Each continuation's log-probabilities from the prompt's last logits and its branch rows.
    private func scores(_ continuations: [[Int32]], _ promptLogits: [Float], _ rows: [Float]) throws -> [ContinuationScore] {
        let promptLogits = try checkedFinite(promptLogits), rows = try checkedFinite(rows)
        let v = configuration.vocabulary
        var offset = 0
        return continuations.map { continuation in
            var logprobs: [Double] = []
            for (i, token) in continuation.enumerated() {
                logprobs.append(
                    i == 0
                        ? promptLogits.withUnsafeBufferPointer { logProbability($0.baseAddress!, count: v, index: Int(token)) }
                        : rows.withUnsafeBufferPointer { logProbability($0.baseAddress! + (offset + i - 1) * v, count: v, index: Int(token)) })
            }
            offset += max(0, continuation.count - 1)
            return ContinuationScore(tokens: continuation, logprobs: logprobs)
        }
    }
}
