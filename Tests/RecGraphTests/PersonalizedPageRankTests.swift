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
        #expect(PersonalizedPageRank.top(scores[0], count: 3, excluding: 0, resolution: 1e-12) == [1, 2, 4])
        #expect(PersonalizedPageRank.top(scores[1], count: 5, excluding: 6, resolution: 1e-12) == [7])
        #expect(PersonalizedPageRank.top(scores[2], count: 5, excluding: 8, resolution: 1e-12).isEmpty)
        #expect(PersonalizedPageRank.top([0.2, 0.3, 0.3, 0.2], count: 2, excluding: 9, resolution: 0) == [1, 2])
    }

    /// Scores a last bit apart, as two kernels' sums of the same products come out, tie within
    /// the resolution and go to the lower node; compared exactly, the bit decides. A tiny
    /// positive score still counts as reachable.
    @Test func lastBitsDoNotReorder() {
        let scores = [0.1, 0.3, 0.3.nextUp, 0.3.nextDown, 1e-20]
        #expect(PersonalizedPageRank.top(scores, count: 3, excluding: 0, resolution: 1e-12) == [1, 2, 3])
        #expect(PersonalizedPageRank.top(scores, count: 3, excluding: 0, resolution: 0) == [2, 1, 3])
        #expect(PersonalizedPageRank.top(scores, count: 5, excluding: 0, resolution: 1e-12) == [1, 2, 3, 4])
        #expect(PersonalizedPageRank.top([0.3, 0.3 + 2e-12], count: 2, excluding: 9, resolution: 1e-12) == [1, 0])
    }

    /// Two nodes with the same neighbours and weights score the same from any other source
    /// whatever the product's shape (one source, or all of them, where they sit in different
    /// places of the kernel's blocks): the lower one ranks first, after the hub both lead to.
    @Test func indistinguishableNodesRankByNumber() throws {
        // A hub 0 with 40 leaves; leaves 17 and 32 (both weight 3 to the hub) also share an edge of weight 2 to node 41.
        let n = 42
        var weights = [Double](repeating: 0, count: n * n)
        func link(_ i: Int, _ j: Int, _ w: Double) { (weights[i * n + j], weights[j * n + i]) = (w, w) }
        for leaf in 1...40 { link(0, leaf, Double(1 + leaf % 3)) }
        link(17, 41, 2)
        link(32, 41, 2)
        let ranks = try PersonalizedPageRank(weights: weights, nodeCount: n)
        for sources in [[41], Array(0..<n)] {
            let scores = ranks.scores(from: sources)[sources.firstIndex(of: 41)!]
            #expect(PersonalizedPageRank.top(scores, count: 3, excluding: 41, resolution: ranks.tolerance) == [0, 17, 32])
        }
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
