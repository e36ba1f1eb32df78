import Foundation
import RecCore

/// A cheap text baseline: lower-cased word unigrams and bigrams hashed (FNV-1a, signed) into
/// `dimension` buckets, weighted by term frequency times smoothed inverse document frequency
/// over the texts encoded together (`ln((1 + N) / (1 + df)) + 1`, as scikit-learn), and scaled
/// to unit length. Words are runs of letters and digits. Because IDF comes from the corpus, the
/// same text gets a different vector in a different corpus (`corpusDependent`).
///
/// ```yaml
/// encoder: { type: hashing-tfidf, dimension: 4096, bigrams: true }
/// ```
public struct HashingTFIDF: TextEncoder {
    public struct Configuration: Codable, Sendable, Equatable {
        public var dimension = 4096
        public var bigrams = true

        enum CodingKeys: String, CodingKey, CaseIterable { case dimension, bigrams }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dimension = try c.decode(.dimension, default: 4096, in: 1...(1 << 22))
            bigrams = try c.decode(.bigrams, default: true)
        }
    }

    public static let kind = "hashing-tfidf"
    public static let summary = "hashed word uni- and bigrams with TF-IDF weights over the encoded texts, L2-normalised"
    public let configuration: Configuration
    public var dimension: Int { configuration.dimension }
    public var corpusDependent: Bool { true }

    public init(configuration: Configuration, context: ComponentContext) throws {
        self.configuration = configuration
    }

    public func encode(_ texts: [String]) throws -> [[Float]] {
        let documents = texts.map(features)
        // Each document's distinct buckets, sorted so the sums (and the vector) are the same on
        // every run.
        let distinct = documents.map { Set($0.map(\.bucket)).sorted() }
        var documentFrequency: [Int: Int] = [:]
        for buckets in distinct {
            for bucket in buckets { documentFrequency[bucket, default: 0] += 1 }
        }
        let n = Float(texts.count)
        return zip(documents, distinct).map { document, buckets in
            var vector = [Float](repeating: 0, count: dimension)
            for (bucket, sign) in document { vector[bucket] += sign }
            var norm: Float = 0
            for bucket in buckets {
                vector[bucket] *= log((1 + n) / (1 + Float(documentFrequency[bucket]!))) + 1
                norm += vector[bucket] * vector[bucket]
            }
            if norm > 0 {
                let scale = 1 / norm.squareRoot()
                for bucket in buckets { vector[bucket] *= scale }
            }
            return vector
        }
    }

    /// Every hashed feature occurrence of `text`: (bucket, ±1).
    func features(_ text: String) -> [(bucket: Int, sign: Float)] {
        let words = Self.words(text)
        var grams = words.map { [$0] }
        if configuration.bigrams, words.count > 1 { grams += (1..<words.count).map { [words[$0 - 1], words[$0]] } }
        return grams.map { gram in
            let hash = Self.fnv1a(gram.joined(separator: " "))
            return (Int(hash % UInt64(dimension)), hash >> 63 == 0 ? 1 : -1)
        }
    }

    /// Lower-cased runs of letters and digits.
    static func words(_ text: String) -> [String] {
        var words: [String] = [], current = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                current.append(scalar)
            } else if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    /// 64-bit FNV-1a of the UTF-8 bytes: stable across runs and machines (Swift's `Hasher` is not).
    static func fnv1a(_ string: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in string.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
