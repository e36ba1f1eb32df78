import RecCore

/// A named composition of plugins. A ranking pipeline has a retriever, optionally followed by
/// a ranker, which may read what an augmenter wrote about each user (a profile). A pointwise
/// pipeline has a scorer instead (`ctr` and `rating` protocols).
public struct PipelineSpec: Sendable, Decodable {
    public var name: String = ""
    public var retriever: ComponentSpec?
    public var scorer: ComponentSpec?
    public var augmenter: ComponentSpec?
    public var ranker: ComponentSpec?
    /// A text encoder run over every item's text before training; the vectors reach the
    /// retriever or scorer as `TrainingSet.itemVectors` and are cached by text.
    public var encoder: ComponentSpec?
    /// The item text fields the encoder reads, joined in this order (`title. genres`).
    public var encodeFields: [String]

    enum CodingKeys: String, CodingKey, CaseIterable { case retriever, scorer, augmenter, ranker, encoder, encodeFields }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        retriever = try c.decodeIfPresent(ComponentSpec.self, forKey: .retriever)
        scorer = try c.decodeIfPresent(ComponentSpec.self, forKey: .scorer)
        augmenter = try c.decodeIfPresent(ComponentSpec.self, forKey: .augmenter)
        ranker = try c.decodeIfPresent(ComponentSpec.self, forKey: .ranker)
        encoder = try c.decodeIfPresent(ComponentSpec.self, forKey: .encoder)
        encodeFields = try c.decode(.encodeFields, default: ["title", "genres"])
        if encodeFields.isEmpty {
            throw DecodingError.dataCorruptedError(forKey: .encodeFields, in: c, debugDescription: "expected at least one item text field, e.g. [title, genres]")
        }
        if encoder == nil && c.contains(.encodeFields) {
            throw DecodingError.dataCorruptedError(forKey: .encodeFields, in: c, debugDescription: "encode_fields needs an encoder: slot to read them")
        }
        guard (retriever == nil) != (scorer == nil) else {
            let message =
                retriever == nil
                ? "a pipeline needs a retriever (ranking protocols) or a scorer (ctr and rating protocols)"
                : "a pipeline has a retriever or a scorer, not both"
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: c.codingPath, debugDescription: message))
        }
    }

    /// The slot that produces the pipeline's predictions.
    public var head: ComponentSpec { retriever ?? scorer! }
}

/// A plugin slot: its `type:` and the rest of its mapping, decoded later by the plugin itself.
public struct ComponentSpec: Sendable, Decodable, ConfigurationSource {
    public var kind: String
    public var node: YAMLNode
    public var keyPath: [String]

    public init(from decoder: any Decoder) throws {
        guard let nodeDecoder = decoder as? NodeDecoding else {
            throw RecError(.spec, "component slots can only be decoded from YAML")
        }
        let c = try decoder.container(keyedBy: AnyKey.self)
        kind = try c.decode(String.self, forKey: AnyKey("type"))
        node = nodeDecoder.node
        keyPath = nodeDecoder.path
        nodeDecoder.exemptFromUnknownKeys()
    }

    /// Location of the `type:` value, for errors about the kind.
    public var typeLocation: SourceLocation { node["type"]?.location ?? node.location }

    /// A decoder over this slot's keys (all but `type`), strict about unknown keys.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try NodeDecoder().decode(type, from: node, path: keyPath, ignoring: ["type"])
    }
}
