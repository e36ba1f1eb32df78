import Foundation
import RecCore

extension ResultStore {
    /// Copies experiments, finished cells with their results, datasets, the calls each augment
    /// stage made, artifacts and cached language-model calls from another results file (a
    /// shard's) into this one. Cells finished here already are kept. With `resultsOnly`, calls and
    /// every artifact but the cells' notes and examples stay behind: what is left is what a
    /// report reads, small enough to carry a long run's finished cells to another machine.
    /// - Returns: the number of cells copied.
    @discardableResult
    public func merge(from path: String, resultsOnly: Bool = false) throws -> Int {
        let other = try ResultStore(path: path, readOnly: true)
        var copied = 0
        for experiment in try other.experiments() {
            let cells = try other.cells(of: experiment)
            let plan = cells.map {
                PlannedCell(key: $0.key, pipeline: $0.pipeline, sweepLabel: $0.sweepLabel, seed: $0.seed, configHash: $0.configHash, configJSON: $0.configJSON)
            }
            let mine = try existingPlan(experiment.name)
            let id = try register(
                experiment: experiment.name, specFile: experiment.specFile, specHash: experiment.specHash,
                infoJSON: experiment.infoJSON, plan: plan)
            // Keep this file's plan order when it has one (shards of one spec share the same plan).
            if let mine { try restorePlan(id: id, keys: mine, adding: plan.map(\.key)) }
            for cell in cells where cell.status == .done {
                let here = try status(experiment: id, cell: cell.key)
                guard here.status != .done else { continue }
                let metrics = try other.metrics(cell: cell.id)
                let perUserRows = try other.db.query("SELECT name, k, users, vals FROM user_metrics WHERE cell_id=?", [.int(cell.id)])
                let users = perUserRows.first.map { PerUserBlob.users($0[2].blob ?? []) } ?? []
                let perUser = perUserRows.map { (name: $0[0].text!, k: Int($0[1].int!), values: PerUserBlob.values($0[3].blob ?? [])) }
                let stats = try cell.dataFingerprint.flatMap { try other.datasetStats(fingerprint: $0) } ?? "{}"
                let result = CellResult(
                    dataFingerprint: cell.dataFingerprint ?? "", datasetStatsJSON: stats, metrics: metrics, users: users,
                    perUser: perUser, timings: try other.timings(cell: cell.id), counts: try other.counts(cell: cell.id),
                    costs: try other.costs(cell: cell.id).sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                    curves: try other.curves(cell: cell.id).sorted { $0.key < $1.key }.flatMap { series in series.value.map { (series.key, $0.step, $0.value) } })
                if try finish(cell: here.id, result: result) { copied += 1 }
                if resultsOnly {
                    for key in [Self.notesKey(cell: cell.key), Self.examplesKey(cell: cell.key)] {
                        if let row = try other.db.query("SELECT kind, data FROM artifacts WHERE key=?", [.text(key)]).first {
                            try putArtifact(key, kind: row[0].text!, data: row[1].blob ?? [])
                        }
                    }
                }
            }
        }
        // Which calls each augment stage made: small, and what the report's stage costs read.
        try mergeAugmentStages(from: other)
        if resultsOnly { return copied }
        for row in try other.db.query("SELECT key, kind, data FROM artifacts") {
            try putArtifact(row[0].text!, kind: row[1].text!, data: row[2].blob ?? [])
        }
        // Language-model calls, with the times they were made (a file from before the call cache
        // has no such table).
        if try other.hasTable("lm_calls") { _ = try importLMCalls(try other.storedLMCalls()) }
        return copied
    }

    private func existingPlan(_ name: String) throws -> [String]? {
        guard let text = try db.query("SELECT plan_json FROM experiments WHERE name=?", [.text(name)]).first?[0].text else { return nil }
        return try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    /// Keeps this file's plan order and appends keys only the other file planned.
    private func restorePlan(id: Int64, keys: [String], adding others: [String]) throws {
        let merged = keys + others.filter { !keys.contains($0) }
        let json = try canonicalJSON(merged)
        try db.transaction { try db.query("UPDATE experiments SET plan_json=? WHERE id=?", [.text(json), .int(id)]) }
    }
}
