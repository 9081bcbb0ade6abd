/// An invalid hub model: says what is wrong (``code``), where (``context``: the ids involved),
/// and which source line detected it.
///
/// Codes wrap a private enum, so new codes can be added without breaking callers that switch
/// over the known ones with a default branch.
public struct HubModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case emptyHubID, duplicateParticipantID, duplicateDeviceID, duplicateAssetID
            case missingGridMeter, multipleGridMeters, invalidSharedAssetKind
            case invalidOwnershipShare, ownershipSharesNotOne, unknownParticipant
            case invalidStaticShare, staticSharesExceedOne, duplicatePriorityEntry
            case invalidMembership, invalidDeviceParameter
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The hub id is empty.
        public static let emptyHubID = Code(.emptyHubID)
        /// Two participants have the same id.
        public static let duplicateParticipantID = Code(.duplicateParticipantID)
        /// Two devices (anywhere in the hub) have the same id.
        public static let duplicateDeviceID = Code(.duplicateDeviceID)
        /// Two shared assets have the same id.
        public static let duplicateAssetID = Code(.duplicateAssetID)
        /// A participant has no grid connection meter.
        public static let missingGridMeter = Code(.missingGridMeter)
        /// A participant has more than one grid connection meter.
        public static let multipleGridMeters = Code(.multipleGridMeters)
        /// A shared asset is neither PV nor battery.
        public static let invalidSharedAssetKind = Code(.invalidSharedAssetKind)
        /// An ownership share is outside `0...1` or not finite.
        public static let invalidOwnershipShare = Code(.invalidOwnershipShare)
        /// The ownership shares of an asset do not sum to 1.
        public static let ownershipSharesNotOne = Code(.ownershipSharesNotOne)
        /// A share, owner or priority entry names a participant that is not in the model.
        public static let unknownParticipant = Code(.unknownParticipant)
        /// A static share is outside `0...1` or not finite.
        public static let invalidStaticShare = Code(.invalidStaticShare)
        /// The static shares sum to more than 1.
        public static let staticSharesExceedOne = Code(.staticSharesExceedOne)
        /// A participant appears twice in a priority order.
        public static let duplicatePriorityEntry = Code(.duplicatePriorityEntry)
        /// A membership ends before it starts.
        public static let invalidMembership = Code(.invalidMembership)
        /// A device parameter (counter modulus, plausible power, capacity) is not positive and finite.
        public static let invalidDeviceParameter = Code(.invalidDeviceParameter)

        public var description: String { base.rawValue }
    }

    /// What is wrong.
    public var code: Code
    /// Where: the ids and values involved.
    public var context: String
    /// The source file that detected the problem.
    public var fileID: String
    /// The source line that detected the problem.
    public var line: Int

    public init(_ code: Code, _ context: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.context = context
        self.fileID = fileID
        self.line = line
    }

    public var description: String { "HubModelError(\(code)): \(context) [\(fileID):\(line)]" }
}
