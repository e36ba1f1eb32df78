import Foundation
import RecCore
import RecTensor
import RecTesting
import Testing

@testable import RecLM

@Suite struct LoRATests {
    /// A one-layer model with grouped-query attention and random weights.
    static func tinyModel(options: LoRAModel.Options, extra: [String: [Float]] = [:]) throws -> LoRAModel {
        let c = LlamaModel.Configuration(layers: 1, hidden: 8, heads: 2, kvHeads: 1, feedForward: 12, contextLength: 16, ropeBase: 10_000, normEps: 1e-5, vocabulary: 11)
        var rng = SplitMix64(seed: 3)
        func random(_ count: Int, scale: Float = 0.5) -> [Float] { (0..<count).map { _ in Float(rng.nextGaussian()) * scale } }
        var weights: [String: [Float]] = ["token_embd.weight": random(11 * 8), "output_norm.weight": random(8, scale: 0.1).map { $0 + 1 }]
        weights["blk.0.attn_norm.weight"] = random(8, scale: 0.1).map { $0 + 1 }
        weights["blk.0.ffn_norm.weight"] = random(8, scale: 0.1).map { $0 + 1 }
        for (name, count) in [("attn_q", 64), ("attn_k", 32), ("attn_v", 32), ("attn_output", 64), ("ffn_gate", 96), ("ffn_up", 96), ("ffn_down", 96)] {
            weights["blk.0.\(name).weight"] = random(count)
        }
        return try LoRAModel(configuration: c, weights: weights.merging(extra) { $1 }, options: options)
    }

    @Test func adapterGradientsMatchFiniteDifferences() throws {
        let model = try Self.tinyModel(options: .init(rank: 2, alpha: 4, targets: LoRAModel.Options.projections))
        // B starts at zero (then A has no gradient); give it values.
        var rng = SplitMix64(seed: 9)
        for parameter in model.parameters { for i in parameter.data.indices where parameter.shape[1] == 2 { parameter.data[i] = Float(rng.nextGaussian()) * 0.3 } }
        let prompt: [Int32] = [1, 4, 7, 2, 9], answer: [Int32] = [3, 5, 0]
        model.loss(prompt: prompt, answer: answer).backward()
        func loss() -> Double { Double(Tensor.noGrad { model.loss(prompt: prompt, answer: answer) }.data[0]) }
        var checked = 0
        for parameter in model.parameters {
            let analytic = parameter.grad!
            for i in stride(from: 0, to: parameter.count, by: max(1, parameter.count / 3)) {
                let saved = parameter.data[i]
                func difference(_ h: Float) -> Double {
                    parameter.data[i] = saved + h
                    let plus = loss()
                    parameter.data[i] = saved - h
                    let minus = loss()
                    parameter.data[i] = saved
                    return (plus - minus) / Double(2 * h)
                }
                // Richardson extrapolation of central differences: error O(h⁴).
                let numeric = Float((4 * difference(5e-3) - difference(1e-2)) / 3)
                #expect(abs(numeric - analytic[i]) <= 2e-3 * max(1, abs(numeric)), "\(parameter.shape)[\(i)]: numeric \(numeric), analytic \(analytic[i])")
                checked += 1
            }
        }
        #expect(checked >= 40)
    }

    @Test func unknownTargetIsAnError() {
        #expect(throws: RecError.self) { try Self.tinyModel(options: .init(targets: ["q", "qq"])) }
    }

    /// Training without a model's biases would tune another model than the one that runs.
    @Test func aModelWithBiasesIsRefused() {
        let error = #expect(throws: RecError.self) { try Self.tinyModel(options: .init(), extra: ["blk.0.attn_q.bias": [Float](repeating: 0, count: 8)]) }
        #expect(error?.message.contains("'blk.0.attn_q.bias'") == true)
    }

    /// With B at zero the adapted model is the base model: its logits are the engine's fast
    /// numerics logits; a few Adam steps on one example then lower that example's loss.
    @Test(.enabled(if: smolLMRequired)) func smolLM2LogitsMatchTheEngineAndTrainingLowersTheLoss() throws {
        let engine = try LlamaModel(path: smolLMPath, numerics: .fast)
        let model = try LoRAModel(model: engine, options: .init(rank: 4, alpha: 8, targets: ["q", "v"]))
        let prompt = engine.tokenizer.encode("<|im_start|>user\nName a film about a shark.<|im_end|>\n<|im_start|>assistant\n", parseSpecial: true)
        let answer = engine.tokenizer.encode("Jaws (1975)<|im_end|>", parseSpecial: true)
        let tokens = prompt + answer
        let reference = try engine.session().append(tokens, allLogits: true)
        let mine = Tensor.noGrad { model.logits(tokens, rows: Array(tokens.indices)) }
        var worst: Float = 0
        for i in mine.data.indices { worst = max(worst, abs(mine.data[i] - reference[i])) }
        print("LoRA forward vs engine (fast numerics): max |Δ logit| = \(worst) over \(tokens.count) tokens")
        #expect(worst < 2e-2)

        let adam = Adam(parameters: model.parameters, learningRate: 1e-3)
        var losses: [Float] = []
        for _ in 0..<4 {
            adam.zeroGrad()
            let loss = model.loss(prompt: prompt, answer: answer)
            losses.append(loss.data[0])
            loss.backward()
            adam.update()
        }
        print("LoRA losses over 4 steps on one example: \(losses)")
        #expect(losses.last! < losses.first! - 0.05)

        // The engine applies the saved adapter: same logits as the trained model, in both
        // numerics (exact within its quantisation), and a model name of its own for the cache.
        let path = Fixtures.temporaryDirectory() + "/adapter.safetensors"
        try model.saveAdapter(to: path, baseModel: "SmolLM2-135M-Instruct")
        let trained = Tensor.noGrad { model.logits(tokens, rows: Array(tokens.indices)) }
        // How far exact numerics (8-bit activations) sit from Float32 without any adapter.
        let exactBase = try LlamaModel(path: smolLMPath, numerics: .exact).session().append(tokens, allLogits: true)
        let baseGap = zip(exactBase, reference).map { abs($0 - $1) }.max()!
        for numerics in [LlamaModel.Numerics.fast, .exact] {
            let adapted = try LlamaModel(path: smolLMPath, numerics: numerics, adapter: path)
            let logits = try adapted.session().append(tokens, allLogits: true)
            var gap: Float = 0, moved: Float = 0
            for i in logits.indices {
                gap = max(gap, abs(logits[i] - trained.data[i]))
                moved = max(moved, abs(trained.data[i] - reference[i]))
            }
            print("engine with adapter (\(numerics)) vs trained LoRA model: max |Δ logit| = \(gap); training moved logits by up to \(moved)")
            let bound = numerics == .fast ? 2e-2 : 1.5 * baseGap
            print("  bound \(bound) (exact vs fast without adapter: \(baseGap))")
            #expect(gap < bound)
            #expect(moved > 3 * bound)
            let name = LocalLanguageModel(engine: adapted).model
            #expect(name.contains("[") && name.contains("lora "))
        }
    }
}
