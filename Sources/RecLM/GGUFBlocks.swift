import RecQuant
import RecTensor

/// ggml's 5-bit and k-quant block formats, widened to Float32 with ggml's own arithmetic, so
/// that every value equals what llama.cpp's `get_rows` gives (tested against ggml's
/// dequantisation in Tests/Fixtures/kquants). The products of a Float16 scale, a 6-bit scale
/// and a 5-bit quant are exact in Float32, so whether a compiler fuses the following add
/// changes nothing.
///
/// Layouts (bytes, in order; `f16` is IEEE half):
/// - Q5_0, 32 values in 22 bytes: `d` f16, `qh` 4 (bit j is value j's fifth bit), `qs` 16 (value
///   j in the low nibble of byte j, value j + 16 in the high one); value = (q - 16) d.
/// - Q5_1, 32 values in 24 bytes: `d` f16, `m` f16, `qh` 4, `qs` 16; value = q d + m.
/// - Q4_K, 256 values in 144 bytes: `d` f16, `dmin` f16, `scales` 12 (eight 6-bit scales and
///   eight 6-bit mins, one pair per sub-block of 32), `qs` 128. Each 64 values share 32 bytes:
///   the first 32 in the low nibbles, the next 32 in the high ones; value = d·sc·q − dmin·m.
/// - Q5_K, 256 values in 176 bytes: as Q4_K with `qh` 32 between `scales` and `qs`; bit 2i of
///   `qh[l]` is the fifth bit of value l of the i-th 64's low half, bit 2i + 1 of its high half.
/// - Q6_K, 256 values in 210 bytes: `ql` 128 (low 4 bits), `qh` 64 (high 2 bits), `scales` 16
///   signed bytes (one per 16 values), `d` f16 last; value = d·sc·(q − 32).
/// - Q8_K, 256 values in 292 bytes: `d` Float32, `qs` 256 signed bytes, `bsums` 16 Int16 (the
///   sums of each 16 quants, read by dot products only); value = d q.
enum GGUFBlocks {
    /// Widens `out.count` values of a 5-bit block format (`withMin`: Q5_1, else Q5_0).
    static func q5(_ source: UnsafeRawPointer, withMin: Bool, into out: UnsafeMutableBufferPointer<Float>) {
        let bytes = withMin ? 24 : 22, header = withMin ? 4 : 2
        for block in 0..<(out.count / 32) {
            let at = source + block * bytes
            let d = loadHalf(at, at: 0), m = withMin ? loadHalf(at, at: 2) : 0
            let qh = at.loadUnaligned(fromByteOffset: header, as: UInt32.self).littleEndian
            let qs = (at + header + 4).assumingMemoryBound(to: UInt8.self)
            let o = block * 32
            for j in 0..<16 {
                let low = Int(qs[j] & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
                let high = Int(qs[j] >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                if withMin {
                    out[o + j] = Float(low) * d + m
                    out[o + j + 16] = Float(high) * d + m
                } else {
                    out[o + j] = Float(low - 16) * d
                    out[o + j + 16] = Float(high - 16) * d
                }
            }
        }
    }

    /// Widens `out.count` values of Q4_K (`fifthBit`: false) or Q5_K (true).
    static func q45K(_ source: UnsafeRawPointer, fifthBit: Bool, into out: UnsafeMutableBufferPointer<Float>) {
        let bytes = fifthBit ? 176 : 144
        for block in 0..<(out.count / 256) {
            let at = source + block * bytes
            let d = loadHalf(at, at: 0), dmin = loadHalf(at, at: 2)
            let scales = (at + 4).assumingMemoryBound(to: UInt8.self)
            let qh = (at + 16).assumingMemoryBound(to: UInt8.self)
            let qs = (at + (fifthBit ? 48 : 16)).assumingMemoryBound(to: UInt8.self)
            for half in 0..<4 {
                let q = qs + 32 * half
                for side in 0..<2 {
                    let (sc, m) = kQuantScaleMin(2 * half + side, scales)
                    let scale = d * Float(sc), offset = dmin * Float(m)
                    let bit = UInt8(1) << UInt8(2 * half + side)
                    let o = block * 256 + half * 64 + side * 32
                    for l in 0..<32 {
                        var value = side == 0 ? q[l] & 0x0F : q[l] >> 4
                        if fifthBit && qh[l] & bit != 0 { value += 16 }
                        out[o + l] = scale * Float(value) - offset
                    }
                }
            }
        }
    }

    /// Widens `out.count` values of Q6_K.
    static func q6K(_ source: UnsafeRawPointer, into out: UnsafeMutableBufferPointer<Float>) {
        for block in 0..<(out.count / 256) {
            let at = source + block * 210
            let d = loadHalf(at, at: 208)
            for part in 0..<2 {
                let ql = (at + 64 * part).assumingMemoryBound(to: UInt8.self)
                let qh = (at + 128 + 32 * part).assumingMemoryBound(to: UInt8.self)
                let sc = (at + 192 + 8 * part).assumingMemoryBound(to: Int8.self)
                let o = block * 256 + part * 128
                for l in 0..<32 {
                    // Four values per l: low/high nibble of ql[l] and ql[l + 32], with two bits
                    // each from qh[l]; the 16-value groups take scales is, is + 2, + 4, + 6.
                    let group = l / 16
                    for quarter in 0..<4 {
                        let nibble = quarter < 2 ? ql[l + 32 * quarter] & 0x0F : ql[l + 32 * (quarter - 2)] >> 4
                        let q = Int(nibble | ((qh[l] >> UInt8(2 * quarter)) & 3) << 4) - 32
                        out[o + l + 32 * quarter] = d * Float(sc[group + 2 * quarter]) * Float(q)
                    }
                }
            }
        }
    }

    /// Widens `out.count` values of Q8_K.
    static func q8K(_ source: UnsafeRawPointer, into out: UnsafeMutableBufferPointer<Float>) {
        for block in 0..<(out.count / 256) {
            let at = source + block * 292
            let d = Float(bitPattern: at.loadUnaligned(as: UInt32.self).littleEndian)
            let qs = (at + 4).assumingMemoryBound(to: Int8.self)
            for j in 0..<256 { out[block * 256 + j] = d * Float(qs[j]) }
        }
    }
}
