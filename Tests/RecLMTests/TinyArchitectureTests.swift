import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecLM

/// Tiny random-weight models of each architecture, in Q8_0 and Q4_K_M (and one each in Q5_K_M,
/// F16 and Q5_1), against llama.cpp's own output on the same files (Tests/Fixtures/tiny-models,
/// written by Benchmarks/tiny_models/make.py): tokenisation, chat rendering, greedy
/// continuations, and the five most probable tokens' log-probabilities at every step.
struct TinyArchitectureTests {
    static let names = ["qwen2", "qwen3", "llama3", "gemma3"].flatMap { ["\($0)-q8_0", "\($0)-q4_k_m"] } + ["qwen2-q5_k_m", "qwen2-f16", "llama3-q5_1"]

    struct Reference: Decodable {
        struct Prompt: Decodable {
            var text: String
            var promptIDs: [Int32]
            var tokens: [Int32]
            /// Per step; nil where llama-server reported none (a token ending inside a UTF-8
            /// character).
            var logprobs: [Double?]
            /// Per step: (token id, log-probability) of the five most probable tokens.
            var top: [[[Double]]?]
            enum CodingKeys: String, CodingKey { case text, promptIDs = "prompt_ids", tokens, logprobs, top }
        }
        struct Chat: Decodable { var messages: [ChatMessage]; var prompt: String }
        var tokenize: [LlamaReference.Tokenized]
        var chat: [Chat]
        var prompts: [Prompt]
    }

    static func load(_ name: String) throws -> (LlamaModel, Reference) {
        let base = Fixtures.directory + "/tiny-models/\(name)"
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: base + ".json")))
        return (try LlamaModel(path: base + ".gguf"), reference)
    }

    @Test(arguments: names) func tokenizesAsLlamaCpp(_ name: String) throws {
        let (model, reference) = try Self.load(name)
        #expect(reference.tokenize.count >= 30)
        for entry in reference.tokenize {
            #expect(model.tokenizer.encode(entry.text) == entry.ids, "\(name): \(entry.text.debugDescription)")
        }
        for prompt in reference.prompts {
            #expect(model.tokenizer.encode(prompt.text, addSpecial: true) == prompt.promptIDs, "\(name): \(prompt.text.debugDescription)")
        }
    }

    /// Every prompt's greedy continuation (16 tokens, or up to the end of text) is llama.cpp's,
    /// each token's log-probability within 0.02 nats of llama.cpp's, and so are the five most
    /// probable tokens' at every step.
    @Test(arguments: names) func logitsMatchLlamaCpp(_ name: String) throws {
        let (model, reference) = try Self.load(name)
        var gaps: [Double] = []
        for prompt in reference.prompts {
            // llama-server lists the end-of-generation token it stopped at; RecLab stops before it.
            var expected = prompt.tokens
            if let last = expected.last, model.tokenizer.endOfGeneration.contains(last) { expected.removeLast() }
            let generation = try model.generate(prompt: prompt.promptIDs, parameters: SamplingParameters(maxTokens: prompt.tokens.count))
            #expect(generation.tokens == expected, "\(name): greedy continuation of \(prompt.text.debugDescription)")
            gaps += zip(generation.logprobs, prompt.logprobs).compactMap { ours, theirs in theirs.map { abs(ours - $0) } }
            // The top five at every step, stepping as llama.cpp generated: the prompt in one
            // batch, then one token at a time.
            let session = model.session(), v = model.configuration.vocabulary
            var logits = try session.append(prompt.promptIDs)
            for (step, top) in prompt.top.enumerated() {
                if let top {
                    #expect(top.count == 5)
                    logits.withUnsafeBufferPointer { p in
                        for entry in top { gaps.append(abs(logProbability(p.baseAddress!, count: v, index: Int(entry[0])) - entry[1])) }
                    }
                }
                logits = try session.append([prompt.tokens[step]])
            }
        }
        print(String(format: "%@ vs llama.cpp: per-token log-probability gap mean %.6f, max %.6f over %d values", name, gaps.reduce(0, +) / Double(gaps.count), gaps.max() ?? 0, gaps.count))
        #expect(gaps.count >= 8 * 6)
        #expect(gaps.allSatisfy { $0 <= 0.02 })
    }

    /// Each family's chat template (ChatML, Llama 3, Gemma) renders chats as llama.cpp's
    /// built-in renderer of that family does.
    @Test(arguments: ["qwen2-q8_0", "llama3-q8_0", "gemma3-q8_0"]) func chatTemplatesMatchLlamaCpp(_ name: String) throws {
        let (model, reference) = try Self.load(name)
        let template = try ChatTemplate(try model.file.require("tokenizer.chat_template").string ?? "", file: name)
        #expect(reference.chat.count == 3)
        for chat in reference.chat { #expect(template.apply(chat.messages) == chat.prompt, "\(name)") }
    }

    @Test func readsEachFamilysHyperparameters() throws {
        let qwen2 = try Self.load("qwen2-q8_0").0, qwen3 = try Self.load("qwen3-q4_k_m").0
        let llama = try Self.load("llama3-q8_0").0, gemma = try Self.load("gemma3-q4_k_m").0
        #expect(qwen2.configuration.architecture == .qwen2 && qwen2.layers.allSatisfy { $0.qkvBias?.count == 512 })
        #expect(qwen3.configuration.architecture == .qwen3 && qwen3.configuration.queryDim == 512 && qwen3.configuration.hidden == 256)
        #expect(qwen3.layers.allSatisfy { $0.queryNorm != nil && $0.qkvBias == nil })
        #expect(llama.configuration.architecture == .llama && llama.configuration.ropeFrequencyScale == 0.5)
        #expect(gemma.configuration.slidingWindow == 4 && (0..<6).filter { !gemma.configuration.isSliding($0) } == [5])
        #expect(gemma.configuration.ropeFrequencyScale == 1.0 / 8)
        // Tied output head (Qwen2) and a separate one (Qwen3).
        #expect(qwen2.file.tensors["output.weight"] == nil && qwen3.file.tensors["output.weight"] != nil)
    }

    /// The two byte-level vocabularies share their merges and differ only in their special
    /// tokens, so where their ids for a text differ, only the pre-tokenizer (qwen2 against
    /// llama-bpe) made them differ: the fixtures tell the two patterns apart.
    @Test func theFixturesTellThePreTokenizersApart() throws {
        let qwen = try Self.load("qwen2-q8_0").1, llama = try Self.load("llama3-q8_0").1
        let differing = zip(qwen.tokenize, llama.tokenize).filter { !$0.text.contains("<|") && $0.ids != $1.ids }
        #expect(differing.count >= 3)
        #expect(PreTokenizer.llama3(digits: 3).pieces("abc 1234567") == ["abc", " ", "123", "456", "7"])
        #expect(PreTokenizer.llama3(digits: 1).pieces("x 12\n\n y's") == ["x", " ", "1", "2", "\n\n", " y", "'s"])
    }
}
