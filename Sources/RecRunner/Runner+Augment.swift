import Foundation
import RecCore

extension Runner {
    /// Every text the plan's augment stages write for run seed `seed` (the plan's first seed
    /// when nil), restored from the stage cache or written now through each augmenter's
    /// batched path and stored, one entry per item or user; a stage shared by several pipelines
    /// or sweep points is listed once.
    public func augmentations(_ plan: ExperimentPlan, seed: UInt64? = nil) throws -> [AugmentedText] {
        let seed = seed ?? plan.cells.first?.seed
        let cells = plan.cells.filter { $0.seed == seed && !$0.pipeline.augment.isEmpty }
        try Self.preflight(cells, data: data, registry: registry)
        var seen = Set<String>(), lines: [AugmentedText] = []
        for cell in cells {
            let prepared = try data.prepare(cell.spec.data, relativeTo: cell.specDirectory, runSeed: cell.seed)
            let context = ComponentContext(seed: cell.seed, artifacts: store, languageModelCache: store, progress: progress)
            let stages = try PipelineStages(cell, fingerprint: prepared.fingerprint, registry: registry, context: context, chunk: augmentChunk)
            guard stages.augment.contains(where: { !seen.contains($0.key) }) else { continue }
            var split = prepared.split
            for (stage, texts) in try stages.augmentAll(&split, cell: cell, store: store, progress: progress) where seen.insert(stage.key).inserted {
                let (level, ids): (String, [String])
                if case .item = stage.augmenter { (level, ids) = ("item", split.dataset.itemIDs) } else { (level, ids) = ("user", split.dataset.userIDs) }
                lines += zip(ids, texts).map { AugmentedText(pipeline: cell.pipeline.name, stage: stage.kind, level: level, field: stage.writes, id: $0, text: $1) }
            }
        }
        return lines
    }
}
