/* logcheck: log-file helper for measure 4 of bench/run.sh (capture of vb-flood's lines).
 *
 *   logcheck wait FILE LAST TIMEOUT_MS [PID...]
 *       Poll every 1 ms until FILE holds the whole flood: it ends with a complete line ("...abcdefg\n", the
 *       end of every vb-flood line), its last 4 KiB contain the marker of sequence number LAST, and no live
 *       process named vb-flood is left. Prints "END_NS START_NS TICKS_FIRST TICKS_END": END_NS =
 *       CLOCK_REALTIME when that first held; START_NS = the child's own start stamp read from the first
 *       line ("start=<ns>"); TICKS_* = utime+stime summed over the PIDs when the file was first seen
 *       non-empty and at the end (each PID's last value read while it existed, so a PID that exits
 *       meanwhile still counts). Exit 3 on timeout ("timeout ..."); with LOGCHECK_ALIVE=PID, exit 4
 *       ("exited ...") as soon as that process is gone while the log is still incomplete. Exit 5 when the
 *       child has exited but the log, still incomplete, has not grown for 5 s (a tool that lost the last
 *       line would otherwise run into the timeout): prints "stalled GROW_NS START_NS TICKS_FIRST TICKS_GROW"
 *       with GROW_NS = when the file last grew and TICKS_GROW the CPU ticks at that moment.
 *   logcheck verify FILE LAST
 *       Read FILE line by line; find "vbf" + 10 digits + " " in each (behind any prefix, e.g. a timestamp);
 *       prints "lines=N good=N missing=N disorder=N bad=N": good = lines carrying a marker followed by the
 *       complete, unchanged 85-byte payload; missing = sequence numbers 1..LAST never seen; disorder =
 *       markers not greater than the previous one (duplicates, reordering); bad = lines without a marker or
 *       with a cut/altered payload (a split line counts twice: its head and its tail). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD 85           /* bytes after "vbfNNNNNNNNNN " up to the newline */
#define MAXPIDS 64
#define STALL_NS 5000000000LL

#include "benchutil.h"

/* utime+stime of PID, or -1; *state gets the state letter. */
static long long ticks_of(int pid, char *state) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_small(path, buf, sizeof buf) <= 0) return -1;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p += 2;
    if (state) *state = *p;
    long long f[16] = {0};
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok && field <= 15; tok = strtok_r(NULL, " ", &save), field++)
        f[field] = atoll(tok);
    return f[14] + f[15];
}

static int is_live(int pid) {
    char st = 0;
    return ticks_of(pid, &st) >= 0 && st != 'Z' && st != 'X' && st != 'x';
}

static int floods_alive(void) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        char path[300], buf[64];
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        if (read_small(path, buf, sizeof buf) <= 0 || strcmp(buf, "vb-flood\n") != 0) continue;
        if (is_live(atoi(e->d_name))) n++;
    }
    closedir(d);
    return n;
}

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Does FILE (of SIZE bytes) end with a complete flood line, with the marker of LAST in its last 4 KiB? */
static int tail_done(const char *file, off_t size, const char *marker) {
    char buf[4097];
    off_t off = size > 4096 ? size - 4096 : 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = pread(fd, buf, (size_t)(size - off), off);
    close(fd);
    if (n < 8) return 0;
    buf[n] = 0;
    return memcmp(buf + n - 8, "abcdefg\n", 8) == 0 && memmem(buf, (size_t)n, marker, strlen(marker)) != NULL;
}

static long long start_stamp(const char *file) {
    char buf[4096];
    if (read_small(file, buf, sizeof buf) <= 0) return 0;
    char *p = strstr(buf, "vbf0000000001 start=");
    return p ? atoll(p + 20) : 0;
}

static int cmd_wait(int argc, char **argv) {
    const char *file = argv[2];
    unsigned long last = strtoul(argv[3], NULL, 10);
    long long deadline = now_ns() + atoll(argv[4]) * 1000000LL;
    int npids = argc - 5 > MAXPIDS ? MAXPIDS : argc - 5;
    int pids[MAXPIDS];
    long long seen[MAXPIDS];
    for (int i = 0; i < npids; i++) { pids[i] = atoi(argv[5 + i]); seen[i] = 0; }
    const char *alive_env = getenv("LOGCHECK_ALIVE");
    int watched = alive_env && *alive_env ? atoi(alive_env) : 0;
    char marker[32];
    snprintf(marker, sizeof marker, "vbf%010lu ", last);
    long long ticks_first = -1;
    off_t checked = -1;
    int log_done = 0, iter = 0;
    long long grow_ns = now_ns(), ticks_grow = 0;
    for (;;) {
        long long sum = 0;
        for (int i = 0; i < npids; i++) {
            long long t = ticks_of(pids[i], NULL);
            if (t >= 0) seen[i] = t;
            sum += seen[i];
        }
        int watched_gone = watched && !is_live(watched);
        struct stat st;
        if (stat(file, &st) == 0 && st.st_size > 0) {
            if (ticks_first < 0) ticks_first = sum;
            if (!log_done && st.st_size != checked) {
                checked = st.st_size;
                grow_ns = now_ns();
                ticks_grow = sum;
                log_done = tail_done(file, st.st_size, marker);
            }
        }
        long long t = now_ns();
        if (log_done && floods_alive() == 0) {
            printf("%lld %lld %lld %lld\n", t, start_stamp(file), ticks_first < 0 ? 0 : ticks_first, sum);
            return 0;
        }
        if (t > deadline) {
            printf("timeout log=%s size=%lld\n", log_done ? "complete" : "incomplete", (long long)(checked < 0 ? 0 : checked));
            return 3;
        }
        if (!log_done && checked > 0 && ++iter % 100 == 0 && t - grow_ns > STALL_NS && floods_alive() == 0) {
            printf("stalled %lld %lld %lld %lld\n", grow_ns, start_stamp(file), ticks_first < 0 ? 0 : ticks_first, ticks_grow);
            return 5;
        }
        if (watched_gone && !log_done) {
            printf("exited size=%lld\n", (long long)(checked < 0 ? 0 : checked));
            return 4;
        }
        sleep_ms(1);
    }
}

static int cmd_verify(char **argv) {
    const char *file = argv[2];
    unsigned long last = strtoul(argv[3], NULL, 10);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { printf("lines=0 good=0 missing=%lu disorder=0 bad=0\n", last); return 0; }
    struct stat st;
    fstat(fd, &st);
    size_t size = (size_t)st.st_size;
    char *data = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && data == MAP_FAILED) { perror("mmap"); return 1; }
    if (size) madvise(data, size, MADV_SEQUENTIAL);
    static char payload[PAYLOAD];
    for (int j = 0; j < PAYLOAD; j++) payload[j] = (char)('a' + j % 26);
    unsigned long lines = 0, good = 0, missing = 0, disorder = 0, bad = 0, prev = 0;
    char *p = data, *end = data + size;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        lines++;
        char *m = memmem(p, (size_t)(eol - p), "vbf", 3);
        int ok = 0;
        if (m && eol - m >= 14 && m[13] == ' ') {
            int digits = 1;
            unsigned long seq = 0;
            for (int i = 3; i < 13; i++) {
                if (m[i] < '0' || m[i] > '9') { digits = 0; break; }
                seq = seq * 10 + (unsigned long)(m[i] - '0');
            }
            if (digits) {
                if (seq > prev) { missing += seq - prev - 1; prev = seq; }
                else disorder++;
                ok = nl && eol - (m + 14) == PAYLOAD &&
                     (seq == 1 || memcmp(m + 14, payload, PAYLOAD) == 0);
            }
        }
        if (ok) good++; else bad++;
        p = eol + 1;
    }
    if (prev < last) missing += last - prev;
    if (size) munmap(data, size);
    printf("lines=%lu good=%lu missing=%lu disorder=%lu bad=%lu\n", lines, good, missing, disorder, bad);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "wait") == 0) return cmd_wait(argc, argv);
    if (argc == 4 && strcmp(argv[1], "verify") == 0) return cmd_verify(argv);
    fprintf(stderr, "usage: logcheck wait FILE LAST TIMEOUT_MS [PID...] | logcheck verify FILE LAST\n");
    return 2;
}
