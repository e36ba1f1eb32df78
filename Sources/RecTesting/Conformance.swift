import Foundation
import RecCore
import RecData
import RecSpec
import RecTensor

/// What a role's conformance suite found wrong, one line per broken promise.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public var plugin: String
    public var problems: [String]
    public var description: String { "\(plugin) fails its role's conformance suite:\n- " + problems.joined(separator: "\n- ") }
}

/// The promises every plugin of a role keeps, checked in one call from the plugin's tests:
///
///     @Test func conforms() throws { try Conformance.retriever(EASE.self) }
///
/// Each suite checks that the configuration's defaults survive a round trip through canonical
/// JSON and that an unknown YAML key is refused; that two instances built and trained with the
/// same seed give identical output; that an empty history, a user or item never seen in
/// training, and (for rankers) an empty candidate list are handled; and that the plugin beats a
/// random model on a fixture where any learning model does. `make` builds the plugin for a
/// seed (by default from its default configuration with `epochs: 1` where it has epochs); pass
/// one to inject a test language model or a smaller configuration.
public enum Conformance {
    /// Retrievers: scores finite for every user and item; HR@10 on the clustered fixture (80
    /// users, four clusters of ten consecutive items) above what random scores give.
    /// `upstream` adds what a pipeline's stages would (item vectors, derived artifacts) to the
    /// training set, for retrievers that read them.
    public static func retriever<R: Retriever>(_ type: R.Type, make: ((UInt64) throws -> R)? = nil, upstream: ((inout TrainingSet) -> Void)? = nil) throws {
        var problems = configurationProblems(type)
        let build = make ?? { try R(configuration: try defaults(R.self), context: ComponentContext(seed: $0)) }
        let dataset = Fixtures.clusteredDataset(users: 80, items: 40)
        let split = try dataset.split(.leaveOneOut)
        var training = split.trainingSet
        upstream?(&training)
        func trained(_ seed: UInt64) throws -> R { try fitted(try build(seed), on: training, seed: seed) }
        // One BLAS thread, as in `fitted`, so that two models' scores compare bit for bit.
        func scores(_ model: R, users: [Int32], history: [[Int32]]) throws -> [Float] {
            var buffer = [Float](repeating: .nan, count: users.count * dataset.itemCount)
            try BLASThreads.single { try buffer.withUnsafeMutableBufferPointer { try model.score(users: users[...], history: history, into: $0) } }
            return buffer
        }
        let users = (0..<Int32(dataset.userCount)).map { $0 }
        let first = try scores(try trained(7), users: users, history: split.trainHistory)
        if try scores(try trained(7), users: users, history: split.trainHistory) != first {
            problems.append("two instances built and trained with seed 7 score differently (does it ignore its seed?)")
        }
        if !first.allSatisfy(\.isFinite) { problems.append("some scores are not finite") }
        var empty = split.trainHistory
        empty[0] = []
        if try !scores(try trained(7), users: [0], history: empty).allSatisfy(\.isFinite) {
            problems.append("a user with an empty history gets non-finite scores")
        }
        // Hit rate at 10 over the test items against random scores' expectation (10 / items).
        var hits = 0
        for (index, event) in split.test.enumerated() where index < users.count {
            let row = Array(first[Int(event.user) * dataset.itemCount..<(Int(event.user) + 1) * dataset.itemCount])
            let known = Set(split.historyBeforeTest[Int(event.user)]).subtracting([event.item])
            let top = row.indices.filter { !known.contains(Int32($0)) }.sorted { (row[$0], -$0) > (row[$1], -$1) }.prefix(10)
            if top.contains(Int(event.item)) { hits += 1 }
        }
        let hitRate = Double(hits) / Double(split.test.count), random = 10 / Double(dataset.itemCount)
        if hitRate <= random { problems.append(String(format: "HR@10 %.3f on the clustered fixture is no better than random (%.3f)", hitRate, random)) }
        if !problems.isEmpty { throw ConformanceFailure(plugin: R.kind, problems: problems) }
    }

    /// Scorers: one finite prediction per pair, probabilities within [0, 1], cold users and
    /// items handled; AUC on `rating > 3` above 0.55 (probabilities) or RMSE below a random
    /// uniform 1-5 guess (ratings) on the labelled fixture.
    /// `upstream` adds what earlier stages would (vectors, text) to the training set.
    public static func scorer<S: Scorer>(_ type: S.Type, make: ((UInt64) throws -> S)? = nil, upstream: ((inout TrainingSet) -> Void)? = nil) throws {
        var problems = configurationProblems(type)
        let build = make ?? { try S(configuration: try defaults(S.self), context: ComponentContext(seed: $0)) }
        let dataset = Fixtures.labelledDataset(users: 300)
        var split = try dataset.split(.user, ratios: [0.7, 0.1, 0.2], seed: 3)
        split.labelRule = LabelRule(.greater, 3)
        var training = split.trainingSet
        upstream?(&training)
        func trained(_ seed: UInt64) throws -> S { try fitted(try build(seed), on: training, seed: seed) }
        let users = split.test.map(\.user), items = split.test.map(\.item)
        // One BLAS thread, as in `fitted`, so that two models' predictions compare bit for bit.
        func predictions(_ model: S) throws -> [Float] { try BLASThreads.single { try model.predict(users: users, items: items, history: split.trainHistory) } }
        let model = try trained(7)
        let first = try predictions(model)
        if first.count != users.count { problems.append("\(first.count) predictions for \(users.count) pairs") }
        if try predictions(try trained(7)) != first {
            problems.append("two instances built and trained with seed 7 predict differently (does it ignore its seed?)")
        }
        if !first.allSatisfy(\.isFinite) { problems.append("some predictions are not finite") }
        if model.predicts == .probability && !first.allSatisfy({ (0...1).contains($0) }) { problems.append("a probability outside [0, 1]") }
        // Test users are absent from training (a user split), so `first` covers cold users; a
        // user with an empty history and an item without training interactions (where the
        // fixture has one) are scored as well.
        let trainedItems = Set(split.train.map(\.item))
        let coldItem = (0..<Int32(dataset.itemCount)).first { !trainedItems.contains($0) } ?? 0
        let cold = try model.predict(users: [Int32(dataset.userCount - 1)], items: [coldItem], history: Array(repeating: [], count: dataset.userCount))
        if cold.count != 1 || !cold[0].isFinite { problems.append("a user with no history and a cold item get no finite prediction") }
        if try model.predict(users: [], items: [], history: split.trainHistory).count != 0 { problems.append("no pairs should give no predictions") }
        if first.count == users.count {
            switch model.predicts {
            case .probability:
                let positives = zip(first, split.test).filter { $0.1.rating > 3 }.map(\.0)
                let negatives = zip(first, split.test).filter { $0.1.rating <= 3 }.map(\.0)
                var correct = 0.0
                for p in positives { for n in negatives { correct += p > n ? 1 : p == n ? 0.5 : 0 } }
                let auc = correct / Double(max(1, positives.count * negatives.count))
                if auc <= 0.55 { problems.append(String(format: "AUC %.3f on the labelled fixture is not above 0.55", auc)) }
            case .rating:
                let rmse = (zip(first, split.test).reduce(0.0) { $0 + pow(Double($1.0 - $1.1.rating), 2) } / Double(first.count)).squareRoot()
                // A uniform guess in 1...5 has RMSE sqrt(E[(X - r)^2]) >= sqrt(2) for any r in 1...5.
                if rmse >= 2.0.squareRoot() { problems.append(String(format: "RMSE %.3f is no better than a uniform random guess", rmse)) }
            }
        }
        if !problems.isEmpty { throw ConformanceFailure(plugin: S.kind, problems: problems) }
    }

    /// Rankers: a permutation of (or a prefix from) the candidates, an empty list for none,
    /// the same order from two instances with the same seed.
    public static func ranker<R: Ranker>(_ type: R.Type, make: ((UInt64) throws -> R)? = nil) throws {
        var problems = configurationProblems(type)
        let build = make ?? { try R(configuration: try defaults(R.self), context: ComponentContext(seed: $0)) }
        let candidates: [Int32] = [5, 3, 9, 1]
        let request = RankRequest(user: 0, history: [2, 4], candidates: candidates)
        let first = try build(7).rank(request).map(\.item)
        if try build(7).rank(request).map(\.item) != first { problems.append("two instances with seed 7 rank differently") }
        if Set(first).count != first.count || !Set(first).isSubset(of: candidates) { problems.append("the ranking \(first) is not drawn from the candidates \(candidates) without repeats") }
        if try !build(7).rank(RankRequest(user: 0, history: [2], candidates: [])).isEmpty { problems.append("an empty candidate list gives a non-empty ranking") }
        _ = try build(7).rank(RankRequest(user: 1, history: [], candidates: candidates))
        if !problems.isEmpty { throw ConformanceFailure(plugin: R.kind, problems: problems) }
    }

    /// Knowledge augmenters: the same text from two instances with the same seed; an empty
    /// history is handled.
    public static func augmenter<A: KnowledgeAugmenter>(_ type: A.Type, make: ((UInt64) throws -> A)? = nil) throws {
        var problems = configurationProblems(type)
        let build = make ?? { try A(configuration: try defaults(A.self), context: ComponentContext(seed: $0)) }
        let items = (0..<6).map { ItemText(title: "Movie \($0)", genres: ["Drama"]) }
        let first = try build(7).augment(user: 0, history: [1, 2, 3], items: items)
        if try build(7).augment(user: 0, history: [1, 2, 3], items: items) != first { problems.append("two instances with seed 7 write different text") }
        _ = try build(7).augment(user: 1, history: [], items: items)
        if !problems.isEmpty { throw ConformanceFailure(plugin: A.kind, problems: problems) }
    }

    /// Item augmenters: one text per item, the same texts from two instances with the same
    /// seed, an item's text independent of its batch, an item with no fields and an empty
    /// batch handled.
    public static func itemAugmenter<A: ItemAugmenter>(_ type: A.Type, make: ((UInt64) throws -> A)? = nil) throws {
        var problems = configurationProblems(type)
        let build = make ?? { try A(configuration: try defaults(A.self), context: ComponentContext(seed: $0)) }
        let items = [ItemText(title: "Toy Story", genres: ["Animation", "Comedy"]), ItemText(), ItemText(title: "Heat", genres: ["Action"])]
        let first = try build(7).augment(items: items)
        if first.count != items.count { problems.append("\(items.count) items gave \(first.count) texts") }
        if try build(7).augment(items: items) != first { problems.append("two instances with seed 7 write different texts") }
        if let alone = try build(7).augment(items: [items[2]]).first, first.count == items.count, alone != first[2] {
            problems.append("an item's text changes with the batch it is written in")
        }
        if try !build(7).augment(items: []).isEmpty { problems.append("no items should give no texts") }
        if !problems.isEmpty { throw ConformanceFailure(plugin: A.kind, problems: problems) }
    }

    /// Derivers: the same artifact (as stored) from two instances with the same seed, on the
    /// clustered fixture with a vector per item; items without interactions handled.
    public static func deriver<D: Deriver>(_ type: D.Type, make: ((UInt64) throws -> D)? = nil) throws {
        var problems = configurationProblems(type)
        let build = make ?? { try D(configuration: try defaults(D.self), context: ComponentContext(seed: $0)) }
        let dataset = Fixtures.clusteredDataset(users: 40, items: 30)
        var training = try dataset.split(.leaveOneOut).trainingSet
        // Vectors that carry each item's cluster of the fixture (four blocks of consecutive
        // items), so a deriver over vectors has structure to find; the last item gets no
        // interactions.
        let block = training.itemCount / 4
        training.itemVectors = (0..<training.itemCount).map { item -> [Float] in
            var vector = [Float](repeating: 0.01, count: 8)
            vector[min(item / block, 3)] = 1
            vector[4 + item % 4] += 0.1
            return vector
        }
        training.interactions.removeAll { $0.item == Int32(training.itemCount - 1) }
        training.history = training.history.map { $0.filter { $0 != Int32(training.itemCount - 1) } }
        func derived(_ seed: UInt64) throws -> String {
            try canonicalJSON(try build(seed).derive(from: training, context: TrainingContext(seed: seed)), keys: .asDeclared)
        }
        if try derived(7) != derived(7) { problems.append("two instances with seed 7 derive different artifacts") }
        if !problems.isEmpty { throw ConformanceFailure(plugin: D.kind, problems: problems) }
    }

    /// Text encoders: `dimension` finite floats per text, the same vectors twice, empty text
    /// handled, and (unless corpus-dependent) a text's vector independent of its batch.
    public static func encoder<E: TextEncoder>(_ type: E.Type, make: ((UInt64) throws -> E)? = nil) throws {
        var problems = configurationProblems(type)
        let build = make ?? { try E(configuration: try defaults(E.self), context: ComponentContext(seed: $0)) }
        let encoder = try build(7)
        let texts = ["Toy Story (1995). Animation, Comedy", "", "Heat (1995). Action, Crime, Thriller"]
        let vectors = try encoder.encode(texts)
        if vectors.count != texts.count || vectors.contains(where: { $0.count != encoder.dimension || !$0.allSatisfy(\.isFinite) }) {
            problems.append("expected \(texts.count) finite vectors of \(encoder.dimension) floats")
        }
        // Within 1e-5, not bit for bit: OpenBLAS runs a product on one thread when its pool is
        // busy with another caller's (tests run in parallel), which changes summation order.
        let again = try build(7).encode(texts)
        let drift = zip(again, vectors).flatMap { zip($0, $1).map { abs($0 - $1) } }.max() ?? 0
        if again.count != vectors.count || drift > 1e-5 { problems.append("two instances with seed 7 encode differently (by up to \(drift))") }
        if !encoder.corpusDependent, let alone = try encoder.encode([texts[2]]).first, let batched = vectors.last,
            zip(alone, batched).contains(where: { abs($0 - $1) > 1e-4 })
        {
            problems.append("a text's vector changes with the batch it is encoded in")
        }
        if try !encoder.encode([]).isEmpty { problems.append("no texts should give no vectors") }
        if !problems.isEmpty { throw ConformanceFailure(plugin: E.kind, problems: problems) }
    }

    /// `model` trained on `data` with `seed` when it learns, as it is otherwise.
    ///
    /// OpenBLAS's summation order follows its thread count, which is one setting for the process
    /// and which concurrently running tests change; training holds it at one so that two
    /// trainings with the same seed can be compared bit for bit.
    static func fitted<C>(_ model: C, on data: TrainingSet, seed: UInt64) throws -> C {
        guard var trainable = model as? any Trainable else { return model }
        try BLASThreads.single { try trainable.fit(data, context: TrainingContext(seed: seed)) }
        return trainable as! C
    }

    /// The configuration with every default, and `epochs: 1` where it has epochs.
    static func defaults<C: Component>(_: C.Type) throws -> C.Configuration {
        let node = try YAMLParser.parse("{ epochs: 1 }", file: "conformance")
        if let withOneEpoch = try? NodeDecoder().decode(C.Configuration.self, from: node, path: []) { return withOneEpoch }
        return try C.Configuration(from: EmptyDecoder())
    }

    /// Defaults survive canonical JSON and back; an unknown key in YAML is refused with its name.
    static func configurationProblems<C: Component>(_: C.Type) -> [String] {
        var problems: [String] = []
        do {
            let defaults = try C.Configuration(from: EmptyDecoder())
            let json = try canonicalJSON(defaults)
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let back = try decoder.decode(C.Configuration.self, from: Data(json.utf8))
            if back != defaults { problems.append("the default configuration does not survive canonical JSON: \(json)") }
            let node = try YAMLParser.parse("{ surely_not_a_key: 1 }", file: "conformance")
            do {
                _ = try NodeDecoder().decode(C.Configuration.self, from: node, path: ["slot"])
                problems.append("an unknown configuration key was accepted")
            } catch let error as RecError where error.message.contains("surely_not_a_key") {
            } catch {
                problems.append("an unknown configuration key gave an error that does not name it: \(error)")
            }
        } catch {
            problems.append("the default configuration cannot be built or encoded: \(error)")
        }
        return problems
    }
}
