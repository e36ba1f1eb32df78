import CLZMA
import RecCore

/// xz streams through liblzma: data files may be compressed, and exports (`cache export`) may
/// be written compressed.
public enum XZ {
    /// Decompresses `input`, refusing to produce more than `limit` bytes (a small file can
    /// expand to gigabytes) or to use more than 256 MiB for the decoder's dictionary.
    public static func decompress(_ input: [UInt8], path: String, limit: Int) throws -> [UInt8] {
        var stream = lzma_stream()
        guard lzma_stream_decoder(&stream, 256 << 20, 0) == LZMA_OK else {
            throw RecError.data("cannot start the xz decoder for '\(path)'")
        }
        defer { lzma_end(&stream) }
        return try drain(&stream, input) { status, count in
            guard count <= limit else {
                throw RecError.data("'\(path)' expands to more than \(limit) bytes; the limit for a data file is \(limit)")
            }
            if status == LZMA_MEMLIMIT_ERROR {
                throw RecError.data("'\(path)' needs more than 256 MiB of memory to decompress (an xz dictionary that large is not a data file's)")
            }
            guard status == LZMA_OK || status == LZMA_STREAM_END else {
                throw RecError.data("'\(path)' is not a valid xz file or is truncated (lzma error \(status.rawValue))")
            }
        }
    }

    /// `input` as an xz stream at liblzma's default preset (6) with a CRC64 check, as `xz`
    /// writes it.
    public static func compress(_ input: [UInt8]) throws -> [UInt8] {
        var stream = lzma_stream()
        guard lzma_easy_encoder(&stream, 6, LZMA_CHECK_CRC64) == LZMA_OK else {
            throw RecError(.io, "cannot start the xz encoder (out of memory?)")
        }
        defer { lzma_end(&stream) }
        return try drain(&stream, input) { status, _ in
            guard status == LZMA_OK || status == LZMA_STREAM_END else { throw RecError(.io, "xz compression failed (lzma error \(status.rawValue))") }
        }
    }

    /// Runs `stream` over all of `input` to its end, a megabyte of output at a time; `check`
    /// sees each status and the output's size so far and throws to stop.
    private static func drain(_ stream: inout lzma_stream, _ input: [UInt8], check: (lzma_ret, Int) throws -> Void) throws -> [UInt8] {
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        return try input.withUnsafeBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = source.count
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { buffer -> lzma_ret in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = buffer.count
                    return lzma_code(&stream, LZMA_FINISH)
                }
                output.append(contentsOf: chunk[0..<(chunk.count - stream.avail_out)])
                try check(status, output.count)
                if status == LZMA_STREAM_END { return output }
            }
        }
    }
}
