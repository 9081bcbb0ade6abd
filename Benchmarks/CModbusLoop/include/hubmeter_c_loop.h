#ifndef HUBMETER_C_LOOP_H
#define HUBMETER_C_LOOP_H
#include <stdint.h>

// A plain libmodbus client, the baseline for hubmeter's per-transaction overhead.
void *hubmeter_c_open(const char *host, int port, int unit);
// One modbus_read_registers call; returns its result (the count, or -1).
int hubmeter_c_read(void *context, int address, int count, uint16_t *destination);
void hubmeter_c_close(void *context);
#endif
