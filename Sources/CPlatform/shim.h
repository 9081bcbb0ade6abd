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

// Gives the free pages of malloc's heap back to the kernel (glibc's malloc_trim). Returns 1 if
// memory was released.
static inline int hubmeter_release_free_heap(void) {
#ifdef __GLIBC__
    return malloc_trim(0);
#else
    return 0;
#endif
}
#endif
