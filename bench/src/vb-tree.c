/* vb-tree: a child that forks one grandchild which ignores SIGTERM, for the stop measures of bench/run.sh.
 *   vb-tree obey    the child itself dies on SIGTERM (default action); its grandchild ignores SIGTERM
 *   vb-tree ignore  the child and its grandchild both ignore SIGTERM
 * Both then wait forever. The grandchild stays in the child's process group and session, so a supervisor
 * that signals the group (or walks the tree) reaches it; one that signals only the child's PID does not.
 * Only SIGKILL (or a signal other than TERM) ends an ignoring process. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int ignore = argc > 1 && strcmp(argv[1], "ignore") == 0;
    signal(SIGTERM, SIG_IGN);       /* before fork: the grandchild ignores TERM from its first instant */
    pid_t pid = fork();
    if (pid == 0)                   /* grandchild */
        for (;;) pause();
    if (!ignore) signal(SIGTERM, SIG_DFL);
    for (;;) pause();
}
