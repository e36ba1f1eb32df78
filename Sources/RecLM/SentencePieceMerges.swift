/// SentencePiece-style BPE as llama.cpp runs it for GGUF models whose `tokenizer.ggml.model`
/// is `llama` (Llama 2, Gemma): the text's spaces become `▁`, its UTF-8 characters are the
/// first symbols, and the adjacent pair whose concatenation is the vocabulary entry with the
/// highest score is merged first (leftmost on ties), until no pair is an entry. A symbol that is
/// no entry is split back along the merges that built it, down to bytes (`<0xXX>` tokens).
struct SentencePieceMerges {
    /// A run of the text's bytes; `length` 0 once merged into its left neighbour.
    private struct Symbol {
        var start: Int, length: Int
        var previous: Int, next: Int
    }

    /// A candidate merge; stale once either side has changed (its size no longer matches).
    private struct Candidate {
        var left: Int, right: Int
        var score: Float
        var size: Int

        /// Whether `self` is merged before `other`: higher score, then leftmost.
        func precedes(_ other: Candidate) -> Bool { score > other.score || (score == other.score && left < other.left) }
    }

    /// Token ids by their text's bytes (not by `String`, whose equality would make canonically
    /// equivalent entries one, where llama.cpp compares bytes); the first of repeated entries.
    let ids: [[UInt8]: Int32]
    let scores: [Float]
    /// The token of each byte value (`<0xXX>`, else the byte itself; -1 when neither exists).
    let byteIDs: [Int32]

    init(tokens: [String], scores: [Float]) {
        var ids: [[UInt8]: Int32] = [:]
        for (index, token) in tokens.enumerated() where ids[Array(token.utf8)] == nil { ids[Array(token.utf8)] = Int32(index) }
        self.ids = ids
        self.scores = scores
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        byteIDs = (0..<256).map { (byte: Int) -> Int32 in
            let name: [UInt8] = [UInt8(ascii: "<"), UInt8(ascii: "0"), UInt8(ascii: "x"), hex[byte >> 4], hex[byte & 15], UInt8(ascii: ">")]
            return ids[name] ?? ids[[UInt8(byte)]] ?? -1
        }
    }

    /// The tokens of `text`, whose spaces are already `▁`.
    func tokens(_ text: String) -> [Int32] {
        let bytes: [UInt8] = Array(text.utf8)
        guard !bytes.isEmpty else { return [] }
        var symbols: [Symbol] = []
        var offset = 0
        while offset < bytes.count {
            let length = min(Self.utf8Length(bytes[offset]), bytes.count - offset)
            symbols.append(Symbol(start: offset, length: length, previous: symbols.count - 1, next: offset + length == bytes.count ? -1 : symbols.count + 1))
            offset += length
        }
        var heap = CandidateHeap()
        // The two symbols each merged text was last made of, to split a symbol that is no token.
        var madeOf: [[UInt8]: (Int, Int)] = [:]
        func slice(_ start: Int, _ length: Int) -> [UInt8] { Array(bytes[start..<(start + length)]) }
        func consider(_ left: Int, _ right: Int) {
            guard left >= 0, right >= 0 else { return }
            let size = symbols[left].length + symbols[right].length
            let merged = slice(symbols[left].start, size)
            guard let id = ids[merged], Int(id) < scores.count else { return }
            heap.push(Candidate(left: left, right: right, score: scores[Int(id)], size: size))
            madeOf[merged] = (left, right)
        }
        for i in 1..<symbols.count { consider(i - 1, i) }
        while let best = heap.pop() {
            let (left, right) = (best.left, best.right)
            guard symbols[left].length > 0, symbols[right].length > 0, symbols[left].length + symbols[right].length == best.size else { continue }
            symbols[left].length += symbols[right].length
            symbols[right].length = 0
            symbols[left].next = symbols[right].next
            if symbols[right].next >= 0 { symbols[symbols[right].next].previous = left }
            consider(symbols[left].previous, left)
            consider(left, symbols[left].next)
        }
        var out: [Int32] = []
        func emit(_ index: Int) {
            let symbol = symbols[index]
            let piece = slice(symbol.start, symbol.length)
            if let id = ids[piece] {
                out.append(id)
            } else if let (left, right) = madeOf[piece] {
                emit(left)
                emit(right)
            } else {
                for byte in bytes[symbol.start..<(symbol.start + symbol.length)] where byteIDs[Int(byte)] >= 0 { out.append(byteIDs[Int(byte)]) }
            }
        }
        var index = 0
        while index != -1 {
            emit(index)
            index = symbols[index].next
        }
        return out
    }

    /// The length of the UTF-8 sequence a byte starts (1 for a stray continuation byte).
    static func utf8Length(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xF: return 4
        case 0xE: return 3
        case 0xC, 0xD: return 2
        default: return 1
        }
    }

    /// A binary heap of candidates, the one merged first on top.
    private struct CandidateHeap {
        private var items: [Candidate] = []

        mutating func push(_ candidate: Candidate) {
            items.append(candidate)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard items[child].precedes(items[parent]) else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() -> Candidate? {
            guard let top = items.first else { return nil }
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var best = parent
                    if left < items.count && items[left].precedes(items[best]) { best = left }
                    if right < items.count && items[right].precedes(items[best]) { best = right }
                    guard best != parent else { break }
                    items.swapAt(parent, best)
                    parent = best
                }
            }
            return top
        }
    }
}
