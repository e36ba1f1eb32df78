import Foundation
import RecCore
import RecLM

/// An item augmenter: a language model writes one text per item from a prompt template over
/// the item's fields (LLM-Rec's augmented descriptions, KAR's item facts).
///
/// `{name}` in the prompt is replaced by the item's field `name` (values joined by ", "); a
/// field the item lacks becomes "unknown" and is counted. Greedy decoding, so the text is a
/// function of the prompt: every seed shares it, and the call cache answers a repeat.
///
/// ```yaml
/// augment:
///   - type: llm.item_text
///     writes: summary
///     prompt: "In one sentence, what is the movie {title} ({genres}) about?"
///     lm: { model: SmolLM2-135M-Instruct }
/// ```
public struct LLMItemText: ItemAugmenter, Diagnosing {
    public struct Configuration: Codable, Sendable, Equatable {
        public var lm = LanguageModelSpec()
        public var prompt = Self.defaultPrompt
        public var maxTokens = 64

        public static let defaultPrompt = "In one or two sentences, describe the movie {title} ({genres}): what it is about and who would enjoy it."

        enum CodingKeys: String, CodingKey, CaseIterable { case lm, prompt, maxTokens }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            lm = try c.decode(.lm, default: LanguageModelSpec())
            prompt = try c.decode(.prompt, default: Self.defaultPrompt)
            maxTokens = try c.decode(.maxTokens, default: 64, in: 1...4096)
            do {
                _ = try PromptTemplate(prompt)
            } catch let error as RecError {
                throw DecodingError.dataCorruptedError(forKey: .prompt, in: c, debugDescription: error.message)
            }
        }
    }

    public static let kind = "llm.item_text"
    public static let summary = "a language model writes a text field for every item from a prompt over its fields"
    public let configuration: Configuration
    let template: PromptTemplate
    let model: LazyLanguageModel
    let tally = Tally()

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        template = try PromptTemplate(configuration.prompt)
        model = LazyLanguageModel(configuration.lm, cache: context.languageModelCache)
    }

    /// An augmenter over a given model (tests, and callers that already hold one).
    public init(configuration: Configuration, model: any LanguageModel) throws {
        self.configuration = configuration
        template = try PromptTemplate(configuration.prompt)
        self.model = LazyLanguageModel(configuration.lm, cache: nil, preset: model)
    }

    /// Every item's text through the model's batched path.
    public func augment(items: [ItemText]) throws -> [String] {
        guard !items.isEmpty else { return [] }
        let rendered = items.map { template.render($0) }
        for (_, missing) in rendered where missing > 0 { tally.count("prompts_with_missing_fields") }
        return try keptTexts(rendered.map(\.0), from: model.get(), maxTokens: configuration.maxTokens, countedAs: "texts", in: tally) { _, request, text in
            "Item prompt:\n\(request)\n\nText:\n\(text)"
        }
    }

    public func diagnostics() -> [String: Int] { tally.counts }
    public func examples() -> [String] { tally.kept }
}
