import HubDomain

/// Hand-written decoding for the domain's most numerous small values. A record of five companies
/// holds about forty `Figure`s, each with a `Quality`, and per company energy flows of ten
/// numbers; through `Decodable` every one costs container allocations and a member scan per
/// field, which was most of the decoding time. Here each is one pass over its members. The
/// result and the errors' places are the same as through the synthesized conformances (checked
/// against `JSONDecoder` in IntervalParsingTests, which also re-encodes every decoded record to
/// its published bytes, so a field added to one of these types and not here fails that test).
extension TapeDecoder {
    func figure(at index: Int) throws -> Figure {
        guard nodes[index].kind == .object else { throw mismatch(expected: "an object", Figure.self, at: index) }
        try checkUniqueMembers(index)
        var value: Double?
        var quality: Quality?
        var child = index + 1
        let end = Int(nodes[index].next)
        while child < end {
            let member = child + 1
            if keyEquals(child, "value") {
                if !isNull(member) { value = try double(at: member) }
            } else if keyEquals(child, "quality") {
                quality = try self.quality(at: member)
            }
            child = Int(nodes[member].next)
        }
        guard let quality else { throw missing("quality", in: index) }
        return Figure(value: value, quality: quality)
    }

    /// `Quality` as its synthesized `Codable` writes it: an object with exactly one known case
    /// name (unknown names are not counted), whose value is an object of the case's fields.
    func quality(at index: Int) throws -> Quality {
        guard nodes[index].kind == .object else { throw mismatch(expected: "an object", Quality.self, at: index) }
        try checkUniqueMembers(index)
        enum Case { case measured, estimated, stale, missing }
        var found: (name: Case, value: Int)?
        var count = 0
        var child = index + 1
        let end = Int(nodes[index].next)
        while child < end {
            let member = child + 1
            let name: Case? = keyEquals(child, "measured") ? .measured : keyEquals(child, "estimated") ? .estimated
                : keyEquals(child, "stale") ? .stale : keyEquals(child, "missing") ? .missing : nil
            if let name {
                found = (name, member)
                count += 1
            }
            child = Int(nodes[member].next)
        }
        guard count == 1, let (name, payload) = found else {
            throw DecodingError.typeMismatch(Quality.self, DecodingError.Context(
                codingPath: path(to: index), debugDescription: "Invalid number of keys found, expected one."))
        }
        guard nodes[payload].kind == .object else { throw mismatch(expected: "an object", [String: Any].self, at: payload) }
        try checkUniqueMembers(payload)
        switch name {
        case .estimated:
            guard let share = member(payload, "share") else { throw missing("share", in: payload) }
            return .estimated(share: try double(at: share))
        case .stale:
            guard let age = member(payload, "ageMs") else { throw missing("ageMs", in: payload) }
            return .stale(ageMs: try integer(Int64.self, at: age))
        case .measured:
            return .measured
        case .missing:
            return .missing
        }
    }

    /// `IntervalRecord`: every member required, as its synthesized conformance has it. The
    /// companies and shared assets are decoded in one loop each, not through `Array`'s generic
    /// `Decodable` conformance.
    func intervalRecord(at index: Int) throws -> IntervalRecord {
        try requireObject(index, IntervalRecord.self)
        var id = "", schema = "", keyVersion = ""
        var hubID: HubID = "", interval: SettlementInterval?, allocationKey: AllocationKey = .equalShares
        var participants: [ParticipantSettlement] = [], sharedAssets: [AssetSettlement] = []
        var hub = HubTotals(), quality = Quality.missing, isComplete = false, toleranceWh = 0.0
        var flags: [RecordFlag] = [], gapCorrections: [GapCorrection] = [], violations: [InvariantViolation] = []
        var seen: UInt32 = 0
        try forEachMember(index) { key, member in
            if keyEquals(key, "id") { id = try string(at: member); seen |= 1 << 0 }
            else if keyEquals(key, "schema") { schema = try string(at: member); seen |= 1 << 1 }
            else if keyEquals(key, "hubID") { hubID = try unbox(HubID.self, at: member); seen |= 1 << 2 }
            else if keyEquals(key, "interval") { interval = try unbox(SettlementInterval.self, at: member); seen |= 1 << 3 }
            else if keyEquals(key, "allocationKey") { allocationKey = try unbox(AllocationKey.self, at: member); seen |= 1 << 4 }
            else if keyEquals(key, "keyVersion") { keyVersion = try string(at: member); seen |= 1 << 5 }
            else if keyEquals(key, "participants") { participants = try elements(of: member, participantSettlement(at:)); seen |= 1 << 6 }
            else if keyEquals(key, "sharedAssets") { sharedAssets = try elements(of: member, assetSettlement(at:)); seen |= 1 << 7 }
            else if keyEquals(key, "hub") { hub = try hubTotals(at: member); seen |= 1 << 8 }
            else if keyEquals(key, "quality") { quality = try self.quality(at: member); seen |= 1 << 9 }
            else if keyEquals(key, "isComplete") { isComplete = try bool(at: member); seen |= 1 << 10 }
            else if keyEquals(key, "flags") { flags = try unbox([RecordFlag].self, at: member); seen |= 1 << 11 }
            else if keyEquals(key, "gapCorrections") { gapCorrections = try unbox([GapCorrection].self, at: member); seen |= 1 << 12 }
            else if keyEquals(key, "violations") { violations = try unbox([InvariantViolation].self, at: member); seen |= 1 << 13 }
            else if keyEquals(key, "toleranceWh") { toleranceWh = try double(at: member); seen |= 1 << 14 }
        }
        // In declaration order: the synthesized conformance reports the first missing one so.
        try requireAll(seen, count: 15, ["id", "schema", "hubID", "interval", "allocationKey", "keyVersion", "participants", "sharedAssets",
                                         "hub", "quality", "isComplete", "flags", "gapCorrections", "violations", "toleranceWh"], in: index)
        guard let interval else { throw missing("interval", in: index) }
        var record = IntervalRecord(hubID: hubID, interval: interval, allocationKey: allocationKey, participants: participants,
                                    sharedAssets: sharedAssets, hub: hub, quality: quality, isComplete: isComplete, flags: flags,
                                    gapCorrections: gapCorrections, violations: violations, toleranceWh: toleranceWh)
        // As published, not as the initializer derives them.
        record.id = id
        record.schema = schema
        record.keyVersion = keyVersion
        return record
    }

    /// The elements of the array at `index`, each decoded by `element` from its node.
    func elements<Element>(of index: Int, _ element: (Int) throws -> Element) throws -> [Element] {
        guard nodes[index].kind == .array else { throw mismatch(expected: "an array", [Any].self, at: index) }
        var result: [Element] = []
        result.reserveCapacity(Int(nodes[index].count))
        var child = index + 1
        let end = Int(nodes[index].next)
        while child < end {
            result.append(try element(child))
            child = Int(nodes[child].next)
        }
        return result
    }

    /// `ParticipantSettlement`: the identifier, six figures and `negativeConsumption` required, the rest optional.
    func participantSettlement(at index: Int) throws -> ParticipantSettlement {
        try requireObject(index, ParticipantSettlement.self)
        var row = ParticipantSettlement(participant: "", importWh: .missing, exportWh: .missing, pvWh: .missing, batteryChargeWh: .missing,
                                        batteryDischargeWh: .missing, consumptionWh: .missing)
        var seen: UInt32 = 0
        try forEachMember(index) { key, member in
            func figure(_ bit: UInt32, _ field: inout Figure) throws {
                field = try self.figure(at: member)
                seen |= bit
            }
            func optional(_ field: inout Double?) throws {
                field = isNull(member) ? nil : try double(at: member)
            }
            if keyEquals(key, "participant") { row.participant = ParticipantID(try string(at: member)); seen |= 1 << 0 }
            else if keyEquals(key, "importWh") { try figure(1 << 1, &row.importWh) }
            else if keyEquals(key, "exportWh") { try figure(1 << 2, &row.exportWh) }
            else if keyEquals(key, "pvWh") { try figure(1 << 3, &row.pvWh) }
            else if keyEquals(key, "batteryChargeWh") { try figure(1 << 4, &row.batteryChargeWh) }
            else if keyEquals(key, "batteryDischargeWh") { try figure(1 << 5, &row.batteryDischargeWh) }
            else if keyEquals(key, "consumptionWh") { try figure(1 << 6, &row.consumptionWh) }
            else if keyEquals(key, "negativeConsumption") { row.negativeConsumption = try bool(at: member); seen |= 1 << 7 }
            else if keyEquals(key, "allocatedWh") { try optional(&row.allocatedWh) }
            else if keyEquals(key, "residualImportWh") { try optional(&row.residualImportWh) }
            else if keyEquals(key, "residualExportWh") { try optional(&row.residualExportWh) }
            else if keyEquals(key, "collectiveProductionShareWh") { try optional(&row.collectiveProductionShareWh) }
            else if keyEquals(key, "collectiveResidualExportShareWh") { try optional(&row.collectiveResidualExportShareWh) }
            else if keyEquals(key, "importLocalWh") { try optional(&row.importLocalWh) }
            else if keyEquals(key, "gridOriginToLoadWh") { try optional(&row.gridOriginToLoadWh) }
            else if keyEquals(key, "flows") { row.flows = isNull(member) ? nil : try siteFlows(at: member) }
            else if keyEquals(key, "battery") { row.battery = isNull(member) ? nil : try batteryOriginFlows(at: member) }
            else if keyEquals(key, "sharedBatteryContent") { row.sharedBatteryContent = isNull(member) ? nil : try batteryOriginState(at: member) }
        }
        try requireAll(seen, count: 8, ["participant", "importWh", "exportWh", "pvWh", "batteryChargeWh", "batteryDischargeWh", "consumptionWh",
                                        "negativeConsumption"], in: index)
        return row
    }

    /// `AssetSettlement`: identifier, kind, three figures and the ownership required, the rest optional.
    func assetSettlement(at index: Int) throws -> AssetSettlement {
        try requireObject(index, AssetSettlement.self)
        var row = AssetSettlement(asset: "", kind: .pvInverter, productionWh: .missing, chargeWh: .missing, dischargeWh: .missing, ownership: [])
        var seen: UInt32 = 0
        try forEachMember(index) { key, member in
            func optional(_ field: inout Double?) throws {
                field = isNull(member) ? nil : try double(at: member)
            }
            if keyEquals(key, "asset") { row.asset = AssetID(try string(at: member)); seen |= 1 << 0 }
            else if keyEquals(key, "kind") { row.kind = try unbox(DeviceKind.self, at: member); seen |= 1 << 1 }
            else if keyEquals(key, "productionWh") { row.productionWh = try figure(at: member); seen |= 1 << 2 }
            else if keyEquals(key, "chargeWh") { row.chargeWh = try figure(at: member); seen |= 1 << 3 }
            else if keyEquals(key, "dischargeWh") { row.dischargeWh = try figure(at: member); seen |= 1 << 4 }
            else if keyEquals(key, "ownership") { row.ownership = try unbox([OwnershipShare].self, at: member); seen |= 1 << 5 }
            else if keyEquals(key, "chargeFromPoolWh") { try optional(&row.chargeFromPoolWh) }
            else if keyEquals(key, "chargeFromGridWh") { try optional(&row.chargeFromGridWh) }
            else if keyEquals(key, "residualExportWh") { try optional(&row.residualExportWh) }
            else if keyEquals(key, "battery") { row.battery = isNull(member) ? nil : try batteryOriginFlows(at: member) }
        }
        try requireAll(seen, count: 6, ["asset", "kind", "productionWh", "chargeWh", "dischargeWh", "ownership"], in: index)
        return row
    }

    /// `SiteFlows`: ten required numbers.
    func siteFlows(at index: Int) throws -> SiteFlows {
        try requireObject(index, SiteFlows.self)
        var flows = SiteFlows()
        var seen: UInt32 = 0
        try forEachMember(index) { key, member in
            func set(_ bit: UInt32, _ field: inout Double) throws {
                field = try double(at: member)
                seen |= bit
            }
            if keyEquals(key, "pvToLoadWh") { try set(1 << 0, &flows.pvToLoadWh) }
            else if keyEquals(key, "pvToBatteryWh") { try set(1 << 1, &flows.pvToBatteryWh) }
            else if keyEquals(key, "pvToGridWh") { try set(1 << 2, &flows.pvToGridWh) }
            else if keyEquals(key, "batteryToLoadWh") { try set(1 << 3, &flows.batteryToLoadWh) }
            else if keyEquals(key, "batteryToGridWh") { try set(1 << 4, &flows.batteryToGridWh) }
            else if keyEquals(key, "batteryToBatteryWh") { try set(1 << 5, &flows.batteryToBatteryWh) }
            else if keyEquals(key, "gridToLoadWh") { try set(1 << 6, &flows.gridToLoadWh) }
            else if keyEquals(key, "gridToBatteryWh") { try set(1 << 7, &flows.gridToBatteryWh) }
            else if keyEquals(key, "unexplainedExportWh") { try set(1 << 8, &flows.unexplainedExportWh) }
            else if keyEquals(key, "unexplainedChargeWh") { try set(1 << 9, &flows.unexplainedChargeWh) }
        }
        try requireAll(seen, count: 10, ["pvToLoadWh", "pvToBatteryWh", "pvToGridWh", "batteryToLoadWh", "batteryToGridWh", "batteryToBatteryWh",
                              "gridToLoadWh", "gridToBatteryWh", "unexplainedExportWh", "unexplainedChargeWh"], in: index)
        return flows
    }

    /// `BatteryOriginState`: two required numbers.
    func batteryOriginState(at index: Int) throws -> BatteryOriginState {
        try requireObject(index, BatteryOriginState.self)
        var state = BatteryOriginState()
        var seen: UInt32 = 0
        try forEachMember(index) { key, member in
            if keyEquals(key, "localWh") { state.localWh = try double(at: member); seen |= 1 }
            else if keyEquals(key, "gridWh") { state.gridWh = try double(at: member); seen |= 2 }
        }
        try requireAll(seen, count: 2, ["localWh", "gridWh"], in: index)
        return state
    }

    /// `BatteryOriginFlows`: five required numbers and the state at the end.
    func batteryOriginFlows(at index: Int) throws -> BatteryOriginFlows {
        try requireObject(index, BatteryOriginFlows.self)
        var flows = BatteryOriginFlows(chargedLocalWh: 0, chargedGridWh: 0, dischargedLocalWh: 0, dischargedGridWh: 0, unknownOriginWh: 0,
                                       end: BatteryOriginState())
        var seen: UInt32 = 0
        try forEachMember(index) { key, member in
            if keyEquals(key, "chargedLocalWh") { flows.chargedLocalWh = try double(at: member); seen |= 1 << 0 }
            else if keyEquals(key, "chargedGridWh") { flows.chargedGridWh = try double(at: member); seen |= 1 << 1 }
            else if keyEquals(key, "dischargedLocalWh") { flows.dischargedLocalWh = try double(at: member); seen |= 1 << 2 }
            else if keyEquals(key, "dischargedGridWh") { flows.dischargedGridWh = try double(at: member); seen |= 1 << 3 }
            else if keyEquals(key, "unknownOriginWh") { flows.unknownOriginWh = try double(at: member); seen |= 1 << 4 }
            else if keyEquals(key, "end") { flows.end = try batteryOriginState(at: member); seen |= 1 << 5 }
        }
        try requireAll(seen, count: 6, ["chargedLocalWh", "chargedGridWh", "dischargedLocalWh", "dischargedGridWh", "unknownOriginWh", "end"], in: index)
        return flows
    }

    /// `HubTotals`: seventeen optional numbers (absent or null is nil, as `decodeIfPresent` does).
    func hubTotals(at index: Int) throws -> HubTotals {
        try requireObject(index, HubTotals.self)
        var totals = HubTotals()
        try forEachMember(index) { key, member in
            guard !isNull(member) else { return }
            if keyEquals(key, "importWh") { totals.importWh = try double(at: member) }
            else if keyEquals(key, "exportWh") { totals.exportWh = try double(at: member) }
            else if keyEquals(key, "participantPVWh") { totals.participantPVWh = try double(at: member) }
            else if keyEquals(key, "consumptionWh") { totals.consumptionWh = try double(at: member) }
            else if keyEquals(key, "collectivePVWh") { totals.collectivePVWh = try double(at: member) }
            else if keyEquals(key, "collectiveChargeWh") { totals.collectiveChargeWh = try double(at: member) }
            else if keyEquals(key, "collectiveDischargeWh") { totals.collectiveDischargeWh = try double(at: member) }
            else if keyEquals(key, "netExchangeWh") { totals.netExchangeWh = try double(at: member) }
            else if keyEquals(key, "gridImportWh") { totals.gridImportWh = try double(at: member) }
            else if keyEquals(key, "gridExportWh") { totals.gridExportWh = try double(at: member) }
            else if keyEquals(key, "poolWh") { totals.poolWh = try double(at: member) }
            else if keyEquals(key, "allocatedWh") { totals.allocatedWh = try double(at: member) }
            else if keyEquals(key, "collectiveChargeFromPoolWh") { totals.collectiveChargeFromPoolWh = try double(at: member) }
            else if keyEquals(key, "collectiveChargeFromGridWh") { totals.collectiveChargeFromGridWh = try double(at: member) }
            else if keyEquals(key, "exportedSurplusWh") { totals.exportedSurplusWh = try double(at: member) }
            else if keyEquals(key, "poolLocalFraction") { totals.poolLocalFraction = try double(at: member) }
            else if keyEquals(key, "gridOriginToLoadWh") { totals.gridOriginToLoadWh = try double(at: member) }
        }
        return totals
    }

    func requireObject(_ index: Int, _ type: Any.Type) throws {
        guard nodes[index].kind == .object else { throw mismatch(expected: "an object", type, at: index) }
        try checkUniqueMembers(index)
    }

    /// Calls `body` with each member's name node and value node, in document order.
    @inline(__always)
    func forEachMember(_ object: Int, _ body: (_ key: Int, _ value: Int) throws -> Void) rethrows {
        var child = object + 1
        let end = Int(nodes[object].next)
        while child < end {
            try body(child, child + 1)
            child = Int(nodes[child + 1].next)
        }
    }

    /// Throws for the first of `names` whose bit is not in `seen`; the list is built only on the way to that error.
    @inline(__always)
    func requireAll(_ seen: UInt32, count: Int, _ names: @autoclosure () -> [String], in object: Int) throws {
        guard seen != (1 << count) - 1 else { return }
        let all = names()
        let missingIndex = (0..<all.count).first { seen & (1 << $0) == 0 } ?? 0
        throw missing(all[missingIndex], in: object)
    }

    /// Whether the (unescaped) member name at `keyNode` is `name`. Escaped names go the slow way.
    @inline(__always)
    func keyEquals(_ keyNode: Int, _ name: StaticString) -> Bool {
        let key = nodes[keyNode]
        let count = name.utf8CodeUnitCount
        if key.hasEscapes {
            return (try? keyText(keyNode)) == name.description
        }
        guard Int(key.end - key.start) == count else { return false }
        return bytesEqual(Int(key.start), UnsafeBufferPointer(start: name.utf8Start, count: count))
    }

    func member(_ object: Int, _ name: StaticString) -> Int? {
        var child = object + 1
        let end = Int(nodes[object].next)
        while child < end {
            if keyEquals(child, name) { return child + 1 }
            child = Int(nodes[child + 1].next)
        }
        return nil
    }

    func missing(_ name: String, in object: Int) -> DecodingError {
        DecodingError.keyNotFound(TapeCodingKey(stringValue: name),
                                  DecodingError.Context(codingPath: path(to: object), debugDescription: "missing member \"\(name)\""))
    }
}
