import Foundation
import RecCore
import RecTesting
import RecLM

/// libFuzzer harness: arbitrary bytes as a GGUF file: the header, metadata, tensor table, the
/// tokenizer built from the metadata, and every tensor converted to Float32.
let path = fuzzScratchPath("model.gguf")

runLibFuzzer { data, size in
    guard let data else { return 0 }
    try? Data(UnsafeBufferPointer(start: data, count: size)).write(to: URL(fileURLWithPath: path))
    guard let file = try? GGUFFile(path: path) else { return 0 }
    if let tokenizer = try? BPETokenizer(gguf: file) {
        _ = tokenizer.encode("Hello, world! 123 <|im_start|>", parseSpecial: true, addSpecial: true)
    }
    for name in file.tensorNames { _ = try? file.floats(name) }
    _ = try? LlamaModel(path: path, numerics: .fast)
    return 0
}
