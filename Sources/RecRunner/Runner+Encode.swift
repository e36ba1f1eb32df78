import Foundation
import RecCore
import RecSpec
import RecStore

extension Runner {
    /// The training set a cell's components fit on: the split's, with the pipeline's item
    /// vectors when it has an encoder.
    func trainingSet(_ cell: ExperimentPlan.Cell, _ split: SplitData) throws -> TrainingSet {
        var training = split.trainingSet
        training.itemVectors = try encodeItems(cell, split)
        return training
    }

    /// Every item's text (the pipeline's `encode_fields`, joined as "Heat. Action, Crime")
    /// through the pipeline's encoder, cached in the store by encoder, configuration and text,
    /// so another cell, seed or sweep point with the same encoder reuses the vectors.
    func encodeItems(_ cell: ExperimentPlan.Cell, _ split: SplitData) throws -> [[Float]] {
        guard let slot = cell.pipeline.encoder else { return [] }
        let (encoder, json) = try registry.makeEncoder(
            kind: slot.kind, configuration: slot, context: ComponentContext(seed: cell.seed, artifacts: store, languageModelCache: store, progress: progress))
        let texts = split.dataset.itemText.map { text in
            cell.pipeline.encodeFields.compactMap { text.text($0) }.joined(separator: ". ")
        }
        let started = Date()
        let outcome = try EmbeddingCache(store: store).encode(texts, with: encoder, configuration: json)
        progress.line(
            String(
                format: "  %@: %d item texts encoded by %@ (%d from the cache) in %.1f s",
                cell.pipeline.name, texts.count, slot.kind, outcome.hits, Date().timeIntervalSince(started)))
        return outcome.vectors
    }
}
