import Foundation
import RecCore
import RecTesting
import Testing

@testable import RecData

/// Data files a hostile or careless user hands RecLab: line-ending and encoding variants that
/// must load, and files that must fail fast with their path instead of hanging or eating memory.
struct HostileDataTests {
    static let movies = Array("movieId,title,genres\n1,A (1995),Drama\n2,B (1996),Comedy\n".utf8)

    func latest(_ ratings: [UInt8]) throws -> Dataset {
        try Loaders.movieLensLatest(directory: try write(["ratings.csv": ratings, "movies.csv": Self.movies]))
    }

    @Test func byteOrderMarksAndEveryLineEndingLoadTheSame() throws {
        let lines = ["userId,movieId,rating,timestamp", "1,1,4.0,10", "1,2,3.5,11", "2,1,5.0,12"]
        let plain = try latest(Array((lines.joined(separator: "\n") + "\n").utf8))
        for variant in [
            [0xEF, 0xBB, 0xBF] + Array((lines.joined(separator: "\n") + "\n").utf8),
            Array((lines.joined(separator: "\r\n") + "\r\n").utf8),
            Array((lines.joined(separator: "\r") + "\r").utf8),
            Array(lines.joined(separator: "\r").utf8),
        ] {
            let other = try latest(variant)
            #expect(other.fingerprint == plain.fingerprint)
        }
        #expect(plain.interactions.count == 3)
    }

    @Test func aDecompressionBombStopsAtTheLimit() throws {
        let bomb = try Array(Data(contentsOf: URL(fileURLWithPath: Fixtures.directory + "/bad-data/zeros-1mib.csv.xz")))
        #expect(bomb.count < 1000)
        let error = #expect(throws: RecError.self) { _ = try XZ.decompress(bomb, path: "zeros.csv.xz", limit: 100_000) }
        #expect(error?.message.contains("'zeros.csv.xz' expands to more than 100000 bytes") == true)
        #expect(try XZ.decompress(bomb, path: "zeros.csv.xz", limit: 1 << 20).count == 1 << 20)
    }

    @Test func pipesLoopsAndDanglingLinksAreNamedNotOpened() throws {
        let folder = try write(["movies.csv": Self.movies])
        #expect(mkfifo(folder + "/ratings.csv", 0o600) == 0)
        // Opening a FIFO for reading blocks until a writer comes: the check must come first.
        let fifo = #expect(throws: RecError.self) { _ = try Loaders.movieLensLatest(directory: folder) }
        #expect(fifo?.message.contains("is not a regular file") == true)
        unlink(folder + "/ratings.csv")
        #expect(symlink(folder + "/ratings.csv", folder + "/ratings.csv") == 0)
        let loop = #expect(throws: RecError.self) { _ = try Loaders.movieLensLatest(directory: folder) }
        #expect(loop?.message.contains("is a loop of symbolic links") == true, "\(loop?.message ?? "")")
        unlink(folder + "/ratings.csv")
        #expect(symlink(folder + "/gone.csv", folder + "/ratings.csv") == 0)
        let dangling = #expect(throws: RecError.self) { _ = try Loaders.movieLensLatest(directory: folder) }
        #expect(dangling?.message.contains("is a symbolic link to nothing") == true)
    }

    @Test(arguments: ["nan", "-nan", "inf", "-inf", "1e300", "3.4e39", "1e10"])
    func nonFiniteAndHugeRatingsAreRefused(_ rating: String) throws {
        let error = #expect(throws: RecError.self) { _ = try latest(Array("userId,movieId,rating,timestamp\n1,1,\(rating),10\n".utf8)) }
        #expect(error?.message.contains("expected a rating, found \"\(rating)\"") == true)
        #expect(error?.location?.line == 2 && error?.location?.column == 5)
    }

    @Test(arguments: ["1e300", "nan", "-inf", "9223372036854775808", "12abc"])
    func recBoleTimestampsOutOfRangeAreRefused(_ time: String) throws {
        let folder = try write(["x.inter": Array("user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t4\t\(time)\n".utf8)])
        let error = #expect(throws: RecError.self) { _ = try Loaders.recBole(directory: folder, name: "x") }
        #expect(error?.message.contains("expected a timestamp") == true, "\(error?.message ?? "")")
        // A fractional timestamp is still a timestamp.
        let fractional = try write(["x.inter": Array("user_id:token\titem_id:token\ttimestamp:float\n1\t1\t1000000269.5\n".utf8)])
        #expect(try Loaders.recBole(directory: fractional, name: "x").interactions.first?.time == 1_000_000_269)
    }

    @Test func repeatedPairsKeepTheLatestAndAreCounted() throws {
        let dataset = try latest(Array("userId,movieId,rating,timestamp\n1,1,4.0,30\n1,2,3.0,11\n1,1,5.0,12\n2,1,4.0,10\n1,2,1.0,11\n".utf8))
        let unique = dataset.withoutDuplicates()
        #expect(unique.dropped == 2)
        #expect(unique.example?.user == "1" && unique.example?.item == "1")
        // (1, 1): the rating at time 30 is the latest; (1, 2): a tie, so the later line wins.
        let kept = unique.dataset.interactions.map { (dataset.userIDs[Int($0.user)], dataset.itemIDs[Int($0.item)], $0.rating) }
        #expect(kept.map(\.0) == ["1", "2", "1"] && kept.map(\.1) == ["1", "1", "2"] && kept.map(\.2) == [4.0, 4.0, 1.0])
        // Without repeats the dataset is returned as it was.
        #expect(unique.dataset.withoutDuplicates().dropped == 0)
        #expect(unique.dataset.withoutDuplicates().dataset.fingerprint == unique.dataset.fingerprint)
    }
}
