/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "tests/attack/attack.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until @fd is readable (true) or @end has passed (false). */
static bool readable_before(int fd, int64_t end)
{
	for (;;) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left) == 1)
			return true;
	}
}

static int enter(const char *netns)
{
	int fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

int in_netns(const char *netns, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(enter(netns) ? 255 : fn(arg) & 0xff);
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int inside(const char *netns_path, const char *fmt, ...)
{
	const char *name = strrchr(netns_path, '/');
	name = name ? name + 1 : netns_path;
	char cmd[1024], out[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return run(out, sizeof(out), "ip netns exec %s %s", name, cmd);
}

/* --- captures ----------------------------------------------------------------------------- */

static int packet_socket(const char *ifname, int *ifindex)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (s < 0)
		return -1;
	*ifindex = ifname ? (int)if_nametoindex(ifname) : 0;
	if (ifname && !*ifindex) {
		close(s);
		return -1;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = *ifindex };
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll))) {
		close(s);
		return -1;
	}
	return s;
}

void capture_start(struct capture *c, const char *netns, const char *ifname, const char *marker,
		   int ms)
{
	int pfd[2];
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int ifindex, count = -1;
		int s = enter(netns) ? -1 : packet_socket(ifname, &ifindex);
		if (s < 0) {
			if (write(pfd[1], &count, sizeof(count))) { /* the parent sees -1 */ }
			_exit(1);
		}
		char ready = 'r';
		if (write(pfd[1], &ready, 1) != 1)
			_exit(1);
		count = 0;
		size_t mlen = strlen(marker);
		for (int64_t end = now_ms() + ms; readable_before(s, end);) {
			uint8_t buf[2048];
			struct sockaddr_ll from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
					     &fl);
			if (n > 0 && from.sll_pkttype != PACKET_OUTGOING && memmem(buf, n, marker, mlen))
				count++;
		}
		if (write(pfd[1], &count, sizeof(count))) { /* read by capture_end */ }
		_exit(0);
	}
	close(pfd[1]);
	char ready = 0;
	cr_assert_eq(read(pfd[0], &ready, 1), 1, "capture in %s did not start", netns);
	cr_assert_eq(ready, 'r', "capture in %s on %s could not open", netns, ifname);
	c->pid = pid;
	c->fd = pfd[0];
}

int capture_end(struct capture *c)
{
	int count = -1;
	if (read(c->fd, &count, sizeof(count)) != sizeof(count))
		count = -1;
	close(c->fd);
	waitpid(c->pid, NULL, 0);
	return count;
}

struct send_job {
	const char *ifname;
	const void *frame;
	size_t len;
	int count;
};

static int do_send(void *arg)
{
	struct send_job *j = arg;
	int ifindex;
	int s = packet_socket(j->ifname, &ifindex);
	if (s < 0)
		return 1;
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6 };
	memcpy(to.sll_addr, j->frame, 6);
	for (int i = 0; i < j->count; i++) {
		if (sendto(s, j->frame, j->len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			return 2;
		usleep(2000);
	}
	return 0;
}

int send_frames(const char *netns, const char *ifname, const void *frame, size_t len, int count)
{
	struct send_job j = { ifname, frame, len, count };
	return in_netns(netns, do_send, &j);
}

/* --- frames ------------------------------------------------------------------------------- */

static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static size_t eth(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint16_t type)
{
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = type >> 8;
	f[13] = type & 0xff;
	return 14;
}

/* Headers are built in aligned locals and copied: after 14 bytes of Ethernet they are not
 * aligned for their structs. */
size_t frame_udp4(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		  const char *dip, uint16_t sport, uint16_t dport, const char *payload)
{
	size_t off = eth(f, dmac, smac, ETHERTYPE_IP), plen = strlen(payload);
	struct iphdr ip = { .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_UDP };
	ip.tot_len = htons(sizeof(ip) + sizeof(struct udphdr) + plen);
	inet_pton(AF_INET, sip, &ip.saddr);
	inet_pton(AF_INET, dip, &ip.daddr);
	ip.check = fold(sum16(&ip, sizeof(ip), 0));
	memcpy(f + off, &ip, sizeof(ip));
	off += sizeof(ip);
	struct udphdr u = { .source = htons(sport), .dest = htons(dport),
			    .len = htons(sizeof(u) + plen) };  /* no checksum: optional over IPv4 */
	memcpy(f + off, &u, sizeof(u));
	memcpy(f + off + sizeof(u), payload, plen);
	return off + sizeof(u) + plen;
}

size_t frame_arp(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint16_t op,
		 const uint8_t sha[6], const char *spa, const uint8_t tha[6], const char *tpa)
{
	size_t off = eth(f, dmac, smac, ETHERTYPE_ARP);
	uint8_t *a = f + off;
	a[0] = 0, a[1] = 1, a[2] = 8, a[3] = 0, a[4] = 6, a[5] = 4;
	a[6] = op >> 8, a[7] = op & 0xff;
	memcpy(a + 8, sha, 6);
	inet_pton(AF_INET, spa, a + 14);
	memcpy(a + 18, tha, 6);
	inet_pton(AF_INET, tpa, a + 24);
	return off + 28;
}

static size_t ip6(uint8_t *f, size_t off, const char *sip, const char *dip, uint8_t next,
		  size_t plen, uint8_t hops)
{
	struct ip6_hdr h = { 0 };
	h.ip6_flow = htonl(6u << 28);
	h.ip6_plen = htons(plen);
	h.ip6_nxt = next;
	h.ip6_hlim = hops;
	inet_pton(AF_INET6, sip, &h.ip6_src);
	inet_pton(AF_INET6, dip, &h.ip6_dst);
	memcpy(f + off, &h, sizeof(h));
	return off + sizeof(h);
}

/* The checksum over the IPv6 pseudo-header (addresses at 8..40 of the header) and @l4. */
static uint16_t csum6(const uint8_t *f, size_t ip_off, const void *l4, size_t len, uint8_t next)
{
	uint32_t sum = sum16(f + ip_off + 8, 32, 0);
	sum += len;
	sum += next;
	return fold(sum16(l4, len, sum));
}

/* IPv6 carrying a transport header @hdr (its checksum field at @check_off) and @payload. */
static size_t frame_l4_6(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
			 const char *dip, uint8_t proto, const void *hdr, size_t hlen,
			 size_t check_off, const char *payload)
{
	size_t plen = strlen(payload), len = hlen + plen;
	size_t ip_off = eth(f, dmac, smac, ETHERTYPE_IPV6);
	size_t off = ip6(f, ip_off, sip, dip, proto, len, 64);
	memcpy(f + off, hdr, hlen);
	memcpy(f + off + hlen, payload, plen);
	uint16_t check = csum6(f, ip_off, f + off, len, proto);
	memcpy(f + off + check_off, &check, 2);
	return off + len;
}

size_t frame_udp6(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		  const char *dip, uint16_t sport, uint16_t dport, const char *payload)
{
	struct udphdr u = { .source = htons(sport), .dest = htons(dport),
			    .len = htons(sizeof(u) + strlen(payload)) };
	return frame_l4_6(f, dmac, smac, sip, dip, IPPROTO_UDP, &u, sizeof(u),
			  offsetof(struct udphdr, check), payload);
}

size_t frame_tcp6_syn(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		      const char *dip, uint16_t sport, uint16_t dport, const char *payload)
{
	struct tcphdr t = { .source = htons(sport), .dest = htons(dport), .seq = htonl(1),
			    .doff = 5, .syn = 1, .window = htons(65535) };
	return frame_l4_6(f, dmac, smac, sip, dip, IPPROTO_TCP, &t, sizeof(t),
			  offsetof(struct tcphdr, check), payload);
}

size_t frame_icmp6(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		   const char *dip, uint8_t type, const void *body, size_t blen)
{
	size_t ip_off = eth(f, dmac, smac, ETHERTYPE_IPV6);
	size_t off = ip6(f, ip_off, sip, dip, IPPROTO_ICMPV6, 4 + blen, 255);
	uint8_t *p = f + off;
	p[0] = type, p[1] = 0, p[2] = 0, p[3] = 0;
	memcpy(p + 4, body, blen);
	uint16_t c = csum6(f, ip_off, p, 4 + blen, IPPROTO_ICMPV6);
	memcpy(p + 2, &c, 2);
	return off + 4 + blen;
}

struct mac_job {
	const char *ifname;
	uint8_t mac[6];
	int pfd;
};

static int do_mac(void *arg)
{
	struct mac_job *j = arg;
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", j->ifname);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr))
		return 1;
	return write(j->pfd, ifr.ifr_hwaddr.sa_data, 6) == 6 ? 0 : 1;
}

void if_mac(const char *netns, const char *ifname, uint8_t mac[6])
{
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	struct mac_job j = { .ifname = ifname, .pfd = pfd[1] };
	cr_assert_eq(in_netns(netns, do_mac, &j), 0, "no MAC for %s in %s", ifname, netns);
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], mac, 6), 6);
	close(pfd[0]);
}

void mac_parse(const char *s, uint8_t mac[6])
{
	unsigned m[6];
	cr_assert_eq(sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]), 6,
		     "not a MAC: %s", s);
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
}

/* --- UDP ---------------------------------------------------------------------------------- */

struct rx_result {
	int count;
	char ip[INET_ADDRSTRLEN];
	uint16_t port;
};

void udp_rx_start(struct udp_rx *r, const char *netns, uint16_t port, int ms)
{
	int pfd[2];
	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rx_result res = { .count = -1 };
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
		int s = enter(netns) ? -1 : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (s >= 0)
			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		char ready = s >= 0 && !bind(s, (struct sockaddr *)&sa, sizeof(sa)) ? 'r' : 'x';
		if (write(pfd[1], &ready, 1) != 1 || ready != 'r')
			_exit(1);
		res.count = 0;
		for (int64_t end = now_ms() + ms; readable_before(s, end);) {
			char buf[512];
			struct sockaddr_in from;
			socklen_t fl = sizeof(from);
			if (recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl) < 0)
				continue;
			if (res.count++ == 0) {
				inet_ntop(AF_INET, &from.sin_addr, res.ip, sizeof(res.ip));
				res.port = ntohs(from.sin_port);
			}
		}
		if (write(pfd[1], &res, sizeof(res))) { /* read by udp_rx_end */ }
		_exit(0);
	}
	close(pfd[1]);
	char ready = 0;
	cr_assert_eq(read(pfd[0], &ready, 1), 1);
	cr_assert_eq(ready, 'r', "UDP receiver on %u in %s could not bind", port, netns);
	r->pid = pid;
	r->fd = pfd[0];
}

int udp_rx_end(struct udp_rx *r, char *from_ip, size_t iplen, uint16_t *from_port)
{
	struct rx_result res = { .count = -1 };
	if (read(r->fd, &res, sizeof(res)) != sizeof(res))
		res.count = -1;
	close(r->fd);
	waitpid(r->pid, NULL, 0);
	if (from_ip)
		snprintf(from_ip, iplen, "%s", res.ip);
	if (from_port)
		*from_port = res.port;
	return res.count;
}

struct tx_job {
	const char *sip, *dip, *payload;
	uint16_t sport, dport;
};

static int do_udp_send(void *arg)
{
	struct tx_job *j = arg;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(j->sport) };
	if (j->sip)
		inet_pton(AF_INET, j->sip, &src.sin_addr);
	if ((j->sip || j->sport) && bind(s, (struct sockaddr *)&src, sizeof(src)))
		return errno;
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(j->dport) };
	inet_pton(AF_INET, j->dip, &dst.sin_addr);
	if (sendto(s, j->payload, strlen(j->payload), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		return errno;
	return 0;
}

int udp_send(const char *netns, const char *sip, uint16_t sport, const char *dip, uint16_t dport,
	     const char *payload)
{
	struct tx_job j = { sip, dip, payload, sport, dport };
	return in_netns(netns, do_udp_send, &j);
}

/* --- observations ------------------------------------------------------------------------- */

long long sandbox_field(struct topo *t, const char *id, const char *path, char *str, size_t n)
{
	char out[8192];
	cr_assert_eq(vpcnet(t, out, sizeof(out), NULL, "--json sandbox show %s", id), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL), *v = j;
	cr_assert(j, "%s", out);
	char key[64];
	snprintf(key, sizeof(key), "%s", path);
	for (char *save = NULL, *k = strtok_r(key, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	cr_assert(v, "no %s in %s", path, out);
	long long r = json_is_integer(v) ? json_integer_value(v) : 0;
	if (str && n)
		snprintf(str, n, "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(j);
	return r;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void neigh_table(const char *netns_name, char *out, size_t n)
{
	char raw[16384];
	cr_assert_eq(run(raw, sizeof(raw), "ip -n %s -4 neigh show nud all", netns_name), 0, "%s", raw);
	/* keep address, device, lladdr; drop the NUD state, which ages on its own */
	char *lines[256];
	size_t nl = 0;
	for (char *save = NULL, *l = strtok_r(raw, "\n", &save); l && nl < 256;
	     l = strtok_r(NULL, "\n", &save)) {
		char ip[64] = "", dev[32] = "", ll[32] = "";
		char *p;
		sscanf(l, "%63s", ip);
		if ((p = strstr(l, " dev ")))
			sscanf(p + 5, "%31s", dev);
		if ((p = strstr(l, " lladdr ")))
			sscanf(p + 8, "%31s", ll);
		if (strstr(l, "FAILED") || strstr(l, "INCOMPLETE"))
			continue;  /* no address learnt */
		char *line = malloc(160);
		snprintf(line, 160, "%s %s %s", ip, dev, ll);
		lines[nl++] = line;
	}
	qsort(lines, nl, sizeof(*lines), cmp_line);
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < nl; i++) {
		used += snprintf(out + used, used < n ? n - used : 0, "%s\n", lines[i]);
		free(lines[i]);
	}
}

void pair_setup(struct topo *t, const char *cidr, struct pair *p)
{
	make_vpc(t, "a", cidr, true);
	make_sbx(t, "a", "s1", &p->s1);
	make_sbx(t, "a", "s2", &p->s2);
	char mac[32];
	sandbox_field(t, p->s1.id, "mac", mac, sizeof(mac));
	mac_parse(mac, p->own);
	sandbox_field(t, p->s2.id, "mac", mac, sizeof(mac));
	mac_parse(mac, p->nbr);
	sandbox_field(t, p->s1.id, "port", p->port1, sizeof(p->port1));
	router_ns(t, "a", p->rns, sizeof(p->rns));
	snprintf(p->rname, sizeof(p->rname), "%s", strrchr(p->rns, '/') + 1);
	if_mac(p->rns, p->port1, p->gw1);
}
