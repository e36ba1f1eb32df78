import Foundation
import RecCore
import RecLM

/// PALR's profile writer: a language model describes the user's taste from their history.
///
/// **Paper:** Yang et al., "PALR: Personalization Aware LLMs for Recommendation", 2023. The
/// profile is the "natural language user profile" the ranking prompt carries beside the history
/// and the candidates.
///
/// Greedy decoding, so a profile is a function of the history: the call cache answers a
/// repeated request (another seed, another pipeline) without calling the model, and the runner
/// stores each profile as an artifact.
///
/// ```yaml
/// augmenter: { type: palr.profile, lm: { model: SmolLM2-135M-Instruct }, max_tokens: 96 }
/// ```
public struct PALRProfile: KnowledgeAugmenter, Diagnosing {
    public struct Configuration: Codable, Sendable, Equatable {
        public var lm = LanguageModelSpec()
        public var noun = "movie", verb = "watch", verbPast = "watched"
        /// History items shown (the most recent).
        public var history = 20
        public var maxTokens = 96

        enum CodingKeys: String, CodingKey, CaseIterable { case lm, noun, verb, verbPast, history, maxTokens }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lm = try c.decode(.lm, default: LanguageModelSpec())
            noun = try c.decode(.noun, default: "movie")
            verb = try c.decode(.verb, default: "watch")
            verbPast = try c.decode(.verbPast, default: "watched")
            history = try c.decode(.history, default: 20, in: 1...1000)
            maxTokens = try c.decode(.maxTokens, default: 96, in: 1...4096)
        }
    }

    public static let kind = "palr.profile"
    public static let summary = "PALR user profile: an LLM describes the user's taste from their history (Yang et al., 2023)"
    public let configuration: Configuration
    let model: LazyLanguageModel
    let tally = Tally()

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        model = LazyLanguageModel(configuration.lm, cache: context.languageModelCache)
    }

    /// A profile writer over a given model (tests, and callers that already hold one).
    init(configuration: Configuration, model: any LanguageModel) {
        self.configuration = configuration
        self.model = LazyLanguageModel(configuration.lm, cache: nil, preset: model)
    }

    var prompts: PALRPrompts {
        PALRPrompts(noun: configuration.noun, verb: configuration.verb, verbPast: configuration.verbPast, historyLength: configuration.history)
    }

    public func augment(user: Int32, history: [Int32], items: [ItemText]) throws -> String {
        try augment(users: [UserHistory(user: user, history: history)], items: items)[0]
    }

    /// Every user's profile through the model's batched path.
    public func augment(users: [UserHistory], items: [ItemText]) throws -> [String] {
        let requests = users.map { prompts.profile(history: $0.history, items: items) }
        return try keptTexts(requests, from: model.get(), maxTokens: configuration.maxTokens, countedAs: "profiles", in: tally) { index, request, profile in
            "Profile request (user \(users[index].user)):\n\(request)\n\nProfile:\n\(profile)"
        }
    }

    public func diagnostics() -> [String: Int] { tally.counts }
    public func examples() -> [String] { tally.kept }
}

/// PALR's ranker: a language model orders the retriever's candidates, reading the user's
/// history, the profile (from the pipeline's augmenter, when there is one) and the candidates.
///
/// - `generate`: the model lists its picks; each listed line is matched to a candidate title
///   (`CandidateSelection.parse`). Lines naming no candidate are rejected and counted, never
///   ranked; the picks come first in the model's order, the rest follow in the retriever's.
/// - `likelihood`: candidates ordered by the model's log-probability of each title as the
///   answer (`sum` over its tokens, or the `mean`, which favours long titles less).
///
/// **Deviations:** the paper fine-tunes LLaMA-7B and generates; this ranker runs any
/// `LanguageModel` (by default the local SmolLM2-135M-Instruct) zero-shot, or with a LoRA
/// adapter trained on the exported instructions.
///
/// ```yaml
/// ranker: { type: palr.rank, mode: generate, pick: 10, lm: { model: SmolLM2-135M-Instruct } }
/// ```
public struct PALRRanker: Ranker, Trainable, Diagnosing {
    public struct Configuration: Codable, Sendable, Equatable {
        public var lm = LanguageModelSpec()
        public var mode = "generate"
        public var noun = "movie", verb = "watch", verbPast = "watched"
        public var history = 20
        /// Generate mode: how many candidates the model is asked to pick.
        public var pick = 10
        public var maxTokens = 160
        /// Likelihood mode: `sum` or `mean` of the title's token log-probabilities.
        public var normalise = "sum"
        /// LoRA fine-tuning of the local model on PALR's instructions before ranking (PALRv1:
        /// `instructions: [recommend]`; PALRv2: both); none ranks zero-shot.
        public var finetune: FineTuning?
        /// Generate mode: the order of the candidates the model did not pick. Unset: the
        /// retriever's (the issue's protocol). `random`: a seeded shuffle, so the metrics credit
        /// the model's picks alone, as in the paper, where the LLM's list is the ranking. Unset
        /// is not written, so the keys of cells from before this option are unchanged.
        public var fill: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case lm, mode, noun, verb, verbPast, history, pick, maxTokens, normalise, finetune, fill }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lm = try c.decode(.lm, default: LanguageModelSpec())
            mode = try c.decode(.mode, default: "generate")
            guard ["generate", "likelihood"].contains(mode) else {
                throw DecodingError.dataCorruptedError(forKey: .mode, in: c, debugDescription: "unknown mode '\(mode)'; valid: generate, likelihood")
            }
            noun = try c.decode(.noun, default: "movie")
            verb = try c.decode(.verb, default: "watch")
            verbPast = try c.decode(.verbPast, default: "watched")
            history = try c.decode(.history, default: 20, in: 1...1000)
            pick = try c.decode(.pick, default: 10, in: 1...1000)
            maxTokens = try c.decode(.maxTokens, default: 160, in: 1...4096)
            normalise = try c.decode(.normalise, default: "sum")
            guard ["sum", "mean"].contains(normalise) else {
                throw DecodingError.dataCorruptedError(forKey: .normalise, in: c, debugDescription: "unknown value '\(normalise)'; valid: sum, mean")
            }
            finetune = try c.decodeIfPresent(FineTuning.self, forKey: .finetune)
            fill = try c.decodeIfPresent(String.self, forKey: .fill)
            guard fill == nil || ["retriever", "random"].contains(fill!) else {
                throw DecodingError.dataCorruptedError(forKey: .fill, in: c, debugDescription: "unknown fill '\(fill!)'; valid: retriever, random")
            }
            if fill == "retriever" { fill = nil }
            if finetune != nil && lm.backend != "local" {
                throw DecodingError.dataCorruptedError(forKey: .finetune, in: c, debugDescription: "fine-tuning needs the local backend")
            }
        }
    }

    /// How the ranker's LoRA adapter is trained (`finetune:` in YAML).
    public struct FineTuning: Codable, Sendable, Equatable {
        /// `recommend` (PALRv1) and/or `recommend_retrieval` (with it, PALRv2).
        public var instructions = ["recommend", "recommend_retrieval"]
        /// Training users sampled (seeded) for the examples; 0 takes every user.
        public var users = 300
        /// Next items per example, and candidates per Recommend_Retrieval example.
        public var targets = 3
        public var candidates = 20
        public var epochs = 1
        public var learningRate = 2e-4
        public var batch = 8
        public var rank = 8
        public var alpha = 16.0
        public var projections = ["q", "v"]

        enum CodingKeys: String, CodingKey, CaseIterable {
            case instructions, users, targets, candidates, epochs, learningRate, batch, rank, alpha, projections
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            instructions = try c.decode(.instructions, default: ["recommend", "recommend_retrieval"])
            for name in instructions where !["recommend", "recommend_retrieval"].contains(name) {
                throw DecodingError.dataCorruptedError(forKey: .instructions, in: c, debugDescription: "unknown instruction set '\(name)'; valid: recommend, recommend_retrieval")
            }
            guard !instructions.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .instructions, in: c, debugDescription: "name at least one instruction set")
            }
            users = try c.decode(.users, default: 300, in: 0...10_000_000)
            targets = try c.decode(.targets, default: 3, in: 1...100)
            candidates = try c.decode(.candidates, default: 20, in: 2...1000)
            epochs = try c.decode(.epochs, default: 1, in: 1...1000)
            learningRate = try c.decode(.learningRate, default: 2e-4, in: 1e-9...1)
            batch = try c.decode(.batch, default: 8, in: 1...4096)
            rank = try c.decode(.rank, default: 8, in: 1...1024)
            alpha = try c.decode(.alpha, default: 16, in: 1e-6...1e6)
            projections = try c.decode(.projections, default: ["q", "v"])
            for name in projections where !LoRAModel.Options.projections.contains(name) {
                throw DecodingError.dataCorruptedError(forKey: .projections, in: c, debugDescription: "unknown projection '\(name)'; valid: \(LoRAModel.Options.projections.joined(separator: ", "))")
            }
            guard candidates > targets else {
                throw DecodingError.dataCorruptedError(forKey: .candidates, in: c, debugDescription: "candidates must exceed targets (\(targets))")
            }
        }
    }

    public static let kind = "palr.rank"
    public static let summary = "PALR ranker: an LLM picks from the retriever's candidates by generation or likelihood (Yang et al., 2023)"
    public let configuration: Configuration
    private(set) var model: LazyLanguageModel
    let tally = Tally()
    private var items: [ItemText] = []
    private let seed: UInt64
    private let artifacts: (any ArtifactStore)?
    private let cache: (any LanguageModelCallCache)?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        seed = context.seed
        artifacts = context.artifacts
        cache = context.languageModelCache
        model = LazyLanguageModel(configuration.lm, cache: cache)
    }

    /// A ranker calling `model` (tests give it a scripted one).
    init(configuration: Configuration, model: any LanguageModel, items: [ItemText]) {
        self.configuration = configuration
        self.model = LazyLanguageModel(configuration.lm, cache: nil, preset: model)
        self.items = items
        seed = 0
        artifacts = nil
        cache = nil
    }

    var prompts: PALRPrompts {
        PALRPrompts(noun: configuration.noun, verb: configuration.verb, verbPast: configuration.verbPast, historyLength: configuration.history)
    }

    /// Keeps the catalogue's text and, with `finetune`, trains the LoRA adapter the ranker then
    /// runs with (see `PALRFineTuning`).
    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        items = data.itemText
        guard let finetune = configuration.finetune else { return }
        let adapter = try PALRFineTuning(settings: finetune, lm: configuration.lm, prompts: prompts, seed: seed)
            .adapter(histories: data.history, items: items, artifacts: artifacts, context: context)
        var spec = configuration.lm
        spec.adapter = adapter
        model = LazyLanguageModel(spec, cache: cache)
    }

    public func rank(_ request: RankRequest) throws -> [ScoredItem] { try rank([request])[0] }

    /// Every request's order through the model's batched path: one prompt per user with
    /// candidates, all generated (or scored) together.
    public func rank(_ requests: [RankRequest]) throws -> [[ScoredItem]] {
        let asked = requests.indices.filter { !requests[$0].candidates.isEmpty }
        var answers = [[ScoredItem]](repeating: [], count: requests.count)
        guard !asked.isEmpty else { return answers }
        let lm = try model.get()
        tally.count("requests", asked.count)
        let likelihood = configuration.mode == "likelihood"
        let messages = asked.map { index in
            let request = requests[index]
            let count = likelihood ? 1 : min(configuration.pick, request.candidates.count)
            return PALRPrompts.message(prompts.retrieval(history: request.history, profile: request.knowledge, candidates: request.candidates, items: items, count: count))
        }
        let titles = asked.map { requests[$0].candidates.map { PALRPrompts.title($0, items) } }
        if likelihood {
            let scores = try lm.scoreAll(zip(messages, titles).map { ScoringRequest(.chat([ChatMessage(role: "user", content: $0)]), continuations: $1) })
            for (position, index) in asked.enumerated() {
                let order = CandidateSelection.order(scores[position], meanPerToken: configuration.normalise == "mean")
                tally.example(
                    "Prompt (user \(requests[index].user)):\n\(messages[position])\n\nMost likely answers: "
                        + order.prefix(5).map { String(format: "%@ (%.2f)", titles[position][$0.index], $0.score) }.joined(separator: "; "))
                answers[index] = order.map { ScoredItem(item: requests[index].candidates[$0.index], score: Float($0.score)) }
            }
            return answers
        }
        let generations = try lm.chatAll(messages, maxTokens: configuration.maxTokens)
        for (position, index) in asked.enumerated() {
            answers[index] = picks(requests[index], message: messages[position], titles: titles[position], answer: generations[position].text)
        }
        return answers
    }

    /// A generated answer's picks, counted and kept as an example, then merged with the rest.
    func picks(_ request: RankRequest, message: String, titles: [String], answer: String) -> [ScoredItem] {
        let parsed = CandidateSelection.parse(answer, candidates: titles)
        tally.count("answer_lines_rejected", parsed.rejected.count)
        tally.count("answer_lines_repeated", parsed.repeats)
        tally.count("candidates_picked", parsed.chosen.count)
        if parsed.chosen.isEmpty { tally.count("answers_without_candidate") }
        tally.example(
            "Prompt (user \(request.user)):\n\(message)\n\nAnswer:\n\(answer)\n\nPicked: "
                + parsed.chosen.map { titles[$0] }.joined(separator: "; ")
                + (parsed.rejected.isEmpty ? "" : "\nRejected: " + parsed.rejected.joined(separator: "; ")))
        let shuffle =
            configuration.fill == "random"
            ? SplitMix64(seed: seed).derived("palr.rank fill \(request.user)") : nil
        return Self.merge(picked: parsed.chosen, count: request.candidates.count, shuffle: shuffle).map {
            ScoredItem(item: request.candidates[$0.index], score: $0.score)
        }
    }

    /// The model's picks first, in its order, then every other candidate in the retriever's
    /// order (or shuffled by `shuffle`); scores fall from `count` to 1.
    static func merge(picked: [Int], count: Int, shuffle: SplitMix64?) -> [(index: Int, score: Float)] {
        let chosen = Set(picked)
        var rest = (0..<count).filter { !chosen.contains($0) }
        if var rng = shuffle {
            // Fisher-Yates by hand: the standard library's shuffle may change between releases.
            for i in stride(from: rest.count - 1, to: 0, by: -1) { rest.swapAt(i, rng.nextInt(below: i + 1)) }
        }
        return (picked + rest).enumerated().map { ($0.element, Float(count - $0.offset)) }
    }

    public func diagnostics() -> [String: Int] { tally.counts }
    public func examples() -> [String] { tally.kept }

    public var countsNote: String? {
        "An LLM output that names no candidate is rejected and never reaches the metrics; the places it would have filled are "
            + "filled from the retriever's order (or, with `fill: random`, in a seeded random order)."
    }
}
