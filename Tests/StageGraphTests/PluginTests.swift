import Foundation
import RecCore
import RecLM
import RecTesting
import Testing

@testable import LLMText
@testable import TextGraph

/// An item augmenter that numbers items by their place in the batch: broken on purpose.
struct BatchNumberingAugmenter: ItemAugmenter {
    struct Configuration: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey, CaseIterable { case none }
        init() {}
        init(from decoder: any Decoder) throws { _ = try decoder.container(keyedBy: CodingKeys.self) }
        func encode(to encoder: any Encoder) throws { _ = encoder.container(keyedBy: CodingKeys.self) }
    }
    static let kind = "batch-numbering"
    static let summary = "broken on purpose"
    let configuration: Configuration
    init(configuration: Configuration, context: ComponentContext) throws { self.configuration = configuration }
    func augment(items: [ItemText]) throws -> [String] { items.indices.map { "item \($0) of the batch" } }
}

struct TextStagePluginTests {
    @Test func theItemTextAugmenterFillsItsPromptFromEachItemsFields() throws {
        let model = ScriptedLanguageModel(answer: "A toy comes alive. A toy comes alive. It is fun")
        var configuration = try LLMItemText.Configuration(from: EmptyDecoder())
        configuration.prompt = "About {title} ({genres}), {{braces}} and {tags}."
        let augmenter = try LLMItemText(configuration: configuration, model: model)
        let texts = try augmenter.augment(items: [ItemText(title: "Toy Story", genres: ["Animation", "Comedy"]), ItemText(title: "Heat")])
        #expect(texts == ["A toy comes alive.", "A toy comes alive."], "repeated sentences and the unfinished tail are dropped")
        let asked = model.prompts.map { prompt -> String in
            guard case .chat(let messages) = prompt else { return "" }
            return messages.last?.content ?? ""
        }
        #expect(asked == ["About Toy Story (Animation, Comedy), {braces} and unknown.", "About Heat (unknown), {braces} and unknown."])
        #expect(augmenter.diagnostics()["prompts_with_missing_fields"] == 2)
        #expect(augmenter.diagnostics()["texts"] == 2)
    }

    @Test func aPromptWithAnUnclosedBraceIsRefused() throws {
        #expect(throws: RecError.self) { try PromptTemplate("About {title") }
        #expect(throws: RecError.self) { try PromptTemplate("About {}") }
        #expect(try PromptTemplate("plain").render(ItemText()).0 == "plain")
    }

    @Test func theItemGraphLinksEachItemToItsMostSimilarItems() throws {
        // Four items in two directions; item 3 has no text (a zero vector) and so no edges.
        var training = TrainingSet(userCount: 1, itemCount: 4, interactions: [], history: [[]])
        training.itemVectors = [[1, 0], [0.9, 0.1], [0, 1], [0, 0]]
        let graph = try ItemGraphDeriver(configuration: .init(neighbours: 2), context: ComponentContext(seed: 1)).derive(from: training, context: TrainingContext(seed: 1))
        // Orthogonal items (cosine 0) are not linked: only a positive similarity is an edge.
        #expect(graph.neighbours == [[1], [0, 2], [1], []])
        let cosine01 = Float(0.9 / (0.81 + 0.01).squareRoot())
        #expect(abs(graph.weights[0][0] - cosine01) < 1e-6)
        #expect(graph.weights[1].count == 2 && graph.weights[1][0] > graph.weights[1][1], "strongest first")
        #expect(throws: RecError.self, "no vectors is an error naming the encoder slot") {
            try ItemGraphDeriver(configuration: .init(), context: ComponentContext(seed: 1)).derive(
                from: TrainingSet(userCount: 1, itemCount: 4, interactions: [], history: [[]]), context: TrainingContext(seed: 1))
        }
    }

    @Test func graphKNNSumsTheEdgesFromTheUsersHistory() throws {
        var training = TrainingSet(userCount: 2, itemCount: 3, interactions: [], history: [[0, 1], []])
        training.derived.itemGraph = ItemGraph(neighbours: [[1, 2], [2], []], weights: [[0.5, 0.25], [1], []])
        var knn = try GraphKNN(configuration: .init(), context: ComponentContext(seed: 1))
        try knn.fit(training, context: TrainingContext(seed: 1))
        var scores = [Float](repeating: .nan, count: 6)
        try scores.withUnsafeMutableBufferPointer { try knn.score(users: [0, 1], history: training.history, into: $0) }
        #expect(scores == [0, 0.5, 1.25, 0, 0, 0])
        var last = try GraphKNN(configuration: .init(history: 1), context: ComponentContext(seed: 1))
        try last.fit(training, context: TrainingContext(seed: 1))
        try scores.withUnsafeMutableBufferPointer { try last.score(users: [0], history: training.history, into: UnsafeMutableBufferPointer(rebasing: $0[0..<3])) }
        #expect(Array(scores[0..<3]) == [0, 0, 1], "history: 1 lets only the last item vote")
        var missing = try GraphKNN(configuration: .init(), context: ComponentContext(seed: 1))
        training.derived.itemGraph = nil
        #expect(throws: RecError.self) { try missing.fit(training, context: TrainingContext(seed: 1)) }
    }

    @Test func theStagePluginsConform() throws {
        try Conformance.itemAugmenter(LLMItemText.self) { _ in try LLMItemText(configuration: try LLMItemText.Configuration(from: EmptyDecoder()), model: ScriptedLanguageModel(answer: "A film.")) }
        try Conformance.deriver(ItemGraphDeriver.self)
        // The conformance fixture's four clusters of ten consecutive items, as a graph.
        try Conformance.retriever(
            GraphKNN.self,
            upstream: { training in
                let neighbours = (0..<40).map { item in (0..<40).filter { $0 != item && $0 / 10 == item / 10 }.map(Int32.init) }
                training.derived.itemGraph = ItemGraph(neighbours: neighbours, weights: neighbours.map { $0.map { _ in 1 } })
            })
    }

    @Test func anItemAugmenterWhoseTextDependsOnItsBatchFailsTheSuite() throws {
        let failure = #expect(throws: ConformanceFailure.self) { try Conformance.itemAugmenter(BatchNumberingAugmenter.self) }
        #expect(failure?.problems.contains("an item's text changes with the batch it is written in") == true, "\(String(describing: failure))")
    }
}
