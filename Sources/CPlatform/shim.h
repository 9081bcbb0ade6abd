#ifndef HUBMETER_CPLATFORM_SHIM_H
#define HUBMETER_CPLATFORM_SHIM_H
// Process-level tuning from the C library that Glibc's Swift module does not carry.
#include <malloc.h>

// Caps glibc's malloc arenas (default: eight per core). Returns 1 on success.
static inline int hubmeter_limit_malloc_arenas(int arenas) {
#ifdef M_ARENA_MAX
    return mallopt(M_ARENA_MAX, arenas);
#else
    (void)arenas;
    return 0;
#endif
}
#endif
