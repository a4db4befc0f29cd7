/* SPDX-License-Identifier: MIT */
/* A VPC's router in the kernel: its namespace with the gateway on lo, the transit veth to the
 * host, the router's nftables tables, and the VPC's part of the host table (with a NAT
 * gateway, a default route and the host's masquerade) — built, checked and repaired
 * (vpc_ensure), and taken down.  The VPC verbs (vpc.c) and gc.c drive it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/error.h"
#include "base/names.h"
#include "lib/groups.h"
#include "lib/internal.h"
#include "lib/router.h"
#include "nat/tables.h"
#include "netns/inspect.h"
#include "netns/link.h"
#include "netns/netns.h"

void vpc_to_public(const struct vpc_row *r, struct vpcnet_vpc *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", r->name);
	out->network = to_in_addr(r->net);
	out->prefix = r->prefix;
	out->gateway = to_in_addr(subnet_gateway(r->net));
	out->nat = r->nat;
	snprintf(out->uplink, sizeof(out->uplink), "%s", r->uplink);
	router_netns_path(out->netns, r->name);
	transit_name(out->transit_if, r->id);
	out->transit_host = to_in_addr(transit_host(r->transit));
	out->transit_router = to_in_addr(transit_router(r->transit));
	out->sandboxes = r->members;
	snprintf(out->state, sizeof(out->state), "%s", r->state);
}

/* Runs inside the new router namespace before it is published. */
struct router_init {
	const struct vpc_row *v;
	struct nsconn conn;
	struct vpcnet_error *err;
};

static int router_init(void *arg)
{
	struct router_init *ri = arg;
	struct vpcnet_error *err = ri->err;
	static const char *const sysctls[][2] = {
		{ "net/ipv6/conf/all/disable_ipv6", "1" },
		{ "net/ipv6/conf/default/disable_ipv6", "1" },
		{ "net/ipv4/ip_forward", "1" },
		{ "net/ipv4/conf/default/proxy_arp", "1" },
	};
	int ret = sysctl_set(sysctls, sizeof(sysctls) / sizeof(sysctls[0]), err);
	if (ret)
		return ret;
	ri->conn.want_nf = true;
	ri->conn.err = err;
	if ((ret = nsconn_open_here(&ri->conn)))
		return ret;
	struct nl_sock *rt = ri->conn.rt;
	const struct vpc_row *v = ri->v;
	/* lo up, the gateway on lo, and nothing else of the CIDR reachable but members' /32s. */
	if ((ret = link_up(rt, 1, err)) ||
	    (ret = addr_add(rt, 1, subnet_gateway(v->net), 32, err)) ||
	    (ret = route_add(rt, ROUTE_UNREACHABLE, v->net, v->prefix, 0, 0, false, err)))
		return ret;
	return 0;
}

/* The router's default route out of the transit link (with a NAT gateway) and forwarding on
 * the host's end and the uplink: idempotent, and what a reboot resets on the uplink. */
static int transit_routes(struct nsconn *host, struct nl_sock *rt, const struct vpc_row *v,
			  struct vpcnet_error *err)
{
	char tname[VPCNET_IFNAME_MAX + 1];
	transit_name(tname, v->id);
	int hidx, ridx, upidx, ret;
	if (!v->nat)
		return 0;
	if ((ret = link_index(rt, ROUTER_TRANSIT_IF, &ridx, err)) ||
	    (ret = route_add(rt, ROUTE_UNICAST, 0, 0, ridx, transit_host(v->transit), true, err)) ||
	    (ret = link_index(host->rt, tname, &hidx, err)) ||
	    (ret = link_set_forwarding(host->rt, hidx, err)) ||
	    (ret = link_index(host->rt, v->uplink, &upidx, err)) ||
	    (ret = link_set_forwarding(host->rt, upidx, err)))
		return ret;
	return 0;
}

/* The transit link: a veth from the host into router namespace @rfd (reached by @rt), an
 * address on each end, and transit_routes(). */
static int transit_build(struct nsconn *host, struct nl_sock *rt, int rfd,
			 const struct vpc_row *v, struct vpcnet_error *err)
{
	char tname[VPCNET_IFNAME_MAX + 1];
	transit_name(tname, v->id);
	int hidx, ridx, ret;
	if ((ret = link_veth_create(host->rt, tname, 0, ROUTER_TRANSIT_IF, rfd, NULL, err)))
		return ret;
	if ((ret = failpoint("vpc-transit:veth", err)))
		return ret;
	if ((ret = link_index(host->rt, tname, &hidx, err)) ||
	    (ret = addr_add(host->rt, hidx, transit_host(v->transit), 31, err)) ||
	    (ret = link_index(rt, ROUTER_TRANSIT_IF, &ridx, err)) ||
	    (ret = addr_add(rt, ridx, transit_router(v->transit), 31, err)) ||
	    (ret = link_up(rt, ridx, err)))
		return ret;
	return transit_routes(host, rt, v, err);
}

/* Whether the transit link is whole: both ends, each with its address. */
static int transit_whole(struct nsconn *host, struct nl_sock *rt, const struct vpc_row *v,
			 bool *whole, struct vpcnet_error *err)
{
	char tname[VPCNET_IFNAME_MAX + 1];
	transit_name(tname, v->id);
	int hidx, ridx, ret;
	bool h = false, r = false;
	*whole = false;
	if ((ret = link_index(host->rt, tname, &hidx, err)) == -ENODEV ||
	    (!ret && (ret = link_index(rt, ROUTER_TRANSIT_IF, &ridx, err)) == -ENODEV))
		return 0;
	if (ret || (ret = addr_present(host->rt, hidx, transit_host(v->transit), 31, &h, err)) ||
	    (ret = addr_present(rt, ridx, transit_router(v->transit), 31, &r, err)))
		return ret;
	*whole = h && r;
	return 0;
}

/* The router's tables (inet and arp), built whole; with @replace over whatever a table of
 * that name holds (one batch: no moment without them). */
static int router_tables_make(struct nsconn *router, const struct vpc_row *v, bool replace,
			      struct vpcnet_error *err)
{
	struct nft_batch *b = nftb_new();
	if (!b)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	static const uint32_t families[] = { NFPROTO_INET, NFPROTO_ARP };
	for (size_t i = 0; replace && i < 2; i++) {
		struct nftnl_table *t = nft_table_new(families[i], ROUTER_TABLE);
		if (t) {  /* add (a no-op when it exists), then delete: gone either way */
			nftb_table(b, NFT_MSG_NEWTABLE, 0, t);
			nftb_table(b, NFT_MSG_DELTABLE, 0, t);
			nftnl_table_free(t);
		}
	}
	router_table_build(b, subnet_gateway(v->net), v->nat, ROUTER_TRANSIT_IF,
			   transit_router(v->transit));
	int ret = nft_commit(&router->nf, b, false, err);
	nftb_free(b);
	return ret ? verr_wrap(err, "router table") : 0;
}

/* The host table (built when @build_table) and VPC @v's elements in it (added: idempotent). */
static int host_elems_make(struct nsconn *host, const struct vpc_row *v, bool build_table,
			   struct vpcnet_error *err)
{
	char tname[VPCNET_IFNAME_MAX + 1];
	transit_name(tname, v->id);
	struct nft_batch *b = nftb_new();
	if (!b)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	if (build_table)
		host_table_build(b);
	host_transit_elems(b, NFT_MSG_NEWSETELEM, tname, transit_router(v->transit), v->nat,
			   v->uplink);
	int ret = nft_commit(&host->nf, b, false, err);
	nftb_free(b);
	return ret ? verr_wrap(err, "host table") : 0;
}

/* *@made tells whether the namespace was made here (a failure may not remove another's). */
int vpc_build(struct vpcnet *vn, const struct vpc_row *v, struct nsconn *host, bool *made,
	      struct vpcnet_error *err)
{
	char path[VPCNET_PATH_MAX];
	router_netns_path(path, v->name);
	struct router_init ri = { .v = v, .err = err };
	int rfd = -1, ret;

	if ((ret = netns_create(path, router_init, &ri, &rfd, err)))
		goto out;
	*made = true;
	if ((ret = failpoint("vpc-create:netns", err)))
		goto out;
	if ((ret = transit_build(host, ri.conn.rt, rfd, v, err)) ||
	    (ret = router_tables_make(&ri.conn, v, false, err)))
		goto out;
	if ((ret = sg_create_default(vn, v, &ri.conn, err))) {
		verr_wrap(err, "default group");
		goto out;
	}
	if ((ret = failpoint("vpc-create:router-table", err)))
		goto out;
	ret = host_elems_make(host, v, true, err);
out:
	nsconn_close(&ri.conn);
	if (rfd >= 0)
		close(rfd);
	return ret;
}

/* Rules of one chain: how many a builder writes, and how many the kernel holds. */
struct chain_count {
	uint32_t family;
	char name[64];
	unsigned want, have;
};

struct chain_counts {
	struct chain_count *c;
	size_t n, cap;
};

static struct chain_count *chain_of(struct chain_counts *cc, uint32_t family, const char *name)
{
	for (size_t i = 0; i < cc->n; i++)
		if (cc->c[i].family == family && !strcmp(cc->c[i].name, name))
			return &cc->c[i];
	return NULL;
}

static int count_have(uint32_t family, const char *chain, void *arg)
{
	struct chain_count *c = chain_of(arg, family, chain);
	if (c)
		c->have++;
	return 0;
}

/* Whether every chain that batch @b writes rules into holds as many rules in table @table of
 * the kernel reached by @nf (in each family @b writes): a table that is gone, flushed, or a
 * chain emptied or deleted by another program shows.  What @b does not write (a group's
 * chains, made later) is not counted. */
static int rules_whole(struct nf_sock *nf, struct nft_batch *b, const char *table, bool *whole,
		       struct vpcnet_error *err)
{
	struct chain_counts cc = { 0 };
	uint32_t families[2] = { 0 };
	int ret = nftb_ok(b) ? 0 : -ENOMEM;
	const struct nlmsghdr *nlh;
	for (unsigned i = 0; !ret && (nlh = nftb_msg(b, i)); i++) {
		if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWRULE)
			continue;
		struct nftnl_rule *r = nftnl_rule_alloc();
		if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0) {  /* our own message */
			nftnl_rule_free(r);
			ret = -ENOMEM;
			break;
		}
		struct chain_count c = { .family = nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY) };
		snprintf(c.name, sizeof(c.name), "%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
		nftnl_rule_free(r);
		struct chain_count *have = chain_of(&cc, c.family, c.name);
		if (have) {
			have->want++;
			continue;
		}
		c.want = 1;
		ret = array_push(&cc.c, &cc.n, &cc.cap, &c, sizeof(c));
		if (families[0] != c.family && families[1] != c.family)  /* inet, and arp */
			families[families[0] ? 1 : 0] = c.family;
	}
	if (ret == -ENOMEM)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "count rules");
	for (size_t f = 0; !ret && f < 2 && families[f]; f++) {
		for (int tries = 0; tries < 3; tries++) {  /* a dump a commit cut across: again */
			for (size_t i = 0; i < cc.n; i++)
				cc.c[i].have = cc.c[i].family == families[f] ? 0 : cc.c[i].have;
			if ((ret = nft_rules_each(nf, families[f], table, count_have, &cc, err)) !=
			    -EINTR)
				break;
		}
		if (ret == -ENOENT)
			ret = 0;  /* no such table: no rules */
	}
	*whole = true;
	for (size_t i = 0; !ret && i < cc.n; i++)
		*whole &= cc.c[i].have == cc.c[i].want;
	free(cc.c);
	return ret;
}

/* The router namespace, opened (@ri->conn), or made when gone. */
static int router_ns_ensure(const struct vpc_row *v, struct router_init *ri, int *rfd,
			    unsigned *rebuilt, struct vpcnet_error *err)
{
	char path[VPCNET_PATH_MAX];
	router_netns_path(path, v->name);
	int ret = netns_open(path, rfd, err);
	if (ret == -EINVAL && !(ret = netns_remove(path, err)))  /* a name left of one */
		ret = -ENOENT;
	if (ret == -ENOENT) {
		if ((ret = netns_create(path, router_init, ri, rfd, err)))
			return ret;
		*rebuilt |= VPC_REBUILT_ROUTER;
		return failpoint("vpc-repair:netns", err);
	}
	return ret ? ret : nsconn_open(&ri->conn, *rfd, true, err);
}

/* The router's tables, both made again (over what is left of them) unless whole. */
static int router_tables_ensure(struct nsconn *router, const struct vpc_row *v,
				unsigned *rebuilt, struct vpcnet_error *err)
{
	bool whole;
	struct nft_batch *b = nftb_new();
	if (!b)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	router_table_build(b, subnet_gateway(v->net), v->nat, ROUTER_TRANSIT_IF,
			   transit_router(v->transit));
	int ret = rules_whole(&router->nf, b, ROUTER_TABLE, &whole, err);
	nftb_free(b);
	if (ret || whole)
		return ret;
	if ((ret = router_tables_make(router, v, true, err)))
		return ret;
	*rebuilt |= VPC_REBUILT_TABLE;
	return failpoint("vpc-repair:router-table", err);
}

int vpc_host_ensure(struct vpcnet *vn, const struct vpc_row *v, unsigned *rebuilt,
		    struct vpcnet_error *err)
{
	bool whole;
	struct nsconn host;
	struct nft_batch *b = nftb_new();
	int ret = b ? nsconn_open(&host, vn->host_fd, true, err)
		    : verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	if (ret) {
		nftb_free(b);
		return ret;
	}
	host_table_build(b);
	if (!(ret = rules_whole(&host.nf, b, HOST_TABLE, &whole, err)) &&
	    !(ret = host_elems_make(&host, v, !whole, err)) && !whole)
		*rebuilt |= VPC_REBUILT_HOST_TABLE;
	nftb_free(b);
	nsconn_close(&host);
	return ret;
}

/* The transit link, made again unless whole; its routes and forwarding either way. */
static int transit_ensure(struct nsconn *host, struct nsconn *router, int rfd,
			  const struct vpc_row *v, unsigned *rebuilt, struct vpcnet_error *err)
{
	char tname[VPCNET_IFNAME_MAX + 1];
	transit_name(tname, v->id);
	bool whole;
	int ret = transit_whole(host, router->rt, v, &whole, err);
	if (ret || whole)
		return ret ? ret : transit_routes(host, router->rt, v, err);
	if ((ret = link_delete(host->rt, tname, err)) ||
	    (ret = transit_build(host, router->rt, rfd, v, err)))
		return ret;
	*rebuilt |= VPC_REBUILT_TRANSIT;
	return failpoint("vpc-repair:transit", err);
}

int vpc_ensure(struct vpcnet *vn, const struct vpc_row *v, unsigned *rebuilt,
	       struct vpcnet_error *err)
{
	struct router_init ri = { .v = v, .err = err };
	struct nsconn host = { 0 };
	int rfd = -1;
	*rebuilt = 0;
	/* the transit link last: its way out needs the uplink, which a host may lack a while
	 * (the tables and the host's elements close what must be closed meanwhile) */
	int ret = router_ns_ensure(v, &ri, &rfd, rebuilt, err);
	if (!ret && !(ret = router_tables_ensure(&ri.conn, v, rebuilt, err)) &&
	    !(ret = vpc_host_ensure(vn, v, rebuilt, err)) &&
	    !(ret = nsconn_open(&host, vn->host_fd, true, err)))
		ret = transit_ensure(&host, &ri.conn, rfd, v, rebuilt, err);
	nsconn_close(&ri.conn);
	nsconn_close(&host);
	if (rfd >= 0)
		close(rfd);
	return ret ? verr_wrap(err, "VPC %s", v->name) : 0;
}

int vpc_teardown(struct vpcnet *vn, const struct vpc_row *v, bool remove_netns,
		 struct vpcnet_error *err)
{
	char path[VPCNET_PATH_MAX], tname[VPCNET_IFNAME_MAX + 1];
	router_netns_path(path, v->name);
	transit_name(tname, v->id);
	struct nsconn host;
	int ret = nsconn_open(&host, vn->host_fd, true, err);
	if (ret)
		return ret;
	struct nft_batch *b = nftb_new();
	if (!b) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
		goto out;
	}
	host_transit_elems(b, NFT_MSG_DELSETELEM, tname, transit_router(v->transit), v->nat,
			   v->uplink);
	ret = nft_commit(&host.nf, b, true, err);
	if (ret == -ENOENT)  /* no host table: nothing of ours in it */
		ret = 0;
	if (ret) {
		verr_wrap(err, "host table");
		goto out;
	}
	if ((ret = failpoint("vpc-delete:host-elements", err)))
		goto out;
	/* Deleting the host end takes the router end with it, synchronously: when this
	 * returns, the host holds nothing of the VPC. */
	if ((ret = link_delete(host.rt, tname, err)))
		goto out;
	if ((ret = failpoint("vpc-delete:transit", err)))
		goto out;
	if (remove_netns)
		ret = netns_remove(path, err);
out:
	nftb_free(b);
	nsconn_close(&host);
	return ret;
}

/* Removes the host table when no VPC is left; called inside a store transaction so that
 * no VPC can be inserted meanwhile. */
static int host_table_gc(struct vpcnet *vn, struct vpcnet_error *err)
{
	int64_t n;
	int ret = store_vpc_count(vn->st, &n, err);
	if (ret || n > 0)
		return ret;
	struct nsconn host;
	if ((ret = nsconn_open(&host, vn->host_fd, true, err)))
		return ret;
	struct nft_batch *b = nftb_new();
	if (!b)
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	else {
		host_table_delete(b);
		ret = nft_commit(&host.nf, b, true, err);
	}
	nftb_free(b);
	nsconn_close(&host);
	return ret;
}

int vpc_forget(struct vpcnet *vn, const struct vpc_row *v, struct vpcnet_error *err)
{
	int ret = store_begin(vn->st, err);
	if (ret)
		return ret;
	if ((ret = store_vpc_delete(vn->st, v->id, err)) || (ret = store_commit(vn->st, err))) {
		store_rollback(vn->st);
		return ret;
	}
	/* Best effort: an empty host table left by a failure here harms nothing, and the
	 * next VPC delete or gc removes it. */
	struct vpcnet_error ignored;
	if (!store_begin(vn->st, &ignored)) {
		if (host_table_gc(vn, &ignored) || store_commit(vn->st, &ignored))
			store_rollback(vn->st);
	}
	return 0;
}

int vpc_current(const struct vpc_row *v, struct vpcnet_error *err)
{
	if (v->layout == VPC_LAYOUT)
		return 0;
	return vinput(err, VPCNET_FAILED, EPROTO,
		      "VPC '%s' was made by an older vpcnet (router layout %d, this one makes %d):"
		      " it can only be deleted; recreate it to use it", v->name, v->layout,
		      VPC_LAYOUT);
}
