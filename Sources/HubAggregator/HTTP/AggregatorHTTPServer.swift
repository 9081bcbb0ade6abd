import HTTPTypes
import Hummingbird
import Logging

/// The Hummingbird application: routes of the API (docs/openapi.yaml), CSV export, pages,
/// /metrics and /health, each mapped to an ``Endpoints`` function.
public enum AggregatorHTTPServer {
    public static func router(endpoints: Endpoints, metrics: @escaping @Sendable () -> String,
                              health: @escaping @Sendable () -> Reply) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/health") { _, _ in response(health()) }
        router.get("/metrics") { _, _ in
            response(Reply(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics()))
        }
        router.get("/api/v1/locations") { request, _ in
            response(await endpoints.locations(authorization: request.headers[.authorization]))
        }
        router.get("/api/v1/conflicts") { request, _ in
            response(await endpoints.conflicts(authorization: request.headers[.authorization]))
        }
        router.get("/api/v1/locations/{hub}/kpis") { request, context in
            response(await endpoints.kpis(hub: try context.parameters.require("hub"), query: query(request), authorization: request.headers[.authorization]))
        }
        router.get("/api/v1/locations/{hub}/intervals") { request, context in
            response(await endpoints.intervals(hub: try context.parameters.require("hub"), query: query(request), authorization: request.headers[.authorization]))
        }
        router.get("/api/v1/locations/{hub}/intervals.csv") { request, context in
            response(await endpoints.intervalsCSV(hub: try context.parameters.require("hub"), query: query(request), authorization: request.headers[.authorization]))
        }
        router.get("/api/v1/locations/{hub}/records/{sequence}") { request, context in
            response(await endpoints.record(hub: try context.parameters.require("hub"), sequence: try context.parameters.require("sequence"),
                                            authorization: request.headers[.authorization]))
        }
        router.get("/api/v1/locations/{hub}/gaps") { request, context in
            response(await endpoints.gaps(hub: try context.parameters.require("hub"), query: query(request), authorization: request.headers[.authorization]))
        }
        router.get("/") { request, _ in
            response(await endpoints.overviewPage(authorization: request.headers[.authorization]))
        }
        router.get("/locations/{hub}") { request, context in
            response(await endpoints.locationPage(hub: try context.parameters.require("hub"), query: query(request), authorization: request.headers[.authorization]))
        }
        return router
    }

    public static func application(endpoints: Endpoints, host: String, port: Int, logger: Logger,
                                   metrics: @escaping @Sendable () -> String, health: @escaping @Sendable () -> Reply)
        -> some ApplicationProtocol {
        Application(router: router(endpoints: endpoints, metrics: metrics, health: health),
                    configuration: .init(address: .hostname(host, port: port), serverName: "hubmeter-aggregator"),
                    logger: logger)
    }

    static func query(_ request: Request) -> [String: String] {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { values[String(key)] = String(value) }
        return values
    }

    static func response(_ reply: Reply) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = reply.contentType
        for (name, value) in reply.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        let body = reply.bytes.map { ByteBuffer(bytes: $0) } ?? ByteBuffer(string: reply.body)
        return Response(status: .init(code: reply.status), headers: headers, body: .init(byteBuffer: body))
    }
}
