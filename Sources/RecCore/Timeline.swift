/// Every interaction a model may read, per user in time order, so that a pointwise sample can
/// be given its behaviour sequence: the user's interactions before it (DIN's input).
///
/// Interactions with the same time keep the order they were given in, so a caller that lists
/// the history-only prefix first, then training, validation and test interactions (each in
/// time order, as the splitter writes them) gets the split's own order.
public struct Timeline: Sendable {
    /// `events[u]`: user `u`'s interactions, in time order.
    public let events: [[Interaction]]
    private let positions: [Interaction: Int32]

    public init(userCount: Int, _ interactions: [Interaction]) {
        var events = [[Interaction]](repeating: [], count: userCount)
        for event in interactions where event.user >= 0 && Int(event.user) < userCount { events[Int(event.user)].append(event) }
        var positions: [Interaction: Int32] = [:]
        positions.reserveCapacity(interactions.count)
        for user in events.indices {
            // A stable sort: equal times keep their given order.
            events[user] = events[user].enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
            for (position, event) in events[user].enumerated() where positions[event] == nil { positions[event] = Int32(position) }
        }
        self.events = events
        self.positions = positions
    }

    /// At most `limit` interactions of `event`'s user before it, oldest first. An interaction
    /// the timeline does not hold is placed after every earlier-timed one of its user.
    public func before(_ event: Interaction, limit: Int) -> ArraySlice<Interaction> {
        guard event.user >= 0, Int(event.user) < events.count, limit > 0 else { return [] }
        let history = events[Int(event.user)]
        let end = positions[event].map(Int.init) ?? history.partitioningIndex { $0.time >= event.time }
        return history[max(0, end - limit)..<end]
    }
}

extension Array {
    /// The first index whose element satisfies `belongs`, for an array partitioned by it
    /// (binary search).
    func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

/// Capability: the scorer reads each pair's behaviour sequence, the user's interactions before
/// the pair in time order (DIN). The pointwise runner then calls this `predict` with the test
/// interactions and a timeline of the whole split, instead of `predict(users:items:history:)`.
public protocol ReadsBehaviour {
    /// The longest sequence read per pair; 0 when this instance reads none.
    var behaviourLength: Int { get }
    func predict(_ pairs: [Interaction], timeline: Timeline) throws -> [Float]
}
