import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecSpec
import RecStore
import RecTesting
import Synchronization
import Testing

/// Counts the texts the test augmenters write, and can make the item augmenter fail partway
/// (as a killed run would stop).
final class StageRecorder: @unchecked Sendable {
    static let shared = StageRecorder()
    private let lock = NSLock()
    private var written = 0
    private var failAfter: Int?
    var users: [Int] = []
    private var handed: [Int32: String] = [:]

    func reset(failAfter: Int? = nil) {
        lock.withLock {
            written = 0; self.failAfter = failAfter; users = []; handed = [:]
        }
    }
    /// The knowledge rankers were handed, by user.
    var knowledge: [Int32: String] { lock.withLock { handed } }
    func hand(_ text: String?, to user: Int32) { lock.withLock { handed[user] = text ?? "" } }
    var count: Int { lock.withLock { written } }

    func write() throws {
        try lock.withLock {
            if let failAfter, written >= failAfter { throw RecError(.plugin, "stopped after \(failAfter) texts") }
            written += 1
        }
    }
}

/// Writes "about TITLE" for each item, counting what it writes.
struct TitleAugmenter: ItemAugmenter {
    struct Configuration: Codable, Sendable, Equatable {
        var word = "about"
        enum CodingKeys: String, CodingKey, CaseIterable { case word }
        init(from decoder: any Decoder) throws { word = try decoder.container(keyedBy: CodingKeys.self).decode(.word, default: "about") }
    }
    static let kind = "test.title_text"
    static let summary = "writes a text from each item's title"
    let configuration: Configuration
    init(configuration: Configuration, context: ComponentContext) throws { self.configuration = configuration }
    func augment(items: [ItemText]) throws -> [String] {
        try items.map { item in
            try StageRecorder.shared.write()
            return "\(configuration.word) \(item.title ?? "nothing")"
        }
    }
}

/// Writes a user's first history items as text.
struct HistoryAugmenter: KnowledgeAugmenter {
    typealias Configuration = AnyKeysConfiguration
    static let kind = "test.history_text"
    static let summary = "writes a user's first items"
    let configuration = Configuration()
    init(configuration: Configuration, context: ComponentContext) throws {}
    func augment(user: Int32, history: [Int32], items: [ItemText]) throws -> String {
        try StageRecorder.shared.write()
        return "likes " + history.prefix(3).map { items[Int($0)].title ?? "?" }.joined(separator: ", ")
    }
}

/// Keeps the retriever's order and records the knowledge it was handed for each user.
struct KnowledgeRanker: Ranker {
    typealias Configuration = AnyKeysConfiguration
    static let kind = "test.knowledge_ranker"
    static let summary = "records RankRequest.knowledge"
    let configuration = Configuration()
    init(configuration: Configuration, context: ComponentContext) throws {}
    func rank(_ request: RankRequest) throws -> [ScoredItem] {
        StageRecorder.shared.hand(request.knowledge, to: request.user)
        return request.candidates.enumerated().map { ScoredItem(item: $0.element, score: Float(-$0.offset)) }
    }
}

/// Records the width of the item vectors it is trained with.
struct VectorWidthRetriever: Retriever, Trainable {
    typealias Configuration = AnyKeysConfiguration
    static let kind = "test.vector_width"
    static let summary = "records the width of TrainingSet.itemVectors"
    let configuration = Configuration()
    init(configuration: Configuration, context: ComponentContext) throws {}
    mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        StageRecorder.shared.users = data.itemVectors.map(\.count)
        VectorWidthRetriever.summaries.withLock { $0 = data.itemText.map { $0.text("summary") ?? "" } }
    }
    /// The `summary` field of every item, as the last fit saw it.
    static let summaries = Mutex<[String]>([])
    func score(users: ArraySlice<Int32>, history: [[Int32]], into scores: UnsafeMutableBufferPointer<Float>) throws {
        for index in scores.indices { scores[index] = 0 }
    }
}

/// A scorer that needs user text and user vectors at fit time, as KAR's does.
struct UserVectorScorer: Scorer, Trainable {
    typealias Configuration = AnyKeysConfiguration
    static let kind = "test.user_vectors"
    static let summary = "reads TrainingSet.userText and userVectors"
    let configuration = Configuration()
    var predicts: PredictionKind { .probability }
    init(configuration: Configuration, context: ComponentContext) throws {}
    mutating func fit(_ data: TrainingSet, context: TrainingContext) throws {
        guard data.userVectors.count == data.userCount, data.userText.count == data.userCount else {
            throw RecError(.plugin, "expected a vector and a text per user, got \(data.userVectors.count) and \(data.userText.count)")
        }
        // 1: the text names history items; 0: the user has no training history (the user
        // split holds out whole users) and the text names none; -1: neither.
        StageRecorder.shared.users = zip(data.userText, data.history).map { text, history in
            let names = (text["profile"] ?? "").count > "likes ".count
            return names == !history.isEmpty ? (names ? 1 : 0) : -1
        }
    }
    func predict(users: [Int32], items: [Int32], history: [[Int32]]) throws -> [Float] { users.map { _ in 0.5 } }
}

@Suite(.serialized) struct StageGraphTests {
    func registry() throws -> Registry {
        var registry = try makeRegistry()
        try registry.register(TitleAugmenter.self)
        try registry.register(HistoryAugmenter.self)
        try registry.register(UserVectorScorer.self)
        try registry.register(KnowledgeRanker.self)
        try registry.register(VectorWidthRetriever.self)
        return registry
    }

    /// The plan of spec text `spec` (written as NAME.yaml) and a fresh store for it.
    func planned(_ spec: String, _ name: String, _ registry: Registry) throws -> (ExperimentPlan, ResultStore) {
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(spec, name)), registry: registry)
        return (plan, try ResultStore(path: Fixtures.temporaryDirectory("stage-graph") + "/\(name).sqlite"))
    }

    /// `shuffle: true` on an augment stage moves the stage's texts across items (seeded by the
    /// run seed), writing none of them twice: the control pipeline sees every text, on other items.
    @Test func aShuffledStageMovesTheSameTextsAcrossItems() throws {
        let registry = try registry()
        let spec = """
            name: shuffled
            data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole }
            evaluation: { metrics: [hr], cutoffs: [10] }
            seeds: [1]
            pipelines:
              plain: { augment: [{ type: test.title_text, writes: summary }], encoder: { type: hashing-tfidf, dimension: 64 }, encode_fields: [summary], retriever: { type: test.vector_width } }
              control: { augment: [{ type: test.title_text, writes: summary, shuffle: true }], encoder: { type: hashing-tfidf, dimension: 64 }, encode_fields: [summary], retriever: { type: test.vector_width } }
            """
        let (plan, store) = try planned(spec, "shuffled", registry)
        #expect(plan.info.pipelineComponents["control"]?.contains("(shuffled across items: a control)") == true)
        StageRecorder.shared.reset()
        var seen: [[String]] = []
        for cell in plan.cells {
            let summary = try runner(registry, store).run(plan, cells: [cell])
            #expect(summary.failed.isEmpty, "\(summary.failed)")
            seen.append(VectorWidthRetriever.summaries.withLock { $0 })
        }
        #expect(StageRecorder.shared.count == 50, "the control writes no text of its own")
        #expect(seen[0] != seen[1] && seen[0].sorted() == seen[1].sorted())
        #expect(zip(seen[0], seen[1]).filter { $0 != $1 }.count > 40)
    }

    /// `encode_fields` with groups encodes each group on its own and concatenates the vectors
    /// (LLM-Rec's item module); a plain list is one text per item, as before.
    @Test func groupedEncodeFieldsConcatenateVectors() throws {
        let registry = try registry()
        for (fields, width) in [("[title, genres]", 64), ("[[title, genres], title]", 128), ("[[title], [genres], title]", 192)] {
            let spec = """
                name: grouped
                data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole }
                evaluation: { metrics: [hr], cutoffs: [10] }
                seeds: [1]
                pipelines:
                  width: { encoder: { type: hashing-tfidf, dimension: 64 }, encode_fields: \(fields), retriever: { type: test.vector_width } }
                """
            let (plan, store) = try planned(spec, "grouped", registry)
            let summary = try runner(registry, store).run(plan, cells: plan.cells)
            #expect(summary.failed.isEmpty, "\(summary.failed)")
            #expect(StageRecorder.shared.users.count == 50 && StageRecorder.shared.users.allSatisfy { $0 == width }, "\(fields): \(StageRecorder.shared.users.prefix(3))")
        }
    }

    func write(_ text: String, _ name: String) throws -> String {
        let path = Fixtures.temporaryDirectory("stage-graph") + "/\(name).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func runner(_ registry: Registry, _ store: ResultStore) -> Runner {
        Runner(registry: registry, store: store, data: DataStage(catalog: DataCatalog(root: Fixtures.directory)), progress: ProgressReporter(quiet: true))
    }

    static let ranking = """
        name: stages
        data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole }
        evaluation: { metrics: [hr], cutoffs: [10] }
        seeds: [1, 2]
        pipelines:
          knn:
            augment: [{ type: test.title_text, writes: summary }]
            encoder: { type: hashing-tfidf, dimension: 256 }
            encode_fields: [title, summary]
            derive: [{ type: item_graph, neighbours: 5 }]
            retriever: { type: graph_knn }
        sweep:
          pipelines.knn.derive.0.neighbours: [3, 5, 8]
        """

    /// Cell keys are the store's identity of a result: a pipeline without stages keeps the key
    /// it had before stages existed, and a stage pipeline's key covers its stages. A change
    /// here must be deliberate (and versioned).
    @Test func cellKeysArePinned() throws {
        let registry = try registry()
        let plain = try ExperimentPlan(try SpecLoader.load(path: Fixtures.directory + "/tiny/tiny.yaml"), registry: registry)
        #expect(plain.cells.prefix(3).map { String($0.key.prefix(12)) } == ["66cacd01acde", "d796c10fffc2", "a2ad97aa8e15"])
        #expect(!plain.cells.contains { $0.configJSON.contains("\"augment\"") || $0.configJSON.contains("\"derive\"") })
        let staged = try ExperimentPlan(try SpecLoader.load(path: Fixtures.directory + "/tiny/tiny-stages.yaml"), registry: registry)
        #expect(staged.cells.map { String($0.key.prefix(12)) }[2...4] == ["8dae05f4aead", "591fe91123ff", "441c5a62f5d7"])
        #expect(staged.cells[4].configJSON.hasPrefix("{\"augment\":[{\"config\":{"))
    }

    @Test func aSweepOverTheDeriveStageReusesEveryTextAndVector() throws {
        let registry = try registry()
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(Self.ranking, "sweep")), registry: registry)
        // neighbours: 5 is the base point, so the sweep's 5 merges with it: 3 points × 2 seeds.
        #expect(plan.cells.count == 6)
        let store = try ResultStore(path: Fixtures.temporaryDirectory("stage-graph") + "/sweep.sqlite")
        StageRecorder.shared.reset()
        let summary = try runner(registry, store).run(plan, cells: plan.cells)
        #expect(summary.failed.isEmpty, "\(summary.failed)")
        #expect(StageRecorder.shared.count == 50, "each of the 50 items is written once, for every cell")
        #expect(try store.artifactKeys(kind: "item-text:test.title_text").count == 50)
        #expect(try store.artifactKeys(kind: "embedding").count == 50, "the vectors are encoded once")
        #expect(try store.artifactKeys(kind: "derived:item_graph").count == 3, "one graph per neighbours value, shared by both seeds")
        let cells = try store.cells(of: try store.experiment(named: "stages"))
        let hr = try cells.map { cell in try store.metrics(cell: cell.id).first { $0.name == "hr" }?.value ?? -1 }
        #expect(cells.count == 6 && hr.allSatisfy { $0 > 0 }, "\(hr)")
    }

    @Test func aKilledAugmentStageResumesFromTheLastStoredBatch() throws {
        let registry = try registry()
        let spec = Self.ranking.components(separatedBy: "sweep:")[0].replacingOccurrences(of: "seeds: [1, 2]", with: "seeds: [1]")
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(spec, "resume")), registry: registry)
        let store = try ResultStore(path: Fixtures.temporaryDirectory("stage-graph") + "/resume.sqlite")
        StageRecorder.shared.reset(failAfter: 20)
        let chunked = runner(registry, store)
        chunked.augmentChunk = 16
        let first = try chunked.run(plan, cells: plan.cells)
        #expect(first.failed.count == 1)
        #expect(try store.artifactKeys(kind: "item-text:test.title_text").count == 16, "the first batch of 16 was stored before the failure")
        StageRecorder.shared.reset()
        let second = try runner(registry, store).run(plan, cells: plan.cells)
        #expect(second.failed.isEmpty && second.ran == 1, "\(second)")
        #expect(StageRecorder.shared.count == 34, "only the 34 items without a stored text are written again")
    }

    /// The ranking path's augmenter: exported for the users the evaluation ranks, and read
    /// back from the file by `import:` with no call to the augmenter.
    @Test func theRankingPathsProfilesExportAndImport() throws {
        let registry = try registry()
        let folder = Fixtures.temporaryDirectory("stage-graph")
        let spec = """
            name: ranked
            data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole }
            evaluation: { protocol: candidates, candidates: 10, metrics: [hr], cutoffs: [5], users: 20 }
            seeds: [1]
            pipelines:
              profiled:
                retriever: { type: popularity }
                augmenter: { type: test.history_text }
                ranker: { type: test.knowledge_ranker }
            """
        try spec.write(toFile: folder + "/ranked.yaml", atomically: true, encoding: .utf8)
        let store = try ResultStore(path: folder + "/ranked.sqlite")
        StageRecorder.shared.reset()
        let lines = try runner(registry, store).augmentations(try ExperimentPlan(try SpecLoader.load(path: folder + "/ranked.yaml"), registry: registry))
        #expect(lines.count == 20 && StageRecorder.shared.count == 20, "one profile per evaluated user")
        #expect(lines.allSatisfy { $0.level == "user" && $0.field == "knowledge" && $0.stage == "test.history_text" && $0.text.hasPrefix("likes") })

        // The plain run hands the ranker the same texts the export wrote.
        StageRecorder.shared.reset()
        let plan = try ExperimentPlan(try SpecLoader.load(path: folder + "/ranked.yaml"), registry: registry)
        #expect(try runner(registry, store).run(plan, cells: plan.cells).failed.isEmpty)
        let byID = Dictionary(uniqueKeysWithValues: lines.map { ($0.id, $0.text) })
        let dataset = try DataStage(catalog: DataCatalog(root: Fixtures.directory)).prepare(plan.cells[0].spec.data).split.dataset
        #expect(StageRecorder.shared.knowledge.count == 20)
        #expect(StageRecorder.shared.knowledge.allSatisfy { byID[dataset.userIDs[Int($0.key)]] == $0.value })

        // Imported (the texts changed, so they are seen to come from the file): no call.
        let file = try lines.map { line in
            var changed = line
            changed.text = "imported " + line.text
            return try canonicalJSON(changed, keys: .asDeclared)
        }.joined(separator: "\n")
        try file.write(toFile: folder + "/profiles.jsonl", atomically: true, encoding: .utf8)
        let importing = spec.replacingOccurrences(of: "{ type: test.history_text }", with: "{ type: test.history_text, import: profiles.jsonl }")
            .replacingOccurrences(of: "name: ranked", with: "name: ranked-imported")
        try importing.write(toFile: folder + "/imported.yaml", atomically: true, encoding: .utf8)
        let second = try ExperimentPlan(try SpecLoader.load(path: folder + "/imported.yaml"), registry: registry)
        #expect(second.cells[0].key != plan.cells[0].key, "the import is part of the cell")
        StageRecorder.shared.reset()
        #expect(try runner(registry, store).run(second, cells: second.cells).failed.isEmpty)
        #expect(StageRecorder.shared.count == 0, "the augmenter wrote nothing")
        #expect(StageRecorder.shared.knowledge.count == 20 && StageRecorder.shared.knowledge.values.allSatisfy { $0.hasPrefix("imported likes") })
    }

    @Test func userTextAndUserVectorsExistAtFitTime() throws {
        let registry = try registry()
        let spec = """
            name: user-stages
            data: { dataset: tiny, path: \(Fixtures.directory)/tiny, format: recbole, label: rating > 3, split: { method: user } }
            evaluation: { protocol: ctr, metrics: [auc] }
            seeds: [1]
            pipelines:
              kar-like:
                augment: [{ type: test.history_text, writes: profile }]
                encoder: { type: hashing-tfidf, dimension: 64 }
                encode_fields: [title]
                encode_user_fields: [profile]
                scorer: { type: test.user_vectors }
            """
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(spec, "users")), registry: registry)
        #expect(plan.cells[0].configJSON.contains("\"level\":\"user\""))
        let store = try ResultStore(path: Fixtures.temporaryDirectory("stage-graph") + "/users.sqlite")
        StageRecorder.shared.reset()
        let summary = try runner(registry, store).run(plan, cells: plan.cells)
        #expect(summary.failed.isEmpty, "\(summary.failed)")
        #expect(StageRecorder.shared.users.count == 80 && !StageRecorder.shared.users.contains(-1) && StageRecorder.shared.users.filter { $0 == 1 }.count >= 60)
        #expect(try store.artifactKeys(kind: "knowledge:test.history_text").count == 80)
    }

    @Test(arguments: [
        (
            "augment: [{ type: test.title_text, writes: title }]", "pipelines.knn.augment.0.writes",
            "augment stage 'test.title_text' writes 'title', which 'tiny' already has"
        ),
        ("encode_fields: [title, summary]", "pipelines.knn.encode_fields", "the encoder reads item field 'summmary', which no item of 'tiny' has and no augment stage writes"),
    ])
    func aStageNamingAFieldWronglyIsALocatedErrorBeforeAnythingRuns(change: String, key: String, message: String) throws {
        let registry = try registry()
        var spec = Self.ranking.components(separatedBy: "sweep:")[0]
        spec =
            change.hasPrefix("augment")
            ? spec.replacingOccurrences(of: "augment: [{ type: test.title_text, writes: summary }]", with: change) : spec.replacingOccurrences(of: "summary]", with: "summmary]")
        let plan = try ExperimentPlan(try SpecLoader.load(path: try write(spec, "bad-field")), registry: registry)
        let store = try ResultStore(path: Fixtures.temporaryDirectory("stage-graph") + "/bad-field.sqlite")
        let error = #expect(throws: RecError.self) { try runner(registry, store).run(plan, cells: plan.cells) }
        #expect(error?.keyPath == key && error?.message.contains(message) == true && error?.location != nil, "\(String(describing: error))")
        #expect(try store.experiments().isEmpty, "nothing is registered")
    }

    @Test(arguments: [
        ("derive: [{ type: item_graph, neighbours: 5 }]", "derive: []", "pipelines.knn.retriever.type", "'graph_knn' reads the item graph, which no derive stage of pipeline 'knn' builds"),
        ("augment: [{ type: test.title_text, writes: summary }]", "augment: [{ type: popularity, writes: summary }]", "pipelines.knn.augment.0.type", "'popularity' writes no text"),
        ("writes: summary }]", "writes: Summary }]", "pipelines.knn.augment.0.writes", "a field name is lowercase letters"),
        ("derive: [{ type: item_graph, neighbours: 5 }]", "derive: [{ type: item_graph }, { type: item_graph }]", "pipelines.knn.derive.1.type", "both build the item graph"),
        (
            "encode_fields: [title, summary]", "encode_fields: [title, summary]\n    encode_user_fields: [profile]", "pipelines.knn.encode_user_fields",
            "user field 'profile' is written by no augment stage"
        ),
    ])
    func aBadStageIsALocatedSpecError(old: String, new: String, key: String, message: String) throws {
        let spec = Self.ranking.components(separatedBy: "sweep:")[0].replacingOccurrences(of: old, with: new)
        let error = #expect(throws: RecError.self) { _ = try ExperimentPlan(try SpecLoader.load(path: try write(spec, "bad-stage")), registry: try registry()) }
        #expect(error?.keyPath == key && error?.message.contains(message) == true && error?.location != nil, "\(String(describing: error))")
    }

    @Test func theItemGraphWithoutAnEncoderIsALocatedError() throws {
        let spec = Self.ranking.components(separatedBy: "sweep:")[0]
            .replacingOccurrences(of: "    encoder: { type: hashing-tfidf, dimension: 256 }\n", with: "")
            .replacingOccurrences(of: "    encode_fields: [title, summary]\n", with: "")
        let error = #expect(throws: RecError.self) { _ = try ExperimentPlan(try SpecLoader.load(path: try write(spec, "no-encoder")), registry: try registry()) }
        #expect(error?.keyPath == "pipelines.knn.derive.0.type" && error?.message.contains("reads item vectors") == true, "\(String(describing: error))")
    }
}
