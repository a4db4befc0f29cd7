/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/topo.h"

#define LISTENER_LIFE_S 120

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *nspath(const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "/run/netns/%s", name);
	return buf;
}

static int run_argv(char *out, size_t outlen, char **argv, const char *env)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		if (env)
			putenv((char *)env);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t len = 0;
	char sink[4096];
	for (;;) {
		char *dst = out && len + 1 < outlen ? out + len : sink;
		size_t room = out && len + 1 < outlen ? outlen - 1 - len : sizeof(sink);
		ssize_t n = read(pfd[0], dst, room);
		if (n <= 0)
			break;
		if (dst != sink)
			len += n;
	}
	if (out && outlen)
		out[len] = '\0';
	close(pfd[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* @prefix (may be NULL) and the formatted command, in @line, split on spaces into @argv
 * (@max entries, NULL-terminated). */
static void command_argv(char *line, size_t n, const char *prefix, const char *fmt, va_list ap,
			 char **argv, int max)
{
	int len = prefix ? snprintf(line, n, "%s ", prefix) : 0;
	vsnprintf(line + len, n - len, fmt, ap);
	int argc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(line, " ", &save); tok && argc < max - 1;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
}

static int vrun(char *out, size_t outlen, const char *env, const char *prefix, const char *fmt,
		va_list ap)
{
	char line[2048], *argv[96];
	command_argv(line, sizeof(line), prefix, fmt, ap, argv, 96);
	return run_argv(out, outlen, argv, env);
}

int run(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun(out, outlen, NULL, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

long link_group(const char *netns, const char *ifname)
{
	char out[1024];
	if (run(out, sizeof(out), "ip -n %s -o link show %s", netns, ifname))
		return -1;
	const char *g = strstr(out, " group ");
	if (!g)
		return -1;
	g += strlen(" group ");
	return !strncmp(g, "default ", 8) ? 0 : strtol(g, NULL, 10);
}

int vpcnet(struct topo *t, char *out, size_t outlen, const char *env, const char *fmt, ...)
{
	char prefix[512];
	const char *bin = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	snprintf(prefix, sizeof(prefix), "%s --state-dir %s --host-netns %s", bin, t->state_dir,
		 t->host);
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun(out, outlen, env, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

#define MUST(...) do { \
	char _o[1024]; \
	int _rc = run(_o, sizeof(_o), __VA_ARGS__); \
	cr_assert_eq(_rc, 0, "fixture failed (%d): %s", _rc, _o); \
} while (0)

void topo_setup(struct topo *t)
{
	if (geteuid() != 0)
		cr_skip_test("namespace tests need root");
	memset(t, 0, sizeof(*t));
	snprintf(t->tag, sizeof(t->tag), "t%d", getpid());
	snprintf(t->host, sizeof(t->host), "%s-h", t->tag);
	snprintf(t->inet, sizeof(t->inet), "%s-i", t->tag);
	snprintf(t->state_dir, sizeof(t->state_dir), "/tmp/vpcnet-test-%s", t->tag);
	MUST("ip netns add %s", t->host);
	MUST("ip netns add %s", t->inet);
	MUST("ip link add up0 netns %s type veth peer name wan0 netns %s", t->host, t->inet);
	MUST("ip -n %s addr add " UPLINK_ADDR "/24 dev up0", t->host);
	MUST("ip -n %s link set up0 up", t->host);
	MUST("ip -n %s link set lo up", t->host);
	MUST("ip -n %s route add default via " INET_ADDR, t->host);
	MUST("ip -n %s addr add " INET_ADDR "/24 dev wan0", t->inet);
	MUST("ip -n %s link set wan0 up", t->inet);
	MUST("ip -n %s link set lo up", t->inet);
}

static void remove_tagged_netns(const char *tag)
{
	DIR *d = opendir("/run/netns");
	if (!d)
		return;
	struct dirent *e;
	char needle[40];
	snprintf(needle, sizeof(needle), "%s-", tag);
	while ((e = readdir(d)))
		if (strstr(e->d_name, needle))
			run(NULL, 0, "ip netns del %s", e->d_name);
	closedir(d);
}

void topo_teardown(struct topo *t)
{
	if (!t->tag[0])
		return;
	for (int i = 0; i < t->nlisteners; i++) {
		kill(t->listeners[i], SIGKILL);
		waitpid(t->listeners[i], NULL, 0);
	}
	char out[65536];
	if (vpcnet(t, out, sizeof(out), NULL, "--json vpc list") == 0) {
		json_t *arr = json_loads(out, 0, NULL);
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v) {
			const char *name = json_string_value(json_object_get(v, "name"));
			if (name)
				vpcnet(t, NULL, 0, NULL, "vpc delete --force %s", name);
		}
		json_decref(arr);
	}
	remove_tagged_netns(t->tag);
	run(NULL, 0, "ip netns del %s", t->host);
	run(NULL, 0, "ip netns del %s", t->inet);
	run(NULL, 0, "rm -rf %s", t->state_dir);
}

/* --- listeners --------------------------------------------------------------------------- */

static int enter(const char *netns)
{
	int fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		return -1;
	close(fd);
	return 0;
}

static void peer_str(const struct sockaddr_in *sa, char *buf, size_t n)
{
	inet_ntop(AF_INET, &sa->sin_addr, buf, n);
}

static void serve(const char *netns, uint16_t port, int type, int ready, int count)
{
	if (enter(netns))
		_exit(1);
	int s = socket(AF_INET, type, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (type == SOCK_DGRAM)
		setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (type == SOCK_STREAM && listen(s, 128)))
		_exit(1);
	if (write(ready, "R", 1) != 1)
		_exit(1);
	int64_t end = now_ms() + LISTENER_LIFE_S * 1000;
	while (now_ms() < end) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			continue;
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		char who[64];
		if (type == SOCK_STREAM) {
			int c = accept(s, (struct sockaddr *)&peer, &plen);
			if (c < 0)
				continue;
			/* counted before the answer: a prober that has its answer sees the count */
			if (write(count, "c", 1) != 1)
				_exit(0);
			peer_str(&peer, who, sizeof(who));
			if (write(c, who, strlen(who)) < 0) { /* the prober may be gone */ }
			close(c);
		} else {
			/* answer from the address asked (a namespace may hold several) */
			char buf[512], cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct iovec iov = { buf, sizeof(buf) };
			struct msghdr mh = { .msg_name = &peer, .msg_namelen = sizeof(peer),
					     .msg_iov = &iov, .msg_iovlen = 1,
					     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
			if (recvmsg(s, &mh, 0) < 0)
				continue;
			if (write(count, "c", 1) != 1)
				_exit(0);
			peer_str(&peer, who, sizeof(who));
			iov = (struct iovec){ who, strlen(who) };
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			if (cm && cm->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(cm);
				pi->ipi_ifindex = 0;
				pi->ipi_spec_dst = pi->ipi_addr;
			}
			mh.msg_iov = &iov;
			sendmsg(s, &mh, 0);
		}
	}
	_exit(0);
}

static void start_listener(struct topo *t, const char *netns, uint16_t port, int type,
			   struct listener *l)
{
	int ready[2], count[2];
	cr_assert(!pipe2(ready, O_CLOEXEC) && !pipe2(count, O_CLOEXEC));
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		serve(netns, port, type, ready[1], count[1]);
	close(ready[1]);
	close(count[1]);
	struct pollfd p = { .fd = ready[0], .events = POLLIN };
	char c = 0;
	cr_assert(poll(&p, 1, 5000) == 1 && read(ready[0], &c, 1) == 1 && c == 'R',
		  "listener on port %u in %s did not start", port, netns);
	close(ready[0]);
	fcntl(count[0], F_SETFL, O_NONBLOCK);
	l->pid = pid;
	l->count_fd = count[0];
	l->seen = 0;
	if (t->nlisteners < (int)(sizeof(t->listeners) / sizeof(t->listeners[0])))
		t->listeners[t->nlisteners++] = pid;
}

void listen_tcp(struct topo *t, const char *netns, uint16_t port, struct listener *l)
{
	start_listener(t, netns, port, SOCK_STREAM, l);
}

void listen_udp(struct topo *t, const char *netns, uint16_t port, struct listener *l)
{
	start_listener(t, netns, port, SOCK_DGRAM, l);
}

int listener_count(struct listener *l)
{
	char buf[256];
	ssize_t n;
	while ((n = read(l->count_fd, buf, sizeof(buf))) > 0)
		l->seen += n;
	return l->seen;
}

int vrun_logged(const char *dir, int timeout_s, char *out, size_t outlen, const char *prefix,
		const char *fmt, va_list ap)
{
	char line[2048], logf[256], *argv[96];
	command_argv(line, sizeof(line), prefix, fmt, ap, argv, 96);
	snprintf(logf, sizeof(logf), "%s/run.out", dir);
	int fd = open(logf, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status = 0, rc = -1;
	for (int i = 0; i < timeout_s * 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		usleep(50 * 1000);
	}
	if (rc < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (out && outlen) {
		ssize_t got = pread(fd, out, outlen - 1, 0);
		out[got > 0 ? got : 0] = '\0';
	}
	close(fd);
	return rc;
}

/* --- probes ------------------------------------------------------------------------------ */

static enum probe_result refused_or(int e)
{
	switch (e) {
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EACCES:
	case EPERM:
		return P_REFUSED;
	default:
		return P_ERROR;
	}
}

/* In the child: the probe proper. */
static enum probe_result do_probe(int type, const char *ip, uint16_t port, int ms, char *peer,
				  size_t peerlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return P_ERROR;
	int s = socket(AF_INET, type | SOCK_NONBLOCK, 0);
	if (s < 0)
		return P_ERROR;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS)
		return refused_or(errno);
	int64_t end = now_ms() + ms;
	if (type == SOCK_STREAM) {
		struct pollfd p = { .fd = s, .events = POLLOUT };
		if (poll(&p, 1, ms) != 1)
			return P_TIMEOUT;
		int e = 0;
		socklen_t el = sizeof(e);
		getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
		if (e)
			return refused_or(e);
	} else if (send(s, "ping", 4, 0) < 0) {
		return refused_or(errno);
	}
	for (;;) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			return P_TIMEOUT;
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, left) != 1)
			return P_TIMEOUT;
		ssize_t n = recv(s, peer, peerlen - 1, 0);
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			return refused_or(errno);
		}
		peer[n] = '\0';
		return P_OK;
	}
}

static uint16_t csum(const void *data, size_t len)
{
	const uint16_t *p = data;
	uint32_t sum = 0;
	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const uint8_t *)p;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static enum probe_result do_icmp(const char *ip, int ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		return P_ERROR;
	int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (s < 0)
		return P_ERROR;
	struct icmphdr h = { .type = ICMP_ECHO };
	h.un.echo.id = htons(getpid() & 0xffff);
	h.un.echo.sequence = htons(1);
	h.checksum = csum(&h, sizeof(h));
	if (sendto(s, &h, sizeof(h), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return refused_or(errno);
	int64_t end = now_ms() + ms;
	for (;;) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			return P_TIMEOUT;
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, left) != 1)
			return P_TIMEOUT;
		uint8_t buf[1500];
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n < (ssize_t)sizeof(struct iphdr))
			continue;
		const struct iphdr *iph = (const struct iphdr *)buf;
		size_t off = iph->ihl * 4;
		if (n < (ssize_t)(off + sizeof(struct icmphdr)))
			continue;
		const struct icmphdr *r = (const struct icmphdr *)(buf + off);
		if (r->type == ICMP_ECHOREPLY && r->un.echo.id == h.un.echo.id &&
		    iph->saddr == sa.sin_addr.s_addr)
			return P_OK;
		if (r->type == ICMP_DEST_UNREACH && n >= (ssize_t)(off + 8 + sizeof(struct iphdr) + 8)) {
			const struct iphdr *inner = (const struct iphdr *)(buf + off + 8);
			if (inner->daddr == sa.sin_addr.s_addr)
				return P_REFUSED;
		}
	}
}

static enum probe_result probe(const char *netns, int type, const char *ip, uint16_t port,
			       int ms, char *peer, size_t peerlen)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC))
		return P_ERROR;
	pid_t pid = fork();
	if (pid < 0)
		return P_ERROR;
	if (pid == 0) {
		char buf[128] = "";
		enum probe_result r = P_ERROR;
		if (!enter(netns))
			r = type == SOCK_RAW ? do_icmp(ip, ms) : do_probe(type, ip, port, ms, buf + 1,
									  sizeof(buf) - 1);
		buf[0] = (char)r;
		if (write(pfd[1], buf, 1 + strlen(buf + 1))) { /* the parent reads what it gets */ }
		_exit(0);
	}
	close(pfd[1]);
	char buf[128] = "";
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	if (n < 1)
		return P_ERROR;
	buf[n] = '\0';
	if (peer && peerlen)
		snprintf(peer, peerlen, "%s", buf + 1);
	return (enum probe_result)buf[0];
}

enum probe_result probe_tcp(const char *netns, const char *ip, uint16_t port, int ms, char *peer,
			    size_t peerlen)
{
	return probe(netns, SOCK_STREAM, ip, port, ms, peer, peerlen);
}

enum probe_result probe_udp(const char *netns, const char *ip, uint16_t port, int ms, char *peer,
			    size_t peerlen)
{
	return probe(netns, SOCK_DGRAM, ip, port, ms, peer, peerlen);
}

enum probe_result probe_icmp(const char *netns, const char *ip, int ms)
{
	return probe(netns, SOCK_RAW, ip, 0, ms, NULL, 0);
}
