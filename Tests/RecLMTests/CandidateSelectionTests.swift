import Foundation
import Testing

@testable import RecLM

/// A stand-in model whose log-probabilities are given per continuation.
struct FixedScores: LanguageModel {
    let backend = "test", model = "fixed"
    let values: [String: [Double]]
    func generate(_ prompt: Prompt, _ parameters: SamplingParameters) throws -> Generation {
        Generation(text: "", tokens: [], logprobs: [], finish: .stop)
    }
    func score(_ prompt: Prompt, continuations: [String]) throws -> [ContinuationScore] {
        continuations.map { ContinuationScore(tokens: [], logprobs: values[$0] ?? [-100]) }
    }
}

struct CandidateSelectionTests {
    let candidates = ["Godfather, The (1972)", "Heat (1995)", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Toy Story (1995)", "Toy Story 2 (1999)"]

    @Test func generatedListsMatchCandidatesAndRejectTheRest() {
        let text = """
            Here are my picks:
            1. The Godfather
            2) "Heat"
            - Amelie (2001)
            * Toy Story 2
            3. Star Wars (1977)
            4. heat (1995)
            """
        let parsed = CandidateSelection.parse(text, candidates: candidates)
        #expect(parsed.chosen == [0, 1, 2, 4])
        #expect(parsed.rejected == ["Here are my picks:", "Star Wars (1977)"])
        #expect(parsed.repeats == 1)
        // Nothing parseable: everything rejected, nothing chosen.
        let junk = CandidateSelection.parse("I cannot recommend movies.", candidates: candidates)
        #expect(junk.chosen.isEmpty && junk.rejected == ["I cannot recommend movies."])
        #expect(CandidateSelection.parse("Toy Story; Heat", candidates: candidates).chosen == [3, 1])
    }

    @Test func normalisationHandlesArticlesYearsAndAccents() {
        #expect(CandidateSelection.normalise("Godfather, The (1972)") == "the godfather")
        #expect(CandidateSelection.normalise("Amélie!") == "amelie")
        #expect(CandidateSelection.normalise("Cité des enfants perdus, La (1995)") == "la cite des enfants perdus")
    }

    @Test func likelihoodOrdersByTotalOrMeanLogProbability() throws {
        let model = FixedScores(values: [" A": [-1, -1, -1], " B": [-2], " C": [-0.5, -0.5, -0.5, -0.5, -0.5]])
        let total = try CandidateSelection.byLikelihood(model, prompt: .text("p"), candidates: ["A", "B", "C"])
        #expect(total.map(\.index) == [1, 2, 0])  // -2 > -2.5 > -3
        let mean = try CandidateSelection.byLikelihood(model, prompt: .text("p"), candidates: ["A", "B", "C"], meanPerToken: true)
        #expect(mean.map(\.index) == [2, 0, 1])  // -0.5 > -1 > -2
    }
}
