/// How byte-level BPE cuts text into pieces before merging (`tokenizer.ggml.pre`), following
/// llama.cpp's splitters for each family. Merges never cross a piece's edge, so a tokenizer
/// with the wrong splitter gives other ids.
enum PreTokenizer: Sendable, Equatable {
    /// GPT-2's pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
    /// `splitDigits`: every digit is its own piece first (SmolLM and the StarCoder family).
    case gpt2(splitDigits: Bool)
    /// Llama 3's pattern `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, with runs of at most `digits`
    /// numbers: 3 for Llama 3, 1 for Qwen2 and Qwen3 (whose pattern has `\p{N}` alone).
    case llama3(digits: Int)

    /// The splitter llama.cpp picks for `tokenizer.ggml.pre`, nil for names it does not know.
    init?(name: String) {
        switch name {
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva": self = .gpt2(splitDigits: true)
        case "gpt-2", "gpt2", "default", "mpt", "olmo", "jais": self = .gpt2(splitDigits: false)
        case "llama3", "llama-v3", "llama-bpe", "falcon3": self = .llama3(digits: 3)
        case "qwen2", "deepseek-r1-qwen": self = .llama3(digits: 1)
        default: return nil
        }
    }

    /// Whether a piece that is itself a token becomes that token without merging (llama.cpp's
    /// `ignore_merges`, set for the Llama 3 family).
    var takesWholeWords: Bool { self == .llama3(digits: 3) }

    /// The pieces of `text`, in order; together they are the text.
    func pieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var ranges: [Range<Int>] = []
        switch self {
        case .gpt2(let splitDigits):
            var spans: [Range<Int>] = []
            if splitDigits {
                var start = 0
                for (i, scalar) in scalars.enumerated() where Self.isNumber(scalar) {
                    if i > start { spans.append(start..<i) }
                    spans.append(i..<(i + 1))
                    start = i + 1
                }
                if start < scalars.count { spans.append(start..<scalars.count) }
            } else if !scalars.isEmpty {
                spans = [0..<scalars.count]
            }
            for span in spans { ranges += Self.gpt2Split(scalars, span) }
        case .llama3(let digits):
            ranges = Self.llama3Split(scalars, digits: digits)
        }
        return ranges.map { range in
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[range])
            return String(piece)
        }
    }

    /// The GPT-2 pattern within `range` (matches are contiguous, so only their ends are found).
    static func gpt2Split(_ s: [Unicode.Scalar], _ range: Range<Int>) -> [Range<Int>] {
        let classes = Classes(s, end: range.upperBound)
        var out: [Range<Int>] = []
        var pos = range.lowerBound
        while pos < classes.end {
            let start = pos
            let c = s[pos]
            if c == "'", let next = classes.at(pos + 1) {
                if "stmd".unicodeScalars.contains(next) {
                    pos += 2
                    out.append(start..<pos)
                    continue
                }
                if let third = classes.at(pos + 2), (next == "r" && third == "e") || (next == "v" && third == "e") || (next == "l" && third == "l") {
                    pos += 3
                    out.append(start..<pos)
                    continue
                }
            }
            let body = c == " " ? pos + 1 : pos
            for kind in [classes.letter, classes.number, classes.other] where kind(body) {
                pos = body
                while kind(pos) { pos += 1 }
                break
            }
            if pos == start {
                var spaces = 0
                while classes.space(pos + spaces) { spaces += 1 }
                // \s+(?!\S): a run of spaces before a word leaves its last space to the word.
                pos += spaces > 1 && pos + spaces < classes.end ? spaces - 1 : max(spaces, 1)
            }
            out.append(start..<pos)
        }
        return out
    }

    /// The Llama 3 pattern over all of `s`, branch by branch as llama.cpp's
    /// `unicode_regex_split_custom_llama3` tries them.
    static func llama3Split(_ s: [Unicode.Scalar], digits: Int) -> [Range<Int>] {
        let classes = Classes(s, end: s.count)
        func newline(_ i: Int) -> Bool { classes.at(i) == "\r" || classes.at(i) == "\n" }
        func lower(_ i: Int) -> Unicode.Scalar? {
            guard let c = classes.at(i) else { return nil }
            return ("A"..."Z").contains(c) ? Unicode.Scalar(c.value + 32) : c
        }
        var out: [Range<Int>] = []
        var pos = 0
        while pos < s.count {
            let start = pos
            defer { out.append(start..<pos) }
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if s[pos] == "'", let next = lower(pos + 1) {
                if "stmd".unicodeScalars.contains(next) {
                    pos += 2
                    continue
                }
                if let third = lower(pos + 2), (next == "r" && third == "e") || (next == "v" && third == "e") || (next == "l" && third == "l") {
                    pos += 3
                    continue
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !newline(pos) && !classes.number(pos) && (classes.letter(pos) || classes.letter(pos + 1)) {
                pos += 1
                while classes.letter(pos) { pos += 1 }
                continue
            }
            // \p{N}{1,digits}
            if classes.number(pos) {
                while classes.number(pos) && pos - start < digits { pos += 1 }
                continue
            }
            // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
            let body = s[pos] == " " ? pos + 1 : pos
            if classes.other(body) {
                pos = body
                while classes.other(pos) { pos += 1 }
                while newline(pos) { pos += 1 }
                continue
            }
            var spaces = 0, afterNewline: Int?
            while classes.space(pos + spaces) {
                if newline(pos + spaces) { afterNewline = pos + spaces + 1 }
                spaces += 1
            }
            if let afterNewline {
                pos = afterNewline  // \s*[\r\n]+
            } else if spaces > 1 && pos + spaces < s.count {
                pos += spaces - 1  // \s+(?!\S)
            } else {
                pos += max(spaces, 1)  // \s+, or a lone character nothing else matched
            }
        }
        return out
    }

    /// The Unicode classes the patterns test, of the scalars before `end` (false beyond it).
    struct Classes {
        let s: [Unicode.Scalar], end: Int
        init(_ s: [Unicode.Scalar], end: Int) { (self.s, self.end) = (s, end) }
        func at(_ i: Int) -> Unicode.Scalar? { i < end ? s[i] : nil }
        func letter(_ i: Int) -> Bool { at(i).map(PreTokenizer.isLetter) ?? false }
        func number(_ i: Int) -> Bool { at(i).map(PreTokenizer.isNumber) ?? false }
        func space(_ i: Int) -> Bool { at(i)?.properties.isWhitespace ?? false }
        /// `[^\s\p{L}\p{N}]`.
        func other(_ i: Int) -> Bool { i < end && !letter(i) && !number(i) && !space(i) }
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
}
