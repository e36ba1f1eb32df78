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
        let genres = [
            "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
            "Thriller", "War", "Western",
        ]
        let items = try TextFile(path: directory + "/u.item")
        for (number, text) in try items.lines(encoding: .latin1) where !text.isEmpty {
            let fields = text.components(separatedBy: "|")
            guard fields.count == 5 + genres.count else {
                throw RecError.data("expected \(5 + genres.count) '|'-separated fields, found \(fields.count)", at: items.location(line: number))
            }
            let (title, year) = splitTitleYear(fields[1])
            let flags = fields[5...].enumerated().compactMap { $0.element == "1" ? genres[$0.offset] : nil }
            builder.textByItem[fields[0]] = ItemText(title: title, genres: flags, year: year)
            builder.itemColumns.addMovie(id: fields[0], title: title, genres: flags, year: year)
        }
        let usersPath = directory + "/u.user"
        if InputFile.entryExists(usersPath) {
            let users = try TextFile(path: usersPath)
            builder.userColumns.declare("age", .numeric)
            for name in ["gender", "occupation", "zip_code"] { builder.userColumns.declare(name, .categorical) }
            for (number, text) in try users.lines(encoding: .latin1) where !text.isEmpty {
                let fields = fieldsWithColumns(text, separator: "|")
                guard fields.count == 5 else {
                    throw RecError.data("expected 5 '|'-separated fields (user id, age, gender, occupation, zip code), found \(fields.count)", at: users.location(line: number))
                }
                let id = String(fields[0].0)
                let age = try parseField(fields[1].0, as: { Int($0) }, what: "an age", file: users, line: number, column: fields[1].1)
                builder.userColumns.set("age", id: id, [String(age)])
                builder.userColumns.set("gender", id: id, [String(fields[2].0)])
                builder.userColumns.set("occupation", id: id, [String(fields[3].0)])
                builder.userColumns.set("zip_code", id: id, [String(fields[4].0)])
            }
        }
        return try builder.build(file: data.path, hasRatings: true, hasTimestamps: true)
    }

    // MARK: - MovieLens 1M: ratings.dat ('::') or ratings_ordered.tsv(.xz) + movies.dat, users.dat (Latin-1)

    public static func movieLens1M(ratings: String, movies: String?, users: String? = nil, name: String = "ml-1m") throws -> Dataset {
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
                let genres = fields[2].split(separator: "|").map(String.init)
                builder.textByItem[fields[0]] = ItemText(title: title, genres: genres, year: year)
                builder.itemColumns.addMovie(id: fields[0], title: title, genres: genres, year: year)
            }
        }
        if let users {
            // users.dat: UserID::Gender::Age::Occupation::Zip-code. Age is a bracket code (1, 18,
            // 25, ...) and occupation a code (0-20), so both are categorical, as KAR uses them.
            let file = try TextFile(path: users)
            for name in ["gender", "age", "occupation", "zip_code"] { builder.userColumns.declare(name, .categorical) }
            for (number, text) in try file.lines(encoding: .latin1) where !text.isEmpty {
                let fields = fieldsWithColumns(text, separator: "::")
                guard fields.count == 5 else {
                    throw RecError.data("expected 5 '::'-separated fields (UserID, Gender, Age, Occupation, Zip-code), found \(fields.count)", at: file.location(line: number))
                }
                let id = String(fields[0].0)
                for (offset, name) in ["gender", "age", "occupation", "zip_code"].enumerated() {
                    builder.userColumns.set(name, id: id, [String(fields[offset + 1].0)])
                }
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
            builder.itemColumns.addMovie(id: fields[0], title: title, genres: genres, year: year)
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
                builder.itemColumns.declare("tags", .multiCategorical)
                builder.itemColumns.append("tags", id: fields[1], fields[2])
                builder.userColumns.declare("tags", .multiCategorical)
                builder.userColumns.append("tags", id: fields[0], fields[2])
            }
        }
        return try builder.build(file: ratings.path, hasRatings: true, hasTimestamps: true)
    }

    // MARK: - RecBole atomic files: NAME.inter (+ NAME.item, NAME.user), typed header `field:type`

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
            let table = try recBoleFeatures(items, idField: "item_id", into: &builder.itemColumns)
            func column(_ names: [String]) -> Int? { names.lazy.compactMap { table.names.firstIndex(of: $0) }.first }
            let title = column(["movie_title", "title", "name"])
            let year = column(["release_year", "year"])
            let genres = column(["class", "genre", "genres"])
            let categories = column(["categories", "category"])
            let brand = column(["brand"])
            let description = column(["description"])
            for (id, fields) in table.rows {
                builder.textByItem[id] = ItemText(
                    title: title.map { fields[$0] }, genres: genres.map { fields[$0].split(separator: " ").map(String.init) } ?? [],
                    year: year.flatMap { Int(fields[$0]) }, description: description.map { fields[$0] },
                    brand: brand.map { fields[$0] }, categories: categories.map { fields[$0].split(separator: " ").map(String.init) } ?? [])
            }
        }
        let userPath = "\(directory)/\(name).user"
        if InputFile.entryExists(userPath) {
            _ = try recBoleFeatures(try TextFile(path: userPath), idField: "user_id", into: &builder.userColumns)
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
                    let asin = object["asin"] as? String, let title = object["title"] as? String
                else {
                    throw RecError.data("expected a JSON object with string fields \"asin\" and \"title\"", at: titleFile.location(line: number))
                }
                builder.textByItem[asin] = ItemText(title: title)
                builder.itemColumns.declare("title", .text)
                builder.itemColumns.set("title", id: asin, [title])
                if let categories = object["categories"] as? [String] {
                    builder.itemColumns.declare("categories", .multiCategorical)
                    builder.itemColumns.set("categories", id: asin, categories)
                }
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
    /// Reads a RecBole `.item` or `.user` file: its header declares `name:type` per column.
    /// `token` becomes a categorical field, `token_seq` a multi-categorical one (a text field
    /// for titles and descriptions), `float` a numeric one; the id column keys the rows.
    /// - Returns: the column names and each row's raw fields by id, for callers that read text.
    static func recBoleFeatures(_ file: TextFile, idField: String, into columns: inout FeatureColumns) throws -> (names: [String], rows: [(String, [String])]) {
        let lines = try file.lines()
        guard let header = lines.first else { throw RecError.data("'\(file.path)' is empty") }
        let declared = header.text.components(separatedBy: "\t").map { $0.components(separatedBy: ":") }
        let names = declared.map { $0[0] }
        guard let idColumn = names.firstIndex(of: idField) else {
            throw RecError.data("the header needs an \(idField) field, found: \(names.joined(separator: ", "))", at: file.location(line: 1))
        }
        let textNames: Set<String> = ["movie_title", "title", "name", "description"]
        var kinds: [FeatureKind?] = []
        for (index, parts) in declared.enumerated() {
            guard index != idColumn else { kinds.append(nil); continue }
            let type = parts.count == 2 ? parts[1] : ""
            let kind: FeatureKind
            switch type {
            case "token": kind = .categorical
            case "token_seq": kind = textNames.contains(parts[0]) ? .text : .multiCategorical
            case "float": kind = .numeric
            default:
                throw RecError.data(
                    "column '\(Excerpt.of(declared[index].joined(separator: ":")))' must declare its type as token, token_seq or float (float_seq fields are not read)", at: file.location(line: 1))
            }
            kinds.append(kind)
            columns.declare(parts[0], kind)
        }
        var rows: [(String, [String])] = []
        for (number, text) in lines.dropFirst() where !text.isEmpty {
            let fields = fieldsWithColumns(text, separator: "\t")
            guard fields.count == names.count else {
                throw RecError.data("expected \(names.count) tab-separated fields, found \(fields.count)", at: file.location(line: number))
            }
            let id = String(fields[idColumn].0)
            for (index, kind) in kinds.enumerated() {
                guard let kind else { continue }
                let value = String(fields[index].0)
                switch kind {
                case .multiCategorical: columns.set(names[index], id: id, value.split(separator: " ").map(String.init))
                case .numeric:
                    if !value.isEmpty { _ = try parseField(fields[index].0, as: parseRating, what: "a number", file: file, line: number, column: fields[index].1) }
                    columns.set(names[index], id: id, [value])
                case .categorical, .text: columns.set(names[index], id: id, [value])
                }
            }
            rows.append((id, fields.map { String($0.0) }))
        }
        return (names, rows)
    }
}

extension FeatureColumns {
    /// The item fields every MovieLens loader has: title (text), genres (multi-categorical),
    /// the first genre (categorical, as KAR uses it) and the release year (numeric).
    mutating func addMovie(id: String, title: String, genres: [String], year: Int?) {
        declare("title", .text)
        declare("genres", .multiCategorical)
        declare("genre", .categorical)
        declare("year", .numeric)
        set("title", id: id, [title])
        set("genres", id: id, genres)
        set("genre", id: id, Array(genres.prefix(1)))
        set("year", id: id, year.map { [String($0)] } ?? [])
    }
}
