import Foundation
import RecCore
import RecEval
import RecSpec
import RecStore

/// Runs the cells of a plan, logging every result to the store. Finished cells are skipped, so
/// a killed run started again resumes where it stopped.
public final class Runner: @unchecked Sendable {
    public let registry: Registry
    public let store: ResultStore
    public let data: DataStage
    public let progress: ProgressReporter
    /// Entries (items or users) an augment stage hands its augmenter at once, stored together
    /// when the call returns: enough to keep every slot of a local engine (16 by default) or
    /// every request in flight to a server busy, with a short tail beside the whole.
    public var augmentChunk = Runner.defaultAugmentChunk
    public static let defaultAugmentChunk = 64

    public struct Summary: Sendable, Equatable {
        public var ran = 0
        public var skipped = 0
        public var failed: [String] = []
    }

    public init(registry: Registry, store: ResultStore, data: DataStage, progress: ProgressReporter) {
        self.registry = registry
        self.store = store
        self.data = data
        self.progress = progress
    }

    /// Runs `cells` (all of the plan, or one shard of it).
    public func run(_ plan: ExperimentPlan, cells: [ExperimentPlan.Cell]) throws -> Summary {
        try Self.preflight(cells, data: data, registry: registry)
        // Keys as declared (no snake_case rule): the info holds pipeline names as dictionary keys.
        let infoJSON = try canonicalJSON(plan.info, keys: .asDeclared)
        let experiment = try store.register(
            experiment: plan.info.name, specFile: plan.loaded.file, specHash: plan.loaded.specHash,
            infoJSON: infoJSON, plan: plan.storedCells)
        var summary = Summary()
        var deferred: [ExperimentPlan.Cell] = []
        let started = Date()
        var done = 0
        func advance(_ text: String) {
            done += 1
            progress.line("[\(done)/\(cells.count)] \(text)")
            progress.status("cells", done: done, total: cells.count, started: started)
        }
        // First pass: leave cells another live process is running; second pass: wait for each
        // of those to end, and take over the ones still not done (their owner died or failed).
        for pass in 0..<2 {
            for cell in pass == 0 ? cells : deferred {
                var state = try store.status(experiment: experiment, cell: cell.key)
                if pass == 0, state.status == .running, let owner = state.owner, owner != getpid(), Self.isAlive(owner) {
                    deferred.append(cell)
                    continue
                }
                if pass == 1 { state = try waitForOtherOwner(of: cell, experiment: experiment) }
                if state.status == .done {
                    summary.skipped += 1
                    advance("\(label(cell)) already done")
                    continue
                }
                do {
                    try store.markRunning(cell: state.id)
                    let meter = CellCost.Meter()
                    var result = try execute(cell)
                    result.costs = meter.finish(trainSeconds: result.timings.first { $0.stage == "fit" }?.seconds ?? 0)
                    try store.finish(cell: state.id, result: result)
                    summary.ran += 1
                    let headline = result.metrics.first { $0.name == plan.info.metrics.first }
                    advance("\(label(cell)) done" + (headline.map { String(format: ", %@ = %.4f", $0.k > 0 ? "\($0.name)@\($0.k)" : $0.name, $0.value) } ?? ""))
                } catch {
                    try store.markFailed(cell: state.id, error: "\(error)")
                    summary.failed.append("\(label(cell)): \(error)")
                    advance("\(label(cell)) FAILED: \(error)")
                }
            }
        }
        return summary
    }

    /// Loads every cell's data and checks it against the cell's protocol and components, so
    /// that bad data, or a component asking for a field the data lacks, stops the run before
    /// anything is stored.
    public static func preflight(_ cells: [ExperimentPlan.Cell], data: DataStage, registry: Registry) throws {
        for cell in cells {
            let prepared = try data.prepare(cell.spec.data, relativeTo: cell.specDirectory, runSeed: cell.seed)
            if cell.spec.evaluation.protocol == .rating && !prepared.split.dataset.hasRatings {
                throw RecError(.spec, "the rating protocol needs explicit ratings, but '\(cell.spec.data.dataset)' is implicit feedback (every rating is 1)", key: "evaluation.protocol")
            }
            try checkFeatures(cell, prepared.split.dataset, registry: registry)
            try checkTextFields(cell, prepared.split.dataset, registry: registry)
        }
    }

    /// An augment stage must not write over a field the data has, and every field the encoder
    /// reads must be in the data or written by an item augment stage.
    static func checkTextFields(_ cell: ExperimentPlan.Cell, _ dataset: Dataset, registry: Registry) throws {
        let pipeline = cell.pipeline
        let present = Set(dataset.itemText.flatMap(\.fields.keys))
        let itemStages = pipeline.augment.enumerated().filter { registry.itemAugmenterKinds.contains($0.element.component.kind) }
        for (index, stage) in itemStages where present.contains(stage.writes) {
            throw RecError(
                .spec, "augment stage '\(stage.component.kind)' writes '\(stage.writes)', which '\(cell.spec.data.dataset)' already has; name the written field another way",
                at: stage.writesLocation, key: "pipelines.\(pipeline.name).augment.\(index).writes")
        }
        guard pipeline.encoder != nil else { return }
        let written = Set(itemStages.map(\.element.writes))
        if let field = pipeline.encodeFields.first(where: { !present.contains($0) && !written.contains($0) }) {
            let known = present.union(written).sorted().joined(separator: ", ")
            throw RecError(
                .spec, "the encoder reads item field '\(field)', which no item of '\(cell.spec.data.dataset)' has and no augment stage writes; fields: \(known.isEmpty ? "none" : known)",
                at: pipeline.encodeFieldsLocation, key: "pipelines.\(pipeline.name).encode_fields")
        }
    }

    /// Asks every component that reads feature fields whether the data has them, and turns a
    /// complaint into an error located at the component's slot.
    static func checkFeatures(_ cell: ExperimentPlan.Cell, _ dataset: Dataset, registry: Registry) throws {
        let context = ComponentContext(seed: cell.seed)
        let slots: [(ComponentSpec, Any)] = try [
            cell.pipeline.retriever.map { ($0, try registry.makeRetriever(kind: $0.kind, configuration: $0, context: context).0 as Any) },
            cell.pipeline.scorer.map { ($0, try registry.makeScorer(kind: $0.kind, configuration: $0, context: context).0 as Any) },
        ].compactMap { $0 }
        for (slot, component) in slots {
            guard let reader = component as? any ReadsFeatures else { continue }
            do {
                try reader.check(userFeatures: dataset.userFeatures, itemFeatures: dataset.itemFeatures)
            } catch var error as RecError where error.location == nil {
                let relative = error.keyPath.map { $0.components(separatedBy: ".") } ?? []
                error.location = relative.first.flatMap { slot.node[$0]?.location } ?? slot.node.location
                error.keyPath = (slot.keyPath + relative).joined(separator: ".")
                throw error
            }
        }
    }

    /// Sums what the components counted and stores the examples they kept and the notes that
    /// explain their counts, for the report.
    func storeDiagnostics(_ components: [Any?], cell: ExperimentPlan.Cell) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        var examples: [String] = [], notes: [String] = []
        for component in components {
            guard let diagnosing = component as? any Diagnosing else { continue }
            counts.merge(diagnosing.diagnostics()) { $0 + $1 }
            examples += diagnosing.examples()
            if let note = diagnosing.countsNote, !notes.contains(note) { notes.append(note) }
        }
        if !examples.isEmpty {
            try store.putArtifact(ResultStore.examplesKey(cell: cell.key), kind: "examples", data: Array(try canonicalJSON(examples, pretty: true).utf8))
        }
        if !notes.isEmpty {
            try store.putArtifact(ResultStore.notesKey(cell: cell.key), kind: "notes", data: Array(try canonicalJSON(notes, pretty: true).utf8))
        }
        return counts
    }

    /// Where a user-level augmenter's text for one user and history is stored (by the ranking
    /// path, and by augment stages before training).
    static func knowledgeKey(kind: String, json: String, fingerprint: String, user: Int32, history: [Int32]) -> String {
        stageKey(["knowledge", kind, json, fingerprint, "\(user)", "\(history)"])
    }

    /// The field name of the ranking path's user texts in augmentation files.
    static let knowledgeField = "knowledge"

    /// What a user-level augmenter writes for `users` on the ranking path, through its batched
    /// path (a language model's call cache answers what it has seen), each text stored where a
    /// reader or a report finds it: one artifact per user and history.
    static func knowledge(
        users: [Int32], _ augmenter: any KnowledgeAugmenter, kind: String, json: String, fingerprint: String, known: [[Int32]], items: [ItemText], store: ResultStore
    ) throws -> [String] {
        let texts = try augmenter.augment(users: users.map { UserHistory(user: $0, history: known[Int($0)]) }, items: items)
        guard texts.count == users.count else { throw RecError(.plugin, "augmenter '\(kind)' returned \(texts.count) texts for \(users.count) users") }
        try store.putArtifacts(
            zip(users, texts).map { user, text in (knowledgeKey(kind: kind, json: json, fingerprint: fingerprint, user: user, history: known[Int(user)]), Array(text.utf8)) },
            kind: "knowledge:\(kind)")
        return texts
    }

    /// The state of `cell` once no other live process runs it, polled every
    /// `ownerPollSeconds`: two processes on one database share the cells and never run one
    /// twice.
    func waitForOtherOwner(of cell: ExperimentPlan.Cell, experiment: Int64) throws -> (id: Int64, status: ResultStore.CellStatus, owner: Int32?) {
        var announced = false
        while true {
            let state = try store.status(experiment: experiment, cell: cell.key)
            guard state.status == .running, let owner = state.owner, owner != getpid(), Self.isAlive(owner) else { return state }
            if !announced {
                progress.line("\(label(cell)): waiting for process \(owner), which runs it")
                announced = true
            }
            Thread.sleep(forTimeInterval: Self.ownerPollSeconds)
        }
    }

    static let ownerPollSeconds = 5.0

    /// Whether process `pid` still runs on this machine. A zombie (exited, not yet reaped: in a
    /// container whose first process does not reap, a killed run stays one) counts as dead,
    /// although `kill(pid, 0)` still answers for it.
    static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        // /proc/PID/stat reads "PID (COMMAND) STATE ..."; the command may hold spaces and
        // parentheses, so the state follows the last ')'.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != "Z" && state != "X"
    }

    private func label(_ cell: ExperimentPlan.Cell) -> String {
        "\(cell.pipeline.name) seed \(cell.seed)" + (cell.sweepLabel == "base" ? "" : " [\(cell.sweepLabel)]")
    }

    /// Trains and evaluates one cell.
    func execute(_ cell: ExperimentPlan.Cell) throws -> ResultStore.CellResult {
        if cell.spec.evaluation.protocol.isPointwise { return try executePointwise(cell) }
        let spec = cell.spec
        var timings: [(stage: String, seconds: Double)] = []
        var clock = Date()
        func lap(_ stage: String) {
            timings.append((stage, Date().timeIntervalSince(clock)))
            clock = Date()
        }
        let prepared = try data.prepare(spec.data, relativeTo: cell.specDirectory, runSeed: cell.seed)
        lap("data")
        let retrieverSpec = cell.pipeline.retriever!
        let context = ComponentContext(seed: cell.seed, artifacts: store, languageModelCache: store, progress: progress)
        var (retriever, _) = try registry.makeRetriever(kind: retrieverSpec.kind, configuration: retrieverSpec, context: context)
        if var lists = retriever as? any Retriever & RetrievesLists {
            switch spec.evaluation.protocol {
            case .candidates: lists.depth = spec.evaluation.candidates
            case .sampled: lists.depth = prepared.split.dataset.itemCount
            default: lists.depth = spec.evaluation.cutoffs.max() ?? 10
            }
            retriever = lists
        }
        let trainingStart = Date()
        let reporter = progress
        let name = cell.pipeline.name
        let curves = CurveRecorder()
        let trainingEvents = trainingContext(cell, started: trainingStart, curves: curves)
        // Stage cache: the stages before training, then the trained retriever, each stored
        // under its configuration, its upstream stages, the data and the seed.
        let stages = try PipelineStages(cell, fingerprint: prepared.fingerprint, registry: registry, context: context, chunk: augmentChunk)
        let (split, training) = try stages.run(prepared.split, cell: cell, store: store, progress: progress, events: trainingEvents)
        let cacheKey = stageKey(
            [
                "retriever", retrieverSpec.kind, cell.headJSON, prepared.fingerprint, spec.data.split.method.rawValue,
                "\(spec.data.split.seed(forRun: cell.seed))", "\(cell.seed)",
            ] + PipelineStages.trainingDataKey(spec.data) + stages.upstream)
        retriever = try fitOrRestore(
            retriever, key: cacheKey, kind: "retriever:\(retrieverSpec.kind)", name: name, training: { training }, events: trainingEvents, curves: curves)
        // Rankers and augmenters that learn do so on the training split (no stage cache).
        // Their curves are named for their slot, apart from the retriever's.
        func fitted<C>(_ made: C, slot: String) throws -> C {
            guard var trainable = made as? any Trainable else { return made }
            curves.slot = slot
            try trainable.fit(training, context: trainingEvents)
            return trainable as! C
        }
        let ranker = try cell.pipeline.ranker.map { spec in
            try fitted(try registry.makeRanker(kind: spec.kind, configuration: spec, context: context).0, slot: "ranker")
        }
        let augmenterKind = cell.pipeline.augmenter?.kind ?? ""
        let (augmenter, augmenterJSON): ((any KnowledgeAugmenter)?, String) =
            try cell.pipeline.augmenter.map { spec in
                let (made, json) = try registry.makeAugmenter(kind: spec.kind, configuration: spec, context: context)
                return (try fitted(made, slot: "augmenter"), json)
            } ?? (nil, "")
        // Training time of every component (a ranker may fine-tune a language model).
        lap("fit")
        let evaluation = spec.evaluation
        let evaluator = RankingEvaluator(
            metrics: evaluation.metrics, cutoffs: evaluation.cutoffs,
            protocol: ExperimentPlan.evaluationProtocol(evaluation)!, batchUsers: evaluation.batchUsers)
        let task = EvaluationTask.test(split, excludeKnown: evaluation.excludeKnown).sampling(users: evaluation.users, seed: evaluation.seed)
        let history = retriever is any SequenceAware ? split.historyBeforeTest : split.trainHistory
        // Rankers and augmenters read everything known before the test item.
        let known = split.historyBeforeTest
        let items = split.dataset.itemText
        let scorer = retriever
        let evaluationStart = Date()
        let store = self.store
        // Profiles written elsewhere, taken instead of the augmenter's (`augmenter: { import: }`).
        let imported = try cell.pipeline.augmenterImport.map {
            try ImportedTexts.load(
                $0, relativeTo: cell.specDirectory, level: "user", field: Self.knowledgeField, at: cell.pipeline.augmenterImportLocation,
                key: "pipelines.\(name).augmenter.import")
        }
        let userIDs = split.dataset.userIDs
        var result = try evaluator.evaluate(
            task,
            score: { users, buffer in try scorer.score(users: users, history: history, into: buffer) },
            rerank: ranker.map { ranker in
                { users, candidates in
                    let knowledge =
                        try imported.map { try $0.texts(for: users.map { userIDs[Int($0)] }, level: "user", field: Self.knowledgeField) }
                        ?? augmenter.map { augmenter in
                            try Self.knowledge(
                                users: users, augmenter, kind: augmenterKind, json: augmenterJSON, fingerprint: prepared.fingerprint, known: known, items: items, store: store)
                        }
                    return try ranker.rank(
                        users.indices.map { RankRequest(user: users[$0], history: known[Int(users[$0])], candidates: candidates[$0], knowledge: knowledge?[$0]) })
                }
            },
            progress: { done, total in
                reporter.status("  \(name) evaluating users", done: done, total: total, started: evaluationStart, keep: false)
                // A ranker is slow (a language model per user): a line per group too, for logs.
                if ranker != nil {
                    let elapsed = Date().timeIntervalSince(evaluationStart)
                    reporter.line(
                        "  \(name): \(done)/\(total) users re-ranked, \(ProgressReporter.clock(elapsed)) elapsed, ETA \(ProgressReporter.clock(elapsed / Double(max(done, 1)) * Double(total - done)))")
                }
            })
        // A cold-start split's metrics again over the users whose held-out items include one
        // withheld from training.
        let cold = Set(split.coldItems)
        result.addSubset("cold", indices: task.heldOut.indices.filter { task.heldOut[$0].contains { cold.contains($0.item) } })
        lap("evaluate")
        // What the LLM components counted, and the examples they kept for the report.
        let counts = try storeDiagnostics(stages.components + [retriever as Any?, augmenter as Any?, ranker as Any?], cell: cell)
        return cellResult(prepared, result, timings: timings, counts: counts, curves: curves)
    }
}
