import Foundation
import RecCore
import RecEval

extension Runner {
    /// Every text the plan's augment stages write for run seed `seed` (the plan's first seed
    /// when nil), and the texts a pipeline's ranking-path `augmenter:` writes for the users its
    /// evaluation ranks: restored from the stage cache or written now through each augmenter's
    /// batched path and stored, one entry per item or user. A stage shared by several pipelines
    /// or sweep points is listed once. With `recount`, the augment stages' stored texts are asked
    /// for again, answered by the call cache, so that the calls of texts written before the
    /// store recorded them per stage are recorded (`ResultStore.augmentCosts`); every cell's
    /// stages are built then, shared or not, so that each is linked to every pipeline's cells.
    public func augmentations(_ plan: ExperimentPlan, seed: UInt64? = nil, recount: Bool = false) throws -> [AugmentedText] {
        let seed = seed ?? plan.cells.first?.seed
        let cells = plan.cells.filter { $0.seed == seed && $0.pipeline.writesText }
        try Self.preflight(cells, data: data, registry: registry)
        var seen = Set<String>(), lines: [AugmentedText] = []
        for cell in cells {
            let prepared = try data.prepare(cell.spec.data, relativeTo: cell.specDirectory, runSeed: cell.seed)
            let context = ComponentContext(seed: cell.seed, artifacts: store, languageModelCache: store, progress: progress)
            var stages = try PipelineStages(cell, fingerprint: prepared.fingerprint, registry: registry, context: context, chunk: augmentChunk)
            stages.recount = recount
            var split = prepared.split
            if recount || stages.augment.contains(where: { !seen.contains($0.key) }) {
                // A shuffled stage's texts are another stage's on the wrong entities: nothing to export.
                for (stage, texts) in try stages.augmentAll(&split, cell: cell, store: store, progress: progress)
                where stage.shuffleSeed == nil && seen.insert(stage.key).inserted {
                    let (level, ids): (String, [String])
                    if case .item = stage.augmenter { (level, ids) = ("item", split.dataset.itemIDs) } else { (level, ids) = ("user", split.dataset.userIDs) }
                    lines += zip(ids, texts).map { AugmentedText(pipeline: cell.pipeline.name, stage: stage.kind, level: level, field: stage.writes, id: $0, text: $1) }
                }
            }
            guard let slot = cell.pipeline.augmenter, cell.pipeline.augmenterImport == nil else { continue }
            var (augmenter, json) = try registry.makeAugmenter(kind: slot.kind, configuration: slot, context: context)
            let evaluation = cell.spec.evaluation
            let users = EvaluationTask.test(split, excludeKnown: evaluation.excludeKnown).sampling(users: evaluation.users, seed: evaluation.seed).users
            guard seen.insert(stageKey(["augmenter", slot.kind, json, prepared.fingerprint, "\(users)"])).inserted else { continue }
            if var trainable = augmenter as? any Trainable {
                try trainable.fit(split.trainingSet, context: TrainingContext(seed: cell.seed))
                augmenter = trainable as! any KnowledgeAugmenter
            }
            // Stored under the keys the ranking path stores them under, so either finds the other's.
            let known = split.historyBeforeTest, items = split.dataset.itemText
            let keys = users.map { Self.knowledgeKey(kind: slot.kind, json: json, fingerprint: prepared.fingerprint, user: $0, history: known[Int($0)]) }
            let bulk = BulkAugmentation(
                chunk: augmentChunk, label: "\(cell.pipeline.name) \(slot.kind) writing \(Self.knowledgeField) for ranked users", kind: slot.kind, store: store, progress: progress)
            let (texts, _) = try bulk.run(keys: keys, artifactKind: "knowledge:\(slot.kind)") { batch in
                try augmenter.augment(users: batch.map { UserHistory(user: users[$0], history: known[Int(users[$0])]) }, items: items)
            }
            lines += zip(users, texts).map {
                AugmentedText(pipeline: cell.pipeline.name, stage: slot.kind, level: "user", field: Self.knowledgeField, id: split.dataset.userIDs[Int($0)], text: $1)
            }
        }
        return lines
    }
}
