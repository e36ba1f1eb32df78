import Foundation
import RecCore

/// The BPE tokenizers llama.cpp runs for GGUF models: byte-level BPE (`tokenizer.ggml.model`
/// `gpt2`) and SentencePiece-style BPE (`llama`, see `SentencePieceMerges`). Byte-level:
///
/// 1. special tokens (control and unknown tokens when `parseSpecial`, user-defined tokens
///    always) are cut out of the text first, longest first;
/// 2. pre-tokenisation: for `smollm` (and the StarCoder family) every digit is its own piece,
///    then the GPT-2 pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
///    splits each piece; plain `gpt2` skips the digit step;
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
        /// Byte-level BPE; `splitDigits`: every digit is its own piece first.
        case byteLevel(splitDigits: Bool)
        /// SentencePiece-style; `addSpacePrefix`: a space starts the text and each run of text
        /// after a special token.
        case sentencePiece(SentencePieceMerges, addSpacePrefix: Bool)
    }
    let scheme: Scheme
    /// Special tokens cut out before BPE, longest text first.
    let specials: [(text: String, id: Int32, control: Bool)]
    public let bos: Int32?, eos: Int32?
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
        var splitDigits = false
        if model == "gpt2" {
            switch pre {
            case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva": splitDigits = true
            case "gpt-2", "gpt2", "default", "mpt", "olmo", "jais": splitDigits = false
            default: throw fail("tokenizer.ggml.pre '\(pre)' is not supported (smollm, starcoder, gpt-2, ...)")
            }
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
        // llama.cpp's defaults when a file does not say: SentencePiece models add BOS and a
        // space prefix, byte-level ones neither.
        addBOS = file.metadata["tokenizer.ggml.add_bos_token"]?.bool ?? (model == "llama")
        if model == "llama" {
            guard let values = try file.require("tokenizer.ggml.scores").array, case let scores = values.compactMap(\.double), scores.count == tokens.count else {
                throw fail("tokenizer.ggml.scores is not an array of \(tokens.count) numbers, one per token")
            }
            scheme = .sentencePiece(
                SentencePieceMerges(tokens: tokens, scores: scores.map { Float($0) }),
                addSpacePrefix: file.metadata["tokenizer.ggml.add_space_prefix"]?.bool ?? true)
        } else {
            scheme = .byteLevel(splitDigits: splitDigits)
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
            case (.text(let piece), .byteLevel(let splitDigits)):
                for word in Self.preTokenize(piece, splitDigits: splitDigits) { out += bytePairs(word) }
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

    /// Pieces of `text` under the pre-tokenisation rules (step 2).
    static func preTokenize(_ text: String, splitDigits: Bool) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var ranges: [Range<Int>] = []
        if splitDigits {
            var start = 0
            for (i, scalar) in scalars.enumerated() where isNumber(scalar) {
                if i > start { ranges.append(start..<i) }
                ranges.append(i..<(i + 1))
                start = i + 1
            }
            if start < scalars.count { ranges.append(start..<scalars.count) }
        } else {
            ranges = scalars.isEmpty ? [] : [0..<scalars.count]
        }
        var pieces: [String] = []
        for range in ranges {
            for piece in gpt2Split(scalars, range) {
                var s = String.UnicodeScalarView()
                s.append(contentsOf: scalars[piece])
                pieces.append(String(s))
            }
        }
        return pieces
    }

    /// The GPT-2 pattern within `range` (matches are contiguous, so only their ends are found).
    static func gpt2Split(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [Range<Int>] {
        let end = range.upperBound
        func at(_ i: Int) -> Unicode.Scalar? { i < end ? s[i] : nil }
        func letter(_ i: Int) -> Bool { at(i).map(isLetter) ?? false }
        func number(_ i: Int) -> Bool { at(i).map(isNumber) ?? false }
        func space(_ i: Int) -> Bool { at(i).map(isWhitespace) ?? false }
        func other(_ i: Int) -> Bool { i < end && !letter(i) && !number(i) && !space(i) }
        var out: [Range<Int>] = []
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let c = s[pos]
            if c == "'", let next = at(pos + 1) {
                if "stmd".unicodeScalars.contains(next) { pos += 2; out.append(start..<pos); continue }
                if let third = at(pos + 2), (next == "r" && third == "e") || (next == "v" && third == "e") || (next == "l" && third == "l") {
                    pos += 3; out.append(start..<pos); continue
                }
            }
            let body = c == " " ? pos + 1 : pos
            if letter(body) {
                pos = body
                while letter(pos) { pos += 1 }
                out.append(start..<pos); continue
            }
            if number(body) {
                pos = body
                while number(pos) { pos += 1 }
                out.append(start..<pos); continue
            }
            if other(body) {
                pos = body
                while other(pos) { pos += 1 }
                out.append(start..<pos); continue
            }
            var spaces = 0
            while space(pos + spaces) { spaces += 1 }
            if spaces > 1 && pos + spaces < end {
                pos += spaces - 1  // \s+(?!\S): leave the last space to the next word
            } else if spaces > 0 {
                pos += spaces
            } else {
                pos += 1
            }
            out.append(start..<pos)
        }
        return out
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// BPE merges over one piece's byte characters (step 3).
    func bytePairs(_ word: String) -> [Int32] {
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
