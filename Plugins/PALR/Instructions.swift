import RecCore

/// PALR's instruction data (Yang et al., 2023, section 3.3), built from training histories
/// only, in the (instruction, input, output) layout of Alpaca-style fine-tuning sets:
///
/// - **Recommend**: the user's history up to a point -> the items that came next.
/// - **Recommend_Retrieval**: the same history and a shuffled candidate list holding those next
///   items and negatives "similar" to them -> the next items. Half the negatives share a genre
///   (or category) with a target, half were co-watched with one (taken from another user who
///   has the target); neither kind was ever touched by this user. Where a pool runs dry
///   (items without genres), uniform items fill in.
///
/// The texts are `PALRPrompts`' own, so a model tuned on them sees the ranker's layout.
public struct PALRInstructions: Sendable {
    public struct Example: Codable, Sendable, Equatable {
        public var instruction: String
        public var input: String
        public var output: String
    }

    public var prompts = PALRPrompts()
    /// Next items per example (the output's length).
    public var targets = 3
    /// Candidates per Recommend_Retrieval example, targets included.
    public var candidates = 20
    /// Examples per user, each ending `targets` items before the previous one.
    public var perUser = 1
    public var seed: UInt64 = 2020
    /// Users to write examples for (nil: all); every user's history still serves as a source
    /// of co-watched negatives.
    public var users: Set<Int>?

    public init() {}

    /// The (history, targets) cuts of one user's training sequence, latest first; a cut needs at
    /// least one history item.
    func cuts(_ sequence: [Int32]) -> [(history: [Int32], targets: [Int32])] {
        var out: [(history: [Int32], targets: [Int32])] = []
        var end = sequence.count
        while out.count < perUser, end - targets >= 1 {
            out.append((Array(sequence[..<(end - targets)]), Array(sequence[(end - targets)..<end])))
            end -= targets
        }
        return out
    }

    /// Recommend examples for every user with enough training items, users in order.
    public func recommend(histories: [[Int32]], items: [ItemText]) -> [Example] {
        histories.enumerated().flatMap { user, sequence in
            (users.map { $0.contains(user) } ?? true ? cuts(sequence) : []).map { cut in
                let parts = prompts.recommend(history: cut.history, profile: nil, items: items, count: cut.targets.count)
                return Example(instruction: parts.instruction, input: parts.input, output: Self.answer(cut.targets, items))
            }
        }
    }

    /// Recommend_Retrieval examples, with the negatives described above (seeded).
    public func retrieval(histories: [[Int32]], items: [ItemText]) -> [Example] {
        let itemCount = items.count
        // Items per genre, and the users who touched each item (for co-watched negatives).
        var byGenre: [String: [Int32]] = [:]
        for (item, text) in items.enumerated() {
            for genre in Set(text.genres + text.categories) where genre != "unknown" { byGenre[genre, default: []].append(Int32(item)) }
        }
        var usersOf = [[Int]](repeating: [], count: itemCount)
        for (user, sequence) in histories.enumerated() { for item in Set(sequence) where Int(item) < itemCount { usersOf[Int(item)].append(user) } }
        var rng = SplitMix64(seed: seed).derived("palr.instructions")
        var out: [Example] = []
        for (user, sequence) in histories.enumerated() where users.map({ $0.contains(user) }) ?? true {
            let touched = Set(sequence)
            for cut in cuts(sequence) {
                let wanted = max(0, candidates - cut.targets.count)
                var chosen = Set<Int32>()
                var negatives: [Int32] = []
                func take(_ item: Int32) {
                    if !touched.contains(item), chosen.insert(item).inserted { negatives.append(item) }
                }
                var attempts = 0
                while negatives.count < wanted / 2, attempts < 50 * wanted {
                    attempts += 1
                    let target = cut.targets[rng.nextInt(below: cut.targets.count)]
                    let genres = Int(target) < itemCount ? items[Int(target)].genres + items[Int(target)].categories : []
                    guard let genre = genres.filter({ byGenre[$0] != nil }).randomElement(using: &rng), let pool = byGenre[genre] else { break }
                    take(pool[rng.nextInt(below: pool.count)])
                }
                attempts = 0
                while negatives.count < wanted, attempts < 50 * wanted {
                    attempts += 1
                    let target = cut.targets[rng.nextInt(below: cut.targets.count)]
                    let others = Int(target) < itemCount ? usersOf[Int(target)].filter { $0 != user } : []
                    guard let other = others.randomElement(using: &rng) else { break }
                    let theirs = histories[other]
                    take(theirs[rng.nextInt(below: theirs.count)])
                }
                attempts = 0
                while negatives.count < wanted, attempts < 50 * wanted, itemCount > 0 {
                    attempts += 1
                    take(Int32(rng.nextInt(below: itemCount)))
                }
                var list = cut.targets + negatives
                list.shuffle(using: &rng)
                let parts = prompts.retrieval(history: cut.history, profile: nil, candidates: list, items: items, count: cut.targets.count)
                out.append(Example(instruction: parts.instruction, input: parts.input, output: Self.answer(cut.targets, items)))
            }
        }
        return out
    }

    /// The expected answer: one title per line, in the order they happened.
    static func answer(_ targets: [Int32], _ items: [ItemText]) -> String {
        targets.map { PALRPrompts.title($0, items) }.joined(separator: "\n")
    }
}
