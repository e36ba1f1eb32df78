import Foundation
import RecCore
import RecTensor

/// A llama-architecture model as RecTensor operations, with LoRA adapters (Hu et al., 2021) on
/// chosen projections: `y = W x + (alpha / rank) · B A x`, `W` frozen, `A` `[rank, in]` drawn
/// from N(0, 1/in) and `B` `[out, rank]` zero, so training starts from the base model exactly.
///
/// The base weights are dequantised to Float32 once (about 4 bytes per parameter); only the
/// adapters take gradients. The forward pass is the Float32 one of `LlamaModel`'s fast
/// numerics (same norms, rope and attention), so an adapter trained here applies to the engine.
public final class LoRAModel: @unchecked Sendable {
    public struct Options: Sendable, Equatable, Codable {
        public var rank = 8
        public var alpha: Float = 16
        /// Projections that get adapters: any of q, k, v, o, gate, up, down.
        public var targets = ["q", "v"]
        public var seed: UInt64 = 1

        public init(rank: Int = 8, alpha: Float = 16, targets: [String] = ["q", "v"], seed: UInt64 = 1) {
            self.rank = rank
            self.alpha = alpha
            self.targets = targets
            self.seed = seed
        }

        public static let projections = ["q", "k", "v", "o", "gate", "up", "down"]
    }

    public let configuration: LlamaModel.Configuration
    public let options: Options
    /// GGUF names (`blk.0.attn_q.weight`) to frozen tensors; projections are `[out, in]`.
    let base: [String: Tensor]
    /// `blk.{i}.{projection}` to the adapter's A `[rank, in]` and B `[out, rank]`.
    public let adapters: [String: (a: Tensor, b: Tensor)]
    let ropeCos: [Float], ropeSin: [Float]

    static let ggufName = ["q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output", "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"]

    /// - Parameter weights: every tensor in GGUF naming and layout, as Float32.
    public init(configuration c: LlamaModel.Configuration, weights: [String: [Float]], options: Options) throws {
        for target in options.targets where Self.ggufName[target] == nil {
            throw RecError(.usage, "unknown LoRA target '\(target)'; valid: \(Options.projections.joined(separator: ", "))")
        }
        guard options.rank >= 1 else { throw RecError(.usage, "LoRA rank must be at least 1") }
        guard c.architecture == .llama, c.queryDim == c.hidden else {
            throw RecError(.usage, "LoRA training runs llama-architecture models whose heads span the hidden size; this one is \(c.architecture.rawValue)")
        }
        if let bias = weights.keys.sorted().first(where: { $0.hasSuffix(".bias") }) {
            throw RecError(.usage, "LoRA training runs models without biases; this one has '\(bias)'")
        }
        configuration = c
        self.options = options
        let (h, kv, f) = (c.hidden, c.kvDim, c.feedForward)
        var shapes: [String: [Int]] = ["token_embd.weight": [c.vocabulary, h], "output_norm.weight": [h]]
        if weights["output.weight"] != nil { shapes["output.weight"] = [c.vocabulary, h] }
        for i in 0..<c.layers {
            let p = "blk.\(i)."
            shapes[p + "attn_norm.weight"] = [h]
            shapes[p + "ffn_norm.weight"] = [h]
            shapes[p + "attn_q.weight"] = [h, h]
            shapes[p + "attn_k.weight"] = [kv, h]
            shapes[p + "attn_v.weight"] = [kv, h]
            shapes[p + "attn_output.weight"] = [h, h]
            shapes[p + "ffn_gate.weight"] = [f, h]
            shapes[p + "ffn_up.weight"] = [f, h]
            shapes[p + "ffn_down.weight"] = [h, f]
        }
        var base: [String: Tensor] = [:]
        for (name, shape) in shapes {
            guard let values = weights[name], values.count == shape.reduce(1, *) else {
                throw RecError(.data, "LoRA base model: tensor '\(name)' is missing or not of shape \(shape)")
            }
            base[name] = Tensor(shape: shape, data: values)
        }
        self.base = base
        var rng = SplitMix64(seed: options.seed).derived("lora")
        var adapters: [String: (a: Tensor, b: Tensor)] = [:]
        for i in 0..<c.layers {
            for target in options.targets {
                let shape = shapes["blk.\(i).\(Self.ggufName[target]!).weight"]!
                let a = Initializer.normal([options.rank, shape[1]], std: 1 / Float(shape[1]).squareRoot(), rng: &rng)
                adapters["blk.\(i).\(target)"] = (a, Tensor.zeros([shape[0], options.rank], requiresGrad: true))
            }
        }
        self.adapters = adapters
        (ropeCos, ropeSin) = LlamaModel.rotaryTables(c, base: c.ropeBase, scale: c.ropeFrequencyScale, factors: weights["rope_freqs.weight"])
    }

    /// The base weights of a GGUF model, dequantised.
    public convenience init(model: LlamaModel, options: Options) throws {
        var weights: [String: [Float]] = [:]
        for name in model.file.tensors.keys { weights[name] = try model.file.floats(name) }
        try self.init(configuration: model.configuration, weights: weights, options: options)
    }

    /// Adapter tensors in a stable order (for the optimiser and checkpoints).
    public var parameters: [Tensor] {
        adapters.keys.sorted().flatMap { [adapters[$0]!.a, adapters[$0]!.b] }
    }

    /// `x Wᵀ` plus the adapter's `scale · (x Aᵀ) Bᵀ` where there is one.
    func project(_ x: Tensor, layer: Int, _ projection: String) -> Tensor {
        let y = x.matmul(base["blk.\(layer).\(Self.ggufName[projection]!).weight"]!, transposeB: true)
        guard let adapter = adapters["blk.\(layer).\(projection)"] else { return y }
        return y + x.matmul(adapter.a, transposeB: true).matmul(adapter.b, transposeB: true) * (options.alpha / Float(options.rank))
    }

    /// Logits `[rows.count, vocabulary]` at the chosen positions of one sequence of `tokens`
    /// (positions 0...), recording the graph for `backward()`.
    public func logits(_ tokens: [Int32], rows: [Int]) -> Tensor {
        let head = base["output.weight"] ?? base["token_embd.weight"]!
        return hiddenStates(tokens, rows: rows).matmul(head, transposeB: true)
    }

    /// The last layer's states `[rows.count, hidden]` at the chosen positions, after the output
    /// norm (what the output head reads), recording the graph for `backward()`.
    public func hiddenStates(_ tokens: [Int32], rows: [Int]) -> Tensor {
        let c = configuration
        let t = tokens.count, positions = Array(0..<t)
        var x = base["token_embd.weight"]!.gather(rows: tokens).reshaped([1, t, c.hidden])
        for layer in 0..<c.layers {
            let p = "blk.\(layer)."
            let normed = x.rmsNorm(gamma: base[p + "attn_norm.weight"]!, eps: c.normEps)
            let q = project(normed, layer: layer, "q").rotary(cos: ropeCos, sin: ropeSin, positions: positions, headDim: c.headDim)
            let k = project(normed, layer: layer, "k").rotary(cos: ropeCos, sin: ropeSin, positions: positions, headDim: c.headDim)
            let v = project(normed, layer: layer, "v")
            let groups = c.heads / c.kvHeads
            var rng = SplitMix64(seed: 0)
            let attended = Tensor.attention(
                q: q, k: k.repeatingHeads(groups, headDim: c.headDim), v: v.repeatingHeads(groups, headDim: c.headDim),
                heads: c.heads, causal: true, rng: &rng)
            x = x + project(attended, layer: layer, "o")
            let normed2 = x.rmsNorm(gamma: base[p + "ffn_norm.weight"]!, eps: c.normEps)
            let gated = project(normed2, layer: layer, "gate").silu() * project(normed2, layer: layer, "up")
            x = x + project(gated, layer: layer, "down")
        }
        let chosen = x.reshaped([t, c.hidden]).gather(rows: rows.map { Int32($0) })
        return chosen.rmsNorm(gamma: base["output_norm.weight"]!, eps: c.normEps)
    }

    /// Mean cross-entropy of `answer` after `prompt`: the supervised fine-tuning loss, the
    /// prompt's own tokens unscored.
    public func loss(prompt: [Int32], answer: [Int32]) -> Tensor {
        precondition(!prompt.isEmpty && !answer.isEmpty, "a training example needs a prompt and an answer")
        let tokens = prompt + answer
        // The logits at position i predict token i + 1.
        let rows = Array((prompt.count - 1)..<(tokens.count - 1))
        return Loss.crossEntropy(logits(Array(tokens.dropLast()), rows: rows), targets: answer)
    }

    /// The adapters as safetensors tensors: `blk.{i}.{projection}.lora_a` / `.lora_b`.
    public func adapterTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, adapter) in adapters {
            out[name + ".lora_a"] = adapter.a
            out[name + ".lora_b"] = adapter.b
        }
        return out
    }
}

extension LoRAModel {
    /// Writes the adapters as a safetensors file, with rank, alpha and targets in its metadata.
    public func saveAdapter(to path: String, baseModel: String) throws {
        try Safetensors.save(
            adapterTensors(), to: path,
            metadata: [
                "format": "reclab-lora", "rank": String(options.rank), "alpha": String(options.alpha),
                "targets": options.targets.joined(separator: ","), "base_model": baseModel,
            ])
    }
}

/// A LoRA adapter as the inference engine applies it: for each adapted projection, the low-rank
/// update added to the output after the base product, `out += (alpha/rank) · (x Aᵀ) Bᵀ`, in
/// Float32 (as llama.cpp applies adapters at run time rather than merging them).
struct LoRADeltas {
    struct Delta {
        var a: [Float], b: [Float]
        var rank: Int, inputs: Int, outputs: Int
        /// First output column of the adapted projection within its (stacked) projection.
        var offset: Int
        var scale: Float
    }

    /// By layer, then by the engine's stacked projection: qkv, output, gateUp, down.
    var layers: [[String: [Delta]]]
    /// SHA-256 of the adapter file: part of the model's identity in the call cache.
    var fingerprint: String

    init(path: String, configuration c: LlamaModel.Configuration) throws {
        let file = try SafetensorsFile(path: path)
        guard file.metadata["format"] == "reclab-lora", let rank = file.metadata["rank"].flatMap(Int.init), rank > 0,
            let alpha = file.metadata["alpha"].flatMap(Float.init), let targets = file.metadata["targets"]?.split(separator: ",").map(String.init)
        else { throw RecError(.data, "\(path): not a RecLab LoRA adapter (metadata format, rank, alpha and targets expected)") }
        let (h, kv, f) = (c.hidden, c.kvDim, c.feedForward)
        // Where each projection sits: stacked group, column offset, outputs, inputs.
        let places: [String: (String, Int, Int, Int)] = [
            "q": ("qkv", 0, h, h), "k": ("qkv", h, kv, h), "v": ("qkv", h + kv, kv, h), "o": ("output", 0, h, h),
            "gate": ("gateUp", 0, f, h), "up": ("gateUp", f, f, h), "down": ("down", 0, h, f),
        ]
        var layers = [[String: [Delta]]](repeating: [:], count: c.layers)
        for layer in 0..<c.layers {
            for target in targets {
                guard let (group, offset, outputs, inputs) = places[target] else {
                    throw RecError(.data, "\(path): unknown adapter target '\(target)'")
                }
                let name = "blk.\(layer).\(target)"
                let a = try file.tensor(name + ".lora_a", shape: [rank, inputs]), b = try file.tensor(name + ".lora_b", shape: [outputs, rank])
                layers[layer][group, default: []].append(
                    Delta(a: a.data, b: b.data, rank: rank, inputs: inputs, outputs: outputs, offset: offset, scale: alpha / Float(rank)))
            }
        }
        self.layers = layers
        var hasher = SHA256()
        hasher.update([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        fingerprint = hasher.finalize().hexString
    }

    /// Adds the deltas of `group` in `layer` to `out` (rows of `stride` values) for `rows`
    /// rows of `x` (`inputs` values each).
    func apply(layer: Int, _ group: String, _ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, stride: Int) {
        guard let deltas = layers[layer][group] else { return }
        for delta in deltas {
            var low = [Float](repeating: 0, count: rows * delta.rank)
            delta.a.withUnsafeBufferPointer { a in
                low.withUnsafeMutableBufferPointer { l in
                    gemm(x, a.baseAddress!, l.baseAddress!, m: rows, n: delta.rank, k: delta.inputs, transposeB: true)
                }
            }
            for i in low.indices { low[i] *= delta.scale }
            delta.b.withUnsafeBufferPointer { b in
                low.withUnsafeBufferPointer { l in
                    gemm(l.baseAddress!, b.baseAddress!, out + delta.offset, m: rows, n: delta.outputs, k: delta.rank, transposeB: true, beta: 1, ldc: stride)
                }
            }
        }
    }
}

extension LoRAModel {
    /// One supervised example: the prompt's tokens (unscored) and the answer's.
    public struct Example: Sendable, Equatable {
        public var prompt: [Int32], answer: [Int32]

        public init(prompt: [Int32], answer: [Int32]) {
            self.prompt = prompt
            self.answer = answer
        }
    }

    /// What `train` reports as it goes.
    public struct Progress: Sendable {
        public var epoch: Int, examplesDone: Int, examples: Int
        /// Mean loss over the examples since the last report.
        public var loss: Double
        /// Tokens (prompt and answer) processed per second since the last report.
        public var tokensPerSecond: Double
    }

    /// Adam over the adapters, one example at a time with the gradient of `batch` examples
    /// accumulated per step (their mean), clipped to norm 1, the order reshuffled each epoch
    /// from `seed`. `report` is called every `reportEvery` examples and at each epoch's end.
    /// - Returns: the mean loss of each epoch.
    @discardableResult
    public func train(
        _ examples: [Example], epochs: Int, learningRate: Float, batch: Int = 8, seed: UInt64,
        reportEvery: Int = 25, report: (Progress) -> Void = { _ in }
    ) -> [Double] {
        let adam = Adam(parameters: parameters, learningRate: learningRate)
        var rng = SplitMix64(seed: seed).derived("lora.train")
        var means: [Double] = []
        for epoch in 1...max(1, epochs) {
            var order = Array(examples.indices)
            order.shuffle(using: &rng)
            var epochLoss = 0.0, windowLoss = 0.0, windowCount = 0, windowTokens = 0
            var windowStart = Date()
            adam.zeroGrad()
            for (done, index) in order.enumerated() {
                let example = examples[index]
                let loss = self.loss(prompt: example.prompt, answer: example.answer) * (1 / Float(batch))
                loss.backward()
                let value = Double(loss.data[0]) * Double(batch)
                epochLoss += value
                windowLoss += value
                windowCount += 1
                windowTokens += example.prompt.count + example.answer.count
                if (done + 1) % batch == 0 || done + 1 == order.count {
                    _ = clipGradientNorm(parameters, maxNorm: 1)
                    adam.update()
                    adam.zeroGrad()
                }
                if (done + 1) % reportEvery == 0 || done + 1 == order.count {
                    let seconds = max(1e-9, Date().timeIntervalSince(windowStart))
                    report(
                        Progress(
                            epoch: epoch, examplesDone: done + 1, examples: order.count, loss: windowLoss / Double(windowCount),
                            tokensPerSecond: Double(windowTokens) / seconds))
                    windowLoss = 0
                    windowCount = 0
                    windowTokens = 0
                    windowStart = Date()
                }
            }
            means.append(epochLoss / Double(max(1, order.count)))
        }
        return means
    }
}
