/* SPDX-License-Identifier: MIT */
/* The data path's connection rate: `connect serve PORT` accepts and closes connections until
 * killed; `connect run ADDR PORT N` opens and closes N connections one after the other and
 * prints how many per second.  Bounded by N, and by a 2 s timeout per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int serve(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1024)) {
		perror("serve");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

static int run(const char *addr, int port, int n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "connect: bad address %s\n", addr);
		return 2;
	}
	double t0 = now();
	int ok = 0;
	for (int i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct linger l = { 1, 0 };  /* reset on close: no TIME_WAIT piling up */
		setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) && errno == EINPROGRESS) {
			struct pollfd p = { .fd = s, .events = POLLOUT };
			int e = 0;
			socklen_t el = sizeof(e);
			if (poll(&p, 1, 2000) == 1 && !getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) && !e)
				ok++;
		}
		close(s);
	}
	double dt = now() - t0;
	printf("%.0f\n", ok / dt);
	fprintf(stderr, "connect: %d of %d in %.3f s\n", ok, n, dt);
	return ok == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "run"))
		return run(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: connect serve PORT | connect run ADDR PORT N\n");
	return 2;
}
