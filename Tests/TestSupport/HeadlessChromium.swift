import Foundation

/// Debian's Chromium in headless mode (`apt-get install chromium`; `scripts/setup.sh --test`),
/// for checking server-rendered pages in a real browser: the DOM after parsing, and a screenshot.
public struct HeadlessChromium: Sendable {
    public let executable: String
    /// A throwaway profile, so runs never share state or lock each other's profile.
    public let profileDirectory: String

    public init() throws {
        let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestSupportError("Chromium is not installed (scripts/setup.sh --test installs Debian's chromium)")
        }
        executable = found
        profileDirectory = try RepositoryPaths.makeTemporaryDirectory("chromium-profile")
    }

    /// Flags for CI: `--no-sandbox` because the tests may run as root (Chromium refuses to start
    /// sandboxed as root), `--disable-dev-shm-usage` for containers with a small /dev/shm, no GPU,
    /// no first-run work, no network services beyond the page itself.
    var flags: [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-sync", "--disable-component-update",
         "--hide-scrollbars", "--user-data-dir=\(profileDirectory)"]
    }

    /// The serialized DOM of `url` after loading.
    public func dumpDOM(_ url: String) throws -> String {
        let result = try runCommand(executable, flags + ["--dump-dom", url])
        guard result.status == 0 else { throw TestSupportError("chromium --dump-dom \(url) exited \(result.status): \(result.stderr.suffix(800))") }
        return result.stdout
    }

    /// Renders `url` into a PNG at `path` with the given window size.
    public func screenshot(_ url: String, to path: String, width: Int = 1280, height: Int = 1600) throws {
        try? FileManager.default.removeItem(atPath: path)
        let result = try runCommand(executable, flags + ["--screenshot=\(path)", "--window-size=\(width),\(height)", url])
        guard result.status == 0, FileManager.default.fileExists(atPath: path) else {
            throw TestSupportError("chromium --screenshot \(url) exited \(result.status): \(result.stderr.suffix(800))")
        }
    }

    /// Width and height from a PNG's IHDR chunk, or nil when the bytes are not a PNG.
    public static func pngSize(_ data: [UInt8]) -> (width: Int, height: Int)? {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard data.count > 24, Array(data[0..<8]) == signature, Array(data[12..<16]) == Array("IHDR".utf8) else { return nil }
        func big(_ offset: Int) -> Int { data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (big(16), big(20))
    }

    /// Where screenshots are kept: `$HUBMETER_SCREENSHOTS`, else `.build/screenshots/` of the checkout.
    public static func screenshotDirectory() throws -> String {
        let directory = ProcessInfo.processInfo.environment["HUBMETER_SCREENSHOTS"] ?? RepositoryPaths.path(".build/screenshots")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }
}
