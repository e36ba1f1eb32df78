import Foundation
import RecCore
import RecGraph
import RecLM

/// LLM-Rec's prompting strategies (Lyu et al., 2023) as one item augmenter: a language model
/// rewrites each item's description `d` (its `description` fields joined) by one strategy.
///
/// - basic: `paraphrase`, `tags`, `infer`;
/// - recommendation-driven: `recommend`, `recommend_tags`;
/// - engagement-guided: `engage` summarises the commonalities of `d` and the descriptions of
///   the item's `neighbours` items with the highest Personalized PageRank from it on the
///   training split's co-engagement graph;
/// - `recommend_engage`: both.
///
/// An item without description text gets no prompt and an empty text (counted); an engagement
/// strategy on an item with no co-engaged neighbour does the same. Greedy decoding: the text
/// is a function of the prompt, and the engagement strategies' texts are keyed by the split.
///
/// ```yaml
/// augment:
///   - { type: llmrec.text, strategy: recommend_engage, writes: rec_eng, neighbours: 5 }
/// ```
public struct LLMRecText: ItemAugmenter, ReadsTrainingInteractions, Diagnosing {
    public enum Strategy: String, Codable, Sendable, CaseIterable {
        case paraphrase, tags, infer, recommend, recommendTags = "recommend_tags", engage, recommendEngage = "recommend_engage"

        var readsNeighbours: Bool { self == .engage || self == .recommendEngage }
    }

    public struct Configuration: Codable, Sendable, Equatable {
        public var strategy = Strategy.paraphrase
        /// The item fields whose values, joined by ", ", make the description `d`.
        public var description = ["title", "genres"]
        /// Neighbours `T` of the engagement strategies.
        public var neighbours = 5
        /// Personalized PageRank's damping (the walk's probability of following an edge).
        public var damping = 0.85
        /// Personalized PageRank's tolerance: the iteration stops when a vector moves by less
        /// than this in L1, and neighbours whose scores lie closer than this rank as ties, by
        /// item number, so that the last bits of the BLAS kernel cannot reorder them.
        public var tolerance = 1e-12
        public var lm = LanguageModelSpec()
        public var maxTokens = 128

        enum CodingKeys: String, CodingKey, CaseIterable { case strategy, description, neighbours, damping, tolerance, lm, maxTokens }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let name = try c.decodeIfPresent(String.self, forKey: .strategy) {
                guard let strategy = Strategy(rawValue: name) else {
                    var message = "unknown strategy '\(name)'; strategies: \(Strategy.allCases.map(\.rawValue).joined(separator: ", "))"
                    if let near = nearest(name, in: Strategy.allCases.map(\.rawValue)) { message += " (did you mean '\(near)'?)" }
                    throw DecodingError.dataCorruptedError(forKey: .strategy, in: c, debugDescription: message)
                }
                self.strategy = strategy
            }
            description = try c.decode(.description, default: ["title", "genres"])
            guard !description.isEmpty else { throw DecodingError.dataCorruptedError(forKey: .description, in: c, debugDescription: "name at least one item field") }
            neighbours = try c.decode(.neighbours, default: 5, in: 1...50)
            damping = try c.decode(.damping, default: 0.85, in: 0.01...0.99)
            tolerance = try c.decode(.tolerance, default: 1e-12, in: 1e-15...1e-4)
            lm = try c.decode(.lm, default: LanguageModelSpec())
            maxTokens = try c.decode(.maxTokens, default: 128, in: 1...4096)
        }

        /// The tolerance is written for the strategies that rank neighbours only: the texts of
        /// the others do not depend on it, so their keys do not carry it.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(strategy, forKey: .strategy)
            try c.encode(description, forKey: .description)
            try c.encode(neighbours, forKey: .neighbours)
            try c.encode(damping, forKey: .damping)
            if strategy.readsNeighbours { try c.encode(tolerance, forKey: .tolerance) }
            try c.encode(lm, forKey: .lm)
            try c.encode(maxTokens, forKey: .maxTokens)
        }
    }

    public static let kind = "llmrec.text"
    public static let summary = "LLM-Rec: a language model rewrites each item's description by a prompting strategy (basic, recommendation-driven, engagement-guided)"
    public let configuration: Configuration
    let model: LazyLanguageModel
    let tally = Tally(keep: 3)

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        model = LazyLanguageModel(configuration.lm, cache: context.languageModelCache)
    }

    /// An augmenter over a given model (tests).
    public init(configuration: Configuration, model: any LanguageModel) {
        self.configuration = configuration
        self.model = LazyLanguageModel(configuration.lm, cache: nil, preset: model)
    }

    public var readsTrainingInteractions: Bool { configuration.strategy.readsNeighbours }

    /// The basic and recommendation-driven strategies (no interactions needed).
    public func augment(items: [ItemText]) throws -> [String] {
        guard !configuration.strategy.readsNeighbours else {
            throw RecError(.plugin, "llmrec.text's \(configuration.strategy.rawValue) strategy reads the training interactions; the runner calls it with them")
        }
        return try write(items.map { prompt(description($0), neighbours: []) })
    }

    public func augment(indices: [Int], items: [ItemText], training: TrainingSet) throws -> [String] {
        guard configuration.strategy.readsNeighbours else { return try augment(items: indices.map { items[$0] }) }
        let neighbours = try Neighbourhoods.shared.top(
            configuration.neighbours, damping: configuration.damping, tolerance: configuration.tolerance, training: training, itemCount: items.count)
        return try write(
            indices.map { index in
                let others = neighbours[index].map { description(items[Int($0)]) }.filter { !$0.isEmpty }
                if others.isEmpty { tally.count("items_without_neighbours") }
                return others.isEmpty ? nil : prompt(description(items[index]), neighbours: others)
            })
    }

    /// `d`: the description fields' values joined by ", ".
    func description(_ item: ItemText) -> String {
        configuration.description.compactMap { item.text($0) }.filter { !$0.isEmpty }.joined(separator: ", ")
    }

    /// The strategy's prompt for `d`; nil when `d` is empty.
    func prompt(_ d: String, neighbours: [String]) -> String? {
        guard !d.isEmpty else { return nil }
        let base = "The description of an item is as follows: '\(d)', "
        let others = neighbours.joined(separator: "; ")
        switch configuration.strategy {
        case .paraphrase: return base + "paraphrase it."
        case .tags: return base + "summarize it with tags."
        case .infer: return base + "what kind of emotions can it evoke?"
        case .recommend: return base + "what else should I say if I want to recommend it to others?"
        case .recommendTags: return base + "what tags should I use if I want to recommend it to others?"
        case .engage: return "Summarize the commonalities among the following descriptions: '\(d)'; '\(others)'."
        case .recommendEngage:
            return base
                + "what else should I say if I want to recommend it to others? This content is considered to hold some similar attractive characteristics as the following descriptions: '\(others)'."
        }
    }

    /// The model's text for each prompt; an empty text where there is none.
    private func write(_ prompts: [String?]) throws -> [String] {
        let asked = prompts.compactMap { $0 }
        let strategy = configuration.strategy.rawValue
        let texts =
            asked.isEmpty
            ? []
            : try keptTexts(asked, from: model.get(), maxTokens: configuration.maxTokens, countedAs: "texts", in: tally) { _, prompt, text in
                "\(strategy) prompt:\n\(prompt)\n\nText:\n\(text)"
            }
        var answers = texts.makeIterator()
        return prompts.map { prompt in
            guard prompt != nil, let text = answers.next() else {
                tally.count("items_without_text")
                return ""
            }
            return text
        }
    }

    public func diagnostics() -> [String: Int] { tally.counts }
    public func examples() -> [String] { tally.kept }

    public var countsNote: String? {
        "items_without_text: items with no description to prompt with (empty text); items_without_neighbours: items no user shares with another (the engagement strategies leave them empty)."
    }
}

/// Each item's top Personalized PageRank neighbours on a training co-engagement graph, kept
/// for the last `keep` graphs and shared across augmenter instances: the pipelines of one split
/// that prompt with neighbours (engagement-guided texts, in full or shuffled, alone or beside
/// other texts) each build their own augmenter, and rank the graph once between them. A graph is
/// known by everything its neighbours depend on, the training histories compared in full.
final class Neighbourhoods: @unchecked Sendable {
    static let shared = Neighbourhoods(keep: 2)

    struct Key: Equatable {
        var count: Int
        var damping: Double
        var tolerance: Double
        var itemCount: Int
        var history: [[Int32]]
    }

    private let keep: Int
    private var computed: [(key: Key, neighbours: [[Int32]])] = []
    private let lock = NSLock()
    /// Graphs ranked so far (tests).
    private(set) var rankings = 0

    init(keep: Int) { self.keep = keep }

    func top(_ count: Int, damping: Double, tolerance: Double, training: TrainingSet, itemCount: Int) throws -> [[Int32]] {
        let key = Key(count: count, damping: damping, tolerance: tolerance, itemCount: itemCount, history: training.history)
        return try lock.withLock {
            if let known = computed.first(where: { $0.key == key }) { return known.neighbours }
            let ranks = try PersonalizedPageRank(
                weights: CoEngagement.counts(histories: training.history, itemCount: itemCount), nodeCount: itemCount, damping: damping, tolerance: tolerance)
            var neighbours: [[Int32]] = []
            for start in stride(from: 0, to: itemCount, by: 256) {
                let sources = Array(start..<min(itemCount, start + 256))
                for (source, scores) in zip(sources, ranks.scores(from: sources)) {
                    neighbours.append(PersonalizedPageRank.top(scores, count: count, excluding: source, resolution: tolerance).map(Int32.init))
                }
            }
            rankings += 1
            computed = Array((computed + [(key, neighbours)]).suffix(keep))
            return neighbours
        }
    }
}
