import Foundation
import RecCore
import RecLM
import RecSpec
import RecTensor
import RecTesting
import Testing

@testable import CTR
@testable import KAR

/// Pairs labelled by user group × item genre, which only the knowledge vectors carry: the
/// backbone sees ids alone, and every fifth user (the validation users) is absent from
/// training, so without knowledge the model cannot tell what they like.
func groupedCTR(users: Int = 200, items: Int = 60, perUser: Int = 30, seed: UInt64 = 7) -> TrainingSet {
    var rng = SplitMix64(seed: seed)
    let userGroup = (0..<users).map { _ in Int(rng.next() % 3) }
    let itemGenre = (0..<items).map { _ in Int(rng.next() % 3) }
    var train: [Interaction] = [], validation: [Interaction] = []
    for user in 0..<users {
        for position in 0..<perUser {
            let item = Int(rng.next() % UInt64(items))
            let likes = userGroup[user] == itemGenre[item], noise = rng.next() % 10 == 0
            let event = Interaction(user: Int32(user), item: Int32(item), rating: likes != noise ? 5 : 2, time: Int64(position))
            if user % 5 == 0 { validation.append(event) } else { train.append(event) }
        }
    }
    // An 8-d "text vector": the group's (genre's) direction plus noise.
    func vector(_ cluster: Int) -> [Float] { (0..<8).map { d in (d == cluster ? 1 : 0) + Float(rng.nextGaussian()) * 0.1 } }
    var data = TrainingSet(
        userCount: users, itemCount: items, interactions: train, history: Array(repeating: [], count: users), hasRatings: true,
        validation: validation, labelRule: LabelRule(.greater, 3))
    data.userVectors = userGroup.map(vector)
    data.itemVectors = itemGenre.map(vector)
    return data
}

func karConfiguration(_ yaml: String = "") throws -> KAR.Configuration {
    let text =
        "{ backbone: { type: deepfm, embedding: 8, mlp: [16], epochs: 6, batch_size: 64, learning_rate: 0.01, schedule: constant, fields: [user_id, item_id] }, expert: [16, 8]\(yaml.isEmpty ? "" : ", " + yaml) }"
    return try NodeDecoder().decode(KAR.Configuration.self, from: try YAMLParser.parse(text, file: "kar.yaml"), path: [])
}

func trainedKAR(_ yaml: String = "", data: TrainingSet, seed: UInt64 = 1) throws -> KAR {
    var model = try KAR(configuration: try karConfiguration(yaml), context: ComponentContext(seed: seed))
    try model.fit(data, context: TrainingContext(seed: seed))
    return model
}

func validationAUC(_ model: some Scorer, _ data: TrainingSet) throws -> Double {
    let scores = try model.predict(users: data.validation.map(\.user), items: data.validation.map(\.item), history: data.history)
    return CTRTrainer.auc(scores, labels: data.validation.map { data.label($0) })
}

@Suite struct KARTests {
    static let data = groupedCTR()

    /// The knowledge fields carry what the ids cannot: with them the unseen users' pairs are
    /// ranked well; with the vectors shuffled across users and items (same parameters, no
    /// knowledge) or without them, they are not.
    @Test func knowledgeLiftsAUCAndTheShuffledControlDoesNot() throws {
        let data = Self.data
        var alone = try DeepCTR<DeepFM>(configuration: try karConfiguration().backbone.configuration as! DeepFM.Configuration, context: ComponentContext(seed: 1))
        try alone.fit(data, context: TrainingContext(seed: 1))
        let (base, kar, shuffled) = (try validationAUC(alone, data), try validationAUC(try trainedKAR(data: data), data), try validationAUC(try trainedKAR("shuffle: true", data: data), data))
        #expect(kar > 0.8, "KAR \(kar)")
        #expect(kar > base + 0.1, "KAR \(kar), backbone alone \(base)")
        #expect(shuffled < kar - 0.1, "shuffled \(shuffled), KAR \(kar)")
        // Either side alone carries half the signal: better than nothing, short of both.
        let reasoning = try validationAUC(try trainedKAR("knowledge: reasoning", data: data), data)
        #expect(reasoning > base && reasoning < kar, "reasoning only \(reasoning)")
    }

    /// A restored model scores exactly as the trained one (the frozen knowledge tables are in
    /// the checkpoint), and a damaged checkpoint or another knowledge setting is refused.
    @Test func checkpointRestoresTheSamePredictions() throws {
        let data = Self.data
        let model = try trainedKAR(data: data)
        let bytes = try model.checkpoint()
        var restored = try KAR(configuration: try karConfiguration(), context: ComponentContext(seed: 5))
        try restored.restore(from: bytes)
        let users = data.validation.map(\.user), items = data.validation.map(\.item)
        #expect(try restored.predict(users: users, items: items, history: data.history) == (try model.predict(users: users, items: items, history: data.history)))
        var facts = try KAR(configuration: try karConfiguration("knowledge: facts"), context: ComponentContext(seed: 5))
        #expect(throws: RecError.self) { try facts.restore(from: bytes) }
        for cut in [0, 10, bytes.count / 2, bytes.count - 1] {
            #expect(throws: RecError.self) { try restored.restore(from: Array(bytes.prefix(cut))) }
        }
    }

    @Test func conforms() throws {
        try Conformance.scorer(KAR.self, make: { try KAR(configuration: try karConfiguration(), context: ComponentContext(seed: $0)) }) { data in
            var rng = SplitMix64(seed: 3)
            data.userVectors = (0..<data.userCount).map { _ in (0..<6).map { _ in Float(rng.nextGaussian()) } }
            data.itemVectors = (0..<data.itemCount).map { _ in (0..<6).map { _ in Float(rng.nextGaussian()) } }
        }
        try Conformance.augmenter(KARReasoning.self) { _ in KARReasoning(configuration: try KARReasoning.Configuration(from: EmptyDecoder()), model: ScriptedLanguageModel(answer: "Likes dramas.")) }
        try Conformance.augmenter(KARHistory.self)
        try Conformance.itemAugmenter(KARFacts.self) { _ in KARFacts(configuration: try KARFacts.Configuration(from: EmptyDecoder()), model: ScriptedLanguageModel(answer: "A drama.")) }
    }

    /// Missing vectors, vectors of two encoders, a backbone that is not a deep CTR model and an
    /// expert width other than the backbone's are each refused, saying what to change.
    @Test func badInputIsAClearError() throws {
        var noUsers = Self.data
        noUsers.userVectors = []
        var model = try KAR(configuration: try karConfiguration(), context: ComponentContext(seed: 1))
        #expect(throws: RecError.self) { try model.fit(noUsers, context: TrainingContext(seed: 1)) }
        do { try model.fit(noUsers, context: TrainingContext(seed: 1)) } catch { #expect("\(error)".contains("encode_user_fields"), "\(error)") }
        var twoEncoders = Self.data
        twoEncoders.itemVectors = twoEncoders.itemVectors.map { $0 + [0] }
        do {
            try model.fit(twoEncoders, context: TrainingContext(seed: 1))
            Issue.record("vectors of 8 and 9 dimensions were accepted")
        } catch { #expect("\(error)".contains("8 dimensions") && "\(error)".contains("9"), "\(error)") }
        for (yaml, words) in [
            ("{ backbone: { type: ease } }", ["'ease' is not a deep CTR model", "backbone.type"]),
            ("{ backbone: { fields: [user_id] } }", ["needs a type"]),
            ("{ backbone: { type: dcnv2, embedding: 16 }, expert: [128, 32] }", ["expert", "embedding width (16)"]),
            ("{ backbone: { type: dcnv2, cross_layer: 2 } }", ["backbone.cross_layer", "cross_layers"]),
            ("{ knowledge: everything }", ["knowledge"]),
        ] {
            do {
                _ = try NodeDecoder().decode(KAR.Configuration.self, from: try YAMLParser.parse(yaml, file: "kar.yaml"), path: [])
                Issue.record("\(yaml) was accepted")
            } catch {
                for word in words { #expect("\(error)".contains(word), "\(yaml): \(error)") }
                #expect("\(error)".contains("kar.yaml:1:"), "\(yaml): \(error) names no location")
            }
        }
    }
}

@Suite struct KARPromptTests {
    let items = (0..<40).map { ItemText(title: "Movie \($0)", genres: ["Drama"]) }

    /// The profile in words, the history in time order with stars, the latest `history_limit`
    /// only, then the question on every factor.
    @Test func userPromptFollowsKAR() throws {
        let user = UserHistory(user: 3, history: Array(0..<35), ratings: (0..<35).map { Float($0 % 5 + 1) }, features: ["gender": "F", "age": "25", "occupation": "12"])
        let prompt = KARPrompts().userPrompt(user, items: items)
        #expect(prompt.hasPrefix("Given a female user who is aged 25-34 and a programmer, this user's movie viewing history over time is listed below. \"Movie 5\", 1 stars; \"Movie 6\", 2 stars; "))
        #expect(!prompt.contains("\"Movie 4\""))
        #expect(prompt.contains("\"Movie 34\", 5 stars; Analyze user's preferences on movies (consider factors like genre, director/actors,"))
        #expect(prompt.hasSuffix("production quality, and soundtrack). Provide clear explanations based on relevant details from the user's movie viewing history and other pertinent factors."))
        let unknown = KARPrompts().history(UserHistory(user: 1, history: [], features: ["gender": "X"]), items: items)
        #expect(unknown == "Given a X user who is aged unknown and unknown, this user's movie viewing history over time is listed below. ")
        #expect(KARPrompts().itemPrompt(items[2]).hasPrefix("Introduce movie Movie 2 and describe its attributes (including but not limited to genre,"))
        // A profile with an unclosed placeholder is refused where it is written.
        do {
            _ = try NodeDecoder().decode(KARPrompts.self, from: try YAMLParser.parse("{ profile: \"Given a {gender user\" }", file: "kar.yaml"), path: [])
            Issue.record("an unclosed placeholder was accepted")
        } catch {
            #expect("\(error)".contains("'{' that no '}' closes") && "\(error)".contains("kar.yaml:1:") && "\(error)".contains("profile"), "\(error)")
        }
    }

    /// The augmenters send those prompts, one per user or item, and keep the answers.
    @Test func augmentersAskTheModel() throws {
        let model = ScriptedLanguageModel(answer: "This user likes dramas.")
        let reasoning = KARReasoning(configuration: try KARReasoning.Configuration(from: EmptyDecoder()), model: model)
        let users = [UserHistory(user: 0, history: [1, 2], ratings: [5, 3]), UserHistory(user: 1, history: [3], ratings: [4])]
        #expect(try reasoning.augment(users: users, items: items) == ["This user likes dramas.", "This user likes dramas."])
        #expect(model.prompts.count == 2)
        func text(_ prompt: Prompt) -> String { if case .chat(let messages) = prompt { messages.map(\.content).joined() } else { "" } }
        #expect(text(model.prompts[0]).contains("\"Movie 1\", 5 stars; \"Movie 2\", 3 stars;"))
        let facts = KARFacts(configuration: try KARFacts.Configuration(from: EmptyDecoder()), model: model)
        #expect(try facts.augment(items: [items[7]]) == ["This user likes dramas."])
        #expect(text(model.prompts[2]).contains("Introduce movie Movie 7"))
    }
}
