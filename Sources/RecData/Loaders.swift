import Foundation
import RecCore

/// Readers for the dataset formats RecLab knows. Each throws `RecError` naming the file, line
/// and column of the first bad field.
public enum Loaders {
    // MARK: - MovieLens 100K: u.data (tab-separated) + u.item (Latin-1, '|'-separated)

    public static func movieLens100K(directory: String, name: String = "ml-100k") throws -> Dataset {
        var builder = DatasetBuilder(name: name)
        let data = try TextFile(path: directory + "/u.data")
        for (number, text) in try data.lines() where !text.isEmpty {
            try builder.addRow(fieldsWithColumns(text, separator: "\t"), layout: "tab-separated", timeName: "a timestamp", file: data, line: number)
        }
        let genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
        let items = try TextFile(path: directory + "/u.item")
        for (number, text) in try items.lines(encoding: .latin1) where !text.isEmpty {
            let fields = text.components(separatedBy: "|")
            guard fields.count == 5 + genres.count else {
                throw RecError.data("expected \(5 + genres.count) '|'-separated fields, found \(fields.count)", at: items.location(line: number))
            }
            let (title, year) = splitTitleYear(fields[1])
            let flags = fields[5...].enumerated().compactMap { $0.element == "1" ? genres[$0.offset] : nil }
            builder.textByItem[fields[0]] = ItemText(title: title, genres: flags, year: year)
        }
        return try builder.build(file: data.path, hasRatings: true, hasTimestamps: true)
    }

    // MARK: - MovieLens 1M: ratings.dat ('::') or ratings_ordered.tsv(.xz) + movies.dat (Latin-1)

    public static func movieLens1M(ratings: String, movies: String?, name: String = "ml-1m") throws -> Dataset {
        var builder = DatasetBuilder(name: name)
        let file = try TextFile(path: ratings)
        let lines = try file.lines(encoding: .latin1)
        let tsv = !ratings.contains("ratings.dat")
        for (number, text) in lines where !text.isEmpty {
            if tsv && number == 1 {
                guard text.hasPrefix("user_id\tmovie_id\trating") else {
                    throw RecError.data("expected the header 'user_id<TAB>movie_id<TAB>rating<TAB>seq'", at: file.location(line: 1))
                }
                continue
            }
            try builder.addRow(
                fieldsWithColumns(text, separator: tsv ? "\t" : "::"), layout: tsv ? "tab-separated" : "'::'-separated",
                timeName: tsv ? "a sequence position" : "a timestamp", file: file, line: number)
        }
        if let movies {
            let items = try TextFile(path: movies)
            for (number, text) in try items.lines(encoding: .latin1) where !text.isEmpty {
                let fields = text.components(separatedBy: "::")
                guard fields.count == 3 else {
                    throw RecError.data("expected 3 '::'-separated fields (id, title, genres), found \(fields.count)", at: items.location(line: number))
                }
                let (title, year) = splitTitleYear(fields[1])
                builder.textByItem[fields[0]] = ItemText(title: title, genres: fields[2].split(separator: "|").map(String.init), year: year)
            }
        }
        return try builder.build(file: ratings, hasRatings: true, hasTimestamps: !tsv)
    }

    // MARK: - MovieLens latest(-small): ratings.csv, movies.csv (quoted titles), tags.csv

    public static func movieLensLatest(directory: String, name: String = "ml-latest-small") throws -> Dataset {
        func find(_ base: String) -> String {
            let plain = directory + "/" + base
            return InputFile.entryExists(plain) ? plain : plain + ".xz"
        }
        var builder = DatasetBuilder(name: name)
        let ratings = try TextFile(path: find("ratings.csv"))
        for (number, text) in try ratings.lines() {
            if number == 1 {
                guard text.hasPrefix("userId,movieId,rating") else {
                    throw RecError.data("expected the header 'userId,movieId,rating,timestamp'", at: ratings.location(line: 1))
                }
                continue
            }
            if text.isEmpty { continue }
            try builder.addRow(fieldsWithColumns(text, separator: ","), layout: "comma-separated", timeName: "a timestamp", file: ratings, line: number)
        }
        let movies = try TextFile(path: find("movies.csv"))
        for (number, text) in try movies.lines().dropFirst() where !text.isEmpty {
            let fields = try csvFields(text, file: movies, number: number)
            guard fields.count == 3 else {
                throw RecError.data("expected 3 fields (movieId, title, genres), found \(fields.count)", at: movies.location(line: number))
            }
            let (title, year) = splitTitleYear(fields[1])
            let genres = fields[2] == "(no genres listed)" ? [] : fields[2].split(separator: "|").map(String.init)
            builder.textByItem[fields[0]] = ItemText(title: title, genres: genres, year: year)
        }
        let tagsPath = find("tags.csv")
        if InputFile.entryExists(tagsPath) {
            let tags = try TextFile(path: tagsPath)
            for (number, text) in try tags.lines().dropFirst() where !text.isEmpty {
                let fields = try csvFields(text, file: tags, number: number)
                guard fields.count == 4 else {
                    throw RecError.data("expected 4 fields (userId, movieId, tag, timestamp), found \(fields.count)", at: tags.location(line: number))
                }
                if var text = builder.textByItem[fields[1]], !text.tags.contains(fields[2]) {
                    text.tags.append(fields[2])
                    builder.textByItem[fields[1]] = text
                }
            }
        }
        return try builder.build(file: ratings.path, hasRatings: true, hasTimestamps: true)
    }

    // MARK: - RecBole atomic files: NAME.inter (+ NAME.item), typed header `field:type`

    public static func recBole(directory: String, name: String) throws -> Dataset {
        var builder = DatasetBuilder(name: name)
        let inter = try TextFile(path: "\(directory)/\(name).inter")
        let lines = try inter.lines()
        guard let header = lines.first else { throw RecError.data("'\(inter.path)' is empty") }
        let columns = header.text.components(separatedBy: "\t").map { $0.components(separatedBy: ":")[0] }
        guard let userColumn = columns.firstIndex(of: "user_id"), let itemColumn = columns.firstIndex(of: "item_id") else {
            throw RecError.data("the header needs user_id and item_id fields, found: \(columns.joined(separator: ", "))", at: inter.location(line: 1))
        }
        let ratingColumn = columns.firstIndex(of: "rating")
        let timeColumn = columns.firstIndex(of: "timestamp")
        for (number, text) in lines.dropFirst() where !text.isEmpty {
            let fields = fieldsWithColumns(text, separator: "\t")
            guard fields.count == columns.count else {
                throw RecError.data("expected \(columns.count) tab-separated fields, found \(fields.count)", at: inter.location(line: number))
            }
            let rating = try ratingColumn.map { try parseField(fields[$0].0, as: parseRating, what: "a rating", file: inter, line: number, column: fields[$0].1) } ?? 1
            // RecBole timestamps are floats; keep them as integer seconds (sub-second parts are zero in practice).
            let time = try timeColumn.map { try parseField(fields[$0].0, as: parseTimestamp, what: "a timestamp", file: inter, line: number, column: fields[$0].1) } ?? Int64(number)
            builder.add(user: String(fields[userColumn].0), item: String(fields[itemColumn].0), rating: rating, time: time)
        }
        let itemPath = "\(directory)/\(name).item"
        if InputFile.entryExists(itemPath) {
            let items = try TextFile(path: itemPath)
            let itemLines = try items.lines()
            let itemColumns = (itemLines.first?.text ?? "").components(separatedBy: "\t").map { $0.components(separatedBy: ":")[0] }
            guard let idColumn = itemColumns.firstIndex(of: "item_id") else {
                throw RecError.data("the header needs an item_id field", at: items.location(line: 1))
            }
            func column(_ names: [String]) -> Int? { names.lazy.compactMap { itemColumns.firstIndex(of: $0) }.first }
            let title = column(["movie_title", "title", "name"])
            let year = column(["release_year", "year"])
            let genres = column(["class", "genre", "genres"])
            let categories = column(["categories", "category"])
            let brand = column(["brand"])
            let description = column(["description"])
            for (number, text) in itemLines.dropFirst() where !text.isEmpty {
                let fields = text.components(separatedBy: "\t")
                guard fields.count == itemColumns.count else {
                    throw RecError.data("expected \(itemColumns.count) tab-separated fields, found \(fields.count)", at: items.location(line: number))
                }
                builder.textByItem[fields[idColumn]] = ItemText(
                    title: title.map { fields[$0] }, genres: genres.map { fields[$0].split(separator: " ").map(String.init) } ?? [],
                    year: year.flatMap { Int(fields[$0]) }, description: description.map { fields[$0] },
                    brand: brand.map { fields[$0] }, categories: categories.map { fields[$0].split(separator: " ").map(String.init) } ?? [])
            }
        }
        return try builder.build(file: inter.path, hasRatings: ratingColumn != nil, hasTimestamps: timeColumn != nil)
    }

    // MARK: - Amazon (P5/TIGER): user_sequence.txt, one user and their items in time order per line

    public static func amazonSequences(file path: String, titles: String?, name: String) throws -> Dataset {
        var builder = DatasetBuilder(name: name)
        let file = try TextFile(path: path)
        for (number, text) in try file.lines() where !text.isEmpty {
            let fields = text.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2 else {
                throw RecError.data("expected a user id followed by at least one item id", at: file.location(line: number))
            }
            for (position, item) in fields.dropFirst().enumerated() {
                builder.add(user: String(fields[0]), item: String(item), rating: 1, time: Int64(position))
            }
        }
        if let titles {
            let titleFile = try TextFile(path: titles)
            for (number, text) in try titleFile.lines() where !text.isEmpty {
                guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                      let asin = object["asin"] as? String, let title = object["title"] as? String else {
                    throw RecError.data("expected a JSON object with string fields \"asin\" and \"title\"", at: titleFile.location(line: number))
                }
                builder.textByItem[asin] = ItemText(title: title)
            }
        }
        return try builder.build(file: path, hasRatings: false, hasTimestamps: false)
    }

    // MARK: - UniSRec downstream files: NAME.test.inter (history + target per user), NAME.text

    public static func uniSRec(directory: String, name: String) throws -> Dataset {
        var builder = DatasetBuilder(name: name)
        // Item ids in .inter files are indices into NAME.item2index; text is keyed by ASIN.
        let index = try TextFile(path: "\(directory)/\(name).item2index")
        var asinOf: [String: String] = [:]
        for (number, text) in try index.lines() where !text.isEmpty {
            let fields = text.components(separatedBy: "\t")
            guard fields.count == 2 else { throw RecError.data("expected 'ASIN<TAB>index'", at: index.location(line: number)) }
            asinOf[fields[1]] = fields[0]
        }
        let test = try TextFile(path: "\(directory)/\(name).test.inter")
        for (number, text) in try test.lines().dropFirst() where !text.isEmpty {
            let fields = text.components(separatedBy: "\t")
            guard fields.count == 3 else {
                throw RecError.data("expected 3 tab-separated fields (user_id, item_id_list, item_id)", at: test.location(line: number))
            }
            let sequence = fields[1].split(separator: " ").map(String.init) + [fields[2]]
            for (position, item) in sequence.enumerated() {
                guard let asin = asinOf[item] else {
                    throw RecError.data("item index \(item) is not in \(name).item2index", at: test.location(line: number))
                }
                builder.add(user: fields[0], item: asin, rating: 1, time: Int64(position))
            }
        }
        let textFile = try TextFile(path: "\(directory)/\(name).text")
        for (_, text) in try textFile.lines().dropFirst() where !text.isEmpty {
            let fields = text.components(separatedBy: "\t")
            guard fields.count >= 2 else { continue }
            // `title. categories. brand.`: keep the whole text as the description, the first sentence as title.
            let body = fields[1].trimmingCharacters(in: .whitespaces)
            let title = body.components(separatedBy: ". ").first ?? body
            builder.textByItem[fields[0]] = ItemText(title: title, description: body)
        }
        return try builder.build(file: test.path, hasRatings: false, hasTimestamps: false)
    }
}
