import RecCore

/// A deep CTR scorer that can be trained with extra dense fields: what a wrapper such as KAR
/// drives. Every `DeepCTR<Model>` is one.
package protocol DenseFieldsScorer: Scorer, Trainable, Checkpointable, ReadsFeatures, ReadsBehaviour {
    /// Set before `fit` and before `restore`.
    var dense: (any DenseFields)? { get set }
    /// Width `D` of every field vector, which dense fields must match.
    var fieldWidth: Int { get }
}

extension DeepCTR: DenseFieldsScorer {
    package var fieldWidth: Int { configuration.common.embedding }
}

/// A deep CTR model named inside another component's configuration:
/// `backbone: { type: dcnv2, cross_layers: 3, fields: [...] }`. The model's own keys are
/// decoded (and checked) by its configuration, as under `scorer:`.
package struct CTRBackbone: Codable, Sendable, Equatable {
    /// How to decode and build one model, by its kind.
    private struct Model: Sendable {
        var kind: String
        var decode: @Sendable (any Decoder) throws -> any DeepCTRConfigurable
        var make: @Sendable (any DeepCTRConfigurable, ComponentContext) throws -> any DenseFieldsScorer

        init<M: DeepCTRModel>(_: M.Type) {
            let kind = M.kind
            self.kind = kind
            decode = { try M.Configuration(from: $0) }
            make = { configuration, context in
                guard let configuration = configuration as? M.Configuration else { throw RecError(.plugin, "\(kind): configuration of the wrong type") }
                return try DeepCTR<M>(configuration: configuration, context: context)
            }
        }
    }

    /// The models a backbone can be.
    private static let models = [Model(DeepFM.self), Model(XDeepFM.self), Model(DCNv2.self), Model(AutoInt.self), Model(FiBiNet.self), Model(DIN.self)]

    package static var kinds: [String] { models.map(\.kind) }

    package let kind: String
    package let configuration: any DeepCTRConfigurable

    private struct TypeKey: CodingKey {
        var stringValue: String { "type" }
        var intValue: Int? { nil }
        init() {}
        init?(stringValue: String) { guard stringValue == "type" else { return nil } }
        init?(intValue: Int) { nil }
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: TypeKey.self)
        let kind = try c.decodeIfPresent(String.self, forKey: TypeKey())
        guard let kind, let model = Self.models.first(where: { $0.kind == kind }) else {
            let kinds = Self.kinds.joined(separator: ", ")
            throw DecodingError.dataCorruptedError(
                forKey: TypeKey(), in: c,
                debugDescription: kind.map { "'\($0)' is not a deep CTR model that takes extra fields; backbones: \(kinds)" } ?? "the backbone needs a type: \(kinds)")
        }
        self.kind = kind
        configuration = try model.decode(decoder)
    }

    /// The model `kind` with every default.
    package init(kind: String) throws {
        guard let model = Self.models.first(where: { $0.kind == kind }) else { throw RecError(.plugin, "no deep CTR model '\(kind)'") }
        self.kind = kind
        configuration = try model.decode(EmptyDecoder())
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: TypeKey.self)
        try c.encode(kind, forKey: TypeKey())
        try configuration.encode(to: encoder)
    }

    package static func == (a: CTRBackbone, b: CTRBackbone) -> Bool {
        a.kind == b.kind && (try? canonicalJSON(a)) == (try? canonicalJSON(b))
    }

    /// The untrained scorer.
    package func make(context: ComponentContext) throws -> any DenseFieldsScorer {
        guard let model = Self.models.first(where: { $0.kind == kind }) else { throw RecError(.plugin, "no deep CTR model '\(kind)'") }
        return try model.make(configuration, context)
    }
}
