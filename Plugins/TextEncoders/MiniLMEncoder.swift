import RecCore
import RecText

/// all-MiniLM-L6-v2 sentence embeddings (384 dimensions, unit length), run natively from the
/// weights `scripts/fetch-models.sh` puts under `$RECLAB_MODELS` (default `models/`).
///
/// ```yaml
/// encoder: { type: minilm, model: all-MiniLM-L6-v2, max_length: 256, batch_size: 64 }
/// ```
public struct MiniLMEncoder: TextEncoder {
    public struct Configuration: Codable, Sendable, Equatable {
        /// The model's folder under the models root.
        public var model = "all-MiniLM-L6-v2"
        /// Tokens per text, [CLS] and [SEP] included (sentence-transformers' max_seq_length).
        public var maxLength = 256
        public var batchSize = 64

        enum CodingKeys: String, CodingKey, CaseIterable { case model, maxLength, batchSize }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            model = try c.decode(.model, default: "all-MiniLM-L6-v2")
            maxLength = try c.decode(.maxLength, default: 256, in: 2...512)
            batchSize = try c.decode(.batchSize, default: 64, in: 1...4096)
        }
    }

    public static let kind = "minilm"
    public static let summary = "all-MiniLM-L6-v2 sentence embeddings in Swift (WordPiece, 6-layer BERT on BLAS, mean pooling)"
    public let configuration: Configuration
    public let model: BertModel
    public var dimension: Int { model.dimension }

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
        let directory = try ModelFiles.directory(configuration.model, files: BertModel.requiredFiles)
        model = try BertModel(directory: directory, maxLength: configuration.maxLength)
    }

    public func encode(_ texts: [String]) throws -> [[Float]] {
        try model.embed(texts, batchSize: configuration.batchSize)
    }

    public func tokenIDs(_ text: String) -> [Int32] { model.tokenizer.encode(text) }
}
