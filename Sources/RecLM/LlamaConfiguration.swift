import RecCore

extension LlamaModel.Configuration {
    /// The hyperparameters of a llama-architecture GGUF, checked before they size any table:
    /// each integer within what a model of this family can have, each float finite and
    /// positive, heads that divide the hidden size, and (for exact numerics) the shapes
    /// llama.cpp's CPU kernels take. `vocabulary` is left 0 for the tokenizer to fill in.
    init(gguf file: GGUFFile, numerics: LlamaModel.Numerics) throws {
        let path = file.path
        let arch = try file.require("general.architecture").string ?? ""
        guard arch == "llama" else { throw RecError(.data, "\(path): general.architecture is '\(arch)'; RecLab runs llama-architecture models") }
        func int(_ key: String, default fallback: Int? = nil, max: Int = 1 << 20) throws -> Int {
            guard let raw = file.metadata[key] ?? fallback.map({ .int(Int64($0)) }) else {
                throw RecError(.data, "\(path): metadata key '\(key)' is missing")
            }
            guard let value = raw.int, (1...max).contains(value) else {
                throw RecError(.data, "\(path): metadata '\(key)' must be an integer from 1 to \(max)")
            }
            return value
        }
        func positive(_ key: String, default fallback: Double) throws -> Float {
            guard let raw = file.metadata[key] else { return Float(fallback) }
            guard let value = raw.double, value.isFinite, value > 0, Float(value).isFinite, Float(value) > 0 else {
                throw RecError(.data, "\(path): metadata '\(key)' must be a finite positive number")
            }
            return Float(value)
        }
        let heads = try int("llama.attention.head_count", max: 1024)
        self.init(
            layers: try int("llama.block_count", max: 1024), hidden: try int("llama.embedding_length", max: 1 << 16), heads: heads,
            kvHeads: try int("llama.attention.head_count_kv", default: heads, max: 1024), feedForward: try int("llama.feed_forward_length", max: 1 << 18),
            contextLength: try int("llama.context_length", max: 1 << 20), ropeBase: try positive("llama.rope.freq_base", default: 10_000),
            normEps: try positive("llama.attention.layer_norm_rms_epsilon", default: 1e-5),
            vocabulary: 0)
        guard hidden % heads == 0, heads % kvHeads == 0, headDim % 2 == 0 else {
            throw RecError(.data, "\(path): \(heads) heads, \(kvHeads) key-value heads over \(hidden) dimensions do not fit")
        }
        // llama.cpp's CPU kernels, which exact numerics reproduce, work on blocks of 32 values
        // and attention heads of a multiple of 64.
        if numerics == .exact, headDim % 64 != 0 || hidden % 32 != 0 || feedForward % 32 != 0 {
            throw RecError(
                .usage,
                "\(path): exact numerics need a head size that is a multiple of 64 and hidden and feed-forward sizes that are multiples of 32; this model has \(headDim), \(hidden) and \(feedForward): use numerics 'fast'"
            )
        }
    }
}
