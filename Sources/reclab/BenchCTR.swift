import Foundation
import CTR
import RecCore
import RecData
import RecRunner
import RecSpec

extension BenchCommand {
    static let ctrUsage = """
        bench ctr trains the FM of SPEC (default Experiments/ctr-ml1m.yaml, pipeline fm) for E
        epochs (default 2, no validation) on that spec's split and prints seconds per epoch,
        training pairs per second and peak resident memory. It then exports the same split
        (`reclab data export`) and times RecBole 1.2.1's FM on it with PYTHON (default
        /tmp/peer/venv/bin/python, from ../shared/peers/setup.sh) through
        Benchmarks/recbole_ctr.py, and prints our epoch time as a ratio of RecBole's.
        --no-peer skips the peer.
        """

    static func ctr(_ args: CommandArguments) throws -> Int32 {
        let specPath = args.value("--spec") ?? "Experiments/ctr-ml1m.yaml"
        let epochs = try args.intPositive("--epochs", default: 2)
        let loaded = try SpecLoader.load(path: specPath)
        let spec = loaded.base
        guard let pipeline = spec.pipelines.first(where: { $0.name == (args.value("--pipeline") ?? "fm") }), let slot = pipeline.scorer else {
            throw RecError.usage("\(specPath) has no scorer pipeline '\(args.value("--pipeline") ?? "fm")'")
        }
        let stage = DataStage(catalog: DataCatalog(root: args.value("--data-root")))
        let directory = URL(fileURLWithPath: loaded.file).deletingLastPathComponent().path
        let prepared = try stage.prepare(spec.data, relativeTo: directory, runSeed: spec.seeds[0])
        var configuration = try slot.decode(FactorizationMachine.Configuration.self)
        configuration.training.epochs = epochs
        configuration.training.patience = 0
        var training = prepared.split.trainingSet
        training.validation = []
        var fm = try FactorizationMachine(configuration: configuration, context: ComponentContext(seed: 1))
        let times = EpochTimes()
        try fm.fit(
            training,
            context: TrainingContext(seed: 1) { event in
                if case .epochEnd(let epoch, _, let loss) = event { times.lap(epoch: epoch, loss: loss) }
            })
        let ours = times.seconds.min()!
        let pairs = training.interactions.count
        print(
            String(
                format: "reclab fm: %d training pairs, %d epochs, best epoch %.2f s, %.0f pairs/s, peak resident memory %.0f MiB",
                pairs, epochs, ours, Double(pairs) / ours, peakMiB()))
        guard !args.flags.contains("--no-peer") else { return 0 }
        let python = args.value("--python") ?? "/tmp/peer/venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw RecError.usage("the peer's Python '\(python)' was not found; run ../shared/peers/setup.sh and add scikit-surprise, or pass --python or --no-peer")
        }
        let export = NSTemporaryDirectory() + "reclab-bench-ctr/\(spec.data.dataset)"
        try SplitExport.write(prepared.split, name: spec.data.dataset, to: export)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["Benchmarks/recbole_ctr.py", export, "--time-epochs", String(epochs), "--dataset", spec.data.dataset]
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
        print(String(format: "recbole fm: best epoch %.2f s (%.0f pairs/s)", theirs, Double(pairs) / theirs))
        print(String(format: "ratio reclab / recbole epoch time: %.3fx (goal: at most 0.5x)", ours / theirs))
        return 0
    }
}
