import Foundation
import RecCore
import RecTesting
import Testing
@testable import RecData

struct FeatureAndSplitTests {
    /// ML-100K's u.user and u.item and ML-1M's users.dat and movies.dat become typed fields.
    @Test func movieLensLoadersReadUserAndItemFields() throws {
        let root = Fixtures.packageRoot + "/../shared/data"
        guard FileManager.default.fileExists(atPath: root + "/ml-100k/u.user") else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "ml-100k is missing under CI")
            return
        }
        let ml100k = try Loaders.movieLens100K(directory: root + "/ml-100k")
        #expect(ml100k.userFeatures.names == ["age", "gender", "occupation", "zip_code"])
        #expect(ml100k.userFeatures["age"]?.kind == .numeric)
        let user1 = try #require(ml100k.userIDs.firstIndex(of: "1"))
        #expect(ml100k.userFeatures["age"]?.numbers[user1] == 24)
        let gender = try #require(ml100k.userFeatures["gender"])
        #expect(gender.vocabulary[Int(gender.codes[user1][0])] == "M")
        let toyStory = try #require(ml100k.itemIDs.firstIndex(of: "1"))
        let genres = try #require(ml100k.itemFeatures["genres"])
        #expect(genres.kind == .multiCategorical && genres.codes[toyStory].map { genres.vocabulary[Int($0)] } == ["Animation", "Children's", "Comedy"])
        #expect(ml100k.itemFeatures["genre"]?.kind == .categorical && ml100k.itemFeatures["year"]?.numbers[toyStory] == 1995)
        #expect(ml100k.itemFeatures["title"]?.texts[toyStory] == "Toy Story")

        let ml1m = try Loaders.movieLens1M(ratings: root + "/ml-1m-ratings/ratings_ordered.tsv.xz", movies: root + "/ml-1m/movies.dat", users: root + "/ml-1m/users.dat")
        #expect(ml1m.userFeatures.names == ["gender", "age", "occupation", "zip_code"])
        #expect(ml1m.userFeatures.fields.allSatisfy { $0.kind == .categorical })
        let first = try #require(ml1m.userIDs.firstIndex(of: "1"))
        let age = try #require(ml1m.userFeatures["age"])
        #expect(age.vocabulary[Int(age.codes[first][0])] == "1" && age.vocabulary.count == 8, "7 age brackets and missing")
    }

    @Test func recBoleUserAndItemFilesKeepTheirDeclaredTypes() throws {
        let dataset = try Loaders.recBole(directory: Fixtures.directory + "/tiny", name: "tiny")
        #expect(dataset.userFeatures.fields.map { "\($0.name):\($0.kind.rawValue)" } == ["age:numeric", "gender:categorical", "occupation:categorical"])
        #expect(dataset.itemFeatures.fields.map { "\($0.name):\($0.kind.rawValue)" } == ["movie_title:text", "release_year:categorical", "class:multi_categorical"])
    }

    @Test func theEmbeddedDatasetHasTagsPerItemAndPerUser() throws {
        let dataset = try Loaders.movieLensLatest(directory: DataCatalog.embeddedLatestSmall)
        let itemTags = try #require(dataset.itemFeatures["tags"]), userTags = try #require(dataset.userFeatures["tags"])
        #expect(itemTags.kind == .multiCategorical && itemTags.codes.contains { !$0.isEmpty })
        #expect(userTags.codes.filter { !$0.isEmpty }.count > 10)
    }

    /// Filtering renumbers users and items; their features follow them.
    @Test func featuresFollowTheirEntitiesThroughKCore() throws {
        var dataset = Fixtures.labelledDataset(users: 40, items: 20)
        dataset.itemFeatures.set(.numeric("index", values: (0..<20).map(Float.init)))
        dataset.interactions.removeAll { $0.item == 0 }
        let compacted = dataset.compacted()
        #expect(compacted.itemCount == 19)
        for (dense, id) in compacted.itemIDs.enumerated() {
            #expect(compacted.itemFeatures["index"]?.numbers[dense] == Float(id.dropFirst())!)
        }
    }

    /// KAR's protocol: each user's first min((n + 1) / 2, 30) interactions are history only;
    /// test users of a user split still show them to models.
    @Test func aHistoryPrefixIsReadableButNeverHeldOut() throws {
        let dataset = Fixtures.labelledDataset(users: 30, items: 20)
        let split = try dataset.split(.user, ratios: [0.6, 0.2, 0.2], seed: 5, historyPrefix: HistoryPrefix(fraction: 0.5, max: 4))
        var perUser = [Int](repeating: 0, count: dataset.userCount)
        for event in dataset.interactions { perUser[Int(event.user)] += 1 }
        let expected = perUser.reduce(0) { $0 + min(($1 + 1) / 2, 4) }
        #expect(split.historyOnly.count == expected)
        #expect(split.train.count + split.validation.count + split.test.count + split.historyOnly.count == dataset.interactions.count)
        let prefix = Set(split.historyOnly)
        #expect(split.test.allSatisfy { !prefix.contains($0) })
        let testUser = try #require(split.test.first?.user)
        #expect(split.trainHistory[Int(testUser)].count == min((perUser[Int(testUser)] + 1) / 2, 4))
        // The prefix is the start of each user's time order.
        for user in 0..<dataset.userCount {
            let ordered = dataset.interactions.filter { $0.user == user }.sorted { $0.time < $1.time }
            #expect(Set(ordered.prefix(min((ordered.count + 1) / 2, 4))) == Set(split.historyOnly.filter { $0.user == user }))
        }
    }

    @Test func labelRulesParseAndLabel() throws {
        let rule = try LabelRule(parsing: "rating > 3")
        #expect(rule.label(Interaction(user: 0, item: 0, rating: 4)) == 1 && rule.label(Interaction(user: 0, item: 0, rating: 3)) == 0)
        #expect(try LabelRule(parsing: "rating>=4").description == "rating >= 4")
        #expect(try LabelRule(parsing: "rating == 5").label(Interaction(user: 0, item: 0, rating: 5)) == 1)
        for bad in ["rating >> 3", "score > 3", "rating > x", "rating > nan", ""] {
            #expect(throws: RecError.self) { _ = try LabelRule(parsing: bad) }
        }
    }

    /// Item text is named fields: the loaders' own and any a plugin writes.
    @Test func itemTextIsNamedFields() throws {
        var text = ItemText(title: "Heat", genres: ["Action", "Crime"], year: 1995)
        #expect(text.fields == ["title": ["Heat"], "genres": ["Action", "Crime"], "year": ["1995"]])
        text["llm.summary"] = ["A cop hunts a thief in Los Angeles."]
        #expect(text.text("llm.summary") == "A cop hunts a thief in Los Angeles.")
        #expect(text.text("genres") == "Action, Crime" && text.year == 1995)
        text.genres = []
        #expect(text.fields["genres"] == nil && text.text("genres") == nil)
        #expect(ItemText().isEmpty && !text.isEmpty)
        let movies = try Loaders.movieLensLatest(directory: DataCatalog.embeddedLatestSmall)
        #expect(movies.itemText.contains { !$0.tags.isEmpty && $0.title != nil })
    }
}
