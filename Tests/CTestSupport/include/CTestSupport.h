#ifndef HUBMETER_CTESTSUPPORT_H
#define HUBMETER_CTESTSUPPORT_H
// Process set-up for the test bundle (see CTestSupport.c). Nothing to call.
int hubmeter_test_sigpipe_ignored(void);
#endif
