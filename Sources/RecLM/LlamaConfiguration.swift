import RecCore

extension LlamaModel.Configuration {
    /// The hyperparameters of a llama, qwen2, qwen3 or gemma3 GGUF, checked before they size any table:
    /// each integer within what a model of this family can have, each float finite and
    /// positive, heads that fit, and (for exact numerics) the shapes llama.cpp's CPU kernels
    /// take. `vocabulary` is left 0 for the tokenizer to fill in.
    init(gguf file: GGUFFile, numerics: LlamaModel.Numerics) throws {
        let path = file.path
        let name = try file.require("general.architecture").string ?? ""
        guard let arch = Architecture(rawValue: name) else {
            throw RecError(
                .data, "\(path): general.architecture is '\(name)'; RecLab runs \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")) models")
        }
        func int(_ key: String, default fallback: Int? = nil, max: Int = 1 << 20) throws -> Int {
            let key = "\(name).\(key)"
            guard let raw = file.metadata[key] ?? fallback.map({ .int(Int64($0)) }) else {
                throw RecError(.data, "\(path): metadata key '\(key)' is missing")
            }
            guard let value = raw.int, (1...max).contains(value) else {
                throw RecError(.data, "\(path): metadata '\(key)' must be an integer from 1 to \(max)")
            }
            return value
        }
        func positive(_ key: String, default fallback: Double?) throws -> Float? {
            let key = "\(name).\(key)"
            guard let raw = file.metadata[key] else { return fallback.map { Float($0) } }
            guard let value = raw.double, value.isFinite, value > 0, Float(value).isFinite, Float(value) > 0 else {
                throw RecError(.data, "\(path): metadata '\(key)' must be a finite positive number")
            }
            return Float(value)
        }
        let heads = try int("attention.head_count", max: 1024), hidden = try int("embedding_length", max: 1 << 16)
        let layers = try int("block_count", max: 1024)
        // The head size is the key length where the file gives one (Gemma 3 and Qwen3 heads
        // need not be hidden / heads).
        let keyLength = file.metadata["\(name).attention.key_length"] == nil ? nil : try int("attention.key_length", max: 4096)
        guard keyLength != nil || hidden % heads == 0 else {
            throw RecError(.data, "\(path): \(heads) heads do not divide \(hidden) dimensions and \(name).attention.key_length is missing")
        }
        let headDim = keyLength ?? hidden / heads
        guard try int("attention.value_length", default: headDim, max: 4096) == headDim else {
            throw RecError(.data, "\(path): \(name).attention.value_length differs from the key length \(headDim); RecLab needs them equal")
        }
        guard try int("rope.dimension_count", default: headDim, max: 4096) == headDim else {
            throw RecError(.data, "\(path): \(name).rope.dimension_count differs from the head size \(headDim); RecLab rotates whole heads only")
        }
        var sliding: Int?, pattern = 6, localBase: Float = 10_000, scale: Float?
        if arch == .gemma3 {
            if file.metadata["\(name).attention.sliding_window"] != nil {
                sliding = try int("attention.sliding_window", max: 1 << 20)
                pattern = try int("attention.sliding_window_pattern", default: 6, max: 1024)
                localBase = try positive("rope.freq_base_swa", default: 10_000)!
            }
            // Gemma 3 27B scales queries by 1/√(hidden / heads), the others by 1/√headDim.
            scale = 1 / Float(layers == 62 ? hidden / heads : headDim).squareRoot()
        }
        // Rope scaling as llama.cpp applies it: positions times 1 / factor (linear). YaRN and
        // LongRoPE change more than the positions and are refused.
        let scaling = file.metadata["\(name).rope.scaling.type"]?.string ?? "linear"
        guard scaling == "linear" || scaling == "none" else {
            throw RecError(.data, "\(path): \(name).rope.scaling.type is '\(scaling)'; RecLab applies linear rope scaling (or none) only")
        }
        let factor = try positive("rope.scaling.factor", default: nil) ?? positive("rope.scale_linear", default: nil)
        self.init(
            architecture: arch, layers: layers, hidden: hidden, heads: heads, kvHeads: try int("attention.head_count_kv", default: heads, max: 1024),
            feedForward: try int("feed_forward_length", max: 1 << 18), contextLength: try int("context_length", max: 1 << 20),
            ropeBase: try positive("rope.freq_base", default: 10_000)!, normEps: try positive("attention.layer_norm_rms_epsilon", default: 1e-5)!,
            vocabulary: 0, headDim: headDim, slidingWindow: sliding, slidingPattern: pattern, ropeBaseLocal: localBase, attentionScale: scale,
            finalLogitSoftcap: try positive("final_logit_softcapping", default: nil), ropeFrequencyScale: factor.map { 1 / $0 } ?? 1)
        guard heads % kvHeads == 0, headDim % 2 == 0 else {
            throw RecError(.data, "\(path): \(heads) heads and \(kvHeads) key-value heads of \(headDim) values do not fit")
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
