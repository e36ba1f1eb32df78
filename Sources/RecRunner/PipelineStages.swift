import Foundation
import RecCore
import RecSpec
import RecStore

/// A cell's stages before training (augment, encode, derive), each with its stage-cache key.
/// A stage's key hashes its kind, resolved configuration, the key of the stage before it, the
/// data fingerprint and, where the output depends on them, the split and the seed. The keys
/// are known from configurations alone, so the head's cache key includes them without running
/// anything; `run` then computes or restores each output in order.
///
/// Stage outputs are content-addressed as well: each item's LLM text is stored under its
/// augmenter, configuration and the item's fields, each user's text under the user's training
/// history, each vector under its text. A sweep over a later stage reuses all of that, and a
/// killed run resumes from the last stored item.
struct PipelineStages {
    enum Augmenter {
        case item(any ItemAugmenter)
        case user(any KnowledgeAugmenter)
    }

    struct Augment {
        var augmenter: Augmenter
        var kind: String
        var json: String
        var writes: String
        var key: String
        /// Texts read from the stage's `import:` file, taken instead of the augmenter's.
        var imported: ImportedTexts?
        /// What each stored item text's key adds when the augmenter reads the training
        /// interactions: the split (empty otherwise).
        var splitParts: [String] = []
        /// The seed of the permutation that moves the texts across entities (the `shuffle:`
        /// control), or nil.
        var shuffleSeed: UInt64?
        /// What the stage's texts are stored under, shared by every stage that writes the same
        /// texts (in another pipeline, after other stages, or shuffled): the augmenter, its
        /// configuration, the dataset, and the split and seed where the texts depend on them.
        var textsKey: String
        /// What the stage's splits and seeds share: the augmenter, its configuration, the dataset.
        var strategy: String

        /// The stage's record in the store's augment-stage ledger; nil for imported texts.
        func ledger(_ cell: ExperimentPlan.Cell) -> ResultStore.AugmentStage? {
            guard imported == nil else { return nil }
            return ResultStore.AugmentStage(
                experiment: cell.spec.name, pipeline: cell.pipeline.name, stage: textsKey, strategy: strategy, kind: kind, writes: writes, entries: 0,
                cell: cell.key)
        }
    }

    struct Derive {
        var deriver: AnyDeriver
        var json: String
        var key: String
    }

    var augment: [Augment] = []
    /// Entries per batched augmenter call (`Runner.augmentChunk`).
    let chunk: Int
    /// Ask for stored texts again through the call cache, to record their calls (see
    /// `BulkAugmentation`).
    var recount = false
    var encoder: (encoder: any TextEncoder, kind: String, json: String, key: String)?
    var derive: [Derive] = []

    /// The augmenters, and the first texts each augment stage wrote or restored (quoted by the
    /// report whether or not a model was called in this cell).
    var components: [Any] {
        augment.map {
            switch $0.augmenter {
            case .item(let augmenter): return augmenter as Any
            case .user(let augmenter): return augmenter as Any
            }
        } + [storedTexts]
    }

    let storedTexts = StoredTextExamples()

    /// What the head's cache key adds: the last stage's key (empty when the pipeline has no
    /// stages, so heads without stages keep their keys).
    var upstream: [String] {
        guard let last = derive.last?.key ?? encoder?.key ?? augment.last?.key else { return [] }
        return ["upstream", last]
    }

    /// Builds the stages of `cell` and their keys.
    init(_ cell: ExperimentPlan.Cell, fingerprint: String, registry: Registry, context: ComponentContext, chunk: Int) throws {
        self.chunk = chunk
        let data = cell.spec.data
        let splitParts = [try canonicalJSON(data.split), "\(data.split.seed(forRun: cell.seed))"] + Self.trainingDataKey(data)
        var previous = ""
        for (index, stage) in cell.pipeline.augment.enumerated() {
            let component = stage.component
            let isItem = registry.itemAugmenterKinds.contains(component.kind)
            let imported = try stage.importFile.map {
                try ImportedTexts.load(
                    $0, relativeTo: cell.specDirectory, level: isItem ? "item" : "user", field: stage.writes, at: stage.importLocation,
                    key: "pipelines.\(cell.pipeline.name).augment.\(index).import")
            }
            var made: (Augmenter, String)
            if isItem {
                let (augmenter, json) = try registry.makeItemAugmenter(kind: component.kind, configuration: component, context: context)
                made = (.item(augmenter), json)
            } else {
                let (augmenter, json) = try registry.makeAugmenter(kind: component.kind, configuration: component, context: context)
                made = (.user(augmenter), json)
            }
            // Imported texts are keyed by the file's content, never by the augmenter's settings.
            if let imported { made.1 = "{\"import\":\"sha256:\(imported.sha256)\"}" }
            var key: String
            var readsSplit: [String] = []
            // What the stored texts depend on beyond the augmenter and its configuration.
            let level: String, dependsOn: [String]
            if case .item(let augmenter) = made.0 {
                if imported == nil, (augmenter as? any ReadsTrainingInteractions)?.readsTrainingInteractions == true { readsSplit = splitParts }
                let seedPart = augmenter.usesSeed && imported == nil ? "\(cell.seed)" : ""
                (level, dependsOn) = ("item", [seedPart, fingerprint] + readsSplit)
                key = stageKey(["augment", "item", component.kind, made.1, stage.writes, seedPart, previous, fingerprint] + readsSplit)
            } else {
                (level, dependsOn) = ("user", [fingerprint] + splitParts)
                key = stageKey(["augment", "user", component.kind, made.1, stage.writes, previous, fingerprint] + splitParts)
            }
            if stage.shuffle { key = stageKey([key, "shuffled", "\(cell.seed)"]) }
            augment.append(
                Augment(
                    augmenter: made.0, kind: component.kind, json: made.1, writes: stage.writes, key: key, imported: imported, splitParts: readsSplit,
                    shuffleSeed: stage.shuffle ? cell.seed : nil, textsKey: stageKey(["augment-texts", level, component.kind, made.1] + dependsOn),
                    strategy: stageKey(["augment-strategy", level, component.kind, made.1, fingerprint])))
            previous = key
        }
        if let slot = cell.pipeline.encoder {
            let (made, json) = try registry.makeEncoder(kind: slot.kind, configuration: slot, context: context)
            let fields = try cell.pipeline.encodeGroups.map { try canonicalJSON($0) } ?? canonicalJSON(cell.pipeline.encodeFields)
            let key = stageKey(["encode", slot.kind, json, fields, try canonicalJSON(cell.pipeline.encodeUserFields), previous, fingerprint])
            encoder = (made, slot.kind, json, key)
            previous = key
        }
        for slot in cell.pipeline.derive {
            let (deriver, json) = try registry.makeDeriver(kind: slot.kind, configuration: slot, context: context)
            let key = stageKey(
                ["derive", slot.kind, json, previous, fingerprint] + (deriver.readsInteractions ? splitParts : []) + (deriver.usesSeed ? ["\(cell.seed)"] : []))
            derive.append(Derive(deriver: deriver, json: json, key: key))
            previous = key
        }
    }

    /// Every stage's output, restored from the store or computed and stored: the split with
    /// the augmented item fields (what rankers read), and the training set with them, the
    /// user text, the vectors and the derived artifacts.
    func run(_ split: SplitData, cell: ExperimentPlan.Cell, store: ResultStore, progress: ProgressReporter, events: TrainingContext) throws -> (SplitData, TrainingSet) {
        var split = split
        var userText = [[String: String]](repeating: [:], count: split.dataset.userCount)
        let name = cell.pipeline.name
        for (stage, texts) in try augmentAll(&split, cell: cell, store: store, progress: progress) {
            if case .user = stage.augmenter {
                for (user, text) in texts.enumerated() { userText[user][stage.writes] = text }
            }
        }
        var training = split.trainingSet
        if !augment.isEmpty { training.userText = userText }
        if let (encoder, kind, json, _) = encoder {
            // One text per item, or one per group whose vectors are concatenated.
            training.itemVectors = Array(repeating: [], count: split.dataset.itemCount)
            for group in cell.pipeline.encodeGroups ?? [cell.pipeline.encodeFields] {
                let items = split.dataset.itemText.map { text in group.compactMap { text.text($0) }.joined(separator: ". ") }
                let vectors = try encode(items, encoder, kind: kind, json: json, what: "item", cell: cell, store: store, progress: progress)
                for (index, vector) in vectors.enumerated() { training.itemVectors[index] += vector }
            }
            if !cell.pipeline.encodeUserFields.isEmpty {
                let users = userText.map { fields in cell.pipeline.encodeUserFields.compactMap { fields[$0] }.joined(separator: ". ") }
                training.userVectors = try encode(users, encoder, kind: kind, json: json, what: "user", cell: cell, store: store, progress: progress)
            }
        }
        for stage in derive {
            let started = Date()
            if let bytes = try store.artifact(stage.key) {
                try stage.deriver.install(bytes, into: &training.derived)
                progress.line("  \(name): \(stage.deriver.output) restored from the stage cache")
                continue
            }
            let bytes = try stage.deriver.derive(from: training, context: events)
            try store.putArtifact(stage.key, kind: "derived:\(stage.deriver.kind)", data: bytes)
            try stage.deriver.install(bytes, into: &training.derived)
            progress.line(String(format: "  %@: %@ derived the %@ in %.1f s", name, stage.deriver.kind, stage.deriver.output, Date().timeIntervalSince(started)))
        }
        return (split, training)
    }

    /// Every augment stage's texts (per item or per user), restored or written in order; item
    /// texts are added to `split`'s items as each stage ends, where later stages read them.
    func augmentAll(_ split: inout SplitData, cell: ExperimentPlan.Cell, store: ResultStore, progress: ProgressReporter) throws -> [(Augment, [String])] {
        var outputs: [(Augment, [String])] = []
        for stage in augment {
            let started = Date()
            var texts: [String], fresh: Int
            switch stage.augmenter {
            case .item(let augmenter): (texts, fresh) = try augmentItems(split, with: augmenter, stage, cell: cell, store: store, progress: progress)
            case .user(let augmenter): (texts, fresh) = try augmentUsers(split, with: augmenter, stage, cell: cell, store: store, progress: progress)
            }
            let (level, ids) = if case .item = stage.augmenter { ("item", split.dataset.itemIDs) } else { ("user", split.dataset.userIDs) }
            storedTexts.keep(stage.kind + (stage.shuffleSeed == nil ? "" : " (then shuffled)"), field: stage.writes, level: level, ids: ids, texts: texts)
            if let seed = stage.shuffleSeed {
                var rng = SplitMix64(seed: seed).derived("shuffle \(stage.writes)")
                texts.shuffle(using: &rng)
            }
            if case .item = stage.augmenter {
                for (index, text) in texts.enumerated() { split.dataset.itemText[index][stage.writes] = text.isEmpty ? [] : [text] }
            }
            let source = stage.imported.map { " from \(($0.path as NSString).lastPathComponent)" } ?? ""
            progress.line(
                String(format: "  %@: %@ wrote %@ for %d entries (%d new%@) in %.1f s", cell.pipeline.name, stage.kind, stage.writes, texts.count, fresh, source, Date().timeIntervalSince(started)))
            outputs.append((stage, texts))
        }
        return outputs
    }

    /// Every item's text, stored per item under the augmenter, its configuration and the
    /// item's fields.
    func augmentItems(
        _ split: SplitData, with augmenter: any ItemAugmenter, _ stage: Augment, cell: ExperimentPlan.Cell, store: ResultStore, progress: ProgressReporter
    ) throws -> (texts: [String], fresh: Int) {
        let items = split.dataset.itemText, itemIDs = split.dataset.itemIDs
        let seedPart = augmenter.usesSeed && stage.imported == nil ? "\(cell.seed)" : ""
        let keys = try items.map { item in stageKey(["item-text", stage.kind, stage.json, seedPart, try canonicalJSON(item.fields, keys: .asDeclared)] + stage.splitParts) }
        let bulk = BulkAugmentation(
            chunk: chunk, label: "\(cell.pipeline.name) \(stage.kind) writing \(stage.writes) for items", kind: stage.kind, store: store, progress: progress,
            ledger: stage.ledger(cell), recount: recount)
        if let imported = stage.imported {
            let texts = try imported.texts(for: itemIDs, level: "item", field: stage.writes)
            return try bulk.run(keys: keys, artifactKind: "item-text:\(stage.kind)") { batch in batch.map { texts[$0] } }
        }
        if !stage.splitParts.isEmpty, let reader = augmenter as? any ReadsTrainingInteractions {
            let training = split.trainingSet
            return try bulk.run(keys: keys, artifactKind: "item-text:\(stage.kind)") { batch in try reader.augment(indices: batch, items: items, training: training) }
        }
        return try bulk.run(keys: keys, artifactKind: "item-text:\(stage.kind)") { batch in try augmenter.augment(items: batch.map { items[$0] }) }
    }

    /// Every user's text from their past, stored per user under the key the ranking path uses
    /// for the same augmenter and history. The past is the history-only prefix where the split
    /// has one (a pointwise split: then training and test users are described from the same
    /// part of their past, and no training sample's label reaches the text), else the training
    /// history; the augmenter gets it in time order with ratings and the user's features.
    func augmentUsers(
        _ split: SplitData, with augmenter: any KnowledgeAugmenter, _ stage: Augment, cell: ExperimentPlan.Cell, store: ResultStore, progress: ProgressReporter
    ) throws -> (texts: [String], fresh: Int) {
        let fingerprint = split.dataset.fingerprint
        var pasts = [[Interaction]](repeating: [], count: split.dataset.userCount)
        for event in (split.historyOnly.isEmpty ? split.train : split.historyOnly).sorted(by: { ($0.user, $0.time) < ($1.user, $1.time) }) {
            pasts[Int(event.user)].append(event)
        }
        let histories = pasts.map { $0.map(\.item) }
        let users = pasts.enumerated().map { user, past in
            UserHistory(user: Int32(user), history: histories[user], ratings: past.map(\.rating), features: split.dataset.userFeatures.values(of: user))
        }
        let keys = histories.indices.map { Runner.knowledgeKey(kind: stage.kind, json: stage.json, fingerprint: fingerprint, user: Int32($0), history: histories[$0]) }
        let bulk = BulkAugmentation(
            chunk: chunk, label: "\(cell.pipeline.name) \(stage.kind) writing \(stage.writes) for users", kind: stage.kind, store: store, progress: progress,
            ledger: stage.ledger(cell), recount: recount)
        if let imported = stage.imported {
            let texts = try imported.texts(for: split.dataset.userIDs, level: "user", field: stage.writes)
            return try bulk.run(keys: keys, artifactKind: "knowledge:\(stage.kind)") { batch in batch.map { texts[$0] } }
        }
        return try bulk.run(keys: keys, artifactKind: "knowledge:\(stage.kind)") { batch in
            try augmenter.augment(users: batch.map { users[$0] }, items: split.dataset.itemText)
        }
    }

    /// Texts through the encoder, cached by text (see `EmbeddingCache`).
    func encode(
        _ texts: [String], _ encoder: any TextEncoder, kind: String, json: String, what: String, cell: ExperimentPlan.Cell, store: ResultStore, progress: ProgressReporter
    ) throws -> [[Float]] {
        let started = Date()
        let outcome = try EmbeddingCache(store: store).encode(texts, with: encoder, configuration: json)
        progress.line(
            String(
                format: "  %@: %d %@ texts encoded by %@ (%d from the cache) in %.1f s",
                cell.pipeline.name, texts.count, what, kind, outcome.hits, Date().timeIntervalSince(started)))
        return outcome.vectors
    }
}

extension PipelineStages {
    /// What a stage key adds when training samples come from a share of the users, or leave
    /// out cold-start items (nothing otherwise, so keys from before either could be set stay).
    static func trainingDataKey(_ data: DataSpec) -> [String] {
        (data.trainFraction.map { ["train_fraction=\($0)"] } ?? []) + (data.split.coldItems.map { ["cold_items=\($0)"] } ?? [])
    }
}

/// The first `perStage` non-empty texts of each augment stage, as the report quotes them.
final class StoredTextExamples: Diagnosing, @unchecked Sendable {
    static let perStage = 3
    private let lock = NSLock()
    private var texts: [String] = []

    func keep(_ kind: String, field: String, level: String, ids: [String], texts written: [String]) {
        let quoted = zip(ids, written).filter { !$0.1.isEmpty }.prefix(Self.perStage).map { "\(kind) wrote \(field) for \(level) \($0.0):\n\($0.1)" }
        lock.withLock { texts += quoted }
    }

    func diagnostics() -> [String: Int] { [:] }
    func examples() -> [String] { lock.withLock { texts } }
}
