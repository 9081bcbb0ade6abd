#ifndef HUBMETER_CMOSQUITTO_SHIM_H
#define HUBMETER_CMOSQUITTO_SHIM_H
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <errno.h>
static inline int hubmeter_mosq_errno(void) { return errno; }
#endif
