import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A scripted HTTP/1.1 server on 127.0.0.1 for client tests: each request gets the next action
/// (a reply, a reply after a delay, or a dropped connection); every request is recorded.
public final class FaultServer: @unchecked Sendable {
    public enum Action {
        case reply(status: Int, headers: [String: String] = [:], body: String)
        case slow(seconds: Double, body: String)
        case drop
        /// These bytes as the whole response, status line and headers included.
        case raw(String)
        /// A reply computed from the request (the script's last action then serves every
        /// later request too).
        case handler(@Sendable (Request) -> (status: Int, body: String))
    }

    public struct Request {
        public var path: String
        public var headers: [String: String]
        public var body: String
    }

    private let socket: Int32
    public let port: UInt16
    private let lock = NSLock()
    private var script: [Action]
    public private(set) var requests: [Request] = []
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public init(_ script: [Action]) throws {
        self.script = script
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(socket, 16) == 0 else { throw NSError(domain: "FaultServer", code: Int(errno)) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        self.socket = socket
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    private var stopped = false

    /// Stops accepting; the accept thread closes the socket itself, so its descriptor cannot be
    /// reused by another server while that thread still holds it.
    public func stop() { lock.withLock { stopped = true } }

    public var count: Int { lock.withLock { requests.count } }

    private func acceptLoop() {
        defer { close(socket) }
        while !lock.withLock({ stopped }) {
            var ready = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 50) > 0 else { continue }
            let client = accept(socket, nil, nil)
            guard client >= 0 else { return }
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        guard let request = read(client) else { return }
        let action: Action = lock.withLock {
            requests.append(request)
            if case .handler? = script.first, script.count == 1 { return script[0] }
            return script.isEmpty ? .reply(status: 500, body: "script exhausted") : script.removeFirst()
        }
        switch action {
        case .drop:
            return
        case .slow(let seconds, let body):
            Thread.sleep(forTimeInterval: seconds)
            write(client, status: 200, headers: [:], body: body)
        case .reply(let status, let headers, let body):
            write(client, status: status, headers: headers, body: body)
        case .raw(let text):
            send(client, Array(text.utf8))
        case .handler(let answer):
            let (status, body) = answer(request)
            write(client, status: status, headers: [:], body: body)
        }
    }

    private func read(_ client: Int32) -> Request? {
        var buffer = [UInt8](), chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(client, &chunk, chunk.count, 0)
            guard n > 0 else { return nil }
            buffer += chunk[0..<n]
            let text = String(decoding: buffer, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { continue }
            let head = text[..<end.lowerBound].split(separator: "\r\n")
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                if let colon = line.firstIndex(of: ":") {
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            let headerBytes = text[..<end.upperBound].utf8.count
            if buffer.count - headerBytes < length { continue }
            let path = head.first?.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            return Request(path: path, headers: headers, body: String(decoding: buffer[headerBytes..<(headerBytes + length)], as: UTF8.self))
        }
    }

    private func write(_ client: Int32, status: Int, headers: [String: String], body: String) {
        var head = "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        send(client, Array((head + "\r\n" + body).utf8))
    }

    private func send(_ client: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // A graceful close: no reset that the client could take for a failure.
        shutdown(client, Int32(SHUT_WR))
        var drain = [UInt8](repeating: 0, count: 1024)
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while recv(client, &drain, drain.count, 0) > 0 {}
    }
}
