import Foundation
import RecTesting
import Testing

/// `reclab lm`: tokenize, generate and score from the command line; a missing model is a clear error.
struct LMCommandTests {
    static let smolLMPresent = Fixtures.modelRequired("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")

    @Test(.enabled(if: smolLMPresent)) func tokenizeGenerateAndScore() throws {
        let tokens = try CLI.run(["lm", "tokenize"], input: "Hello world, it's 2024! Ça va?\n<|im_start|>user\n")
        #expect(tokens.status == 0, "\(tokens.stderr)")
        // llama.cpp's ids (Tests/Fixtures/smollm2/reference.json).
        #expect(tokens.stdout == "19556 905 28 357 506 216 34 32 34 36 17 5549 225 81 46316 47\n1 4093\n")
        let folder = Fixtures.temporaryDirectory("reclab-lm")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let db = folder + "/calls.sqlite"
        let generated = try CLI.run(["lm", "generate", "--max-tokens", "4", "--json", "--db", db], input: "The capital of France is\n")
        #expect(generated.status == 0, "\(generated.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(generated.stdout.utf8)) as? [String: Any]
        #expect(json?["tokens"] as? [Int] == [7042, 30, 198, 198])
        #expect(json?["text"] as? String == " Paris.\n\n")
        let scored = try CLI.run(["lm", "score", "--prompt", "The capital of France is", "--continuation", " Paris", "--continuation", " London", "--db", db])
        let rows = try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as? [[String: Any]]
        let totals = rows?.compactMap { $0["total"] as? Double } ?? []
        #expect(totals.count == 2 && totals[0] > totals[1])
        // The same call again is answered from the cache, with the same output.
        let again = try CLI.run(["lm", "generate", "--max-tokens", "4", "--json", "--db", db], input: "The capital of France is\n")
        #expect(again.stdout == generated.stdout)
        let stats = try CLI.run(["cache", "stats", "--db", db])
        #expect(stats.stdout.hasPrefix("hits: 1\nmisses: 2\nstored calls: 2\n"), "\(stats.stdout)")
    }

    @Test func missingModelNamesTheSetupCommand() throws {
        let out = try CLI.run(["lm", "tokenize"], input: "x\n", environment: ["RECLAB_MODELS": "/nonexistent-models"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("no .gguf file in /nonexistent-models/SmolLM2-135M-Instruct; run `bash scripts/fetch-models.sh`"))
        let usage = try CLI.run(["lm", "sing"])
        #expect(usage.status == 64 && usage.stderr.contains("unknown action 'sing'"))
    }
}
