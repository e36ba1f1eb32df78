import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecLM

/// RecLab's own exact-numerics output, pinned: the greedy continuation of every prompt of the
/// llama.cpp fixture, as this engine produced it when Tests/Fixtures/smollm2/reclab-exact.json
/// was written (`bash Benchmarks/pin_reclab_output.sh`, which sets RECLAB_WRITE_PIN). Any
/// machine that runs the suite must reproduce it: identical tokens, log-probabilities within
/// 1e-6 nats. llama.cpp's CPU output varies between machines; this checks that RecLab's does not.
@Suite(.enabled(if: smolLMRequired, "SmolLM2-135M-Instruct is not in models/ (bash scripts/fetch-models.sh)"), .serialized)
struct RecLabPinnedOutputTests {
    struct Pinned: Codable {
        var promptIDs: [Int32]
        var tokens: [Int32]
        var logprobs: [Double]
    }

    static let path = Fixtures.directory + "/smollm2/reclab-exact.json"

    @Test func exactOutputIsTheSameOnEveryMachine() throws {
        let reference = try LlamaReference.load()
        let model = try LlamaModel(path: smolLMPath, numerics: .exact)
        let produced = try reference.prompts.map { prompt in
            let generation = try model.generate(prompt: prompt.promptIDs, parameters: SamplingParameters(maxTokens: 32))
            return Pinned(promptIDs: prompt.promptIDs, tokens: generation.tokens, logprobs: generation.logprobs)
        }
        if ProcessInfo.processInfo.environment["RECLAB_WRITE_PIN"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(produced).write(to: URL(fileURLWithPath: Self.path))
            return
        }
        let pinned = try JSONDecoder().decode([Pinned].self, from: Data(contentsOf: URL(fileURLWithPath: Self.path)))
        #expect(pinned.count == produced.count && pinned.count >= 20)
        var gap = 0.0
        for (expected, actual) in zip(pinned, produced) {
            #expect(expected.promptIDs == actual.promptIDs)
            #expect(expected.tokens == actual.tokens, "prompt \(expected.promptIDs.prefix(8))")
            for (a, b) in zip(expected.logprobs, actual.logprobs) { gap = max(gap, abs(a - b)) }
        }
        print("RecLab exact output against its pinned run: largest log-probability gap \(gap) over \(pinned.map(\.tokens.count).reduce(0, +)) tokens")
        #expect(gap <= 1e-6)
    }
}
