import Foundation
import RecCore
import RecTensor

/// A feature-interaction CTR model: its kind, its configuration and (internally) its network.
/// `DeepCTR<Model>` is the scorer plugin; each model is one file.
public protocol DeepCTRModel: SendableMetatype {
    associatedtype Configuration: DeepCTRConfigurable
    static var kind: String { get }
    static var summary: String { get }
}

/// A network over one batch of field vectors: `logits` gives `[B, 1]`.
protocol CTRNetwork: AnyObject {
    /// Every tensor to optimise and checkpoint (buffers such as running statistics included),
    /// by a stable name.
    var parameters: [(String, Tensor)] { get }
    /// Longest behaviour sequence read (0: none).
    var behaviourLength: Int { get }
    func logits(_ batch: CTRBatch, training: Bool, rng: inout SplitMix64) -> Tensor
}

/// How a model builds its network; every `DeepCTRModel` conforms, internally.
protocol BuildsCTRNetwork: DeepCTRModel {
    static func network(_ configuration: Configuration, embedding: FieldEmbedding, rng: inout SplitMix64) -> any CTRNetwork
}

extension CTRNetwork {
    var behaviourLength: Int { 0 }
}

/// A deep CTR model as a `scorer` plugin on the `ctr` protocol: field embeddings shared by
/// every part of the model, its network, binary cross-entropy, AdamW with the configured
/// schedule, and the epoch with the best validation AUC kept (DeepCTRTrainer).
public struct DeepCTR<Model: DeepCTRModel>: Scorer, Trainable, Checkpointable, ReadsFeatures, ReadsBehaviour {
    public typealias Configuration = Model.Configuration

    public static var kind: String { Model.kind }
    public static var summary: String { Model.summary }
    public let configuration: Configuration
    public var predicts: PredictionKind { .probability }
    /// Extra field vectors the model is trained with (a wrapper such as KAR sets them before
    /// `fit` and `restore`).
    package var dense: (any DenseFields)?
    private var state: DeepCTRState?

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public var behaviourLength: Int { state?.network.behaviourLength ?? 0 }

    public func check(userFeatures: FeatureTable, itemFeatures: FeatureTable) throws {
        for name in configuration.common.training.fields { _ = try FieldLayout.resolve(name, users: userFeatures, items: itemFeatures) }
    }

    public mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard data.labelRule != nil else {
            throw RecError(.plugin, "CTR models train on labelled pairs; set a label rule under data (label: rating > 3)")
        }
        let common = configuration.common
        let names = common.training.fields.isEmpty ? FieldLayout.defaultFields(users: data.userFeatures, items: data.itemFeatures) : common.training.fields
        let layout = try FieldLayout(fieldNames: names, userCount: data.userCount, itemCount: data.itemCount, users: data.userFeatures, items: data.itemFeatures)
        var state = try DeepCTRState(Model.self, configuration, layout: layout, dense: dense, seed: context.seed)
        let replicas = try (0..<DeepCTRTrainer.shares).map { _ in try DeepCTRState(Model.self, configuration, layout: layout, dense: dense?.replica(), seed: 0) }
        context.report(.message("\(data.interactions.count) training pairs, fields \(names.joined(separator: ", ")), \(layout.rowCount) feature rows"))
        try DeepCTRTrainer(configuration: common).train(&state, replicas: replicas, on: data, context: context)
        self.state = state
    }

    public func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] {
        guard let state else { throw RecError(.plugin, "\(Self.kind) predicts before it was trained") }
        // Without timestamps, a pair's behaviour is the end of the user's given history.
        let behaviour: [ArraySlice<Interaction>]? =
            state.network.behaviourLength > 0
            ? users.map { user in
                let items = Int(user) < history.count ? history[Int(user)].suffix(state.network.behaviourLength) : []
                return ArraySlice(items.map { Interaction(user: user, item: $0, rating: 0) })
            } : nil
        return state.predict(users: users, items: items, behaviour: behaviour)
    }

    public func predict(_ pairs: [Interaction], timeline: Timeline) throws -> [Float] {
        guard let state else { throw RecError(.plugin, "\(Self.kind) predicts before it was trained") }
        let length = state.network.behaviourLength
        return state.predict(users: pairs.map(\.user), items: pairs.map(\.item), behaviour: length > 0 ? pairs.map { timeline.before($0, limit: length) } : nil)
    }

    public func checkpoint() throws -> [UInt8] {
        guard let state else { throw RecError(.plugin, "\(Self.kind) has no trained state to checkpoint") }
        return state.checkpoint()
    }

    public mutating func restore(from bytes: [UInt8]) throws {
        var reader = CheckpointReader(bytes, model: Self.kind)
        let layout = try FieldLayout(from: &reader)
        var state = try DeepCTRState(Model.self, configuration, layout: layout, dense: dense, seed: 0)
        try state.read(&reader)
        try reader.finish()
        self.state = state
    }
}

/// A trained or training model: the field layout, the embedding tables and the network.
/// Reference types inside (tensors, layers), mutated only by `fit` and `restore`, which own the
/// scorer exclusively; scoring reads them (inference keeps no state).
struct DeepCTRState: @unchecked Sendable {
    var embedding: FieldEmbedding
    var network: any CTRNetwork

    init<Model: DeepCTRModel>(_: Model.Type, _ configuration: Model.Configuration, layout: FieldLayout, dense: (any DenseFields)? = nil, seed: UInt64) throws {
        guard let builder = Model.self as? any BuildsCTRNetwork.Type else {
            throw RecError(.plugin, "\(Model.kind) has no network builder")
        }
        var rng = SplitMix64(seed: seed).derived("ctr-init")
        embedding = FieldEmbedding(layout: layout, width: configuration.common.embedding, dense: dense, rng: &rng)
        network = try Self.build(builder, configuration, embedding: embedding, rng: &rng)
    }

    private static func build<B: BuildsCTRNetwork>(_: B.Type, _ configuration: any DeepCTRConfigurable, embedding: FieldEmbedding, rng: inout SplitMix64) throws -> any CTRNetwork {
        guard let configuration = configuration as? B.Configuration else { throw RecError(.plugin, "\(B.kind): configuration of the wrong type") }
        return B.network(configuration, embedding: embedding, rng: &rng)
    }

    var parameters: [(String, Tensor)] { embedding.parameters + network.parameters }

    /// Probabilities for pairs, 8192 at a time on every core, without recording gradients. BLAS
    /// runs single-threaded meanwhile, so that every product is computed the same way whatever
    /// else the process does (OpenBLAS's results can depend on its thread count).
    func predict(users: [Int32], items: [Int32], behaviour: [ArraySlice<Interaction>]?) -> [Float] {
        let chunk = 8192
        let starts = Array(stride(from: 0, to: users.count, by: chunk))
        let out = UncheckedSendable(UnsafeMutableBufferPointer<Float>.allocate(capacity: users.count))
        defer { out.value.deallocate() }
        BLASThreads.single {
            parallelChunks(starts.count) { worker, workers in
                for index in stride(from: worker, to: starts.count, by: workers) {
                    let start = starts[index], end = min(users.count, start + chunk)
                    var rng = SplitMix64(seed: 0)
                    // The lookups (and any dense fields' layers) record no graph either.
                    let logits = Tensor.noGrad {
                        let batch = embedding.batch(
                            users: Array(users[start..<end]), items: Array(items[start..<end]), behaviour: behaviour.map { Array($0[start..<end]) },
                            length: network.behaviourLength, rng: &rng)
                        return network.logits(batch, training: false, rng: &rng)
                    }
                    for (offset, logit) in logits.data.enumerated() { out.value[start + offset] = 1 / (1 + exp(-logit)) }
                }
            }
        }
        return Array(out.value)
    }

    func checkpoint() -> [UInt8] {
        var writer = CheckpointWriter()
        embedding.layout.write(to: &writer)
        let parameters = self.parameters
        writer.int(parameters.count)
        for (name, tensor) in parameters {
            writer.string(name)
            writer.floats(tensor.data)
        }
        return writer.bytes
    }

    mutating func read(_ reader: inout CheckpointReader) throws {
        let parameters = self.parameters
        guard try reader.count(atMost: 100_000) == parameters.count else {
            throw RecError(.plugin, "checkpoint holds another number of tensors than this configuration builds")
        }
        for (name, tensor) in parameters {
            let stored = try reader.string(), values = try reader.floats()
            guard stored == name, values.count == tensor.count else {
                throw RecError(.plugin, "checkpoint tensor '\(Excerpt.of(stored))' (\(values.count) values) does not match '\(name)' (\(tensor.count))")
            }
            tensor.data = values
        }
    }

    /// A copy of every tensor's values (the best epoch's, for early stopping).
    var snapshot: [[Float]] { parameters.map(\.1.data) }

    func load(_ snapshot: [[Float]]) {
        for ((_, tensor), values) in zip(parameters, snapshot) { tensor.data = values }
    }
}
