import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecLM

/// Batched decoding against one sequence at a time, on the real SmolLM2 weights.
@Suite(.enabled(if: smolLMRequired, "SmolLM2-135M-Instruct is not in models/ (bash scripts/fetch-models.sh)"), .serialized)
struct BatchedGenerationTests {
    static let model = Result { try LlamaModel(path: smolLMPath) }

    /// Prompts of 1 to about 60 tokens, with limits and stop strings that end them at
    /// different steps, some by end-of-text.
    static func workload(_ model: LlamaModel) -> (prompts: [[Int32]], parameters: [SamplingParameters]) {
        let texts = [
            "The", "The capital of France is", "A user watched Toy Story, Heat, Casino and GoldenEye. Next they will watch",
            "Write one word: yes.", "List three colours:\n1.", "Once upon a time, in a small village by the sea, there lived an old fisherman who every morning",
            "Q: What is 2 + 2?\nA:",
        ]
        let prompts = texts.map { model.tokenizer.encode($0, parseSpecial: true, addSpecial: true) }
        let parameters = [
            SamplingParameters(maxTokens: 5), SamplingParameters(maxTokens: 17), SamplingParameters(maxTokens: 9, stop: [","]),
            SamplingParameters(maxTokens: 30), SamplingParameters(maxTokens: 24, stop: ["3."]), SamplingParameters(maxTokens: 2),
            SamplingParameters(maxTokens: 12, temperature: 0.8, topK: 40, seed: 3),
        ]
        return (prompts, parameters)
    }

    @Test(arguments: [2, 3, 16])
    func exactBatchedGenerationEqualsOneSequenceAtATime(slots: Int) throws {
        let model = try Self.model.get()
        let (prompts, parameters) = Self.workload(model)
        let alone = try zip(prompts, parameters).map { try model.generate(prompt: $0, parameters: $1) }
        #expect(Set(alone.map(\.tokens.count)).count >= 4, "the prompts end at different steps")
        #expect(Set(alone.map(\.finish)).count >= 2)
        var batched = [Generation?](repeating: nil, count: prompts.count), order: [Int] = []
        let report = try model.generate(prompts: prompts, parameters: parameters, batching: .init(slots: slots)) { index, result in
            order.append(index)
            batched[index] = try? result.get()
        }
        #expect(report?.plan.slots == min(slots, prompts.count))
        #expect(report?.generatedTokens == alone.map(\.tokens.count).reduce(0, +))
        for (index, generation) in alone.enumerated() {
            #expect(batched[index] == generation, "prompt \(index) under \(slots) slots")
        }
        // With fewer slots than prompts, short sequences finish first and free their slots.
        if slots < prompts.count { #expect(order != Array(prompts.indices)) }
    }

    /// Chat prompts share the template's system message and an instruction; a slot that takes
    /// a new prompt keeps that prefix's keys and values and runs only the rest, with the same
    /// results as each prompt alone.
    @Test func aSharedPrefixIsRunOnceAndChangesNothing() throws {
        let model = try Self.model.get()
        let template = try ChatTemplate(try #require(model.file.metadata["tokenizer.chat_template"]?.string), file: smolLMPath)
        let prompts = ["Heat", "Toy Story", "Casino", "GoldenEye", "Babe"].map {
            model.tokenizer.encode(template.apply([ChatMessage(role: "user", content: "Describe the film '\($0)' in a sentence.")]), parseSpecial: true, addSpecial: true)
        }
        let parameters = [4, 9, 2, 6, 3].map { SamplingParameters(maxTokens: $0) }
        let alone = try zip(prompts, parameters).map { try model.generate(prompt: $0, parameters: $1) }
        var batched = [Generation?](repeating: nil, count: prompts.count)
        let report = try #require(try model.generate(prompts: prompts, parameters: parameters, batching: .init(slots: 2)) { batched[$0] = try? $1.get() })
        #expect(batched == alone.map { $0 })
        // Three prompts wait for a slot, and each finds the shared prefix in it.
        let shared = zip(prompts[0], prompts[1]).prefix { $0 == $1 }.count
        #expect(shared > 20)
        #expect(report.reusedTokens >= 3 * shared)
        #expect(report.promptTokens + report.reusedTokens == prompts.map(\.count).reduce(0, +))

        let continuations = [" Yes", " No", " Maybe so"].map { model.tokenizer.encode($0) }
        let requests = prompts.map { ($0, continuations) }
        let scoredAlone = try requests.map { try model.score(prompt: $0.0, continuations: $0.1) }
        var scored = [[ContinuationScore]?](repeating: nil, count: requests.count)
        let reused = try model.score(requests: requests.map { ($0.0, $0.1) }, batching: .init(slots: 2)) { scored[$0] = try? $1.get() }
        #expect(scored == scoredAlone.map { $0 })
        #expect(reused >= 3 * shared, "the second and third chunks of two find the prefix in their slots")
    }

    @Test func exactBatchedScoringEqualsOneRequestAtATime() throws {
        let model = try Self.model.get()
        let prompts = ["The capital of France is", "My favourite film is", "Q: Name a fruit.\nA:"].map { model.tokenizer.encode($0, addSpecial: true) }
        let continuations = [[" Paris", " London", " a city"], [" Heat", " The Matrix"], [" An apple", " Banana", " pear", " x"]].map {
            $0.map { model.tokenizer.encode($0) }
        }
        let requests = Array(zip(prompts, continuations))
        let alone = try requests.map { try model.score(prompt: $0.0, continuations: $0.1) }
        var batched = [[ContinuationScore]?](repeating: nil, count: requests.count)
        try model.score(requests: requests.map { ($0.0, $0.1) }, batching: .init(slots: 2)) { batched[$0] = try? $1.get() }
        #expect(batched == alone.map { $0 })
    }

    @Test func badPromptsFailAloneAndTheRestRun() throws {
        let model = try Self.model.get()
        let good = model.tokenizer.encode("The capital of France is", addSpecial: true)
        let long = [Int32](repeating: good[1], count: model.configuration.contextLength + 1)
        var results: [Int: Result<Generation, any Error>] = [:]
        try model.generate(
            prompts: [good, long, [], good], parameters: [SamplingParameters(maxTokens: 3), SamplingParameters(), SamplingParameters(), SamplingParameters(maxTokens: -1)],
            batching: .init(slots: 4)
        ) { results[$0] = $1 }
        #expect(try results[0]?.get().tokens.count == 3)
        let message = { (i: Int) in (results[i].flatMap { if case .failure(let e) = $0 { return e as? RecError } else { return nil } })?.message ?? "" }
        #expect(message(1).contains("more than the model's context of \(model.configuration.contextLength)"))
        #expect(message(2).contains("non-empty prompt"))
        #expect(message(3).contains("max_tokens"))
    }

    @Test func aBudgetTooSmallForOneCacheIsRefusedAndSlotsShrinkToFitIt() throws {
        let model = try Self.model.get()
        let prompt = model.tokenizer.encode("The capital of France is", addSpecial: true)
        let one = LlamaModel.Session.cacheBytes(rows: prompt.count + 8, model.configuration)
        let error = #expect(throws: RecError.self) {
            try model.generate(prompts: [prompt], parameters: [SamplingParameters(maxTokens: 8)], batching: .init(slots: 4, memoryBudget: one - 1)) { _, _ in }
        }
        #expect(error?.message.contains("more than the memory budget") == true)
        let plan = try model.generate(
            prompts: Array(repeating: prompt, count: 4), parameters: Array(repeating: SamplingParameters(maxTokens: 8), count: 4),
            batching: .init(slots: 4, memoryBudget: 2 * one + 1)
        ) { _, _ in }
        #expect(plan?.plan == LlamaModel.BatchPlan(slots: 2, rowsPerSlot: prompt.count + 8, bytesPerSlot: one))
    }
}
