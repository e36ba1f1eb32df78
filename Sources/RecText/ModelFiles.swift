import Foundation
import RecCore

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

    /// `error` from reading a model file, with the setup command that restores it.
    public static func corrupt(_ error: Error) -> RecError {
        let message = (error as? RecError)?.message ?? "\(error)"
        return RecError(.data, "\(message); the model files look damaged: run `\(setupCommand)` to fetch them again")
    }
}
