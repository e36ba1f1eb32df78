import Foundation

/// A small command-line parser: positionals, `--option value` (repeatable), and `--flag`.
/// Unknown options are usage errors that name the nearest known one.
public struct CommandArguments: Sendable {
    public var positionals: [String] = []
    public var options: [String: [String]] = [:]
    public var flags: Set<String> = []

    public init(_ raw: ArraySlice<String>, options known: Set<String>, flags knownFlags: Set<String>) throws {
        var iterator = raw.makeIterator()
        while let word = iterator.next() {
            if word == "--" {
                while let rest = iterator.next() { positionals.append(rest) }
                break
            }
            guard word.hasPrefix("-") && word.count > 1 else {
                positionals.append(word)
                continue
            }
            var name = word
            var inlineValue: String?
            if let equals = word.firstIndex(of: "="), word.hasPrefix("--") {
                name = String(word[..<equals])
                inlineValue = String(word[word.index(after: equals)...])
            }
            if knownFlags.contains(name) {
                flags.insert(name)
            } else if known.contains(name) {
                guard let value = inlineValue ?? iterator.next() else { throw RecError.usage("\(name) needs a value") }
                // `--db --quiet` means a forgotten value, not a database named "--quiet".
                if inlineValue == nil, known.contains(value) || knownFlags.contains(value) {
                    throw RecError.usage("\(name) needs a value, found the option '\(value)'")
                }
                options[name, default: []].append(value)
            } else {
                var message = "unknown option '\(name)'"
                if let near = nearest(name, in: Array(known) + Array(knownFlags)) { message += "; did you mean '\(near)'?" }
                throw RecError.usage(message)
            }
        }
    }

    public func value(_ name: String) -> String? { options[name]?.last }
    public func values(_ name: String) -> [String] { options[name] ?? [] }
    public func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// A whole number in `range` (every count a command takes has one).
    public func int(_ name: String, default value: Int, in range: ClosedRange<Int> = 0...Int(Int32.max)) throws -> Int {
        guard let text = self.value(name) else { return value }
        guard let parsed = Int(text) else { throw RecError.usage("\(name) expects a whole number, got '\(Excerpt.of(text))'") }
        guard range.contains(parsed) else {
            throw RecError.usage("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(parsed)")
        }
        return parsed
    }

    /// A count of at least 1 (sizes, repeats, epochs).
    public func intPositive(_ name: String, default value: Int) throws -> Int {
        try int(name, default: value, in: 1...Int(Int32.max))
    }

    /// A seed: any whole number from 0 to 2^64 - 1.
    public func seed(_ name: String, default value: UInt64 = 0) throws -> UInt64 {
        guard let text = self.value(name) else { return value }
        guard let parsed = UInt64(text) else {
            throw RecError.usage("\(name) expects a whole number from 0 to \(UInt64.max), got '\(Excerpt.of(text))'")
        }
        return parsed
    }

    /// A finite number in `range`.
    public func double(_ name: String, default value: Double, in range: ClosedRange<Double>) throws -> Double {
        guard let text = self.value(name) else { return value }
        guard let parsed = Double(text), parsed.isFinite else {
            throw RecError.usage("\(name) expects a finite number, got '\(Excerpt.of(text))'")
        }
        guard range.contains(parsed) else {
            throw RecError.usage("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(parsed)")
        }
        return parsed
    }

    /// Exactly `count` positionals, or a usage error naming what is missing.
    public func positionals(_ count: Int, _ what: String) throws -> [String] {
        guard positionals.count == count else {
            throw RecError.usage(positionals.count < count ? "missing \(what)" : "unexpected argument '\(positionals[count])'")
        }
        return positionals
    }
}

/// A subcommand a plugin contributes to `reclab` (`reclab palr export-instructions ...`). The
/// CLI lists it with the built-in commands and hands it the arguments after its name and a
/// context for what plugins cannot do alone, such as loading a spec's split.
public protocol PluginCommand: SendableMetatype {
    /// The word after `reclab`; it must not be a built-in command's.
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static func run(_ arguments: CommandArguments.Raw, context: CommandContext) throws -> Int32
}

extension CommandArguments {
    /// The words after the command's name.
    public typealias Raw = ArraySlice<String>
}

/// What the CLI does for a plugin command.
public struct CommandContext: Sendable {
    /// Loads SPEC (with `--set` overrides, data under `dataRoot` or the default root) and
    /// returns the experiment's name and the split its cells see for their first seed.
    public var loadSplit: @Sendable (_ spec: String, _ overrides: [String], _ dataRoot: String?) throws -> (name: String, split: SplitData)

    public init(loadSplit: @escaping @Sendable (String, [String], String?) throws -> (name: String, split: SplitData)) {
        self.loadSplit = loadSplit
    }
}
