import GRDB
import GRDBSQLite
import HubDomain

/// Binds values straight into a prepared GRDB statement with SQLite's C API, in parameter order.
///
/// The ingest path binds about 150 values per record; building `StatementArguments` for them
/// (a generic conversion per value) took more time than SQLite's own work in the ingest benchmark.
/// The statement must have been marked bound once (``prepare(_:)``); `execute()` then runs it
/// with these bindings.
struct SQLiteBinder {
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    private let statement: SQLiteStatement
    private var index: Int32 = 1

    /// Marks `statement` as having valid arguments, so that GRDB executes it with what is bound here.
    static func prepare(_ statement: Statement) -> Statement {
        statement.setUncheckedArguments(StatementArguments())
        return statement
    }

    init(_ statement: Statement) {
        self.statement = statement.sqliteStatement
        sqlite3_reset(self.statement)
    }

    mutating func bind(_ value: Double) {
        sqlite3_bind_double(statement, index, value)
        index += 1
    }

    mutating func bind(_ value: Double?) {
        if let value { sqlite3_bind_double(statement, index, value) } else { sqlite3_bind_null(statement, index) }
        index += 1
    }

    mutating func bind(_ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
        index += 1
    }

    mutating func bind(_ value: Bool) { bind(Int64(value ? 1 : 0)) }

    mutating func bind(_ value: String) {
        sqlite3_bind_text(statement, index, value, -1, Self.transient)
        index += 1
    }

    /// Binds `value` without SQLite copying it, and runs `body` (which executes the statement)
    /// while the bytes are certainly there: a 5 kB payload is not copied once more per record.
    mutating func bindingInPlace<Result>(_ value: [UInt8], _ body: () throws -> Result) rethrows -> Result {
        let parameter = index
        index += 1
        return try value.withUnsafeBytes { bytes in
            // A zero-length blob, not NULL, for an empty payload.
            _ = sqlite3_bind_blob(statement, parameter, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), nil)
            defer { sqlite3_bind_null(statement, parameter) } // SQLite must not keep the pointer after `body`.
            return try body()
        }
    }

    /// Steps the statement through its rows with SQLite's C API and calls `body` with each: no GRDB
    /// `Row` per row (whose column-name dictionary cost more than the neighbour query itself).
    func forEachRow(_ body: (ResultRow) throws -> Void) throws {
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(statement))),
                                    sql: String(cString: sqlite3_sql(statement)))
            }
            try body(ResultRow(statement: statement))
        }
    }

    /// The current row of a statement being stepped by ``forEachRow(_:)``.
    struct ResultRow {
        fileprivate let statement: SQLiteStatement
        func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
        func text(_ column: Int32) -> String { sqlite3_column_text(statement, column).map { String(cString: $0) } ?? "" }
    }

    mutating func bind(_ values: [Double]) {
        for value in values { bind(value) }
    }

    // The columns of ``StoreColumns`` straight from the sums, without an array per group.
    mutating func bind(_ kpis: HubKPIs) { StoreColumns.forEach(kpis) { bind($0) } }
    mutating func bind(_ kpis: ParticipantKPIs) { StoreColumns.forEach(kpis) { bind($0) } }
    mutating func bind(_ energy: EnergyTotals) { StoreColumns.forEach(energy) { bind($0) } }
}
