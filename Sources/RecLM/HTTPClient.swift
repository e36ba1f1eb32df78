import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import RecCore

/// A minimal HTTP/1.1 client for plain `http://` servers (a local llama-server or vLLM): one
/// connection per request (`Connection: close`), a deadline on connecting, sending and every
/// read, `Content-Length` or chunked bodies. Failures come back as `HTTPFailure` so the caller
/// can decide what to retry.
enum HTTPClient {
    struct Response { var status: Int; var headers: [String: String]; var body: Data }

    /// Replies are read whole; a completion with log-probabilities is well under this.
    static let maxReplyBytes = 64 << 20

    enum HTTPFailure: Error, CustomStringConvertible {
        case timedOut(Double), dropped, cannotConnect(String), tooLarge(Int)
        var description: String {
            switch self {
            case .tooLarge(let limit): return "the reply is larger than \(limit) bytes"
            case .timedOut(let seconds): return "no reply within \(seconds) s"
            case .dropped: return "the connection was dropped"
            case .cannotConnect(let reason): return "cannot connect (\(reason))"
            }
        }
    }

    static func post(_ url: URL, headers: [String: String], body: Data, timeout: Double) throws -> Response {
        guard let host = url.host else { throw HTTPFailure.cannotConnect("no host in \(url)") }
        let port = url.port ?? 80
        var hints = addrinfo(
            ai_flags: 0, ai_family: AF_UNSPEC, ai_socktype: Int32(SOCK_STREAM.rawValue), ai_protocol: 0,
            ai_addrlen: 0, ai_addr: nil, ai_canonname: nil, ai_next: nil)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else { throw HTTPFailure.cannotConnect("unknown host \(host)") }
        defer { freeaddrinfo(found) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw HTTPFailure.cannotConnect(String(cString: strerror(errno))) }
        defer { close(fd) }
        let deadline = Date().addingTimeInterval(timeout)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            throw errno == EINPROGRESS || errno == EAGAIN ? HTTPFailure.timedOut(timeout) : HTTPFailure.cannotConnect(String(cString: strerror(errno)))
        }
        var request = "POST \(url.path.isEmpty ? "/" : url.path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        request += "Content-Length: \(body.count)\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            // CR or LF in a header would let a value inject headers of its own.
            guard !Excerpt.hasControlCharacters(name + value) else { throw HTTPFailure.cannotConnect("the header \(name) holds a control character") }
            request += "\(name): \(value)\r\n"
        }
        let bytes = Array((request + "\r\n").utf8) + Array(body)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw errno == EAGAIN || errno == EWOULDBLOCK ? HTTPFailure.timedOut(timeout) : HTTPFailure.dropped }
            sent += n
        }
        // Read to the end of the stream (the server closes after the reply).
        var received = [UInt8](), chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            guard Date() < deadline else { throw HTTPFailure.timedOut(timeout) }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 {
                received += chunk[0..<n]
                guard received.count <= maxReplyBytes else { throw HTTPFailure.tooLarge(maxReplyBytes) }
                continue
            }
            if n == 0 { break }
            if errno == EINTR { continue }
            throw errno == EAGAIN || errno == EWOULDBLOCK ? HTTPFailure.timedOut(timeout) : HTTPFailure.dropped
        }
        return try parse(received)
    }

    static func parse(_ bytes: [UInt8]) throws -> Response {
        guard let split = bytes.indices.first(where: { i in i + 3 < bytes.count && bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 }) else {
            throw HTTPFailure.dropped
        }
        let head = String(decoding: bytes[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else { throw HTTPFailure.dropped }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(split + 4)...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var decoded = [UInt8](), position = 0
            while let lineEnd = body[position...].indices.first(where: { $0 + 1 < body.count && body[$0] == 13 && body[$0 + 1] == 10 }) {
                let sizeText = String(decoding: body[position..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else { throw HTTPFailure.dropped }
                if size == 0 { break }
                let start = lineEnd + 2
                guard size <= body.count - start else { throw HTTPFailure.dropped }
                decoded += body[start..<(start + size)]
                position = min(body.count, start + size + 2)
            }
            body = decoded
        } else if let length = headers["content-length"].flatMap(Int.init) {
            guard length >= 0, body.count >= length else { throw HTTPFailure.dropped }
            body = Array(body.prefix(length))
        }
        return Response(status: status, headers: headers, body: Data(body))
    }
}
