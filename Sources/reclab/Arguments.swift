import RecCore

/// A small command-line parser: positionals, `--option value` (repeatable), and `--flag`.
/// Unknown options are usage errors that name the nearest known one.
struct Arguments {
    var positionals: [String] = []
    var options: [String: [String]] = [:]
    var flags: Set<String> = []

    init(_ raw: ArraySlice<String>, options known: Set<String>, flags knownFlags: Set<String>) throws {
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
                options[name, default: []].append(value)
            } else {
                var message = "unknown option '\(name)'"
                if let near = nearest(name, in: Array(known) + Array(knownFlags)) { message += "; did you mean '\(near)'?" }
                throw RecError.usage(message)
            }
        }
    }

    func value(_ name: String) -> String? { options[name]?.last }
    func values(_ name: String) -> [String] { options[name] ?? [] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func int(_ name: String, default value: Int) throws -> Int {
        guard let text = self.value(name) else { return value }
        guard let parsed = Int(text) else { throw RecError.usage("\(name) expects a whole number, got '\(text)'") }
        return parsed
    }

    func double(_ name: String, default value: Double) throws -> Double {
        guard let text = self.value(name) else { return value }
        guard let parsed = Double(text) else { throw RecError.usage("\(name) expects a number, got '\(text)'") }
        return parsed
    }

    /// Exactly `count` positionals, or a usage error naming what is missing.
    func positionals(_ count: Int, _ what: String) throws -> [String] {
        guard positionals.count == count else {
            throw RecError.usage(positionals.count < count ? "missing \(what)" : "unexpected argument '\(positionals[count])'")
        }
        return positionals
    }
}
