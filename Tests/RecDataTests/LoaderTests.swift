import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecData

/// Whether ../shared/data is present; under CI=true its absence fails the tests that need it.
let sharedData = DataCatalog().root
let sharedDataRequired =
    FileManager.default.fileExists(atPath: sharedData + "/ml-100k/u.data")
    || ProcessInfo.processInfo.environment["CI"] == "true"

func write(_ files: [String: [UInt8]]) throws -> String {
    let folder = Fixtures.temporaryDirectory("reclab-data")
    for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + name)) }
    return folder
}

struct LoaderTests {
    @Test func embeddedLatestSmallMatchesItsREADME() throws {
        let dataset = try DataCatalog().load(dataset: "ml-latest-small")
        #expect(dataset.interactions.count == 100_836)
        #expect(dataset.userCount == 610)
        #expect(dataset.itemCount == 9_724)
        let toyStory = try #require(dataset.itemIDs.firstIndex(of: "1"))
        #expect(dataset.itemText[toyStory].title == "Toy Story")
        #expect(dataset.itemText[toyStory].year == 1995)
        #expect(dataset.itemText[toyStory].genres == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"])
        #expect(!dataset.itemText[toyStory].tags.isEmpty)
        // A quoted title with a comma: "American President, The (1995)".
        let president = try #require(dataset.itemIDs.firstIndex(of: "11"))
        #expect(dataset.itemText[president].title == "American President, The")
        #expect(FileManager.default.fileExists(atPath: DataCatalog.embeddedLatestSmall + "/README.txt"))
    }

    @Test func movieLens100KWithLatin1Titles() throws {
        var item = Array("1|Caf".utf8) + [0xE9] + Array(" Society (1995)|01-Jan-1995||url|".utf8)
        item += Array((["0", "0", "0", "0", "0", "1"] + [String](repeating: "0", count: 13)).joined(separator: "|").utf8) + [0x0A]
        let folder = try write(["u.data": Array("7\t1\t4\t100\n7\t2\t5\t90\n8\t1\t3\t80\n".utf8), "u.item": item])
        let dataset = try Loaders.movieLens100K(directory: folder)
        #expect(dataset.userCount == 2 && dataset.itemCount == 2 && dataset.interactions.count == 3)
        #expect(dataset.itemText[0].title == "Café Society")
        #expect(dataset.itemText[0].genres == ["Comedy"])
        #expect(dataset.interactions[1] == Interaction(user: 0, item: 1, rating: 5, time: 90))
    }

    @Test func movieLens1MBothLayouts() throws {
        let folder = try write([
            "ratings.dat": Array("1::10::5::978300760\n1::20::3::978300761\n".utf8),
            "movies.dat": Array("10::Heat (1995)::Action|Crime\n".utf8),
        ])
        let dat = try DataCatalog().load(dataset: "x", path: folder, format: "movielens-1m")
        #expect(dat.interactions.count == 2 && dat.hasTimestamps)
        #expect(dat.itemText[0].genres == ["Action", "Crime"])
        let tsv = try write(["ratings_ordered.tsv": Array("user_id\tmovie_id\trating\tseq\n1\t10\t5\t0\n2\t10\t4\t0\n".utf8)])
        let ordered = try DataCatalog().load(dataset: "x", path: tsv, format: "movielens-1m")
        #expect(ordered.interactions.count == 2 && !ordered.hasTimestamps)
    }

    @Test func amazonSequencesWithTitlesAndUniSRec() throws {
        let folder = try write([
            "user_sequence.txt": Array("A1 B1 B2 B3\nA2 B2 B4\n".utf8),
            "titles.jsonl": Array("{\"asin\": \"B2\", \"title\": \"Soap &amp; Co\"}\n".utf8),
        ])
        let amazon = try Loaders.amazonSequences(file: folder + "/user_sequence.txt", titles: folder + "/titles.jsonl", name: "a")
        #expect(amazon.interactions.count == 5 && amazon.itemCount == 4)
        #expect(amazon.itemText[1].title == "Soap &amp; Co")
        #expect(amazon.interactions.filter { $0.user == 0 }.map(\.time) == [0, 1, 2])

        let uni = try write([
            "S.item2index": Array("X\t0\nY\t1\nZ\t2\n".utf8),
            "S.test.inter": Array("user_id:token\titem_id_list:token_seq\titem_id:token\n0\t0 1\t2\n".utf8),
            "S.text": Array("item_id:token\ttext:token_seq\nX\tDrill. Tools. Acme. \n".utf8),
        ])
        let scientific = try Loaders.uniSRec(directory: uni, name: "S")
        #expect(scientific.itemIDs == ["X", "Y", "Z"])
        #expect(scientific.itemText[0].title == "Drill")
        #expect(scientific.itemText[0].description == "Drill. Tools. Acme.")
    }

    @Test func recBoleAtomicFiles() throws {
        let dataset = try Loaders.recBole(directory: Fixtures.directory + "/tiny", name: "tiny")
        #expect(dataset.userCount == 80 && dataset.itemCount == 50 && dataset.interactions.count == 1075)
        #expect(dataset.itemText.allSatisfy { $0.title?.hasPrefix("Item number") == true })
    }

    @Test(.enabled(if: sharedDataRequired)) func sharedMovieLens100K() throws {
        let dataset = try DataCatalog().load(dataset: "ml-100k")
        #expect(dataset.userCount == 943 && dataset.itemCount == 1682 && dataset.interactions.count == 100_000)
        let recbole = try DataCatalog().load(dataset: "ml-100k-recbole")
        #expect(recbole.interactions.count == 100_000)
    }
}

struct PreprocessingTests {
    @Test func kCoreCascades() {
        // Item 2 has one interaction; removing it leaves user 1 with one, which removes item 1's
        // second interaction, and so on.
        let interactions = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 1), (3, 0), (3, 3)].map {
            Interaction(user: Int32($0.0), item: Int32($0.1))
        }
        let dataset = Dataset(
            name: "k", userIDs: ["a", "b", "c", "d"], itemIDs: ["w", "x", "y", "z"], interactions: interactions,
            itemText: Array(repeating: ItemText(), count: 4), hasRatings: false, hasTimestamps: false)
        let core = dataset.kCore(minUser: 2, minItem: 2)
        #expect(core.userIDs == ["a", "c"])
        #expect(core.itemIDs == ["w", "x"])
        #expect(core.interactions.count == 4)
    }

    @Test func ratingThreshold() {
        let dataset = Fixtures.clusteredDataset()
        let kept = dataset.filtered(ratingAtLeast: 4)
        #expect(kept.interactions.allSatisfy { $0.rating >= 4 })
        #expect(kept.interactions.count == dataset.interactions.filter { $0.rating >= 4 }.count)
    }

    @Test func leaveOneOutSemantics() throws {
        // user 0: 1 event; user 1: 2 events; user 2: 4 events with a time tie (file order wins).
        let events: [(Int32, Int32, Int64)] = [(0, 0, 5), (1, 1, 9), (1, 2, 3), (2, 3, 1), (2, 4, 7), (2, 5, 7), (2, 0, 2)]
        let dataset = Dataset(
            name: "l", userIDs: ["a", "b", "c"], itemIDs: (0..<6).map(String.init),
            interactions: events.map { Interaction(user: $0.0, item: $0.1, time: $0.2) },
            itemText: [], hasRatings: false, hasTimestamps: true)
        let split = try dataset.split(.leaveOneOut)
        #expect(split.trainHistory == [[0], [2], [3, 0]])
        #expect(split.validation.map(\.item) == [4])
        #expect(split.test.map(\.item) == [1, 5])
    }

    @Test func ratioSplits() throws {
        let dataset = Fixtures.clusteredDataset()
        let temporal = try dataset.split(.temporal, ratios: [0.8, 0.1, 0.1])
        #expect(temporal.train.count == Int(Double(dataset.interactions.count) * 0.8))
        #expect(temporal.train.map(\.time).max()! < temporal.test.map(\.time).min()!)
        let a = try dataset.split(.random, seed: 3), b = try dataset.split(.random, seed: 3), c = try dataset.split(.random, seed: 4)
        #expect(a.test == b.test && a.test != c.test)
        let users = try dataset.split(.user, ratios: [0.6, 0.2, 0.2])
        #expect(Set(users.train.map(\.user)).isDisjoint(with: Set(users.test.map(\.user))))
        #expect(users.train.count + users.validation.count + users.test.count == dataset.interactions.count)
    }

    @Test func fingerprintIsStableAndSensitive() {
        let a = Fixtures.clusteredDataset(seed: 1), b = Fixtures.clusteredDataset(seed: 1)
        #expect(a.fingerprint == b.fingerprint)
        var c = a
        c.interactions[0].rating += 1
        #expect(a.fingerprint != c.fingerprint)
    }

    @Test func emptyAfterSplitIsAnError() {
        let dataset = Dataset(
            name: "one", userIDs: ["a"], itemIDs: ["x"], interactions: [Interaction(user: 0, item: 0)],
            itemText: [], hasRatings: false, hasTimestamps: false)
        let error = #expect(throws: RecError.self) { _ = try dataset.split(.leaveOneOut) }
        #expect(error?.message == "the leave_one_out split left no test interactions in 'one'")
    }
}
