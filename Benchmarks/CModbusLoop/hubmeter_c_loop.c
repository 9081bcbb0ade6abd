#include "hubmeter_c_loop.h"
#include <modbus.h>
#include <stdio.h>

void *hubmeter_c_open(const char *host, int port, int unit) {
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    modbus_t *context = modbus_new_tcp_pi(host, service);
    if (context == NULL) return NULL;
    if (modbus_connect(context) != 0) {
        modbus_free(context);
        return NULL;
    }
    modbus_set_slave(context, unit);
    return context;
}

int hubmeter_c_read(void *context, int address, int count, uint16_t *destination) {
    return modbus_read_registers((modbus_t *)context, address, count, destination);
}

void hubmeter_c_close(void *context) {
    modbus_close((modbus_t *)context);
    modbus_free((modbus_t *)context);
}
