import Foundation
import RecCore

/// Writes a split for peers: RecBole atomic benchmark files and plain TSVs for
/// scikit-surprise, with the datasets' original ids.
public enum SplitExport {
    /// - Parameter behaviour: with L > 0, each interaction also lists the user's last L items
    ///   before it (`item_id_list`, from the split's timeline), as RecBole's sequential CTR models
    ///   read them.
    public static func write(_ split: SplitData, name: String, to directory: String, behaviour: Int = 0) throws {
        let dataset = split.dataset
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RecError(.io, "cannot create '\(directory)': \(error.localizedDescription)")
        }
        func token(_ value: String) -> String {
            value.replacingOccurrences(of: "\t", with: "_").replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "\n", with: "_")
        }
        let rule = split.labelRule
        let timeline = behaviour > 0 ? split.timeline : nil
        for (part, events) in [("train", split.train), ("valid", split.validation), ("test", split.test)] {
            var text = "user_id:token\titem_id:token\trating:float" + (rule != nil ? "\tlabel:float" : "") + (timeline != nil ? "\titem_id_list:token_seq" : "") + "\n"
            var tsv = ""
            for event in events {
                let user = token(dataset.userIDs[Int(event.user)]), item = token(dataset.itemIDs[Int(event.item)])
                text += "\(user)\t\(item)\t\(event.rating)" + (rule.map { "\t\(Int($0.label(event)))" } ?? "")
                if let timeline { text += "\t" + timeline.before(event, limit: behaviour).map { token(dataset.itemIDs[Int($0.item)]) }.joined(separator: " ") }
                text += "\n"
                tsv += "\(user)\t\(item)\t\(event.rating)\n"
            }
            try save(text, "\(directory)/\(name).\(part).inter")
            if part != "valid" { try save(tsv, "\(directory)/\(part).tsv") }
        }
        for (suffix, idField, ids, table) in [("user", "user_id", dataset.userIDs, dataset.userFeatures), ("item", "item_id", dataset.itemIDs, dataset.itemFeatures)] {
            // Each multi-valued field also as its first value (`genres_first`), the form KAR reads.
            let firsts = table.fields.filter { $0.kind == .multiCategorical }.map { field in
                var first = field
                first.name += "_first"
                first.kind = .categorical
                first.codes = field.codes.map { [$0.first ?? 0] }
                return first
            }
            let fields = table.fields.filter { $0.kind != .text } + firsts
            guard !fields.isEmpty else { continue }
            let types: [FeatureKind: String] = [.categorical: "token", .multiCategorical: "token_seq", .numeric: "float"]
            var text = ([idField + ":token"] + fields.map { "\($0.name):\(types[$0.kind]!)" }).joined(separator: "\t") + "\n"
            for (entity, id) in ids.enumerated() {
                let values = fields.map { field -> String in
                    switch field.kind {
                    case .categorical, .multiCategorical: return field.codes[entity].map { token(field.vocabulary[Int($0)]) }.joined(separator: " ")
                    case .numeric: return field.numbers[entity].isNaN ? "" : "\(field.numbers[entity])"
                    case .text: return ""
                    }
                }
                text += ([token(id)] + values).joined(separator: "\t") + "\n"
            }
            try save(text, "\(directory)/\(name).\(suffix)")
        }
    }

    private static func save(_ text: String, _ path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw RecError(.io, "cannot write '\(path)': \(error.localizedDescription)")
        }
    }
}
