import Foundation
import RecCore
import RecLM
import RecTesting
import RecText

/// libFuzzer harness: arbitrary bytes as text for both tokenizers (WordPiece with a small
/// vocabulary, byte-level BPE from a GGUF built in memory, under the GPT-2, Llama 3 and Qwen2
/// pre-tokenizers), and as a vocab.txt.
let scratch = fuzzScratchPath("tokenizers")

let wordPiece: WordPieceTokenizer = {
    let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "toy", "story", "##s", "##ing", "a", "b", "c", "!", ","]
    return try! WordPieceTokenizer(vocabulary: Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, Int32($0)) }), maxLength: 64)
}()

let bpe: BPETokenizer = {
    try! GGUFBuilder.tinyLlama().write(to: scratch + ".gguf")
    return try! BPETokenizer(gguf: try! GGUFFile(path: scratch + ".gguf"))
}()

/// The same vocabulary under the Llama 3 and Qwen2 pre-tokenizers.
let otherFamilies: [BPETokenizer] = ["llama-bpe", "qwen2"].map { pre in
    var builder = GGUFBuilder.tinyLlama()
    builder.set("tokenizer.ggml.pre", .string(pre))
    try! builder.write(to: scratch + "-\(pre).gguf")
    return try! BPETokenizer(gguf: try! GGUFFile(path: scratch + "-\(pre).gguf"))
}

runLibFuzzer { data, size in
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    _ = wordPiece.encode(text)
    let ids = bpe.encode(text, parseSpecial: true, addSpecial: true)
    for id in ids where id >= 0 { _ = bpe.bytes(of: id) }
    for tokenizer in otherFamilies { _ = tokenizer.encode(text, parseSpecial: true, addSpecial: true) }
    try? Data(bytes).write(to: URL(fileURLWithPath: scratch + ".vocab"))
    _ = try? WordPieceTokenizer(vocabularyFile: scratch + ".vocab", maxLength: 16)
    return 0
}
