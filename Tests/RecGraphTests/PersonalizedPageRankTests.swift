import Foundation
import RecCore
import RecGraph
import RecTesting
import Testing

struct PersonalizedPageRankTests {
    struct Reference: Decodable {
        var nodes: Int
        var edges: [[Double]]
        var damping: Double
        var scores: [[Double]]
    }

    static func reference() throws -> (Reference, [Double]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.directory + "/ppr/reference.json"))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        var weights = [Double](repeating: 0, count: reference.nodes * reference.nodes)
        for edge in reference.edges {
            let (i, j) = (Int(edge[0]), Int(edge[1]))
            weights[i * reference.nodes + j] = edge[2]
            weights[j * reference.nodes + i] = edge[2]
        }
        return (reference, weights)
    }

    /// Every source's vector matches networkx's (Benchmarks/ppr_reference.py) to 1e-9, on a
    /// graph with a node without edges and two components; with another damping it does not.
    @Test func agreesWithNetworkx() throws {
        let (reference, weights) = try Self.reference()
        let ranks = try PersonalizedPageRank(weights: weights, nodeCount: reference.nodes, damping: reference.damping)
        let scores = ranks.scores(from: Array(0..<reference.nodes))
        for (ours, theirs) in zip(scores, reference.scores) {
            #expect(abs(ours.reduce(0, +) - 1) < 1e-12)
            for (a, b) in zip(ours, theirs) { #expect(abs(a - b) < 1e-9, "\(a) vs networkx \(b)") }
        }
        let other = try PersonalizedPageRank(weights: weights, nodeCount: reference.nodes, damping: 0.8).scores(from: [0])[0]
        #expect(zip(other, reference.scores[0]).contains { abs($0 - $1) > 1e-6 })
        // One source at a time gives the same vector as all at once, to rounding (the product's
        // kernel depends on how many sources it carries).
        #expect(zip(ranks.scores(from: [4])[0], scores[4]).allSatisfy { abs($0 - $1) < 1e-14 })
    }

    /// The top neighbours leave out the source and unreachable nodes; ties go to the lower node.
    @Test func topNeighbours() throws {
        let (reference, weights) = try Self.reference()
        let scores = try PersonalizedPageRank(weights: weights, nodeCount: reference.nodes).scores(from: [0, 6, 8])
        #expect(PersonalizedPageRank.top(scores[0], count: 3, excluding: 0) == [1, 2, 4])
        #expect(PersonalizedPageRank.top(scores[1], count: 5, excluding: 6) == [7])
        #expect(PersonalizedPageRank.top(scores[2], count: 5, excluding: 8).isEmpty)
        #expect(PersonalizedPageRank.top([0.2, 0.3, 0.3, 0.2], count: 2, excluding: 9) == [1, 2])
    }

    @Test func refusesBadWeights() {
        #expect(throws: RecError.self) { try PersonalizedPageRank(weights: [0, 1, 1], nodeCount: 2) }
        #expect(throws: RecError.self) { try PersonalizedPageRank(weights: [0, -1, -1, 0], nodeCount: 2) }
        #expect(throws: RecError.self) { try PersonalizedPageRank(weights: [0, .nan, .nan, 0], nodeCount: 2) }
        #expect(throws: RecError.self) { try PersonalizedPageRank(weights: [0, 1, 1, 0], nodeCount: 2, damping: 1) }
    }
}

struct CoEngagementTests {
    /// Shared users per item pair, a repeated engagement counting once, out-of-range items ignored.
    @Test func countsSharedUsers() {
        let counts = CoEngagement.counts(histories: [[0, 1, 1], [1, 2], [0, 2, 1], [3]], itemCount: 4)
        #expect(counts == [2, 2, 1, 0, 2, 3, 2, 0, 1, 2, 2, 0, 0, 0, 0, 1])
        #expect(CoEngagement.counts(histories: [[5]], itemCount: 2) == [0, 0, 0, 0])
    }
}
