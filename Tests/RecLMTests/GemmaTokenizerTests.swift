import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecLM

/// The fetched Gemma 3 270M GGUF; under CI=true its absence fails the tests that need it.
let gemmaPath = ModelFiles.root() + "/gemma-3-270m/gemma-3-270m-q4_k_m.gguf"
let gemmaRequired = Fixtures.modelRequired("gemma-3-270m/gemma-3-270m-q4_k_m.gguf")

/// Gemma's SentencePiece tokenizer against llama.cpp's tokenisation of the same texts
/// (Tests/Fixtures/gemma3/reference.json, written by Benchmarks/llama_reference.py).
@Suite(.enabled(if: gemmaRequired, "gemma-3-270m is not in models/ (bash scripts/fetch-models.sh)"))
struct GemmaTokenizerTests {
    static let tokenizer = Result { try BPETokenizer(gguf: try GGUFFile(path: gemmaPath)) }

    @Test func tokenIdsMatchLlamaCpp() throws {
        let reference = try LlamaReference.load("gemma3"), tokenizer = try Self.tokenizer.get()
        #expect(reference.tokenize.count >= 39)
        for entry in reference.tokenize {
            #expect(tokenizer.encode(entry.text) == entry.ids, "\(entry.text.debugDescription)")
        }
        for prompt in reference.prompts {
            #expect(tokenizer.encode(prompt.text, addSpecial: true) == prompt.promptIDs, "\(prompt.text.debugDescription)")
        }
    }

    /// Decoding gives the text back: `▁` as spaces, byte tokens as their bytes.
    @Test func decodingRoundTrips() throws {
        let reference = try LlamaReference.load("gemma3"), tokenizer = try Self.tokenizer.get()
        for entry in reference.tokenize where !entry.text.contains("<") {
            #expect(tokenizer.decode(entry.ids) == entry.text, "\(entry.text.debugDescription)")
        }
    }
}
