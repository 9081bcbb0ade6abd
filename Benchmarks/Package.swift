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
    ],
    swiftLanguageModes: [.v6]
)
