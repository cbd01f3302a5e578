/* Small helpers shared by the bench's C programs (included, not linked: each program is one cc call). */
#ifndef VIGIL_BENCHUTIL_H
#define VIGIL_BENCHUTIL_H
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

/* CLOCK_REALTIME in nanoseconds (comparable across processes and with file mtimes). */
static inline long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads a small file (a /proc entry) into buf, NUL-terminated; its length, or -1. */
static inline int read_small(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return (int)n;
}
#endif
