import RecCore
import RecLM

/// KAR's reasoning knowledge: a language model's analysis of each user's preferences on the
/// scenario factors, from the profile and the rated history (`KARPrompts.userPrompt`). A user
/// augmenter: the runner hands it every user's past (the history-only prefix on KAR's
/// protocol) in batches and stores each text as it finishes.
///
/// ```yaml
/// augment:
///   - { type: kar.reasoning, writes: reasoning, max_tokens: 128, lm: { model: SmolLM2-135M-Instruct } }
/// ```
public struct KARReasoning: KnowledgeAugmenter, Diagnosing {
    public typealias Configuration = KARModelConfiguration

    public static let kind = "kar.reasoning"
    public static let summary = "KAR: a language model's analysis of each user's preferences on scenario factors, from the rated history"
    public let configuration: Configuration
    let model: LazyLanguageModel
    let tally = Tally()

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        model = LazyLanguageModel(configuration.lm, cache: context.languageModelCache)
    }

    /// An augmenter over a given model (tests).
    public init(configuration: Configuration, model: any LanguageModel) {
        self.configuration = configuration
        self.model = LazyLanguageModel(configuration.lm, cache: nil, preset: model)
    }

    public func augment(user: Int32, history: [Int32], items: [ItemText]) throws -> String {
        try augment(users: [UserHistory(user: user, history: history)], items: items)[0]
    }

    public func augment(users: [UserHistory], items: [ItemText]) throws -> [String] {
        guard !users.isEmpty else { return [] }
        let prompts = users.map { configuration.prompts.userPrompt($0, items: items) }
        return try keptTexts(prompts, from: model.get(), maxTokens: configuration.maxTokens, countedAs: "texts", in: tally) { _, prompt, text in
            "User prompt:\n\(prompt)\n\nReasoning:\n\(text)"
        }
    }

    public func diagnostics() -> [String: Int] { tally.counts }
    public func examples() -> [String] { tally.kept }
}

/// The history part of KAR's user prompt (profile and rated history), written without a
/// model: what KAR encodes beside the reasoning (`encode_user_fields: [history, reasoning]`).
public struct KARHistory: KnowledgeAugmenter {
    public struct Configuration: Codable, Sendable, Equatable {
        public var prompts = KARPrompts()

        enum CodingKeys: String, CodingKey, CaseIterable { case prompts }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            prompts = try c.decode(.prompts, default: KARPrompts())
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if prompts != KARPrompts() { try c.encode(prompts, forKey: .prompts) }
        }
    }

    public static let kind = "kar.history"
    public static let summary = "KAR: each user's profile and rated history in words (the part of the user prompt KAR encodes)"
    public let configuration: Configuration

    public init(configuration: Configuration, context: ComponentContext) throws { self.configuration = configuration }

    public func augment(user: Int32, history: [Int32], items: [ItemText]) throws -> String {
        configuration.prompts.history(UserHistory(user: user, history: history), items: items)
    }

    public func augment(users: [UserHistory], items: [ItemText]) throws -> [String] {
        users.map { configuration.prompts.history($0, items: items) }
    }
}

/// KAR's factual knowledge: a language model introduces each item and describes it on the
/// scenario factors (`KARPrompts.itemPrompt`). An item augmenter.
///
/// ```yaml
/// augment:
///   - { type: kar.facts, writes: facts, max_tokens: 128, lm: { model: SmolLM2-135M-Instruct } }
/// ```
public struct KARFacts: ItemAugmenter, Diagnosing {
    public typealias Configuration = KARModelConfiguration

    public static let kind = "kar.facts"
    public static let summary = "KAR: a language model describes each item on the scenario factors"
    public let configuration: Configuration
    let model: LazyLanguageModel
    let tally = Tally()

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        model = LazyLanguageModel(configuration.lm, cache: context.languageModelCache)
    }

    /// An augmenter over a given model (tests).
    public init(configuration: Configuration, model: any LanguageModel) {
        self.configuration = configuration
        self.model = LazyLanguageModel(configuration.lm, cache: nil, preset: model)
    }

    public func augment(items: [ItemText]) throws -> [String] {
        guard !items.isEmpty else { return [] }
        let prompts = items.map { configuration.prompts.itemPrompt($0) }
        return try keptTexts(prompts, from: model.get(), maxTokens: configuration.maxTokens, countedAs: "texts", in: tally) { _, prompt, text in
            "Item prompt:\n\(prompt)\n\nFacts:\n\(text)"
        }
    }

    public func diagnostics() -> [String: Int] { tally.counts }
    public func examples() -> [String] { tally.kept }
}

/// What `kar.reasoning` and `kar.facts` read: the language model, KAR's prompts and the
/// answers' length.
public struct KARModelConfiguration: Codable, Sendable, Equatable {
    public var lm = LanguageModelSpec()
    public var prompts = KARPrompts()
    public var maxTokens = 128

    enum CodingKeys: String, CodingKey, CaseIterable { case lm, prompts, maxTokens }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lm = try c.decode(.lm, default: LanguageModelSpec())
        prompts = try c.decode(.prompts, default: KARPrompts())
        maxTokens = try c.decode(.maxTokens, default: 128, in: 1...4096)
    }

    /// The prompts only where they differ from KAR's, so that stage keys and reports stay short.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(lm, forKey: .lm)
        if prompts != KARPrompts() { try c.encode(prompts, forKey: .prompts) }
        try c.encode(maxTokens, forKey: .maxTokens)
    }
}
