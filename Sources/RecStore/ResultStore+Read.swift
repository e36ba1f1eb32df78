import Foundation
import RecCore

/// Read-side views for reports, `reclab list`-style queries and tests.
extension ResultStore {
    public struct ExperimentRecord: Sendable {
        public var id: Int64
        public var name: String
        public var specFile: String
        public var specHash: String
        public var infoJSON: String
        public var plan: [String]
    }

    public struct CellRecord: Sendable {
        public var id: Int64
        public var key: String
        public var pipeline: String
        public var sweepLabel: String
        public var seed: UInt64
        public var configHash: String
        public var configJSON: String
        public var status: CellStatus
        public var dataFingerprint: String?
        public var error: String?
    }

    public func experiments() throws -> [ExperimentRecord] {
        try db.query("SELECT id, name, spec_file, spec_hash, info_json, plan_json FROM experiments ORDER BY name").map { row in
            let plan = (try? JSONDecoder().decode([String].self, from: Data((row[5].text ?? "[]").utf8))) ?? []
            return ExperimentRecord(id: row[0].int!, name: row[1].text!, specFile: row[2].text!, specHash: row[3].text!, infoJSON: row[4].text!, plan: plan)
        }
    }

    public func experiment(named name: String) throws -> ExperimentRecord {
        let all = try experiments()
        guard let found = all.first(where: { $0.name == name }) else {
            var message = "no experiment named '\(name)' in \(db.path)"
            if let near = nearest(name, in: all.map(\.name)) { message += " (did you mean '\(near)'?)" } else if !all.isEmpty { message += "; it holds: \(all.map(\.name).joined(separator: ", "))" }
            throw RecError(.store, message)
        }
        return found
    }

    /// The cells of the experiment's current plan, in plan order.
    public func cells(of experiment: ExperimentRecord) throws -> [CellRecord] {
        let rows = try db.query(
            "SELECT id, cell_key, pipeline, sweep_label, seed, config_hash, config_json, status, data_fingerprint, error FROM cells WHERE experiment_id=?",
            [.int(experiment.id)])
        var byKey: [String: CellRecord] = [:]
        for row in rows {
            let record = CellRecord(
                id: row[0].int!, key: row[1].text!, pipeline: row[2].text!, sweepLabel: row[3].text!,
                seed: UInt64(bitPattern: row[4].int!), configHash: row[5].text!, configJSON: row[6].text!,
                status: CellStatus(rawValue: row[7].text ?? "") ?? .pending, dataFingerprint: row[8].text, error: row[9].text)
            byKey[record.key] = record
        }
        return experiment.plan.compactMap { byKey[$0] }
    }

    public func metrics(cell id: Int64) throws -> [(name: String, k: Int, value: Double)] {
        try db.query("SELECT name, k, value FROM metrics WHERE cell_id=? ORDER BY name, k", [.int(id)]).map {
            ($0[0].text!, Int($0[1].int!), $0[2].double ?? .nan)
        }
    }

    public func perUser(cell id: Int64, name: String, k: Int) throws -> (users: [Int32], values: [Double])? {
        guard let row = try db.query("SELECT users, vals FROM user_metrics WHERE cell_id=? AND name=? AND k=?", [.int(id), .text(name), .int(Int64(k))]).first else {
            return nil
        }
        return (PerUserBlob.users(row[0].blob ?? []), PerUserBlob.values(row[1].blob ?? []))
    }

    public func timings(cell id: Int64) throws -> [(stage: String, seconds: Double)] {
        try db.query("SELECT stage, seconds FROM timings WHERE cell_id=? ORDER BY stage", [.int(id)]).map { ($0[0].text!, $0[1].double ?? 0) }
    }

    /// What the cell's components counted; empty for a file from before counts existed.
    public func counts(cell id: Int64) throws -> [(name: String, value: Int)] {
        guard try hasTable("counts") else { return [] }
        return try db.query("SELECT name, value FROM counts WHERE cell_id=? ORDER BY name", [.int(id)]).map { ($0[0].text!, Int($0[1].int ?? 0)) }
    }

    /// What the cell cost, by `CellCost` name; empty for a file from before costs were kept.
    public func costs(cell id: Int64) throws -> [String: Double] {
        guard try hasTable("costs") else { return [:] }
        var out: [String: Double] = [:]
        for row in try db.query("SELECT name, value FROM costs WHERE cell_id=?", [.int(id)]) { out[row[0].text!] = row[1].double ?? 0 }
        return out
    }

    /// The cell's training curves, each series in epoch order; empty for a file from before
    /// curves were kept.
    public func curves(cell id: Int64) throws -> [String: [(step: Int, value: Double)]] {
        guard try hasTable("curves") else { return [:] }
        var out: [String: [(step: Int, value: Double)]] = [:]
        for row in try db.query("SELECT series, step, value FROM curves WHERE cell_id=? ORDER BY series, step", [.int(id)]) {
            out[row[0].text!, default: []].append((Int(row[1].int!), row[2].double ?? .nan))
        }
        return out
    }

    func hasTable(_ name: String) throws -> Bool {
        try db.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [.text(name)]).first != nil
    }

    public func datasetStats(fingerprint: String) throws -> String? {
        try db.query("SELECT stats_json FROM datasets WHERE fingerprint=?", [.text(fingerprint)]).first?[0].text
    }
}
