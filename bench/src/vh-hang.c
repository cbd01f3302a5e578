/* vh-hang: the child of bench/health.sh. Does one job every TICK_MS until HANG_MS after its start, then
 * "hangs": keeps running but stops doing that job (or starts doing something wrong), and notes the exact
 * moment it stopped.
 *
 *   vh-hang MODE STAMPS HANG_MS TICK_MS [ARG]
 *
 * STAMPS: appends "S <pid> <ns>" (CLOCK_REALTIME, first thing in main) and, at the hang, "H <pid> <ns>" = the
 * moment the process stopped doing its job (for the modes with a periodic sign of life: the time of the LAST
 * sign, e.g. the mtime of the last touch as the kernel stored it). It also creates STAMPS.hung at the hang: a
 * later run with the same STAMPS (the restart) never hangs, so each unit hangs exactly once.
 * HANG_MS < 0: never hang.
 *
 * MODE (ARG)        healthy: every TICK_MS …                      hang (H = …)
 *   out             print a line to stdout                         stops printing (H = the last line's write)
 *   beat PATH       touch PATH (utimensat)                         stops touching (H = the last touch's mtime)
 *   append PATH     append a line to PATH                          stops appending (H = the last append)
 *   notify          READY=1 once, then WATCHDOG=1 to NOTIFY_SOCKET stops pinging (H = the last WATCHDOG=1)
 *   cost PATH       print a line and touch PATH                    (for the cost measure; never hangs)
 *   ping SOCK       answers "ping" with "pong" on a unix socket    stops accepting; the socket stays open, so
 *                                                                  a client connects and waits (H = then)
 *   http PORT       answers GET with 200 on 127.0.0.1:PORT         the same over TCP (H = then)
 *   tcp PORT        accepts on 127.0.0.1:PORT and closes           closes the listener: refused (H = then)
 *   alloc MAXBYTES  idles                                          touches memory 1 MiB at a time; H = the
 *                                                                  moment its RSS passed MAXBYTES; then 16 MiB
 *                                                                  more, and idles holding it
 *   busy            idles                                          spins on one core (H = the spin's start)
 *   stop            spins 2 ms out of every 50 ms (~4% of a core)  raise(SIGSTOP) (H = just before)
 * It exits on SIGTERM (default action). */
#define _GNU_SOURCE
#include "benchutil.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *stamps;
static long long start_ns, hang_at_ns = -1, tick_ns;


static void die(const char *what) { perror(what); _exit(2); }

static void stamp(char tag, long long ns) {
    int fd = open(stamps, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die(stamps);
    char buf[80];
    int n = snprintf(buf, sizeof buf, "%c %d %lld\n", tag, (int)getpid(), ns);
    if (write(fd, buf, (size_t)n) != n) die("write stamps");
    close(fd);
}

/* Record the hang (H at ns) and mark the unit as having hung once. */
static void hung(long long ns) {
    stamp('H', ns);
    char mark[4096];
    snprintf(mark, sizeof mark, "%s.hung", stamps);
    int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
}

static int hang_due(void) { return hang_at_ns >= 0 && now_ns() >= hang_at_ns; }

static void sleep_until(long long ns) {
    struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR) { }
}

static void forever(void) { for (;;) pause(); }

/* ms to wait in poll() until the next tick or the hang, whichever is first (at least 0). */
static int poll_ms(long long next) {
    long long until = next;
    if (hang_at_ns >= 0 && hang_at_ns < until) until = hang_at_ns;
    long long d = until - now_ns();
    return d <= 0 ? 0 : (int)((d + 999999) / 1000000);
}

static long long touch(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die(path);
    if (futimens(fd, NULL) != 0) die("futimens");
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat");
    close(fd);
    return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

/* The periodic modes: do the job every tick; at the hang, stamp the last sign of life and stop. */
static void periodic(const char *mode, const char *arg) {
    int notify_fd = -1;
    struct sockaddr_un nsa = { .sun_family = AF_UNIX };
    socklen_t nlen = 0;
    if (strcmp(mode, "notify") == 0) {
        const char *ns = getenv("NOTIFY_SOCKET");
        if (!ns || !*ns || strlen(ns) >= sizeof nsa.sun_path) { fprintf(stderr, "vh-hang: no NOTIFY_SOCKET\n"); _exit(2); }
        strcpy(nsa.sun_path, ns);
        if (ns[0] == '@') nsa.sun_path[0] = 0; /* abstract namespace */
        nlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns));
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (notify_fd < 0) die("socket");
        if (sendto(notify_fd, "READY=1", 7, 0, (struct sockaddr *)&nsa, nlen) < 0) die("sendto READY=1");
    }
    long long last = -1, next = now_ns();
    unsigned long seq = 0;
    for (;;) {
        if (hang_due()) {
            if (last >= 0) hung(last); else hung(now_ns());
            forever();
        }
        if (strcmp(mode, "out") == 0 || strcmp(mode, "cost") == 0) {
            char buf[64];
            int n = snprintf(buf, sizeof buf, "tick %lu\n", ++seq);
            if (write(1, buf, (size_t)n) != n) die("write stdout");
            last = now_ns();
            if (strcmp(mode, "cost") == 0) last = touch(arg);
        } else if (strcmp(mode, "beat") == 0) {
            last = touch(arg);
        } else if (strcmp(mode, "append") == 0) {
            int fd = open(arg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            if (fd < 0) die(arg);
            if (write(fd, "x\n", 2) != 2) die("append");
            last = now_ns();
            close(fd);
        } else if (strcmp(mode, "notify") == 0) {
            if (sendto(notify_fd, "WATCHDOG=1", 10, 0, (struct sockaddr *)&nsa, nlen) < 0) die("sendto WATCHDOG=1");
            last = now_ns();
        }
        next += tick_ns;
        long long until = next;
        if (hang_at_ns >= 0 && hang_at_ns < until) until = hang_at_ns;
        sleep_until(until);
    }
}

/* The server modes: answer requests until the hang. */
static void serve(const char *mode, const char *arg) {
    int lfd;
    if (strcmp(mode, "ping") == 0) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(arg) >= sizeof sa.sun_path) { fprintf(stderr, "vh-hang: socket path too long\n"); _exit(2); }
        strcpy(sa.sun_path, arg);
        unlink(arg);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind unix");
    } else {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(arg)) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int one = 1;
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0) die("socket");
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind tcp");
    }
    if (listen(lfd, 128) != 0) die("listen");
    for (;;) {
        if (hang_due()) {
            long long t = now_ns();
            if (strcmp(mode, "tcp") == 0) close(lfd); /* refused from now on */
            hung(t);
            forever();                                  /* ping/http: the listener stays open, unanswered */
        }
        struct pollfd p = { lfd, POLLIN, 0 };
        int r = poll(&p, 1, poll_ms(now_ns() + 1000000000LL));
        if (r <= 0 || hang_due()) continue;
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) continue;
        if (strcmp(mode, "tcp") != 0) {
            char buf[2048];
            struct pollfd q = { c, POLLIN, 0 };
            if (poll(&q, 1, 1000) > 0 && read(c, buf, sizeof buf) > 0) {
                const char *reply = strcmp(mode, "ping") == 0 ? "pong\n"
                    : "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
                if (write(c, reply, strlen(reply)) < 0) { /* the client went away */ }
            }
        }
        close(c);
    }
}

static long rss_bytes(void) {
    char buf[256];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    long size, resident;
    if (sscanf(buf, "%ld %ld", &size, &resident) != 2) return 0;
    return resident * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv) {
    start_ns = now_ns();
    if (argc < 5) {
        fprintf(stderr, "usage: vh-hang MODE STAMPS HANG_MS TICK_MS [ARG] (see vh-hang.c)\n");
        return 2;
    }
    const char *mode = argv[1], *arg = argc > 5 ? argv[5] : NULL;
    stamps = argv[2];
    long long hang_ms = atoll(argv[3]);
    tick_ns = atoll(argv[4]) * 1000000LL;
    if (tick_ns <= 0) tick_ns = 100000000LL;
    stamp('S', start_ns);
    char mark[4096];
    snprintf(mark, sizeof mark, "%s.hung", stamps);
    if (hang_ms >= 0 && access(mark, F_OK) != 0) hang_at_ns = start_ns + hang_ms * 1000000LL;

    if (!strcmp(mode, "out") || !strcmp(mode, "notify") || ((!strcmp(mode, "beat") || !strcmp(mode, "append") || !strcmp(mode, "cost")) && arg)) {
        if (!strcmp(mode, "cost")) hang_at_ns = -1;
        periodic(mode, arg);
    }
    if ((!strcmp(mode, "ping") || !strcmp(mode, "http") || !strcmp(mode, "tcp")) && arg) serve(mode, arg);
    if (!strcmp(mode, "alloc") && arg) {
        long max = atol(arg);
        if (hang_at_ns >= 0) sleep_until(hang_at_ns); else forever();
        long long crossed = -1;
        size_t mib = 1 << 20, extra = 0;
        for (;;) {
            char *p = malloc(mib);
            if (!p) die("malloc");
            memset(p, 0x5a, mib);
            if (crossed < 0 && rss_bytes() > max) crossed = now_ns();
            if (crossed >= 0 && ++extra >= 16) break;
        }
        hung(crossed);
        forever();
    }
    if (!strcmp(mode, "busy")) {
        if (hang_at_ns >= 0) sleep_until(hang_at_ns); else forever();
        hung(now_ns());
        volatile unsigned long spin = 0;
        for (;;) spin++;
    }
    if (!strcmp(mode, "stop")) {
        long long next = now_ns();
        for (;;) {
            if (hang_due()) { hung(now_ns()); raise(SIGSTOP); forever(); }
            long long until = now_ns() + 2000000LL;   /* work 2 ms */
            while (now_ns() < until) { }
            next += 50000000LL;
            sleep_until(hang_at_ns >= 0 && hang_at_ns < next ? hang_at_ns : next);
        }
    }
    fprintf(stderr, "vh-hang: unknown mode or missing argument: %s\n", mode);
    return 2;
}
