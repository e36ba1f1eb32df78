import Foundation
import RecCore
import RecStore

enum StatusCommand: Command {
    static let name = "status"
    static let summary = "cells done per shard of a cluster submission's results folder"
    static let usage = """
        Usage: reclab status RESULTS

        Reads RESULTS/submission.json (written by `reclab submit`) and each shard's database,
        and prints per shard its cells done, running, failed and still to run, then the merged
        database's count once the merge job has run. A shard whose task has not started yet
        has no database and shows every cell as to run.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: [], flags: [])
        let folder = try args.positionals(1, "the RESULTS folder")[0]
        let recordPath = folder + "/submission.json"
        guard let data = FileManager.default.contents(atPath: recordPath) else {
            throw RecError(.io, "\(recordPath) does not exist: RESULTS is the folder `reclab submit` wrote (default results/<experiment>)")
        }
        let record: ClusterSubmission.Record
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            record = try decoder.decode(ClusterSubmission.Record.self, from: data)
        } catch {
            throw RecError(.data, "\(recordPath) is not a submission record: \(error)")
        }
        print(
            "\(record.experiment): \(record.jobs) shard(s) on \(record.scheduler)"
                + (record.ids.isEmpty ? "" : ", jobs " + record.ids.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        var total = 0, done = 0
        for index in 0..<record.jobs {
            let path = folder + "/shard-\(index).sqlite"
            guard FileManager.default.fileExists(atPath: path) else {
                print("shard \(index): not started")
                continue
            }
            let counts = try shardCounts(ResultStore(path: path, readOnly: true), experiment: record.experiment, shard: index, of: record.jobs)
            total += counts.values.reduce(0, +)
            done += counts[.done, default: 0]
            print(
                "shard \(index): \(counts[.done, default: 0]) done, \(counts[.running, default: 0]) running, \(counts[.failed, default: 0]) failed, \(counts[.pending, default: 0]) to run")
        }
        let merged = folder + "/merged.sqlite"
        if FileManager.default.fileExists(atPath: merged) {
            let store = try ResultStore(path: merged, readOnly: true)
            let cells = try store.cells(of: try store.experiment(named: record.experiment))
            print("merged: \(cells.count { $0.status == .done }) of \(cells.count) cells done")
        } else {
            print("merged: not yet (\(done) of \(total) cells done in the shards that started)")
        }
        return 0
    }

    /// The statuses of shard `index`'s cells (plan positions index, index + count, ...).
    static func shardCounts(_ store: ResultStore, experiment: String, shard index: Int, of count: Int) throws -> [ResultStore.CellStatus: Int] {
        let record = try store.experiment(named: experiment)
        let statuses = Dictionary(try store.cells(of: record).map { ($0.key, $0.status) }, uniquingKeysWith: { first, _ in first })
        var counts: [ResultStore.CellStatus: Int] = [:]
        for (position, key) in record.plan.enumerated() where position % count == index {
            counts[statuses[key] ?? .pending, default: 0] += 1
        }
        return counts
    }
}
