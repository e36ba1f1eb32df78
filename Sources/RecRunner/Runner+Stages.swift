import Foundation
import RecCore
import RecSpec
import RecStore

extension Runner {
    /// One stage before training as a launcher sees it: what it is and its stage-cache key.
    public struct StageReference: Sendable, Codable, Equatable {
        /// `augment`, `encode` or `derive`.
        public var stage: String
        public var type: String
        public var key: String
    }

    /// The stages before training of `cell`, in order, with the keys the stage cache stores
    /// them under (they depend on the data's fingerprint, so the data is loaded).
    public func stageReferences(_ cell: ExperimentPlan.Cell) throws -> [StageReference] {
        let stages = try pipelineStages(cell).1
        return stages.augment.map { StageReference(stage: "augment", type: $0.kind, key: $0.key) }
            + (stages.encoder.map { [StageReference(stage: "encode", type: $0.kind, key: $0.key)] } ?? [])
            + stages.derive.map { StageReference(stage: "derive", type: $0.deriver.kind, key: $0.key) }
    }

    /// Builds the stages before training (augment texts, encoder vectors, derived artifacts) of
    /// `cells` into the store without training anything, each distinct chain of stages once,
    /// so that the jobs that then train the cells, on this machine or on others that start
    /// from a copy of the store, restore them instead of computing them again.
    /// - Returns: the number of distinct chains built or found complete, and of cells without stages.
    public func buildStages(_ cells: [ExperimentPlan.Cell]) throws -> (chains: Int, withoutStages: Int) {
        try Self.preflight(cells, data: data, registry: registry)
        var seen = Set<String>(), without = 0
        for cell in cells {
            let (prepared, stages) = try pipelineStages(cell)
            guard let last = stages.upstream.last else {
                without += 1
                continue
            }
            guard seen.insert(last).inserted else { continue }
            progress.line("\(cell.pipeline.name) seed \(cell.seed): building \(stages.augment.count + (stages.encoder == nil ? 0 : 1) + stages.derive.count) stage(s)")
            let events = trainingContext(cell, started: Date(), curves: CurveRecorder())
            _ = try stages.run(prepared.split, cell: cell, store: store, progress: progress, events: events)
        }
        return (seen.count, without)
    }

    private func pipelineStages(_ cell: ExperimentPlan.Cell) throws -> (DataStage.Prepared, PipelineStages) {
        let prepared = try data.prepare(cell.spec.data, relativeTo: cell.specDirectory, runSeed: cell.seed)
        let context = ComponentContext(seed: cell.seed, artifacts: store, languageModelCache: store, progress: progress)
        return (prepared, try PipelineStages(cell, fingerprint: prepared.fingerprint, registry: registry, context: context, chunk: augmentChunk))
    }
}
