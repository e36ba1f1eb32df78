import Foundation
import RecCore
import RecLM
import RecSpec
import RecTesting
import Testing

@testable import RatingLM

/// A stand-in model that reads the candidate's number in the last user message ("Item N") and
/// favours 5 stars for every third item and 4 for the rest; each answer's log-probability is
/// split over `tokens` tokens, as a tokenizer that splits digits would.
final class ItemRater: LanguageModel, @unchecked Sendable {
    let backend = "test", model = "item-rater"
    let tokens: Int
    private let lock = NSLock()
    private var asked: [Prompt] = []

    init(tokens: Int = 1) { self.tokens = tokens }

    var prompts: [Prompt] { lock.withLock { asked } }

    func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        Generation(text: "", tokens: [], logprobs: [], finish: .endOfText)
    }

    func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        lock.withLock { asked.append(prompt) }
        guard case .chat(let messages) = prompt, let question = messages.last?.content,
            let range = question.range(of: "give to: "),
            let item = Int(question[range.upperBound...].drop { !$0.isNumber }.prefix { $0.isNumber })
        else { return continuations.map { _ in ContinuationScore(tokens: [0], logprobs: [-1]) } }
        let favourite = item % 3 == 0 ? "5" : "4"
        return continuations.map { answer in
            let total = answer == favourite ? -0.1 : -4.0
            return ContinuationScore(tokens: [Int32](repeating: 1, count: tokens), logprobs: [Double](repeating: total / Double(tokens), count: tokens))
        }
    }
}

@Suite struct LLMRatingTests {
    static func scorer(_ model: any LanguageModel, output: LLMRating.Configuration.Output = .regression, shots: Int = 0, history: Int = 10, seed: UInt64 = 1) -> LLMRating {
        var configuration = LLMRating.Configuration()
        configuration.output = output
        configuration.shots = shots
        configuration.history = history
        return LLMRating(configuration: configuration, model: model, seed: seed)
    }

    @Test func passesTheScorerConformanceSuite() throws {
        try Conformance.scorer(LLMRating.self) { seed in Self.scorer(ItemRater(), seed: seed) }
        try Conformance.scorer(LLMRating.self) { seed in Self.scorer(ItemRater(), output: .classification, shots: 2, seed: seed) }
    }

    @Test func expectationAndArgmaxOverTheFiveAnswers() {
        let p = RatingPrompt.probabilities([log(0.1), log(0.2), log(0.3), log(0.3), log(0.1)])
        #expect(abs(p.reduce(0, +) - 1) < 1e-12)
        #expect(abs(RatingPrompt.prediction(p, expected: true) - 3.1) < 1e-5)
        // A tie goes to the lower rating.
        #expect(RatingPrompt.prediction(p, expected: false) == 3)
        // Answers the model cannot produce (log-probability -inf) get no weight.
        let q = RatingPrompt.probabilities([-.infinity, -.infinity, -.infinity, 0, -.infinity])
        #expect(q == [0, 0, 0, 1, 0])
        #expect(RatingPrompt.probabilities([-.infinity, -.infinity, -.infinity, -.infinity, -.infinity]) == [0.2, 0.2, 0.2, 0.2, 0.2])
    }

    /// The prompt lists the last `history` ratings before the pair, oldest first, with stars,
    /// and every answer is scored as a whole, however many tokens it takes.
    @Test func promptsFromTheRatedHistoryBeforeThePair() throws {
        let items = [ItemText(title: "Matrix, The", genres: ["Action", "Sci-Fi"], year: 1999), ItemText(title: "Heat", genres: ["Crime"]), ItemText()]
        let events = [
            Interaction(user: 0, item: 0, rating: 5, time: 1), Interaction(user: 0, item: 1, rating: 2, time: 2), Interaction(user: 0, item: 2, rating: 4, time: 3),
            Interaction(user: 1, item: 1, rating: 3, time: 1), Interaction(user: 1, item: 2, rating: 1, time: 2),
        ]
        let data = TrainingSet(userCount: 2, itemCount: 3, interactions: events, history: [[0, 1, 2], [1, 2]], itemText: items, hasRatings: true)
        for tokens in [1, 3] {
            let model = ItemRater(tokens: tokens)
            var scorer = Self.scorer(model, history: 2)
            try scorer.fit(data, context: TrainingContext(seed: 1))
            let timeline = Timeline(userCount: 2, events)
            let predicted = try scorer.predict([events[2]], timeline: timeline)
            guard case .chat(let messages) = model.prompts.last else { Issue.record("no chat prompt"); return }
            #expect(messages.count == 1)
            let text = messages[0].content
            #expect(text.contains("- The Matrix (1999), genres: Action, Sci-Fi: 5 stars\n- Heat, genres: Crime: 2 stars\n"), "\(text)")
            #expect(text.contains("give to: item 2?"), "\(text)")
            // Item 2 is not a third item: "4" is favoured by e^3.9 over each other answer.
            let other = exp(-3.9)
            let expected = (4 + (1 + 2 + 3 + 5) * other) / (1 + 4 * other)
            #expect(abs(Double(predicted[0]) - expected) < 1e-4, "\(tokens) tokens: \(predicted)")
        }
    }

    /// Few-shot examples are earlier chat turns, drawn once per seed from training users.
    @Test func solvedExamplesComeFirstAndDependOnTheSeed() throws {
        let dataset = Fixtures.labelledDataset(users: 40)
        let split = try dataset.split(.leaveOneOut, ratios: [], seed: 1)
        var prompts: [[ChatMessage]] = []
        for seed: UInt64 in [1, 1, 2] {
            let model = ItemRater()
            var scorer = Self.scorer(model, shots: 3, history: 4, seed: seed)
            try scorer.fit(split.trainingSet, context: TrainingContext(seed: seed))
            _ = try scorer.predict(users: [0], items: [3], history: split.trainHistory)
            guard case .chat(let messages) = model.prompts.last else { Issue.record("no chat prompt"); return }
            #expect(messages.map(\.role) == ["user", "assistant", "user", "assistant", "user", "assistant", "user"])
            #expect(messages.enumerated().allSatisfy { $0.offset % 2 == 0 || ["1", "2", "3", "4", "5"].contains($0.element.content) })
            prompts.append(messages)
        }
        #expect(prompts[0] == prompts[1])
        #expect(prompts[0] != prompts[2])
    }

    @Test func ratingsOffTheFiveStarScaleAreRefused() throws {
        let items = [ItemText(title: "Heat"), ItemText(title: "Up")]
        let events = [Interaction(user: 0, item: 0, rating: 7, time: 1), Interaction(user: 0, item: 1, rating: 4, time: 2)]
        var scorer = Self.scorer(ItemRater())
        let data = TrainingSet(userCount: 1, itemCount: 2, interactions: events, history: [[0, 1]], itemText: items, hasRatings: true)
        #expect {
            try scorer.fit(data, context: TrainingContext(seed: 1))
        } throws: { error in
            "\(error)".contains("llm_rating reads ratings on the 1 to 5 star scale; user 0 rated Heat 7.0")
        }
        let tooMany = Self.scorer(ItemRater(), shots: 2)
        var copy = tooMany
        let one = TrainingSet(userCount: 1, itemCount: 2, interactions: [events[1]], history: [[1]], itemText: items, hasRatings: true)
        #expect(throws: RecError.self) { try copy.fit(one, context: TrainingContext(seed: 1)) }
    }

    @Test func configurationErrorsNameTheKey() throws {
        for (yaml, word) in [
            ("{ output: stars }", "unknown value 'stars'; valid: regression, classification"), ("{ shots: -1 }", "shots"), ("{ history: 0 }", "history"),
        ] {
            do {
                _ = try NodeDecoder().decode(LLMRating.Configuration.self, from: try YAMLParser.parse(yaml, file: "rating.yaml"), path: [])
                Issue.record("\(yaml) was accepted")
            } catch {
                #expect("\(error)".contains(word) && "\(error)".contains("rating.yaml:1:"), "\(yaml): \(error)")
            }
        }
    }
}
