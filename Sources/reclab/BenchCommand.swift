import COpenBLAS
import Foundation
import RecCore
import RecEval

enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "benchmarks (build with -c release): bench eval"
    static let usage = """
        Usage: reclab bench eval [--users N] [--items N] [--dim D] [--history H] [--batch B] [--k K]

        Full-ranking evaluation of a random D-dimension factor model: every user's scores over all
        items through cblas_sgemm in batches, H training items excluded per user, top-K and
        HR/NDCG/Recall@K. Prints users per second and peak resident memory.
        Defaults: 100000 users, 50000 items, D 64, H 20, B 512, K 10.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try Arguments(raw, options: ["--users", "--items", "--dim", "--history", "--batch", "--k"], flags: [])
        guard args.positionals == ["eval"] else { throw RecError.usage("expected 'bench eval'") }
        let users = try args.int("--users", default: 100_000), items = try args.int("--items", default: 50_000)
        let d = try args.int("--dim", default: 64), h = try args.int("--history", default: 20)
        let batch = try args.int("--batch", default: 512), k = try args.int("--k", default: 10)
        guard users > 0, items > h + 1, d > 0, batch > 0, k > 0 else { throw RecError.usage("sizes must be positive and items > history + 1") }
        var rng = SplitMix64(seed: 7)
        let userFactors = (0..<(users * d)).map { _ in rng.nextFloat() - 0.5 }
        let itemFactors = (0..<(items * d)).map { _ in rng.nextFloat() - 0.5 }
        var heldOut: [[Interaction]] = [], excluded: [[Int32]] = []
        heldOut.reserveCapacity(users); excluded.reserveCapacity(users)
        for u in 0..<users {
            var seen = Set<Int32>(), list: [Int32] = []
            while list.count < h + 1 {
                let item = Int32(rng.nextInt(below: items))
                if seen.insert(item).inserted { list.append(item) }
            }
            heldOut.append([Interaction(user: Int32(u), item: list[0])])
            excluded.append(Array(list[1...]))
        }
        let task = EvaluationTask(
            itemCount: items, users: (0..<users).map { Int32($0) }, heldOut: heldOut, excluded: excluded, interacted: excluded,
            popularity: [Int](repeating: 0, count: items))
        let evaluator = RankingEvaluator(metrics: ["hr", "ndcg", "recall"], cutoffs: [k], protocol: .full, batchUsers: batch)
        print("bench eval: \(users) users x \(items) items, dim \(d), batch \(batch), \(ProcessInfo.processInfo.activeProcessorCount) cores, OpenBLAS threads \(openblas_get_num_threads())")
        let start = Date()
        let result = try evaluator.evaluate(task, score: { batchUsers, out in
            var rows = [Float](repeating: 0, count: batchUsers.count * d)
            for (row, user) in batchUsers.enumerated() {
                for f in 0..<d { rows[row * d + f] = userFactors[Int(user) * d + f] }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batchUsers.count), Int32(items), Int32(d),
                        1, rows, Int32(d), itemFactors, Int32(d), 0, out.baseAddress, Int32(items))
        })
        let seconds = Date().timeIntervalSince(start)
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakMiB = Double(usage.ru_maxrss) / 1024
        print(String(format: "evaluated %d users in %.2f s: %.0f users/s", users, seconds, Double(users) / seconds))
        print(String(format: "hr@%d %.5f (random model; chance is about %.5f)", k, result.aggregate[MetricKey("hr", k)] ?? .nan, Double(k) / Double(items - h)))
        print(String(format: "peak resident memory: %.0f MiB (limit in the issue: 2048 MiB)", peakMiB))
        return 0
    }
}
