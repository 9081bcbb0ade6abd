#include "CTestSupport.h"
#include <signal.h>
#include <stddef.h>

// The test process runs servers, clients and child processes whose peers may close first, as the
// hubmeter executable does; like it (HubmeterEntryPoint), it ignores SIGPIPE, so a write to a
// closed socket or pipe fails with EPIPE instead of ending the whole test run without a word.
__attribute__((constructor)) static void hubmeter_test_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

int hubmeter_test_sigpipe_ignored(void) {
    struct sigaction current;
    return sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_IGN;
}
