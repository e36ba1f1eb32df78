import AllPlugins
import Baselines
import Testing

@testable import RecCore

struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func fipsVectors(_ input: String, _ digest: String) {
        #expect(SHA256.hex(input) == digest)
    }

    @Test func rawBufferPathMatchesBytePath() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var a = SHA256(), b = SHA256()
        a.update(bytes)
        b.update([bytes[0], bytes[1], bytes[2]])
        bytes[3...].withUnsafeBytes { b.update($0) }
        #expect(a.finalize() == b.finalize())
    }
}

struct RandomTests {
    @Test func seededStreamsRepeat() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42), c = SplitMix64(seed: 43)
        let x = (0..<5).map { _ in a.next() }
        #expect(x == (0..<5).map { _ in b.next() })
        #expect(x != (0..<5).map { _ in c.next() })
    }

    @Test func boundedIntegersCoverTheRangeEvenly() {
        var rng = SplitMix64(seed: 1)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[rng.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
    }
}

struct NearestTests {
    @Test func editDistanceAndSuggestions() {
        #expect(editDistance("kitten", "sitting") == 3)
        #expect(editDistance("", "abc") == 3)
        #expect(nearest("neighbours", in: ["neighbors", "shrink"]) == "neighbors")
        #expect(nearest("zzzzzz", in: ["neighbors", "shrink"]) == nil)
    }
}

struct TopKTests {
    @Test func tiesGoToTheSmallerItemAndExclusionsAreSkipped() {
        let scores: [Float] = [0.5, 0.9, 0.5, 0.1, 0.9, .nan]
        let top = scores.withUnsafeBufferPointer { TopK.select($0, k: 4) { $0 == 1 } }
        #expect(top == [4, 0, 2, 3])
        let all = scores.withUnsafeBufferPointer { TopK.select($0, k: 10) { _ in false } }
        #expect(all == [1, 4, 0, 2, 3, 5], "NaN ranks last")
    }

    @Test func matchesAFullSort() {
        var rng = SplitMix64(seed: 3)
        let scores = (0..<500).map { _ in Float(rng.nextInt(below: 50)) }
        let expected = scores.indices.sorted { (scores[$0], -$0) > (scores[$1], -$1) }.prefix(37).map { Int32($0) }
        #expect(scores.withUnsafeBufferPointer { TopK.select($0, k: 37) { _ in false } } == expected)
    }
}

struct RegistryTests {
    @Test func duplicateRegistrationIsAnError() throws {
        var registry = try makeRegistry()
        let before = registry.entries.map(\.kind)
        #expect(registry.retrieverKinds.contains("ease"))
        let error = #expect(throws: RecError.self) { try registry.register(EASE.self) }
        #expect(error?.message == "plugin kind 'ease' is registered twice")
        #expect(registry.entries.map(\.kind) == before)
    }

    @Test func unknownKindListsValidKindsAndSuggests() throws {
        let registry = try makeRegistry()
        let error = #expect(throws: RecError.self) {
            _ = try registry.makeRetriever(kind: "eas", configuration: DefaultConfiguration(), context: ComponentContext(seed: 0))
        }
        #expect(error?.message == "unknown retriever type 'eas'; valid kinds: \(registry.retrieverKinds.joined(separator: ", ")) (did you mean 'ease'?)")
        let wrongRole = #expect(throws: RecError.self) {
            _ = try registry.makeRetriever(kind: "lr", configuration: DefaultConfiguration(), context: ComponentContext(seed: 0))
        }
        #expect(wrongRole?.message.hasPrefix("'lr' is a scorer, not a retriever") == true)
    }

    @Test func everyPluginHasDefaultsForEveryKey() throws {
        let registry = try makeRegistry()
        #expect(Set(registry.entries.map(\.kind)).count == registry.entries.count)
        for entry in registry.entries { #expect(entry.defaults.hasPrefix("{"), "\(entry.kind)") }
        #expect(registry.encoderKinds.contains("minilm") && registry.augmenterKinds.contains("palr.profile") && registry.rankerKinds.contains("palr.rank"))
        #expect(registry.roles(of: "biased_mf") == ["retriever", "scorer"])
        let palr = try #require(registry.entries.first { $0.kind == "palr.rank" })
        #expect(palr.role == "ranker" && palr.defaults.contains("\"mode\":\"generate\"") && palr.defaults.contains("\"lm\":{\"backend\":\"local\""))
        let minilm = try #require(registry.entries.first { $0.kind == "minilm" })
        #expect(minilm.role == "encoder" && minilm.defaults == "{\"batch_size\":64,\"max_length\":256,\"model\":\"all-MiniLM-L6-v2\"}")
        let ease = try #require(registry.entries.first { $0.kind == "ease" })
        #expect(ease.defaults == "{\"l2\":250}")
        let bpr = try #require(registry.entries.first { $0.kind == "bprmf" })
        #expect(bpr.defaults.contains("\"learning_rate\":0.05"))
    }
}

struct CheckpointTests {
    /// Round trip of every kind, and a length that claims more than the bytes left after it
    /// (but fewer than the whole checkpoint) is refused instead of read past the end.
    @Test func lengthsAreCheckedAgainstWhatFollows() throws {
        var writer = CheckpointWriter()
        writer.int(7)
        writer.floats([1.5, -2])
        writer.int32s([3])
        writer.string("abc")
        writer.blob([9, 8])
        var reader = CheckpointReader(writer.bytes, model: "test")
        #expect(try reader.int() == 7 && reader.floats() == [1.5, -2] && reader.int32s() == [3] && reader.string() == "abc" && reader.blob() == [9, 8])
        try reader.finish()
        for write in [{ (w: inout CheckpointWriter) in w.string("abc") }, { $0.blob([1, 2, 3]) }, { $0.floats([1, 2, 3]) }] {
            var one = CheckpointWriter()
            write(&one)
            var bytes = one.bytes
            bytes[0] = UInt8(bytes.count - 2)  // more than follows, fewer than the total
            var damaged = CheckpointReader(bytes, model: "test")
            #expect(throws: RecError.self) { _ = try damaged.string() }
            var asFloats = CheckpointReader(bytes, model: "test")
            #expect(throws: RecError.self) { _ = try asFloats.floats() }
        }
    }
}

struct EarlyStoppingTests {
    /// The best snapshot is kept (ties do not replace it), and training stops `patience`
    /// epochs after it; patience 0 never stops.
    @Test func keepsTheBestAndStopsAfterPatience() {
        var stopping = EarlyStopping<String>(patience: 2, metric: "auc")
        var taken: [Int] = []
        let values = [0.5, 0.7, 0.7, 0.6, 0.9]
        var stoppedAt: Int?
        for (index, value) in values.enumerated() {
            let epoch = index + 1
            if stopping.record(
                value, epoch: epoch,
                snapshot: {
                    taken.append(epoch); return "epoch \(epoch)"
                })
            {
                stoppedAt = epoch
                break
            }
        }
        #expect(stoppedAt == 4 && taken == [1, 2])
        #expect(stopping.best?.snapshot == "epoch 2" && stopping.best?.value == 0.7)
        #expect(stopping.stopMessage == "early stop: best validation auc 0.7000 at epoch 2")
        var never = EarlyStopping<Int>(patience: 0, metric: "ndcg@10")
        #expect(!(1...20).contains { epoch in never.record(0.1, epoch: epoch, snapshot: { epoch }) })
        #expect(never.best?.epoch == 1)
        // An error metric: lower is better.
        var error = EarlyStopping<Int>(patience: 1, metric: "rmse", higherIsBetter: false)
        let stops = [(1.0, 1), (0.9, 2), (0.95, 3)].map { value, epoch in error.record(value, epoch: epoch, snapshot: { epoch }) }
        #expect(stops == [false, false, true])
        #expect(error.best?.snapshot == 2 && error.stopMessage == "early stop: best validation rmse 0.9000 at epoch 2")
    }
}
