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
        public var retrieverJSON: String
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
                let retrieverJSON = try Self.resolve(pipeline.retriever, registry: registry, role: "retriever")
                let rankerJSON = try pipeline.ranker.map { try Self.resolve($0, registry: registry, role: "ranker") }
                let augmenterJSON = try pipeline.augmenter.map { try Self.resolve($0, registry: registry, role: "augmenter") }
                if point.isBase {
                    components[pipeline.name] = Self.describe(pipeline.retriever.kind, retrieverJSON)
                        + (pipeline.augmenter.map { " + " + Self.describe($0.kind, augmenterJSON ?? "{}") } ?? "")
                        + (pipeline.ranker.map { " → " + Self.describe($0.kind, rankerJSON ?? "{}") } ?? "")
                }
                // The augmenter is written only when there is one, so that cells from before
                // augmenters existed keep their keys.
                let augmenterPart = augmenterJSON.map { "\"augmenter\":{\"type\":\"\(pipeline.augmenter!.kind)\",\"config\":\($0)}," } ?? ""
                for seed in spec.seeds {
                    var evaluation = spec.evaluation
                    evaluation.baseline = nil
                    evaluation.compare = []
                    evaluation.batchUsers = 0
                    let json = "{" + augmenterPart + "\"data\":\(try canonicalJSON(spec.data)),\"evaluation\":\(try canonicalJSON(evaluation)),"
                        + "\"ranker\":\(rankerJSON.map { "{\"type\":\"\(pipeline.ranker!.kind)\",\"config\":\($0)}" } ?? "null"),"
                        + "\"retriever\":{\"type\":\"\(pipeline.retriever.kind)\",\"config\":\(retrieverJSON)},\"seed\":\(seed)}"
                    let key = SHA256.hex(json)
                    refs.append(ExperimentInfo.CellRef(pipeline: pipeline.name, seed: seed, key: key))
                    if seenKeys.insert(key).inserted {
                        cells.append(Cell(key: key, pipeline: pipeline, spec: spec, sweepLabel: point.label, seed: seed, configJSON: json, retrieverJSON: retrieverJSON,
                                          specDirectory: URL(fileURLWithPath: loaded.file).deletingLastPathComponent().path))
                    }
                }
            }
            points.append(ExperimentInfo.Point(label: point.label, cells: refs))
        }
        self.cells = cells
        let base = loaded.base
        info = ExperimentInfo(
            name: base.name, description: base.description, specFile: loaded.file,
            dataset: base.data.path.map { "\(base.data.dataset) (\($0))" } ?? base.data.dataset,
            split: Self.describeSplit(base.data),
            protocolDescription: base.evaluation.excludeKnown || base.evaluation.protocol != .full
                ? Self.evaluationProtocol(base.evaluation).description
                : "full ranking over all items, the user's known items included (exclude_known: false, RecBole's protocol for sequential models)",
            metrics: base.evaluation.metrics, cutoffs: base.evaluation.cutoffs, baseline: base.evaluation.baseline,
            seeds: base.seeds, pipelines: base.pipelines.map(\.name), pipelineComponents: components, points: points,
            overrides: loaded.overrides.isEmpty ? nil : loaded.overrides,
            comparisons: base.evaluation.compare.isEmpty ? nil : base.evaluation.compare)
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

    static func evaluationProtocol(_ spec: EvaluationSpec) -> EvaluationProtocol {
        switch spec.protocol {
        case .full: return .full
        case .sampled: return .sampled(negatives: spec.negatives, byPopularity: spec.sampler == "popularity", seed: spec.seed)
        case .candidates: return .candidates(k: spec.candidates)
        }
    }

    static func describeSplit(_ data: DataSpec) -> String {
        var parts = [data.split.method.rawValue.replacingOccurrences(of: "_", with: "-")]
        if data.split.method != .leaveOneOut { parts.append("ratios \(data.split.ratios.map { String($0) }.joined(separator: "/"))") }
        if data.split.method == .random || data.split.method == .user { parts.append("seed \(data.split.seed)") }
        if let threshold = data.ratingThreshold { parts.append("ratings >= \(threshold) kept") }
        if data.minUserInteractions > 1 || data.minItemInteractions > 1 {
            parts.append("k-core users >= \(data.minUserInteractions), items >= \(data.minItemInteractions)")
        }
        return parts.joined(separator: ", ")
    }

    /// `ease(l2=250)` from a kind and its canonical configuration.
    static func describe(_ kind: String, _ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], !object.isEmpty else { return kind }
        let pairs = object.keys.sorted().map { "\($0)=\(flowYAML(object[$0]!))" }
        return pairs.isEmpty ? kind : "\(kind)(\(pairs.joined(separator: ", ")))"
    }

    private static func resolve(_ component: ComponentSpec, registry: Registry, role: String) throws -> String {
        do {
            let context = ComponentContext(seed: 0)
            if role == "retriever" {
                return try registry.makeRetriever(kind: component.kind, configuration: component, context: context).1
            }
            if role == "augmenter" {
                return try registry.makeAugmenter(kind: component.kind, configuration: component, context: context).1
            }
            return try registry.makeRanker(kind: component.kind, configuration: component, context: context).1
        } catch var error as RecError where error.kind == .registry {
            error.kind = .spec
            error.location = component.typeLocation
            error.keyPath = (component.keyPath + ["type"]).joined(separator: ".")
            throw error
        }
    }

    private static func check(_ spec: ExperimentSpec) throws {
        let evaluation = spec.evaluation
        for pipeline in spec.pipelines where pipeline.augmenter != nil && pipeline.ranker == nil {
            throw RecError(.spec, "pipeline '\(pipeline.name)' has an augmenter but no ranker to read what it writes",
                           at: pipeline.augmenter!.node.location, key: "pipelines.\(pipeline.name).augmenter")
        }
        for pipeline in spec.pipelines where pipeline.ranker != nil && evaluation.protocol != .candidates {
            throw RecError(.spec, "pipeline '\(pipeline.name)' has a ranker, which needs 'protocol: candidates' under evaluation",
                           at: pipeline.ranker!.node.location, key: "pipelines.\(pipeline.name).ranker")
        }
        if evaluation.protocol == .candidates, let deepest = evaluation.cutoffs.max(), deepest > evaluation.candidates {
            throw RecError(.spec, "cutoff \(deepest) is deeper than the \(evaluation.candidates) candidates", key: "evaluation.cutoffs")
        }
    }
}
