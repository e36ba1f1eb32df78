import RecCore

extension Dataset {
    /// Splits interactions into train, validation and test.
    ///
    /// - `leaveOneOut`: per user in time order, the last interaction is test and the one before
    ///   validation; a user with two keeps one for training and one for test, a user with one
    ///   keeps it for training (RecBole's `LS: valid_and_test`).
    /// - `temporal`: all interactions in global time order, cut by `ratios`.
    /// - `random`: per user, a seeded shuffle cut by `ratios` (RecBole's `RS` grouped by user).
    /// - `user`: users are shuffled and cut by `ratios`; held-out users have no training data.
    /// - Parameter historyPrefix: moves each user's first interactions out of every part into
    ///   `historyOnly` (pointwise protocols: the model reads them as the user's history).
    public func split(_ method: SplitMethod, ratios: [Double] = [0.8, 0.1, 0.1], seed: UInt64 = 2020, historyPrefix: HistoryPrefix? = nil) throws -> SplitData {
        var train: [Interaction] = [], validation: [Interaction] = [], test: [Interaction] = []
        // Stable order: time, then position in the file.
        let order = interactions.indices.sorted { (interactions[$0].time, $0) < (interactions[$1].time, $1) }
        switch method {
        case .leaveOneOut:
            var byUser = [[Int]](repeating: [], count: userCount)
            for index in order { byUser[Int(interactions[index].user)].append(index) }
            for events in byUser {
                let held = min(2, max(0, events.count - 1))
                train += events.dropLast(held).map { interactions[$0] }
                if held == 2 { validation.append(interactions[events[events.count - 2]]) }
                if held >= 1 { test.append(interactions[events[events.count - 1]]) }
            }
        case .temporal:
            let (a, b) = cuts(order.count, ratios)
            train = order[..<a].map { interactions[$0] }
            validation = order[a..<b].map { interactions[$0] }
            test = order[b...].map { interactions[$0] }
        case .random:
            var rng = SplitMix64(seed: seed)
            var byUser = [[Int]](repeating: [], count: userCount)
            for index in interactions.indices { byUser[Int(interactions[index].user)].append(index) }
            for var events in byUser {
                events.shuffle(using: &rng)
                let (a, b) = cuts(events.count, ratios)
                train += events[..<a].map { interactions[$0] }
                validation += events[a..<b].map { interactions[$0] }
                test += events[b...].map { interactions[$0] }
            }
        case .user:
            var rng = SplitMix64(seed: seed)
            var users = Array(0..<userCount)
            users.shuffle(using: &rng)
            let (a, b) = cuts(users.count, ratios)
            var part = [UInt8](repeating: 0, count: userCount)
            for u in users[a..<b] { part[u] = 1 }
            for u in users[b...] { part[u] = 2 }
            for index in order {
                let event = interactions[index]
                switch part[Int(event.user)] {
                case 0: train.append(event)
                case 1: validation.append(event)
                default: test.append(event)
                }
            }
        }
        var prefix: [Interaction] = []
        if let historyPrefix {
            // Each user's first min(⌊(n + 1) · fraction⌋, max) interactions in time order are
            // history only (KAR: min((n + 1) / 2, 30)).
            var byUser = [[Int]](repeating: [], count: userCount)
            for index in order { byUser[Int(interactions[index].user)].append(index) }
            var prefixed = Set<Interaction>()
            for events in byUser {
                let count = min(Int((Double(events.count + 1) * historyPrefix.fraction).rounded(.down)), historyPrefix.max)
                for index in events.prefix(count) { prefixed.insert(interactions[index]) }
            }
            func keep(_ part: [Interaction]) -> [Interaction] {
                part.filter { event in
                    guard prefixed.contains(event) else { return true }
                    prefix.append(event)
                    return false
                }
            }
            (train, validation, test) = (keep(train), keep(validation), keep(test))
        }
        guard !train.isEmpty else { throw RecError.data("the \(method.rawValue) split left no training interactions in '\(name)'") }
        guard !test.isEmpty else { throw RecError.data("the \(method.rawValue) split left no test interactions in '\(name)'") }
        return SplitData(dataset: self, train: train, validation: validation, test: test, historyOnly: prefix)
    }
}

/// Cut points for train/validation/test fractions, rounding like RecBole (floor of cumulative).
private func cuts(_ count: Int, _ ratios: [Double]) -> (Int, Int) {
    let total = ratios.reduce(0, +)
    let a = Int((Double(count) * ratios[0] / total).rounded(.down))
    let b = Int((Double(count) * (ratios[0] + ratios[1]) / total).rounded(.down))
    return (a, max(a, b))
}
