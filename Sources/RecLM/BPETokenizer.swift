import Foundation
import RecCore

/// The BPE tokenizers llama.cpp runs for GGUF models: byte-level BPE (`tokenizer.ggml.model`
/// `gpt2`) and SentencePiece-style BPE (`llama`, see `SentencePieceMerges`). Byte-level:
///
/// 1. special tokens (control and unknown tokens when `parseSpecial`, user-defined tokens
///    always) are cut out of the text first, longest first;
/// 2. pre-tokenisation cuts the rest into pieces by the family's pattern (`PreTokenizer`:
///    GPT-2's, with or without digits split first, or Llama 3's and Qwen2's);
/// 3. each piece's UTF-8 bytes become GPT-2's printable byte characters and are merged pair by
///    pair, lowest merge rank first (leftmost on ties).
public struct BPETokenizer: Sendable {
    public enum TokenKind: Int, Sendable { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    public let tokens: [String]
    public let kinds: [TokenKind]
    let ids: [String: Int32]
    /// (left, right) -> (rank, merged id); byte-level only.
    let merges: [UInt64: (rank: Int32, merged: Int32)]
    /// How text between special tokens becomes tokens.
    enum Scheme: Sendable {
        /// Byte-level BPE over the pieces of a pre-tokenizer.
        case byteLevel(PreTokenizer)
        /// SentencePiece-style; `addSpacePrefix`: a space starts the text and each run of text
        /// after a special token.
        case sentencePiece(SentencePieceMerges, addSpacePrefix: Bool)
    }
    let scheme: Scheme
    /// Special tokens cut out before BPE, longest text first.
    let specials: [(text: String, id: Int32, control: Bool)]
    public let bos: Int32?, eos: Int32?
    /// The tokens that end a generation, as llama.cpp finds them: the end-of-sequence,
    /// end-of-turn and end-of-message ids the file names, and tokens with the texts llama.cpp
    /// treats as ending a turn.
    public let endOfGeneration: Set<Int32>
    public let addBOS: Bool
    /// Token id of each byte's character (-1 when the vocabulary lacks it).
    let byteIDs: [Int32]
    /// GPT-2's reversible byte -> printable character map: printable Latin-1 bytes stand for
    /// themselves, the other 68 bytes for U+0100 onwards, in order.
    static let byteToScalar: [Unicode.Scalar] = {
        var extra: UInt32 = 0
        return (0..<256).map { (byte: Int) -> Unicode.Scalar in
            if (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte) { return Unicode.Scalar(UInt32(byte))! }
            defer { extra += 1 }
            return Unicode.Scalar(256 + extra)!
        }
    }()
    static let scalarToByte: [UInt32: UInt8] = Dictionary(uniqueKeysWithValues: byteToScalar.enumerated().map { ($1.value, UInt8($0)) })

    /// Reads the tokenizer from GGUF metadata; errors name the file and key.
    public init(gguf file: GGUFFile) throws {
        func fail(_ message: String) -> RecError { RecError(.data, "\(file.path): \(message)") }
        let model = try file.require("tokenizer.ggml.model").string
        guard model == "gpt2" || model == "llama" else {
            throw fail("tokenizer.ggml.model is \(model ?? "not a string"); RecLab reads byte-level BPE (gpt2) and SentencePiece BPE (llama) tokenizers")
        }
        let pre = file.metadata["tokenizer.ggml.pre"]?.string ?? "default"
        let preTokenizer = PreTokenizer(name: pre)
        if model == "gpt2" && preTokenizer == nil {
            throw fail("tokenizer.ggml.pre '\(pre)' is not supported (gpt-2, smollm, starcoder, llama-bpe, qwen2, ...)")
        }
        // Every entry must be a string: dropping one would shift every later token id.
        guard let values = try file.require("tokenizer.ggml.tokens").array, !values.isEmpty, values.count < Int(Int32.max),
            case let tokens = values.compactMap(\.string), tokens.count == values.count
        else {
            throw fail("tokenizer.ggml.tokens is not a non-empty array of strings")
        }
        let types = file.metadata["tokenizer.ggml.token_type"]?.array?.compactMap(\.int) ?? []
        guard types.isEmpty || types.count == tokens.count else { throw fail("tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens") }
        self.tokens = tokens
        kinds = types.isEmpty ? tokens.map { _ in .normal } : types.map { TokenKind(rawValue: $0) ?? .normal }
        var ids: [String: Int32] = [:]
        for (index, token) in tokens.enumerated() where ids[token] == nil { ids[token] = Int32(index) }
        self.ids = ids
        byteIDs = Self.byteToScalar.map { ids[String($0)] ?? -1 }
        var merges: [UInt64: (Int32, Int32)] = [:]
        let mergeList = model == "gpt2" ? try file.require("tokenizer.ggml.merges").array ?? [] : []
        for (rank, value) in mergeList.enumerated() {
            guard let text = value.string, let space = text.firstIndex(of: " ") else { throw fail("tokenizer.ggml.merges[\(rank)] is not 'left right'") }
            let left = String(text[..<space]), right = String(text[text.index(after: space)...])
            guard let l = ids[left], let r = ids[right], let m = ids[left + right] else {
                throw fail("tokenizer.ggml.merges[\(rank)] '\(text)' names tokens that are not in the vocabulary")
            }
            if merges[Self.pair(l, r)] == nil { merges[Self.pair(l, r)] = (Int32(rank), m) }
        }
        self.merges = merges
        let kinds = self.kinds
        specials = kinds.indices.filter { kinds[$0] == .control || kinds[$0] == .userDefined || kinds[$0] == .unknown }
            .map { (tokens[$0], Int32($0), kinds[$0] != .userDefined) }
            .filter { !$0.0.isEmpty }
            .sorted { $0.0.utf8.count > $1.0.utf8.count }
        func tokenID(_ key: String) throws -> Int32? {
            guard let value = file.metadata[key] else { return nil }
            guard let id = value.int, (0..<tokens.count).contains(id) else {
                throw fail("\(key) is not a token id below the vocabulary size \(tokens.count)")
            }
            return Int32(id)
        }
        bos = try tokenID("tokenizer.ggml.bos_token_id")
        eos = try tokenID("tokenizer.ggml.eos_token_id")
        let endTexts: Set<String> = [
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "<|end_of_text|>", "<eos>",
        ]
        endOfGeneration = Set(
            try [eos, tokenID("tokenizer.ggml.eot_token_id"), tokenID("tokenizer.ggml.eom_token_id")].compactMap { $0 }
                + endTexts.compactMap { ids[$0] })
        // llama.cpp's defaults when a file does not say: SentencePiece models and Llama 3 add
        // BOS, other byte-level ones do not; SentencePiece models add a space prefix.
        addBOS = file.metadata["tokenizer.ggml.add_bos_token"]?.bool ?? (model == "llama" || preTokenizer?.takesWholeWords == true)
        if model == "llama" {
            guard let values = try file.require("tokenizer.ggml.scores").array, case let scores = values.compactMap(\.double), scores.count == tokens.count else {
                throw fail("tokenizer.ggml.scores is not an array of \(tokens.count) numbers, one per token")
            }
            scheme = .sentencePiece(
                SentencePieceMerges(tokens: tokens, scores: scores.map { Float($0) }),
                addSpacePrefix: file.metadata["tokenizer.ggml.add_space_prefix"]?.bool ?? true)
        } else {
            scheme = .byteLevel(preTokenizer ?? .gpt2(splitDigits: false))
        }
    }

    static func pair(_ left: Int32, _ right: Int32) -> UInt64 { UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right)) }

    public var vocabularySize: Int { tokens.count }

    /// Token ids of `text`; `parseSpecial` turns control-token text such as `<|im_start|>` into
    /// those tokens (chat prompts), otherwise it is ordinary text. `addSpecial` adds BOS when
    /// the model asks for it.
    public func encode(_ text: String, parseSpecial: Bool = true, addSpecial: Bool = false) -> [Int32] {
        var out: [Int32] = addSpecial && addBOS ? bos.map { [$0] } ?? [] : []
        // A SentencePiece text run after a special token (or at the start) gets the space prefix.
        var afterSpecial = true
        for fragment in partition(text, parseSpecial: parseSpecial) {
            switch (fragment, scheme) {
            case (.token(let id), _):
                out.append(id)
                afterSpecial = true
            case (.text(let piece), .byteLevel(let preTokenizer)):
                for word in preTokenizer.pieces(piece) { out += bytePairs(word, wholeWords: preTokenizer.takesWholeWords) }
            case (.text(let piece), .sentencePiece(let merges, let addSpacePrefix)):
                let prefixed = addSpacePrefix && afterSpecial ? " " + piece : piece
                out += merges.tokens(prefixed.replacingOccurrences(of: " ", with: "\u{2581}"))
                afterSpecial = false
            }
        }
        return out
    }

    enum Fragment: Equatable { case text(String), token(Int32) }

    /// The text with special tokens cut out.
    func partition(_ text: String, parseSpecial: Bool) -> [Fragment] {
        var fragments: [Fragment] = [.text(text)]
        for special in specials where parseSpecial || !special.control {
            var next: [Fragment] = []
            for fragment in fragments {
                guard case .text(let piece) = fragment, piece.contains(special.text) else { next.append(fragment); continue }
                var rest = Substring(piece)
                while let range = rest.range(of: special.text) {
                    if range.lowerBound > rest.startIndex { next.append(.text(String(rest[..<range.lowerBound]))) }
                    next.append(.token(special.id))
                    rest = rest[range.upperBound...]
                }
                if !rest.isEmpty { next.append(.text(String(rest))) }
            }
            fragments = next
        }
        return fragments
    }

    /// BPE merges over one piece's byte characters (step 3); with `wholeWords`, a piece that is
    /// a token of its own is that token, whatever the merges would make of it.
    func bytePairs(_ word: String, wholeWords: Bool = false) -> [Int32] {
        if wholeWords, let id = ids[String(String.UnicodeScalarView(word.utf8.map { Self.byteToScalar[Int($0)] }))] { return [id] }
        var symbols: [Int32] = []
        for byte in word.utf8 where byteIDs[Int(byte)] >= 0 { symbols.append(byteIDs[Int(byte)]) }
        while symbols.count > 1 {
            var best: (rank: Int32, index: Int, merged: Int32)?
            for i in 0..<(symbols.count - 1) {
                if let merge = merges[Self.pair(symbols[i], symbols[i + 1])], merge.rank < (best?.rank ?? .max) {
                    best = (merge.rank, i, merge.merged)
                }
            }
            guard let best else { break }
            symbols[best.index] = best.merged
            symbols.remove(at: best.index + 1)
        }
        return symbols
    }

    /// The bytes of token `id` (control tokens give their text when `special`, else nothing).
    public func bytes(of id: Int32, special: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < tokens.count else { return [] }
        switch kinds[Int(id)] {
        case .control, .unknown, .unused: return special ? Array(tokens[Int(id)].utf8) : []
        case .userDefined: return Array(tokens[Int(id)].utf8)
        default:
            guard case .sentencePiece = scheme else { return tokens[Int(id)].unicodeScalars.compactMap { Self.scalarToByte[$0.value] } }
            let text = tokens[Int(id)]
            // `<0xXX>` is the byte; a normal token's `▁` is a space.
            if kinds[Int(id)] == .byte, text.utf8.count == 6, let byte = UInt8(text.dropFirst(3).prefix(2), radix: 16) { return [byte] }
            return Array(text.replacingOccurrences(of: "\u{2581}", with: " ").utf8)
        }
    }

    /// The text of `ids` (invalid UTF-8 across a cut is repaired with U+FFFD).
    public func decode(_ ids: [Int32], special: Bool = false) -> String {
        String(decoding: ids.flatMap { bytes(of: $0, special: special) }, as: UTF8.self)
    }

    public func id(of token: String) -> Int32? { ids[token] }
}
