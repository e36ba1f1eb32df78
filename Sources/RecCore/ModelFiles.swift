import Foundation

/// Where model weights live: `$RECLAB_MODELS` if set, else `models` in the working directory
/// (the folder `scripts/fetch-models.sh` fills). Nothing is ever downloaded at run time.
public enum ModelFiles {
    public static let setupCommand = "bash scripts/fetch-models.sh"

    public static func root(_ explicit: String? = nil) -> String {
        explicit ?? ProcessInfo.processInfo.environment["RECLAB_MODELS"] ?? "models"
    }

    /// The folder of `model` under the root, after checking that every one of `files` exists.
    public static func directory(_ model: String, files: [String], root explicit: String? = nil) throws -> String {
        let directory = (root(explicit) as NSString).appendingPathComponent(model)
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: path) else {
                throw RecError(.data, "\(path) is missing; run `\(setupCommand)` to fetch the weights (or set RECLAB_MODELS to the folder holding \(model)/)")
            }
        }
        return directory
    }

    /// A model named by a path (`.../x.gguf`, used as it is) or by its folder under the root;
    /// a folder must hold exactly one file ending in `suffix`.
    public static func file(_ nameOrPath: String, suffix: String, root explicit: String? = nil) throws -> String {
        if nameOrPath.hasSuffix(suffix) {
            guard FileManager.default.fileExists(atPath: nameOrPath) else {
                throw RecError(.data, "\(nameOrPath) is missing; run `\(setupCommand)` or check the path")
            }
            return nameOrPath
        }
        let directory = (root(explicit) as NSString).appendingPathComponent(nameOrPath)
        let matches = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
        guard let first = matches.first else {
            throw RecError(.data, "no \(suffix) file in \(directory); run `\(setupCommand)` to fetch the weights (or set RECLAB_MODELS to the folder holding \(nameOrPath)/)")
        }
        guard matches.count == 1 else { throw RecError(.data, "\(directory) holds several \(suffix) files (\(matches.joined(separator: ", "))); name one by its path") }
        return (directory as NSString).appendingPathComponent(first)
    }

    /// `error` from reading a model file, with the setup command that restores it.
    public static func corrupt(_ error: Error) -> RecError {
        let message = (error as? RecError)?.message ?? "\(error)"
        return RecError(.data, "\(message); the model files look damaged: run `\(setupCommand)` to fetch them again")
    }
}
