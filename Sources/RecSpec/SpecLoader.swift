import Foundation
import RecCore

/// One point of a sweep grid: the values it sets and the spec they produce.
public struct SweepPoint: Sendable {
    /// `ease.retriever.l2=100, ...`, or `base` for the spec as written.
    public var label: String
    public var assignments: [(path: String, value: String)]
    public var spec: ExperimentSpec
    public var isBase: Bool { assignments.isEmpty }
    /// Every swept path with its value at this point, in sweep order: the base point's values
    /// are the spec's (`unset` where it has none), so plots can place it among the others.
    public var settings: [(path: String, value: String)] = []
}

/// A spec file after `extends:`, `--set` overrides and sweep expansion.
public struct LoadedSpec: Sendable {
    public var file: String
    public var base: ExperimentSpec
    /// The base point first, then every grid point, in grid order.
    public var points: [SweepPoint]
    /// SHA-256 of the resolved tree (before sweep expansion), identifying the experiment.
    public var specHash: String
    /// The `--set` overrides applied, as given.
    public var overrides: [String] = []
}

public enum SpecLoader {
    /// Cells a plan may hold unless the caller allows more (`--max-cells`): a sweep that
    /// multiplies out to millions of cells is almost always a mistake, caught before any work.
    public static let defaultMaxCells = 10_000

    /// Reads `path`, applies `extends:` and `overrides` (`a.b=value`), and expands `sweep:`.
    public static func load(path: String, overrides: [String] = [], maxCells: Int = defaultMaxCells) throws -> LoadedSpec {
        var tree = try resolveExtends(path: path, seen: [])
        for override in overrides { try apply(override: override, to: &tree) }
        let sweep = tree["sweep"].flatMap { $0.isNull ? nil : $0 }  // `sweep:` left empty means none
        let base = try NodeDecoder().decode(ExperimentSpec.self, from: tree)
        var points = [SweepPoint(label: "base", assignments: [], spec: base)]
        let perPoint = base.pipelines.count * base.seeds.count
        guard perPoint <= maxCells else {
            throw RecError(
                .spec, "the plan has \(perPoint) cells (\(base.pipelines.count) pipelines x \(base.seeds.count) seeds), over the limit of \(maxCells); pass --max-cells N to allow more",
                at: tree.location)
        }
        if let sweep {
            for assignment in try grid(sweep, tree: tree, maxPoints: max(0, maxCells / max(1, perPoint) - 1), cellsPerPoint: perPoint, maxCells: maxCells) {
                var variant = tree
                for (path, node) in assignment { _ = variant.set(node, at: path.split(separator: ".").map(String.init)[...]) }
                let spec = try NodeDecoder().decode(ExperimentSpec.self, from: variant)
                let pairs = assignment.map { (path: $0.0, value: render($0.1)) }
                let label = pairs.map { "\($0.path.hasPrefix("pipelines.") ? String($0.path.dropFirst(10)) : $0.path)=\($0.value)" }.joined(separator: ", ")
                points.append(SweepPoint(label: label, assignments: pairs, spec: spec))
            }
        }
        var paths: [String] = []
        for point in points { for pair in point.assignments where !paths.contains(pair.path) { paths.append(pair.path) } }
        for index in points.indices {
            points[index].settings = paths.map { path in
                (
                    path,
                    points[index].assignments.first { $0.path == path }?.value
                        ?? tree.value(at: path.split(separator: ".").map(String.init)[...]).map(render) ?? "unset"
                )
            }
        }
        return LoadedSpec(file: path, base: base, points: points, specHash: SHA256.hex(render(tree)), overrides: overrides)
    }

    // MARK: - extends

    static func resolveExtends(path: String, seen: [String]) throws -> YAMLNode {
        let tree = try YAMLParser.parse(file: path)
        // The shape only: a file that is not a spec (`extends: /etc/passwd`) is not quoted.
        guard tree.entries != nil else {
            throw RecError(.spec, "a spec must be a mapping of keys to values, found \(tree.items == nil ? "text" : "a list")", at: tree.location)
        }
        guard let extends = tree["extends"] else { return tree }
        guard let relative = extends.scalar, !relative.isEmpty else {
            throw RecError(.spec, "expected a file name, found \(extends.shapeName)", at: extends.location, key: "extends")
        }
        let basePath =
            relative.hasPrefix("/")
            ? relative
            : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(relative).path
        let standard = URL(fileURLWithPath: basePath).standardized.path
        if seen.contains(standard) || standard == URL(fileURLWithPath: path).standardized.path {
            throw RecError(.spec, "'\(relative)' makes a cycle", at: extends.location, key: "extends")
        }
        do {
            _ = try InputFile.size(basePath, what: "base spec", kind: .spec)
        } catch let error as RecError {
            throw RecError(.spec, error.message, at: extends.location, key: "extends")
        }
        let base = try resolveExtends(path: basePath, seen: seen + [URL(fileURLWithPath: path).standardized.path])
        var merged = tree.merged(over: base)
        // The child's `extends` is consumed here; keep the merged tree free of it.
        if case .mapping(let entries) = merged.value {
            merged.value = .mapping(entries.filter { $0.key != "extends" })
        }
        return merged
    }

    // MARK: - --set overrides

    static func apply(override: String, to tree: inout YAMLNode) throws {
        guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
            throw RecError(.usage, "--set expects key.path=value, got '\(Excerpt.of(override))'")
        }
        let key = String(override[..<equals])
        let text = String(override[override.index(after: equals)...])
        let origin = "--set \(Excerpt.of(key))"
        // `key=` would quietly put the default back; a reset must be said (`key=null`).
        guard !text.isEmpty else {
            throw RecError(.usage, "--set \(Excerpt.of(key))= has no value; write \(Excerpt.of(key))=null to reset it to its default")
        }
        let path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        // `extends:` is resolved when the file is read, before any override.
        guard path.first != "extends" else {
            throw RecError(.usage, "--set cannot change 'extends' (it is resolved when the file is read); edit the spec instead")
        }
        let value = try YAMLParser.parse(text, file: origin)
        try checkPath(path, in: tree, at: value.location, what: "--set")
        _ = tree.set(value, at: path[...])
    }

    /// Every step but the last must exist as a mapping (or a list the step indexes); the last may be new (strict decoding then
    /// judges it). The error names the first missing step and the nearest existing key.
    static func checkPath(_ path: [String], in tree: YAMLNode, at location: SourceLocation, what: String) throws {
        guard !path.isEmpty, !path.contains("") else {
            throw RecError(.spec, "\(what): '\(path.joined(separator: "."))' is not a key path", at: location)
        }
        var node = tree
        for (depth, step) in path.enumerated() {
            if let items = node.items {
                guard let index = Int(step), items.indices.contains(index) else {
                    throw RecError(
                        .spec, "\(what): '\(path[..<depth].joined(separator: "."))' is a list of \(items.count); step '\(step)' must be an index from 0 to \(items.count - 1)", at: location)
                }
                if depth == path.count - 1 { return }
                node = items[index]
                continue
            }
            guard let entries = node.entries else {
                throw RecError(.spec, "\(what): '\(path[..<depth].joined(separator: "."))' is not a mapping", at: location)
            }
            if depth == path.count - 1 { return }
            guard let next = node[step] else {
                var message = "\(what): '\(path.joined(separator: "."))' does not exist: no key '\(step)'"
                if depth > 0 { message += " under '\(path[..<depth].joined(separator: "."))'" }
                if let near = nearest(step, in: entries.map(\.key)) { message += "; did you mean '\(near)'?" }
                throw RecError(.spec, message, at: location)
            }
            node = next
        }
    }

    // MARK: - sweep

    /// The grid: each plain key is an axis of its own; each group under `zip:` is one axis whose
    /// lists advance together.
    /// Fails before expanding when the grid has more than `maxPoints` points.
    static func grid(_ sweep: YAMLNode, tree: YAMLNode, maxPoints: Int = .max, cellsPerPoint: Int = 1, maxCells: Int = .max) throws -> [[(String, YAMLNode)]] {
        guard let entries = sweep.entries else {
            throw RecError(.spec, "expected a mapping of key paths to lists, found \(sweep.shapeName)", at: sweep.location, key: "sweep")
        }
        var axes: [[[(String, YAMLNode)]]] = []
        func values(_ entry: YAMLEntry) throws -> [YAMLNode] {
            guard let items = entry.value.items, !items.isEmpty else {
                throw RecError(.spec, "expected a non-empty list of values, found \(entry.value.shapeName)", at: entry.value.location, key: "sweep.\(entry.key)")
            }
            try checkPath(entry.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init), in: tree, at: entry.keyLocation, what: "sweep")
            return items
        }
        for entry in entries {
            if entry.key == "zip" {
                guard let groups = entry.value.items else {
                    throw RecError(.spec, "expected a list of mappings, found \(entry.value.shapeName)", at: entry.value.location, key: "sweep.zip")
                }
                for group in groups {
                    guard let members = group.entries, !members.isEmpty else {
                        throw RecError(.spec, "expected a mapping of key paths to lists, found \(group.shapeName)", at: group.location, key: "sweep.zip")
                    }
                    let lists = try members.map { try values($0) }
                    guard Set(lists.map(\.count)).count == 1 else {
                        throw RecError(.spec, "zipped lists must have the same length; found \(lists.map(\.count).map(String.init).joined(separator: ", "))", at: group.location, key: "sweep.zip")
                    }
                    axes.append((0..<lists[0].count).map { i in zip(members, lists).map { ($0.key, $1[i]) } })
                }
            } else {
                axes.append(try values(entry).map { [(entry.key, $0)] })
            }
        }
        var size = 1
        for axis in axes {
            let (product, overflow) = size.multipliedReportingOverflow(by: axis.count)
            size = overflow ? .max : product
        }
        if size > maxPoints {
            let cells = size.multipliedReportingOverflow(by: cellsPerPoint)
            let count = cells.overflow ? "more than \(Int.max)" : "\(cells.partialValue)"
            throw RecError(
                .spec, "the sweep expands to \(size) points and \(count) cells, over the limit of \(maxCells); shrink the grid, or pass --max-cells N to allow more",
                at: sweep.location, key: "sweep")
        }
        var points: [[(String, YAMLNode)]] = [[]]
        for axis in axes {
            points = points.flatMap { prefix in axis.map { prefix + $0 } }
        }
        return points
    }

    /// A compact, stable text form of a node (labels and hashes).
    public static func render(_ node: YAMLNode) -> String {
        switch node.value {
        case .scalar(let text, let plain): return plain ? text : "\"\(text)\""
        case .sequence(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
        case .mapping(let entries): return "{" + entries.map { "\($0.key): \(render($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}
