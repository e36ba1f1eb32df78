import Foundation
import RecCore

/// BERT's uncased WordPiece tokenizer, as the Hugging Face `tokenizers` library runs it for
/// all-MiniLM-L6-v2 (BertNormalizer, BertPreTokenizer, WordPiece, `[CLS] … [SEP]`):
///
/// 1. clean: drop NUL, U+FFFD and control/format characters (keeping tab, newline, return),
///    turn every white-space character into a space;
/// 2. put spaces around CJK ideographs, so each is a word;
/// 3. strip accents (NFD, then drop non-spacing marks), then lower-case;
/// 4. split on white space and isolate every punctuation character;
/// 5. WordPiece: greedy longest match, continuation pieces prefixed `##`; a word with no full
///    match, or longer than 100 characters, becomes `[UNK]`.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int32]
    public let unknown: Int32, classification: Int32, separator: Int32, padding: Int32
    /// Longest sequence produced, special tokens included.
    public let maxLength: Int
    static let maxWordCharacters = 100

    /// Reads `vocab.txt` (one token per line; the line number is the id).
    public init(vocabularyFile path: String, maxLength: Int) throws {
        let data = try InputFile.read(path, what: "vocabulary", limit: 64 << 20)
        guard let text = String(validating: data, as: UTF8.self) else { throw RecError(.data, "\(path): the vocabulary is not UTF-8 text") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }  // the final line break
        // The line number is the token id, so a blank or repeated line would shift or shadow
        // every id after it: both are errors, not something to skip.
        var vocabulary: [String: Int32] = [:]
        for (index, line) in lines.enumerated() {
            let token = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
            guard !token.isEmpty else { throw RecError(.data, "\(path):\(index + 1): empty line; every line of vocab.txt is one token") }
            guard index < Int(Int32.max), vocabulary.updateValue(Int32(index), forKey: token) == nil else {
                throw RecError(.data, "\(path):\(index + 1): token '\(Excerpt.of(token))' is listed a second time")
            }
        }
        try self.init(vocabulary: vocabulary, maxLength: maxLength, file: path)
    }

    public init(vocabulary: [String: Int32], maxLength: Int, file: String = "vocabulary") throws {
        func special(_ token: String) throws -> Int32 {
            guard let id = vocabulary[token] else { throw RecError(.data, "\(file): the vocabulary has no \(token) token") }
            return id
        }
        guard maxLength >= 2 else { throw RecError(.data, "\(file): maximum length \(maxLength) leaves no room for [CLS] and [SEP]") }
        self.vocabulary = vocabulary
        self.maxLength = maxLength
        unknown = try special("[UNK]")
        classification = try special("[CLS]")
        separator = try special("[SEP]")
        padding = try special("[PAD]")
    }

    /// Token ids of `text` with `[CLS]` and `[SEP]`, truncated to `maxLength`.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [classification]
        let budget = maxLength - 1
        for word in Self.words(text) {
            for piece in wordPieces(word) {
                guard ids.count < budget else { return ids + [separator] }
                ids.append(piece)
            }
        }
        return ids + [separator]
    }

    /// The normalised, pre-tokenised words of `text` (steps 1 to 4), as Unicode scalars.
    static func words(_ text: String) -> [[Unicode.Scalar]] {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                cleaned.append(" ")
            } else if isCJK(scalar) {
                cleaned.append(" "); cleaned.append(scalar); cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var stripped = String.UnicodeScalarView()
        for scalar in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
        where scalar.properties.generalCategory != .nonspacingMark {
            stripped.append(scalar)
        }
        var words: [[Unicode.Scalar]] = [], word: [Unicode.Scalar] = []
        for scalar in String(stripped).lowercased().unicodeScalars {
            if isWhitespace(scalar) {
                if !word.isEmpty { words.append(word); word = [] }
            } else if isPunctuation(scalar) {
                if !word.isEmpty { words.append(word); word = [] }
                words.append([scalar])
            } else {
                word.append(scalar)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }

    /// Greedy longest-match WordPiece of one word.
    func wordPieces(_ word: [Unicode.Scalar]) -> [Int32] {
        guard word.count <= Self.maxWordCharacters else { return [unknown] }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count, found: Int32?
            while end > start {
                var candidate = start > 0 ? "##" : ""
                candidate.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary[candidate] { found = id; break }
                end -= 1
            }
            guard let found else { return [unknown] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    /// Tab, newline, return and the Unicode White_Space property.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.isWhitespace
    }

    /// Categories Cc, Cf, Cs, Co, Cn, except tab, newline and return.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// ASCII punctuation (which includes symbols such as `$`, `+`, `|`) and Unicode P* categories.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT treats as one word per character.
    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }
}
