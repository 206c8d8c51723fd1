import Foundation

/// A type that can be converted to a `URLRequest`.
public protocol URLRequestConvertible {
    func asURLRequest() throws -> URLRequest
}

/// Responsible for creating and managing requests.
open class Session: @unchecked Sendable {
    public static let `default` = Session()

    public let rootQueue: DispatchQueue
    private var activeRequests: Set<Request> = []

    public init(rootQueue: DispatchQueue = DispatchQueue(label: "session.rootQueue")) {
        self.rootQueue = rootQueue
    }

    deinit {
        activeRequests.removeAll()
    }

    /// Creates a `DataRequest` from a convertible value.
    @discardableResult
    open func request(_ convertible: URLRequestConvertible,
                      interceptor: RequestInterceptor? = nil) -> DataRequest {
        let request = DataRequest(convertible: convertible, interceptor: interceptor)
        perform(request)
        return request
    }

    var isIdle: Bool {
        activeRequests.isEmpty
    }

    private func perform(_ request: Request) {
        rootQueue.async { self.activeRequests.insert(request) }
    }
}

public enum HTTPMethod: String {
    case get = "GET"
    case post = "POST"

    var allowsBody: Bool { self != .get }
}

public struct HTTPHeader: Hashable {
    public let name: String
    public let value: String
}

extension HTTPHeader {
    public static func authorization(bearerToken: String) -> HTTPHeader {
        HTTPHeader(name: "Authorization", value: "Bearer \(bearerToken)")
    }
}

extension Array: URLRequestConvertible where Element == HTTPHeader {
    public func asURLRequest() throws -> URLRequest { fatalError() }
}

func validate(statusCode: Int) -> Bool {
    (200..<300).contains(statusCode)
}
