import Foundation
import RecCore

/// A file mapped into memory read-only, unmapped when released; an empty file maps to an empty
/// buffer. Errors name the path. Model readers (safetensors, GGUF) read their tensors from here.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        // Checked first, so that a FIFO is refused instead of blocking `open`.
        _ = try InputFile.size(path, what: "model file")
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw RecError(.data, "\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw RecError(.data, "\(path): cannot stat (\(String(cString: strerror(errno))))") }
        let size = Int(info.st_size)
        guard info.st_mode & S_IFMT == S_IFREG else { throw RecError(.data, "\(path): not a regular file") }
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw RecError(.data, "\(path): cannot map (\(String(cString: strerror(errno))))")
        }
        bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// The little-endian IEEE half (F16) at `offset`, widened to Float32.
@inlinable
public func loadHalf(_ raw: UnsafeRawPointer, at offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

/// The little-endian bfloat16 at `offset`, widened to Float32 (its bits are a Float32's top half).
@inlinable
public func loadBFloat16(_ raw: UnsafeRawPointer, at offset: Int) -> Float {
    Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) << 16)
}
