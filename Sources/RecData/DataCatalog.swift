import Foundation
import RecCore

/// Resolves dataset names to files and loads them.
///
/// Data lives under a root folder: `$RECLAB_DATA` if set, else `../shared/data` relative to the
/// working directory. `ml-latest-small` ships inside RecLab (xz-compressed, with its README and
/// licence) and needs no root.
public struct DataCatalog: Sendable {
    public var root: String

    public init(root: String? = nil) {
        self.root = root ?? ProcessInfo.processInfo.environment["RECLAB_DATA"] ?? "../shared/data"
    }

    public struct Entry: Sendable {
        public var name: String
        public var format: String
        public var summary: String
    }

    public static let entries: [Entry] = [
        Entry(name: "ml-latest-small", format: "movielens-latest", summary: "MovieLens latest-small (embedded): 610 users, 9,742 movies, 100,836 ratings, titles, genres, tags"),
        Entry(name: "ml-100k", format: "movielens-100k", summary: "MovieLens 100K: u.data, u.item (titles, genres, years) and u.user (age, gender, occupation, zip)"),
        Entry(name: "ml-100k-recbole", format: "recbole", summary: "MovieLens 100K as RecBole atomic files"),
        Entry(name: "ml-1m", format: "movielens-1m", summary: "MovieLens 1M: 1,000,209 ratings in per-user time order (no timestamps), movies.dat, users.dat"),
        Entry(name: "amazon-beauty", format: "amazon", summary: "Amazon Beauty 2014 5-core sequences (P5/TIGER), with titles"),
        Entry(name: "amazon-sports", format: "amazon", summary: "Amazon Sports 2014 5-core sequences (P5/TIGER)"),
        Entry(name: "amazon-toys", format: "amazon", summary: "Amazon Toys 2014 5-core sequences (P5/TIGER)"),
        Entry(name: "amazon-scientific", format: "unisrec", summary: "Amazon 2018 Industrial & Scientific (UniSRec files), with item text"),
    ]

    public static let formats = ["movielens-100k", "movielens-1m", "movielens-latest", "recbole", "amazon", "unisrec"]

    /// Folder of the embedded ml-latest-small.
    public static var embeddedLatestSmall: String {
        Bundle.module.resourceURL!.appendingPathComponent("Embedded/ml-latest-small").path
    }

    /// Loads `dataset` (a known name), or the files at `path` in `format`.
    public func load(dataset: String, path: String? = nil, format: String? = nil) throws -> Dataset {
        let entry = Self.entries.first { $0.name == dataset }
        guard let format = format ?? entry?.format else {
            var message = "unknown dataset '\(dataset)'; known: \(Self.entries.map(\.name).joined(separator: ", ")); or give path: and format:"
            if let near = nearest(dataset, in: Self.entries.map(\.name)) { message += " (did you mean '\(near)'?)" }
            throw RecError.data(message)
        }
        guard Self.formats.contains(format) else {
            throw RecError.data("unknown data format '\(format)'; valid: \(Self.formats.joined(separator: ", "))")
        }
        let location = path ?? (dataset == "ml-latest-small" ? Self.embeddedLatestSmall : "\(root)/\(dataset)")
        if path == nil && entry != nil && dataset != "ml-latest-small" && !FileManager.default.fileExists(atPath: dataFolder(dataset)) {
            throw RecError.data("dataset '\(dataset)' was not found under the data root '\(root)'; set RECLAB_DATA or --data-root to the folder holding it (see ../shared/data/README.md)")
        }
        switch format {
        case "movielens-100k":
            return try Loaders.movieLens100K(directory: location, name: dataset)
        case "movielens-1m":
            if path == nil {
                let users = "\(root)/ml-1m/users.dat"
                return try Loaders.movieLens1M(
                    ratings: "\(root)/ml-1m-ratings/ratings_ordered.tsv.xz", movies: "\(root)/ml-1m/movies.dat",
                    users: InputFile.entryExists(users) ? users : nil, name: dataset)
            }
            let ratings =
                ["ratings.dat", "ratings_ordered.tsv", "ratings_ordered.tsv.xz"].map { "\(location)/\($0)" }
                .first { InputFile.entryExists($0) } ?? "\(location)/ratings.dat"
            let movies = "\(location)/movies.dat", users = "\(location)/users.dat"
            return try Loaders.movieLens1M(
                ratings: ratings, movies: InputFile.entryExists(movies) ? movies : nil,
                users: InputFile.entryExists(users) ? users : nil, name: dataset)
        case "movielens-latest":
            return try Loaders.movieLensLatest(directory: location, name: dataset)
        case "recbole":
            let name = dataset == "ml-100k-recbole" ? "ml-100k" : URL(fileURLWithPath: location).lastPathComponent
            return try Loaders.recBole(directory: location, name: name)
        case "amazon":
            let file = location.hasSuffix(".txt") ? location : "\(location)/user_sequence.txt"
            let titles = "\(root)/\(dataset)-titles/item_titles.jsonl"
            return try Loaders.amazonSequences(
                file: file, titles: InputFile.entryExists(titles) ? titles : nil, name: dataset)
        default:
            let name = dataset == "amazon-scientific" ? "Scientific" : URL(fileURLWithPath: location).lastPathComponent
            return try Loaders.uniSRec(directory: location, name: name)
        }
    }

    private func dataFolder(_ dataset: String) -> String {
        dataset == "ml-1m" ? "\(root)/ml-1m-ratings" : "\(root)/\(dataset)"
    }
}
