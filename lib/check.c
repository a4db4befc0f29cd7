/* SPDX-License-Identifier: MIT */
/* vpcnet_sandbox_check(): what the kernel holds for a sandbox against what the store says it
 * was given — the CNI CHECK.  Reads only (links, addresses, routes, set elements). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/error.h"
#include "base/names.h"
#include "lib/internal.h"
#include "lib/router.h"
#include "nat/tables.h"
#include "netns/inspect.h"
#include "netns/link.h"
#include "netns/netns.h"
#include "secgroups/compile.h"

__attribute__((format(printf, 2, 3)))
static int differs(struct vpcnet_error *err, const char *fmt, ...)
{
	char msg[VPCNET_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vinput(err, VPCNET_FAILED, EINVAL, "%s", msg);
}

struct inside {
	const struct member_row *m;
	const struct vpc_row *v;
	bool default_route;
	struct vpcnet_error *err;
};

/* Runs in the sandbox namespace. */
static int check_inside(void *arg)
{
	struct inside *in = arg;
	const struct member_row *m = in->m;
	struct nsconn c = { .err = in->err };
	struct link_state ls;
	uint8_t mac[6];
	bool found;
	char a[16], b[32];
	int ret = nsconn_open_here(&c);
	if (ret)
		return ret;
	vpcnet_addr_str(to_in_addr(m->ip), a);
	member_mac(m->ip, mac);
	if ((ret = link_state_get(c.rt, m->ifname, &ls, in->err)))
		goto out;
	if (!ls.up) {
		ret = differs(in->err, "interface %s is down", m->ifname);
		goto out;
	}
	if (memcmp(ls.mac, mac, 6)) {
		ret = differs(in->err, "interface %s: its MAC was changed", m->ifname);
		goto out;
	}
	if ((ret = addr_present(c.rt, ls.ifindex, m->ip, in->v->prefix, &found, in->err)))
		goto out;
	if (!found) {
		snprintf(b, sizeof(b), "%s/%u", a, in->v->prefix);
		ret = differs(in->err, "interface %s lacks address %s", m->ifname, b);
		goto out;
	}
	if (!in->default_route)
		goto out;
	if ((ret = route_present(c.rt, 0, 0, ls.ifindex, subnet_gateway(in->v->net), &found,
				 in->err)))
		goto out;
	if (!found) {
		vpcnet_addr_str(to_in_addr(subnet_gateway(in->v->net)), b);
		ret = differs(in->err, "no default route via %s on %s", b, m->ifname);
	}
out:
	nsconn_close(&c);
	return ret;
}

/* Its groups: its port in its membership profile, and that profile's elements: the profile
 * in the egress map of each slot and in each group's member set. */
static int groups_present(struct vpcnet *vn, struct nf_sock *nf, const struct member_row *m,
			  const char *port, uint32_t group, struct vpcnet_error *err)
{
	if (group != (uint32_t)m->profile)
		return differs(err, "port %s is in device group %u, not in its profile %lld", port,
			       group, (long long)m->profile);
	if (!m->profile)
		return 0;
	struct profile_row p = { 0 };
	int ret = store_profile_get(vn->st, m->profile, &p, err);
	uint32_t key = (uint32_t)p.id;
	for (size_t i = 0; !ret && i < p.n; i++) {
		char map[16], members[64];
		bool in_map, in_set;
		sg_profile_names(i, p.sgs[i], map, members);
		if ((ret = nft_elem_exists(nf, NFPROTO_INET, ROUTER_TABLE, map, &key, sizeof(key),
					   &in_map, err)) ||
		    (ret = nft_elem_exists(nf, NFPROTO_INET, ROUTER_TABLE, members, &key,
					   sizeof(key), &in_set, err)))
			break;
		if (!in_map || !in_set)
			ret = differs(err, "inet vpcnet @%s holds no element for %s's profile %u"
				      " (group %zu)", in_map ? members : map, port, key, i + 1);
	}
	return ret;
}

VPCNET_API int vpcnet_sandbox_check(struct vpcnet *vn, const char *id, unsigned flags,
				    struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	struct member_row m;
	struct vpc_row v;
	struct router rt = { .fd = -1 };
	char port[VPCNET_IFNAME_MAX + 1];
	int sfd = -1, pidx;
	int ret = valid_sandbox_id(id, err);
	if (ret || (ret = store_member_get(vn->st, MEMBER_SANDBOX, id, &m, err)) ||
	    (ret = store_vpc_get_id(vn->st, m.vpc_id, &v, err)))
		return ret;
	if (strcmp(m.state, ST_READY)) {
		ret = vinput(err, VPCNET_FAILED, EBUSY, "it is %s", m.state);
		goto out;
	}
	if ((ret = vpc_current(&v, err)) || (ret = netns_open(m.netns, &sfd, err)))
		goto out;
	struct inside in = { &m, &v, !(flags & VPCNET_CHECK_NO_DEFAULT_ROUTE), err };
	if ((ret = netns_run(sfd, check_inside, &in, err)))
		goto out;
	port_name(port, m.id);
	struct link_state ps;
	if ((ret = router_open(&rt, v.name, err)) ||
	    (ret = link_state_get(rt.conn.rt, port, &ps, err)))
		goto out;
	pidx = ps.ifindex;
	bool found;
	const char *missing;
	if ((ret = route_present(rt.conn.rt, m.ip, 32, pidx, 0, &found, err)))
		goto out;
	if (!found) {
		ret = differs(err, "the router has no route to it on %s", port);
		goto out;
	}
	if ((ret = router_member_missing(&rt.conn.nf, port, m.ip, &missing, err)))
		goto out;
	if (missing) {
		ret = differs(err, "%s holds no element for %s", missing, port);
		goto out;
	}
	ret = groups_present(vn, &rt.conn.nf, &m, port, ps.group, err);
out:
	router_close(vn, &rt);
	if (sfd >= 0)
		close(sfd);
	return ret ? verr_wrap(err, "sandbox %s", id) : 0;
}
