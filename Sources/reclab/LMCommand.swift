import Foundation
import RecCore
import RecLM
import RecStore

enum LMCommand: Command {
    static let name = "lm"
    static let summary = "language models (local GGUF or OpenAI-compatible): lm tokenize, generate, score"
    static let usage = """
        Usage: reclab lm tokenize [--model M] [--no-special]
               reclab lm generate [BACKEND] [--chat] [--max-tokens N] [--temperature T] [--top-k K]
                                  [--top-p P] [--seed S] [--stop TEXT]... [--json] [--db FILE]
               reclab lm score [BACKEND] [--chat] --prompt P --continuation C [--continuation C]... [--db FILE]

        BACKEND is --model M [--numerics exact|fast] (the local engine, default; exact, the
        default, follows llama.cpp's CPU arithmetic, with output pinned across machines; fast
        runs Float32 BLAS: faster on long prompts, close to llama.cpp but not identical) or
        --backend openai --base-url URL --model NAME [--api-key-env VAR] (any OpenAI-compatible
        server; the key is read from the environment variable VAR and never stored).

        tokenize prints the token ids of each line of standard input, one line of ids per line
        (control tokens such as <|im_start|> are parsed unless --no-special).
        generate continues the prompt read from standard input; --chat wraps it as one user
        message in the model's chat template. Temperature 0 (the default) is greedy. --json prints
        {"text", "tokens", "logprobs", "finish"}.
        score prints, as JSON, the total and per-token log-probabilities of each continuation
        after the prompt (the prompt is evaluated once and shared).

        M is a GGUF path or a folder under $RECLAB_MODELS (default models/); the default is
        SmolLM2-135M-Instruct, fetched by `bash scripts/fetch-models.sh`.
        Every generate and score call goes through the call cache in the results store (--db,
        default reclab.sqlite): asked again, it is answered from there. `reclab cache stats`
        prints hits, misses and tokens.

        """

    static let defaultModel = "SmolLM2-135M-Instruct"

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(
            raw,
            options: [
                "--model", "--max-tokens", "--temperature", "--top-k", "--top-p", "--seed", "--stop", "--prompt", "--continuation",
                "--backend", "--base-url", "--api-key-env", "--db", "--numerics",
            ],
            flags: ["--chat", "--json", "--no-special"])
        guard let action = args.positionals.first, args.positionals.count == 1 else {
            throw RecError.usage("expected one action: tokenize, generate or score")
        }
        guard ["tokenize", "generate", "score"].contains(action) else {
            throw RecError.usage("unknown action '\(action)'; expected tokenize, generate or score")
        }
        if action == "tokenize" {
            let model = try loadLocal(args.value("--model"), numerics: try numerics(args))
            while let line = readLine(strippingNewline: true) {
                print(model.tokenizer.encode(line, parseSpecial: !args.has("--no-special")).map(String.init).joined(separator: " "))
            }
            return 0
        }
        // Checked before any model is loaded, so a bad flag fails at once.
        let parameters = try SamplingParameters(
            maxTokens: try args.int("--max-tokens", default: 128, in: 0...1_000_000), temperature: try args.double("--temperature", default: 0, in: 0...100),
            topK: try args.int("--top-k", default: 0), topP: try args.double("--top-p", default: 1, in: 0...1),
            seed: try args.seed("--seed"), stop: args.values("--stop")
        ).validated()
        let backend: any LanguageModel
        switch args.value("--backend") ?? "local" {
        case "local":
            backend = LocalLanguageModel(engine: try loadLocal(args.value("--model"), numerics: try numerics(args)))
        case "openai":
            guard let url = args.value("--base-url"), let name = args.value("--model") else {
                throw RecError.usage("--backend openai needs --base-url URL and --model NAME")
            }
            backend = try OpenAILanguageModel(.init(baseURL: url, model: name, apiKeyEnvironment: args.value("--api-key-env")))
        case let other:
            throw RecError.usage("unknown backend '\(other)'; expected local or openai")
        }
        let model = CachedLanguageModel(backend, cache: try ResultStore(path: args.value("--db") ?? "reclab.sqlite"))
        if action == "generate" {
            var text = ""
            while let line = readLine(strippingNewline: false) { text += line }
            if text.hasSuffix("\n") { text.removeLast() }
            let generation = try model.generate(prompt(text, chat: args.has("--chat")), parameters)
            if args.has("--json") {
                print(try canonicalJSON(generation, keys: .asDeclared))
            } else {
                print(generation.text)
            }
        } else {
            guard let text = args.value("--prompt") else { throw RecError.usage("lm score needs --prompt") }
            let continuations = args.values("--continuation")
            guard !continuations.isEmpty else { throw RecError.usage("lm score needs at least one --continuation") }
            let scores = try model.score(prompt(text, chat: args.has("--chat")), continuations: continuations)
            let rows: [[String: Any]] = zip(continuations, scores).map { text, score in
                ["continuation": text, "tokens": score.tokens.map(Int.init), "logprobs": score.logprobs, "total": score.total]
            }
            print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys]), as: UTF8.self))
        }
        return 0
    }

    static func numerics(_ args: CommandArguments) throws -> LlamaModel.Numerics {
        guard let value = args.value("--numerics") else { return .exact }
        guard let numerics = LlamaModel.Numerics(rawValue: value) else { throw RecError.usage("--numerics is exact or fast, not '\(value)'") }
        return numerics
    }

    static func loadLocal(_ name: String?, numerics: LlamaModel.Numerics = .exact) throws -> LlamaModel {
        let path = try ModelFiles.file(name ?? defaultModel, suffix: ".gguf")
        let started = Date()
        let model = try LlamaModel(path: path, numerics: numerics)
        printProgress(String(format: "lm: %@ loaded in %.1f s", (path as NSString).lastPathComponent, Date().timeIntervalSince(started)))
        return model
    }

    static func prompt(_ text: String, chat: Bool) -> Prompt {
        chat ? .chat([ChatMessage(role: "user", content: text)]) : .text(text)
    }
}
