import Foundation
import RecCore
import RecLM
import RecSpec
import RecTesting
import Testing

@testable import RatingLM

let smolLMRequired = Fixtures.modelRequired("SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")

/// The fine-tuned rating model on SmolLM2: films named "Great …" are rated 5 and "Awful …" 1 by
/// every user, which the base model cannot know; after a short LoRA and head training, unseen
/// great films score well above unseen awful ones, and the checkpoint restores the same model.
@Suite(.serialized) struct TunedLLMRatingTests {
    static func data() -> (TrainingSet, [Interaction]) {
        let items = (0..<24).map { ItemText(title: ($0 % 2 == 0 ? "Great film " : "Awful film ") + String($0), genres: ["Drama"]) }
        var events: [Interaction] = []
        var time: Int64 = 0
        for user in 0..<8 {
            for item in (0..<16).filter({ ($0 + user) % 3 != 0 }) {
                time += 1
                let rating: Float = item % 2 == 0 ? 5 : 1
                events.append(Interaction(user: Int32(user), item: Int32(item), rating: rating, time: time))
            }
        }
        let history = (0..<8).map { user in events.filter { $0.user == Int32(user) }.map(\.item) }
        let test = (16..<24).map { (item: Int) -> Interaction in
            let rating: Float = item % 2 == 0 ? 5 : 1
            return Interaction(user: Int32(item % 8), item: Int32(item), rating: rating, time: 1_000 + Int64(item))
        }
        return (TrainingSet(userCount: 8, itemCount: 24, interactions: events, history: history, itemText: items, hasRatings: true), test)
    }

    @Test(.enabled(if: smolLMRequired)) func learnsWhatTheTitlesSayAndRestores() throws {
        let (training, test) = Self.data()
        var configuration = TunedLLMRating.Configuration()
        configuration.examples = 16
        configuration.epochs = 2
        configuration.batch = 2
        configuration.learningRate = 2e-3
        configuration.history = 1
        configuration.lm.numerics = "fast"
        var scorer = try TunedLLMRating(configuration: configuration, context: ComponentContext(seed: 1))
        let log = EventLog()
        try scorer.fit(training, context: log.context(seed: 1))
        #expect(log.losses.count == 2 && log.losses[1] < log.losses[0], "\(log.losses)")
        let timeline = Timeline(userCount: 8, training.interactions + test)
        let predicted = try scorer.predict(test, timeline: timeline)
        let great = zip(predicted, test).filter { $0.1.rating == 5 }.map(\.0), awful = zip(predicted, test).filter { $0.1.rating == 1 }.map(\.0)
        let gap = great.reduce(0, +) / Float(great.count) - awful.reduce(0, +) / Float(awful.count)
        #expect(gap > 1, "unseen great films \(great) against awful ones \(awful)")
        #expect(predicted.allSatisfy { (1...5).contains($0) })

        var restored = try TunedLLMRating(configuration: configuration, context: ComponentContext(seed: 1))
        try restored.restore(from: try scorer.checkpoint())
        // The same model: equal up to the BLAS's summation order, which other tests running at
        // the same time can change by switching its thread count.
        let again = try restored.predict(test, timeline: timeline)
        #expect(zip(again, predicted).allSatisfy { abs($0 - $1) < 1e-4 }, "\(again) against \(predicted)")
        var other = configuration
        other.rank = 4
        var mismatched = try TunedLLMRating(configuration: other, context: ComponentContext(seed: 1))
        #expect(throws: RecError.self) { try mismatched.restore(from: try scorer.checkpoint()) }
    }

    /// The head starts at zero, so a model that has barely trained predicts the training mean
    /// for every pair, whatever the local model's hidden states look like (a randomly drawn
    /// head on them puts every first prediction far from the ratings' scale, clipped to 1 or 5).
    @Test(.enabled(if: smolLMRequired)) func anUntrainedHeadPredictsTheTrainingMean() throws {
        let (training, test) = Self.data()
        var configuration = TunedLLMRating.Configuration()
        configuration.examples = 1
        configuration.learningRate = 1e-8
        configuration.history = 1
        configuration.lm.numerics = "fast"
        var scorer = try TunedLLMRating(configuration: configuration, context: ComponentContext(seed: 1))
        try scorer.fit(training, context: EventLog().context(seed: 1))
        let mean = training.interactions.meanRating
        let predicted = try scorer.predict(test, timeline: Timeline(userCount: 8, training.interactions + test))
        #expect(predicted.allSatisfy { abs($0 - mean) < 0.01 }, "\(predicted) against the training mean \(mean)")
    }

    @Test func configurationErrorsNameTheKey() throws {
        for (yaml, word) in [("{ targets: [q, x] }", "unknown LoRA target 'x'"), ("{ output: stars }", "unknown value 'stars'"), ("{ batch: 0 }", "batch")] {
            do {
                _ = try NodeDecoder().decode(TunedLLMRating.Configuration.self, from: try YAMLParser.parse(yaml, file: "tuned.yaml"), path: [])
                Issue.record("\(yaml) was accepted")
            } catch {
                #expect("\(error)".contains(word) && "\(error)".contains("tuned.yaml:1:"), "\(yaml): \(error)")
            }
        }
    }
}
