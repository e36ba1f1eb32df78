import Foundation
import RecCore
import RecLM

/// Zero- and few-shot rating prediction with a language model (Kang et al., 2023): the prompt
/// lists the user's last ratings before the pair (title, genres, stars) and asks for the
/// candidate's stars; the five answers "1" to "5" are scored after it in one call per pair.
///
/// - `output: regression`: the expected rating under the model's probabilities of the five
///   answers, normalised over them.
/// - `output: classification`: the most probable answer.
/// - `shots: k` puts k solved examples from other users before the question, as earlier turns
///   of the chat: each is one training user's last rating with the ratings before it. The
///   examples are drawn once per seed, so every pair shares them.
///
/// Ratings must be on the 1 to 5 star scale; a history rating outside it stops the run with the
/// user, item and value. A pair sees the `history` interactions before it in time
/// (`ReadsBehaviour`), whatever part of the split they are in; called without a timeline it
/// sees the user's last training ratings.
///
/// ```yaml
/// scorer: { type: llm_rating, output: regression, shots: 3, history: 10, lm: { model: SmolLM2-135M-Instruct } }
/// ```
public struct LLMRating: Scorer, Trainable, ReadsBehaviour, Diagnosing {
    public struct Configuration: Codable, Sendable, Equatable {
        public enum Output: String, Codable, Sendable, CaseIterable { case regression, classification }
        public var lm = LanguageModelSpec()
        public var output = Output.regression
        public var shots = 0
        public var history = 10

        enum CodingKeys: String, CodingKey, CaseIterable { case lm, output, shots, history }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lm = try c.decode(.lm, default: LanguageModelSpec())
            output = try c.decode(.output, default: Output.regression)
            shots = try c.decode(.shots, default: 0, in: 0...20)
            history = try c.decode(.history, default: 10, in: 1...100)
        }
    }

    public static let kind = "llm_rating"
    public static let summary = "a language model's rating from the five answers' probabilities after the user's rated history (Kang et al. 2023)"
    public let configuration: Configuration
    public var predicts: PredictionKind { .rating }
    public var behaviourLength: Int { configuration.history }
    let model: LazyLanguageModel
    let seed: UInt64
    let tally = Tally()
    /// Where long scoring batches report how far they are (nil outside a run).
    let progress: ProgressReporter?
    private var prompt = RatingPrompt(items: [])
    private var solved: [RatingPrompt.Example] = []
    /// Each user's training ratings in time order, for pairs scored without a timeline.
    private var trained: [[RatingPrompt.Rated]] = []

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
        progress = context.progress
        model = LazyLanguageModel(configuration.lm, cache: context.languageModelCache)
    }

    /// A scorer over a given model (tests, and callers that already hold one).
    public init(configuration: Configuration, model: any LanguageModel, seed: UInt64 = 1) {
        self.configuration = configuration
        self.seed = seed
        self.model = LazyLanguageModel(configuration.lm, cache: nil, preset: model)
        progress = nil
    }

    /// Nothing is learnt: keeps the item texts and each user's training ratings, and draws the
    /// solved examples.
    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        prompt = RatingPrompt(items: data.itemText)
        let timeline = Timeline(userCount: data.userCount, data.historyOnly + data.interactions)
        trained = try timeline.events.map { events in try events.map { try Self.rated($0, prompt: prompt) } }
        var rng = SplitMix64(seed: seed).derived("llm_rating shots")
        var candidates = trained.indices.filter { trained[$0].count >= 2 }
        solved = []
        while solved.count < configuration.shots && !candidates.isEmpty {
            let user = candidates.remove(at: rng.nextInt(below: candidates.count))
            let events = trained[user]
            solved.append(
                RatingPrompt.Example(
                    history: Array(events.dropLast().suffix(configuration.history)), item: events.last!.item, rating: Int(events.last!.rating.rounded())))
        }
        if solved.count < configuration.shots {
            throw RecError(.plugin, "llm_rating: shots \(configuration.shots) asks for more solved examples than the \(solved.count) training users with two or more ratings")
        }
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        let histories = users.map { user in user >= 0 && Int(user) < trained.count ? Array(trained[Int(user)].suffix(configuration.history)) : [] }
        return try predict(histories: histories, users: users, items: items)
    }

    public func predict(_ pairs: [Interaction], timeline: Timeline) throws -> [Float] {
        let histories = try pairs.map { pair in try timeline.before(pair, limit: configuration.history).map { try Self.rated($0, prompt: prompt) } }
        return try predict(histories: histories, users: pairs.map(\.user), items: pairs.map(\.item))
    }

    /// One scoring call per pair: the conversation, then the five answers.
    func predict(histories: [[RatingPrompt.Rated]], users: [Int32], items: [Int32]) throws -> [Float] {
        guard !items.isEmpty else { return [] }
        let conversations = zip(histories, items).map { history, item in
            prompt.conversation(examples: solved, history: history, candidate: item).map { ChatMessage(role: $0.role, content: $0.content) }
        }
        let started = Date()
        let scores = try model.get().scoreAll(conversations.map { ScoringRequest(.chat($0), continuations: RatingPrompt.answers) }) { [progress] done in
            progress?.milestone("  llm_rating: pairs scored", done: done, total: items.count, started: started)
        }
        tally.count("pairs_scored", items.count)
        tally.count("history_ratings_shown", histories.reduce(0) { $0 + $1.count })
        return zip(scores, conversations).enumerated().map { index, pair in
            let probabilities = RatingPrompt.probabilities(pair.0.map(\.total))
            let value = RatingPrompt.prediction(probabilities, expected: configuration.output == .regression)
            tally.example(
                "Prompt (user \(users[index])):\n\(pair.1.map { "[\($0.role)] \($0.content)" }.joined(separator: "\n"))\n\nP(1…5 stars): "
                    + probabilities.map { String(format: "%.3f", $0) }.joined(separator: ", ") + String(format: "; predicted %.2f", value))
            return value
        }
    }

    /// An interaction as a shown rating, or a clear error when it is not on the 1 to 5 scale.
    static func rated(_ event: Interaction, prompt: RatingPrompt) throws -> RatingPrompt.Rated {
        guard event.rating >= 1 && event.rating <= 5 && event.rating.isFinite else {
            throw RecError(.data, "llm_rating reads ratings on the 1 to 5 star scale; user \(event.user) rated \(prompt.describe(event.item)) \(event.rating)")
        }
        return RatingPrompt.Rated(item: event.item, rating: event.rating)
    }

    public func diagnostics() -> [String: Int] { tally.counts }
    public func examples() -> [String] { tally.kept }
    public var countsNote: String? { "pairs_scored: one scoring call per pair (five answers after one shared prompt); history_ratings_shown: ratings listed in those prompts." }
}
