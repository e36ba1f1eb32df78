import COpenBLAS
import Foundation
import RecCore
import RecTensor
import Synchronization

/// A BERT encoder read from a Hugging Face model folder (config.json, vocab.txt,
/// model.safetensors), run forward only: embeddings, encoder layers with padding masks, mean
/// pooling over real tokens and L2 normalisation, as sentence-transformers does for
/// all-MiniLM-L6-v2. Every matrix product is one `cblas_sgemm` over the whole batch.
public final class BertModel: @unchecked Sendable {
    public struct Configuration: Codable, Sendable, Equatable {
        public var hiddenSize: Int
        public var layers: Int
        public var heads: Int
        public var intermediateSize: Int
        public var maxPositions: Int
        public var layerNormEps: Float
        public var vocabularySize: Int
        public var hiddenAct: String

        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads"
            case intermediateSize = "intermediate_size", maxPositions = "max_position_embeddings"
            case layerNormEps = "layer_norm_eps", vocabularySize = "vocab_size", hiddenAct = "hidden_act"
        }
    }

    struct Layer {
        var query: (Tensor, Tensor), key: (Tensor, Tensor), value: (Tensor, Tensor)
        var attentionOutput: (Tensor, Tensor), attentionNorm: (Tensor, Tensor)
        var intermediate: (Tensor, Tensor), output: (Tensor, Tensor), outputNorm: (Tensor, Tensor)
    }

    public let configuration: Configuration
    public let tokenizer: WordPieceTokenizer
    public let directory: String
    let wordEmbeddings: Tensor, positionEmbeddings: Tensor, tokenType: Tensor, embeddingNorm: (Tensor, Tensor)
    let layers: [Layer]

    public var dimension: Int { configuration.hiddenSize }

    public static let requiredFiles = ["config.json", "vocab.txt", "model.safetensors"]

    /// Loads the model in `directory`; `maxLength` caps tokens per text (sentence-transformers'
    /// `max_seq_length`, 256 for all-MiniLM-L6-v2). Errors name the file at fault.
    public init(directory: String, maxLength: Int) throws {
        self.directory = directory
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let weightsPath = (directory as NSString).appendingPathComponent("model.safetensors")
        do {
            for file in Self.requiredFiles { try ContentHash.verify((directory as NSString).appendingPathComponent(file)) }
            let data = Data(try InputFile.read(configPath, what: "model configuration", limit: 1 << 20))
            do {
                configuration = try JSONDecoder().decode(Configuration.self, from: data)
            } catch let error as DecodingError {
                throw RecError(.data, "\(configPath): not a BERT configuration (\(Self.describe(error)))")
            } catch {
                throw RecError(.data, "\(configPath): not a BERT configuration (not JSON)")
            }
            try Self.check(configuration, file: configPath)
            guard configuration.hiddenAct == "gelu", configuration.hiddenSize % configuration.heads == 0 else {
                throw RecError(
                    .data,
                    "\(configPath): hidden_act \(configuration.hiddenAct) with \(configuration.heads) heads over \(configuration.hiddenSize) is not supported (gelu, heads dividing the hidden size)")
            }
            tokenizer = try WordPieceTokenizer(
                vocabularyFile: (directory as NSString).appendingPathComponent("vocab.txt"),
                maxLength: min(maxLength, configuration.maxPositions))
            guard tokenizer.vocabulary.count == configuration.vocabularySize else {
                throw RecError(.data, "\(directory)/vocab.txt: \(tokenizer.vocabulary.count) tokens, config.json says \(configuration.vocabularySize)")
            }
            let file = try SafetensorsFile(path: weightsPath)
            let (h, inner) = (configuration.hiddenSize, configuration.intermediateSize)
            func matrix(_ name: String, out: Int, in width: Int) throws -> Tensor {
                // PyTorch stores Linear weights [out, in]; `linear` takes [in, out].
                try file.tensor(name + ".weight", shape: [out, width]).transposed()
            }
            func dense(_ name: String, out: Int, in width: Int) throws -> (Tensor, Tensor) {
                (try matrix(name, out: out, in: width), try file.tensor(name + ".bias", shape: [out]))
            }
            func norm(_ name: String) throws -> (Tensor, Tensor) {
                (try file.tensor(name + ".weight", shape: [h]), try file.tensor(name + ".bias", shape: [h]))
            }
            wordEmbeddings = try file.tensor("embeddings.word_embeddings.weight", shape: [configuration.vocabularySize, h])
            positionEmbeddings = try file.tensor("embeddings.position_embeddings.weight", shape: [configuration.maxPositions, h])
            tokenType = try file.tensor("embeddings.token_type_embeddings.weight").slice(axis: 0, 0..<1)
            embeddingNorm = try norm("embeddings.LayerNorm")
            layers = try (0..<configuration.layers).map { i in
                let p = "encoder.layer.\(i)."
                return Layer(
                    query: try dense(p + "attention.self.query", out: h, in: h), key: try dense(p + "attention.self.key", out: h, in: h),
                    value: try dense(p + "attention.self.value", out: h, in: h),
                    attentionOutput: try dense(p + "attention.output.dense", out: h, in: h), attentionNorm: try norm(p + "attention.output.LayerNorm"),
                    intermediate: try dense(p + "intermediate.dense", out: inner, in: h), output: try dense(p + "output.dense", out: h, in: inner),
                    outputNorm: try norm(p + "output.LayerNorm"))
            }
        } catch {
            throw ModelFiles.corrupt(error)
        }
    }

    /// Every size positive and bounded (they size buffers before any weight is read), the
    /// norm epsilon finite and positive; the error names the key.
    static func check(_ c: Configuration, file: String) throws {
        let sizes: [(String, Int, Int)] = [
            ("hidden_size", c.hiddenSize, 1 << 14), ("num_hidden_layers", c.layers, 256), ("num_attention_heads", c.heads, 256),
            ("intermediate_size", c.intermediateSize, 1 << 16), ("max_position_embeddings", c.maxPositions, 1 << 16),
            ("vocab_size", c.vocabularySize, 1 << 22),
        ]
        for (key, value, limit) in sizes where !(1...limit).contains(value) {
            throw RecError(.data, "\(file): \(key) is \(value); expected an integer from 1 to \(limit)")
        }
        guard c.layerNormEps.isFinite, c.layerNormEps > 0 else {
            throw RecError(.data, "\(file): layer_norm_eps must be a finite positive number")
        }
    }

    /// A decoding error in words: which key was missing or of the wrong type.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "key '\(key.stringValue)' is missing"
        case .dataCorrupted(let context) where context.codingPath.isEmpty: return "not JSON"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not a JSON object" : "key '\(path)' has the wrong type"
        @unknown default: return "unreadable"
        }
    }

    /// Sentence embeddings (unit length) of `texts`, in order. Texts are sorted by token count
    /// and run `batchSize` at a time, so padding stays small.
    public func embed(_ texts: [String], batchSize: Int = 64, progress: (@Sendable (Int) -> Void)? = nil) throws -> [[Float]] {
        try embed(ids: texts.map(tokenizer.encode), batchSize: batchSize, progress: progress)
    }

    /// Embeddings of token-id sequences; every id must be below the vocabulary size.
    public func embed(ids: [[Int32]], batchSize: Int = 64, progress: (@Sendable (Int) -> Void)? = nil) throws -> [[Float]] {
        let v = configuration.vocabularySize
        if let bad = ids.lazy.flatMap({ $0 }).first(where: { $0 < 0 || Int($0) >= v }) {
            throw RecError(.plugin, "token id \(bad) is outside the vocabulary of \(v)")
        }
        let order = ids.indices.sorted { (ids[$0].count, $0) < (ids[$1].count, $1) }
        let batches = stride(from: 0, to: order.count, by: max(1, batchSize)).map { Array(order[$0..<min(order.count, $0 + batchSize)]) }
        let out = UncheckedSendable(UnsafeMutableBufferPointer<[Float]>.allocate(capacity: ids.count))
        out.value.initialize(repeating: [])
        defer { out.value.deinitialize().deallocate() }
        // Batches run one per core with BLAS single-threaded: the element-wise work between the
        // matrix products (softmax, GELU, layer norm) then runs in parallel too.
        let done = Mutex(0)
        BLASThreads.single(when: batches.count > 1) {
            parallelChunks(batches.count) { chunk, chunks in
                for batch in stride(from: chunk, to: batches.count, by: chunks).map({ batches[$0] }) {
                    for (index, vector) in zip(batch, self.forward(batch.map { ids[$0] })) { out.value[index] = vector }
                    let count = done.withLock {
                        $0 += batch.count; return $0
                    }
                    progress?(count)
                }
            }
        }
        // NaN or infinite weights give NaN vectors, which no caller can use.
        guard out.value.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw ModelFiles.corrupt(RecError(.data, "\(directory): the encoder computed non-finite values"))
        }
        return Array(out.value)
    }

    /// One padded batch through the encoder; returns the pooled, normalised vectors.
    func forward(_ batch: [[Int32]]) -> [[Float]] {
        Tensor.noGrad {
            let h = configuration.hiddenSize, b = batch.count, t = batch.map(\.count).max() ?? 0
            guard t > 0 else { return batch.map { _ in [Float](repeating: 0, count: h) } }
            let padding = batch.map { ids in (0..<t).map { $0 >= ids.count } }
            var embedded = [Float](repeating: 0, count: b * t * h)
            wordEmbeddings.data.withUnsafeBufferPointer { words in
                positionEmbeddings.data.withUnsafeBufferPointer { positions in
                    tokenType.data.withUnsafeBufferPointer { type in
                        embedded.withUnsafeMutableBufferPointer { x in
                            for (row, ids) in batch.enumerated() {
                                for position in 0..<t {
                                    let id = position < ids.count ? Int(ids[position]) : Int(tokenizer.padding)
                                    let target = (row * t + position) * h, word = id * h, place = position * h
                                    for j in 0..<h { x[target + j] = words[word + j] + positions[place + j] + type[j] }
                                }
                            }
                        }
                    }
                }
            }
            var rng = SplitMix64(seed: 0)  // attention takes one; dropout is off in inference
            var x = Tensor(shape: [b, t, h], data: embedded).layerNorm(gamma: embeddingNorm.0, beta: embeddingNorm.1, eps: configuration.layerNormEps)
            for layer in layers {
                let q = x.linear(layer.query.0, layer.query.1), k = x.linear(layer.key.0, layer.key.1)
                let v = x.linear(layer.value.0, layer.value.1)
                let attended = Tensor.attention(q: q, k: k, v: v, heads: configuration.heads, causal: false, keyPadding: padding, rng: &rng)
                x = (attended.linear(layer.attentionOutput.0, layer.attentionOutput.1) + x)
                    .layerNorm(gamma: layer.attentionNorm.0, beta: layer.attentionNorm.1, eps: configuration.layerNormEps)
                let inner = x.linear(layer.intermediate.0, layer.intermediate.1).gelu()
                x = (inner.linear(layer.output.0, layer.output.1) + x)
                    .layerNorm(gamma: layer.outputNorm.0, beta: layer.outputNorm.1, eps: configuration.layerNormEps)
            }
            return x.data.withUnsafeBufferPointer { states in
                batch.enumerated().map { row, ids in Self.meanPooledUnit(states.baseAddress! + row * t * h, tokens: ids.count, width: h) }
            }
        }
    }

    /// The mean of the first `tokens` rows of width `width`, scaled to unit length.
    static func meanPooledUnit(_ rows: UnsafePointer<Float>, tokens: Int, width: Int) -> [Float] {
        var mean = [Float](repeating: 0, count: width)
        for token in 0..<tokens {
            for j in 0..<width { mean[j] += rows[token * width + j] }
        }
        var norm: Float = 0
        for j in 0..<width {
            mean[j] /= Float(max(1, tokens))
            norm += mean[j] * mean[j]
        }
        let scale = 1 / max(norm.squareRoot(), 1e-12)
        return mean.map { $0 * scale }
    }
}
