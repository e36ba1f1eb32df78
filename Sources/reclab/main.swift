import AllPlugins
import Foundation
import RecCore
import RecData
import RecRunner
import RecSpec
import RecTensor

/// `reclab`: run, inspect and report RecLab experiments. One command per file.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static func run(_ arguments: ArraySlice<String>) throws -> Int32
}

let builtins: [any Command.Type] = [
    RunCommand.self, ValidateCommand.self, PlanCommand.self, ListCommand.self, ReportCommand.self,
    CompareCommand.self, DataCommand.self, AugmentCommand.self, MergeCommand.self, SubmitCommand.self, StatusCommand.self, BenchCommand.self, EncodeCommand.self, LMCommand.self, CacheCommand.self,
]

/// A command as the dispatcher sees it: a built-in one, or one a plugin registered.
struct CommandEntry {
    var name: String
    var summary: String
    var usage: String
    var run: (ArraySlice<String>) throws -> Int32
}

/// What plugin commands get from the CLI: the split a spec's cells see for their first seed.
let pluginContext = CommandContext { file, overrides, dataRoot in
    let loaded = try SpecLoader.load(path: file, overrides: overrides)
    let spec = loaded.base
    let stage = DataStage(catalog: DataCatalog(root: dataRoot))
    let prepared = try stage.prepare(spec.data, relativeTo: URL(fileURLWithPath: loaded.file).deletingLastPathComponent().path, runSeed: spec.seeds[0])
    return (spec.name, prepared.split)
}

/// Built-in commands first; a plugin command may not take a built-in name.
let commands: [CommandEntry] = {
    var entries = builtins.map { command in CommandEntry(name: command.name, summary: command.summary, usage: command.usage, run: command.run) }
    let plugins = (try? makeRegistry().commands) ?? []
    for command in plugins where !entries.contains(where: { $0.name == command.name }) {
        entries.append(CommandEntry(name: command.name, summary: command.summary, usage: command.usage) { try command.run($0, context: pluginContext) })
    }
    return entries
}()

@MainActor func mainHelp() -> String {
    var text = """
        reclab: experiments with LLM-based recommendation, from YAML specs to Markdown reports.

        Usage: reclab <command> [options]   (reclab <command> --help for details)

        Commands:

        """
    for command in commands { text += "  " + command.name.padding(toLength: 10, withPad: " ", startingAt: 0) + command.summary + "\n" }
    text += """

        Exit codes: 0 success, 64 usage error, 1 any other failure.
        Environment: RECLAB_DATA (data root, default ../shared/data), RECLAB_MODELS (model weights, default models).

        """
    return text
}

/// An error from Foundation or the system in words: the reason and the file it concerns,
/// rather than "NSCocoaErrorDomain 512".
func describeSystemError(_ error: Error) -> String {
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
    var text = ns.localizedFailureReason ?? ns.localizedDescription
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
        let code = POSIXErrorCode(rawValue: Int32(underlying.code))
    {
        text += " (\(String(cString: strerror(code.rawValue))))"
    }
    if let path = ns.userInfo[NSFilePathErrorKey] as? String, !text.contains(path) { text += ": \(path)" }
    return text
}

func printError(_ text: String) {
    // URL credentials never reach the terminal, whichever error carried them.
    FileHandle.standardError.write(Data(("error: " + Redaction.url(text) + "\n").utf8))
}

Tensor.retainFreedMemory()
let argv = CommandLine.arguments
var status: Int32 = 0
if argv.count < 2 || ["--help", "-h", "help"].contains(argv[1]) {
    if argv.count >= 3, argv[1] == "help", let command = commands.first(where: { $0.name == argv[2] }) {
        print(command.usage, terminator: "")
    } else {
        print(mainHelp(), terminator: "")
    }
    status = argv.count < 2 ? 64 : 0
} else if let command = commands.first(where: { $0.name == argv[1] }) {
    if argv.dropFirst(2).contains(where: { $0 == "--help" || $0 == "-h" }) {
        print(command.usage, terminator: "")
    } else {
        do {
            status = try command.run(argv.dropFirst(2))
        } catch let error as RecError {
            printError(error.description)
            if error.kind == .usage { printError("see 'reclab \(command.name) --help'") }
            status = error.kind == .usage ? 64 : 1
        } catch {
            printError(describeSystemError(error))
            status = 1
        }
    }
} else {
    var message = "unknown command '\(argv[1])'"
    if let near = nearest(argv[1], in: commands.map { $0.name }) { message += "; did you mean '\(near)'?" }
    printError(message + " (see 'reclab --help')")
    status = 64
}
exit(status)
