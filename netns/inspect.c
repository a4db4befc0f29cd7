/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <string.h>

#include "base/error.h"
#include "netns/inspect.h"

static void link_put(struct rtnl_link **l) { if (*l) rtnl_link_put(*l); }
static void cache_put(struct nl_cache **c) { if (*c) nl_cache_free(*c); }

static int dump_err(struct vpcnet_error *err, int nle, const char *what)
{
	return verr(err, VPCNET_FAILED, nle == -NLE_NOMEM ? ENOMEM : EIO, "%s: %s", what,
		    nl_geterror(nle));
}

int link_state_get(struct nl_sock *sk, const char *name, struct link_state *out,
		   struct vpcnet_error *err)
{
	cleanup(link_put) struct rtnl_link *l = NULL;
	int ret = rtnl_link_get_kernel(sk, 0, name, &l);
	if (ret == -NLE_NODEV || ret == -NLE_OBJ_NOTFOUND)
		return vinput(err, VPCNET_NOT_FOUND, ENODEV, "no interface %s", name);
	if (ret < 0)
		return dump_err(err, ret, name);
	memset(out, 0, sizeof(*out));
	out->ifindex = rtnl_link_get_ifindex(l);
	out->up = rtnl_link_get_flags(l) & IFF_UP;
	out->group = rtnl_link_get_group(l);
	struct nl_addr *a = rtnl_link_get_addr(l);
	if (a && nl_addr_get_len(a) == 6)
		memcpy(out->mac, nl_addr_get_binary_addr(a), 6);
	return 0;
}

/* The IPv4 address in @a, host order; false when @a is not one. */
static bool ipv4_of(struct nl_addr *a, uint32_t *ip)
{
	if (!a || nl_addr_get_family(a) != AF_INET || nl_addr_get_len(a) != 4)
		return false;
	uint32_t be;
	memcpy(&be, nl_addr_get_binary_addr(a), 4);
	*ip = ntohl(be);
	return true;
}

int addr_present(struct nl_sock *sk, int ifindex, uint32_t ip, unsigned prefix, bool *found,
		 struct vpcnet_error *err)
{
	cleanup(cache_put) struct nl_cache *c = NULL;
	int ret = rtnl_addr_alloc_cache(sk, &c);
	if (ret < 0)
		return dump_err(err, ret, "addresses");
	*found = false;
	for (struct nl_object *o = nl_cache_get_first(c); o && !*found; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		uint32_t have;
		*found = rtnl_addr_get_ifindex(a) == ifindex &&
			 ipv4_of(rtnl_addr_get_local(a), &have) && have == ip &&
			 (unsigned)rtnl_addr_get_prefixlen(a) == prefix;
	}
	return 0;
}

int route_present(struct nl_sock *sk, uint32_t dst, unsigned prefix, int oif, uint32_t gw,
		  bool *found, struct vpcnet_error *err)
{
	cleanup(cache_put) struct nl_cache *c = NULL;
	int ret = rtnl_route_alloc_cache(sk, AF_INET, 0, &c);
	if (ret < 0)
		return dump_err(err, ret, "routes");
	*found = false;
	for (struct nl_object *o = nl_cache_get_first(c); o && !*found; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *d = rtnl_route_get_dst(r);
		uint32_t have = 0;
		if (rtnl_route_get_type(r) != RTN_UNICAST || !d ||
		    (unsigned)nl_addr_get_prefixlen(d) != prefix ||
		    (prefix && (!ipv4_of(d, &have) || have != dst)) ||
		    rtnl_route_get_nnexthops(r) < 1)
			continue;
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, 0);
		uint32_t via = 0;
		struct nl_addr *g = rtnl_route_nh_get_gateway(nh);
		if (g && !ipv4_of(g, &via))
			continue;
		*found = rtnl_route_nh_get_ifindex(nh) == oif && via == gw;
	}
	return 0;
}

int addr_first4(struct nl_sock *sk, int ifindex, uint32_t *ip, struct vpcnet_error *err)
{
	cleanup(cache_put) struct nl_cache *c = NULL;
	int ret = rtnl_addr_alloc_cache(sk, &c);
	if (ret < 0)
		return dump_err(err, ret, "addresses");
	*ip = 0;
	for (struct nl_object *o = nl_cache_get_first(c); o && !*ip; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		if (rtnl_addr_get_ifindex(a) != ifindex || !ipv4_of(rtnl_addr_get_local(a), ip))
			*ip = 0;
	}
	return 0;
}
