/* vh-ping: the exec probe of bench/health.sh. Connects to the unix socket SOCK of a `vh-hang ping` child,
 * sends "ping" and exits 0 when the answer starts with "pong", 1 otherwise. It has no timeout of its own:
 * when the child has stopped answering, it waits until Vigil kills it at the probe's timeout, as a real
 * check of a hung service would.
 *
 *   vh-ping SOCK */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: vh-ping SOCK\n"); return 2; }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof sa.sun_path) return 2;
    strcpy(sa.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
    if (write(fd, "ping\n", 5) != 5) return 1;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n >= 4 && memcmp(buf, "pong", 4) == 0) return 0;
    fprintf(stderr, "vh-ping: no pong\n");
    return 1;
}
