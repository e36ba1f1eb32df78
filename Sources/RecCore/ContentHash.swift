import Foundation

/// The SHA-256 of a file's bytes, for keys that must change when the bytes do (the call cache
/// keys on the weights, not on a file name) and for checking downloaded weights.
///
/// Hashing a 100 MB model takes a moment, so the digest is kept beside the file in
/// `.<name>.sha256-cache` with the size, modification time and inode it was computed for, and
/// computed again when any of them changes. A folder that cannot be written just means the
/// digest is computed on every load.
public enum ContentHash {
    public static func of(_ path: String) throws -> String {
        _ = try InputFile.size(path, what: "model file")
        var info = stat()
        guard stat(path, &info) == 0 else { throw RecError(.data, "model file '\(path)' cannot be read") }
        let stamp = "\(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ino)"
        let sidecar = sidecarPath(path)
        if let cached = try? String(contentsOfFile: sidecar, encoding: .utf8) {
            let parts = cached.split(separator: "\n").first?.split(separator: " ").map(String.init) ?? []
            if parts.count == 4, parts[0...2].joined(separator: " ") == stamp, parts[3].count == 64 { return parts[3] }
        }
        let digest = try compute(path)
        try? Data("\(stamp) \(digest)\n".utf8).write(to: URL(fileURLWithPath: sidecar), options: .atomic)
        return digest
    }

    /// The digest computed from the bytes, reading 4 MiB at a time.
    public static func compute(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw RecError(.data, "model file '\(path)' cannot be read") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch { throw RecError(.data, "model file '\(path)' cannot be read") }
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalize().hexString
    }

    static func sidecarPath(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".sha256-cache").path
    }

    /// Checks `path` against the `.sha256` list in its folder (`sha256sum` format, as
    /// scripts/fetch-models.sh writes it), when the list names the file; returns its digest.
    @discardableResult
    public static func verify(_ path: String) throws -> String {
        let digest = try of(path)
        let url = URL(fileURLWithPath: path)
        let list = url.deletingLastPathComponent().appendingPathComponent(".sha256").path
        guard InputFile.isRegular(list), let text = try? String(contentsOfFile: list, encoding: .utf8) else { return digest }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            var name = parts[1].trimmingCharacters(in: .whitespaces)
            if name.hasPrefix("*") { name.removeFirst() }
            guard name == url.lastPathComponent else { continue }
            guard parts[0].lowercased() == digest else {
                throw RecError(
                    .data,
                    "\(path) does not match its checksum in \(list) (expected \(parts[0].prefix(16))…, found \(digest.prefix(16))…); the file was changed or damaged: run `\(ModelFiles.setupCommand)` to fetch it again"
                )
            }
            return digest
        }
        return digest
    }
}
