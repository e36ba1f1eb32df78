/// What every plugin shares: a typed configuration decoded strictly from YAML and a stable kind.
public protocol Component: Sendable {
    associatedtype Configuration: Codable & Sendable & Equatable
    /// The `type:` value in YAML, e.g. `"ease"`.
    static var kind: String { get }
    /// One line for `reclab list`.
    static var summary: String { get }
    var configuration: Configuration { get }
    init(configuration: Configuration, context: ComponentContext) throws
}

/// What a component may use while it is built, each as a typed field: a seed for its own
/// random stream, where artifacts are kept (trained adapters, generated text), the call cache
/// of language models, and the progress reporter. Outside a run (validation, tests) the
/// services are nil and components work without them.
public struct ComponentContext: Sendable {
    public var seed: UInt64
    public var artifacts: (any ArtifactStore)?
    public var languageModelCache: (any LanguageModelCallCache)?
    public var progress: ProgressReporter?

    public init(
        seed: UInt64, artifacts: (any ArtifactStore)? = nil, languageModelCache: (any LanguageModelCallCache)? = nil,
        progress: ProgressReporter? = nil
    ) {
        self.seed = seed
        self.artifacts = artifacts
        self.languageModelCache = languageModelCache
        self.progress = progress
    }
}

/// Where the runner keeps stage outputs: bytes under a content key, with a kind for listings.
/// The results store implements it; a component asks for an artifact before it recomputes it.
public protocol ArtifactStore: Sendable {
    func artifact(_ key: String) throws -> [UInt8]?
    func putArtifact(_ key: String, kind: String, data: [UInt8]) throws
}

/// Events a training loop reports: epochs, losses, timings. The runner turns them into progress
/// lines; tests collect them.
public struct TrainingContext: Sendable {
    public var seed: UInt64
    public var report: @Sendable (TrainingEvent) -> Void

    public init(seed: UInt64, report: @escaping @Sendable (TrainingEvent) -> Void = { _ in }) {
        self.seed = seed
        self.report = report
    }
}

public enum TrainingEvent: Sendable, Equatable {
    case epochEnd(epoch: Int, of: Int, loss: Double)
    /// A validation metric measured after `epoch` (for early stopping), named as in reports
    /// (`ndcg@10`, `auc`).
    case validation(epoch: Int, metric: String, value: Double)
    case message(String)
}

/// Capability: the component learns from training data.
public protocol Trainable {
    mutating func fit(_ data: TrainingSet, context: TrainingContext) throws
}

/// Capability: the component's trained state can be saved as bytes and restored, so the
/// runner's stage cache can hand a later cell (or a later run) the trained model.
public protocol Checkpointable {
    func checkpoint() throws -> [UInt8]
    mutating func restore(from bytes: [UInt8]) throws
}

/// Capability: the model reads a user's sequence up to the predicted item. At test time the
/// runner hands it training plus validation items (as RecBole does for sequential models);
/// other retrievers read the training items only.
public protocol SequenceAware {}

/// Role: scores the whole catalogue for a user; top-K of that is retrieval.
public protocol Retriever: Component {
    /// Writes the score of every item for each user into `scores`, row-major
    /// `[users.count, itemCount]`. Higher is better. `history[u]` is what the model may read about
    /// user `u` (their training items, in time order).
    func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws
}

/// What a pointwise scorer's numbers mean.
public enum PredictionKind: String, Sendable, Codable {
    /// A click (or like) probability in [0, 1]: the `ctr` protocol.
    case probability
    /// A predicted rating on the data's scale: the `rating` protocol.
    case rating
}

/// Role: predicts one number per (user, item) pair: a probability for CTR tasks, a rating for
/// rating prediction. It learns from labelled pairs (`TrainingSet.label`) and features
/// (`TrainingSet.userFeatures`, `itemFeatures`) when it is also `Trainable`.
public protocol Scorer: Component {
    /// What `predict` returns; the protocol checks that it fits (`ctr` needs probabilities).
    var predicts: PredictionKind { get }
    /// One prediction per pair `(users[i], items[i])`. `history[u]` is what the model may read
    /// about user `u` (their training items in time order); pairs may name users and items it
    /// never saw in training.
    func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float]
}

/// Capability: the component reads named user or item feature fields. The runner calls
/// `check` with the prepared data before any cell runs, so a field that is missing or of the
/// wrong type stops the run with the slot's location and nothing stored.
public protocol ReadsFeatures {
    /// - Throws: `RecError(.spec)` whose key path is relative to the component's slot
    ///   (`fields`), naming the field and what is wrong with it.
    func check(userFeatures: FeatureTable, itemFeatures: FeatureTable) throws
}

/// An item with a score, as rankers return them.
public struct ScoredItem: Sendable, Hashable {
    public var item: Int32
    public var score: Float

    public init(item: Int32, score: Float) {
        self.item = item
        self.score = score
    }
}

/// What a ranker is asked: order these candidates for this user.
public struct RankRequest: Sendable {
    public var user: Int32
    public var history: [Int32]
    /// The retriever's candidates, best first.
    public var candidates: [Int32]
    /// What the pipeline's knowledge augmenter wrote about the user (a profile), if it has one.
    public var knowledge: String?

    public init(user: Int32, history: [Int32], candidates: [Int32], knowledge: String? = nil) {
        self.user = user
        self.history = history
        self.candidates = candidates
        self.knowledge = knowledge
    }
}

/// Role: re-orders a candidate list (an LLM ranker, a CTR model, an MLP over embeddings).
public protocol Ranker: Component {
    func rank(_ request: RankRequest) throws -> [ScoredItem]
    /// Many users at once (a language model's batched path); by default one after another.
    func rank(_ requests: [RankRequest]) throws -> [[ScoredItem]]
}

extension Ranker {
    public func rank(_ requests: [RankRequest]) throws -> [[ScoredItem]] { try requests.map { try rank($0) } }
}

/// Role: derives text about users (profiles), stored as artifacts. `items` is the catalogue's
/// text, indexed by item.
public protocol KnowledgeAugmenter: Component {
    func augment(user: Int32, history: [Int32], items: [ItemText]) throws -> String
    /// Many users at once (a language model's batched path); by default one after another.
    func augment(users: [UserHistory], items: [ItemText]) throws -> [String]
}

extension KnowledgeAugmenter {
    public func augment(users: [UserHistory], items: [ItemText]) throws -> [String] {
        try users.map { try augment(user: $0.user, history: $0.history, items: items) }
    }
}

/// A user and what they interacted with, in order: with the ratings (parallel to `history`)
/// and the user's features as text (`FeatureTable.values(of:)`) where the caller has them.
public struct UserHistory: Sendable, Equatable {
    public var user: Int32
    public var history: [Int32]
    public var ratings: [Float]
    public var features: [String: String]

    public init(user: Int32, history: [Int32], ratings: [Float] = [], features: [String: String] = [:]) {
        self.user = user
        self.history = history
        self.ratings = ratings
        self.features = features
    }
}

/// Capability: the component counts events worth reporting beside the metrics (for LLM
/// rankers: outputs rejected because they named no candidate) and keeps a few examples of its
/// work (a prompt and the answer) for the report to quote. The runner stores both with the
/// cell's results after evaluation.
public protocol Diagnosing {
    func diagnostics() -> [String: Int]
    func examples() -> [String]
    /// What the counts mean, in a sentence or two for the report (nil: nothing to explain).
    var countsNote: String? { get }
}

extension Diagnosing {
    public var countsNote: String? { nil }
}

/// Role "Encoder": turns text into vectors. (Named `TextEncoder` so that it does not shadow
/// `Swift.Encoder` in every plugin that writes `encode(to:)`.)
public protocol TextEncoder: Component {
    var dimension: Int { get }
    /// Whether a text's vector depends on the other texts encoded with it (corpus statistics
    /// such as IDF); caches then key on the whole corpus as well as the text.
    var corpusDependent: Bool { get }
    /// One vector of `dimension` floats per text, in order.
    func encode(_ texts: [String]) throws -> [[Float]]
}

extension TextEncoder {
    public var corpusDependent: Bool { false }
}

/// What an evaluator may ask the runner to compute once per cell.
public enum EvaluationInput: String, Sendable, Hashable, CaseIterable {
    /// The ranked top-K list and the user's held-out items.
    case topK
    /// Predicted scores with binary labels (AUC, LogLoss).
    case labelledScores
    /// Predicted and true ratings (RMSE, MAE).
    case ratings
    /// Training popularity of items.
    case itemPopularity
}

/// Role: one family of metrics. Evaluators declare what they need and whether higher is
/// better; the evaluation computes each declared input once per cell and only when some
/// requested evaluator needs it.
public protocol Evaluator: Sendable {
    /// The metric name in YAML (`ndcg`).
    var kind: String { get }
    var requires: Set<EvaluationInput> { get }
    var higherIsBetter: Bool { get }
    /// Whether the metric takes a cutoff (`@K`).
    var usesCutoff: Bool { get }
}
