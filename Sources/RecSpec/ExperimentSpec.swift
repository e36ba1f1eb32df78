import RecCore

/// A parsed experiment: data, protocol, pipelines and seeds, as one cell of a sweep sees it.
public struct ExperimentSpec: Sendable {
    public var name: String
    public var description: String?
    public var data: DataSpec
    public var evaluation: EvaluationSpec
    public var pipelines: [PipelineSpec]
    public var seeds: [UInt64]
}

extension ExperimentSpec: Decodable {
    /// The longest experiment or pipeline name accepted.
    public static let maxNameLength = 100

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, data, evaluation, pipelines, seeds, sweep, extends
        /// A free mapping that holds YAML anchors for reuse (`definitions: { bpr: &bpr {...} }`).
        case definitions
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        // The name becomes a file name (Reports/<name>.md), so it is short and plain.
        guard !name.isEmpty, name.count <= Self.maxNameLength, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
            name != ".", name != ".."
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .name, in: c, debugDescription: "'\(Excerpt.of(name))' must be a name of 1 to \(Self.maxNameLength) ASCII letters, digits, '-', '_' or '.'")
        }
        description = try c.decodeIfPresent(String.self, forKey: .description)
        data = try c.decode(DataSpec.self, forKey: .data)
        evaluation = try c.decode(EvaluationSpec.self, forKey: .evaluation)
        seeds = try c.decode(.seeds, default: [0])
        if seeds.isEmpty || Set(seeds).count != seeds.count {
            throw DecodingError.dataCorruptedError(forKey: .seeds, in: c, debugDescription: "seeds must be a non-empty list without repeats")
        }
        // Pipelines keep their file order, so reports list them as written.
        guard let node = (decoder as? NodeDecoding)?.node["pipelines"], let entries = node.entries, !entries.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .pipelines, in: c, debugDescription: "expected a non-empty mapping of pipeline names to pipelines")
        }
        let nested = try c.nestedContainer(keyedBy: AnyKey.self, forKey: .pipelines)
        for entry in entries where entry.key.isEmpty || entry.key.count > Self.maxNameLength || Excerpt.hasControlCharacters(entry.key) {
            throw RecError(
                .spec, "pipeline name '\(Excerpt.of(entry.key))' must be 1 to \(Self.maxNameLength) characters without line breaks or control characters",
                at: entry.keyLocation, key: "pipelines")
        }
        pipelines = try entries.map { entry in
            var pipeline = try nested.decode(PipelineSpec.self, forKey: AnyKey(entry.key))
            pipeline.name = entry.key
            return pipeline
        }
        // `sweep` and `extends` are applied before decoding; mark them as known keys.
        _ = c.contains(.sweep)
        _ = c.contains(.extends)
        _ = c.contains(.definitions)
        if let baseline = evaluation.baseline, !pipelines.contains(where: { $0.name == baseline }) {
            throw DecodingError.dataCorruptedError(
                forKey: .evaluation, in: c,
                debugDescription: "baseline '\(baseline)' is not a pipeline; pipelines: \(pipelines.map(\.name).joined(separator: ", "))")
        }
        for name in evaluation.compare.flatMap({ $0 }) where !pipelines.contains(where: { $0.name == name }) {
            throw DecodingError.dataCorruptedError(
                forKey: .evaluation, in: c,
                debugDescription: "compare names '\(name)', which is not a pipeline; pipelines: \(pipelines.map(\.name).joined(separator: ", "))")
        }
        for name in evaluation.margins.flatMap({ [$0.pipeline, $0.against] }) where !pipelines.contains(where: { $0.name == name }) {
            throw DecodingError.dataCorruptedError(
                forKey: .evaluation, in: c,
                debugDescription: "margins names '\(name)', which is not a pipeline; pipelines: \(pipelines.map(\.name).joined(separator: ", "))")
        }
    }
}

/// Where the data comes from and how it is filtered and split.
public struct DataSpec: Sendable, Codable, Equatable {
    /// A known dataset name (`ml-latest-small`, `ml-100k`, ...), resolved under the data root.
    public var dataset: String
    /// An explicit folder or file, overriding the dataset's default location.
    public var path: String?
    /// The file format when `path` is given (`movielens-100k`, `recbole`, ...).
    public var format: String?
    /// Keep only interactions with rating >= this (implicit feedback); nil keeps all.
    public var ratingThreshold: Double?
    /// k-core filtering: users and items with fewer interactions are removed, repeatedly.
    public var minUserInteractions: Int
    public var minItemInteractions: Int
    public var split: SplitSpec
    /// What to do with repeated (user, item) interactions: keep the latest (`keep_last`) or
    /// stop with an error (`refuse`).
    public var duplicates: DuplicatePolicy
    /// How interactions are labelled for pointwise tasks (`label: rating > 3`); every
    /// interaction is kept, unlike `rating_threshold`, which drops the rest.
    public var label: LabelRule?
    /// The share of users whose training interactions are training samples (`train_fraction:
    /// 0.25`, seeded by the split's seed); the other users' training interactions become history
    /// only, still read by models as the user's history. Nil: every user's.
    public var trainFraction: Double?

    public enum DuplicatePolicy: String, Sendable, Codable, CaseIterable {
        case keepLast = "keep_last", refuse
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataset, path, format, ratingThreshold, minUserInteractions, minItemInteractions, split, duplicates, label, trainFraction
    }

    /// `duplicates`, `label` and `train_fraction` are written only when they are not the
    /// default, so that cells keep the keys they had before any could be chosen.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dataset, forKey: .dataset)
        try c.encodeIfPresent(path, forKey: .path)
        try c.encodeIfPresent(format, forKey: .format)
        try c.encodeIfPresent(ratingThreshold, forKey: .ratingThreshold)
        try c.encode(minUserInteractions, forKey: .minUserInteractions)
        try c.encode(minItemInteractions, forKey: .minItemInteractions)
        try c.encode(split, forKey: .split)
        if duplicates != .keepLast { try c.encode(duplicates, forKey: .duplicates) }
        if let label { try c.encode(label.description, forKey: .label) }
        try c.encodeIfPresent(trainFraction, forKey: .trainFraction)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataset = try c.decode(.dataset, default: "ml-latest-small")
        path = try c.decodeIfPresent(String.self, forKey: .path)
        format = try c.decodeIfPresent(String.self, forKey: .format)
        ratingThreshold = try c.decodeIfPresent(Double.self, forKey: .ratingThreshold)
        minUserInteractions = try c.decode(.minUserInteractions, default: 0, in: 0...1_000_000)
        minItemInteractions = try c.decode(.minItemInteractions, default: 0, in: 0...1_000_000)
        split = try c.decode(.split, default: SplitSpec())
        let policy = try c.decode(.duplicates, default: "keep_last")
        guard let duplicates = DuplicatePolicy(rawValue: policy) else {
            throw DecodingError.dataCorruptedError(forKey: .duplicates, in: c, debugDescription: unknownChoice(policy, DuplicatePolicy.allCases.map(\.rawValue)))
        }
        self.duplicates = duplicates
        if let fraction = try c.decodeIfPresent(Double.self, forKey: .trainFraction) {
            guard fraction > 0 && fraction <= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .trainFraction, in: c, debugDescription: "expected a share of users in (0, 1], got \(fraction)")
            }
            trainFraction = fraction == 1 ? nil : fraction
        }
        if let rule = try c.decodeIfPresent(String.self, forKey: .label) {
            do {
                label = try LabelRule(parsing: rule)
            } catch let error as RecError {
                throw DecodingError.dataCorruptedError(forKey: .label, in: c, debugDescription: error.message)
            }
        }
    }
}

public struct SplitSpec: Sendable, Codable, Equatable {
    public typealias Method = SplitMethod

    public var method: Method
    /// Train/validation/test fractions for `temporal`, `random` and `user`.
    public var ratios: [Double]
    /// Seed of the split itself, kept apart from the run seeds so every pipeline and seed sees
    /// the same split (paired tests need that).
    public var seed: UInt64
    /// Whether each run seed draws its own split (`random` and `user`): five seeds then give
    /// five random train/test folds, as rating-prediction papers report. Cells with the same
    /// run seed still share one split, so the paired tests pair.
    public var perSeed: Bool
    /// Each user's first interactions are history only (`history_prefix: { fraction: 0.5,
    /// max: 30 }`, KAR's protocol): models read them as features, metrics never see them.
    public var historyPrefix: HistoryPrefix?
    /// A share of the test set's distinct items withheld from training and validation
    /// (`cold_items: 0.05`, TIGER's cold-start protocol): models meet them only at test time,
    /// and the metrics are reported again over the users whose test item is one of them.
    public var coldItems: Double?

    public init(
        method: Method = .leaveOneOut, ratios: [Double] = [0.8, 0.1, 0.1], seed: UInt64 = 2020, perSeed: Bool = false, historyPrefix: HistoryPrefix? = nil,
        coldItems: Double? = nil
    ) {
        self.method = method
        self.ratios = ratios
        self.seed = seed
        self.perSeed = perSeed
        self.historyPrefix = historyPrefix
        self.coldItems = coldItems
    }

    /// The seed of the split a cell with run seed `run` sees.
    public func seed(forRun run: UInt64) -> UInt64 {
        guard perSeed else { return seed }
        var mixer = SplitMix64(seed: seed ^ (run &* 0x9E37_79B9_7F4A_7C15))
        return mixer.next()
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case method, ratios, seed, perSeed, historyPrefix, coldItems }

    enum PrefixKeys: String, CodingKey, CaseIterable { case fraction, max }

    /// `per_seed`, `history_prefix` and `cold_items` are written only when set, so that cells
    /// keep their keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(ratios, forKey: .ratios)
        try c.encode(seed, forKey: .seed)
        if perSeed { try c.encode(perSeed, forKey: .perSeed) }
        if let historyPrefix { try c.encode(historyPrefix, forKey: .historyPrefix) }
        try c.encodeIfPresent(coldItems, forKey: .coldItems)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let methodName = try c.decode(.method, default: "leave_one_out")
        guard let method = Method(rawValue: methodName) else {
            throw DecodingError.dataCorruptedError(forKey: .method, in: c, debugDescription: unknownChoice(methodName, Method.allCases.map(\.rawValue)))
        }
        self.method = method
        ratios = try c.decode(.ratios, default: [0.8, 0.1, 0.1])
        guard ratios.count == 3, ratios.allSatisfy({ $0 >= 0 }), abs(ratios.reduce(0, +) - 1) < 1e-6 else {
            throw DecodingError.dataCorruptedError(forKey: .ratios, in: c, debugDescription: "expected three non-negative fractions (train, validation, test) summing to 1")
        }
        seed = try c.decode(.seed, default: 2020)
        perSeed = try c.decode(.perSeed, default: false)
        if c.contains(.historyPrefix) {
            let prefix = try c.nestedContainer(keyedBy: PrefixKeys.self, forKey: .historyPrefix)
            historyPrefix = HistoryPrefix(
                fraction: try prefix.decode(.fraction, default: 0.5, in: 0...1), max: try prefix.decode(.max, default: 30, in: 0...1_000_000))
        }
        if let share = try c.decodeIfPresent(Double.self, forKey: .coldItems) {
            guard share > 0 && share < 1 else {
                throw DecodingError.dataCorruptedError(forKey: .coldItems, in: c, debugDescription: "expected a share of the test items in (0, 1), got \(share)")
            }
            coldItems = share
        }
        if perSeed && (method == .leaveOneOut || method == .temporal) {
            throw DecodingError.dataCorruptedError(
                forKey: .perSeed, in: c, debugDescription: "per_seed draws a new split per run seed, which only the random and user splits have; \(method.rawValue) splits are the same for every seed")
        }
    }
}

/// The evaluation protocol and metrics, one switch per experiment.
public struct EvaluationSpec: Sendable, Codable, Equatable {
    public enum ProtocolKind: String, Sendable, Codable, CaseIterable {
        /// Ranking: the whole catalogue, sampled negatives, or a ranker over K candidates.
        case full, sampled, candidates
        /// Pointwise: a scorer's probabilities on labelled test pairs (AUC, GAUC, LogLoss).
        case ctr
        /// Pointwise: a scorer's predicted ratings on test pairs (RMSE, MAE, AUC by the label rule).
        case rating

        public var isPointwise: Bool { self == .ctr || self == .rating }

        /// The metrics computed when the spec lists none.
        public var defaultMetrics: [String] {
            switch self {
            case .full, .sampled, .candidates: return ["hr", "ndcg", "mrr", "recall"]
            case .ctr: return ["auc", "gauc", "logloss"]
            case .rating: return ["rmse", "mae"]
            }
        }

        /// The metrics this protocol can compute.
        public var validMetrics: [String] {
            switch self {
            case .full, .sampled, .candidates: return MetricCatalog.all.filter { !$0.requires.contains(.ratings) }.map(\.kind)
            case .ctr: return ["auc", "gauc", "logloss"]
            case .rating: return ["rmse", "mae", "auc", "gauc"]
            }
        }
    }

    public var `protocol`: ProtocolKind
    /// For `sampled`: negatives per positive, and how they are drawn.
    public var negatives: Int
    public var sampler: String
    /// For `candidates`: how many items the retriever hands the ranker.
    public var candidates: Int
    public var metrics: [String]
    public var cutoffs: [Int]
    /// The pipeline that significance tests compare against.
    public var baseline: String?
    /// Further pairs to test against each other, `[pipeline, against]` (report only).
    public var compare: [[String]]
    /// Claims that a pipeline comes within a margin of another, tested at every sweep point
    /// (report only).
    public var margins: [MarginSpec]
    /// How the report corrects its family of tests for multiple comparisons: `holm` (the
    /// default), `bh` (Benjamini-Hochberg) or `none` (report only).
    public var correction: String
    /// Seed of the negative sampler (shared by all cells, so they see the same negatives).
    public var seed: UInt64
    /// Users scored per batch in full ranking (bounds memory).
    public var batchUsers: Int
    /// Whether the user's training (and, at test, validation) items are excluded from the
    /// ranking. RecBole's sequential models rank every item (false).
    public var excludeKnown: Bool
    /// Evaluate a sample of this many test users (drawn with `seed`, the same for every cell);
    /// 0 evaluates all. For rankers and scorers that call a language model once per user or pair.
    public var users: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case `protocol`, negatives, sampler, candidates, metrics, cutoffs, baseline, compare, margins, correction, seed, batchUsers, excludeKnown, users
    }

    public static let corrections = ["holm", "bh", "none"]

    /// Every key but `exclude_known` and `users`, which are written only when not at their
    /// defaults, so that configurations (and cell keys) from before they existed stay the same.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(`protocol`, forKey: .protocol)
        try c.encode(negatives, forKey: .negatives)
        try c.encode(sampler, forKey: .sampler)
        try c.encode(candidates, forKey: .candidates)
        try c.encode(metrics, forKey: .metrics)
        try c.encode(cutoffs, forKey: .cutoffs)
        try c.encodeIfPresent(baseline, forKey: .baseline)
        if !compare.isEmpty { try c.encode(compare, forKey: .compare) }
        if !margins.isEmpty { try c.encode(margins, forKey: .margins) }
        if correction != "holm" { try c.encode(correction, forKey: .correction) }
        try c.encode(seed, forKey: .seed)
        try c.encode(batchUsers, forKey: .batchUsers)
        if !excludeKnown { try c.encode(excludeKnown, forKey: .excludeKnown) }
        if users > 0 { try c.encode(users, forKey: .users) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(.protocol, default: "full")
        guard let parsed = ProtocolKind(rawValue: kind) else {
            throw DecodingError.dataCorruptedError(forKey: .protocol, in: c, debugDescription: unknownChoice(kind, ProtocolKind.allCases.map(\.rawValue)))
        }
        `protocol` = parsed
        negatives = try c.decode(.negatives, default: 100, in: 1...100_000)
        sampler = try c.decode(.sampler, default: "uniform")
        guard ["uniform", "popularity"].contains(sampler) else {
            throw DecodingError.dataCorruptedError(forKey: .sampler, in: c, debugDescription: unknownChoice(sampler, ["uniform", "popularity"]))
        }
        candidates = try c.decode(.candidates, default: 50, in: 1...100_000)
        metrics = try c.decode(.metrics, default: parsed.defaultMetrics)
        guard !metrics.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .metrics, in: c, debugDescription: "expected at least one metric; valid: \(MetricCatalog.all.map(\.kind).joined(separator: ", "))")
        }
        if let repeated = metrics.firstRepeat {
            throw DecodingError.dataCorruptedError(forKey: .metrics, in: c, debugDescription: "metric '\(repeated)' is listed twice")
        }
        let valid = parsed.validMetrics
        for (index, metric) in metrics.enumerated() where !valid.contains(metric) {
            let known = MetricCatalog.definition(metric) != nil
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: c.codingPath + [CodingKeys.metrics, AnyKey(intValue: index)!],
                    debugDescription: known ? "metric '\(metric)' is not computed by the \(kind) protocol; valid: \(valid.joined(separator: ", "))" : unknownChoice(metric, valid)))
        }
        cutoffs = try c.decode(.cutoffs, default: [10])
        guard !cutoffs.isEmpty, cutoffs.allSatisfy({ $0 > 0 && $0 <= 10_000 }) else {
            throw DecodingError.dataCorruptedError(forKey: .cutoffs, in: c, debugDescription: "expected a non-empty list of cutoffs between 1 and 10000")
        }
        if let repeated = cutoffs.firstRepeat {
            throw DecodingError.dataCorruptedError(forKey: .cutoffs, in: c, debugDescription: "cutoff \(repeated) is listed twice")
        }
        baseline = try c.decodeIfPresent(String.self, forKey: .baseline)
        compare = try c.decode(.compare, default: [])
        guard compare.allSatisfy({ $0.count == 2 && $0[0] != $0[1] }) else {
            throw DecodingError.dataCorruptedError(forKey: .compare, in: c, debugDescription: "expected pairs of two different pipelines, e.g. [[palr-v2, palr-v1]]")
        }
        margins = try c.decode(.margins, default: [])
        correction = try c.decode(.correction, default: "holm")
        guard Self.corrections.contains(correction) else {
            throw DecodingError.dataCorruptedError(forKey: .correction, in: c, debugDescription: unknownChoice(correction, Self.corrections))
        }
        seed = try c.decode(.seed, default: 2020)
        batchUsers = try c.decode(.batchUsers, default: 512, in: 1...1_000_000)
        excludeKnown = try c.decode(.excludeKnown, default: true)
        users = try c.decode(.users, default: 0, in: 0...100_000_000)
        for (index, margin) in margins.enumerated() {
            guard let problem = margin.problem(in: self) else { continue }
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: c.codingPath + [CodingKeys.margins, AnyKey(intValue: index)!, MarginSpec.CodingKeys.metric], debugDescription: problem))
        }
    }
}

extension Array where Element: Hashable {
    /// The first element that occurs a second time, if any.
    var firstRepeat: Element? {
        var seen = Set<Element>()
        return first { !seen.insert($0).inserted }
    }
}

func unknownChoice(_ value: String, _ valid: [String]) -> String {
    var message = "unknown value '\(value)'; valid: \(valid.joined(separator: ", "))"
    if let near = nearest(value, in: valid) { message += " (did you mean '\(near)'?)" }
    return message
}
