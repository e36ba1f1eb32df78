import Foundation
import RecCore
import RecLM
import RecTesting
import Testing

@testable import PALR

let catalogue: [ItemText] = [
    ItemText(title: "Shawshank Redemption, The", genres: ["Drama"], year: 1994),
    ItemText(title: "Toy Story", genres: ["Animation", "Children's", "Comedy"], year: 1995),
    ItemText(title: "Heat", genres: ["Action", "Crime"], year: 1995),
    ItemText(title: "Fargo", genres: ["Crime", "Drama", "unknown"], year: 1996),
    ItemText(title: "Big Night", genres: [], year: 1996),
    ItemText(),
]

func configuration(_ mode: String) throws -> PALRRanker.Configuration {
    var configuration = try DefaultConfiguration().decode(PALRRanker.Configuration.self)
    configuration.mode = mode
    configuration.pick = 3
    return configuration
}

@Suite struct PALRPromptTests {
    @Test func titlesTurnArticlesRoundAndCarryTheYear() {
        #expect(PALRPrompts.title(0, catalogue) == "The Shawshank Redemption (1994)")
        #expect(PALRPrompts.title(1, catalogue) == "Toy Story (1995)")
        #expect(PALRPrompts.title(5, catalogue) == "item 5")
        #expect(PALRPrompts.title(9, catalogue) == "item 9")
    }

    @Test func retrievalPromptHasHistoryProfileAndCandidatesInThatOrder() {
        let prompts = PALRPrompts(historyLength: 2)
        let parts = prompts.retrieval(history: [0, 1, 3], profile: "Likes crime.", candidates: [2, 4], items: catalogue, count: 1)
        #expect(parts.instruction.contains("pick the candidate the user is most likely to watch next"))
        // Only the two most recent history items, oldest first; "unknown" genres left out.
        #expect(parts.input == "History:\n- Toy Story (1995): Animation, Children's, Comedy\n- Fargo (1996): Crime, Drama\n\nProfile: Likes crime.\n\nCandidates:\n- Heat (1995)\n- Big Night (1996)")
        let bare = prompts.retrieval(history: [0], profile: nil, candidates: [2], items: catalogue, count: 10)
        #expect(!bare.input.contains("Profile"))
        #expect(!bare.instruction.contains("profile"))
        #expect(bare.instruction.contains("pick the 10 candidates"))
        let bought = PALRPrompts(noun: "product", verb: "buy", verbPast: "bought").profile(history: [1], items: catalogue)
        #expect(bought.hasPrefix("A user bought these products, oldest first:"))
    }

    @Test func profilesLoseRepeatedSentencesAndAnUnfinishedTail() {
        #expect(withoutRepeatedSentences("Likes drama. Likes crime. likes drama. Likes crime. They enjoy") == "Likes drama. Likes crime.")
        #expect(withoutRepeatedSentences("  no full stop at all ") == "no full stop at all")
        #expect(withoutRepeatedSentences("") == "")
    }
}

@Suite struct PALRRankerTests {
    @Test func generatedPicksComeFirstAndNonCandidatesNeverReachTheRanking() throws {
        let model = ScriptedLanguageModel(answer: "1. Fargo (1996)\n2. Casablanca (1942)\n3. The Shawshank Redemption\n- Fargo\n\nnonsense words here")
        let ranker = PALRRanker(configuration: try configuration("generate"), model: model, items: catalogue)
        let ranked = try ranker.rank(RankRequest(user: 7, history: [1], candidates: [2, 0, 4, 3], knowledge: "Likes crime."))
        // Fargo and Shawshank in the model's order, then Heat and Big Night in the retriever's.
        #expect(ranked.map(\.item) == [3, 0, 2, 4])
        #expect(ranked.map(\.score) == [4, 3, 2, 1])
        let counts = ranker.diagnostics()
        #expect(counts["answer_lines_rejected"] == 2)  // Casablanca, "nonsense words here"
        #expect(counts["answer_lines_repeated"] == 1)
        #expect(counts["candidates_picked"] == 2)
        #expect(counts["requests"] == 1)
        #expect(counts["answers_without_candidate"] == nil)
        guard case .chat(let messages) = model.prompts.first else { Issue.record("expected a chat prompt"); return }
        #expect(messages.count == 1)
        #expect(messages[0].content.contains("Profile: Likes crime.\n\nCandidates:\n- Heat (1995)\n- The Shawshank Redemption (1994)\n- Big Night (1996)\n- Fargo (1996)"))
        #expect(ranker.examples().first?.contains("Rejected: Casablanca (1942); nonsense words here") == true)
    }

    @Test func anAnswerNamingNoCandidateKeepsTheRetrieversOrderAndIsCounted() throws {
        let ranker = PALRRanker(configuration: try configuration("generate"), model: ScriptedLanguageModel(answer: "I cannot help with that."), items: catalogue)
        let ranked = try ranker.rank(RankRequest(user: 1, history: [1], candidates: [2, 0, 4]))
        #expect(ranked.map(\.item) == [2, 0, 4])
        #expect(ranker.diagnostics()["answers_without_candidate"] == 1)
        #expect(ranker.diagnostics()["answer_lines_rejected"] == 1)
    }

    @Test func randomFillKeepsThePicksFirstAndShufflesTheRestBySeedAndUser() throws {
        var random = try configuration("generate")
        random.fill = "random"
        let answer = "Fargo (1996)"
        let candidates: [Int32] = Array(0..<40)
        let items = (0..<40).map { ItemText(title: $0 == 3 ? "Fargo" : "Film \($0)", year: 1996) }
        func ranking(_ configuration: PALRRanker.Configuration, user: Int32) throws -> [Int32] {
            try PALRRanker(configuration: configuration, model: ScriptedLanguageModel(answer: answer), items: items)
                .rank(RankRequest(user: user, history: [1], candidates: candidates)).map(\.item)
        }
        let first = try ranking(random, user: 1)
        #expect(first.first == 3)
        #expect(Set(first) == Set(candidates))
        #expect(first != [3] + candidates.filter { $0 != 3 })  // not the retriever's order
        #expect(try ranking(random, user: 1) == first)  // seeded
        #expect(try ranking(random, user: 2) != first)  // per user
        // `retriever` is the default and is not written, so cell keys stay as they were.
        let decoded = try JSONDecoder().decode(PALRRanker.Configuration.self, from: JSONSerialization.data(withJSONObject: ["fill": "retriever"]))
        #expect(decoded.fill == nil)
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self).contains("fill") == false)
        #expect(try ranking(try configuration("generate"), user: 1) == [3] + candidates.filter { $0 != 3 })
        #expect(throws: (any Error).self) { try PALRRankerTests.decode(["fill": "reverse"]) }
    }

    @Test func likelihoodOrdersByTheTitlesScoreSumOrMean() throws {
        // Sum: Heat -3 beats Shawshank -4; mean per word: Shawshank -4/4 beats Heat -3/2.
        let scores = ["Heat (1995)": -3.0, "The Shawshank Redemption (1994)": -4.0, "Big Night (1996)": -9.0]
        let sum = PALRRanker(configuration: try configuration("likelihood"), model: ScriptedLanguageModel(scores: scores), items: catalogue)
        #expect(try sum.rank(RankRequest(user: 1, history: [1], candidates: [4, 0, 2])).map(\.item) == [2, 0, 4])
        var meanConfiguration = try configuration("likelihood")
        meanConfiguration.normalise = "mean"
        let mean = PALRRanker(configuration: meanConfiguration, model: ScriptedLanguageModel(scores: scores), items: catalogue)
        #expect(try mean.rank(RankRequest(user: 1, history: [1], candidates: [4, 0, 2])).map(\.item) == [0, 2, 4])
    }

    @Test func badConfigurationNamesTheKey() {
        #expect(throws: (any Error).self) { try PALRRankerTests.decode(["mode": "sample"]) }
        #expect(throws: (any Error).self) { try PALRRankerTests.decode(["normalise": "max"]) }
    }

    static func decode(_ object: [String: String]) throws {
        _ = try JSONDecoder().decode(PALRRanker.Configuration.self, from: JSONSerialization.data(withJSONObject: object))
    }
}

@Suite struct PALRInstructionTests {
    /// 100 items in 4 genres of 25; 30 users, each with 12 items mostly from one genre.
    static let items: [ItemText] = (0..<100).map { ItemText(title: "Film \($0)", genres: ["G\($0 / 25)"], year: 1990 + $0 % 10) }
    static let histories: [[Int32]] = (0..<30).map { user in
        var rng = SplitMix64(seed: UInt64(user))
        var chosen: [Int32] = []
        while chosen.count < 12 {
            let item = Int32(rng.nextInt(below: 10) < 8 ? (user % 4) * 25 + rng.nextInt(below: 25) : rng.nextInt(below: 100))
            if !chosen.contains(item) { chosen.append(item) }
        }
        return chosen
    }

    @Test func recommendCutsTheTrainingSequenceIntoHistoryAndNextItems() {
        var builder = PALRInstructions()
        builder.targets = 2
        builder.perUser = 2
        builder.prompts.historyLength = 5
        let examples = builder.recommend(histories: [[1, 2, 3, 4, 5, 6], [7, 8]], items: Self.items)
        // User 0: (1..4 -> 5, 6), (1, 2 -> 3, 4); user 1 is too short for a history.
        #expect(examples.count == 2)
        #expect(examples[0].output == "Film 5 (1995)\nFilm 6 (1996)")
        #expect(examples[0].input.hasPrefix("History:\n- Film 1 (1991): G0\n"))
        #expect(!examples[0].input.contains("Film 5"))
        #expect(examples[0].instruction.contains("name the 2 movies the user will watch next"))
        #expect(examples[1].output == "Film 3 (1993)\nFilm 4 (1994)")
    }

    @Test func retrievalCandidatesHoldTheTargetsAndUnseenSimilarNegatives() throws {
        var builder = PALRInstructions()
        builder.targets = 2
        builder.candidates = 10
        let examples = builder.retrieval(histories: Self.histories, items: Self.items)
        #expect(examples.count == Self.histories.count)
        var sharingGenre = 0, negativesTotal = 0
        for (user, example) in examples.enumerated() {
            let listed = example.input.components(separatedBy: "Candidates:\n")[1].split(separator: "\n").map { String($0.dropFirst(2)) }
            let ids = listed.map { title in Int32(title.split(separator: " ")[1])! }
            #expect(ids.count == 10 && Set(ids).count == 10)
            let targets = Array(Self.histories[user].suffix(2))
            #expect(Set(targets).isSubset(of: Set(ids)))
            let negatives = ids.filter { !targets.contains($0) }
            // A negative is never an item this user touched.
            #expect(Set(negatives).isDisjoint(with: Set(Self.histories[user])))
            let targetGenres = Set(targets.map { $0 / 25 })
            sharingGenre += negatives.filter { targetGenres.contains($0 / 25) }.count
            negativesTotal += negatives.count
        }
        // Half are drawn from the targets' genres and co-watched items mostly are too: far
        // above the quarter that uniform sampling would give.
        #expect(Double(sharingGenre) / Double(negativesTotal) > 0.6)
        // Seeded: the same call gives the same data, another seed other negatives.
        #expect(builder.retrieval(histories: Self.histories, items: Self.items) == examples)
        builder.seed = 7
        #expect(builder.retrieval(histories: Self.histories, items: Self.items) != examples)
    }
}

@Suite struct PALRConformanceTests {
    @Test func rankerAndProfileConform() throws {
        try Conformance.ranker(PALRRanker.self) { _ in
            PALRRanker(configuration: try configuration("generate"), model: ScriptedLanguageModel(answer: "1. item 9\n2. item 3"), items: (0..<10).map { ItemText(title: "item \($0)") })
        }
        try Conformance.augmenter(PALRProfile.self) { _ in
            PALRProfile(configuration: try DefaultConfiguration().decode(PALRProfile.Configuration.self), model: ScriptedLanguageModel(answer: "Likes drama."))
        }
    }
}
