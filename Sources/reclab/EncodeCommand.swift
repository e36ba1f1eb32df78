import Foundation
import RecCore
import RecRunner
import RecSpec
import RecStore
import AllPlugins
import TextEncoders

enum EncodeCommand: Command {
    static let name = "encode"
    static let summary = "text to vectors: one JSON array per input line (minilm, hashing-tfidf)"
    static let usage = """
        Usage: reclab encode [--encoder KIND] [--set KEY=VALUE]... [--tokens] [--db FILE]

        Reads one text per line on standard input and writes, in input order, one JSON array of
        floats per line on standard output.

          --encoder KIND    minilm (default; all-MiniLM-L6-v2, 384 dimensions, unit length) or
                            hashing-tfidf (hashed word uni+bigrams, IDF over the input lines)
          --set KEY=VALUE   an encoder key, e.g. --set batch_size=32 or --set dimension=1024
                            (see `reclab list` for every key and default)
          --tokens          print each line's token ids instead (minilm only)
          --db FILE         cache embeddings as artifacts in this results store; texts already
                            there are not encoded again

        Models come from $RECLAB_MODELS (default models/), filled by `bash scripts/fetch-models.sh`.
        Progress goes to standard error.

        """

    static func run(_ raw: ArraySlice<String>) throws -> Int32 {
        let args = try CommandArguments(raw, options: ["--encoder", "--set", "--db"], flags: ["--tokens"])
        _ = try args.positionals(0, "")
        let kind = args.value("--encoder") ?? MiniLMEncoder.kind
        let registry = try makeRegistry()
        let (encoder, configuration) = try registry.makeEncoder(
            kind: kind, configuration: try SetAssignments(args.values("--set"), label: "--set"), context: ComponentContext(seed: 0))
        var texts: [String] = []
        while let line = readLine(strippingNewline: true) { texts.append(line) }
        var output = ""
        if args.has("--tokens") {
            guard let minilm = encoder as? MiniLMEncoder else { throw RecError.usage("--tokens needs a tokenizing encoder (minilm), not \(kind)") }
            for text in texts { output += "[" + minilm.tokenIDs(text).map(String.init).joined(separator: ",") + "]\n" }
        } else {
            let started = Date()
            let vectors: [[Float]]
            if let path = args.value("--db") {
                let outcome = try EmbeddingCache(store: try ResultStore(path: path)).encode(texts, with: encoder, configuration: configuration)
                vectors = outcome.vectors
                printProgress("encode: \(texts.count) texts, \(outcome.hits) from the cache in \(path)")
            } else {
                vectors = try encoder.encode(texts)
            }
            printProgress(String(format: "encode: %d texts with %@ in %.2f s", texts.count, kind, Date().timeIntervalSince(started)))
            output.reserveCapacity(vectors.count * encoder.dimension * 12)
            for vector in vectors { output += "[" + vector.map { "\($0)" }.joined(separator: ",") + "]\n" }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
        return 0
    }
}

/// `--set key=value` options as a plugin configuration: each becomes a YAML line, so values are
/// typed and checked exactly as in a spec (errors name the key).
struct SetAssignments: ConfigurationSource {
    let node: YAMLNode

    init(_ assignments: [String], label: String) throws {
        var yaml = ""
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw RecError.usage("\(label) expects KEY=VALUE, got '\(assignment)'")
            }
            yaml += "\(assignment[..<equals]): \(assignment[assignment.index(after: equals)...])\n"
        }
        node = try YAMLParser.parse(yaml.isEmpty ? "{}" : yaml, file: label)
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try NodeDecoder().decode(type, from: node)
    }
}

func printProgress(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
