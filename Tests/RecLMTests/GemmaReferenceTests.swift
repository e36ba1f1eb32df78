import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecLM

/// Gemma 3 270M (Q4_K_M: Q5_0, Q4_K, Q6_K and Q8_0 tensors) against llama.cpp (-fa off):
/// greedy continuations and per-token log-probabilities (Tests/Fixtures/gemma3/reference.json).
@Suite(.enabled(if: gemmaRequired, "gemma-3-270m is not in models/ (bash scripts/fetch-models.sh)"), .serialized)
struct GemmaReferenceTests {
    static let model = Result { try LlamaModel(path: gemmaPath) }

    @Test func readsGemmasArchitecture() throws {
        let c = try Self.model.get().configuration
        #expect(c.architecture == .gemma3 && c.headDim == 256 && c.queryDim == 1024 && c.kvDim == 256)
        #expect(c.slidingWindow == 512 && (0..<c.layers).filter { !c.isSliding($0) } == [5, 11, 17])
        #expect(c.ropeBase == 1_000_000 && c.ropeBaseLocal == 10_000 && c.attentionScale == 1.0 / 16)
    }

    /// Greedy continuations against llama.cpp's: every prompt's 32-token continuation is
    /// identical and every log-probability within 0.02 nats. The reference is llama-server
    /// with --no-repack and GGML_CPU_TILED_MM=0 (Benchmarks/llama_reference.py): llama.cpp's
    /// generic k-quant path, which RecLab follows; on AVX2 llama.cpp otherwise repacks Q4_K into
    /// interleaved kernels, and on AVX-512 VNNI it multiplies k-quant batches of 8 or more rows
    /// with tiled kernels, each summing in its own order.
    @Test func greedyContinuationsAgainstLlamaCpp() throws {
        let reference = try LlamaReference.load("gemma3"), model = try Self.model.get()
        #expect(reference.prompts.count >= 10)
        var identical = 0, gaps: [Double] = []
        for prompt in reference.prompts {
            let run = try greedyAgainstReference(model, prompt)
            #expect(run.generation.tokens == run.expected, "greedy continuation of \(prompt.text.debugDescription)")
            if run.identical { identical += 1 }
            gaps += run.gaps
        }
        print(
            String(
                format: "Gemma 3 270M vs llama.cpp (-fa off, --no-repack, GGML_CPU_TILED_MM=0): %d of %d continuations identical; per-token log-probability gap: mean %.5f, max %.5f over %d tokens",
                identical, reference.prompts.count, gaps.reduce(0, +) / Double(max(1, gaps.count)), gaps.max() ?? 0, gaps.count))
        #expect(identical == reference.prompts.count)
        #expect(gaps.allSatisfy { $0 <= 0.02 })
    }
}
