import Foundation
import RecLM

/// A deterministic `LanguageModel` for plugin tests: generation gives the scripted answer,
/// scoring gives each continuation the
/// log-probability it was scripted with (-50 when not listed), spread over one "token" per
/// word so that sums and means differ (an empty continuation has no tokens). It records every
/// prompt it was asked.
public final class ScriptedLanguageModel: LanguageModel, @unchecked Sendable {
    public let backend = "scripted", model = "script"
    public let answer: String
    public let scores: [String: Double]
    private let lock = NSLock()
    private var asked: [Prompt] = []

    public init(answer: String = "", scores: [String: Double] = [:]) {
        self.answer = answer
        self.scores = scores
    }

    /// Every prompt generated from or scored, in call order.
    public var prompts: [Prompt] { lock.withLock { asked } }

    public func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        lock.withLock { asked.append(prompt) }
        return Generation(text: answer, tokens: [], logprobs: [], finish: .endOfText)
    }

    public func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        lock.withLock { asked.append(prompt) }
        return continuations.map { text in
            let words = text.split(separator: " ").count
            return ContinuationScore(tokens: [Int32](repeating: 0, count: words), logprobs: [Double](repeating: (scores[text] ?? -50) / Double(words), count: words))
        }
    }
}
