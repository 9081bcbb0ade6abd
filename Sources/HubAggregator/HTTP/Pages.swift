import Foundation
import HubConfiguration
import HubDomain

/// Server-rendered HTML: no JavaScript, no external assets; charts are inline SVG.
enum Pages {
    struct OverviewRow {
        var summary: Endpoints.LocationSummary
        var thisMonth: LocationReport
        var lastMonth: LocationReport
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A ratio as a percentage with one decimal (display clamps to 0–100 %), or "n/a (reason)".
    static func percent(_ kpi: KPIValue) -> String {
        guard let value = kpi.value else { return "n/a (\(reason(kpi.undefinedReason)))" }
        return percent(min(1, max(0, value)))
    }

    /// Why a figure is undefined, in words (the API keeps the codes of `KPIUndefinedReason`).
    static func reason(_ code: String?) -> String {
        switch code {
        case "noConsumption": "nothing consumed"
        case "negativeConsumption": "metered consumption below zero"
        case "noProduction": "no production"
        case "noCompleteIntervals", nil: "no data"
        case let other?: other
        }
    }

    /// A half-open UTC range as `2026-03-01 00:00 – 2026-03-04 00:00 UTC`.
    static func range(_ from: String, _ to: String) -> String {
        func short(_ iso: String) -> String { String(iso.prefix(16)).replacingOccurrences(of: "T", with: " ") }
        return "\(short(from)) – \(short(to)) UTC"
    }

    static func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }

    static func kWh(_ wh: Double) -> String { String(format: "%.1f kWh", wh / 1000) }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:70rem}
        table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
        th:first-child,td:first-child{text-align:left}.warn{color:#a40000;font-weight:bold}.ok{color:#176117}
        th{background:#f3f3f3}.ss{color:#1b5e20}.muted{color:#666}
        svg text{font-size:11px;font-family:sans-serif;fill:#333}
        """

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><style>\(style)</style></head>
        <body>\(body)</body></html>

        """
    }

    /// A page's failure (401, 403, 404, …) as a readable page instead of the API's JSON problem;
    /// status and headers (the sign-in challenge) stay.
    static func htmlProblem(_ reply: Reply) -> Reply {
        guard reply.status >= 400, reply.contentType.hasPrefix("application/json") else { return reply }
        let detail = (try? JSONDecoder().decode([String: String].self, from: Data(reply.body.utf8)))?["detail"] ?? ""
        let (title, advice): (String, String) = switch reply.status {
        case 401: ("Sign in required", "Sign in with any user name and your API token as the password.")
        case 403: ("Not visible with this token", "This token belongs to another location's team.")
        case 404: ("Not found", "")
        default: ("Error \(reply.status)", "")
        }
        var page = reply
        page.contentType = "text/html; charset=utf-8"
        page.body = document(title: "\(title) – hubmeter", body: "<h1>\(escape(title))</h1><p>\(escape(advice))</p>"
                             + "<p class=\"muted\">\(escape(detail))</p><p><a href=\"/\">Region overview</a></p>")
        return page
    }

    static func overview(region: AggregatorConfiguration.Region, monthStart: UTCMilliseconds, rows: [OverviewRow]) -> String {
        var body = "<h1>\(escape(region.name)): self-sufficiency audit</h1>"
        body += "<p>Month from \(escape(String(monthStart.iso8601.prefix(10)))) (UTC). Definitions \(escape(KPIDefinitions.version)).</p>"
        body += "<table><thead><tr><th>Location</th><th>Self-sufficiency this month</th><th>Trend vs last month</th>"
        body += "<th>Self-consumption</th><th>Coverage</th><th>Chain</th><th>Warnings</th></tr></thead><tbody>"
        for row in rows {
            let now = row.thisMonth, before = row.lastMonth
            var trend = "–"
            if let a = now.selfSufficiency.value, let b = before.selfSufficiency.value {
                let delta = (a - b) * 100
                trend = String(format: "%@%.1f pp", delta >= 0 ? "▲ +" : "▼ ", delta)
            }
            var warnings: [String] = []
            if now.coverage.receivedIntervals == 0 {
                warnings.append("no records this month")
            } else if let share = now.coverage.share, share < 0.99 {
                warnings.append("coverage \(percent(share)), \(now.coverage.gaps.count) gap(s)")
            }
            if now.chain.broken > 0 { warnings.append("\(now.chain.broken) broken chain link(s)") }
            if (now.coverage.estimatedShare ?? 0) > 0 { warnings.append("estimated \(percent(now.coverage.estimatedShare ?? 0))") }
            let name = row.summary.name + (row.summary.location.map { " (\($0))" } ?? "")
            body += "<tr><td><a href=\"/locations/\(escape(row.summary.hub))\">\(escape(name))</a></td>"
            body += "<td class=\"ss\">\(escape(percent(now.selfSufficiency)))</td><td>\(escape(trend))</td>"
            body += "<td>\(escape(percent(now.selfConsumption)))</td>"
            body += "<td>\(now.coverage.share.map { escape(percent($0)) } ?? "–")</td>"
            body += "<td>\(now.chain.intact ? "<span class=\"ok\">intact</span>" : "<span class=\"warn\">\(now.chain.broken) broken, \(now.chain.open) open</span>")</td>"
            body += "<td>\(warnings.isEmpty ? "" : "<span class=\"warn\">\(escape(warnings.joined(separator: "; ")))</span>")</td></tr>"
        }
        body += "</tbody></table>"
        return document(title: "\(region.name) – hubmeter", body: body)
    }

    static func location(name: String, location: String?, report: LocationReport, days: [DailySums], from: UTCMilliseconds, to: UTCMilliseconds,
                         sequenceGaps: [SequenceGap]) -> String {
        var body = "<p><a href=\"/\">← Region</a></p><h1>\(escape(name))\(location.map { " – " + escape($0) } ?? "")</h1>"
        body += "<p>\(escape(range(report.from, report.to))). Definitions \(escape(report.definitions)).</p>"
        body += "<h2>Self-sufficiency <span class=\"ss\">\(escape(percent(report.selfSufficiency)))</span></h2>"
        body += "<p>Self-consumption \(escape(percent(report.selfConsumption))); excluding grid-charged battery energy \(escape(percent(report.selfSufficiencyExcludingGridCharge))).</p>"
        body += "<h2>Daily self-sufficiency</h2>" + dailyChart(days, from: from, to: to)
        let e = report.energy
        body += "<h2>Energy flows</h2><table><tbody>"
        for (label, value) in [("Consumption", e.consumptionWh), ("Production", e.productionWh), ("Shared within the hub", e.sharedWh),
                               ("Grid import (netted per interval)", e.importWh), ("Grid export (netted per interval)", e.exportWh),
                               ("Battery charge", e.batteryChargeWh), ("Battery discharge", e.batteryDischargeWh)] {
            body += "<tr><td>\(label)</td><td>\(kWh(value))</td></tr>"
        }
        body += "</tbody></table>"
        if e.missingFigures > 0 { body += "<p class=\"warn\">\(e.missingFigures) figure(s) missing in the records are not in these sums.</p>" }
        body += "<h2>Companies</h2><table><thead><tr><th>Company</th><th>Self-sufficiency (site)</th><th>after sharing</th>"
        body += "<th>Self-consumption (site)</th><th>after sharing</th><th>Consumption</th><th>Shared to it</th><th>Intervals</th></tr></thead><tbody>"
        for c in report.companies {
            body += "<tr><td>\(escape(c.participant))</td><td>\(escape(percent(c.selfSufficiencySite)))</td>"
            body += "<td>\(escape(percent(c.selfSufficiencyAfterSharing)))</td><td>\(escape(percent(c.selfConsumptionSite)))</td>"
            body += "<td>\(escape(percent(c.selfConsumptionAfterSharing)))</td><td>\(kWh(c.consumptionWh))</td><td>\(kWh(c.sharedWh))</td>"
            body += "<td>\(c.intervals)\(c.excludedIntervals > 0 ? " (\(c.excludedIntervals) incomplete)" : "")</td></tr>"
        }
        body += "</tbody></table>"
        let coverage = report.coverage
        body += "<h2>Coverage and integrity</h2><p>\(coverage.receivedIntervals) of \(coverage.expectedIntervals) intervals received"
        body += coverage.share.map { " (\(escape(percent($0))))" } ?? ""
        body += "; \(coverage.completeIntervals) complete; estimated share \(coverage.estimatedShare.map { escape(percent($0)) } ?? "–").</p>"
        body += "<p>Hash chain: \(report.chain.linked) linked, \(report.chain.broken) broken, \(report.chain.open) open.</p>"
        if coverage.gaps.isEmpty {
            body += "<p class=\"ok\">No gaps.</p>"
        } else {
            body += "<table><thead><tr><th>Gap from</th><th>to</th><th>Intervals</th></tr></thead><tbody>"
            for gap in coverage.gaps.prefix(200) {
                body += "<tr><td>\(gap.from.iso8601)</td><td>\(gap.to.iso8601)</td><td>\(gap.intervals)</td></tr>"
            }
            body += "</tbody></table>"
            if coverage.gaps.count > 200 { body += "<p>… \(coverage.gaps.count - 200) more gaps (see the API).</p>" }
        }
        if !sequenceGaps.isEmpty {
            body += "<p class=\"warn\">Missing sequence numbers: \(sequenceGaps.map { $0.first == $0.last ? "\($0.first)" : "\($0.first)–\($0.last)" }.joined(separator: ", "))</p>"
        }
        return document(title: "\(name) – hubmeter", body: body)
    }

    /// A bar per UTC day of [from, to) with its value on top; a day without records, or without
    /// complete ones, gets a grey "no data" mark, never a 0 % bar.
    static func dailyChart(_ days: [DailySums], from: UTCMilliseconds, to: UTCMilliseconds) -> String {
        let dayMs: Int64 = 86_400_000
        let first = UTCMilliseconds((from.rawValue / dayMs) * dayMs)
        var starts: [UTCMilliseconds] = []
        var day = first
        while day < to, starts.count < 400 {
            starts.append(day)
            day = day.adding(milliseconds: dayMs)
        }
        guard !starts.isEmpty else { return "<p>No days in this period.</p>" }
        let byDay = Dictionary(days.map { ($0.day.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
        let slot = min(52, max(3, 760 / Double(starts.count)))
        let barWidth = (slot * 0.75).rounded(), height = 180.0, top = 18.0, left = 40.0, bottom = 22.0
        let width = left + Double(starts.count) * slot + 10
        func y(_ fraction: Double) -> Double { top + height * (1 - fraction) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(top + height + bottom))\" role=\"img\" aria-label=\"Daily self-sufficiency\">"
        for tick in [0, 25, 50, 75, 100] {
            let lineY = y(Double(tick) / 100)
            svg += "<line x1=\"\(left)\" y1=\"\(lineY)\" x2=\"\(width)\" y2=\"\(lineY)\" stroke=\"\(tick == 0 ? "#999" : "#e2e2e2")\"/>"
            svg += "<text x=\"2\" y=\"\(lineY + 4)\">\(tick) %</text>"
        }
        for (index, start) in starts.enumerated() {
            let x = left + Double(index) * slot + (slot - barWidth) / 2
            let date = String(start.iso8601.prefix(10))
            if let value = byDay[start.rawValue]?.hub.selfSufficiency.value {
                let clamped = min(1, max(0, value))
                svg += "<rect x=\"\(x)\" y=\"\(y(clamped))\" width=\"\(barWidth)\" height=\"\(height * clamped)\" fill=\"#2e7d32\">"
                svg += "<title>\(date): \(percent(value))</title></rect>"
                if slot >= 30 {
                    svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(y(clamped) - 4)\" text-anchor=\"middle\">\(Int((clamped * 100).rounded()))</text>"
                }
            } else {
                svg += "<rect x=\"\(x)\" y=\"\(y(0) - 6)\" width=\"\(barWidth)\" height=\"6\" fill=\"#bbb\"><title>\(date): no data</title></rect>"
            }
            // Day of month where there is room, else only the first of each month.
            let dayOfMonth = String(date.suffix(2))
            if slot >= 16 || dayOfMonth == "01" {
                svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + height + 15)\" text-anchor=\"middle\">\(slot >= 16 ? dayOfMonth : String(date.prefix(7)))</text>"
            }
        }
        return svg + "</svg><p class=\"muted\">Bars: the day's self-sufficiency in % (UTC days); grey marks: no complete records that day.</p>"
    }
}
