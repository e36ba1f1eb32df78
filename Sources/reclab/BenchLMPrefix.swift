import Foundation
import RecCore
import RecLM

extension BenchCommand {
    static let lmPrefixUsage = """
        bench lm --shared-prefix runs 64 chat prompts through 16 slots, prompts that share a long
        prefix as few-shot rating prompts do: the chat template's system message, then T ratings
        of ML-1M titles (--titles, default 30), then a question on one more title. It generates
        8 tokens after each prompt, then scores the answers " 1" to " 5" after each, once with
        each slot's shared prefix run again and once with it kept, R times each (--repeat,
        default 3), and prints the median seconds of each, their ratio and the share of prompt
        tokens kept. Under exact numerics both ways give the same tokens and scores, which it
        checks.
        """

    static func languageModelSharedPrefix(_ args: CommandArguments, titles: [String], model: LlamaModel) throws -> Int32 {
        let repeats = try args.intPositive("--repeat", default: 3)
        let shown = try args.int("--titles", default: 30, in: 1...200)
        guard titles.count >= shown + 64 else {
            throw RecError.usage("--shared-prefix with --titles \(shown) needs \(shown + 64) titles in the movies file, which has \(titles.count)")
        }
        guard let text = model.file.metadata["tokenizer.chat_template"]?.string else {
            throw RecError.usage("\(model.file.path) has no chat template; --shared-prefix needs a chat model")
        }
        let template = try ChatTemplate(text, file: model.file.path)
        let ratings = (0..<shown).map { "\"\(titles[$0])\": \($0 % 5 + 1) stars" }.joined(separator: "; ")
        let prompts = (0..<64).map { i in
            let question = "Ratings by other users: \(ratings). How many stars would they give \"\(titles[shown + i])\"? Answer with a number from 1 to 5."
            return model.tokenizer.encode(template.apply([ChatMessage(role: "user", content: question)]), parseSpecial: true, addSpecial: true)
        }
        let answers = (1...5).map { model.tokenizer.encode(" \($0)") }
        let parameters = Array(repeating: SamplingParameters(maxTokens: 8), count: prompts.count)
        let shared = zip(prompts[0], prompts[1]).prefix { $0 == $1 }.count, total = prompts.map(\.count).reduce(0, +)
        print(
            "bench lm --shared-prefix: \((model.file.path as NSString).lastPathComponent), \(model.numerics) numerics, 64 prompts of \(total / 64) tokens on average, "
                + "the first \(shared) shared; 16 slots; median of \(repeats) run\(repeats == 1 ? "" : "s")")
        _ = try model.generate(prompt: Array(prompts[0].prefix(8)), parameters: SamplingParameters(maxTokens: 2))  // warm-up

        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func failed(_ what: String) -> RecError { RecError(.plugin, "bench lm --shared-prefix: a prompt failed to \(what)") }
        var generated: [Bool: [Generation?]] = [:], scored: [Bool: [[ContinuationScore]?]] = [:]
        var generateSeconds: [Bool: [Double]] = [:], scoreSeconds: [Bool: [Double]] = [:], kept = (generate: 0, score: 0)
        // Alternating, so that the machine's drift falls on both ways alike.
        for _ in 0..<repeats {
            for reuse in [false, true] {
                let batching = LlamaModel.Batching(slots: 16, reusePrefixes: reuse)
                var outputs = [Generation?](repeating: nil, count: prompts.count)
                var started = Date()
                let report = try model.generate(prompts: prompts, parameters: parameters, batching: batching) { outputs[$0] = try? $1.get() }
                generateSeconds[reuse, default: []].append(Date().timeIntervalSince(started))
                guard !outputs.contains(nil) else { throw failed("generate") }
                var scores = [[ContinuationScore]?](repeating: nil, count: prompts.count)
                started = Date()
                let reused = try model.score(requests: prompts.map { ($0, answers) }, batching: batching) { scores[$0] = try? $1.get() }
                scoreSeconds[reuse, default: []].append(Date().timeIntervalSince(started))
                guard !scores.contains(nil) else { throw failed("be scored") }
                generated[reuse] = outputs
                scored[reuse] = scores
                if reuse { kept = (report?.reusedTokens ?? 0, reused) }
            }
        }
        // Exact numerics promise the same output; fast numerics' matrix products may round a
        // prompt's rows differently when fewer of them run.
        if generated[false]! != generated[true]! || scored[false]! != scored[true]! {
            guard model.numerics == .fast else {
                throw RecError(.plugin, "bench lm --shared-prefix: keeping the shared prefix changed the output under exact numerics")
            }
            print("(fast numerics: the output with the prefix kept differs from the output with it run again)")
        }
        for (name, seconds, tokens) in [("generate", generateSeconds, kept.generate), ("score", scoreSeconds, kept.score)] {
            let again = median(seconds[false]!), keeping = median(seconds[true]!)
            print(
                name.padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(
                        format: "prefix run again %6.2f s  kept %6.2f s  %.2fx  (kept %d of %d prompt tokens, %.1f%%)", again, keeping, again / keeping, tokens, total,
                        100 * Double(tokens) / Double(total)))
        }
        return 0
    }
}
