/// The plugins a RecLab build knows, keyed by `kind`. Built once, from the one list in
/// Plugins/AllPlugins, and passed to whoever needs it; there is no global registry.
public struct Registry: Sendable {
    public typealias Factory<Role> = @Sendable (any ConfigurationSource, ComponentContext) throws -> (Role, String)

    public struct Entry: Sendable {
        public var kind: String
        public var role: String
        public var summary: String
        /// The configuration with every default, as canonical JSON.
        public var defaults: String
    }

    private var retrievers: [String: Factory<any Retriever>] = [:]
    private var rankers: [String: Factory<any Ranker>] = [:]
    private var encoders: [String: Factory<any TextEncoder>] = [:]
    private var augmenters: [String: Factory<any KnowledgeAugmenter>] = [:]
    private var scorers: [String: Factory<any Scorer>] = [:]
    private var itemAugmenters: [String: Factory<any ItemAugmenter>] = [:]
    private var derivers: [String: Factory<AnyDeriver>] = [:]
    public private(set) var entries: [Entry] = []
    /// CLI subcommands the plugins contribute.
    public private(set) var commands: [any PluginCommand.Type] = []

    public init() {}

    /// Registers a retriever; a kind registered twice is an error.
    public mutating func register<R: Retriever>(_ type: R.Type) throws {
        try add(type, role: "retriever")
        retrievers[R.kind] = {
            let (made, json) = try Self.build(R.self, $0, $1); return (made, json)
        }
    }

    /// Registers a list retriever, evaluated through `ListRetrieverRows` by every ranking
    /// protocol; a kind registered twice is an error.
    public mutating func register<L: ListRetriever>(_ type: L.Type) throws {
        try add(type, role: "retriever")
        retrievers[L.kind] = {
            let (made, json) = try Self.build(ListRetrieverRows<L>.self, $0, $1); return (made, json)
        }
    }

    /// Registers a ranker; a kind registered twice is an error.
    public mutating func register<R: Ranker>(_ type: R.Type) throws {
        try add(type, role: "ranker")
        rankers[R.kind] = {
            let (made, json) = try Self.build(R.self, $0, $1); return (made, json)
        }
    }

    /// Registers a text encoder; a kind registered twice is an error.
    public mutating func register<E: TextEncoder>(_ type: E.Type) throws {
        try add(type, role: "encoder")
        encoders[E.kind] = {
            let (made, json) = try Self.build(E.self, $0, $1); return (made, json)
        }
    }

    /// Registers a knowledge augmenter; a kind registered twice is an error.
    public mutating func register<A: KnowledgeAugmenter>(_ type: A.Type) throws {
        try add(type, role: "augmenter")
        augmenters[A.kind] = {
            let (made, json) = try Self.build(A.self, $0, $1); return (made, json)
        }
    }

    /// Registers a pointwise scorer; a kind registered twice is an error.
    public mutating func register<S: Scorer>(_ type: S.Type) throws {
        try add(type, role: "scorer")
        scorers[S.kind] = {
            let (made, json) = try Self.build(S.self, $0, $1); return (made, json)
        }
    }

    /// Registers an item augmenter (a stage under a pipeline's `augment:`); a kind registered
    /// twice is an error.
    public mutating func register<A: ItemAugmenter>(_ type: A.Type) throws {
        try add(type, role: "item augmenter")
        itemAugmenters[A.kind] = {
            let (made, json) = try Self.build(A.self, $0, $1); return (made, json)
        }
    }

    /// Registers a deriver (a stage under a pipeline's `derive:`); a kind registered twice is
    /// an error.
    public mutating func register<D: Deriver>(_ type: D.Type) throws {
        try add(type, role: "deriver")
        derivers[D.kind] = {
            let (made, json) = try Self.build(D.self, $0, $1); return (AnyDeriver(made), json)
        }
    }

    /// Registers a type that is both a retriever and a scorer (biased MF ranks the catalogue by
    /// its predicted ratings): one entry, both factories.
    public mutating func register<C: Retriever & Scorer>(_ type: C.Type) throws {
        try add(type, role: "retriever, scorer")
        retrievers[C.kind] = {
            let (made, json) = try Self.build(C.self, $0, $1); return (made, json)
        }
        scorers[C.kind] = {
            let (made, json) = try Self.build(C.self, $0, $1); return (made, json)
        }
    }

    /// Adds a plugin's CLI subcommand; a name registered twice is an error.
    public mutating func register(command: any PluginCommand.Type) throws {
        guard !commands.contains(where: { $0.name == command.name }) else {
            throw RecError(.registry, "plugin command '\(command.name)' is registered twice")
        }
        commands.append(command)
    }

    /// Checks that `C.kind` is new and lists it under `role`.
    private mutating func add<C: Component>(_ type: C.Type, role: String) throws {
        try checkNew(C.kind)
        entries.append(try entry(type, role: role))
    }

    /// Every factory's body: decodes the configuration strictly, builds the component, and
    /// returns it with the resolved configuration as canonical JSON.
    private static func build<C: Component>(_: C.Type, _ source: any ConfigurationSource, _ context: ComponentContext) throws -> (C, String) {
        let configuration = try source.decode(C.Configuration.self)
        return (try C(configuration: configuration, context: context), try canonicalJSON(configuration))
    }

    public var retrieverKinds: [String] { retrievers.keys.sorted() }
    public var rankerKinds: [String] { rankers.keys.sorted() }
    public var encoderKinds: [String] { encoders.keys.sorted() }
    public var augmenterKinds: [String] { augmenters.keys.sorted() }
    public var scorerKinds: [String] { scorers.keys.sorted() }
    public var itemAugmenterKinds: [String] { itemAugmenters.keys.sorted() }
    public var deriverKinds: [String] { derivers.keys.sorted() }

    /// The roles a kind serves (empty when it is unknown), for errors that name the slot.
    public func roles(of kind: String) -> [String] {
        entries.first { $0.kind == kind }?.role.components(separatedBy: ", ") ?? []
    }

    /// Builds the retriever named `kind`, decoding its configuration from `decoder`.
    /// - Returns: the retriever and its resolved configuration as canonical JSON.
    public func makeRetriever(kind: String, configuration source: any ConfigurationSource, context: ComponentContext) throws -> (any Retriever, String) {
        guard let factory = retrievers[kind] else { throw unknown(kind, valid: retrieverKinds, role: "retriever") }
        return try factory(source, context)
    }

    public func makeRanker(kind: String, configuration source: any ConfigurationSource, context: ComponentContext) throws -> (any Ranker, String) {
        guard let factory = rankers[kind] else { throw unknown(kind, valid: rankerKinds, role: "ranker") }
        return try factory(source, context)
    }

    public func makeEncoder(kind: String, configuration source: any ConfigurationSource, context: ComponentContext) throws -> (any TextEncoder, String) {
        guard let factory = encoders[kind] else { throw unknown(kind, valid: encoderKinds, role: "encoder") }
        return try factory(source, context)
    }

    public func makeAugmenter(kind: String, configuration source: any ConfigurationSource, context: ComponentContext) throws -> (any KnowledgeAugmenter, String) {
        guard let factory = augmenters[kind] else { throw unknown(kind, valid: augmenterKinds, role: "augmenter") }
        return try factory(source, context)
    }

    public func makeScorer(kind: String, configuration source: any ConfigurationSource, context: ComponentContext) throws -> (any Scorer, String) {
        guard let factory = scorers[kind] else { throw unknown(kind, valid: scorerKinds, role: "scorer") }
        return try factory(source, context)
    }

    public func makeItemAugmenter(kind: String, configuration source: any ConfigurationSource, context: ComponentContext) throws -> (any ItemAugmenter, String) {
        guard let factory = itemAugmenters[kind] else { throw unknown(kind, valid: itemAugmenterKinds, role: "item augmenter") }
        return try factory(source, context)
    }

    public func makeDeriver(kind: String, configuration source: any ConfigurationSource, context: ComponentContext) throws -> (AnyDeriver, String) {
        guard let factory = derivers[kind] else { throw unknown(kind, valid: deriverKinds, role: "deriver") }
        return try factory(source, context)
    }

    private func checkNew(_ kind: String) throws {
        if entries.contains(where: { $0.kind == kind }) {
            throw RecError(.registry, "plugin kind '\(kind)' is registered twice")
        }
    }

    private func entry<C: Component>(_ type: C.Type, role: String) throws -> Entry {
        let defaults = try C.Configuration(from: EmptyDecoder())
        return Entry(kind: C.kind, role: role, summary: C.summary, defaults: try canonicalJSON(defaults))
    }

    private func unknown(_ kind: String, valid: [String], role: String) -> RecError {
        let serves = roles(of: kind)
        if !serves.isEmpty {
            let article = "aeiou".contains(role.first ?? "x") ? "an" : "a"
            return RecError(.registry, "'\(kind)' is a \(serves.joined(separator: " and ")), not \(article) \(role); \(role) kinds: \(valid.joined(separator: ", "))")
        }
        var message = "unknown \(role) type '\(kind)'; valid kinds: \(valid.joined(separator: ", "))"
        if let near = nearest(kind, in: valid) { message += " (did you mean '\(near)'?)" }
        return RecError(.registry, message)
    }
}

/// Where a plugin's configuration comes from: a YAML slot (strict, located errors) or, for
/// defaults, nothing at all.
public protocol ConfigurationSource {
    func decode<T: Decodable>(_ type: T.Type) throws -> T
}

/// The source with no keys: decoding from it gives every default.
public struct DefaultConfiguration: ConfigurationSource {
    public init() {}
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: EmptyDecoder()) }
}
