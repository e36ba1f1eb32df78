import CZlib
import Foundation

/// Just enough of PNG to read back what rsvg-convert writes (8-bit RGB or RGBA, not
/// interlaced): the chunks, zlib inflation of the image data, and the five row filters.
struct PNGImage {
    var width = 0, height = 0
    /// RGBA, row-major.
    var pixels: [UInt8] = []

    struct Unreadable: Error, CustomStringConvertible { var description: String }

    init(_ bytes: [UInt8]) throws {
        guard bytes.count > 8, bytes[0..<8].elementsEqual([137, 80, 78, 71, 13, 10, 26, 10]) else { throw Unreadable(description: "not a PNG") }
        func u32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        var offset = 8, compressed: [UInt8] = [], channels = 0
        while offset + 8 <= bytes.count {
            let length = u32(offset), type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            switch type {
            case "IHDR":
                width = u32(offset + 8)
                height = u32(offset + 12)
                guard body[8] == 8, body[12] == 0, [2, 6].contains(body[9]) else { throw Unreadable(description: "unsupported PNG layout \(body)") }
                channels = body[9] == 6 ? 4 : 3
            case "IDAT": compressed += body
            default: break
            }
            offset += 12 + length
        }
        let rowBytes = width * channels
        var raw = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var size = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { out in
            compressed.withUnsafeBufferPointer { uncompress(out.baseAddress, &size, $0.baseAddress, uLong($0.count)) }
        }
        guard status == Z_OK, Int(size) == raw.count else { throw Unreadable(description: "zlib status \(status)") }
        var previous = [UInt8](repeating: 0, count: rowBytes), rows: [UInt8] = []
        for y in 0..<height {
            let filter = raw[y * (rowBytes + 1)]
            var row = Array(raw[(y * (rowBytes + 1) + 1)..<((y + 1) * (rowBytes + 1))])
            for x in 0..<rowBytes {
                let a = x >= channels ? Int(row[x - channels]) : 0, b = Int(previous[x]), c = x >= channels ? Int(previous[x - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw Unreadable(description: "row filter \(filter)")
                }
                row[x] = UInt8((Int(row[x]) + predictor) & 0xFF)
            }
            rows += row
            previous = row
        }
        if channels == 4 {
            pixels = rows
        } else {
            pixels.reserveCapacity(rows.count / 3 * 4)
            for i in stride(from: 0, to: rows.count, by: 3) { pixels += [rows[i], rows[i + 1], rows[i + 2], 255] }
        }
    }

    /// Pixels that are neither white nor transparent.
    var inkedPixels: Int {
        stride(from: 0, to: pixels.count, by: 4).filter(isInked).count
    }

    private func isInked(_ i: Int) -> Bool {
        pixels[i + 3] > 0 && (pixels[i] < 235 || pixels[i + 1] < 235 || pixels[i + 2] < 235)
    }

    /// Opaque pixels within a small distance of `colour`.
    func pixels(near colour: (UInt8, UInt8, UInt8)) -> Int {
        func close(_ a: UInt8, _ b: UInt8) -> Bool { abs(Int(a) - Int(b)) < 24 }
        var count = 0
        for i in stride(from: 0, to: pixels.count, by: 4) where pixels[i + 3] > 200 {
            if close(pixels[i], colour.0) && close(pixels[i + 1], colour.1) && close(pixels[i + 2], colour.2) { count += 1 }
        }
        return count
    }

    /// Distinct colours among the inked pixels, coarsely binned.
    var inkColours: Int {
        Set(
            stride(from: 0, to: pixels.count, by: 4).compactMap { i -> Int? in
                guard isInked(i) else { return nil }
                return Int(pixels[i] >> 5) << 6 | Int(pixels[i + 1] >> 5) << 3 | Int(pixels[i + 2] >> 5)
            }
        ).count
    }
}
