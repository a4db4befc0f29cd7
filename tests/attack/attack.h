/* SPDX-License-Identifier: MIT */
/* The attack suite: a sandbox that is root in its own namespace tries to get out of its
 * lane, one named test per attack (DESIGN.md rules 1, 2, 3 and 5).  Every attack is really
 * attempted — addresses changed, raw frames crafted, IPv6 turned back on — and each test
 * asserts both that it failed and that legitimate traffic still works afterwards.
 *
 * What the attacker does inside its own namespace it does with the tools an attacker has
 * there (`ip`, sysctls, raw sockets); what vpcnet builds is built only by the binary under
 * test.  Frames are counted where they would arrive, with AF_PACKET captures that look for
 * a marker unique to the test. */
#ifndef VPCNET_TEST_ATTACK_H
#define VPCNET_TEST_ATTACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tests/ns_util.h"

#define QUIET_MS 800     /* how long "nothing arrives" is watched for */
#define ANSWER_MS 3000   /* how long an answer that should come may take */

/* Runs @fn(@arg) in a child process that entered namespace @netns (a path); returns what
 * @fn returned (0..255), or -1 when the child could not run it. */
int in_netns(const char *netns, int (*fn)(void *), void *arg);
/* Runs `ip netns exec NETNS-NAME CMD` (what the attacker types inside its namespace). */
int inside(const char *netns_path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Counts, for @ms, the frames arriving on @ifname in @netns (a path) that contain @marker. */
struct capture {
	pid_t pid;
	int fd;
};
void capture_start(struct capture *c, const char *netns, const char *ifname, const char *marker,
		   int ms);
int capture_end(struct capture *c);

/* Sends @count copies of raw Ethernet frame @frame out of @ifname in @netns. */
int send_frames(const char *netns, const char *ifname, const void *frame, size_t len, int count);

/* Frame builders; each returns the frame's length.  Addresses are text. */
size_t frame_udp4(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		  const char *dip, uint16_t sport, uint16_t dport, const char *payload);
size_t frame_arp(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint16_t op,
		 const uint8_t sha[6], const char *spa, const uint8_t tha[6], const char *tpa);
size_t frame_udp6(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		  const char *dip, uint16_t sport, uint16_t dport, const char *payload);
/* A TCP SYN (carrying @payload, which TCP allows) over IPv6. */
size_t frame_tcp6_syn(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		      const char *dip, uint16_t sport, uint16_t dport, const char *payload);
/* ICMPv6 of @type with @body after the 4-byte header (router advertisement, neighbour
 * solicitation ...), hop limit 255 as NDP wants. */
size_t frame_icmp6(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sip,
		   const char *dip, uint8_t type, const void *body, size_t blen);

/* The MAC of @ifname in @netns. */
void if_mac(const char *netns, const char *ifname, uint8_t mac[6]);
/* "02:76:..." -> bytes */
void mac_parse(const char *s, uint8_t mac[6]);

/* A UDP receiver on @port in @netns for @ms: how many datagrams came, and from where the
 * first one did. */
struct udp_rx {
	pid_t pid;
	int fd;
};
void udp_rx_start(struct udp_rx *r, const char *netns, uint16_t port, int ms);
int udp_rx_end(struct udp_rx *r, char *from_ip, size_t iplen, uint16_t *from_port);
/* One datagram from @sip:@sport (NULL/0: any) in @netns; returns 0 or an errno. */
int udp_send(const char *netns, const char *sip, uint16_t sport, const char *dip, uint16_t dport,
	     const char *payload);

/* An attacker and its neighbour, in VPC <tag>-a of @cidr, with what crafting frames needs. */
struct pair {
	struct sbx s1, s2;       /* attacker, neighbour */
	uint8_t own[6], nbr[6];  /* their MACs */
	uint8_t gw1[6];          /* the attacker's next hop: its port in the router */
	char port1[32];
	char rns[256], rname[128];  /* the router namespace: path, name */
};
void pair_setup(struct topo *t, const char *cidr, struct pair *p);

/* A JSON field of `vpcnet --json sandbox show ID`: "drops.spoofed", "port", "mac" ... */
long long sandbox_field(struct topo *t, const char *id, const char *path, char *str, size_t n);
/* The neighbour table of @netns (a name), sorted, without its changing state words. */
void neigh_table(const char *netns_name, char *out, size_t n);

#endif
