import COpenBLAS
import Foundation
import RecCore
import RecData
import RecEval
import RecLM
import RecQuant
import RecSpec
import AllPlugins
import SASRec

enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "benchmarks (build with -c release): bench eval, sasrec, encode, lm, lora, quant, ctr"
    static let usage = """
        Usage: reclab bench eval [--users N] [--items N] [--dim D] [--history H] [--batch B] [--k K]
               reclab bench sasrec [--dataset NAME] [--epochs E] [--users N] [--set KEY=VALUE]... [--data-root DIR]
               reclab bench encode [--encoder KIND] [--movies FILE] [--batch B] [--data-root DIR]
               reclab bench lm [--model M] [--numerics exact|fast] [--movies FILE] [--data-root DIR] [--repeat R]
               reclab bench lm --batch N[,N...] [--kv-budget-mib MIB] [--model M] [--numerics exact|fast] [--movies FILE] [--repeat R]
               reclab bench lm --openai URL --batch N [--concurrency C] [--model NAME] [--movies FILE] [--repeat R]
               reclab bench lm --shared-prefix [--titles T] [--model M] [--numerics exact|fast] [--movies FILE] [--repeat R]
               reclab bench lora [--model M] [--tokens T] [--examples N]
               reclab bench quant [--rows R] [--columns C] [--format F] [--repeat R]
               reclab bench ctr [--model NAME] [--spec SPEC] [--epochs E] [--python PYTHON] [--no-peer] [--data-root DIR]

        bench quant times the block-quantised products of exact numerics (RecQuant) alone: a
        random R x C matrix (default 3072 x 576, SmolLM2-135M's stacked gate and up projections)
        in Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0, and when C is a multiple of 256 in Q4_K, Q5_K and
        Q6_K, times 1 token (generation) and 512 tokens (a prompt), activations quantised
        included, and prints microseconds per product and integer GOP/s: the best of R runs
        (default 3; more for the quick products). --format F times format F alone.

        bench lora trains a rank-8 LoRA adapter on q and v of the local model (LoRAModel, as
        palr.rank's finetune does) for N examples (default 8) of T tokens (default 512, the last
        32 scored) and prints seconds per example, tokens per second and peak resident memory.

        bench lm runs the local engine on the workload of ../shared/peers/llama_score.py: a prompt
        listing 40 ML-1M titles (about 450 tokens), then (a) the log-probability of each of 50
        candidate titles after it (prompt evaluated once), (a') the same with the prompt's keys and
        values already cached (the continuations' pass alone), (b) prompt tokens per second, and (c)
        generated tokens per second over 128 tokens. Titles are drawn with a seeded generator. Each
        is run R times (default 3); the median and, in brackets, the best are printed.
        --numerics picks the engine's numerics (exact, the default, or fast; see `reclab lm --help`).

        \(lmBatchUsage)

        \(lmPrefixUsage)

        bench encode embeds every movie of ml-latest-small's movies.csv as "Title. Genres: A, B"
        (the text ../shared/peers/st_encode.py encodes), batch B (default 64), after a warm-up on
        the first 256, and prints sentences per second and peak resident memory.

        bench sasrec trains SASRec (default: RecBole's ML-100K settings, hidden 64, 2 layers,
        2 heads, length 50, dropout 0.2, CE, batch 256) on the leave-one-out training split of
        NAME (default ml-100k; --users keeps the first N users) and prints seconds per epoch
        and peak resident memory. --set changes SASRec keys, e.g. --set max_length=200.

        Full-ranking evaluation of a random D-dimension factor model: every user's scores over all
        items through cblas_sgemm in batches, H training items excluded per user, top-K and
        HR/NDCG/Recall@K. Prints users per second and peak resident memory.
        Defaults: 100000 users, 50000 items, D 64, H 20, B 512, K 10.

        """ + ctrUsage + "\n"

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(
            raw,
            options: [
                "--users", "--items", "--dim", "--history", "--batch", "--k", "--dataset", "--epochs", "--set", "--data-root", "--encoder", "--movies", "--model", "--numerics", "--tokens",
                "--examples", "--rows", "--columns", "--format", "--repeat", "--spec", "--pipeline", "--python", "--kv-budget-mib", "--openai", "--concurrency", "--titles", "--max-tokens",
            ], flags: ["--no-peer", "--shared-prefix"])
        switch args.positionals {
        case ["eval"]: return try evaluation(args)
        case ["sasrec"]: return try sasrec(args)
        case ["encode"]: return try encode(args)
        case ["lm"]: return try languageModel(args)
        case ["lora"]: return try lora(args)
        case ["quant"]: return try quantized(args)
        case ["ctr"]: return try ctr(args)
        default: throw RecError.usage("expected 'bench eval', 'bench sasrec', 'bench encode', 'bench lm', 'bench lora', 'bench quant' or 'bench ctr'")
        }
    }

    static func lora(_ args: CommandArguments) throws -> Int32 {
        let tokens = try args.intPositive("--tokens", default: 512), count = try args.intPositive("--examples", default: 8)
        guard tokens > 33, count > 0 else { throw RecError.usage("--tokens must exceed 33 and --examples be positive") }
        let engine = try LMCommand.loadLocal(args.value("--model"))
        let model = try LoRAModel(model: engine, options: .init())
        var rng = SplitMix64(seed: 1)
        let vocabulary = engine.configuration.vocabulary
        let examples = (0..<count).map { _ in
            let ids = (0..<tokens).map { _ in Int32(rng.nextInt(below: vocabulary)) }
            return LoRAModel.Example(prompt: Array(ids.dropLast(32)), answer: Array(ids.suffix(32)))
        }
        // One example first, untimed (allocations, BLAS threads).
        model.train(Array(examples.prefix(1)), epochs: 1, learningRate: 1e-4, batch: 1, seed: 1)
        let started = Date()
        model.train(examples, epochs: 1, learningRate: 1e-4, batch: 8, seed: 1)
        let seconds = Date().timeIntervalSince(started)
        print(
            String(
                format: "lora: %d examples of %d tokens: %.2f s per example, %.0f tokens/s, peak memory %.0f MiB",
                count, tokens, seconds / Double(count), Double(count * tokens) / seconds, peakMiB()))
        return 0
    }

    static func quantized(_ args: CommandArguments) throws -> Int32 {
        let rows = try args.intPositive("--rows", default: 3072), columns = try args.intPositive("--columns", default: 576)
        guard rows > 0, columns > 0, columns % 32 == 0 else { throw RecError.usage("--rows must be positive and --columns a positive multiple of 32") }
        guard BlockQuantizedMatrix.supported else { throw RecError(.usage, "the quantised kernels need AVX2, FMA and F16C") }
        let only = args.value("--format"), repeats = try args.intPositive("--repeat", default: 3)
        let names = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"]
        if let only, !names.contains(only) { throw RecError.usage("--format \(only) is not one of \(names.joined(separator: ", "))") }
        if let only, only.hasSuffix("_K"), columns % 256 != 0 { throw RecError.usage("--format \(only) needs --columns a multiple of 256") }
        var rng = SplitMix64(seed: 1)
        func halfBytes(_ x: Float) -> [UInt8] { withUnsafeBytes(of: Float16(x).bitPattern.littleEndian) { Array($0) } }
        for format in [BlockQuantizedMatrix.Format.q4_0, .q4_1, .q5_0, .q5_1, .q8_0] where only == nil || only == format.rawValue {
            // Random quants with small positive Float16 scales (and offsets for Q4_1).
            let blockBytes = format.blockBytes
            var raw = (0..<(rows * columns / 32 * blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for block in 0..<(rows * columns / 32) {
                for at in [0, 2].prefix(format == .q4_1 ? 2 : 1) {
                    raw.replaceSubrange((block * blockBytes + at)..<(block * blockBytes + at + 2), with: halfBytes(rng.nextFloat() * 0.01 + 0.001))
                }
            }
            let matrix = raw.withUnsafeBytes { BlockQuantizedMatrix(format: format, rows: rows, columns: columns, source: $0.baseAddress!) }
            timeProducts(format.rawValue, rows: rows, columns: columns, repeats: repeats, rng: &rng) { x, tokens, out in
                matrix.multiply(QuantizedActivations(x, rows: tokens, columns: columns), into: out, stride: rows)
            }
        }
        guard columns % 256 == 0 else {
            print("quant: the k-quants need --columns a multiple of 256; skipped")
            return 0
        }
        for format in [SuperBlockMatrix.Format.q4K, .q5K, .q6K] where only == nil || only == format.rawValue {
            // Random quants and 6-bit scales with small positive Float16 factors.
            let blocks = rows * columns / 256
            var raw: [UInt8] = []
            for _ in 0..<blocks {
                let random = (0..<(format.blockBytes - (format == .q6K ? 2 : 4))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let factor = halfBytes(rng.nextFloat() * 0.01 + 0.001)
                raw += format == .q6K ? random + factor : factor + halfBytes(rng.nextFloat() * 0.01) + random
            }
            let matrix = raw.withUnsafeBytes { SuperBlockMatrix(format: format, rows: rows, columns: columns, source: $0.baseAddress!) }
            timeProducts(format.rawValue, rows: rows, columns: columns, repeats: repeats, rng: &rng) { x, tokens, out in
                matrix.multiply(SuperBlockActivations(x, rows: tokens, columns: columns), into: out, stride: rows)
            }
        }
        return 0
    }

    /// Prints the best time of `product` (activations quantised included) for 1 token and for 512.
    static func timeProducts(
        _ name: String, rows: Int, columns: Int, repeats minimum: Int, rng: inout SplitMix64,
        _ product: (UnsafePointer<Float>, _ tokens: Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        for tokens in [1, 512] {
            let x = (0..<(tokens * columns)).map { _ in rng.nextFloat() - 0.5 }
            var out = [Float](repeating: 0, count: tokens * rows)
            let repeats = max(minimum, 2_000_000_000 / (2 * rows * columns * tokens))
            var best = Double.infinity
            for _ in 0..<repeats {
                let started = Date()
                x.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer { o in product(x.baseAddress!, tokens, o.baseAddress!) }
                }
                best = min(best, Date().timeIntervalSince(started))
            }
            print(
                String(
                    format: "quant %@ x %4d token(s): %9.1f us per product, %6.1f GOP/s (best of %d)",
                    name, tokens, best * 1e6, Double(2 * rows * columns * tokens) / best / 1e9, repeats))
        }
    }

    static func peakMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    static func sasrec(_ args: CommandArguments) throws -> Int32 {
        var dataset = try DataCatalog(root: args.value("--data-root")).load(dataset: args.value("--dataset") ?? "ml-100k")
        if args.value("--users") != nil {
            let limit = try args.intPositive("--users", default: 0)
            dataset.interactions = dataset.interactions.filter { $0.user < limit }
            dataset = dataset.compacted()
        }
        let split = try dataset.split(.leaveOneOut)
        let configuration = try SetAssignments(["epochs=\(try args.intPositive("--epochs", default: 2))"] + args.values("--set"), label: "--set")
            .decode(SASRec.Configuration.self)
        var model = try SASRec(configuration: configuration, context: ComponentContext(seed: 1))
        print("bench sasrec: \(dataset.name), \(dataset.userCount) users, \(dataset.itemCount) items, \(split.train.count) training interactions; \(try canonicalJSON(configuration))")
        let times = EpochTimes()
        try model.fit(
            split.trainingSet,
            context: TrainingContext(seed: 1) { event in
                if case .epochEnd(let epoch, _, let loss) = event { times.lap(epoch: epoch, loss: loss) }
            })
        let seconds = times.seconds
        print(String(format: "seconds per epoch: %@ (mean %.1f)", seconds.map { String(format: "%.1f", $0) }.joined(separator: ", "), seconds.reduce(0, +) / Double(max(1, seconds.count))))
        print(String(format: "peak resident memory: %.0f MiB", peakMiB()))
        return 0
    }

    static func encode(_ args: CommandArguments) throws -> Int32 {
        let path = args.value("--movies") ?? DataCatalog(root: args.value("--data-root")).root + "/ml-latest-small/movies.csv"
        let rows = try TextFile(path: path).csvRows()
        guard let header = rows.first, let title = header.firstIndex(of: "title"), let genres = header.firstIndex(of: "genres") else {
            throw RecError.data("\(path): expected a header with title and genres (MovieLens movies.csv)")
        }
        let texts = rows.dropFirst().map { row in
            "\(row[title]). Genres: \(row[genres].replacingOccurrences(of: "|", with: ", "))"
        }
        let kind = args.value("--encoder") ?? "minilm"
        let (encoder, configuration) = try makeRegistry().makeEncoder(
            kind: kind,
            configuration: try SetAssignments(
                (kind == "minilm" ? ["batch_size=\(try args.intPositive("--batch", default: 64))"] : []) + args.values("--set"), label: "--set"),
            context: ComponentContext(seed: 0))
        print("bench encode: \(texts.count) texts from \(path) with \(kind) \(configuration)")
        _ = try encoder.encode(Array(texts.prefix(256)))  // warm-up, as the peer script does
        let started = Date()
        let vectors = try encoder.encode(texts)
        let seconds = Date().timeIntervalSince(started)
        precondition(vectors.count == texts.count)
        print(String(format: "texts %d seconds %.2f sentences_per_s %.1f peak_rss_mib %.0f", texts.count, seconds, Double(texts.count) / seconds, peakMiB()))
        return 0
    }

    static func languageModel(_ args: CommandArguments) throws -> Int32 {
        let repeats = try args.intPositive("--repeat", default: 3)
        let path = args.value("--movies") ?? DataCatalog(root: args.value("--data-root")).root + "/ml-1m/movies.dat"
        let titles = try TextFile(path: path).lines(encoding: .latin1).compactMap { line -> String? in
            let fields = line.text.components(separatedBy: "::")
            return fields.count >= 2 ? fields[1] : nil
        }
        guard titles.count >= 90 else { throw RecError.data("\(path): expected MovieLens movies.dat lines (id::title::genres)") }
        if let url = args.value("--openai") { return try openAIBatch(args, titles: titles, url: url) }
        if args.has("--shared-prefix") || args.value("--batch") != nil {
            let model = try LlamaModel(path: try ModelFiles.file(args.value("--model") ?? LMCommand.defaultModel, suffix: ".gguf"), numerics: try LMCommand.numerics(args))
            return args.has("--shared-prefix")
                ? try languageModelSharedPrefix(args, titles: titles, model: model) : try languageModelBatch(args, titles: titles, model: model)
        }
        var rng = SplitMix64(seed: 7)
        let drawn = Array(titles.shuffled(using: &rng).prefix(90))
        let prompt =
            "A user watched these movies in order: " + drawn[..<40].joined(separator: "; ")
            + ". Their profile: likes dramas and thrillers. The next movie they will watch is:"
        let modelPath = try ModelFiles.file(args.value("--model") ?? LMCommand.defaultModel, suffix: ".gguf")
        let model = try LlamaModel(path: modelPath, numerics: try LMCommand.numerics(args))
        let promptIDs = model.tokenizer.encode(prompt)
        let candidates = drawn[40...].map { model.tokenizer.encode(" " + $0) }
        print(
            "bench lm: \((modelPath as NSString).lastPathComponent), \(model.numerics) numerics, prompt \(promptIDs.count) tokens, \(candidates.count) candidates of \(candidates.map(\.count).reduce(0, +)) tokens"
        )
        _ = try model.score(prompt: Array(promptIDs.prefix(16)), continuations: [candidates[0]])  // warm-up
        // Each workload `repeats` times (--repeat): this machine's neighbours make single runs
        // vary by up to 1.5x, so the median and the best are printed.
        func timed(_ body: () throws -> Void) rethrows -> (median: Double, best: Double) {
            var seconds: [Double] = []
            for _ in 0..<repeats {
                let started = Date()
                try body()
                seconds.append(Date().timeIntervalSince(started))
            }
            seconds.sort()
            return (seconds[seconds.count / 2], seconds[0])
        }
        let scoring = try timed {
            let scores = try model.score(prompt: promptIDs, continuations: candidates)
            precondition(scores.count == candidates.count)
        }
        let prefill = try timed { _ = try model.session().append(promptIDs) }
        let session = model.session()
        let promptLogits = try session.append(promptIDs)
        // (a') as llama-server's prompt cache has it: the prompt's keys and values already there,
        // only the continuations' batched pass (every row's logits) timed.
        let heads = candidates.map { Array($0.dropLast()) }.filter { !$0.isEmpty }
        let continuing = try timed { _ = try session.branches(heads) }
        let decoding = try timed {
            session.truncate(to: promptIDs.count)
            var logits = promptLogits
            for _ in 0..<128 {
                let next = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                logits = try session.append([next])
            }
        }
        print("median (best) of \(repeats) runs:")
        print(String(format: "(a) score %d candidates after the shared prompt: %.2f s (%.2f s)", candidates.count, scoring.median, scoring.best))
        print(String(format: "(a') the same, the prompt already evaluated: %.2f s (%.2f s)", continuing.median, continuing.best))
        print(
            String(
                format: "(b) prompt processing: %.1f tokens/s (%.1f), %d tokens", Double(promptIDs.count) / prefill.median,
                Double(promptIDs.count) / prefill.best, promptIDs.count))
        print(String(format: "(c) generation: %.1f tokens/s (%.1f) over 128 tokens", 128 / decoding.median, 128 / decoding.best))
        print(String(format: "peak resident memory: %.0f MiB", peakMiB()))
        return 0
    }

    static func evaluation(_ args: CommandArguments) throws -> Int32 {
        let users = try args.intPositive("--users", default: 100_000), items = try args.intPositive("--items", default: 50_000)
        let d = try args.intPositive("--dim", default: 64), h = try args.intPositive("--history", default: 20)
        let batch = try args.intPositive("--batch", default: 512), k = try args.intPositive("--k", default: 10)
        guard items > h + 1 else { throw RecError.usage("--items must exceed --history + 1") }
        // The factors are held in memory: refuse sizes that would not fit in it.
        guard users <= (1 << 30) / d, items <= (1 << 30) / d else {
            throw RecError.usage("--users x --dim and --items x --dim must each be at most 2^30 values")
        }
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
        print("bench eval: \(users) users x \(items) items, dim \(d), batch \(batch), \(activeCores) cores, OpenBLAS threads \(openblas_get_num_threads())")
        let start = Date()
        let result = try evaluator.evaluate(
            task,
            score: { batchUsers, out in
                var rows = [Float](repeating: 0, count: batchUsers.count * d)
                for (row, user) in batchUsers.enumerated() {
                    for f in 0..<d { rows[row * d + f] = userFactors[Int(user) * d + f] }
                }
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(batchUsers.count), Int32(items), Int32(d),
                    1, rows, Int32(d), itemFactors, Int32(d), 0, out.baseAddress, Int32(items))
            })
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "evaluated %d users in %.2f s: %.0f users/s", users, seconds, Double(users) / seconds))
        print(String(format: "hr@%d %.5f (random model; chance is about %.5f)", k, result.aggregate[MetricKey("hr", k)] ?? .nan, Double(k) / Double(items - h)))
        print(String(format: "peak resident memory: %.0f MiB (limit in the issue: 2048 MiB)", peakMiB()))
        return 0
    }
}

/// Wall-clock seconds of each training epoch, from the training events.
final class EpochTimes: @unchecked Sendable {
    private var last = Date()
    private(set) var seconds: [Double] = []

    func lap(epoch: Int, loss: Double) {
        let now = Date()
        seconds.append(now.timeIntervalSince(last))
        print(String(format: "epoch %d: %.1f s, loss %.4f", epoch, now.timeIntervalSince(last), loss))
        last = now
    }
}
