import Foundation
import RecCore
import RecStore
import RecTesting
import Testing

@testable import RecLM

/// GGUF files written wrong on purpose: each must fail with an error that names the file and
/// the field, never trap, hang or load garbage. The first test shows the builder's unmodified
/// file loads and runs, so each failure below is caused by the one change it makes.
@Suite(.serialized)
struct HostileModelFileTests {
    let folder = Fixtures.temporaryDirectory("hostile-gguf")

    func write(_ builder: GGUFBuilder, _ name: String = "model.gguf") throws -> String {
        let path = folder + "/" + name
        try builder.write(to: path)
        return path
    }

    /// The error loading `builder` gives, which must mention `path`.
    func loadError(_ builder: GGUFBuilder, numerics: LlamaModel.Numerics = .fast) throws -> String {
        let path = try write(builder)
        let error = #expect(throws: RecError.self) { _ = try LlamaModel(path: path, numerics: numerics) }
        #expect(error?.message.contains(path) == true, "\(error?.message ?? "")")
        print("hostile gguf: \(error?.message ?? "no error")")
        return error?.message ?? ""
    }

    @Test func theTinyModelLoadsAndGenerates() throws {
        let model = try LlamaModel(path: try write(GGUFBuilder.tinyLlama()), numerics: .fast)
        let generation = try model.generate(prompt: [72, 105], parameters: SamplingParameters(maxTokens: 4))
        #expect(generation.tokens.count + (generation.finish == .endOfText ? 1 : 0) >= 1)
        #expect(generation.logprobs.allSatisfy { $0.isFinite })
    }

    @Test(arguments: [
        ("llama.attention.head_count_kv", GGUFBuilder.Value.uint32(0), "head_count_kv' must be an integer from 1"),
        ("llama.attention.head_count", .uint32(0), "head_count' must be an integer from 1"),
        ("llama.block_count", .int32(-1), "block_count' must be an integer from 1"),
        ("llama.context_length", .uint64(1 << 40), "context_length' must be an integer from 1 to 1048576"),
        ("llama.embedding_length", .string("eight"), "embedding_length' must be an integer"),
        ("llama.rope.freq_base", .float32(.nan), "freq_base' must be a finite positive number"),
        ("llama.attention.layer_norm_rms_epsilon", .float32(-1), "epsilon' must be a finite positive number"),
        ("tokenizer.ggml.eos_token_id", .uint32(9999), "eos_token_id is not a token id below the vocabulary size 257"),
        ("tokenizer.ggml.bos_token_id", .uint64(UInt64(Int32.max) + 7), "bos_token_id is not a token id"),
        ("tokenizer.ggml.tokens", .int32s([1, 2, 3]), "tokenizer.ggml.tokens is not a non-empty array of strings"),
        ("general.alignment", .uint32(0), "general.alignment must be an integer from 1 to 65536"),
        ("general.architecture", .string("mamba"), "general.architecture is 'mamba'; RecLab runs llama, gemma3, qwen2, qwen3 models"),
        ("llama.rope.scaling.type", .string("yarn"), "rope.scaling.type is 'yarn'; RecLab applies linear rope scaling"),
        ("llama.rope.scaling.factor", .float32(0), "rope.scaling.factor' must be a finite positive number"),
        ("llama.rope.dimension_count", .uint32(2), "rope.dimension_count differs from the head size"),
        ("llama.attention.value_length", .uint32(2), "value_length differs from the key length"),
        // Metadata that contradicts the tensors' shapes.
        ("llama.attention.key_length", .uint32(2), "has dimensions"),
        ("llama.feed_forward_length", .uint32(24), "has dimensions"),
        ("tokenizer.ggml.pre", .string("tekken"), "tokenizer.ggml.pre 'tekken' is not supported"),
    ])
    func badMetadataIsNamed(_ key: String, _ value: GGUFBuilder.Value, _ message: String) throws {
        var builder = GGUFBuilder.tinyLlama()
        builder.set(key, value)
        let error = try loadError(builder)
        #expect(error.contains(message), "\(error)")
    }

    /// A tensor RecLab would otherwise ignore, though llama.cpp applies it.
    @Test func anOutputBiasIsRefused() throws {
        var builder = GGUFBuilder.tinyLlama()
        builder.addF32("output.bias", [257])
        #expect(try loadError(builder).contains("tensor 'output.bias' (a bias on the output head) is not supported"))
    }

    @Test func hugeTensorShapesDoNotOverflow() throws {
        var builder = GGUFBuilder.tinyLlama()
        // Each dimension fits the file; their product overflows Int.
        builder.tensors[0].dimensions = [100_000, 100_000, 100_000, 100_000]
        #expect(try loadError(builder).contains("more values than a file of"))
    }

    @Test func nestedArraysHaveADepthLimit() throws {
        var builder = GGUFBuilder.tinyLlama()
        // An array of arrays of ... 40 levels deep.
        var bytes: [UInt8] = []
        for _ in 0..<40 { bytes += le(UInt32(9)) + le(UInt64(1)) }
        builder.set("deep", .raw(type: 9, bytes: bytes))
        #expect(try loadError(builder).contains("nests arrays deeper than 4 levels"))
    }

    @Test func countsBeyondTheFileAreTruncation() throws {
        var strings = GGUFBuilder.tinyLlama()
        strings.set("long", .raw(type: 8, bytes: le(UInt64(1 << 40))))
        #expect(try loadError(strings).contains("string length 1099511627776"))
        var arrays = GGUFBuilder.tinyLlama()
        arrays.set("many", .raw(type: 9, bytes: le(UInt32(7)) + le(UInt64(1 << 40))))
        #expect(try loadError(arrays).contains("truncated: array length of 'many'"))
        var tensors = GGUFBuilder.tinyLlama()
        tensors.tensorCountOverride = 1 << 50
        #expect(try loadError(tensors).contains("truncated: tensor count"))
    }

    @Test func aRelabelledTensorIsCaughtByItsSize() throws {
        var builder = GGUFBuilder.tinyLlama()
        // 32 x 8 F32 values claimed as Q8_0: 272 of its 1024 bytes would be read.
        builder.addF32("extra.weight", [32, 8])
        builder.tensors[builder.tensors.count - 1].type = 8
        builder.addF32("after.weight", [8])
        #expect(try loadError(builder).contains("'extra.weight' (Q8_0) leaves 752 bytes unused before 'after.weight'"))
    }

    @Test func overlappingAndRepeatedTensorsAreRefused() throws {
        var overlap = GGUFBuilder.tinyLlama()
        overlap.tensors[1].offsetOverride = 0
        #expect(try loadError(overlap).contains("overlap"))
        var twice = GGUFBuilder.tinyLlama()
        twice.tensors.append(twice.tensors[1])
        #expect(try loadError(twice).contains("is listed twice"))
    }

    @Test func aChecksumMismatchIsNamed() throws {
        let path = try write(GGUFBuilder.tinyLlama())
        try "\(String(repeating: "0", count: 64))  model.gguf\n".write(toFile: folder + "/.sha256", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: folder + "/.sha256") }
        let error = #expect(throws: RecError.self) { _ = try LlamaModel(path: path, numerics: .fast) }
        #expect(error?.message.contains("does not match its checksum") == true, "\(error?.message ?? "")")
        // The right digest loads.
        try "\(try ContentHash.compute(path))  model.gguf\n".write(toFile: folder + "/.sha256", atomically: true, encoding: .utf8)
        _ = try LlamaModel(path: path, numerics: .fast)
    }

    @Test(arguments: [LlamaModel.Numerics.fast, .exact])
    func nonFiniteWeightsAreAnErrorNotOutput(_ numerics: LlamaModel.Numerics) throws {
        var builder = GGUFBuilder.tinyLlama(hidden: numerics == .exact ? 128 : 8)
        let count = builder.tensors[0].data.count / 4
        builder.tensors[0].data = (0..<count).flatMap { _ in le(Float.nan.bitPattern) }
        let model = try LlamaModel(path: try write(builder, "nan-\(numerics).gguf"), numerics: numerics)
        let error = #expect(throws: RecError.self) { _ = try model.generate(prompt: [72], parameters: SamplingParameters(maxTokens: 2)) }
        #expect(error?.message.contains("non-finite logits") == true, "\(error?.message ?? "")")
        #expect((#expect(throws: RecError.self) { _ = try model.score(prompt: [72], continuations: [[73]]) })?.message.contains("non-finite") == true)
    }

    @Test func pipesFoldersAndLoopsAreNotModelFiles() throws {
        let fifo = folder + "/pipe.gguf"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect((#expect(throws: RecError.self) { _ = try GGUFFile(path: fifo) })?.message.contains("is not a regular file") == true)
        #expect((#expect(throws: RecError.self) { _ = try GGUFFile(path: folder) })?.message.contains("is a folder") == true)
        let loop = folder + "/loop.gguf"
        #expect(symlink(loop, loop) == 0)
        #expect((#expect(throws: RecError.self) { _ = try GGUFFile(path: loop) })?.message.contains("loop of symbolic links") == true)
        let dangling = folder + "/dangling.gguf"
        #expect(symlink(folder + "/nothing", dangling) == 0)
        #expect((#expect(throws: RecError.self) { _ = try GGUFFile(path: dangling) })?.message.contains("symbolic link to nothing") == true)
    }

    @Test func exactNumericsRefuseShapesTheirKernelsDoNotTake() throws {
        let error = try loadError(GGUFBuilder.tinyLlama(), numerics: .exact)
        #expect(error.contains("exact numerics need a head size that is a multiple of 64"))
    }

    @Test func outOfRangeTokenIdsAreRefused() throws {
        let model = try LlamaModel(path: try write(GGUFBuilder.tinyLlama()), numerics: .fast)
        let error = #expect(throws: RecError.self) { _ = try model.generate(prompt: [300], parameters: SamplingParameters(maxTokens: 1)) }
        #expect(error?.message.contains("token id 300 is outside the vocabulary of 257") == true)
    }

    @Test(arguments: [
        (SamplingParameters(topP: 0), "top_p must be in (0, 1]"),
        (SamplingParameters(temperature: -1), "temperature must be a finite number >= 0"),
        (SamplingParameters(temperature: .nan), "temperature must be a finite number"),
        (SamplingParameters(topK: -5), "top_k must be >= 0"),
        (SamplingParameters(maxTokens: -1), "max_tokens must be between 0 and 1000000"),
        (SamplingParameters(stop: [""]), "a stop string must not be empty"),
    ])
    func samplingParametersAreChecked(_ parameters: SamplingParameters, _ message: String) throws {
        let model = try LlamaModel(path: try write(GGUFBuilder.tinyLlama()), numerics: .fast)
        let error = #expect(throws: RecError.self) { _ = try model.generate(prompt: [72], parameters: parameters) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(error?.kind == .usage)
    }

    // MARK: - The call cache keys on what produced the answer

    @Test func theCacheMissesWhenTheWeightsChangeUnderTheSameName() throws {
        let store = try ResultStore(path: folder + "/cache.sqlite")
        let path = try write(GGUFBuilder.tinyLlama(), "same-name.gguf")
        let prompt = Prompt.text("Hi")
        let parameters = SamplingParameters(maxTokens: 3)
        func cached() throws -> CachedLanguageModel {
            CachedLanguageModel(LocalLanguageModel(engine: try LlamaModel(path: path, numerics: .fast)), cache: store)
        }
        let first = try cached()
        _ = try first.score(prompt, continuations: [" a"])
        _ = try first.score(prompt, continuations: [" a"])
        #expect(try store.lmCacheStats().misses == 1 && store.lmCacheStats().hits == 1)
        // Other weights, written to the same file name.
        var other = GGUFBuilder.tinyLlama()
        (other.tensors[4].data, other.tensors[5].data) = (other.tensors[5].data, other.tensors[4].data)  // q and k swapped
        try other.write(to: path)
        let second = try cached()
        #expect(second.model == first.model)
        #expect(second.identity != first.identity)
        _ = try second.score(prompt, continuations: [" a"])
        #expect(try store.lmCacheStats().misses == 2, "the replaced weights must not be answered from the old rows")
        _ = try second.generate(prompt, parameters)
        _ = try second.generate(prompt, parameters)
        #expect(try store.lmCacheStats().hits == 2)
    }

    @Test func theWeightsHashIsCachedBesideTheFileAndRecomputedWhenItChanges() throws {
        let path = try write(GGUFBuilder.tinyLlama(), "hashed.gguf")
        let digest = try ContentHash.of(path)
        #expect(digest == (try ContentHash.compute(path)))
        let sidecar = folder + "/.hashed.gguf.sha256-cache"
        #expect(FileManager.default.fileExists(atPath: sidecar))
        var other = GGUFBuilder.tinyLlama()
        other.alignment = 64
        try other.write(to: path)
        #expect(try ContentHash.of(path) != digest)
    }
}

func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
