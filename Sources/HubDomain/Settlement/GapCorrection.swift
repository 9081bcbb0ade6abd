/// Energy that belongs to an interval but is not in that interval's figures.
///
/// Two cases, told apart by ``reason``:
/// - ``Reason/incompleteInterval``: a channel's figure is missing because part of the interval
///   is not covered; the energy that *was* metered in the covered part is reported here, in the
///   same record, instead of being dropped with the figure.
/// - ``Reason/learnedLate``: a counter came back after a gap; the part of its step that falls
///   (linearly in time) into intervals already closed, minus what those intervals booked from
///   power, is reported in the next record, instead of being added to an open interval (which
///   would double-count) or dropped (which would lose it).
///
/// Over any run, Σ figures + Σ corrections equals the energy the counters registered.
public struct GapCorrection: Sendable, Hashable, Codable {
    /// Why the energy is reported here.
    public enum Reason: String, Sendable, Hashable, Codable {
        case incompleteInterval
        case learnedLate
    }

    public var device: DeviceID
    public var quantity: EnergyQuantity
    public var reason: Reason
    /// Start of the span the energy belongs to.
    public var from: UTCMilliseconds
    /// End of that span.
    public var to: UTCMilliseconds
    /// The energy (negative when closed intervals booked too much from power).
    public var energyWh: Double

    public init(
        device: DeviceID, quantity: EnergyQuantity, reason: Reason, from: UTCMilliseconds, to: UTCMilliseconds,
        energyWh: Double
    ) {
        self.device = device
        self.quantity = quantity
        self.reason = reason
        self.from = from
        self.to = to
        self.energyWh = energyWh
    }
}
