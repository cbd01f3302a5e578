/* vb-crash: the crash/restart-latency child of bench/run.sh.
 * Appends "S <ns>" (CLOCK_REALTIME at the start of main) and "E <ns>" (just before exiting) to a file,
 * then exits 1. File: argv[1], or ./stamps when run without arguments (runit runs ./run with none).
 * Restart latency = the next S − the previous E: the supervisor's reaction (reap, decide, fork, exec)
 * plus this program's own exec and libc start-up, which is the same for every supervisor. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void stamp(int fd, char tag) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%c %lld\n", tag, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    if (write(fd, buf, (size_t)n) != n) _exit(2);
}

int main(int argc, char **argv) {
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    const char *path = argc > 1 ? argv[1] : "stamps";
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return 2;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "S %lld\n", (long long)start.tv_sec * 1000000000LL + start.tv_nsec);
    if (write(fd, buf, (size_t)n) != n) return 2;
    stamp(fd, 'E');
    return 1;
}
