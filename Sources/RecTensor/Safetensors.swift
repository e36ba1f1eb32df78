import Foundation
import RecCore

/// Checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON header
/// of name -> dtype, shape and byte offsets, then the raw little-endian data), so weights can be
/// inspected with the usual tools.
public enum Safetensors {
    /// Serialises named F32 tensors; names are written in sorted order.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + tensor.count * 4]]
            offset += tensor.count * 4
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }  // pad to 8 bytes with spaces
        var bytes = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        bytes += json
        bytes.reserveCapacity(bytes.count + offset)
        for name in names {
            tensors[name]!.data.withUnsafeBytes { bytes += $0 }
        }
        return bytes
    }

    /// Parses a safetensors buffer; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String = "checkpoint") throws -> [String: Tensor] {
        func fail(_ message: String) -> RecError { RecError(.data, "\(file): \(message)") }
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, no header length") }
        let headerLength = Int(bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        guard headerLength <= bytes.count - 8 else {
            throw fail("truncated: the header claims \(headerLength) bytes, the file has \(bytes.count - 8) after the length")
        }
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let dataStart = 8 + headerLength
        var tensors: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw fail("tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw fail("tensor '\(name)' has dtype \(dtype); only F32 is supported here") }
            let count = shape.reduce(1, *)
            guard offsets[1] - offsets[0] == count * 4, offsets[0] >= 0 else {
                throw fail("tensor '\(name)': shape \(shape) needs \(count * 4) bytes, offsets give \(offsets[1] - offsets[0])")
            }
            guard dataStart + offsets[1] <= bytes.count else {
                throw fail("truncated: tensor '\(name)' ends at byte \(dataStart + offsets[1]), the file has \(bytes.count)")
            }
            let values = bytes.withUnsafeBytes { raw in
                (0..<count).map { raw.loadUnaligned(fromByteOffset: dataStart + offsets[0] + $0 * 4, as: Float.self) }
            }
            tensors[name] = Tensor(shape: shape, data: values, requiresGrad: true)
        }
        return tensors
    }

    public static func save(_ tensors: [String: Tensor], to path: String, metadata: [String: String] = [:]) throws {
        try Data(encode(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func load(_ path: String) throws -> [String: Tensor] {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecError(.data, "cannot read checkpoint '\(path)'") }
        return try decode(Array(data), file: path)
    }
}
