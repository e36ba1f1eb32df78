import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecText
@testable import TextEncoders

/// The fetched all-MiniLM-L6-v2 folder; under CI=true its absence fails the tests that need it.
let miniLMDirectory = ModelFiles.root() + "/all-MiniLM-L6-v2"
let miniLMRequired = Fixtures.modelRequired("all-MiniLM-L6-v2/model.safetensors")

/// Tests/Fixtures/minilm/reference.json, written once by Benchmarks/minilm_reference.py with
/// sentence-transformers: for each text, its token ids and its embedding.
struct Reference: Decodable {
    struct Text: Decodable { var text: String; var ids: [Int32]; var embedding: [Float] }
    var model: String
    var maxSeqLength: Int
    var texts: [Text]

    enum CodingKeys: String, CodingKey { case model, maxSeqLength = "max_seq_length", texts }

    static func load() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.directory + "/minilm/reference.json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }
}

@Suite(.enabled(if: miniLMRequired, "all-MiniLM-L6-v2 is not in models/ (bash scripts/fetch-models.sh)"))
struct MiniLMReferenceTests {
    @Test func tokenIdsMatchTheReferenceOnEveryText() throws {
        let reference = try Reference.load()
        #expect(reference.texts.count >= 50)
        let tokenizer = try WordPieceTokenizer(vocabularyFile: miniLMDirectory + "/vocab.txt", maxLength: reference.maxSeqLength)
        for text in reference.texts {
            #expect(tokenizer.encode(text.text) == text.ids, "\(text.text.debugDescription)")
        }
    }

    @Test func embeddingsMatchTheReference() throws {
        let reference = try Reference.load()
        let encoder = try MiniLMEncoder(configuration: .init(), context: ComponentContext(seed: 0))
        let vectors = try encoder.encode(reference.texts.map(\.text))
        var worst: Float = 1
        for (text, vector) in zip(reference.texts, vectors) {
            #expect(vector.count == 384 && text.embedding.count == 384)
            let cosine =
                zip(vector, text.embedding).map(*).reduce(0, +)
                / (norm(vector) * norm(text.embedding))
            worst = min(worst, cosine)
            #expect(cosine >= 0.9999, "\(text.text.debugDescription): cosine \(cosine)")
        }
        print("MiniLM: worst cosine to sentence-transformers over \(vectors.count) texts: \(worst)")
        // Batching must not change a text's vector: one at a time gives the same values.
        let alone = try encoder.encode([reference.texts[1].text])[0]
        #expect(zip(alone, vectors[1]).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    func norm(_ v: [Float]) -> Float { v.map { $0 * $0 }.reduce(0, +).squareRoot() }

    @Test func damagedWeightsNameTheFileAndTheSetupCommand() throws {
        let folder = Fixtures.temporaryDirectory("minilm-broken")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = folder + "/all-MiniLM-L6-v2"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        for file in ["config.json", "vocab.txt"] { try FileManager.default.copyItem(atPath: miniLMDirectory + "/" + file, toPath: model + "/" + file) }

        let missing = #expect(throws: RecError.self) {
            _ = try ModelFiles.directory("all-MiniLM-L6-v2", files: BertModel.requiredFiles, root: folder)
        }
        #expect(missing?.message.contains("\(model)/model.safetensors is missing; run `bash scripts/fetch-models.sh`") == true)

        let weights = try Data(contentsOf: URL(fileURLWithPath: miniLMDirectory + "/model.safetensors"))
        try weights.prefix(1_000_000).write(to: URL(fileURLWithPath: model + "/model.safetensors"))
        let truncated = #expect(throws: RecError.self) { _ = try BertModel(directory: model, maxLength: 256) }
        #expect(truncated?.message.contains("\(model)/model.safetensors: truncated") == true)
        #expect(truncated?.message.contains("bash scripts/fetch-models.sh") == true)

        try Data("{\"hidden_size\": 384".utf8).write(to: URL(fileURLWithPath: model + "/config.json"))
        let config = #expect(throws: RecError.self) { _ = try BertModel(directory: model, maxLength: 256) }
        #expect(config?.message.contains("\(model)/config.json: not a BERT configuration") == true)
    }
}

/// WordPiece on a hand-made vocabulary: needs no model files.
struct WordPieceTests {
    let tokenizer = try! WordPieceTokenizer(
        vocabulary: ["[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6, "cafe": 7, "!": 8, "(": 9, ")": 10, "猫": 11],
        maxLength: 6)

    @Test func greedyLongestMatchAccentsPunctuationAndCJK() {
        #expect(tokenizer.encode("Unaffable!") == [2, 4, 5, 6, 8, 3])
        #expect(tokenizer.encode("CAFÉ") == [2, 7, 3])
        #expect(tokenizer.encode("(猫)") == [2, 9, 11, 10, 3])
        #expect(tokenizer.encode("unx") == [2, 1, 3])  // no full match: the whole word is [UNK]
        #expect(tokenizer.encode(" \t\u{0}\u{200B} ") == [2, 3])
    }

    @Test func truncatesToTheMaximumLengthWithSeparator() {
        #expect(tokenizer.encode("cafe cafe cafe cafe cafe cafe") == [2, 7, 7, 7, 7, 3])
        #expect(tokenizer.encode(String(repeating: "un", count: 51)) == [2, 1, 3])  // over 100 characters
    }

    @Test func vocabularyWithoutSpecialTokensIsRejected() {
        let error = #expect(throws: RecError.self) { _ = try WordPieceTokenizer(vocabulary: ["a": 0], maxLength: 8, file: "v.txt") }
        #expect(error?.message == "v.txt: the vocabulary has no [UNK] token")
    }
}

struct HashingTFIDFTests {
    @Test func unitVectorsWeightedByRarity() throws {
        let encoder = try HashingTFIDF(configuration: .init(), context: ComponentContext(seed: 0))
        let texts = ["Toy Story (1995)", "Toy Story 2 (1999)", "Heat (1995)", "", "toy story (1995)"]
        let vectors = try encoder.encode(texts)
        func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map(*).reduce(0, +) }
        #expect(vectors.allSatisfy { $0.count == 4096 })
        for index in [0, 1, 2, 4] { #expect(abs(dot(vectors[index], vectors[index]) - 1) < 1e-5) }
        #expect(vectors[3].allSatisfy { $0 == 0 })
        #expect(abs(dot(vectors[0], vectors[4]) - 1) < 1e-5)  // case does not matter
        #expect(dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]))  // "toy story" is shared
        #expect(dot(vectors[0], vectors[2]) > 0)  // "1995"
        #expect(try encoder.encode(texts) == vectors)  // no hidden state, no random seed
        #expect(encoder.corpusDependent)
    }
}

@Suite struct EncoderConformanceTests {
    @Test func hashingTFIDFConforms() throws { try Conformance.encoder(HashingTFIDF.self) }

    @Test(.enabled(if: miniLMRequired, "all-MiniLM-L6-v2 is not in models/ (bash scripts/fetch-models.sh)"))
    func miniLMConforms() throws { try Conformance.encoder(MiniLMEncoder.self) }
}
