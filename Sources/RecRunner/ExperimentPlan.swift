import Foundation
import RecCore
import RecEval
import RecSpec
import RecStore

/// A spec expanded into cells: every (sweep point, pipeline, seed), with identical cells merged.
public struct ExperimentPlan: Sendable {
    public struct Cell: Sendable {
        /// SHA-256 of `configJSON`: the cell's identity in the store and the stage cache.
        public var key: String
        public var pipeline: PipelineSpec
        public var spec: ExperimentSpec
        public var sweepLabel: String
        public var seed: UInt64
        public var configJSON: String
        /// The resolved configuration of the pipeline's head (its retriever or scorer).
        public var headJSON: String
        /// The folder of the spec file; relative data paths are resolved against it.
        public var specDirectory: String
    }

    public var loaded: LoadedSpec
    public var cells: [Cell]
    public var info: ExperimentInfo

    /// Expands `loaded`, checking every plugin configuration against `registry` (so `validate`
    /// catches a bad plugin key before anything runs).
    public init(_ loaded: LoadedSpec, registry: Registry) throws {
        self.loaded = loaded
        var cells: [Cell] = []
        var seenKeys = Set<String>()
        var points: [ExperimentInfo.Point] = []
        var components: [String: String] = [:]
        for point in loaded.points {
            let spec = point.spec
            try Self.check(spec)
            var refs: [ExperimentInfo.CellRef] = []
            for pipeline in spec.pipelines {
                let headRole = pipeline.retriever != nil ? "retriever" : "scorer"
                let headJSON = try Self.resolve(pipeline.head, registry: registry, role: headRole)
                if let scorer = pipeline.scorer {
                    let predicts = try registry.makeScorer(kind: scorer.kind, configuration: scorer, context: ComponentContext(seed: 0)).0.predicts
                    let needed: PredictionKind = spec.evaluation.protocol == .ctr ? .probability : .rating
                    guard predicts == needed else {
                        throw RecError(
                            .spec,
                            "scorer '\(scorer.kind)' of pipeline '\(pipeline.name)' predicts \(predicts == .rating ? "ratings" : "probabilities"); the \(spec.evaluation.protocol.rawValue) protocol needs \(needed == .rating ? "ratings" : "probabilities")",
                            at: scorer.typeLocation, key: "pipelines.\(pipeline.name).scorer.type")
                    }
                }
                let rankerJSON = try pipeline.ranker.map { try Self.resolve($0, registry: registry, role: "ranker") }
                let augmenterJSON = try pipeline.augmenter.map { try Self.resolve($0, registry: registry, role: "augmenter") }
                let encoderJSON = try pipeline.encoder.map { try Self.resolve($0, registry: registry, role: "encoder") }
                let stages = try Self.stages(of: pipeline, registry: registry)
                let (augmentPart, derivePart) = stages.cellKeyParts
                if point.isBase {
                    components[pipeline.name] =
                        Self.describe(pipeline.head.kind, headJSON)
                        + (pipeline.augmenter.map { " + " + Self.describe($0.kind, augmenterJSON ?? "{}") } ?? "")
                        + (pipeline.augmenterImport.map { " (imported from \(($0 as NSString).lastPathComponent))" } ?? "")
                        + (pipeline.ranker.map { " → " + Self.describe($0.kind, rankerJSON ?? "{}") } ?? "")
                        + (pipeline.encoder.map { ", items encoded by " + Self.describe($0.kind, encoderJSON ?? "{}") + " from " + Self.describeFields(pipeline) } ?? "")
                        + (pipeline.encodeUserFields.isEmpty ? "" : ", users from " + pipeline.encodeUserFields.joined(separator: ", "))
                        + (stages.description.isEmpty ? "" : "; before training: " + stages.description)
                }
                // The augmenter is written only when there is one, so that cells from before
                // augmenters existed keep their keys.
                let imported = try pipeline.augmenterImport.map { ",\"import\":" + (try canonicalJSON($0)) } ?? ""
                let augmenterPart = augmenterJSON.map { "\"augmenter\":{\"type\":\"\(pipeline.augmenter!.kind)\",\"config\":\($0)\(imported)}," } ?? ""
                for seed in spec.seeds {
                    var evaluation = spec.evaluation
                    evaluation.baseline = nil
                    evaluation.compare = []
                    evaluation.margins = []
                    evaluation.correction = "holm"
                    evaluation.batchUsers = 0
                    // The encoder, too, is written only when there is one (and its user fields
                    // only when it encodes users).
                    let encoderPart =
                        try encoderJSON.map {
                            "\"encoder\":{\"type\":\"\(pipeline.encoder!.kind)\",\"config\":\($0),\"fields\":\(try pipeline.encodeGroups.map { try canonicalJSON($0) } ?? canonicalJSON(pipeline.encodeFields))"
                                + (pipeline.encodeUserFields.isEmpty ? "" : ",\"user_fields\":\(try canonicalJSON(pipeline.encodeUserFields))") + "},"
                        } ?? ""
                    let json =
                        "{" + augmentPart + augmenterPart + "\"data\":\(try canonicalJSON(spec.data))," + derivePart + encoderPart + "\"evaluation\":\(try canonicalJSON(evaluation)),"
                        + "\"ranker\":\(rankerJSON.map { "{\"type\":\"\(pipeline.ranker!.kind)\",\"config\":\($0)}" } ?? "null"),"
                        + "\"retriever\":" + (pipeline.retriever.map { "{\"type\":\"\($0.kind)\",\"config\":\(headJSON)}" } ?? "null") + ","
                        + (pipeline.scorer.map { "\"scorer\":{\"type\":\"\($0.kind)\",\"config\":\(headJSON)}," } ?? "")
                        + "\"seed\":\(seed)}"
                    let key = SHA256.hex(json)
                    refs.append(ExperimentInfo.CellRef(pipeline: pipeline.name, seed: seed, key: key))
                    if seenKeys.insert(key).inserted {
                        cells.append(
                            Cell(
                                key: key, pipeline: pipeline, spec: spec, sweepLabel: point.label, seed: seed, configJSON: json, headJSON: headJSON,
                                specDirectory: URL(fileURLWithPath: loaded.file).deletingLastPathComponent().path))
                    }
                }
            }
            points.append(ExperimentInfo.Point(label: point.label, cells: refs, settings: point.settings.isEmpty ? nil : point.settings.map { [$0.path, $0.value] }))
        }
        self.cells = cells
        let base = loaded.base
        info = ExperimentInfo(
            name: base.name, description: base.description, specFile: loaded.file,
            dataset: base.data.path.map { "\(base.data.dataset) (\($0))" } ?? base.data.dataset,
            split: Self.describeSplit(base.data),
            protocolDescription: Self.describeProtocol(base),
            metrics: base.evaluation.metrics, cutoffs: base.evaluation.cutoffs, baseline: base.evaluation.baseline,
            seeds: base.seeds, pipelines: base.pipelines.map(\.name), pipelineComponents: components, points: points,
            overrides: loaded.overrides.isEmpty ? nil : loaded.overrides,
            comparisons: base.evaluation.compare.isEmpty ? nil : base.evaluation.compare,
            correction: base.evaluation.correction,
            margins: base.evaluation.margins.isEmpty ? nil : base.evaluation.margins.map { .init(pipeline: $0.pipeline, against: $0.against, metric: $0.metric, margin: $0.margin) })
    }

    /// The cells of shard `index` of `count` (0-based) with their plan indexes: every count-th
    /// cell, so shards are balanced and deterministic.
    public func shard(_ index: Int, of count: Int) -> [(index: Int, cell: Cell)] {
        cells.enumerated().filter { $0.offset % count == index }.map { (index: $0.offset, cell: $0.element) }
    }

    public var storedCells: [ResultStore.PlannedCell] {
        cells.map {
            ResultStore.PlannedCell(key: $0.key, pipeline: $0.pipeline.name, sweepLabel: $0.sweepLabel, seed: $0.seed, configHash: String($0.key.prefix(12)), configJSON: $0.configJSON)
        }
    }

    /// The ranking protocol of a ranking spec (nil for `ctr` and `rating`).
    static func evaluationProtocol(_ spec: EvaluationSpec) -> EvaluationProtocol? {
        switch spec.protocol {
        case .full: return .full
        case .sampled: return .sampled(negatives: spec.negatives, byPopularity: spec.sampler == "popularity", seed: spec.seed)
        case .candidates: return .candidates(k: spec.candidates)
        case .ctr, .rating: return nil
        }
    }

    static func describeProtocol(_ spec: ExperimentSpec) -> String {
        let evaluation = spec.evaluation
        let sample = evaluation.users > 0 ? "; the test pairs of a fixed sample of \(evaluation.users) test users (seed \(evaluation.seed)), the same in every cell" : ""
        switch evaluation.protocol {
        case .ctr:
            return "ctr: the scorer's probabilities on every labelled test pair (label \(spec.data.label?.description ?? "?")); AUC over all pairs, GAUC weighted by each user's pairs, LogLoss"
                + sample
        case .rating:
            var text = "rating: the scorer's predicted ratings on every test pair; RMSE and MAE over all pairs"
            if let label = spec.data.label { text += ", AUC with \(label) as positive" }
            return text + sample
        case .full where !evaluation.excludeKnown:
            return "full ranking over all items, the user's known items included (exclude_known: false, RecBole's protocol for sequential models)"
        default:
            return evaluationProtocol(evaluation)!.description
        }
    }

    static func describeSplit(_ data: DataSpec) -> String {
        var parts = [data.split.method.rawValue.replacingOccurrences(of: "_", with: "-")]
        if data.split.method != .leaveOneOut { parts.append("ratios \(data.split.ratios.map { String($0) }.joined(separator: "/"))") }
        if data.split.method == .random || data.split.method == .user { parts.append("seed \(data.split.seed)") }
        if data.split.perSeed { parts.append("a new split per run seed") }
        if let prefix = data.split.historyPrefix {
            parts.append("each user's first min(⌊(n + 1) × \(prefix.fraction)⌋, \(prefix.max)) interactions history only")
        }
        if let share = data.split.coldItems {
            parts.append("\(String(format: "%g", share * 100))% of the test items withheld from training and validation (cold-start items, seed \(data.split.seed))")
        }
        if let threshold = data.ratingThreshold { parts.append("ratings >= \(threshold) kept") }
        if let label = data.label { parts.append("label \(label)") }
        if let fraction = data.trainFraction {
            parts.append("training samples from \(String(format: "%g", fraction * 100))% of the users (the rest history only)")
        }
        if data.minUserInteractions > 1 || data.minItemInteractions > 1 {
            parts.append("k-core users >= \(data.minUserInteractions), items >= \(data.minItemInteractions)")
        }
        return parts.joined(separator: ", ")
    }

    /// `ease(l2=250)` from a kind and its canonical configuration.
    /// The encoded item fields as the report names them: `title, genres`, or for groups
    /// `[title, genres] + [rec]` (their vectors concatenated).
    static func describeFields(_ pipeline: PipelineSpec) -> String {
        guard let groups = pipeline.encodeGroups else { return pipeline.encodeFields.joined(separator: ", ") }
        return groups.map { "[" + $0.joined(separator: ", ") + "]" }.joined(separator: " + ") + " (vectors concatenated)"
    }

    static func describe(_ kind: String, _ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], !object.isEmpty else { return kind }
        let pairs = object.keys.sorted().map { "\($0)=\(flowYAML(object[$0]!))" }
        return pairs.isEmpty ? kind : "\(kind)(\(pairs.joined(separator: ", ")))"
    }

    private static func resolve(_ component: ComponentSpec, registry: Registry, role: String) throws -> String {
        try locatingRegistryErrors(at: component, key: (component.keyPath + ["type"]).joined(separator: ".")) {
            let context = ComponentContext(seed: 0)
            if role == "retriever" {
                return try registry.makeRetriever(kind: component.kind, configuration: component, context: context).1
            }
            if role == "scorer" {
                return try registry.makeScorer(kind: component.kind, configuration: component, context: context).1
            }
            if role == "encoder" {
                return try registry.makeEncoder(kind: component.kind, configuration: component, context: context).1
            }
            if role == "augmenter" {
                return try registry.makeAugmenter(kind: component.kind, configuration: component, context: context).1
            }
            return try registry.makeRanker(kind: component.kind, configuration: component, context: context).1
        }
    }

    /// Runs `body`, turning a registry error (an unknown kind, a kind of another role) into a
    /// spec error located at the slot's `type:` under `key`.
    static func locatingRegistryErrors<T>(at component: ComponentSpec, key: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as RecError where error.kind == .registry {
            error.kind = .spec
            error.location = component.typeLocation
            error.keyPath = key
            throw error
        }
    }

    private static func check(_ spec: ExperimentSpec) throws {
        let evaluation = spec.evaluation
        let pointwise = evaluation.protocol.isPointwise
        for pipeline in spec.pipelines {
            let key = "pipelines.\(pipeline.name)"
            if pointwise, let retriever = pipeline.retriever {
                throw RecError(
                    .spec, "pipeline '\(pipeline.name)' has a retriever and no scorer, but the \(evaluation.protocol.rawValue) protocol scores (user, item) pairs; give it a 'scorer:'",
                    at: retriever.node.location, key: key + ".retriever")
            }
            if !pointwise, let scorer = pipeline.scorer {
                throw RecError(
                    .spec, "pipeline '\(pipeline.name)' has a scorer, which needs 'protocol: ctr' or 'protocol: rating' under evaluation",
                    at: scorer.node.location, key: key + ".scorer")
            }
            if pointwise, let slot = pipeline.ranker ?? pipeline.augmenter {
                throw RecError(
                    .spec, "pipeline '\(pipeline.name)' has a \(pipeline.ranker != nil ? "ranker" : "augmenter"), which the \(evaluation.protocol.rawValue) protocol does not use",
                    at: slot.node.location, key: key + (pipeline.ranker != nil ? ".ranker" : ".augmenter"))
            }
        }
        if pointwise && spec.data.split.coldItems != nil {
            throw RecError(
                .spec, "cold_items reports ranking metrics over the users whose test item was withheld from training; the \(evaluation.protocol.rawValue) protocol scores pairs instead",
                key: "data.split.cold_items")
        }
        if evaluation.protocol == .ctr && spec.data.label == nil {
            throw RecError(.spec, "the ctr protocol needs labelled pairs: set a label rule under data, e.g. 'label: rating > 3'", key: "evaluation.protocol")
        }
        if evaluation.protocol == .rating, spec.data.label == nil, let metric = evaluation.metrics.first(where: { $0 == "auc" || $0 == "gauc" }) {
            throw RecError(.spec, "\(metric) in the rating protocol counts ratings under the label rule as positive: set one under data, e.g. 'label: rating >= 4'", key: "evaluation.metrics")
        }
        for pipeline in spec.pipelines where pipeline.augmenter != nil && pipeline.ranker == nil {
            throw RecError(
                .spec, "pipeline '\(pipeline.name)' has an augmenter but no ranker to read what it writes",
                at: pipeline.augmenter!.node.location, key: "pipelines.\(pipeline.name).augmenter")
        }
        for pipeline in spec.pipelines where pipeline.ranker != nil && evaluation.protocol != .candidates {
            throw RecError(
                .spec, "pipeline '\(pipeline.name)' has a ranker, which needs 'protocol: candidates' under evaluation",
                at: pipeline.ranker!.node.location, key: "pipelines.\(pipeline.name).ranker")
        }
        if evaluation.protocol == .candidates, let deepest = evaluation.cutoffs.max(), deepest > evaluation.candidates {
            throw RecError(.spec, "cutoff \(deepest) is deeper than the \(evaluation.candidates) candidates", key: "evaluation.cutoffs")
        }
    }
}
