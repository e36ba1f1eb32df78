import Foundation
import RecCore
import RecTensor

/// How to pick tokens: temperature 0 is greedy; otherwise top-k, then top-p (nucleus), then a
/// draw from the seeded generator.
public struct SamplingParameters: Codable, Sendable, Hashable {
    public var maxTokens: Int
    public var temperature: Double
    public var topK: Int
    public var topP: Double
    public var seed: UInt64
    /// Generation stops before the first occurrence of any of these strings.
    public var stop: [String]

    public init(maxTokens: Int = 128, temperature: Double = 0, topK: Int = 0, topP: Double = 1, seed: UInt64 = 0, stop: [String] = []) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
        self.stop = stop
    }

    /// The parameters, after checking that every one is in its range; the error names the
    /// parameter as the command line and the server spell it.
    public func validated() throws -> SamplingParameters {
        func fail(_ message: String) -> RecError { RecError(.usage, message) }
        guard (0...1_000_000).contains(maxTokens) else { throw fail("max_tokens must be between 0 and 1000000, got \(maxTokens)") }
        guard temperature.isFinite, temperature >= 0 else { throw fail("temperature must be a finite number >= 0, got \(temperature)") }
        guard topK >= 0 else { throw fail("top_k must be >= 0 (0 keeps every token), got \(topK)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw fail("top_p must be in (0, 1], got \(topP)") }
        guard !stop.contains(where: \.isEmpty) else { throw fail("a stop string must not be empty") }
        return self
    }
}

/// A generated continuation: its text, tokens, each token's log-probability under the model
/// (before temperature) and why it ended.
public struct Generation: Codable, Sendable, Equatable {
    public enum Finish: String, Codable, Sendable { case endOfText = "eos", stop, length }
    public var text: String
    public var tokens: [Int32]
    public var logprobs: [Double]
    public var finish: Finish
    /// Tokens in the prompt, when the backend reports them.
    public var promptTokens: Int?

    public init(text: String, tokens: [Int32], logprobs: [Double], finish: Finish, promptTokens: Int? = nil) {
        self.text = text
        self.tokens = tokens
        self.logprobs = logprobs
        self.finish = finish
        self.promptTokens = promptTokens
    }
}

/// The log-probability of one continuation after a prompt, token by token.
public struct ContinuationScore: Codable, Sendable, Equatable {
    public var tokens: [Int32]
    public var logprobs: [Double]
    /// The prompt's length in tokens, where the backend reports it (the local engine does).
    public var promptTokens: Int?
    public var total: Double { logprobs.reduce(0, +) }

    public init(tokens: [Int32], logprobs: [Double], promptTokens: Int? = nil) {
        self.tokens = tokens
        self.logprobs = logprobs
        self.promptTokens = promptTokens
    }
}

/// log-softmax of `logits` at `index`.
func logProbability(_ logits: UnsafePointer<Float>, count: Int, index: Int) -> Double {
    Double(logits[index]) - Double(logSumExp(logits, count))
}

extension LlamaModel {
    /// Continues `prompt` (token ids) under `parameters`: a batch of one.
    public func generate(prompt: [Int32], parameters: SamplingParameters) throws -> Generation {
        var outcome: Result<Generation, any Error>?
        try generate(prompts: [prompt], parameters: [parameters]) { outcome = $1 }
        return try outcome!.get()
    }

    /// `logits`, or an error when the weights produced NaN or infinity (a damaged model file).
    func checkedFinite(_ logits: [Float]) throws -> [Float] {
        guard logits.allSatisfy(\.isFinite) else {
            throw ModelFiles.corrupt(RecError(.data, "\(file.path): the model computed non-finite logits"))
        }
        return logits
    }

    /// The index drawn from `logits` under `parameters` (the largest when temperature is 0).
    func sample(_ logits: [Float], _ parameters: SamplingParameters, rng: inout SplitMix64) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        guard parameters.temperature > 0 else { return best }
        var candidates = logits.indices.sorted { logits[$0] > logits[$1] }
        if parameters.topK > 0 { candidates = Array(candidates.prefix(parameters.topK)) }
        let top = Double(logits[candidates[0]])
        var weights = candidates.map { Foundation.exp((Double(logits[$0]) - top) / parameters.temperature) }
        let sum = weights.reduce(0, +)
        weights = weights.map { $0 / sum }
        if parameters.topP < 1 {
            var kept = 0, mass = 0.0
            while kept < weights.count && mass < parameters.topP { mass += weights[kept]; kept += 1 }
            kept = max(kept, 1)
            candidates = Array(candidates.prefix(kept))
            weights = Array(weights.prefix(kept)).map { $0 / mass }
        }
        var draw = Double(rng.nextFloat())
        for (candidate, weight) in zip(candidates, weights) {
            draw -= weight
            if draw < 0 { return candidate }
        }
        return candidates.last!
    }

    /// Log-probabilities of each continuation after `prompt`: the prompt runs once, then every
    /// continuation in one batched pass over its cached keys and values.
    public func score(prompt: [Int32], continuations: [[Int32]]) throws -> [ContinuationScore] {
        var outcome: Result<[ContinuationScore], any Error>?
        try score(requests: [(prompt, continuations)]) { outcome = $1 }
        return try outcome!.get()
    }
}
