import RecCore

/// A named composition of plugins: a graph of stages, each cached under its configuration and
/// its inputs. Before anything trains, `augment:` stages write text fields for every item (or
/// every user), the `encoder:` turns text fields into vectors, and `derive:` stages build
/// artifacts (an item graph) from all of that. Then the head fits: a retriever (ranking
/// protocols), optionally followed by a ranker that may read a per-user profile from the
/// `augmenter:`, or a scorer (`ctr` and `rating` protocols).
public struct PipelineSpec: Sendable, Decodable {
    public var name: String = ""
    /// Text stages run before training, in order; a later stage reads the fields earlier ones wrote.
    public var augment: [AugmentStageSpec]
    /// Artifact stages run after encoding, before training.
    public var derive: [ComponentSpec]
    public var retriever: ComponentSpec?
    public var scorer: ComponentSpec?
    public var augmenter: ComponentSpec?
    /// A JSONL file (relative to the spec) whose user texts of field `knowledge` the ranking
    /// path takes instead of calling the `augmenter:` (`augmenter: { type: ..., import: FILE }`).
    public var augmenterImport: String?
    public var augmenterImportLocation: SourceLocation?
    public var ranker: ComponentSpec?
    /// A text encoder run over every item's text before training; the vectors reach the
    /// retriever or scorer as `TrainingSet.itemVectors` and are cached by text.
    public var encoder: ComponentSpec?
    /// The item text fields the encoder reads, joined in this order (`title. genres`).
    public var encodeFields: [String]
    /// When `encode_fields` lists groups (`[[title, genres], rec, eng]`): each group's fields
    /// joined and encoded on their own, and the vectors concatenated in order (LLM-Rec's item
    /// module); nil for a plain list.
    public var encodeGroups: [[String]]?
    /// The user text fields (written by user-level augment stages) the encoder turns into
    /// `TrainingSet.userVectors`; empty: users are not encoded.
    public var encodeUserFields: [String]
    /// Where `encode_fields` is written, for errors about a field the data lacks.
    public var encodeFieldsLocation: SourceLocation?

    enum CodingKeys: String, CodingKey, CaseIterable { case augment, derive, retriever, scorer, augmenter, ranker, encoder, encodeFields, encodeUserFields }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        retriever = try c.decodeIfPresent(ComponentSpec.self, forKey: .retriever)
        scorer = try c.decodeIfPresent(ComponentSpec.self, forKey: .scorer)
        augmenter = try c.decodeIfPresent(ComponentSpec.self, forKey: .augmenter)
        if let slot = augmenter, let node = slot.node["import"] {
            guard let file = node.scalar, !file.isEmpty else {
                throw RecError(.spec, "import names a JSONL file of user texts", at: node.location, key: (slot.keyPath + ["import"]).joined(separator: "."))
            }
            augmenter?.stageKeys = ["import"]
            augmenterImport = file
            augmenterImportLocation = node.location
        }
        ranker = try c.decodeIfPresent(ComponentSpec.self, forKey: .ranker)
        encoder = try c.decodeIfPresent(ComponentSpec.self, forKey: .encoder)
        augment = try c.decode(.augment, default: [])
        derive = try c.decode(.derive, default: [])
        let entries = try c.decode(.encodeFields, default: [EncodeEntry.field("title"), .field("genres")])
        encodeFields = entries.flatMap(\.fields)
        encodeGroups = entries.contains { if case .group = $0 { true } else { false } } ? entries.map(\.fields) : nil
        if let empty = encodeGroups?.firstIndex(where: \.isEmpty) {
            throw DecodingError.dataCorruptedError(forKey: .encodeFields, in: c, debugDescription: "group \(empty) of encode_fields names no field")
        }
        encodeUserFields = try c.decode(.encodeUserFields, default: [])
        encodeFieldsLocation = (decoder as? NodeDecoding)?.node["encode_fields"]?.location
        var written = Set<String>()
        for (index, stage) in augment.enumerated() where !written.insert(stage.writes).inserted {
            throw RecError(
                .spec, "two augment stages write '\(stage.writes)'; give each its own field", at: stage.writesLocation,
                key: (c.codingPath.map(\.stringValue) + ["augment", "\(index)", "writes"]).joined(separator: "."))
        }
        if encoder == nil && c.contains(.encodeUserFields) {
            throw DecodingError.dataCorruptedError(forKey: .encodeUserFields, in: c, debugDescription: "encode_user_fields needs an encoder: slot to read them")
        }
        if let field = encodeUserFields.first(where: { !written.contains($0) }) {
            throw DecodingError.dataCorruptedError(
                forKey: .encodeUserFields, in: c,
                debugDescription:
                    "user field '\(field)' is written by no augment stage; user text comes from augment stages (\(written.isEmpty ? "there are none" : written.sorted().joined(separator: ", ")))")
        }
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

    /// Whether the pipeline writes text before training (augment stages) or on the ranking
    /// path (an augmenter).
    public var writesText: Bool { !augment.isEmpty || augmenter != nil }
}

/// An augment stage: a plugin slot (an item augmenter, or a user-level augmenter) and the
/// name of the text field it writes.
///
/// ```yaml
/// augment:
///   - { type: llm.item_text, writes: summary, prompt: "Describe {title} ({genres}) in one sentence." }
///   - { type: palr.profile, writes: profile, import: profiles.jsonl }   # texts written elsewhere
/// ```
public struct AugmentStageSpec: Sendable, Decodable {
    public var component: ComponentSpec
    /// The field the stage writes: a lowercase name (`summary`, `llm_description`).
    public var writes: String
    /// A JSONL file (as `reclab augment --export` writes it, relative to the spec) whose texts
    /// the stage takes instead of calling its augmenter: knowledge a larger model wrote elsewhere.
    public var importFile: String?
    /// A control: the stage's texts permuted across items (or users), seeded by the run seed,
    /// so that what follows sees the same texts on the wrong entities. The texts themselves
    /// are written and stored as without it.
    public var shuffle: Bool

    public init(from decoder: any Decoder) throws {
        component = try ComponentSpec(from: decoder)
        component.stageKeys = ["writes", "import", "shuffle"]
        let c = try decoder.container(keyedBy: AnyKey.self)
        importFile = try c.decodeIfPresent(String.self, forKey: AnyKey("import"))
        shuffle = try c.decodeIfPresent(Bool.self, forKey: AnyKey("shuffle")) ?? false
        writes = try c.decode(String.self, forKey: AnyKey("writes"))
        guard let first = writes.unicodeScalars.first, ("a"..."z").contains(first),
            writes.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else {
            throw DecodingError.dataCorruptedError(forKey: AnyKey("writes"), in: c, debugDescription: "a field name is lowercase letters, digits and '_', starting with a letter; got '\(writes)'")
        }
    }

    public var writesLocation: SourceLocation { component.node["writes"]?.location ?? component.node.location }
    public var importLocation: SourceLocation { component.node["import"]?.location ?? component.node.location }
}

/// A plugin slot: its `type:` and the rest of its mapping, decoded later by the plugin itself.
public struct ComponentSpec: Sendable, Decodable, ConfigurationSource {
    public var kind: String
    public var node: YAMLNode
    public var keyPath: [String]
    /// Keys of the slot that belong to the pipeline, not the plugin (an augment stage's `writes`).
    public var stageKeys: [String] = []

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

    /// A decoder over this slot's keys (all but `type` and the stage keys), strict about
    /// unknown keys.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try NodeDecoder().decode(type, from: node, path: keyPath, ignoring: Set(["type"] + stageKeys))
    }
}

/// One entry of `encode_fields`: a field, or a group of fields encoded together.
enum EncodeEntry: Decodable, Equatable {
    case field(String)
    case group([String])

    var fields: [String] {
        switch self {
        case .field(let name): [name]
        case .group(let names): names
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let names = try? c.decode([String].self) { self = .group(names) } else { self = .field(try c.decode(String.self)) }
    }
}
