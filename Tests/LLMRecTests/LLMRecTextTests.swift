import Foundation
import RecCore
import RecLM
import RecSpec
import RecTesting
import Testing

@testable import LLMRec

func llmrec(_ yaml: String) throws -> LLMRecText.Configuration {
    try NodeDecoder().decode(LLMRecText.Configuration.self, from: try YAMLParser.parse(yaml, file: "llmrec.yaml"), path: [])
}

func chatText(_ prompt: Prompt) -> String {
    if case .chat(let messages) = prompt { return messages.map(\.content).joined() }
    return ""
}

struct LLMRecTextTests {
    let items = [
        ItemText(title: "Heat (1995)", genres: ["Action", "Crime"]), ItemText(title: "Casino (1995)", genres: ["Drama"]),
        ItemText(title: "Babe (1995)", genres: ["Children's"]), ItemText(), ItemText(title: "Lone (1999)", genres: ["Drama"]),
    ]

    /// Items 0, 1 and 2 are co-engaged (0 with 1 by three users, 0 with 2 by one); item 4 is
    /// engaged alone; item 3 has no text.
    var training: TrainingSet {
        let histories: [[Int32]] = [[0, 1], [0, 1], [0, 1, 2], [2, 3], [4]]
        let interactions = histories.enumerated().flatMap { user, items in items.map { Interaction(user: Int32(user), item: $0) } }
        return TrainingSet(userCount: histories.count, itemCount: items.count, interactions: interactions, history: histories)
    }

    /// Each basic and recommendation-driven strategy asks its question about `d`.
    @Test func basicStrategiesAskTheirQuestion() throws {
        for (strategy, ending) in [
            ("paraphrase", "paraphrase it."), ("tags", "summarize it with tags."), ("infer", "what kind of emotions can it evoke?"),
            ("recommend", "what else should I say if I want to recommend it to others?"),
            ("recommend_tags", "what tags should I use if I want to recommend it to others?"),
        ] {
            let model = ScriptedLanguageModel(answer: "A crime film.")
            let augmenter = LLMRecText(configuration: try llmrec("{ strategy: \(strategy) }"), model: model)
            #expect(try augmenter.augment(items: [items[0]]) == ["A crime film."])
            #expect(chatText(model.prompts[0]) == "The description of an item is as follows: 'Heat (1995), Action, Crime', " + ending)
            #expect(!augmenter.readsTrainingInteractions)
        }
    }

    /// The engagement strategies list the neighbours in Personalized PageRank order (the item
    /// shared by more users first); an item without neighbours or without text gets no prompt.
    @Test func engagementReadsTheCoEngagedNeighbours() throws {
        let model = ScriptedLanguageModel(answer: "All from 1995.")
        let augmenter = LLMRecText(configuration: try llmrec("{ strategy: engage, neighbours: 2 }"), model: model)
        #expect(augmenter.readsTrainingInteractions)
        let texts = try augmenter.augment(indices: [0, 3, 4], items: items, training: training)
        #expect(texts == ["All from 1995.", "", ""])
        #expect(model.prompts.count == 1)
        #expect(chatText(model.prompts[0]) == "Summarize the commonalities among the following descriptions: 'Heat (1995), Action, Crime'; 'Casino (1995), Drama; Babe (1995), Children's'.")
        #expect(augmenter.diagnostics()["items_without_text"] == 2 && augmenter.diagnostics()["items_without_neighbours"] == 1)
        let both = LLMRecText(configuration: try llmrec("{ strategy: recommend_engage, neighbours: 1 }"), model: model)
        _ = try both.augment(indices: [2], items: items, training: training)
        #expect(
            chatText(model.prompts[1]).hasSuffix(
                "recommend it to others? This content is considered to hold some similar attractive characteristics as the following descriptions: 'Heat (1995), Action, Crime'."))
    }

    /// A graph's neighbours are ranked once and reused by every augmenter on the same training
    /// histories and settings; the same users and items with one interaction moved are a new
    /// graph, and the oldest of more than `keep` graphs is ranked again when it comes back.
    @Test func neighbourhoodsAreRankedOncePerGraph() throws {
        let memo = Neighbourhoods(keep: 2)
        let first = try memo.top(2, damping: 0.85, tolerance: 1e-12, training: training, itemCount: items.count)
        #expect(try memo.top(2, damping: 0.85, tolerance: 1e-12, training: training, itemCount: items.count) == first && memo.rankings == 1)
        var moved = training
        moved.history[3] = [1, 3]
        let other = try memo.top(2, damping: 0.85, tolerance: 1e-12, training: moved, itemCount: items.count)
        #expect(memo.rankings == 2 && other[3] == [1, 0] && first[3] == [2, 0])
        _ = try memo.top(1, damping: 0.85, tolerance: 1e-12, training: training, itemCount: items.count)
        #expect(memo.rankings == 3)
        #expect(try memo.top(2, damping: 0.85, tolerance: 1e-12, training: training, itemCount: items.count) == first && memo.rankings == 4)
    }

    /// PageRank's tolerance is part of the resolved configuration, so of the texts' and cells'
    /// keys, where a strategy ranks neighbours only; it is checked for range.
    @Test func toleranceIsKeyedWhereNeighboursAreRanked() throws {
        #expect(try !canonicalJSON(llmrec("{ strategy: recommend, tolerance: 1e-10 }")).contains("tolerance"))
        let engage = try canonicalJSON(llmrec("{ strategy: engage }"))
        #expect(engage.contains("\"tolerance\":"))
        #expect(try canonicalJSON(llmrec("{ strategy: engage, tolerance: 1e-10 }")) != engage)
        #expect(throws: (any Error).self) { try llmrec("{ strategy: engage, tolerance: 0.5 }") }
    }

    @Test func misspeltStrategyNamesTheChoices() throws {
        do {
            _ = try llmrec("{ strategy: recomend }")
            Issue.record("a misspelt strategy was accepted")
        } catch {
            #expect("\(error)".contains("unknown strategy 'recomend'") && "\(error)".contains("did you mean 'recommend'?") && "\(error)".contains("llmrec.yaml:1:"), "\(error)")
        }
    }

    @Test func conforms() throws {
        try Conformance.itemAugmenter(LLMRecText.self) { _ in LLMRecText(configuration: try llmrec("{ strategy: tags }"), model: ScriptedLanguageModel(answer: "drama, crime")) }
    }
}
