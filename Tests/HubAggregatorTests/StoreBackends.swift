import Foundation
import GRDB
import HubAggregator
import Logging
import PostgresNIO
import Testing

/// The storage backends every store test runs on: SQLite in a temporary file, and PostgreSQL in a
/// database of its own, created for the test and dropped after it, on the server named by
/// `HUBMETER_TEST_POSTGRES` (libpq keywords `host=… port=… user=… password=…` or a
/// `postgres://user@host:port` URL). The default is the cluster scripts/test.sh starts
/// (`host=127.0.0.1 port=55432 user=hubmeter`). No server means failing tests, not skipped ones.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    static let defaultPostgres = "host=127.0.0.1 port=55432 user=hubmeter"

    /// A fresh, empty store for one test; `body` gets a factory that opens more stores (instances)
    /// on the same database, all closed, and the database removed, when the test ends.
    func withStore<R>(_ body: (_ store: any AggregatorStore, _ openAnother: () async throws -> any AggregatorStore) async throws -> R) async throws -> R {
        switch self {
        case .sqlite:
            let path = try AggregatorFixtures.temporaryDirectory() + "/aggregator.sqlite"
            defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
            return try await body(try SQLiteAggregatorStore(path: path), { try SQLiteAggregatorStore(path: path) })
        case .postgres:
            let server = try PostgresTestServer()
            let database = try await server.createDatabase()
            var opened: [any AggregatorStore] = []
            do {
                let first = try await PostgresAggregatorStore.open(server.settings(database: database), logger: server.logger)
                opened.append(first)
                let result = try await body(first, {
                    let another = try await PostgresAggregatorStore.open(server.settings(database: database), logger: server.logger)
                    opened.append(another)
                    return another
                })
                for store in opened { await store.close() }
                try await server.dropDatabase(database)
                return result
            } catch {
                for store in opened { await store.close() }
                try? await server.dropDatabase(database)
                throw error
            }
        }
    }

    /// Runs raw SQL on the store's database (for tests that rewind a migration).
    static func execute(_ sql: [String], on store: any AggregatorStore) async throws {
        switch store {
        case let sqlite as SQLiteAggregatorStore:
            let queue = try DatabaseQueue(path: sqlite.path)
            try await queue.write { db in for statement in sql { try db.execute(sql: statement) } }
        case let postgres as PostgresAggregatorStore:
            let client = PostgresClient(configuration: postgres.settings.clientConfiguration, backgroundLogger: try PostgresTestServer().logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                for statement in sql { try await client.query(PostgresQuery(unsafeSQL: statement)) }
                group.cancelAll()
            }
        default:
            throw PostgresTestServer.Failure("unknown store \(type(of: store))")
        }
    }
}

/// The PostgreSQL server of the tests, from `HUBMETER_TEST_POSTGRES`.
struct PostgresTestServer: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    var host = "127.0.0.1"
    var port = 5432
    var user = "postgres"
    var password: String?
    /// Errors only: postgres-nio's debug output, and its warning when a query races the pool's start, stay out.
    let logger = {
        var logger = Logger(label: "hubmeter.test.postgres")
        logger.logLevel = .error
        return logger
    }()

    init(_ text: String = ProcessInfo.processInfo.environment["HUBMETER_TEST_POSTGRES"] ?? StoreBackend.defaultPostgres) throws {
        var values: [String: String] = [:]
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            guard let url = URLComponents(string: text) else { throw Failure("HUBMETER_TEST_POSTGRES is not a URL: \(text)") }
            values["host"] = url.host
            values["port"] = url.port.map(String.init)
            values["user"] = url.user
            values["password"] = url.password
        } else {
            for pair in text.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw Failure("HUBMETER_TEST_POSTGRES: '\(pair)' is not key=value") }
                values[parts[0]] = parts[1]
            }
        }
        if let host = values["host"] { self.host = host }
        if let port = values["port"] {
            guard let number = Int(port) else { throw Failure("HUBMETER_TEST_POSTGRES: port '\(port)' is not a number") }
            self.port = number
        }
        if let user = values["user"] { self.user = user }
        password = values["password"]
    }

    func settings(database: String) -> PostgresAggregatorStore.Settings {
        PostgresAggregatorStore.Settings(host: host, port: port, unixSocketDirectory: host.hasPrefix("/") ? host : nil,
                                         database: database, user: user, password: password, tls: .disable, maximumConnections: 4)
    }

    /// Runs statements on the `postgres` maintenance database.
    func administer(_ statements: [String]) async throws {
        let client = PostgresClient(configuration: settings(database: "postgres").clientConfiguration, backgroundLogger: logger)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                for statement in statements { try await client.query(PostgresQuery(unsafeSQL: statement)) }
            }
        } catch {
            throw Failure("PostgreSQL at \(host):\(port) as \(user): \(String(reflecting: error)). "
                + "Start one with scripts/test.sh, or point HUBMETER_TEST_POSTGRES at a server where this user may create databases.")
        }
    }

    func createDatabase() async throws -> String {
        let name = "hubmeter_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await administer(["CREATE DATABASE \(name)"])
        return name
    }

    func dropDatabase(_ name: String) async throws {
        try await administer(["DROP DATABASE IF EXISTS \(name) WITH (FORCE)"])
    }
}
