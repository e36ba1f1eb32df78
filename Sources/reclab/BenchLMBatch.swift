import Foundation
import RecCore
import RecData
import RecLM

extension BenchCommand {
    static let lmBatchUsage = """
        bench lm --batch N[,N...] runs N prompts of about 200 tokens at once (N slots), each
        generating 96 tokens past end-of-text, for each N given (e.g. --batch 1,4,8,16,32), R
        times each (--repeat, default 3), and prints the medians of:
          decode      generated tokens per second over the passes that only decode;
          prompt      prompt tokens per second over the passes that run the prompts;
          end-to-end  generated tokens per second of wall time, prompts included;
        and peak resident memory. Prompt i lists the ML-1M titles 20i+1 to 20i+20 of movies.dat
        in file order (Benchmarks/llama_batch.py sends llama-server the same prompts).
        --kv-budget-mib bounds the slots' key/value caches (default 4096). --titles T lists T
        titles per prompt instead of 20 (45 make prompts of about 500 tokens, as KAR's
        reasoning prompts are) and --max-tokens M generates M tokens instead of 96; the
        llama-server scripts keep the defaults.

        bench lm --openai URL --batch N sends the same N prompts (96 tokens each, greedy, as
        text to /v1/completions) through the OpenAI-compatible client, --concurrency C in
        flight (default 8), R times, and prints the median generated tokens per second of wall
        time (Benchmarks/openai_concurrency.py sends the server the same work from Python).
        """

    /// The prompts `bench lm --batch` and Benchmarks/llama_batch.py share.
    static func batchPrompts(_ titles: [String], count: Int, titlesEach: Int = 20) -> [String] {
        (0..<count).map { i in
            let chosen = (0..<titlesEach).map { titles[(titlesEach * i + $0) % titles.count] }
            return "A user watched these movies in order: " + chosen.joined(separator: "; ") + ". Describe the user's taste in films, then suggest three more movies:"
        }
    }

    static func languageModelBatch(_ args: CommandArguments, titles: [String], model: LlamaModel) throws -> Int32 {
        guard let list = args.value("--batch") else { throw RecError.usage("--batch needs a list of batch sizes") }
        let sizes = try list.split(separator: ",").map { text -> Int in
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), (1...256).contains(n) else {
                throw RecError.usage("--batch takes batch sizes from 1 to 256 separated by commas, got '\(list)'")
            }
            return n
        }
        let repeats = try args.intPositive("--repeat", default: 3)
        let budget = try args.intPositive("--kv-budget-mib", default: 4096) << 20
        let titlesEach = try args.int("--titles", default: 20, in: 1...1000), maxTokens = try args.int("--max-tokens", default: 96, in: 1...8192)
        let parameters = SamplingParameters(maxTokens: maxTokens)
        _ = try model.generate(prompt: model.tokenizer.encode("Hello", addSpecial: true), parameters: SamplingParameters(maxTokens: 2))  // warm-up
        print(
            "bench lm --batch: \((model.file.path as NSString).lastPathComponent), \(model.numerics) numerics, \(titlesEach) titles and \(maxTokens) tokens per prompt; median of \(repeats) runs"
        )
        for n in sizes {
            let prompts = batchPrompts(titles, count: n, titlesEach: titlesEach).map { model.tokenizer.encode($0, addSpecial: true) }
            var decode: [Double] = [], prompt: [Double] = [], endToEnd: [Double] = [], plan: LlamaModel.BatchPlan?
            for _ in 0..<repeats {
                let started = Date()
                var failures = 0
                let report = try model.generate(
                    prompts: prompts, parameters: Array(repeating: parameters, count: n),
                    batching: .init(slots: n, memoryBudget: budget, ignoreEndOfText: true)
                ) { _, result in
                    if case .failure = result { failures += 1 }
                }
                guard let report, failures == 0 else { throw RecError(.plugin, "\(failures) of \(n) prompts failed") }
                let wall = Date().timeIntervalSince(started)
                decode.append(Double(report.decodedTokens) / report.decodeSeconds)
                prompt.append(Double(report.promptTokens) / report.promptSeconds)
                endToEnd.append(Double(report.generatedTokens) / wall)
                plan = report.plan
            }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            let promptTokens = prompts.map(\.count).reduce(0, +)
            print(
                String(
                    format: "N=%-3d decode %7.1f tokens/s  prompt %7.1f tokens/s  end-to-end %7.1f tokens/s  (%d prompt tokens, %@)  peak %.0f MiB", n, median(decode),
                    median(prompt), median(endToEnd), promptTokens, plan?.description ?? "", peakMiB()))
        }
        return 0
    }

    /// The batch prompts through the OpenAI client against a running server.
    static func openAIBatch(_ args: CommandArguments, titles: [String], url: String) throws -> Int32 {
        let n = try args.intPositive("--batch", default: 16), repeats = try args.intPositive("--repeat", default: 3)
        var options = OpenAILanguageModel.Options(baseURL: url, model: args.value("--model") ?? "smollm2")
        options.concurrency = try args.intPositive("--concurrency", default: 8)
        options.timeout = 600
        let client = try OpenAILanguageModel(options)
        let requests = batchPrompts(titles, count: n).map { GenerationRequest(.text($0), SamplingParameters(maxTokens: 96)) }
        _ = try client.generate(.text("Hello"), SamplingParameters(maxTokens: 2))  // warm-up
        var rates: [Double] = [], generated = 0
        for _ in 0..<repeats {
            let started = Date()
            let results = try client.generateAll(requests)
            let seconds = Date().timeIntervalSince(started)
            generated = results.map { max($0.tokens.count, $0.logprobs.count) }.reduce(0, +)
            rates.append(Double(generated) / seconds)
        }
        print(
            String(
                format: "openai N=%-3d concurrency %d  end-to-end %7.1f generated tokens/s  (%d tokens per run; median of %d runs)  peak %.0f MiB", n, options.concurrency,
                rates.sorted()[rates.count / 2], generated, repeats, peakMiB()))
        return 0
    }
}
