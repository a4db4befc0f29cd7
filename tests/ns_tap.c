/* SPDX-License-Identifier: MIT */
/* MicroVM tap mode and control ports.
 *
 * tap: the test plays the guest.  It opens the sandbox's tap as a VMM does (TUNSETIFF
 * attach, IFF_TAP | IFF_NO_PI, from a thread that joined the sandbox's namespace; the fd
 * works from any thread after that) and writes and reads whole Ethernet frames on it,
 * built by hand: ARP for the gateway, ping, a TCP handshake through the NAT gateway,
 * spoofed frames, and an answer to the host's control connection.
 *
 * control: the host (and only the host) opens a TCP connection to the sandbox's control
 * port through the router's transit address; a neighbour, another VPC on the same CIDR and
 * the uplink side are refused, with real connections and real listeners. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <time.h>

#include "tests/ns_util.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(tap, .init = setup, .fini = teardown, .timeout = 120);
TestSuite(control, .init = setup, .fini = teardown, .timeout = 120);

/* A frame buffer whose IP header (at 14) is 4-byte aligned, as the kernel's are. */
#define FRAME_MAX 2048
struct frame {
	uint8_t pad[2];
	uint8_t b[FRAME_MAX];
} __attribute__((aligned(4)));

#define QUIET_MS 800
#define ANSWER_MS 3000

/* --- the guest: raw frames on the tap ------------------------------------------------- */

struct guest {
	int fd;
	uint8_t mac[6], gwmac[6];
	uint32_t ip, gw;  /* network order */
};

struct tap_open {
	const char *netns, *name;
	int fd;
};

static void *tap_open_thread(void *arg)
{
	struct tap_open *o = arg;
	int ns = open(o->netns, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		if (ns >= 0)
			close(ns);
		return NULL;
	}
	close(ns);
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0)
		o->fd = fd;
	else if (fd >= 0)
		close(fd);
	return NULL;
}

static int tap_attach(const char *netns, const char *name)
{
	struct tap_open o = { netns, name, -1 };
	pthread_t t;
	if (pthread_create(&t, NULL, tap_open_thread, &o))
		return -1;
	pthread_join(t, NULL);
	return o.fd;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t csum(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;
	for (; n > 1; n -= 2, b += 2)
		sum += (uint32_t)b[0] << 8 | b[1];
	if (n)
		sum += (uint32_t)b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* Ethernet + IPv4 + @l4 (@len bytes, its checksum field zero), checksums filled in. */
static size_t mk_ip(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t sip,
		    uint32_t dip, uint8_t proto, const void *l4, size_t len)
{
	struct ether_header *eh = (struct ether_header *)f;
	memcpy(eh->ether_dhost, dmac, 6);
	memcpy(eh->ether_shost, smac, 6);
	eh->ether_type = htons(ETHERTYPE_IP);
	struct iphdr *ip = (struct iphdr *)(f + 14);
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(20 + len);
	ip->id = htons(now_ms() & 0xffff);
	ip->frag_off = htons(IP_DF);
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = sip;
	ip->daddr = dip;
	ip->check = csum(ip, 20, 0);
	uint8_t *p = f + 34;
	memcpy(p, l4, len);
	if (proto == IPPROTO_ICMP) {
		((struct icmphdr *)p)->checksum = csum(p, len, 0);
	} else {
		uint32_t pseudo = 0;
		uint8_t ph[12];
		memcpy(ph, &sip, 4);
		memcpy(ph + 4, &dip, 4);
		ph[8] = 0;
		ph[9] = proto;
		ph[10] = len >> 8;
		ph[11] = len & 0xff;
		for (int i = 0; i < 12; i += 2)
			pseudo += (uint32_t)ph[i] << 8 | ph[i + 1];
		uint16_t c = csum(p, len, pseudo);
		memcpy(p + (proto == IPPROTO_TCP ? 16 : 6), &c, 2);
	}
	return 34 + len;
}

static void guest_send(struct guest *g, const void *f, size_t n)
{
	cr_assert_eq(write(g->fd, f, n), (ssize_t)n, "write to the tap: %s", strerror(errno));
}

/* Reads frames for up to @ms until @match accepts one; its length, or 0. */
static size_t guest_recv(struct guest *g, uint8_t *f, size_t cap, int ms,
			 bool (*match)(const uint8_t *f, size_t n, const void *arg), const void *arg)
{
	int64_t end = now_ms() + ms;
	for (int left; (left = (int)(end - now_ms())) > 0;) {
		struct pollfd p = { .fd = g->fd, .events = POLLIN };
		if (poll(&p, 1, left) != 1)
			break;
		ssize_t n = read(g->fd, f, cap);
		if (n > 0 && match(f, n, arg))
			return n;
	}
	return 0;
}

static const struct iphdr *ipv4_of(const uint8_t *f, size_t n, uint8_t proto)
{
	if (n < 34 + 8 || f[12] != 0x08 || f[13] != 0x00)
		return NULL;
	const struct iphdr *ip = (const struct iphdr *)(f + 14);
	return ip->version == 4 && ip->ihl == 5 && ip->protocol == proto ? ip : NULL;
}

static bool is_arp_reply_for(const uint8_t *f, size_t n, const void *arg)
{
	const struct guest *g = arg;
	/* ARP reply (op 2) from the gateway's address to ours */
	return n >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2 &&
	       !memcmp(f + 28, &g->gw, 4) && !memcmp(f + 38, &g->ip, 4) &&
	       !memcmp(f + 32, g->mac, 6);
}

static bool is_echo_reply(const uint8_t *f, size_t n, const void *arg)
{
	const struct guest *g = arg;
	const struct iphdr *ip = ipv4_of(f, n, IPPROTO_ICMP);
	const struct icmphdr *ic = (const struct icmphdr *)(f + 34);
	return ip && ip->saddr == g->gw && ip->daddr == g->ip && ic->type == ICMP_ECHOREPLY &&
	       ic->un.echo.id == htons(0x7a9) && !memcmp(f, g->mac, 6);
}

/* ARP for the gateway: the router answers (it is the only one that may) */
static void guest_arp(struct guest *g)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct frame fb = { 0 }, rb;
	uint8_t *f = fb.b, *r = rb.b;
	memcpy(f, bcast, 6);
	memcpy(f + 6, g->mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	memcpy(f + 14, hdr, 8);
	memcpy(f + 22, g->mac, 6);
	memcpy(f + 28, &g->ip, 4);
	memcpy(f + 38, &g->gw, 4);
	/* as a guest does, asked again when no answer comes (a loaded machine may not have the
	 * wire up by the first one) */
	size_t n = 0;
	for (int tries = 0; !n && tries < 3; tries++) {
		guest_send(g, f, 60);
		n = guest_recv(g, r, FRAME_MAX, ANSWER_MS, is_arp_reply_for, g);
	}
	cr_assert(n, "no ARP reply from the gateway on the tap, asked 3 times");
	memcpy(g->gwmac, r + 22, 6);
}

static size_t guest_ping(struct guest *g, const uint8_t smac[6], uint32_t sip)
{
	struct frame fb, rb;
	uint8_t *f = fb.b, *r = rb.b;
	struct icmphdr ic = { .type = ICMP_ECHO };
	ic.un.echo.id = htons(0x7a9);
	ic.un.echo.sequence = htons(1);
	guest_send(g, f, mk_ip(f, g->gwmac, smac, sip, g->gw, IPPROTO_ICMP, &ic, sizeof(ic)));
	return guest_recv(g, r, FRAME_MAX, sip == g->ip ? ANSWER_MS : QUIET_MS, is_echo_reply, g);
}

struct tcp_want {
	const struct guest *g;
	uint32_t peer;
	uint16_t sport, dport;  /* the peer's port, ours */
	uint8_t flags;          /* all of these set */
};

static bool is_tcp(const uint8_t *f, size_t n, const void *arg)
{
	const struct tcp_want *w = arg;
	const struct iphdr *ip = ipv4_of(f, n, IPPROTO_TCP);
	if (!ip || n < 34 + 20)
		return false;
	const struct tcphdr *t = (const struct tcphdr *)(f + 34);
	return (!w->peer || ip->saddr == w->peer) && ip->daddr == w->g->ip &&
	       (!w->sport || t->source == htons(w->sport)) && t->dest == htons(w->dport) &&
	       (f[34 + 13] & w->flags) == w->flags;
}

static size_t mk_tcp(uint8_t *f, const struct guest *g, const uint8_t smac[6], uint32_t sip,
		     uint32_t dip, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
		     uint8_t flags, const char *payload)
{
	uint8_t t[20 + 64] __attribute__((aligned(4))) = { 0 };
	size_t plen = payload ? strlen(payload) : 0;
	if (plen)
		memcpy(t + 20, payload, plen);
	struct tcphdr *th = (struct tcphdr *)t;
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff = 5;
	t[13] = flags;
	th->window = htons(65000);
	return mk_ip(f, g->gwmac, smac, sip, dip, IPPROTO_TCP, t, 20 + plen);
}

#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* --- what the sandbox is: address, MAC, gateway, from `sandbox show --json` ------------- */

static void guest_from_show(struct topo *t, const char *id, struct guest *g, char *ctl,
			    size_t ctllen)
{
	char out[8192];
	cr_assert_eq(vpcnet(t, out, sizeof(out), NULL, "--json sandbox show %s", id), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "%s", out);
	const char *mac = json_string_value(json_object_get(j, "mac"));
	cr_assert(mac && sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &g->mac[0], &g->mac[1],
				&g->mac[2], &g->mac[3], &g->mac[4], &g->mac[5]) == 6, "%s", out);
	cr_assert_eq(inet_pton(AF_INET, json_string_value(json_object_get(j, "ip")), &g->ip), 1);
	cr_assert_eq(inet_pton(AF_INET, json_string_value(json_object_get(j, "gateway")), &g->gw),
		     1);
	if (ctl)
		snprintf(ctl, ctllen, "%s",
			 json_string_value(json_object_get(j, "control_host")) ?: "");
	json_decref(j);
}

/* "a.b.c.d:port" -> its parts */
static void split_hostport(const char *hp, char *ip, size_t n, uint16_t *port)
{
	const char *colon = strrchr(hp, ':');
	cr_assert(colon, "'%s' is no address:port", hp);
	snprintf(ip, n, "%.*s", (int)(colon - hp), hp);
	*port = (uint16_t)atoi(colon + 1);
}

struct bg_probe {
	const char *netns, *ip;
	uint16_t port;
	enum probe_result r;
	char peer[64];
};

static void *bg_probe_run(void *arg)
{
	struct bg_probe *p = arg;
	p->r = probe_tcp(p->netns, p->ip, p->port, ANSWER_MS, p->peer, sizeof(p->peer));
	return NULL;
}

static long long sandbox_count_spoofed(struct topo *t, const char *id)
{
	char out[8192];
	cr_assert_eq(vpcnet(t, out, sizeof(out), NULL, "--json sandbox show %s", id), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	long long v = json_integer_value(json_object_get(json_object_get(j, "drops"), "spoofed"));
	json_decref(j);
	return v;
}

/* --- tap ------------------------------------------------------------------------------- */

Test(tap, a_guest_on_the_tap_is_the_sandbox)
{
	char out[8192], inet[256], host[256], ctl[64], ctl_ip[16];
	uint16_t ctl_port;
	make_vpc(&T, "a", "10.71.0.0/16", true);
	struct sbx s, nbr;
	make_sbx_args(&T, "a", "vm", "--tap tap0 --control-port 7000", &s);
	make_sbx(&T, "a", "nbr", &nbr);
	struct guest g = { 0 };
	guest_from_show(&T, s.id, &g, ctl, sizeof(ctl));
	split_hostport(ctl, ctl_ip, sizeof(ctl_ip), &ctl_port);
	nspath(T.inet, inet, sizeof(inet));
	nspath(T.host, host, sizeof(host));

	/* the namespace's own interface holds no address: the guest owns it */
	const char *ns = strrchr(s.netns, '/') + 1;
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -4 -o addr show dev eth0", ns), 0, "%s", out);
	cr_assert_str_empty(out, "eth0 keeps no address in tap mode: %s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -o link show tap0", ns), 0, "%s", out);
	cr_assert(strstr(out, "tap0"), "%s", out);

	g.fd = tap_attach(s.netns, "tap0");
	cr_assert_geq(g.fd, 0, "attach to the tap as a VMM does");

	/* ARP and ping: the gateway answers the guest */
	guest_arp(&g);
	cr_assert(guest_ping(&g, g.mac, g.ip), "no echo reply from the gateway");

	/* TCP through the NAT gateway to the internet: a whole handshake, then the data */
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	uint32_t inet_ip;
	inet_pton(AF_INET, INET_ADDR, &inet_ip);
	struct frame fb, rb;
	uint8_t *f = fb.b, *r = rb.b;
	struct tcp_want w = { &g, inet_ip, 8080, 40001, F_SYN | F_ACK };
	guest_send(&g, f, mk_tcp(f, &g, g.mac, g.ip, inet_ip, 40001, 8080, 1000, 0, F_SYN, NULL));
	size_t n = guest_recv(&g, r, FRAME_MAX, ANSWER_MS, is_tcp, &w);
	cr_assert(n, "no SYN-ACK from the internet through the NAT gateway");
	uint32_t theirs = ntohl(((struct tcphdr *)(r + 34))->seq);
	guest_send(&g, f, mk_tcp(f, &g, g.mac, g.ip, inet_ip, 40001, 8080, 1001, theirs + 1,
				 F_ACK, NULL));
	w.flags = F_ACK;
	bool data = false;
	for (int i = 0; i < 5 && !data; i++) {  /* the server writes what it saw as our address */
		n = guest_recv(&g, r, FRAME_MAX, ANSWER_MS, is_tcp, &w);
		size_t payload = n > 54 ? ntohs(((struct iphdr *)(r + 14))->tot_len) - 40 : 0;
		data = payload > 0 && !memcmp(r + 54, UPLINK_ADDR, strlen(UPLINK_ADDR));
	}
	cr_assert(data, "no data from the server (it should see the uplink's address)");
	cr_assert_eq(listener_count(&web), 1, "the server accepted the guest's connection");
	guest_send(&g, f, mk_tcp(f, &g, g.mac, g.ip, inet_ip, 40001, 8080, 1001, 0, F_RST, NULL));

	/* spoofed source address or MAC: nothing leaves (UDP to a real listener counts it) */
	struct listener udp;
	listen_udp(&T, inet, 9000, &udp);
	const uint8_t other_mac[6] = { 0x02, 0x76, 0x0a, 0x47, 0x00, 0x63 };
	uint32_t other_ip = g.ip ^ htonl(0x60);
	struct { uint32_t ip; const uint8_t *mac; } as[] = {
		{ other_ip, g.mac }, { g.ip, other_mac }, { g.ip, g.mac },
	};
	for (int i = 0; i < 3; i++) {
		uint8_t u[8 + 5] __attribute__((aligned(4))) = { 0 };
		struct udphdr *uh = (struct udphdr *)u;
		uh->source = htons(41000 + i);
		uh->dest = htons(9000);
		uh->len = htons(sizeof(u));
		memcpy(u + 8, "spoof", 5);
		guest_send(&g, f, mk_ip(f, g.gwmac, as[i].mac, as[i].ip, inet_ip, IPPROTO_UDP, u,
					sizeof(u)));
		usleep(300 * 1000);
		cr_assert_eq(listener_count(&udp), i < 2 ? 0 : 1, "datagram %d: %s", i,
			     i < 2 ? "a spoofed one left the tap" : "the guest's own did not arrive");
	}
	cr_assert_eq(guest_ping(&g, g.mac, other_ip), 0, "a ping from a spoofed address came back");
	cr_assert_gt(sandbox_count_spoofed(&T, s.id), 0, "the router counted the spoofed frames");

	/* a neighbour's new connection to the guest is refused and never reaches the tap */
	struct bg_probe nb = { .netns = nbr.netns, .ip = s.ip, .port = 22 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, bg_probe_run, &nb), 0);
	struct tcp_want syn = { &g, 0, 0, 22, F_SYN };
	n = guest_recv(&g, r, FRAME_MAX, QUIET_MS + 400, is_tcp, &syn);
	pthread_join(t, NULL);
	cr_assert_eq(n, 0, "a neighbour's SYN reached the guest");
	cr_assert_eq(nb.r, P_REFUSED, "the router refuses it (%d)", nb.r);

	/* the host's control connection reaches the guest, and the guest's answer gets back */
	struct bg_probe hp = { .netns = host, .ip = ctl_ip, .port = ctl_port };
	cr_assert_eq(pthread_create(&t, NULL, bg_probe_run, &hp), 0);
	struct tcp_want c = { &g, 0, 0, 7000, F_SYN };
	n = guest_recv(&g, r, FRAME_MAX, ANSWER_MS, is_tcp, &c);
	cr_assert(n, "the host's control connection did not reach the guest");
	const struct iphdr *ip = (const struct iphdr *)(r + 14);
	const struct tcphdr *th = (const struct tcphdr *)(r + 34);
	uint16_t hport = ntohs(th->source);
	uint32_t hseq = ntohl(th->seq);
	guest_send(&g, f, mk_tcp(f, &g, g.mac, g.ip, ip->saddr, 7000, hport, 5000, hseq + 1,
				 F_SYN | F_ACK, NULL));
	/* the host's ACK arrives; the guest says hello, then closes */
	uint32_t hsrc = ip->saddr;
	struct tcp_want a = { &g, hsrc, hport, 7000, F_ACK };
	n = guest_recv(&g, r, FRAME_MAX, ANSWER_MS, is_tcp, &a);
	guest_send(&g, f, mk_tcp(f, &g, g.mac, g.ip, hsrc, 7000, hport, 5001, hseq + 1,
				 F_PSH | F_ACK, "guest-agent"));
	pthread_join(t, NULL);
	guest_send(&g, f, mk_tcp(f, &g, g.mac, g.ip, hsrc, 7000, hport, 5012, 0, F_RST, NULL));
	cr_assert(n, "the host did not complete the handshake with the guest");
	cr_assert_eq(hp.r, P_OK, "the host's control connection (%d)", hp.r);
	cr_assert_str_eq(hp.peer, "guest-agent", "the host read what the guest sent");
	close(g.fd);

	/* delete removes it all */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s.id), 0, "%s", out);
	cr_assert_neq(access(s.netns, F_OK), 0, "the namespace (and its tap) are gone");
}

/* An adopted namespace keeps living after delete; the tap made in it goes.  A crash half-way
 * through a create is repaired by gc, tap included. */
Test(tap, adopted_namespace_loses_only_its_tap)
{
	char out[8192], name[64], path[256];
	make_vpc(&T, "a", "10.72.0.0/16", false);
	tname(&T, "adopt", name, sizeof(name));
	cr_assert_eq(run(out, sizeof(out), "ip netns add %s", name), 0, "%s", out);
	nspath(name, path, sizeof(path));
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-s --vpc %s-a --netns %s"
			    " --tap vm0", T.tag, T.tag, path), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -o link show vm0", name), 0, "%s", out);
	/* a second sandbox cannot take a tap name that exists there */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-t --vpc %s-a --netns %s"
			    " --ifname eth1 --tap vm0", T.tag, T.tag, path), 4, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -o link show vm0", name), 0,
		     "a refused create left the existing tap alone: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s-s", T.tag), 0, "%s", out);
	cr_assert_neq(run(out, sizeof(out), "ip -n %s -o link show vm0", name), 0,
		      "the tap is gone: %s", out);
	cr_assert_eq(access(path, F_OK), 0, "the adopted namespace stays");

	/* By delete time the path names another namespace (as /proc/PID/ns/net does when the
	 * pid is reused): the adopted one is gone with its tap, and the other's vm0 stays. */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-s --vpc %s-a --netns %s"
			    " --tap vm0", T.tag, T.tag, path), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip netns del %s", name), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip netns add %s", name), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s tuntap add vm0 mode tap", name), 0, "%s",
		     out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s-s", T.tag), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -o link show vm0", name), 0,
		     "another namespace's tap was deleted: %s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s link del vm0", name), 0, "%s", out);

	/* crash after the tap was made: gc removes it */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sandbox-create:addr",
			    "sandbox create %s-s --vpc %s-a --netns %s --tap vm0", T.tag, T.tag,
			    path), 99, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -o link show vm0", name), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
	cr_assert_neq(run(out, sizeof(out), "ip -n %s -o link show vm0", name), 0,
		      "gc removed the tap: %s", out);
	run(NULL, 0, "ip netns del %s", name);
}

/* Bad input: exit 2, a message naming the bad part, nothing made. */
Test(tap, bad_tap_names_and_ports_change_nothing)
{
	char out[8192];
	make_vpc(&T, "a", "10.73.0.0/16", false);
	const char *bad[] = {
		"--tap abcdefghijklmnop", "--tap a/b", "--tap tap%d", "--tap eth0", "--tap lo",
		"--control-port 0", "--control-port 65536", "--control-port ssh",
		"--control-port -1", "--control-port 22x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-s --vpc %s-a %s",
				T.tag, T.tag, bad[i]);
		cr_assert_eq(rc, 2, "%s: exit %d: %s", bad[i], rc, out);
		const char *opt = strchr(bad[i], ' ') + 1;
		cr_assert(strstr(out, bad[i][2] == 't' ? "--tap" : "--control-port") && strstr(out, opt),
			  "%s: the message names it: %s", bad[i], out);
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox show %s-s", T.tag), 3,
			     "%s made a sandbox: %s", bad[i], out);
		char ns[256];
		snprintf(ns, sizeof(ns), "/run/netns/vpcnet-sbx-%s-s", T.tag);
		cr_assert_neq(access(ns, F_OK), 0, "%s made a namespace", bad[i]);
	}
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "instance create %s-i --vpc %s-a --sg default"
			    " --control-port 22", T.tag, T.tag), 2, "instances take no control port:"
		     " %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create --help"), 0, "%s", out);
	cr_assert(strstr(out, "--tap NAME") && strstr(out, "--control-port PORT"), "%s", out);
}

/* --- control ports ---------------------------------------------------------------------- */

static void control_of(struct topo *t, const char *id, char *ip, size_t n, uint16_t *port)
{
	struct guest g;
	char hp[64];
	guest_from_show(t, id, &g, hp, sizeof(hp));
	split_hostport(hp, ip, n, port);
}

Test(control, only_the_host_opens_it)
{
	char out[8192], host[256], inet[256], ip_a[16], ip_b[16];
	uint16_t port_a, port_b;
	nspath(T.host, host, sizeof(host));
	nspath(T.inet, inet, sizeof(inet));
	/* two VPCs on the same CIDR, each with a sandbox at the same address and a control port */
	make_vpc(&T, "a", "10.74.0.0/16", true);
	make_vpc(&T, "b", "10.74.0.0/16", true);
	struct sbx a, b, nbr, plain;
	make_sbx_args(&T, "a", "agent-a", "--ip 10.74.0.10 --control-port 7000", &a);
	make_sbx_args(&T, "b", "agent-b", "--ip 10.74.0.10 --control-port 7000", &b);
	make_sbx_args(&T, "a", "nbr", NULL, &nbr);
	make_sbx_args(&T, "a", "plain", NULL, &plain);
	control_of(&T, a.id, ip_a, sizeof(ip_a), &port_a);
	control_of(&T, b.id, ip_b, sizeof(ip_b), &port_b);
	cr_assert_str_neq(ip_a, ip_b, "each VPC's agent is reached by its own transit address");
	struct listener la, la_other, lb, lp;
	listen_tcp(&T, a.netns, 7000, &la);
	listen_tcp(&T, a.netns, 7001, &la_other);
	listen_tcp(&T, b.netns, 7000, &lb);
	listen_tcp(&T, plain.netns, 7000, &lp);

	/* the host reaches each agent, through its own VPC's router */
	char peer[64];
	cr_assert_eq(probe_tcp(host, ip_a, port_a, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_eq(listener_count(&la), 1);
	cr_assert_eq(listener_count(&lb), 0, "VPC b's agent got VPC a's connection");
	cr_assert_eq(probe_tcp(host, ip_b, port_b, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_eq(listener_count(&lb), 1);

	/* other ports stay closed to the host: another sandbox's slot, the agent's other port */
	uint32_t pip, net;
	inet_pton(AF_INET, plain.ip, &pip);
	inet_pton(AF_INET, "10.74.0.0", &net);
	uint16_t pslot = ntohl(pip) - ntohl(net);  /* where plain's control port would be */
	cr_assert_neq(probe_tcp(host, ip_a, pslot, QUIET_MS, NULL, 0), P_OK);
	cr_assert_neq(probe_tcp(host, a.ip, 7001, QUIET_MS, NULL, 0), P_OK);
	cr_assert_neq(probe_tcp(host, a.ip, 7000, QUIET_MS, NULL, 0), P_OK,
		      "the host has no route to a sandbox address itself");
	cr_assert_eq(listener_count(&la_other) + listener_count(&lp), 0);

	/* a neighbour: refused on the control port, directly and through the transit address */
	cr_assert_eq(probe_tcp(nbr.netns, a.ip, 7000, 3000, NULL, 0), P_REFUSED);
	cr_assert_neq(probe_tcp(nbr.netns, ip_a, port_a, QUIET_MS, NULL, 0), P_OK);
	/* another VPC: VPC b's sandbox tries VPC a's transit address */
	cr_assert_neq(probe_tcp(b.netns, ip_a, port_a, QUIET_MS, NULL, 0), P_OK);
	/* the uplink side, routing the transit range towards the host */
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route add 198.18.0.0/15 via " UPLINK_ADDR,
			 T.inet), 0, "%s", out);
	cr_assert_neq(probe_tcp(inet, ip_a, port_a, QUIET_MS, NULL, 0), P_OK);
	cr_assert_eq(listener_count(&la), 1, "only the host's connection reached VPC a's agent");
	cr_assert_eq(listener_count(&lb), 1, "only the host's connection reached VPC b's agent");

	/* delete: the slot closes at once; when the deleted sandbox is reaped (gc here, or a
	 * later delete), its element goes and so do the flows it had (a control flow names the
	 * sandbox in its reply tuple only: it was DNATed) */
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a conntrack -L -p tcp"
			 " --dport %u", T.tag, port_a), 0, "%s", out);
	cr_assert(strstr(out, "src=10.74.0.10"), "the host's control flow is tracked: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", a.id), 0, "%s", out);
	cr_assert_neq(probe_tcp(host, ip_a, port_a, QUIET_MS, NULL, 0), P_OK);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a conntrack -L -p tcp --dport %u",
	    T.tag, port_a);
	cr_assert_null(strstr(out, "src=10.74.0.10"), "a control flow outlived its sandbox: %s",
		       out);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a nft list map inet vpcnet ctl_dnat",
	    T.tag);
	cr_assert_null(strstr(out, "elements"), "the element went with the sandbox: %s", out);
}

/* gc puts the control map back as the store says: a missing element returns, a stale one goes. */
Test(control, gc_rebuilds_the_map)
{
	char out[8192], vpc[64], ip[16];
	uint16_t port;
	make_vpc(&T, "a", "10.75.0.0/16", false);
	tname(&T, "a", vpc, sizeof(vpc));
	struct sbx s;
	make_sbx_args(&T, "a", "agent", "--control-port 7000", &s);
	control_of(&T, s.id, ip, sizeof(ip), &port);
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft flush map inet vpcnet"
			 " ctl_dnat", vpc), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft add element inet vpcnet"
			 " ctl_dnat { 999 : 10.75.3.231 . 22 }", vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list map inet vpcnet ctl_dnat", vpc);
	cr_assert_null(strstr(out, "999"), "the stale element went: %s", out);
	char want[64];
	snprintf(want, sizeof(want), "%u : %s . 7000", port, s.ip);
	cr_assert(strstr(out, want), "the agent's element is back (%s): %s", want, out);
	char host[256];
	struct listener l;
	listen_tcp(&T, s.netns, 7000, &l);
	cr_assert_eq(probe_tcp(nspath(T.host, host, sizeof(host)), ip, port, 3000, NULL, 0), P_OK);
}
