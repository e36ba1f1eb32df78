import Foundation

/// Opens input files the same way everywhere: the path must name a regular file (a FIFO or a
/// device would block or never end), within a size limit, and every failure says which of
/// "does not exist", "is a symlink loop", "is a directory" or "cannot be read" it was.
public enum InputFile {
    /// The size of the regular file at `path`, or an error of `kind` naming `what` and the path.
    public static func size(_ path: String, what: String = "file", kind: RecError.Kind = .data) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason: String
            switch errno {
            case ENOENT:
                var link = stat()
                reason = lstat(path, &link) == 0 ? "is a symbolic link to nothing" : "does not exist"
            case ELOOP: reason = "is a loop of symbolic links"
            case EACCES: reason = "cannot be read (permission denied)"
            case ENOTDIR: reason = "does not exist (a part of its path is not a folder)"
            default: reason = "cannot be read (\(String(cString: strerror(errno))))"
            }
            throw RecError(kind, "\(what) '\(path)' \(reason)")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return Int(info.st_size)
        case S_IFDIR: throw RecError(kind, "\(what) '\(path)' is a folder, not a file")
        default: throw RecError(kind, "\(what) '\(path)' is not a regular file (a pipe, socket or device); RecLab reads regular files only")
        }
    }

    /// The whole regular file at `path`, refusing files over `limit` bytes.
    public static func read(_ path: String, what: String = "file", kind: RecError.Kind = .data, limit: Int = 1 << 32) throws -> [UInt8] {
        let size = try size(path, what: what, kind: kind)
        guard size <= limit else {
            throw RecError(kind, "\(what) '\(path)' is \(size) bytes; the limit is \(limit)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RecError(kind, "\(what) '\(path)' cannot be read (permission denied or removed)")
        }
        defer { try? handle.close() }
        do {
            // Read what is there now, but never more than the limit (the file may grow).
            let data = try handle.read(upToCount: limit + 1) ?? Data()
            guard data.count <= limit else { throw RecError(kind, "\(what) '\(path)' grew past the limit of \(limit) bytes while being read") }
            return Array(data)
        } catch let error as RecError {
            throw error
        } catch {
            throw RecError(kind, "\(what) '\(path)' cannot be read (\((error as NSError).localizedFailureReason ?? error.localizedDescription))")
        }
    }

    /// Whether anything is at `path`, a broken or looping symbolic link included (reading it
    /// then says what is wrong, where `FileManager.fileExists` would say nothing is there).
    public static func entryExists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Whether `path` names an existing regular file (following symbolic links).
    public static func isRegular(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }
}
