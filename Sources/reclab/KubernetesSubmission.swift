import Foundation
import RecCore

/// A Kubernetes object as the manifest writes it: mappings keep their order, and every string
/// is double-quoted, so no value changes type when read back.
indirect enum ManifestValue {
    case string(String)
    case int(Int)
    case bool(Bool)
    case list([ManifestValue])
    case map([(String, ManifestValue)])

    /// YAML lines at `indent` spaces (block style; empty lists and maps inline).
    func yaml(indent: Int = 0) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .map(let entries):
            return entries.flatMap { key, value -> [String] in
                switch value {
                case .map(let inner) where !inner.isEmpty: return ["\(pad)\(key):"] + value.yaml(indent: indent + 2)
                case .list(let items) where !items.isEmpty: return ["\(pad)\(key):"] + value.yaml(indent: indent)
                default: return ["\(pad)\(key): \(value.scalar)"]
                }
            }
        case .list(let items):
            return items.flatMap { item -> [String] in
                let lines: [String]
                switch item {
                case .map(let inner) where !inner.isEmpty: lines = item.yaml(indent: indent + 2)
                case .list(let inner) where !inner.isEmpty: lines = item.yaml(indent: indent + 2)
                default: return ["\(pad)- \(item.scalar)"]
                }
                // The item's first line carries the dash in place of its first two spaces.
                return ["\(pad)- " + lines[0].dropFirst(indent + 2)] + lines.dropFirst()
            }
        default:
            return [pad + scalar]
        }
    }

    private var scalar: String {
        switch self {
        case .string(let text): return Self.quoted(text)
        case .int(let value): return "\(value)"
        case .bool(let value): return value ? "true" : "false"
        case .list: return "[]"
        case .map: return "{}"
        }
    }

    /// A YAML double-quoted scalar (JSON's escapes are YAML's).
    static func quoted(_ text: String) -> String {
        (try? canonicalJSON(text)) ?? "\"\""
    }
}

/// `reclab submit k8s`: a results volume claim, a stages Job (when the plan has stages), an
/// Indexed Job of the shards and a merge Job. Kubernetes orders no Jobs, so each waits for the
/// files the one before leaves on the shared volume: `stages.done`, then `shard-I.done` for
/// every index, written only when that step succeeded.
struct KubernetesSubmission {
    let submission: ClusterSubmission
    let image: String
    let namespace: String
    let storage: String
    let storageClass: String?
    let resources: [(String, ManifestValue)]
    static let mount = "/results"

    init(_ local: ClusterSubmission, _ args: CommandArguments) throws {
        guard let image = args.value("--image") else {
            throw RecError.usage("submit k8s needs --image IMAGE: a container image with reclab on its PATH, the models and the data")
        }
        self.image = image
        namespace = args.value("--namespace") ?? "default"
        storage = args.value("--storage") ?? "10Gi"
        storageClass = args.value("--storage-class")
        var amounts: [(String, ManifestValue)] = []
        if args.value("--cpus") != nil { amounts.append(("cpu", .string("\(try args.int("--cpus", default: 1, in: 1...4096))"))) }
        if let memory = args.value("--mem") { amounts.append(("memory", .string(memory))) }
        resources = amounts.isEmpty ? [] : [("requests", .map(amounts)), ("limits", .map(amounts))]
        // Inside a pod: reclab from the image's PATH, the spec as given (relative to the
        // image's working directory), the results on the claimed volume.
        var inPod = local
        inPod.executable = "reclab"
        inPod.spec = args.positionals[1]
        inPod.results = Self.mount
        submission = inPod
    }

    var base: String {
        let cleaned = String(submission.experiment.lowercased().map { $0.isLetter && $0.isASCII || $0.isNumber ? $0 : "-" }.prefix(40))
        return "reclab-" + cleaned.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
    }

    func metadata(_ name: String) -> ManifestValue {
        .map([("name", .string(name)), ("namespace", .string(namespace)), ("labels", .map([("app.kubernetes.io/name", .string("reclab")), ("reclab/experiment", .string(base))]))])
    }

    func container(_ name: String, _ commands: [String]) -> ManifestValue {
        var entries: [(String, ManifestValue)] = [
            ("name", .string(name)), ("image", .string(image)),
            ("command", .list([.string("/bin/sh"), .string("-c"), .string((["set -eu"] + commands).joined(separator: "\n"))])),
            ("volumeMounts", .list([.map([("name", .string("results")), ("mountPath", .string(Self.mount))])])),
        ]
        if !resources.isEmpty { entries.append(("resources", .map(resources))) }
        return .map(entries)
    }

    func waitFor(_ files: [String]) -> String {
        "until " + files.map { "[ -f \(Self.mount)/\($0) ]" }.joined(separator: " && ") + "; do sleep 10; done"
    }

    func job(_ name: String, spec extra: [(String, ManifestValue)], initContainers: [ManifestValue], container: ManifestValue) -> ManifestValue {
        var pod: [(String, ManifestValue)] = [("restartPolicy", .string("OnFailure"))]
        if !initContainers.isEmpty { pod.append(("initContainers", .list(initContainers))) }
        pod += [
            ("containers", .list([container])),
            ("volumes", .list([.map([("name", .string("results")), ("persistentVolumeClaim", .map([("claimName", .string("\(base)-results"))]))])])),
        ]
        return .map([
            ("apiVersion", .string("batch/v1")), ("kind", .string("Job")), ("metadata", metadata(name)),
            ("spec", .map(extra + [("backoffLimit", .int(6)), ("template", .map([("metadata", .map([("labels", .map([("reclab/experiment", .string(base))]))])), ("spec", .map(pod))]))])),
        ])
    }

    var objects: [ManifestValue] {
        let s = submission
        var claim: [(String, ManifestValue)] = [
            ("accessModes", .list([.string("ReadWriteMany")])), ("resources", .map([("requests", .map([("storage", .string(storage))]))])),
        ]
        if let storageClass { claim.append(("storageClassName", .string(storageClass))) }
        var out: [ManifestValue] = [
            .map([("apiVersion", .string("v1")), ("kind", .string("PersistentVolumeClaim")), ("metadata", metadata("\(base)-results")), ("spec", .map(claim))])
        ]
        let waitStages = s.hasStages ? [container("wait-for-stages", [waitFor(["stages.done"])])] : []
        if s.hasStages {
            out.append(job("\(base)-stages", spec: [], initContainers: [], container: container("stages", s.stagesCommands + ["touch \(Self.mount)/stages.done"])))
        }
        out.append(
            job(
                "\(base)-shards",
                spec: [("completionMode", .string("Indexed")), ("completions", .int(s.jobs)), ("parallelism", .int(s.jobs))],
                initContainers: waitStages,
                container: container("shard", s.shardCommands(indexVariable: "JOB_COMPLETION_INDEX", marker: "\(Self.mount)/shard-{i}.done"))))
        out.append(
            job(
                "\(base)-merge", spec: [], initContainers: [container("wait-for-shards", [waitFor((0..<s.jobs).map { "shard-\($0).done" })])],
                container: container("merge", s.mergeCommands)))
        return out
    }

    var manifest: String {
        "# reclab submit k8s: experiment \(submission.experiment), \(submission.jobs) shard(s). Apply with `kubectl apply -f`.\n"
            + objects.map { $0.yaml().joined(separator: "\n") + "\n" }.joined(separator: "---\n")
    }

    func write(to path: String?) throws -> Int32 {
        let local = path.map(absolutePath) ?? absolutePath("results/\(submission.experiment)/k8s.yaml")
        try submission.write(manifest, to: local)
        print("wrote \(local): apply it with `kubectl apply -f \(local)`; results land on the volume claim \(base)-results")
        return 0
    }
}
