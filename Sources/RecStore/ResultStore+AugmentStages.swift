import Foundation
import RecCore

/// Which language-model calls each augment stage made, so that a report can say what each
/// stage's texts cost.
///
/// `augment_stages` links an experiment's pipelines to the augment stages they build, with each
/// stage's strategy: its augmenter, resolved configuration and dataset, which stay the same
/// across the splits and seeds a stage's texts may depend on. A row is written whenever a stage is
/// built, whether its texts are restored or written. `augment_stage_cells` links each such row to
/// the cells that built it, so that costs count only the stages of the experiment's current
/// plan: a stage built for a configuration the spec no longer has stays in the store, but no
/// longer counts. `augment_stage_calls` holds the keys of the calls a stage made while writing
/// texts, answered by a model or by the call cache; each chunk's keys are stored before the
/// chunk's texts, so no stored text lacks its calls. Stages whose texts come from an `import:`
/// file make no call and are not recorded.
extension ResultStore {
    public struct AugmentStage: Sendable, Equatable {
        public var experiment: String
        public var pipeline: String
        /// What the stage's texts are stored under, shared by every stage that writes the same
        /// texts (from another pipeline, or shuffled across entities).
        public var stage: String
        /// What the stage's splits and seeds share: a hash of its augmenter, configuration and dataset.
        public var strategy: String
        public var kind: String
        public var writes: String
        /// Texts the stage holds, one per item or user.
        public var entries: Int
        /// The key of the cell that built the stage.
        public var cell: String

        public init(experiment: String, pipeline: String, stage: String, strategy: String, kind: String, writes: String, entries: Int, cell: String) {
            self.experiment = experiment
            self.pipeline = pipeline
            self.stage = stage
            self.strategy = strategy
            self.kind = kind
            self.writes = writes
            self.entries = entries
            self.cell = cell
        }
    }

    public func recordAugmentStage(_ stage: AugmentStage) throws {
        try db.transaction {
            try db.query(
                """
                INSERT INTO augment_stages(experiment, pipeline, stage, strategy, kind, writes, entries) VALUES(?,?,?,?,?,?,?)
                ON CONFLICT(experiment, pipeline, stage) DO UPDATE SET entries=excluded.entries
                """,
                [
                    .text(stage.experiment), .text(stage.pipeline), .text(stage.stage), .text(stage.strategy), .text(stage.kind), .text(stage.writes),
                    .int(Int64(stage.entries)),
                ])
            try db.query(
                "INSERT OR IGNORE INTO augment_stage_cells(experiment, pipeline, stage, cell) VALUES(?,?,?,?)",
                [.text(stage.experiment), .text(stage.pipeline), .text(stage.stage), .text(stage.cell)])
        }
    }

    /// Runs `body` and returns, with its result, the keys of the calls the call cache answered
    /// or stored meanwhile (from any thread of this process).
    public func recordingCalls<T>(_ body: () throws -> T) throws -> (result: T, calls: [String]) {
        callRecorder.start()
        do {
            let result = try body()
            return (result, callRecorder.stop())
        } catch {
            _ = callRecorder.stop()
            throw error
        }
    }

    public func recordStageCalls(stage: String, calls: [String]) throws {
        guard !calls.isEmpty else { return }
        try db.transaction {
            for call in calls { try db.query("INSERT OR IGNORE INTO augment_stage_calls(stage, call) VALUES(?,?)", [.text(stage), .text(call)]) }
        }
    }

    /// What one strategy's stages cost, over the distinct calls they made.
    public struct AugmentCost: Sendable, Equatable {
        public var kind: String
        /// The fields the strategy's stages write, and the pipelines that build them.
        public var fields: [String]
        public var pipelines: [String]
        /// Stages of the strategy (one per split where its texts depend on the split).
        public var stages: Int
        /// Texts over those stages.
        public var entries: Int
        /// Distinct calls recorded and found in the call cache.
        public var calls: Int
        /// Recorded calls that this database's call cache does not hold (a results-only copy).
        public var missingCalls: Int
        /// Stages with texts but no recorded call: restored from texts written before calls were
        /// recorded per stage.
        public var unrecordedStages: Int
        public var promptTokens: Int
        public var generatedTokens: Int
        /// Generations that stopped at their `max_tokens`.
        public var cut: Int
        /// Runs of stored calls with no gap longer than `gap` seconds.
        public var sittings: Int
        /// The sittings' spans added: from the first to the last call stored in each.
        public var seconds: Double
    }

    /// Holds for the rows of `augment_stages`, named `s`, that a cell of the current plan of
    /// experiment `?1` built.
    private static let current = """
        s.experiment = ?1 AND EXISTS (
            SELECT 1 FROM augment_stage_cells l JOIN experiments e ON e.name = l.experiment, json_each(e.plan_json) p
            WHERE l.experiment = s.experiment AND l.pipeline = s.pipeline AND l.stage = s.stage AND p.value = l.cell)
        """

    /// Each strategy of the augment stages that `experiment`'s current plan built, with what its
    /// calls cost, in the order the strategies' first calls were stored. Wall time is read off
    /// the calls' stored times: calls more than `gap` seconds apart start a new sitting (a
    /// resumed run, or other work in between), and a sitting's span leaves out the time its
    /// first batch took.
    public func augmentCosts(experiment: String, gap: Double = 600) throws -> [AugmentCost] {
        guard try hasTable("augment_stages"), try hasTable("augment_stage_cells") else { return [] }
        let stages = try db.query(
            "SELECT s.pipeline, s.stage, s.strategy, s.kind, s.writes, s.entries FROM augment_stages s WHERE \(Self.current) ORDER BY s.kind, s.writes, s.pipeline",
            [.text(experiment)])
        var costs: [String: AugmentCost] = [:], order: [String] = [], stageSets: [String: Set<String>] = [:]
        for row in stages {
            let (pipeline, stage, strategy) = (row[0].text!, row[1].text!, row[2].text!)
            if costs[strategy] == nil {
                order.append(strategy)
                costs[strategy] = AugmentCost(
                    kind: row[3].text!, fields: [], pipelines: [], stages: 0, entries: 0, calls: 0, missingCalls: 0, unrecordedStages: 0,
                    promptTokens: 0, generatedTokens: 0, cut: 0, sittings: 0, seconds: 0)
            }
            if !costs[strategy]!.pipelines.contains(pipeline) { costs[strategy]!.pipelines.append(pipeline) }
            if !costs[strategy]!.fields.contains(row[4].text!) { costs[strategy]!.fields.append(row[4].text!) }
            if stageSets[strategy, default: []].insert(stage).inserted {
                costs[strategy]!.stages += 1
                costs[strategy]!.entries += Int(row[5].int ?? 0)
            }
        }
        let calls = try db.query(
            """
            SELECT DISTINCT s.strategy, a.call, c.key IS NOT NULL, c.prompt_tokens, c.completion_tokens,
                   c.kind = 'generate' AND json_extract(c.response, '$.finish') = 'length', c.created_at
            FROM augment_stages s JOIN augment_stage_calls a ON a.stage = s.stage LEFT JOIN lm_calls c ON c.key = a.call
            WHERE \(Self.current)
            """, [.text(experiment)])
        var times: [String: [Date]] = [:]
        let parser = ISO8601DateFormatter()
        for row in calls {
            let strategy = row[0].text!
            guard row[2].int == 1 else {
                costs[strategy]?.missingCalls += 1
                continue
            }
            costs[strategy]?.calls += 1
            costs[strategy]?.promptTokens += Int(row[3].int ?? 0)
            costs[strategy]?.generatedTokens += Int(row[4].int ?? 0)
            costs[strategy]?.cut += Int(row[5].int ?? 0)
            if let stored = row[6].text.flatMap(parser.date(from:)) { times[strategy, default: []].append(stored) }
        }
        for row in try db.query(
            """
            SELECT s.strategy, count(DISTINCT s.stage) FROM augment_stages s
            WHERE \(Self.current) AND s.entries > 0 AND NOT EXISTS (SELECT 1 FROM augment_stage_calls a WHERE a.stage = s.stage)
            GROUP BY s.strategy
            """, [.text(experiment)])
        {
            costs[row[0].text!]?.unrecordedStages = Int(row[1].int ?? 0)
        }
        for (strategy, stamps) in times {
            let sorted = stamps.sorted()
            var sittings = 1, seconds = 0.0, start = sorted[0]
            for (previous, next) in zip(sorted, sorted.dropFirst()) where next.timeIntervalSince(previous) > gap {
                seconds += previous.timeIntervalSince(start)
                sittings += 1
                start = next
            }
            costs[strategy]?.sittings = sittings
            costs[strategy]?.seconds = seconds + sorted.last!.timeIntervalSince(start)
        }
        let first = times.mapValues { $0.min()! }
        return order.enumerated().sorted { (first[$0.element] ?? .distantFuture, $0.offset) < (first[$1.element] ?? .distantFuture, $1.offset) }.map { costs[$0.element]! }
    }

    /// How many of `experiment`'s recorded augment stages no cell of its current plan built:
    /// stages of a configuration the spec has since changed, or recorded before stages were
    /// linked to cells (`reclab augment --recount` links those the current plan builds).
    public func augmentStagesOutsidePlan(experiment: String) throws -> Int {
        guard try hasTable("augment_stages") else { return 0 }
        let outside = try hasTable("augment_stage_cells") ? "NOT (\(Self.current))" : "s.experiment = ?1"
        return Int(try db.query("SELECT count(DISTINCT s.stage) FROM augment_stages s WHERE s.experiment = ?1 AND \(outside)", [.text(experiment)])[0][0].int ?? 0)
    }

    /// Copies the augment-stage records of `other`'s experiments (see `merge`).
    func mergeAugmentStages(from other: ResultStore) throws {
        guard try other.hasTable("augment_stages") else { return }
        let stages = try other.db.query("SELECT experiment, pipeline, stage, strategy, kind, writes, entries FROM augment_stages")
        let calls = try other.db.query("SELECT stage, call FROM augment_stage_calls")
        let links = try other.hasTable("augment_stage_cells") ? try other.db.query("SELECT experiment, pipeline, stage, cell FROM augment_stage_cells") : []
        try db.transaction {
            for row in stages {
                try db.query(
                    """
                    INSERT INTO augment_stages(experiment, pipeline, stage, strategy, kind, writes, entries) VALUES(?,?,?,?,?,?,?)
                    ON CONFLICT(experiment, pipeline, stage) DO UPDATE SET entries=max(entries, excluded.entries)
                    """, row)
            }
            for row in calls { try db.query("INSERT OR IGNORE INTO augment_stage_calls(stage, call) VALUES(?,?)", row) }
            for row in links { try db.query("INSERT OR IGNORE INTO augment_stage_cells(experiment, pipeline, stage, cell) VALUES(?,?,?,?)", row) }
        }
    }
}

/// The keys of the calls a call cache answered or stored while a recording was open.
final class CallRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [String]?

    func start() { lock.withLock { keys = [] } }

    func stop() -> [String] {
        lock.withLock {
            defer { keys = nil }
            return keys ?? []
        }
    }

    func note(_ key: String) { lock.withLock { keys?.append(key) } }
}
