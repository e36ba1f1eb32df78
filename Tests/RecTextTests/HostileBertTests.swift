import Foundation
import RecCore
import RecTensor
import RecTesting
import Testing

@testable import RecText

/// A BERT folder written wrong on purpose, one file at a time. The unmodified folder loads and
/// embeds, so each failure below comes from its one change.
@Suite(.serialized)
struct HostileBertTests {
    static let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "toy", "story", "heat", "the"]
    static var config: [String: Any] {
        [
            "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,
            "max_position_embeddings": 16, "layer_norm_eps": 1e-12, "vocab_size": tokens.count, "hidden_act": "gelu",
        ]
    }

    /// A complete tiny BERT in a fresh folder; `fill` gives every weight its value.
    static func folder(config: [String: Any] = config, vocabulary: String? = nil, fill: Float? = nil) throws -> String {
        let directory = Fixtures.temporaryDirectory("hostile-bert")
        let h = 4, v = tokens.count, inner = 8, positions = 16
        var rng = SplitMix64(seed: 3)
        func tensor(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in fill ?? (rng.nextFloat() - 0.5) / 2 })
        }
        var weights: [String: Tensor] = [
            "embeddings.word_embeddings.weight": tensor([v, h]), "embeddings.position_embeddings.weight": tensor([positions, h]),
            "embeddings.token_type_embeddings.weight": tensor([2, h]),
            "embeddings.LayerNorm.weight": tensor([h]), "embeddings.LayerNorm.bias": tensor([h]),
        ]
        let p = "encoder.layer.0."
        for (name, out, width) in [
            ("attention.self.query", h, h), ("attention.self.key", h, h), ("attention.self.value", h, h),
            ("attention.output.dense", h, h), ("intermediate.dense", inner, h), ("output.dense", h, inner),
        ] {
            weights[p + name + ".weight"] = tensor([out, width])
            weights[p + name + ".bias"] = tensor([out])
        }
        for name in ["attention.output.LayerNorm", "output.LayerNorm"] {
            weights[p + name + ".weight"] = tensor([h])
            weights[p + name + ".bias"] = tensor([h])
        }
        try Safetensors.save(weights, to: directory + "/model.safetensors")
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: directory + "/config.json"))
        try (vocabulary ?? tokens.joined(separator: "\n") + "\n").write(toFile: directory + "/vocab.txt", atomically: true, encoding: .utf8)
        return directory
    }

    func loadError(_ directory: String) -> String {
        (#expect(throws: RecError.self) { _ = try BertModel(directory: directory, maxLength: 16) })?.message ?? ""
    }

    @Test func theTinyFolderLoadsAndEmbeds() throws {
        let model = try BertModel(directory: try Self.folder(), maxLength: 16)
        let vectors = try model.embed(["toy story", "heat"])
        #expect(vectors.count == 2 && vectors.allSatisfy { $0.count == 4 && $0.allSatisfy { $0.isFinite } })
    }

    @Test(arguments: [
        ("num_attention_heads", 0, "num_attention_heads is 0; expected an integer from 1 to 256"),
        ("hidden_size", -4, "hidden_size is -4"),
        ("num_hidden_layers", 100_000, "num_hidden_layers is 100000"),
        ("max_position_embeddings", 0, "max_position_embeddings is 0"),
    ])
    func badSizesInConfigAreNamed(_ key: String, _ value: Int, _ message: String) throws {
        var config = Self.config
        config[key] = value
        let error = loadError(try Self.folder(config: config))
        #expect(error.contains("config.json: \(message)"), "\(error)")
    }

    @Test func badConfigFilesAreNamed() throws {
        var negative = Self.config
        negative["layer_norm_eps"] = -1.0
        #expect(loadError(try Self.folder(config: negative)).contains("layer_norm_eps must be a finite positive number"))
        var missing = Self.config
        missing["vocab_size"] = nil
        #expect(loadError(try Self.folder(config: missing)).contains("key 'vocab_size' is missing"))
        var wrongType = Self.config
        wrongType["hidden_size"] = "four"
        #expect(loadError(try Self.folder(config: wrongType)).contains("key 'hidden_size' has the wrong type"))
        let notJSON = try Self.folder()
        try "{ hidden_size: 4".write(toFile: notJSON + "/config.json", atomically: true, encoding: .utf8)
        #expect(loadError(notJSON).contains("not a BERT configuration (not JSON)"))
    }

    @Test func aBlankOrRepeatedVocabularyLineIsAnError() throws {
        var lines = Self.tokens
        lines.insert("", at: 5)
        let blank = loadError(try Self.folder(vocabulary: lines.joined(separator: "\n") + "\n"))
        #expect(blank.contains("vocab.txt:6: empty line"), "\(blank)")
        let repeated = loadError(try Self.folder(vocabulary: (Self.tokens + ["toy"]).joined(separator: "\n")))
        #expect(repeated.contains("vocab.txt:9: token 'toy' is listed a second time"), "\(repeated)")
    }

    @Test func outOfRangeTokenIdsAreRefused() throws {
        let model = try BertModel(directory: try Self.folder(), maxLength: 16)
        let error = #expect(throws: RecError.self) { _ = try model.embed(ids: [[2, 8, 3]]) }
        #expect(error?.message.contains("token id 8 is outside the vocabulary of 8") == true)
        #expect(throws: RecError.self) { _ = try model.embed(ids: [[2, -1, 3]]) }
    }

    @Test func nonFiniteWeightsAreAnErrorNotOutput() throws {
        let model = try BertModel(directory: try Self.folder(fill: .nan), maxLength: 16)
        let error = #expect(throws: RecError.self) { _ = try model.embed(["toy story"]) }
        #expect(error?.message.contains("the encoder computed non-finite values") == true, "\(error?.message ?? "")")
    }

    @Test func aDamagedWeightsFileFailsItsChecksum() throws {
        let directory = try Self.folder()
        let sums = try ["config.json", "vocab.txt", "model.safetensors"].map { "\(try ContentHash.compute(directory + "/" + $0))  \($0)" }
        try (sums.joined(separator: "\n") + "\n").write(toFile: directory + "/.sha256", atomically: true, encoding: .utf8)
        _ = try BertModel(directory: directory, maxLength: 16)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: directory + "/model.safetensors")))
        bytes[bytes.count - 1] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        #expect(loadError(directory).contains("model.safetensors does not match its checksum"))
    }

    @Test func safetensorsShapesThatOverflowAreRefused() throws {
        let header = #"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}}"#
        let bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8) + [UInt8](repeating: 0, count: 16)
        let error = #expect(throws: RecError.self) { _ = try Safetensors.decode(bytes, file: "huge.safetensors") }
        #expect(error?.message.contains("needs more bytes than the file's 16") == true, "\(error?.message ?? "")")
        let huge = withUnsafeBytes(of: UInt64.max.littleEndian) { Array($0) } + Array("{}".utf8)
        #expect((#expect(throws: RecError.self) { _ = try Safetensors.decode(huge, file: "h") })?.message.contains("truncated") == true)
    }
}
