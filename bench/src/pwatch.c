/* pwatch: /proc helper for bench/run.sh (fast polling without forking a process per check).
 *
 *   pwatch count NAME...                      live processes whose comm is one of NAMEs
 *   pwatch until ge|le N TIMEOUT_MS NAME...   poll every 2 ms until that count is >= / <= N; print the
 *                                             CLOCK_REALTIME ns when it first was; exit 3 (printing
 *                                             "timeout COUNT") when TIMEOUT_MS passes first
 *                                             (with PWATCH_ALIVE=PID set: exit 4, printing "exited COUNT",
 *                                             as soon as that process is no longer live)
 *   pwatch gone TIMEOUT_MS PID...             wait until none of the PIDs is alive; print ns; exit 3 on timeout
 *   pwatch kids PID NAME                      direct children of PID whose comm is NAME
 *   pwatch pids NAME...                       PIDs of live processes whose comm is one of NAMEs
 *   pwatch usage PID...                       "RSS_KB PSS_KB TICKS NPROCS": Rss and Pss summed from
 *                                             smaps_rollup, utime+stime summed from stat, over live PIDs
 *   pwatch ours PREFIX COMMPREFIX             "PID COMM CMDLINE" of every live process whose cmdline contains
 *                                             PREFIX, whose cwd is under PREFIX, or whose comm starts with
 *                                             COMMPREFIX (the harness's leftover check)
 * "Live" means present in /proc and not a zombie (state Z) or dead (X): a zombie no longer runs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

/* Parse /proc/PID/stat: comm (may hold spaces and parens), state, ppid, utime+stime. 0 on success. */
static int proc_stat(int pid, char *comm, size_t comm_size, char *state, int *ppid, long long *ticks) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_small(path, buf, sizeof buf) <= 0) return -1;
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    if (!open_paren || !close_paren) return -1;
    size_t len = (size_t)(close_paren - open_paren - 1);
    if (comm) {
        if (len >= comm_size) len = comm_size - 1;
        memcpy(comm, open_paren + 1, len);
        comm[len] = 0;
    }
    /* fields after ")": 3 state, 4 ppid, ..., 14 utime, 15 stime */
    char *p = close_paren + 2;
    char st = *p;
    if (state) *state = st;
    long long f[16] = {0};
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok && field <= 15; tok = strtok_r(NULL, " ", &save), field++)
        if (field >= 4) f[field] = atoll(tok);
    if (ppid) *ppid = (int)f[4];
    if (ticks) *ticks = f[14] + f[15];
    return 0;
}

static int is_live(int pid) {
    char st;
    if (proc_stat(pid, NULL, 0, &st, NULL, NULL) != 0) return 0;
    return st != 'Z' && st != 'X' && st != 'x';
}

static int name_matches(const char *comm, char **names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(comm, names[i]) == 0) return 1;
    return 0;
}

/* Visit every live process; callback gets pid, comm, ppid. */
typedef void (*visit_fn)(int pid, const char *comm, int ppid, void *ctx);
static void each_proc(visit_fn fn, void *ctx) {
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    int self = getpid();
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        int pid = atoi(e->d_name);
        if (pid == self) continue;
        char comm[64], st;
        int ppid;
        if (proc_stat(pid, comm, sizeof comm, &st, &ppid, NULL) != 0) continue;
        if (st == 'Z' || st == 'X' || st == 'x') continue;
        fn(pid, comm, ppid, ctx);
    }
    closedir(d);
}

struct match_ctx { char **names; int n; int count; int print; int parent; };
static void match_visit(int pid, const char *comm, int ppid, void *vctx) {
    struct match_ctx *c = vctx;
    if (c->parent && ppid != c->parent) return;
    if (!name_matches(comm, c->names, c->n)) return;
    c->count++;
    if (c->print) printf("%d\n", pid);
}
static int count_named(char **names, int n) {
    struct match_ctx c = { names, n, 0, 0, 0 };
    each_proc(match_visit, &c);
    return c.count;
}

static void sleep_ms(int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

struct ours_ctx { const char *prefix; const char *comm_prefix; };
static void ours_visit(int pid, const char *comm, int ppid, void *vctx) {
    (void)ppid;
    struct ours_ctx *c = vctx;
    char path[64], cmd[4096], cwd[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int n = read_small(path, cmd, sizeof cmd);
    if (n < 0) n = 0;
    for (int i = 0; i < n; i++) if (cmd[i] == 0) cmd[i] = ' ';
    snprintf(path, sizeof path, "/proc/%d/cwd", pid);
    ssize_t m = readlink(path, cwd, sizeof cwd - 1);
    cwd[m < 0 ? 0 : m] = 0;
    size_t pl = strlen(c->prefix);
    int hit = strstr(cmd, c->prefix) != NULL || strncmp(cwd, c->prefix, pl) == 0
              || strncmp(comm, c->comm_prefix, strlen(c->comm_prefix)) == 0;
    if (hit) printf("%d %s %s\n", pid, comm, cmd);
}

static int usage(void) {
    fprintf(stderr, "usage: pwatch count|until|gone|kids|pids|usage|ours ... (see pwatch.c)\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "count") == 0) {
        printf("%d\n", count_named(argv + 2, argc - 2));
        return 0;
    }
    if (strcmp(cmd, "pids") == 0) {
        struct match_ctx c = { argv + 2, argc - 2, 0, 1, 0 };
        each_proc(match_visit, &c);
        return 0;
    }
    if (strcmp(cmd, "kids") == 0 && argc == 4) {
        struct match_ctx c = { argv + 3, 1, 0, 1, atoi(argv[2]) };
        each_proc(match_visit, &c);
        return 0;
    }
    if (strcmp(cmd, "until") == 0 && argc >= 6) {
        int ge = strcmp(argv[2], "ge") == 0;
        int target = atoi(argv[3]);
        long long deadline = now_ns() + atoll(argv[4]) * 1000000LL;
        const char *alive_env = getenv("PWATCH_ALIVE");
        int watched = alive_env && *alive_env ? atoi(alive_env) : 0;
        for (;;) {
            int c = count_named(argv + 5, argc - 5);
            long long t = now_ns();
            if (ge ? c >= target : c <= target) { printf("%lld\n", t); return 0; }
            if (t > deadline) { printf("timeout %d\n", c); return 3; }
            if (watched && !is_live(watched)) { printf("exited %d\n", c); return 4; }
            sleep_ms(2);
        }
    }
    if (strcmp(cmd, "gone") == 0 && argc >= 4) {
        long long deadline = now_ns() + atoll(argv[2]) * 1000000LL;
        for (;;) {
            int alive = 0;
            for (int i = 3; i < argc; i++) alive += is_live(atoi(argv[i]));
            long long t = now_ns();
            if (!alive) { printf("%lld\n", t); return 0; }
            if (t > deadline) { printf("timeout %d\n", alive); return 3; }
            sleep_ms(2);
        }
    }
    if (strcmp(cmd, "usage") == 0) {
        long long rss = 0, pss = 0, ticks = 0;
        int n = 0;
        for (int i = 2; i < argc; i++) {
            int pid = atoi(argv[i]);
            long long t;
            char st;
            if (proc_stat(pid, NULL, 0, &st, NULL, &t) != 0 || st == 'Z') continue;
            char path[64], buf[8192];
            snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
            if (read_small(path, buf, sizeof buf) <= 0) continue;
            char *r = strstr(buf, "\nRss:"), *p = strstr(buf, "\nPss:");
            if (r) rss += atoll(r + 5);
            if (p) pss += atoll(p + 5);
            ticks += t;
            n++;
        }
        printf("%lld %lld %lld %d\n", rss, pss, ticks, n);
        return 0;
    }
    if (strcmp(cmd, "ours") == 0 && argc == 4) {
        struct ours_ctx c = { argv[2], argv[3] };
        each_proc(ours_visit, &c);
        return 0;
    }
    return usage();
}
