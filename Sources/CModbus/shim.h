#ifndef HUBMETER_CMODBUS_SHIM_H
#define HUBMETER_CMODBUS_SHIM_H
// No _GNU_SOURCE here (it would declare ppoll): it renames fd_set's member, and the module then
// clashes with Glibc's Swift module. ppoll is called through syscall(2) instead.
#include <poll.h>
#include <time.h>
#include <sys/syscall.h>
#include <modbus.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

// The composite error macros (EMBXILFUN, EMBBADCRC, ...) do not import into Swift.
static inline int hubmeter_modbus_enobase(void) { return MODBUS_ENOBASE; }
static inline int hubmeter_modbus_embbadcrc(void) { return EMBBADCRC; }
static inline int hubmeter_modbus_embbaddata(void) { return EMBBADDATA; }
static inline int hubmeter_modbus_embbadexc(void) { return EMBBADEXC; }
static inline int hubmeter_modbus_embmdata(void) { return EMBMDATA; }
static inline int hubmeter_modbus_embbadslave(void) { return EMBBADSLAVE; }
static inline int hubmeter_modbus_embunkexc(void) { return EMBUNKEXC; }
static inline int hubmeter_modbus_max_read_registers(void) { return MODBUS_MAX_READ_REGISTERS; }
static inline int hubmeter_modbus_max_write_registers(void) { return MODBUS_MAX_WRITE_REGISTERS; }
static inline int hubmeter_modbus_tcp_max_adu_length(void) { return MODBUS_TCP_MAX_ADU_LENGTH; }
static inline int hubmeter_modbus_rtu_max_adu_length(void) { return MODBUS_RTU_MAX_ADU_LENGTH; }
static inline int hubmeter_errno(void) { return errno; }
// poll(2) with a timeout in nanoseconds (negative: none); poll's milliseconds are too coarse for
// waking at a cycle boundary.
static inline int hubmeter_poll_ns(struct pollfd *fds, unsigned long count, long long timeout_ns) {
    if (timeout_ns < 0) return poll(fds, (nfds_t)count, -1);
    struct timespec timeout = { (time_t)(timeout_ns / 1000000000LL), (long)(timeout_ns % 1000000000LL) };
    return (int)syscall(SYS_ppoll, fds, (nfds_t)count, &timeout, NULL, 0);
}
// Opens and unlocks a pseudo-terminal master (Linux devpts); stores the terminal's number.
// posix_openpt/ptsname need feature macros that do not reach Swift; these ioctls do not.
static inline int hubmeter_open_pty(unsigned int *number) {
    int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -1;
    int unlock = 0;
    if (ioctl(fd, TIOCSPTLCK, &unlock) != 0 || ioctl(fd, TIOCGPTN, number) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
#endif
