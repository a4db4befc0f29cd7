/* SPDX-License-Identifier: MIT */
/* Test topologies in throw-away namespaces, and real packets through them.
 *
 *   <tag>-i  "internet": 203.0.113.2/24 on wan0, listeners
 *      |
 *   <tag>-h  "host" (--host-netns): uplink up0 203.0.113.1/24, default via .2
 *      |  transit links made by vpcnet
 *   vpcnet-vpc-<tag>-*  routers, vpcnet-sbx-<tag>-*  sandboxes (made by vpcnet)
 *
 * The fixtures (host, internet, their link) are the test's own, set up with `ip`; what
 * vpcnet builds is only ever built by the vpcnet binary under test.  Every name carries the
 * test's tag (its pid), so tests run in parallel, and teardown removes all of it. */
#ifndef VPCNET_TEST_TOPO_H
#define VPCNET_TEST_TOPO_H

#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#define INET_ADDR "203.0.113.2"
#define UPLINK_ADDR "203.0.113.1"

struct topo {
	char tag[16];        /* "t<pid>" */
	char host[32];       /* netns names */
	char inet[32];
	char state_dir[128];
	pid_t listeners[16];
	int nlisteners;
};

/* Skips the test unless root; builds host + internet. */
void topo_setup(struct topo *t);
/* Deletes every VPC (--force), the fixtures, leftovers with the tag, the state dir. */
void topo_teardown(struct topo *t);

/* Runs `vpcnet --state-dir S --host-netns H ARGS...` (args split on spaces); stdout and
 * stderr go to @out (may be NULL).  Returns the exit code.  @env (may be NULL) is one
 * extra "NAME=value" for the environment. */
int vpcnet(struct topo *t, char *out, size_t outlen, const char *env, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Runs a command (argv split on spaces) and returns its exit code; output to @out. */
int run(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The device group of link @ifname in namespace @netns (read with ip), or -1. */
long link_group(const char *netns, const char *ifname);

/* Runs @prefix + ARGS (split on spaces) with stdin /dev/null and stdout and stderr on the
 * file @dir/run.out (a detached container inherits them, so not a pipe the test would wait
 * on), killed after @timeout_s; the output to @out (may be NULL).  Returns the exit code. */
int vrun_logged(const char *dir, int timeout_s, char *out, size_t outlen, const char *prefix,
		const char *fmt, va_list ap);

/* "/run/netns/NAME" */
const char *nspath(const char *name, char *buf, size_t n);

/* Listeners, in namespace @netns (a path), on all addresses; they reply with the peer's
 * address and count what they got.  Stopped at teardown. */
struct listener {
	pid_t pid;
	int count_fd;  /* one byte per connection or datagram received */
	int seen;
};
void listen_tcp(struct topo *t, const char *netns, uint16_t port, struct listener *l);
void listen_udp(struct topo *t, const char *netns, uint16_t port, struct listener *l);
/* Connections/datagrams seen so far. */
int listener_count(struct listener *l);

enum probe_result {
	P_OK = 0,        /* connected / answered */
	P_REFUSED = 1,   /* RST or ICMP error: refused fast */
	P_TIMEOUT = 2,   /* nothing came back */
	P_ERROR = 3,     /* the probe itself failed */
};
/* From namespace @netns: TCP connect to @ip:@port; on success @peer gets what the server
 * saw as our address.  @ms bounds the wait. */
enum probe_result probe_tcp(const char *netns, const char *ip, uint16_t port, int ms,
			    char *peer, size_t peerlen);
/* UDP datagram to @ip:@port, waiting for the echo. */
enum probe_result probe_udp(const char *netns, const char *ip, uint16_t port, int ms,
			    char *peer, size_t peerlen);
/* ICMP echo request to @ip (raw socket). */
enum probe_result probe_icmp(const char *netns, const char *ip, int ms);

#endif
