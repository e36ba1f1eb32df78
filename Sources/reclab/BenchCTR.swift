import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecSpec
import RecTensor

extension BenchCommand {
    static let ctrUsage = """
        bench ctr trains one CTR model (--model NAME: lr, fm, deepfm, xdeepfm, dcnv2, autoint,
        fibinet, din; default fm) for E epochs (default 2, no validation) on its spec's split and
        prints seconds per epoch (the best of E), training pairs per second and peak resident
        memory. The spec is --spec SPEC (default Experiments/ctr-ml1m.yaml for lr and fm,
        Experiments/ctr-backbones-ml1m-recbole.yaml otherwise), the pipeline the one named after
        the model. It then exports the same split (`reclab data export`) and times RecBole 1.2.1's
        model of the same name, with the same sizes, on it with PYTHON (default
        /tmp/peer/venv/bin/python, from ../shared/peers/setup.sh) through
        Benchmarks/recbole_ctr.py, and prints our epoch time as a ratio of RecBole's. RecBole
        1.2.1 has no FiBiNET, so that one prints our figures only; RecBole's DIN is a sequential
        model and reads the export's item_id_list. --no-peer skips the peer.
        """

    /// RecBole 1.2.1's name for each model with a context-aware counterpart there.
    static let recboleModels = ["lr": "LR", "fm": "FM", "deepfm": "DeepFM", "xdeepfm": "xDeepFM", "dcnv2": "DCNV2", "autoint": "AutoInt", "din": "DIN"]

    static func ctr(_ args: CommandArguments) throws -> Int32 {
        let model = args.value("--model") ?? args.value("--pipeline") ?? "fm"
        let specPath = args.value("--spec") ?? (["lr", "fm"].contains(model) ? "Experiments/ctr-ml1m.yaml" : "Experiments/ctr-backbones-ml1m-recbole.yaml")
        let epochs = try args.intPositive("--epochs", default: 2)
        let overrides = ["pipelines.\(model).scorer.epochs=\(epochs)", "pipelines.\(model).scorer.patience=0"]
        let probe = try SpecLoader.load(path: specPath)
        guard probe.base.pipelines.contains(where: { $0.name == model && $0.scorer != nil }) else {
            throw RecError.usage("\(specPath) has no scorer pipeline '\(model)'; pipelines: \(probe.base.pipelines.map(\.name).joined(separator: ", "))")
        }
        let loaded = try SpecLoader.load(path: specPath, overrides: overrides)
        let spec = loaded.base
        let slot = spec.pipelines.first { $0.name == model }!.scorer!
        let stage = DataStage(catalog: DataCatalog(root: args.value("--data-root")))
        let directory = URL(fileURLWithPath: loaded.file).deletingLastPathComponent().path
        let prepared = try stage.prepare(spec.data, relativeTo: directory, runSeed: spec.seeds[0])
        var (scorer, configuration) = try makeRegistry().makeScorer(kind: slot.kind, configuration: slot, context: ComponentContext(seed: 1))
        guard var trainable = scorer as? any Trainable else { throw RecError.usage("scorer '\(slot.kind)' does not train; nothing to time") }
        var training = prepared.split.trainingSet
        training.validation = []
        let times = EpochTimes()
        let work = GemmWork.total
        try trainable.fit(
            training,
            context: TrainingContext(seed: 1) { event in
                if case .epochEnd(let epoch, _, let loss) = event { times.lap(epoch: epoch, loss: loss) }
            })
        scorer = trainable as! any Scorer
        let ours = times.seconds.min()!
        let pairs = training.interactions.count
        print(
            String(
                format: "reclab %@: %d training pairs, %d epochs, best epoch %.2f s, %.0f pairs/s, peak resident memory %.0f MiB, OpenBLAS %@ kernels",
                model, pairs, epochs, ours, Double(pairs) / ours, peakMiB(), BLASCore.name))
        let gflop = Double(GemmWork.total - work) / Double(epochs) / 1e9
        let rate = sgemmRate(), cores = activeCores
        let floor = gflop / (rate * Double(cores))
        print(
            String(
                format: "matrix products: %.0f GFLOP an epoch; sgemm runs %.0f GFLOPS per core here (1024x192 by 192x200, one thread), so they take at least %.2f s an epoch on %d cores",
                gflop, rate, floor, cores))
        guard !args.flags.contains("--no-peer") else { return 0 }
        guard let peerModel = recboleModels[slot.kind] else {
            print("recbole: no context-aware \(slot.kind) in RecBole 1.2.1; no peer figure")
            return 0
        }
        let python = args.value("--python") ?? "/tmp/peer/venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw RecError.usage("the peer's Python '\(python)' was not found; run ../shared/peers/setup.sh, or pass --python or --no-peer")
        }
        let export = NSTemporaryDirectory() + "reclab-bench-ctr/\(spec.data.dataset)"
        let behaviour = (scorer as? any ReadsBehaviour)?.behaviourLength ?? 0
        try SplitExport.write(prepared.split, name: spec.data.dataset, to: export, behaviour: behaviour)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments =
            ["Benchmarks/recbole_ctr.py", export, "--model", peerModel, "--time-epochs", String(epochs), "--dataset", spec.data.dataset]
            + (behaviour > 0 ? ["--sequence", String(behaviour)] : []) + (try recboleSettings(kind: slot.kind, configuration: configuration))
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let line = output.split(separator: "\n").first(where: { $0.hasPrefix("epoch_seconds=") }),
            let theirs = Double(line.dropFirst("epoch_seconds=".count))
        else {
            throw RecError(.io, "Benchmarks/recbole_ctr.py failed (exit \(process.terminationStatus)); its output: \(Excerpt.of(output))")
        }
        print(String(format: "recbole %@: best epoch %.2f s (%.0f pairs/s)", peerModel, theirs, Double(pairs) / theirs))
        print(String(format: "ratio reclab / recbole epoch time: %.3fx (goal: at most 0.5x); matrix products alone: %.3fx", ours / theirs, floor / theirs))
        return 0
    }

    /// Single-threaded sgemm throughput in GFLOPS at a typical CTR layer's shape (a
    /// 1,024-row half batch through a 192 -> 200 layer), timed over at least half a second.
    static func sgemmRate() -> Double {
        let (m, n, k) = (1024, 200, 192)
        var rng = SplitMix64(seed: 1)
        let a = (0..<m * k).map { _ in Float.random(in: 0..<1, using: &rng) }, b = (0..<k * n).map { _ in Float.random(in: 0..<1, using: &rng) }
        var c = [Float](repeating: 0, count: m * n)
        return BLASThreads.single {
            var calls = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            while elapsed < 0.5 {
                for _ in 0..<20 { gemm(a, b, &c, m: m, n: n, k: k) }
                calls += 20
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            }
            return Double(2 * m * n * k * calls) / elapsed / 1e9
        }
    }

    /// The RecBole settings that give its model the sizes of ours (`--set KEY=JSON` arguments
    /// for Benchmarks/recbole_ctr.py), from our resolved configuration's canonical JSON.
    static func recboleSettings(kind: String, configuration: String) throws -> [String] {
        guard let json = try JSONSerialization.jsonObject(with: Data(configuration.utf8)) as? [String: Any] else { return [] }
        func int(_ key: String) -> Int? { json[key] as? Int }
        var settings: [String: String] = [:]
        let fields = (json["fields"] as? [String]) ?? []
        if let genre = fields.first(where: { $0.hasPrefix("genres") }) {
            settings["load_col"] = """
                {"inter": ["user_id", "item_id", "label"], "user": ["user_id", "gender", "age", "occupation"], "item": ["item_id", "\(genre.replacingOccurrences(of: ":first", with: "_first"))"]}
                """
        }
        if let factors = int("factors") { settings["embedding_size"] = "\(factors)" }
        if let embedding = int("embedding") {
            settings["embedding_size"] = "\(embedding)"
            settings["mlp_hidden_size"] = "\((json["mlp"] as? [Int]) ?? [])"
            settings["dropout_prob"] = "0.0"
            settings["learner"] = "\"adamw\""
            settings["weight_decay"] = "\((json["weight_decay"] as? Double) ?? 0)"
            settings["reg_weight"] = "0.0"
        }
        switch kind {
        case "xdeepfm":
            settings["cin_layer_size"] = "\((json["cin"] as? [Int]) ?? [])"
            settings["direct"] = (json["direct"] as? Bool) == true ? "true" : "false"
        case "dcnv2":
            settings["cross_layer_num"] = "\(int("cross_layers") ?? 3)"
            settings["mixed"] = "false"
            settings["structure"] = "\"stacked\""
        case "autoint":
            settings["attention_size"] = "\(int("attention_size") ?? 16)"
            settings["num_heads"] = "\(int("heads") ?? 2)"
            settings["n_layers"] = "\(int("layers") ?? 3)"
            settings["dropout_probs"] = "[0.0, 0.0, 0.0]"
        case "din":
            settings["pooling_mode"] = "\"mean\""
        default: break
        }
        return settings.keys.sorted().flatMap { ["--set", "\($0)=\(settings[$0]!)"] }
    }
}
