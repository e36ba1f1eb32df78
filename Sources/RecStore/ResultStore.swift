import Foundation
import RecCore

/// The results database: experiments, cells, metrics, per-user values, timings, datasets and
/// content-addressed artifacts, in one SQLite file (WAL mode, every write in a transaction).
public final class ResultStore: @unchecked Sendable {
    public let db: SQLiteConnection
    /// Notes the key of every call the call cache answers or stores while a recording is open
    /// (`recordingCalls`), so an augment stage learns which calls it made.
    let callRecorder = CallRecorder()
    public static let codeVersion = "reclab 0.1.0"

    public init(path: String, readOnly: Bool = false) throws {
        if readOnly && !FileManager.default.fileExists(atPath: path) {
            throw RecError(.store, "results database '\(path)' does not exist; run an experiment first or pass --db")
        }
        db = try SQLiteConnection(path: path, readOnly: readOnly)
        if !readOnly {
            try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            try db.transaction { try db.execute(Self.schema) }
        }
    }

    static let schema = """
        CREATE TABLE IF NOT EXISTS experiments(
            id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, spec_file TEXT NOT NULL, spec_hash TEXT NOT NULL,
            info_json TEXT NOT NULL, plan_json TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS datasets(fingerprint TEXT PRIMARY KEY, stats_json TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS cells(
            id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id),
            cell_key TEXT NOT NULL, pipeline TEXT NOT NULL, sweep_label TEXT NOT NULL, seed INTEGER NOT NULL,
            config_hash TEXT NOT NULL, config_json TEXT NOT NULL, data_fingerprint TEXT,
            status TEXT NOT NULL DEFAULT 'pending', owner_pid INTEGER, started_at TEXT, finished_at TEXT,
            code_version TEXT, error TEXT, UNIQUE(experiment_id, cell_key));
        CREATE TABLE IF NOT EXISTS metrics(
            cell_id INTEGER NOT NULL REFERENCES cells(id), name TEXT NOT NULL, k INTEGER NOT NULL, value REAL,
            PRIMARY KEY(cell_id, name, k));
        CREATE TABLE IF NOT EXISTS user_metrics(
            cell_id INTEGER NOT NULL REFERENCES cells(id), name TEXT NOT NULL, k INTEGER NOT NULL,
            users BLOB NOT NULL, vals BLOB NOT NULL, PRIMARY KEY(cell_id, name, k));
        CREATE TABLE IF NOT EXISTS timings(
            cell_id INTEGER NOT NULL REFERENCES cells(id), stage TEXT NOT NULL, seconds REAL NOT NULL,
            PRIMARY KEY(cell_id, stage));
        CREATE TABLE IF NOT EXISTS counts(
            cell_id INTEGER NOT NULL REFERENCES cells(id), name TEXT NOT NULL, value INTEGER NOT NULL,
            PRIMARY KEY(cell_id, name));
        CREATE TABLE IF NOT EXISTS artifacts(
            key TEXT PRIMARY KEY, kind TEXT NOT NULL, size INTEGER NOT NULL, created_at TEXT NOT NULL, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS lm_calls(
            key TEXT PRIMARY KEY, backend TEXT NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL, request TEXT NOT NULL,
            response TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, created_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS lm_cache_counts(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS costs(
            cell_id INTEGER NOT NULL REFERENCES cells(id), name TEXT NOT NULL, value REAL NOT NULL,
            PRIMARY KEY(cell_id, name));
        CREATE TABLE IF NOT EXISTS curves(
            cell_id INTEGER NOT NULL REFERENCES cells(id), series TEXT NOT NULL, step INTEGER NOT NULL, value REAL NOT NULL,
            PRIMARY KEY(cell_id, series, step));
        CREATE TABLE IF NOT EXISTS augment_stages(
            experiment TEXT NOT NULL, pipeline TEXT NOT NULL, stage TEXT NOT NULL, strategy TEXT NOT NULL, kind TEXT NOT NULL,
            writes TEXT NOT NULL, entries INTEGER NOT NULL, PRIMARY KEY(experiment, pipeline, stage)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS augment_stage_calls(stage TEXT NOT NULL, call TEXT NOT NULL, PRIMARY KEY(stage, call)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS augment_stage_cells(
            experiment TEXT NOT NULL, pipeline TEXT NOT NULL, stage TEXT NOT NULL, cell TEXT NOT NULL,
            PRIMARY KEY(experiment, pipeline, stage, cell)) WITHOUT ROWID;
        """

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }

    // MARK: - Experiments and cells

    /// One planned cell, as the runner describes it.
    public struct PlannedCell: Sendable, Codable, Equatable {
        public var key: String
        public var pipeline: String
        public var sweepLabel: String
        public var seed: UInt64
        public var configHash: String
        public var configJSON: String

        public init(key: String, pipeline: String, sweepLabel: String, seed: UInt64, configHash: String, configJSON: String) {
            self.key = key
            self.pipeline = pipeline
            self.sweepLabel = sweepLabel
            self.seed = seed
            self.configHash = configHash
            self.configJSON = configJSON
        }
    }

    /// Records the experiment and its plan; cells already present keep their status and results.
    /// - Returns: the experiment id.
    @discardableResult
    public func register(experiment name: String, specFile: String, specHash: String, infoJSON: String, plan: [PlannedCell]) throws -> Int64 {
        let planJSON = try canonicalJSON(plan.map(\.key))
        return try db.transaction {
            try db.query(
                """
                INSERT INTO experiments(name, spec_file, spec_hash, info_json, plan_json, updated_at) VALUES(?,?,?,?,?,?)
                ON CONFLICT(name) DO UPDATE SET spec_file=excluded.spec_file, spec_hash=excluded.spec_hash,
                    info_json=excluded.info_json, plan_json=excluded.plan_json, updated_at=excluded.updated_at
                """, [.text(name), .text(specFile), .text(specHash), .text(infoJSON), .text(planJSON), .text(Self.now())])
            let id = try db.query("SELECT id FROM experiments WHERE name=?", [.text(name)])[0][0].int!
            for cell in plan {
                try db.query(
                    """
                    INSERT INTO cells(experiment_id, cell_key, pipeline, sweep_label, seed, config_hash, config_json)
                    VALUES(?,?,?,?,?,?,?) ON CONFLICT(experiment_id, cell_key) DO NOTHING
                    """,
                    [
                        .int(id), .text(cell.key), .text(cell.pipeline), .text(cell.sweepLabel), .int(Int64(bitPattern: cell.seed)),
                        .text(cell.configHash), .text(cell.configJSON),
                    ])
            }
            return id
        }
    }

    public enum CellStatus: String, Sendable { case pending, running, done, failed }

    public func status(experiment: Int64, cell key: String) throws -> (id: Int64, status: CellStatus, owner: Int32?) {
        let rows = try db.query("SELECT id, status, owner_pid FROM cells WHERE experiment_id=? AND cell_key=?", [.int(experiment), .text(key)])
        guard let row = rows.first else { throw RecError(.store, "cell \(key) is not registered") }
        return (row[0].int!, CellStatus(rawValue: row[1].text ?? "") ?? .pending, row[2].int.map { Int32($0) })
    }

    public func markRunning(cell id: Int64) throws {
        try db.transaction {
            try db.query(
                "UPDATE cells SET status='running', owner_pid=?, started_at=?, error=NULL WHERE id=? AND status!='done'",
                [.int(Int64(getpid())), .text(Self.now()), .int(id)])
        }
    }

    public func markFailed(cell id: Int64, error: String) throws {
        try db.transaction {
            try db.query("UPDATE cells SET status='failed', error=?, finished_at=? WHERE id=? AND status!='done'", [.text(error), .text(Self.now()), .int(id)])
        }
    }

    /// Everything a finished cell produced, written at once.
    public struct CellResult: Sendable {
        public var dataFingerprint: String
        public var datasetStatsJSON: String
        public var metrics: [(name: String, k: Int, value: Double)]
        public var users: [Int32]
        public var perUser: [(name: String, k: Int, values: [Double])]
        public var timings: [(stage: String, seconds: Double)]
        /// What the cell's components counted (a ranker's rejected LLM outputs, its calls).
        public var counts: [(name: String, value: Int)]
        /// What the cell cost (`CellCost` names): language-model calls and tokens, seconds, memory.
        public var costs: [(name: String, value: Double)]
        /// Per-epoch series of training (`loss`, `validation ndcg@10`): step is the epoch.
        public var curves: [(series: String, step: Int, value: Double)]

        public init(
            dataFingerprint: String, datasetStatsJSON: String, metrics: [(name: String, k: Int, value: Double)], users: [Int32], perUser: [(name: String, k: Int, values: [Double])],
            timings: [(stage: String, seconds: Double)], counts: [(name: String, value: Int)] = [], costs: [(name: String, value: Double)] = [],
            curves: [(series: String, step: Int, value: Double)] = []
        ) {
            self.counts = counts
            self.costs = costs
            self.curves = curves
            self.dataFingerprint = dataFingerprint
            self.datasetStatsJSON = datasetStatsJSON
            self.metrics = metrics
            self.users = users
            self.perUser = perUser
            self.timings = timings
        }
    }

    /// Stores a cell's results and marks it done, in one transaction. A cell that another process
    /// finished meanwhile is left as it is, so no row is ever written twice.
    /// - Returns: false when the cell was already done.
    @discardableResult
    public func finish(cell id: Int64, result: CellResult) throws -> Bool {
        try db.transaction {
            let status = try db.query("SELECT status FROM cells WHERE id=?", [.int(id)]).first?[0].text
            if status == CellStatus.done.rawValue { return false }
            try db.query("INSERT OR IGNORE INTO datasets(fingerprint, stats_json) VALUES(?,?)", [.text(result.dataFingerprint), .text(result.datasetStatsJSON)])
            for table in ["metrics", "user_metrics", "timings", "counts", "costs", "curves"] {
                try db.query("DELETE FROM \(table) WHERE cell_id=?", [.int(id)])
            }
            for metric in result.metrics {
                try db.query(
                    "INSERT INTO metrics(cell_id, name, k, value) VALUES(?,?,?,?)",
                    [.int(id), .text(metric.name), .int(Int64(metric.k)), metric.value.isNaN ? .null : .double(metric.value)])
            }
            let users = result.users.withUnsafeBytes { Array($0) }
            for series in result.perUser {
                let values = series.values.withUnsafeBytes { Array($0) }
                try db.query(
                    "INSERT INTO user_metrics(cell_id, name, k, users, vals) VALUES(?,?,?,?,?)",
                    [.int(id), .text(series.name), .int(Int64(series.k)), .blob(users), .blob(values)])
            }
            for timing in result.timings {
                try db.query("INSERT INTO timings(cell_id, stage, seconds) VALUES(?,?,?)", [.int(id), .text(timing.stage), .double(timing.seconds)])
            }
            for count in result.counts {
                try db.query("INSERT INTO counts(cell_id, name, value) VALUES(?,?,?)", [.int(id), .text(count.name), .int(Int64(count.value))])
            }
            for cost in result.costs where cost.value.isFinite {
                try db.query("INSERT INTO costs(cell_id, name, value) VALUES(?,?,?)", [.int(id), .text(cost.name), .double(cost.value)])
            }
            // A diverged loss (NaN, infinity) is left out of its curve; SQLite would store it as NULL.
            for point in result.curves where point.value.isFinite {
                try db.query(
                    "INSERT OR REPLACE INTO curves(cell_id, series, step, value) VALUES(?,?,?,?)",
                    [.int(id), .text(point.series), .int(Int64(point.step)), .double(point.value)])
            }
            try db.query(
                "UPDATE cells SET status='done', data_fingerprint=?, finished_at=?, code_version=?, error=NULL WHERE id=?",
                [.text(result.dataFingerprint), .text(Self.now()), .text(Self.codeVersion), .int(id)])
            return true
        }
    }

    // MARK: - Artifacts (the stage cache)

    /// The artifact key under which a cell's quoted examples (a JSON array of strings: prompts
    /// and answers a report quotes) are stored.
    public static func examplesKey(cell key: String) -> String { "examples|" + key }

    /// The artifact key of the notes (a JSON array of sentences) in which a cell's components
    /// explain what they counted.
    public static func notesKey(cell key: String) -> String { "notes|" + key }

    public func artifact(_ key: String) throws -> [UInt8]? {
        try db.query("SELECT data FROM artifacts WHERE key=?", [.text(key)]).first?[0].blob
    }

    /// The keys of every artifact of `kind`, sorted.
    public func artifactKeys(kind: String) throws -> [String] {
        try db.query("SELECT key FROM artifacts WHERE kind=? ORDER BY key", [.text(kind)]).compactMap { $0[0].text }
    }

    public func putArtifact(_ key: String, kind: String, data: [UInt8]) throws {
        try putArtifacts([(key, data)], kind: kind)
    }

    /// Stores many artifacts of one kind in one transaction (all or none); existing keys are kept.
    public func putArtifacts(_ items: [(key: String, data: [UInt8])], kind: String) throws {
        let now = Self.now()
        try db.transaction {
            for (key, data) in items {
                try db.query(
                    "INSERT OR IGNORE INTO artifacts(key, kind, size, created_at, data) VALUES(?,?,?,?,?)",
                    [.text(key), .text(kind), .int(Int64(data.count)), .text(now), .blob(data)])
            }
        }
    }
}

/// Decoding helpers for per-user blobs (little-endian Int32 users, Float64 values).
public enum PerUserBlob {
    public static func users(_ bytes: [UInt8]) -> [Int32] {
        bytes.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) } }
    }

    public static func values(_ bytes: [UInt8]) -> [Double] {
        bytes.withUnsafeBytes { raw in (0..<(raw.count / 8)).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) } }
    }
}
