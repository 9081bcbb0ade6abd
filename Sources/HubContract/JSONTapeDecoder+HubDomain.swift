import HubDomain

/// Hand-written decoding for the domain's most numerous small values. A record of five companies
/// holds about forty `Figure`s, each with a `Quality`; through `Decodable` every one costs four
/// container allocations and several member scans, about half of the decoding time. Here each is
/// one pass over its members. The result and the errors' places are the same as through the
/// synthesized conformances (checked against `JSONDecoder` in IntervalParsingTests).
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
