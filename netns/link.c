/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/ip.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <linux/if_ether.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <string.h>

#include "base/error.h"
#include "netns/link.h"

/* libnl turns errnos into its own NLE_* codes; turn the common ones back. */
static int nle_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_EXIST: return EEXIST;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_NODEV: return ENODEV;
	case NLE_PERM: return EPERM;
	case NLE_BUSY: return EBUSY;
	case NLE_INVAL: return EINVAL;
	case NLE_RANGE: return ERANGE;
	case NLE_NOMEM: return ENOMEM;
	case NLE_AGAIN: return EAGAIN;
	case NLE_NOADDR: return EADDRNOTAVAIL;
	case NLE_OPNOTSUPP: return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
	case NLE_NOACCESS: return EACCES;
	case NLE_MSGSIZE: return EMSGSIZE;
	case NLE_INTR: return EINTR;
	default: return EIO;
	}
}

/* "WHAT NAME: strerror" for a libnl failure; @name may be "" */
static int nlerr(struct vpcnet_error *err, int nle, const char *what, const char *name)
{
	int e = nle_errno(nle);
	return verr(err, vstatus_of(e), e, "%s%s%s", what, *name ? " " : "", name);
}

static void link_put(struct rtnl_link **l) { if (*l) rtnl_link_put(*l); }
static void addr_put(struct nl_addr **a) { if (*a) nl_addr_put(*a); }
static void raddr_put(struct rtnl_addr **a) { if (*a) rtnl_addr_put(*a); }
static void route_put(struct rtnl_route **r) { if (*r) rtnl_route_put(*r); }
static void neigh_put(struct rtnl_neigh **n) { if (*n) rtnl_neigh_put(*n); }
static void cache_put(struct nl_cache **c) { if (*c) nl_cache_free(*c); }

int rtnl_open(struct nl_sock **out, struct vpcnet_error *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk)
		return verr(err, VPCNET_FAILED, ENOMEM, "rtnetlink socket");
	int ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret < 0) {
		nl_socket_free(sk);
		return nlerr(err, ret, "rtnetlink socket", "");
	}
	*out = sk;
	return 0;
}

void rtnl_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

int link_veth_create(struct nl_sock *sk, const char *name, uint32_t group, const char *peer,
		     int peer_nsfd, const uint8_t *peer_mac, struct vpcnet_error *err)
{
	cleanup(link_put) struct rtnl_link *veth = rtnl_link_veth_alloc();
	if (!veth)
		return verr(err, VPCNET_FAILED, ENOMEM, "veth %s", name);
	rtnl_link_set_name(veth, name);
	rtnl_link_set_flags(veth, IFF_UP);
	if (group)
		rtnl_link_set_group(veth, group);
	cleanup(link_put) struct rtnl_link *p = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(p, peer);
	rtnl_link_set_ns_fd(p, peer_nsfd);
	cleanup(addr_put) struct nl_addr *mac = NULL;
	if (peer_mac) {
		mac = nl_addr_build(AF_LLC, peer_mac, 6);
		if (!mac)
			return verr(err, VPCNET_FAILED, ENOMEM, "veth %s", name);
		rtnl_link_set_addr(p, mac);
	}
	int ret = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (ret < 0)
		return nlerr(err, ret, "veth", name);
	return 0;
}

int link_index(struct nl_sock *sk, const char *name, int *ifindex, struct vpcnet_error *err)
{
	cleanup(link_put) struct rtnl_link *l = NULL;
	int ret = rtnl_link_get_kernel(sk, 0, name, &l);
	if (ret < 0) {
		if (ret == -NLE_NODEV || ret == -NLE_OBJ_NOTFOUND)
			return vinput(err, VPCNET_NOT_FOUND, ENODEV, "no interface %s", name);
		return nlerr(err, ret, "interface", name);
	}
	*ifindex = rtnl_link_get_ifindex(l);
	return 0;
}

static int link_change(struct nl_sock *sk, int ifindex, struct rtnl_link *change,
		       const char *what, struct vpcnet_error *err)
{
	cleanup(link_put) struct rtnl_link *orig = rtnl_link_alloc();
	if (!orig)
		return verr(err, VPCNET_FAILED, ENOMEM, "%s", what);
	rtnl_link_set_ifindex(orig, ifindex);
	struct nl_msg *msg = NULL;
	int ret = rtnl_link_build_change_request(orig, change, 0, &msg);
	if (ret < 0)
		return nlerr(err, ret, what, "");
	ret = nl_send_sync(sk, msg);  /* frees msg, waits for the ack */
	if (ret < 0)
		return nlerr(err, ret, what, "");
	return 0;
}

int link_up(struct nl_sock *sk, int ifindex, struct vpcnet_error *err)
{
	cleanup(link_put) struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return verr(err, VPCNET_FAILED, ENOMEM, "link up");
	rtnl_link_set_flags(change, IFF_UP);
	return link_change(sk, ifindex, change, "link up", err);
}

int link_set_group(struct nl_sock *sk, const char *name, uint32_t group,
		   struct vpcnet_error *err)
{
	/* RTM_NEWLINK by name, without NLM_F_CREATE: a change of the link that has it. */
	cleanup(link_put) struct rtnl_link *l = rtnl_link_alloc();
	if (!l)
		return verr(err, VPCNET_FAILED, ENOMEM, "device group");
	rtnl_link_set_name(l, name);
	rtnl_link_set_group(l, group);
	int ret = rtnl_link_add(sk, l, 0);
	if (ret == -NLE_NODEV || ret == -NLE_OBJ_NOTFOUND)
		return vinput(err, VPCNET_NOT_FOUND, ENODEV, "no interface %s", name);
	if (ret < 0)
		return nlerr(err, ret, "device group", name);
	return 0;
}

int link_set_forwarding(struct nl_sock *sk, int ifindex, struct vpcnet_error *err)
{
	cleanup(link_put) struct rtnl_link *change = rtnl_link_alloc();
	if (!change)
		return verr(err, VPCNET_FAILED, ENOMEM, "forwarding");
	int ret = rtnl_link_inet_set_conf(change, IPV4_DEVCONF_FORWARDING, 1);
	if (ret < 0)
		return nlerr(err, ret, "enable forwarding", "");
	return link_change(sk, ifindex, change, "enable forwarding", err);
}

int link_delete(struct nl_sock *sk, const char *name, struct vpcnet_error *err)
{
	cleanup(link_put) struct rtnl_link *l = rtnl_link_alloc();
	if (!l)
		return verr(err, VPCNET_FAILED, ENOMEM, "delete %s", name);
	rtnl_link_set_name(l, name);
	int ret = rtnl_link_delete(sk, l);
	if (ret < 0 && ret != -NLE_NODEV && ret != -NLE_OBJ_NOTFOUND)
		return nlerr(err, ret, "delete", name);
	return 0;
}

int link_each(struct nl_sock *sk, const char *prefix, int (*fn)(const char *name, void *arg),
	      void *arg, struct vpcnet_error *err)
{
	cleanup(cache_put) struct nl_cache *cache = NULL;
	int ret = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (ret < 0)
		return nlerr(err, ret, "list links", "");
	size_t n = strlen(prefix);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		const char *name = rtnl_link_get_name((struct rtnl_link *)o);
		if (name && !strncmp(name, prefix, n) && (ret = fn(name, arg)))
			return ret;
	}
	return 0;
}

static struct nl_addr *ipv4_addr(uint32_t ip, unsigned prefix)
{
	uint32_t be = htonl(ip);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);
	if (a)
		nl_addr_set_prefixlen(a, prefix);
	return a;
}

int addr_add(struct nl_sock *sk, int ifindex, uint32_t ip, unsigned prefix,
	     struct vpcnet_error *err)
{
	cleanup(raddr_put) struct rtnl_addr *a = rtnl_addr_alloc();
	cleanup(addr_put) struct nl_addr *local = ipv4_addr(ip, prefix);
	if (!a || !local)
		return verr(err, VPCNET_FAILED, ENOMEM, "address");
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, AF_INET);
	int ret = rtnl_addr_set_local(a, local);
	if (ret >= 0)
		ret = rtnl_addr_add(sk, a, NLM_F_CREATE | NLM_F_EXCL);
	if (ret < 0)
		return nlerr(err, ret, "add address", "");
	return 0;
}

int route_add(struct nl_sock *sk, enum route_kind kind, uint32_t dst, unsigned prefix, int oif,
	      uint32_t gw, bool replace, struct vpcnet_error *err)
{
	cleanup(route_put) struct rtnl_route *r = rtnl_route_alloc();
	cleanup(addr_put) struct nl_addr *d = ipv4_addr(dst, prefix);
	cleanup(addr_put) struct nl_addr *g = gw ? ipv4_addr(gw, 32) : NULL;
	if (!r || !d || (gw && !g))
		return verr(err, VPCNET_FAILED, ENOMEM, "route");
	rtnl_route_set_family(r, AF_INET);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_dst(r, d);
	if (kind == ROUTE_UNREACHABLE) {
		rtnl_route_set_type(r, RTN_UNREACHABLE);
		rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
	} else {
		rtnl_route_set_type(r, RTN_UNICAST);
		rtnl_route_set_scope(r, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
		struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
		if (!nh)
			return verr(err, VPCNET_FAILED, ENOMEM, "route");
		rtnl_route_nh_set_ifindex(nh, oif);
		if (g)
			rtnl_route_nh_set_gateway(nh, g);
		rtnl_route_add_nexthop(r, nh);  /* the route owns nh now */
	}
	int ret = rtnl_route_add(sk, r, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL));
	if (ret < 0)
		return nlerr(err, ret, "add route", "");
	return 0;
}

int route_default_dev(struct nl_sock *sk, char name[VPCNET_IFNAME_MAX + 1],
		      struct vpcnet_error *err)
{
	cleanup(cache_put) struct nl_cache *routes = NULL;
	int ret = rtnl_route_alloc_cache(sk, AF_INET, 0, &routes);
	if (ret < 0)
		return nlerr(err, ret, "read routes", "");
	int best_oif = 0;
	uint32_t best_prio = UINT32_MAX;
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST ||
		    nl_addr_get_prefixlen(rtnl_route_get_dst(r)) != 0 || rtnl_route_get_nnexthops(r) < 1)
			continue;
		if (rtnl_route_get_priority(r) < best_prio) {
			best_prio = rtnl_route_get_priority(r);
			best_oif = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(r, 0));
		}
	}
	if (!best_oif)
		return vinput(err, VPCNET_BAD_INPUT, ENETUNREACH,
			      "the host has no default route: give --uplink");
	cleanup(link_put) struct rtnl_link *l = NULL;
	if ((ret = rtnl_link_get_kernel(sk, best_oif, NULL, &l)) < 0)
		return nlerr(err, ret, "default route device", "");
	snprintf(name, VPCNET_IFNAME_MAX + 1, "%s", rtnl_link_get_name(l));
	return 0;
}

int neigh_pin(struct nl_sock *sk, int ifindex, uint32_t ip, const uint8_t mac[6],
	      struct vpcnet_error *err)
{
	cleanup(neigh_put) struct rtnl_neigh *n = rtnl_neigh_alloc();
	cleanup(addr_put) struct nl_addr *dst = ipv4_addr(ip, 32);
	cleanup(addr_put) struct nl_addr *ll = nl_addr_build(AF_LLC, mac, 6);
	if (!n || !dst || !ll)
		return verr(err, VPCNET_FAILED, ENOMEM, "neighbour");
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_family(n, AF_INET);
	rtnl_neigh_set_dst(n, dst);
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	int ret = rtnl_neigh_add(sk, n, NLM_F_CREATE | NLM_F_REPLACE);
	if (ret < 0)
		return nlerr(err, ret, "pin neighbour", "");
	return 0;
}

int neigh_proxy_now(struct nl_sock *sk, int ifindex, struct vpcnet_error *err)
{
	/* RTM_SETNEIGHTBL for the device's ARP parameters (libnl's neightbl helper sends the
	 * table's family, which the kernel does not match against per-device parameters). */
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_SETNEIGHTBL, 0);
	struct ndtmsg ndt = { .ndtm_family = AF_UNSPEC };
	struct nlattr *parms;
	if (!msg || nlmsg_append(msg, &ndt, sizeof(ndt), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, NDTA_NAME, "arp_cache") < 0 ||
	    !(parms = nla_nest_start(msg, NDTA_PARMS)) ||
	    nla_put_u32(msg, NDTPA_IFINDEX, ifindex) < 0 ||
	    nla_put_u64(msg, NDTPA_PROXY_DELAY, 0) < 0) {
		nlmsg_free(msg);
		return verr(err, VPCNET_FAILED, ENOMEM, "proxy delay");
	}
	nla_nest_end(msg, parms);
	int ret = nl_send_sync(sk, msg);  /* frees msg, waits for the ack */
	if (ret < 0)
		return nlerr(err, ret, "proxy delay", "");
	return 0;
}

#define INGRESS_HANDLE 0xffff0000u  /* ffff: (TC_HANDLE(0xffff, 0) overflows an int) */

static void qdisc_put(struct rtnl_qdisc **q) { if (*q) rtnl_qdisc_put(*q); }
static void cls_put(struct rtnl_cls **c) { if (*c) rtnl_cls_put(*c); }
static void act_put(struct rtnl_act **a) { if (*a) rtnl_act_put(*a); }

/* ingress qdisc on @from; u32 match-all on it: mirred egress redirect to @to */
static int tc_redirect(struct nl_sock *sk, int from, int to, struct vpcnet_error *err)
{
	cleanup(qdisc_put) struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	cleanup(cls_put) struct rtnl_cls *c = rtnl_cls_alloc();
	cleanup(act_put) struct rtnl_act *a = rtnl_act_alloc();
	if (!q || !c || !a)
		return verr(err, VPCNET_FAILED, ENOMEM, "tc redirect");
	rtnl_tc_set_ifindex(TC_CAST(q), from);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
	rtnl_tc_set_handle(TC_CAST(q), INGRESS_HANDLE);
	int ret = rtnl_tc_set_kind(TC_CAST(q), "ingress");
	if (ret < 0 || (ret = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL)) < 0)
		return nlerr(err, ret, "ingress qdisc", "");

	if ((ret = rtnl_tc_set_kind(TC_CAST(a), "mirred")) < 0)
		return nlerr(err, ret, "mirred action", "");
	rtnl_mirred_set_action(a, TCA_EGRESS_REDIR);
	rtnl_mirred_set_policy(a, TC_ACT_STOLEN);
	rtnl_mirred_set_ifindex(a, to);

	rtnl_tc_set_ifindex(TC_CAST(c), from);
	rtnl_tc_set_parent(TC_CAST(c), INGRESS_HANDLE);
	rtnl_cls_set_protocol(c, ETH_P_ALL);
	rtnl_cls_set_prio(c, 1);
	/* u32, not matchall: kernels built without CONFIG_NET_CLS_MATCHALL exist */
	if ((ret = rtnl_tc_set_kind(TC_CAST(c), "u32")) < 0 ||
	    (ret = rtnl_u32_add_key_uint32(c, 0, 0, 0, 0)) < 0 ||
	    (ret = rtnl_u32_set_cls_terminal(c)) < 0 ||  /* else the match falls through */
	    (ret = rtnl_u32_add_action(c, a)) < 0 ||
	    (ret = rtnl_cls_add(sk, c, NLM_F_CREATE | NLM_F_EXCL)) < 0)
		return nlerr(err, ret, "u32 filter", "");
	return 0;
}

int tc_redirect_both(struct nl_sock *sk, int a, int b, struct vpcnet_error *err)
{
	int ret = tc_redirect(sk, a, b, err);
	return ret ? ret : tc_redirect(sk, b, a, err);
}
