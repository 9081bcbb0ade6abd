import HubDomain
import Testing

@Suite struct HubModelTests {
    private func code(_ model: HubModel) -> HubModelError.Code? {
        do {
            try model.validate()
            return nil
        } catch {
            return error.code
        }
    }

    @Test func acceptsAValidHub() throws {
        let model = HubModel(
            hubID: "park",
            participants: [participant("a", pv: true, battery: true), participant("b")],
            sharedAssets: [
                SharedAsset(
                    id: "field", device: Device(id: "field-pv", kind: .pvInverter),
                    ownership: [.init(participant: "a", share: 0.25), .init(participant: "b", share: 0.75)])
            ],
            allocationKey: .staticShares(shares: ["a": 0.4, "b": 0.6], remainder: .exported))
        try model.validate()
        let topology = try HubTopology(model: model)
        #expect(topology.participantCount == 2)
        #expect(topology.deviceCount == 5)
        #expect(topology.slot(of: ParticipantID("b")) == ParticipantSlot(1))
    }

    @Test func rejectsEachKindOfProblem() {
        let a = participant("a")
        let b = participant("b")
        #expect(code(HubModel(hubID: "", participants: [a])) == .emptyHubID)
        #expect(code(HubModel(hubID: "h", participants: [a, a])) == .duplicateParticipantID)
        #expect(code(HubModel(hubID: "h", participants: [Participant(id: "x", devices: [])])) == .missingGridMeter)
        let twoMeters = Participant(
            id: "x", devices: [Device(id: "m1", kind: .gridMeter), Device(id: "m2", kind: .gridMeter)])
        #expect(code(HubModel(hubID: "h", participants: [twoMeters])) == .multipleGridMeters)
        let sharedDevice = Participant(id: "c", devices: [Device(id: "a-grid", kind: .gridMeter)])
        #expect(code(HubModel(hubID: "h", participants: [a, sharedDevice])) == .duplicateDeviceID)
        let field = SharedAsset(
            id: "f", device: Device(id: "f", kind: .pvInverter), ownership: [.init(participant: "a", share: 0.5)])
        #expect(code(HubModel(hubID: "h", participants: [a, b], sharedAssets: [field])) == .ownershipSharesNotOne)
        var meterAsset = field
        meterAsset.device.kind = .gridMeter
        meterAsset.ownership = [.init(participant: "a", share: 1)]
        #expect(code(HubModel(hubID: "h", participants: [a], sharedAssets: [meterAsset])) == .invalidSharedAssetKind)
        var strangerOwned = field
        strangerOwned.ownership = [.init(participant: "z", share: 1)]
        #expect(code(HubModel(hubID: "h", participants: [a], sharedAssets: [strangerOwned])) == .unknownParticipant)
        #expect(
            code(HubModel(hubID: "h", participants: [a, b], allocationKey: .staticShares(shares: ["a": 0.7, "b": 0.5], remainder: .exported)))
                == .staticSharesExceedOne)
        #expect(
            code(HubModel(hubID: "h", participants: [a], allocationKey: .staticShares(shares: ["a": -0.1], remainder: .exported)))
                == .invalidStaticShare)
        #expect(code(HubModel(hubID: "h", participants: [a, b], allocationKey: .priority(order: ["a", "a"]))) == .duplicatePriorityEntry)
        let leaver = participant("l", membership: Membership(joinedAt: dayStart, leftAt: dayStart.plus(h: -1)))
        #expect(code(HubModel(hubID: "h", participants: [leaver])) == .invalidMembership)
        let badModulus = Participant(id: "m", devices: [Device(id: "m", kind: .gridMeter, counterModulusWh: 0)])
        #expect(code(HubModel(hubID: "h", participants: [badModulus])) == .invalidDeviceParameter)
    }

    @Test func errorsSayWhatAndWhere() {
        let error = HubModelError(.duplicateParticipantID, "participant a")
        #expect(error.description.contains("duplicateParticipantID"))
        #expect(error.description.contains("participant a"))
        #expect(error.fileID.hasSuffix("HubModelTests.swift"))
    }

    @Test func membershipTakesEffectAtQuarterHours() {
        let membership = Membership(joinedAt: dayStart.plus(h: 10, m: 7), leftAt: dayStart.plus(h: 12, m: 30))
        #expect(membership.effectiveStart == dayStart.plus(h: 10, m: 15))
        #expect(!membership.isMember(at: dayStart.plus(h: 10, m: 10)))
        #expect(membership.isMember(at: dayStart.plus(h: 10, m: 15)))
        #expect(membership.isMember(at: dayStart.plus(h: 12, m: 29, s: 59)))
        #expect(!membership.isMember(at: dayStart.plus(h: 12, m: 30)))
    }
}
