import Foundation
import RecCore
import RecEval
import RecSpec
import RecStore

extension Runner {
    /// Pairs scored per `predict` call: bounds the memory a scorer's batch may take, and sets
    /// how often progress is shown.
    static let pairsPerBatch = 65_536

    /// Trains a pipeline's scorer and evaluates its predictions on the labelled test pairs
    /// (`ctr` and `rating` protocols).
    func executePointwise(_ cell: ExperimentPlan.Cell) throws -> ResultStore.CellResult {
        let spec = cell.spec
        let scorerSpec = cell.pipeline.scorer!
        var timings: [(stage: String, seconds: Double)] = []
        var clock = Date()
        func lap(_ stage: String) {
            timings.append((stage, Date().timeIntervalSince(clock)))
            clock = Date()
        }
        let prepared = try data.prepare(spec.data, relativeTo: cell.specDirectory, runSeed: cell.seed)
        lap("data")
        let split = prepared.split
        let context = ComponentContext(seed: cell.seed, artifacts: store, languageModelCache: store, progress: progress)
        var (scorer, _) = try registry.makeScorer(kind: scorerSpec.kind, configuration: scorerSpec, context: context)
        let name = cell.pipeline.name
        // The stages before training run only when the scorer trains (a restored scorer
        // carries what it learnt from them in its checkpoint).
        let stages = try PipelineStages(cell, fingerprint: prepared.fingerprint, registry: registry, context: context, chunk: augmentChunk)
        let cacheKey = stageKey(
            [
                "scorer", scorerSpec.kind, cell.headJSON, prepared.fingerprint, try canonicalJSON(spec.data.split), spec.data.label?.description ?? "",
                "\(spec.data.split.seed(forRun: cell.seed))", "\(cell.seed)",
            ] + PipelineStages.trainingDataKey(spec.data) + stages.upstream)
        let curves = CurveRecorder()
        let events = trainingContext(cell, started: Date(), curves: curves)
        scorer = try fitOrRestore(
            scorer, key: cacheKey, kind: "scorer:\(scorerSpec.kind)", name: name,
            training: { try stages.run(split, cell: cell, store: store, progress: progress, events: events).1 }, events: events, curves: curves)
        lap("fit")
        let test = PointwiseTask.sampling(split.test, users: spec.evaluation.users, seed: spec.evaluation.seed)
        let task = PointwiseTask.of(test, labelRule: split.labelRule)
        var predictions: [Float] = []
        predictions.reserveCapacity(task.count)
        let started = Date()
        let history = split.trainHistory
        let timeline = ((scorer as? any ReadsBehaviour)?.behaviourLength ?? 0) > 0 ? split.timeline : nil
        for start in stride(from: 0, to: task.count, by: Self.pairsPerBatch) {
            let end = min(task.count, start + Self.pairsPerBatch)
            let batch =
                if let timeline, let reader = scorer as? any ReadsBehaviour {
                    try reader.predict(Array(test[start..<end]), timeline: timeline)
                } else {
                    try scorer.predict(users: Array(task.users[start..<end]), items: Array(task.items[start..<end]), history: history)
                }
            guard batch.count == end - start else {
                throw RecError(.plugin, "scorer '\(scorerSpec.kind)' returned \(batch.count) predictions for \(end - start) pairs")
            }
            predictions += batch
            progress.status("  \(name) scoring test pairs", done: end, total: task.count, started: started, keep: false)
        }
        let result = try PointwiseEvaluator(metrics: spec.evaluation.metrics, predicts: scorer.predicts).evaluate(task, predictions: predictions)
        lap("evaluate")
        let counts = try storeDiagnostics(stages.components + [scorer], cell: cell)
        return cellResult(prepared, result, timings: timings, counts: counts, curves: curves)
    }

    /// `made` restored from the stage cache under `key`, or trained (when it learns) and its
    /// checkpoint stored there (when it has one). `training` is built only when it trains. The
    /// training's curves are stored beside the checkpoint and restored with it into `curves`.
    func fitOrRestore<C>(
        _ made: C, key: String, kind: String, name: String, training: () throws -> TrainingSet, events: TrainingContext, curves: CurveRecorder
    ) throws -> C {
        if var checkpointable = made as? any Checkpointable, let bytes = try store.artifact(key) {
            try checkpointable.restore(from: bytes)
            if let stored = try store.artifact(Self.curvesKey(key)) { curves.restore(stored) }
            progress.line("  \(name): trained model restored from the stage cache")
            return checkpointable as! C
        }
        guard var trainable = made as? any Trainable else { return made }
        try trainable.fit(try training(), context: events)
        if let checkpointable = trainable as? any Checkpointable {
            try store.putArtifact(Self.curvesKey(key), kind: "curves", data: curves.encoded)
            try store.putArtifact(key, kind: kind, data: try checkpointable.checkpoint())
        }
        return trainable as! C
    }

    /// Where the curves of the training that produced the checkpoint under `key` are kept.
    static func curvesKey(_ key: String) -> String { "curves|" + key }

    /// What the store keeps of a finished cell: its metrics in key order, per-user values,
    /// timings, counts and training curves (the runner adds the costs).
    func cellResult(
        _ prepared: DataStage.Prepared, _ result: EvaluationResult, timings: [(stage: String, seconds: Double)], counts: [String: Int], curves: CurveRecorder
    ) -> ResultStore.CellResult {
        let keys = result.aggregate.keys.sorted()
        return ResultStore.CellResult(
            dataFingerprint: prepared.fingerprint, datasetStatsJSON: prepared.statisticsJSON,
            metrics: keys.map { ($0.name, $0.k, result.aggregate[$0]!) }, users: result.users,
            perUser: keys.compactMap { key in result.perUser[key].map { (key.name, key.k, $0) } },
            timings: timings, counts: counts.keys.sorted().map { ($0, counts[$0]!) }, curves: curves.curves)
    }

    /// The context a training loop reports through: epochs and messages become progress lines
    /// with elapsed time and an estimate of what is left. From the second epoch on, the
    /// estimate uses the epochs' own pace (time since the first epoch ended), so that stages run
    /// before training (encoding, LLM text) do not inflate it.
    /// Every event is also kept by `curves`, for the cell's learning curves.
    func trainingContext(_ cell: ExperimentPlan.Cell, started: Date, curves: CurveRecorder) -> TrainingContext {
        let reporter = progress
        let name = cell.pipeline.name
        let firstEpochEnd = Locked<Date?>(nil)
        return TrainingContext(seed: cell.seed) { event in
            curves.record(event)
            switch event {
            case .epochEnd(let epoch, let total, let loss):
                let now = Date(), elapsed = now.timeIntervalSince(started)
                let eta: Double
                if epoch <= 1 {
                    firstEpochEnd.set(now)
                    eta = elapsed * Double(total - epoch)
                } else {
                    let pace = now.timeIntervalSince(firstEpochEnd.get() ?? started) / Double(epoch - 1)
                    eta = pace * Double(total - epoch)
                }
                reporter.line(
                    String(
                        format: "  %@ epoch %d/%d loss %.5f  %@ elapsed, ETA %@", name, epoch, total, loss,
                        ProgressReporter.clock(elapsed), ProgressReporter.clock(eta)))
            case .validation(let epoch, let metric, let value):
                reporter.line(String(format: "  %@ epoch %d validation %@ %.4f", name, epoch, metric, value))
            case .message(let text):
                reporter.line("  \(name): \(text)")
            }
        }
    }
}
