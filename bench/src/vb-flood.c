/* vb-flood: the log-capture child of bench/run.sh (measure 4).
 *   vb-flood BYTES    writes BYTES/100 numbered lines of exactly 100 bytes each to stdout as fast as it can,
 *                     in write() calls of 10,000 lines (1,000,000 bytes), then exits 0.
 * Every line is "vbf" + a 10-digit sequence number (1, 2, ...) + " " + 85 bytes of filler ("abc...") + "\n".
 * The first line's filler starts with "start=<ns>": CLOCK_REALTIME at the start of main, so the harness
 * can time from the child's start without a side channel (the stamp travels through the supervisor).
 * Nothing in a line contains "vbf" except the marker, so a checker finds it behind any timestamp prefix. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE 100
#define PER_WRITE 10000

static void put_seq(char *p, unsigned long n) {   /* 10 digits, zero-padded */
    for (int i = 9; i >= 0; i--) { p[i] = (char)('0' + n % 10); n /= 10; }
}

static void write_all(const char *p, size_t len) {
    while (len) {
        ssize_t n = write(1, p, len);
        if (n < 0) { if (errno == EINTR) continue; _exit(3); }
        p += n; len -= (size_t)n;
    }
}

int main(int argc, char **argv) {
    struct timespec start;
    clock_gettime(CLOCK_REALTIME, &start);
    if (argc != 2) { fprintf(stderr, "usage: vb-flood BYTES\n"); return 2; }
    unsigned long lines = strtoul(argv[1], NULL, 10) / LINE;
    static char buf[PER_WRITE * LINE];
    for (int i = 0; i < PER_WRITE; i++) {
        char *l = buf + (size_t)i * LINE;
        memcpy(l, "vbf0000000000 ", 14);
        for (int j = 14; j < LINE - 1; j++) l[j] = (char)('a' + (j - 14) % 26);
        l[LINE - 1] = '\n';
    }
    unsigned long seq = 1;
    while (seq <= lines) {
        unsigned long k = lines - seq + 1 < PER_WRITE ? lines - seq + 1 : PER_WRITE;
        for (unsigned long i = 0; i < k; i++) put_seq(buf + i * LINE + 3, seq + i);
        if (seq == 1) {   /* "start=" + 19 digits in the first line's filler; restored after the write */
            char stamp[32];
            snprintf(stamp, sizeof stamp, "start=%019lld",
                     (long long)start.tv_sec * 1000000000LL + start.tv_nsec);
            memcpy(buf + 14, stamp, 25);
            write_all(buf, k * LINE);
            for (int j = 14; j < 39; j++) buf[j] = (char)('a' + (j - 14) % 26);
        } else {
            write_all(buf, k * LINE);
        }
        seq += k;
    }
    return 0;
}
