import Acquisition
import DeviceProfiles
import HubConfiguration
import HubDomain
import HubSupport
import ModbusIO

/// Turns a validated configuration into what the runtime needs: the domain's hub model and the
/// acquisition's buses. Pure translation; every reference was checked when the file was read.
public struct AgentPlan: Sendable {
    public let model: HubModel
    public let buses: [AcquisitionBus]
    /// Device id → the role it plays in the domain model.
    public let kinds: [String: DeviceKind]
    /// Device ids configured with role production_meter (their export counts as production).
    public let productionMeters: Set<String>

    public struct PlanError: HubError {
        public let code = "agent.plan"
        public let description: String
    }

    public init(configuration: AgentConfiguration, catalog: ProfileCatalog) throws(PlanError) {
        var kinds: [String: DeviceKind] = [:]
        var productionMeters: Set<String> = []
        func device(_ settings: DeviceSettings) -> Device {
            let kind: DeviceKind
            switch settings.role {
            case .gridMeter: kind = .gridMeter
            case .pvInverter: kind = .pvInverter
            case .productionMeter:
                kind = .pvInverter
                productionMeters.insert(settings.id)
            case .battery: kind = .battery
            case .subMeter: kind = .subMeter
            }
            kinds[settings.id] = kind
            return Device(id: DeviceID(settings.id), kind: kind)
        }
        func milliseconds(_ timestamp: UTCTimestamp) -> UTCMilliseconds { UTCMilliseconds(timestamp.millisecondsSinceEpoch) }

        let participants = configuration.hub.participants.map { participant in
            Participant(
                id: ParticipantID(participant.id), displayName: participant.name,
                membership: Membership(joinedAt: participant.joined.map(milliseconds) ?? UTCMilliseconds(0),
                                       leftAt: participant.left.map(milliseconds)),
                devices: participant.devices.map(device)
            )
        }
        var assets: [SharedAsset] = []
        for asset in configuration.hub.sharedAssets {
            // The domain models one device per shared asset; more devices mean more assets.
            for (index, settings) in asset.devices.enumerated() {
                let id = asset.devices.count == 1 ? asset.id : "\(asset.id)-\(index + 1)"
                assets.append(SharedAsset(id: AssetID(id), device: device(settings),
                                          ownership: asset.owners.sorted { $0.key < $1.key }.map { OwnershipShare(participant: ParticipantID($0.key), share: $0.value) }))
            }
        }
        let key: AllocationKey
        switch configuration.hub.allocation.key {
        case .proRataConsumption: key = .proRataConsumption
        case .equalShares: key = .equalShares
        case .priority(let order): key = .priority(order: order.map { ParticipantID($0) })
        case .staticShares(let shares, let remainder):
            key = .staticShares(shares: Dictionary(uniqueKeysWithValues: shares.map { (ParticipantID($0.key), $0.value) }),
                                remainder: remainder == .exported ? .exported : .redistributed)
        }
        let model = HubModel(hubID: HubID(configuration.hub.id), participants: participants, sharedAssets: assets, allocationKey: key)
        do {
            try model.validate()
        } catch {
            throw PlanError(description: "the hub cannot be modelled: \(error)")
        }

        let buses: [AcquisitionBus]
        do {
            // Buses without devices are left out: nothing to poll there.
            buses = try AcquisitionSetup.buses(from: configuration, catalog: catalog).filter { !$0.devices.isEmpty }
        } catch {
            throw PlanError(description: error.description)
        }
        self.model = model
        self.buses = buses
        self.kinds = kinds
        self.productionMeters = productionMeters
    }
}
