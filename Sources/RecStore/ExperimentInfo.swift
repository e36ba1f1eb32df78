/// What a report needs to know about an experiment beyond its cells, stored as JSON with it.
public struct ExperimentInfo: Sendable, Codable, Equatable {
    public struct CellRef: Sendable, Codable, Equatable {
        public var pipeline: String
        public var seed: UInt64
        public var key: String

        public init(pipeline: String, seed: UInt64, key: String) {
            self.pipeline = pipeline
            self.seed = seed
            self.key = key
        }
    }

    public struct Point: Sendable, Codable, Equatable {
        public var label: String
        public var cells: [CellRef]
        /// Each swept path with its value here, `[path, value]` in sweep order (absent in older
        /// stores and in experiments without a sweep).
        public var settings: [[String]]?

        public init(label: String, cells: [CellRef], settings: [[String]]? = nil) {
            self.label = label
            self.cells = cells
            self.settings = settings
        }
    }

    public var name: String
    public var description: String?
    public var specFile: String
    public var dataset: String
    public var split: String
    public var protocolDescription: String
    public var metrics: [String]
    public var cutoffs: [Int]
    public var baseline: String?
    public var seeds: [UInt64]
    public var pipelines: [String]
    /// Pipeline name -> a short description of its components (`ease(l2=250)`).
    public var pipelineComponents: [String: String]
    /// The base point first, then each sweep point.
    public var points: [Point]
    /// The `--set` overrides of the run that registered the plan (absent in older stores).
    public var overrides: [String]?
    /// Pairs `[pipeline, against]` tested beside the baseline (absent in older stores).
    public var comparisons: [[String]]?
    /// The multiple-comparison correction of the report's tests: holm, bh or none (absent in
    /// older stores, which are read as holm).
    public var correction: String?
    /// Claims that a pipeline comes within a margin of another on a metric, tested at every
    /// point (absent in older stores and where the spec makes none).
    public var margins: [Margin]?

    public struct Margin: Sendable, Codable, Equatable {
        public var pipeline: String
        public var against: String
        /// The metric as a column names it: `rmse`, `ndcg@10`.
        public var metric: String
        public var margin: Double

        public init(pipeline: String, against: String, metric: String, margin: Double) {
            self.pipeline = pipeline
            self.against = against
            self.metric = metric
            self.margin = margin
        }
    }

    public init(
        name: String, description: String?, specFile: String, dataset: String, split: String, protocolDescription: String,
        metrics: [String], cutoffs: [Int], baseline: String?, seeds: [UInt64], pipelines: [String],
        pipelineComponents: [String: String], points: [Point], overrides: [String]? = nil, comparisons: [[String]]? = nil,
        correction: String? = nil, margins: [Margin]? = nil
    ) {
        self.comparisons = comparisons
        self.margins = margins
        self.correction = correction
        self.name = name
        self.description = description
        self.specFile = specFile
        self.dataset = dataset
        self.split = split
        self.protocolDescription = protocolDescription
        self.metrics = metrics
        self.cutoffs = cutoffs
        self.baseline = baseline
        self.seeds = seeds
        self.pipelines = pipelines
        self.pipelineComponents = pipelineComponents
        self.points = points
        self.overrides = overrides
    }
}
