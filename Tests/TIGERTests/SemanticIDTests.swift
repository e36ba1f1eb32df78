import Foundation
import RecCore
import RecSpec
import RecTensor
import Testing

@testable import TIGER

/// 240 items in 8 clusters of 16-d "text vectors"; each item has a title.
func clusteredItems(items: Int = 240, clusters: Int = 8, seed: UInt64 = 3) -> (TrainingSet, [Int]) {
    var rng = SplitMix64(seed: seed)
    let cluster = (0..<items).map { $0 % clusters }
    let centres = (0..<clusters).map { _ in (0..<16).map { _ in Float(rng.nextGaussian()) * 3 } }
    var data = TrainingSet(
        userCount: 1, itemCount: items, interactions: [], history: [[]], itemText: (0..<items).map { ItemText(title: "Item \($0)") })
    data.itemVectors = cluster.map { c in centres[c].map { $0 + Float(rng.nextGaussian()) * 0.3 } }
    return (data, cluster)
}

func deriver(_ yaml: String) throws -> SemanticIDDeriver {
    let configuration = try NodeDecoder().decode(SemanticIDDeriver.Configuration.self, from: try YAMLParser.parse(yaml, file: "tiger.yaml"), path: [])
    return try SemanticIDDeriver(configuration: configuration, context: ComponentContext(seed: 1))
}

struct SemanticIDTests {
    /// Every quantiser gives each item a unique ID of levels + 1 codes in range; the content
    /// quantisers put a cluster's items under one first code far more often than random codes.
    @Test(arguments: ["rqvae", "residual_kmeans", "random"])
    func idsAreUniqueAndFollowTheContent(_ quantiser: String) throws {
        let (data, cluster) = clusteredItems()
        let stage = try deriver("{ quantiser: \(quantiser), levels: 2, codes: 8, latent: 4, hidden: [16], epochs: 60, batch: 64, learning_rate: 0.01 }")
        let ids = try stage.derive(from: data, context: TrainingContext(seed: 1))
        #expect(ids.codes.count == 240 && ids.codes.allSatisfy { $0.count == 3 })
        #expect(Set(ids.codes).count == 240, "the last code makes every ID unique")
        #expect(ids.codes.allSatisfy { $0.prefix(2).allSatisfy { (0..<8).contains($0) } })
        #expect(ids.usage.count == 2 && ids.usage.allSatisfy { $0 > 0 && $0 <= 1 })
        // Purity of the first code: the share of items whose first code is their cluster's most common.
        var agree = 0
        for c in 0..<8 {
            let firsts = cluster.indices.filter { cluster[$0] == c }.map { ids.codes[$0][0] }
            agree += Dictionary(firsts.map { ($0, 1) }, uniquingKeysWith: +).values.max()!
        }
        let purity = Double(agree) / 240
        if quantiser == "random" {
            #expect(purity < 0.5, "\(purity)")
        } else {
            #expect(purity > 0.9, "\(quantiser): \(purity)")
        }
        // The same seed gives the same IDs.
        #expect(try stage.derive(from: data, context: TrainingContext(seed: 1)) == ids)
    }

    /// The RQ-VAE's loss falls as it trains, under either reduction, and it reports its
    /// codebook usage and collisions.
    @Test(arguments: ["mean", "sum"]) func rqvaeLearns(_ reduction: String) throws {
        let losses = Locked<[Double]>([]), messages = Locked<[String]>([])
        let context = TrainingContext(seed: 1) { event in
            if case .epochEnd(_, _, let loss) = event { losses.update { $0.append(loss) } }
            if case .message(let text) = event { messages.update { $0.append(text) } }
        }
        let (data, _) = clusteredItems()
        _ = try deriver("{ levels: 2, codes: 8, latent: 4, hidden: [16], epochs: 40, batch: 64, learning_rate: 0.01, reset_every: 5, reduction: \(reduction) }").derive(from: data, context: context)
        let seen = losses.get(), lines = messages.get()
        #expect(seen.count == 40 && seen.allSatisfy(\.isFinite))
        let first: Double = seen.prefix(5).reduce(0, +), last: Double = seen.suffix(5).reduce(0, +)
        #expect(last < 0.7 * first, "\(seen)")
        #expect(lines.contains { $0.contains("codebook usage per level") && $0.contains("collide") }, "\(lines)")
    }

    /// The collision statistics follow their definition, and identical vectors (duplicate
    /// embeddings) are told apart by the last code.
    @Test func duplicatesAreToldApartByTheLastCode() throws {
        var (data, _) = clusteredItems(items: 40)
        for item in 1..<10 { data.itemVectors[item] = data.itemVectors[0] }
        let ids = try deriver("{ quantiser: residual_kmeans, levels: 2, codes: 4 }").derive(from: data, context: TrainingContext(seed: 1))
        let group = (0..<10).map { Array(ids.codes[$0].prefix(2)) }
        #expect(Set(group).count == 1, "identical vectors, identical codes")
        #expect(Set((0..<10).map { ids.codes[$0][2] }) == Set(0..<10))
        #expect(ids.largestCollision >= 10 && ids.collisionRate >= 10.0 / 40)
        let manual = SemanticIDs(codes: [[0, 1, 0], [0, 1, 1], [2, 3, 0]], levels: 2, codebookSize: 4, quantiser: "x")
        #expect(abs(manual.collisionRate - 2.0 / 3) < 1e-12 && manual.largestCollision == 2 && manual.usage == [0.5, 0.5])
        #expect(SemanticIDs.disambiguated([[1, 2], [1, 2], [3, 4], [1, 2]]) == [[1, 2, 0], [1, 2, 1], [3, 4, 0], [1, 2, 2]])
    }

    /// A codebook larger than the items, items without text, missing vectors and bad keys are
    /// each refused, saying what to change.
    @Test func badInputIsAClearError() throws {
        let (data, _) = clusteredItems(items: 40)
        for (yaml, words) in [("{ codes: 64 }", "larger than the 40 items"), ("{ quantiser: residual_kmeans, codes: 41 }", "codes: 40 or fewer")] {
            do {
                _ = try deriver(yaml).derive(from: data, context: TrainingContext(seed: 1))
                Issue.record("\(yaml) was accepted")
            } catch { #expect("\(error)".contains(words), "\(error)") }
        }
        #expect(throws: Never.self) { _ = try deriver("{ quantiser: random, codes: 64 }").derive(from: data, context: TrainingContext(seed: 1)) }
        var untitled = data
        untitled.itemText[7] = ItemText()
        untitled.itemText[9] = ItemText()
        do {
            _ = try deriver("{ quantiser: residual_kmeans, codes: 4 }").derive(from: untitled, context: TrainingContext(seed: 1))
            Issue.record("items without text were accepted")
        } catch { #expect("\(error)".contains("2 of 40 items have no text (the first is item 7)") && "\(error)".contains("missing_text: allow"), "\(error)") }
        #expect(throws: Never.self) { _ = try deriver("{ quantiser: residual_kmeans, codes: 4, missing_text: allow }").derive(from: untitled, context: TrainingContext(seed: 1)) }
        var noVectors = data
        noVectors.itemVectors = []
        #expect(throws: RecError.self) { _ = try deriver("{}").derive(from: noVectors, context: TrainingContext(seed: 1)) }
        for (yaml, key) in [("{ quantiser: vqvae }", "quantiser"), ("{ levels: 0 }", "levels"), ("{ hidden: [0] }", "hidden"), ("{ codebook: 3 }", "codebook")] {
            #expect(throws: (any Error).self, "\(key)") { _ = try deriver(yaml) }
        }
    }
}
