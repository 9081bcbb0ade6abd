// swift-tools-version: 6.1
// Benchmarks live in their own package so that users of hubmeter never build them.
// Run from this directory: `swift package --disable-sandbox benchmark`.
import Foundation
import PackageDescription

/// The main package's identity is the name of its directory, which differs between checkouts.
let hubmeterPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "HubmeterBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
    ],
    targets: [
        .executableTarget(
            name: "HubDomainBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HubDomain", package: hubmeterPackage),
            ],
            path: "HubDomainBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The aggregator's per-message parsing and checking (schema, decoding, chain hash).
        .executableTarget(
            name: "IngestBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HubContract", package: hubmeterPackage),
                .product(name: "HubDomain", package: hubmeterPackage),
            ],
            path: "IngestBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The baseline: a plain C loop of modbus_read_registers.
        .target(
            name: "CModbusLoop",
            path: "CModbusLoop",
            cSettings: [.unsafeFlags(["-I/usr/include/modbus"])],
            linkerSettings: [.linkedLibrary("modbus")]
        ),
        .executableTarget(
            name: "AcquisitionBenchmarks",
            dependencies: [
                "CModbusLoop",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Acquisition", package: hubmeterPackage),
                .product(name: "DeviceProfiles", package: hubmeterPackage),
                .product(name: "ModbusIO", package: hubmeterPackage),
                .product(name: "HubDomain", package: hubmeterPackage),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "AcquisitionBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // The aggregator's store: SQLite ingest rate, a year of KPIs over a large dataset (SQLite and PostgreSQL).
        .executableTarget(
            name: "AggregatorBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HubAggregator", package: hubmeterPackage),
                .product(name: "HubContract", package: hubmeterPackage),
                .product(name: "HubDomain", package: hubmeterPackage),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "AggregatorBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Ingest throughput as the aggregator runs it, outside the benchmark harness.
        .executableTarget(
            name: "IngestThroughput",
            dependencies: [
                .product(name: "HubAggregator", package: hubmeterPackage),
                .product(name: "HubContract", package: hubmeterPackage),
                .product(name: "HubDomain", package: hubmeterPackage),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "IngestThroughput"
        ),
        // End-to-end: one process polling many TCP devices at 1 Hz (scripts/bench-poll-200.sh).
        .executableTarget(
            name: "PollMany",
            dependencies: [
                .product(name: "Acquisition", package: hubmeterPackage),
                .product(name: "DeviceProfiles", package: hubmeterPackage),
                .product(name: "ModbusIO", package: hubmeterPackage),
                .product(name: "HubDomain", package: hubmeterPackage),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "PollMany"
        ),
    ],
    swiftLanguageModes: [.v6]
)
