import CTestSupport
import Testing

/// The test bundle must behave like the executable towards closed sockets and pipes: a write to a
/// peer that went away fails with EPIPE instead of ending the run by SIGPIPE (which once stopped
/// a CI run in the middle of a suite, without a message).
@Suite struct ProcessSetupTests {
    @Test func sigpipeIsIgnoredInTheTestProcess() {
        #expect(hubmeter_test_sigpipe_ignored() == 1)
    }
}
