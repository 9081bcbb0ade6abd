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
        guard let value = kpi.value else { return "n/a (\(kpi.undefinedReason ?? "no data"))" }
        return percent(min(1, max(0, value)))
    }

    static func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }

    static func kWh(_ wh: Double) -> String { String(format: "%.1f kWh", wh / 1000) }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:70rem}
        table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
        th:first-child,td:first-child{text-align:left}.warn{color:#a40000;font-weight:bold}.ok{color:#176117}
        svg text{font-size:10px;font-family:sans-serif}
        """

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><style>\(style)</style></head>
        <body>\(body)</body></html>

        """
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
            if let share = now.coverage.share, share < 0.99 {
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

    static func location(name: String, location: String?, report: LocationReport, days: [DailySums], sequenceGaps: [SequenceGap]) -> String {
        var body = "<p><a href=\"/\">← Region</a></p><h1>\(escape(name))\(location.map { " – " + escape($0) } ?? "")</h1>"
        body += "<p>\(escape(report.from)) to \(escape(report.to)). Definitions \(escape(report.definitions)).</p>"
        body += "<h2>Self-sufficiency <span class=\"ss\">\(escape(percent(report.selfSufficiency)))</span></h2>"
        body += "<p>Self-consumption \(escape(percent(report.selfConsumption))); excluding grid-charged battery energy \(escape(percent(report.selfSufficiencyExcludingGridCharge))).</p>"
        body += "<h2>Daily self-sufficiency</h2>" + dailyChart(days)
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

    /// A bar per day; days without a value are drawn as a hatched "no data" mark, never as 0 %.
    static func dailyChart(_ days: [DailySums]) -> String {
        guard !days.isEmpty else { return "<p>No data in this period.</p>" }
        let barWidth = 14.0, gap = 4.0, height = 160.0, left = 34.0, bottom = 20.0
        let width = left + Double(days.count) * (barWidth + gap) + 10
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + bottom + 10))\" role=\"img\" aria-label=\"Daily self-sufficiency\">"
        for tick in [0, 50, 100] {
            let y = 10 + height * (1 - Double(tick) / 100)
            svg += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(width)\" y2=\"\(y)\" stroke=\"#ddd\"/><text x=\"2\" y=\"\(y + 3)\">\(tick) %</text>"
        }
        for (index, day) in days.enumerated() {
            let x = left + Double(index) * (barWidth + gap)
            let label = String(day.day.iso8601.dropFirst(8).prefix(2))
            if let value = day.hub.selfSufficiency.value {
                let clamped = min(1, max(0, value))
                let barHeight = height * clamped
                svg += "<rect x=\"\(x)\" y=\"\(10 + height - barHeight)\" width=\"\(barWidth)\" height=\"\(barHeight)\" fill=\"#2e7d32\">"
                svg += "<title>\(day.day.iso8601.prefix(10)): \(percent(value))</title></rect>"
            } else {
                svg += "<rect x=\"\(x)\" y=\"\(10 + height - 6)\" width=\"\(barWidth)\" height=\"6\" fill=\"#bbb\"><title>\(day.day.iso8601.prefix(10)): no data</title></rect>"
            }
            svg += "<text x=\"\(x + 1)\" y=\"\(height + bottom + 4)\">\(label)</text>"
        }
        return svg + "</svg>"
    }
}
