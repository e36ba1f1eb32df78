/// Role: writes one text field for every item before anything trains (LLM-Rec's rewritten
/// descriptions, KAR's item facts). The runner calls it in batches, stores each item's text as
/// an artifact as soon as its batch finishes, and adds the text to the item's fields under
/// the name the pipeline's `writes:` gives, where encoders, scorers and rankers read it.
public protocol ItemAugmenter: Component {
    /// Whether the text depends on the seed (sampled decoding). Greedy decoding does not, and
    /// then every seed of an experiment shares one text per item.
    var usesSeed: Bool { get }
    /// One text per item of `items`, in order. An item may have any subset of fields.
    func augment(items: [ItemText]) throws -> [String]
}

extension ItemAugmenter {
    public var usesSeed: Bool { false }
}

/// Capability: an item augmenter whose texts can depend on the training interactions
/// (LLM-Rec's engagement-guided prompts read each item's co-engaged neighbours). When
/// `readsTrainingInteractions` holds, the runner calls `augment(indices:items:training:)`
/// instead of `augment(items:)` and keys the stored texts by the split as well as the item.
public protocol ReadsTrainingInteractions {
    var readsTrainingInteractions: Bool { get }
    /// One text per entry of `indices`, which index the catalogue `items`.
    func augment(indices: [Int], items: [ItemText], training: TrainingSet) throws -> [String]
}

/// An artifact a derive stage produces from the training data (and what earlier stages added
/// to it: LLM text, item vectors), kept whole in the stage cache and handed to the pipeline's
/// head as a typed field of `TrainingSet.derived`.
public protocol DerivedArtifact: Codable, Sendable {
    /// What the artifact is, for errors and listings ("item graph").
    static var name: String { get }
    /// Where the artifact goes in `DerivedArtifacts`.
    static var slot: WritableKeyPath<DerivedArtifacts, Self?> { get }
}

/// Every derived artifact a pipeline's head may read, one typed field per kind.
public struct DerivedArtifacts: Sendable {
    /// Item-item edges (text-augmented graphs, content kNN).
    public var itemGraph: ItemGraph?
    /// Each item's tuple of codes (TIGER's semantic IDs).
    public var semanticIDs: SemanticIDs?

    public init(itemGraph: ItemGraph? = nil, semanticIDs: SemanticIDs? = nil) {
        self.itemGraph = itemGraph
        self.semanticIDs = semanticIDs
    }

    /// The names of the artifacts present.
    public var names: [String] { (itemGraph == nil ? [] : [ItemGraph.name]) + (semanticIDs == nil ? [] : [SemanticIDs.name]) }
}

/// Each item's semantic ID: `levels` codes of a residual quantiser, each in
/// `0..<codebookSize`, then one more code that tells apart the items whose quantised codes
/// collide (0 for the first of them, 1 for the next, ...), so that every item's ID is unique.
public struct SemanticIDs: DerivedArtifact, Equatable {
    public static let name = "semantic IDs"
    public static var slot: WritableKeyPath<DerivedArtifacts, SemanticIDs?> { \.semanticIDs }
    /// `[items][levels + 1]`.
    public var codes: [[Int32]]
    public var levels: Int
    public var codebookSize: Int
    /// What made the codes (`rqvae`, `residual_kmeans`, `random`).
    public var quantiser: String
    /// Per level, the share of the codebook that some item's code uses.
    public var usage: [Double]
    /// The share of items whose `levels` quantised codes another item has as well.
    public var collisionRate: Double
    /// The largest number of items that share one tuple of quantised codes.
    public var largestCollision: Int

    public init(codes: [[Int32]], levels: Int, codebookSize: Int, quantiser: String) {
        self.codes = codes
        self.levels = levels
        self.codebookSize = codebookSize
        self.quantiser = quantiser
        usage = (0..<levels).map { level in Double(Set(codes.map { $0[level] }).count) / Double(max(1, codebookSize)) }
        var groups: [ArraySlice<Int32>: Int] = [:]
        for id in codes { groups[id.prefix(levels), default: 0] += 1 }
        collisionRate = Double(groups.values.filter { $0 > 1 }.reduce(0, +)) / Double(max(1, codes.count))
        largestCollision = groups.values.max() ?? 0
    }

    /// Appends the disambiguating code to `quantised` (`[items][levels]`), in item order.
    public static func disambiguated(_ quantised: [[Int32]]) -> [[Int32]] {
        var seen: [[Int32]: Int32] = [:]
        return quantised.map { id in
            let next = seen[id, default: 0]
            seen[id] = next + 1
            return id + [next]
        }
    }
}

/// Item-item edges: `neighbours[i]` are item `i`'s neighbours, strongest first, with the
/// edge weights in `weights[i]`.
public struct ItemGraph: DerivedArtifact, Equatable {
    public static let name = "item graph"
    public static var slot: WritableKeyPath<DerivedArtifacts, ItemGraph?> { \.itemGraph }
    public var neighbours: [[Int32]]
    public var weights: [[Float]]

    public init(neighbours: [[Int32]], weights: [[Float]]) {
        self.neighbours = neighbours
        self.weights = weights
    }

    public var edgeCount: Int { neighbours.reduce(0) { $0 + $1.count } }
}

/// Role: builds a derived artifact (semantic IDs, graph edges) from the training set.
public protocol Deriver: Component {
    associatedtype Output: DerivedArtifact
    /// Whether the stage reads `TrainingSet.itemVectors` (so needs an encoder upstream).
    var readsItemVectors: Bool { get }
    /// Whether the output depends on the training interactions (then on the split), and on
    /// the seed. Both default to true; a deriver over item text alone says false to both, and
    /// one artifact then serves every split and seed.
    var readsInteractions: Bool { get }
    var usesSeed: Bool { get }
    func derive(from data: TrainingSet, context: TrainingContext) throws -> Output
}

extension Deriver {
    public var readsInteractions: Bool { true }
    public var usesSeed: Bool { true }
}

/// Capability: the component reads the encoder's vectors (`TrainingSet.userVectors`,
/// `itemVectors`); the plan checks that the pipeline encodes them.
public protocol ReadsVectors {
    var readsUserVectors: Bool { get }
    var readsItemVectors: Bool { get }
}

/// Capability: the component reads derived artifacts, named by `DerivedArtifact.name`; the
/// plan checks that a derive stage of the same pipeline produces each.
public protocol ReadsDerived {
    var readsDerived: [String] { get }
}

/// A deriver behind its output's encoding, as the registry hands it out: the runner stores
/// the bytes and installs them into the training set, without knowing the artifact's type.
public struct AnyDeriver: Sendable {
    public let kind: String
    public let output: String
    public let readsItemVectors: Bool
    public let readsInteractions: Bool
    public let usesSeed: Bool
    private let run: @Sendable (TrainingSet, TrainingContext) throws -> [UInt8]
    private let place: @Sendable ([UInt8], inout DerivedArtifacts) throws -> Void

    public init<D: Deriver>(_ deriver: D) {
        kind = D.kind
        output = D.Output.name
        readsItemVectors = deriver.readsItemVectors
        readsInteractions = deriver.readsInteractions
        usesSeed = deriver.usesSeed
        run = { data, context in
            let value = try deriver.derive(from: data, context: context)
            return Array(try canonicalJSON(value, keys: .asDeclared).utf8)
        }
        place = { bytes, artifacts in
            artifacts[keyPath: D.Output.slot] = try decodeJSON(D.Output.self, from: bytes)
        }
    }

    /// The artifact, encoded for the stage cache.
    public func derive(from data: TrainingSet, context: TrainingContext) throws -> [UInt8] { try run(data, context) }

    /// Decodes `bytes` (from `derive`, or the cache) into its field of `artifacts`.
    public func install(_ bytes: [UInt8], into artifacts: inout DerivedArtifacts) throws { try place(bytes, &artifacts) }
}
