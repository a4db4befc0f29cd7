/* SPDX-License-Identifier: MIT */
/* The CNI commands that act on vpcnet: ADD, DEL, CHECK, STATUS, GC (cli/cni.c parses). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cni.h"
#include "base/addr.h"

static int open_lib(struct cni *c, struct vpcnet **vn, const char *what)
{
	struct vpcnet_error err = { 0 };
	if (vpcnet_open(vn, &c->cfg, &err))
		return cni_fail(c, what, &err);
	return 0;
}

static char *mac_str(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

/* Copies array @key of prevResult into @out (new references). */
static void copy_prev(json_t *prev, const char *key, json_t *out)
{
	json_t *a = prev ? json_object_get(prev, key) : NULL;
	size_t i;
	json_t *v;
	if (json_is_array(a))
		json_array_foreach(a, i, v)
			json_array_append(out, v);
}

/* The ADD result in the config's version, after prevResult's interfaces, ips and routes. */
static json_t *add_result(const struct cni *c, const struct vpcnet_sandbox *s)
{
	json_t *prev = json_object_get(c->conf, "prevResult");
	json_t *ifs = json_array(), *ips = json_array(), *routes = json_array();
	char ip[16], gw[16], mac[18], cidr[24];
	copy_prev(prev, "interfaces", ifs);
	copy_prev(prev, "ips", ips);
	copy_prev(prev, "routes", routes);
	/* The router's end of the veth (in the VPC router's namespace) is reported as host-side
	 * interfaces are, with no "sandbox": runtimes take every interface that has one for the
	 * container's own (podman then wants its MAC). */
	json_array_append_new(ifs, json_pack("{s:s}", "name", s->port));
	size_t idx = json_array_size(ifs);
	json_array_append_new(ifs, json_pack("{s:s, s:s, s:s}", "name", s->ifname, "mac",
					     mac_str(s->mac, mac), "sandbox", s->netns));
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(s->addr, ip), s->prefix);
	vpcnet_addr_str(s->gateway, gw);
	json_t *ipc = json_pack("{s:s, s:s, s:I}", "address", cidr, "gateway", gw, "interface",
				(json_int_t)idx);
	if (cni_v04(c))
		json_object_set_new(ipc, "version", json_string("4"));
	json_array_append_new(ips, ipc);
	if (c->default_route)
		json_array_append_new(routes, json_pack("{s:s, s:s}", "dst", "0.0.0.0/0", "gw", gw));
	json_t *dns = prev ? json_object_get(prev, "dns") : NULL;
	if (!json_is_object(dns))
		dns = json_object_get(c->conf, "dns");
	dns = json_is_object(dns) ? json_incref(dns) : json_object();
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "cniVersion", c->version, "interfaces", ifs,
			 "ips", ips, "routes", routes, "dns", dns);
}

int cni_add(struct cni *c)
{
	struct vpcnet *vn;
	int ret = open_lib(c, &vn, "cannot open the vpcnet store");
	if (ret)
		return ret;
	struct vpcnet_error err = { 0 };
	struct vpcnet_vpc vpc;
	struct vpcnet_sandbox s;
	if (vpcnet_vpc_get(vn, c->vpc, &vpc, &err)) {
		ret = cni_fail(c, err.status == VPCNET_NOT_FOUND ? "the VPC does not exist"
				  : "cannot read the VPC", &err);
		goto out;
	}
	struct vpcnet_sandbox_spec spec = {
		.id = c->id, .vpc = c->vpc, .netns = c->netns, .ifname = c->ifname,
		.sgs = c->nsgs ? c->sgs : NULL, .nsgs = c->nsgs, .origin = c->origin,
		.no_default_route = !c->default_route,
	};
	if (vpcnet_sandbox_create(vn, &spec, &s, &err)) {
		struct vpcnet_error gerr;
		struct vpcnet_sandbox other;
		bool exists = err.status == VPCNET_EXISTS &&
			      !vpcnet_sandbox_get(vn, c->id, &other, &gerr);
		if (exists && strcmp(other.origin, c->origin))
			ret = cni_error(c, CNI_ERR_NOT_OURS, "attachment id taken",
					"sandbox %s belongs to '%s'", c->id, other.origin);
		else if (exists)
			ret = cni_error(c, CNI_ERR_EXISTS, "already attached",
					"%s is sandbox %s in %s: DEL it first", c->origin, c->id,
					other.netns);
		else
			ret = cni_fail(c, "cannot attach the container", &err);
		goto out;
	}
	fprintf(stderr, "vpcnet cni ADD: %s attached as sandbox %s\n", c->origin, c->id);
	cli_print_json(add_result(c, &s));
out:
	vpcnet_close(vn);
	return ret;
}

/* Whether there is a store to look in: DEL and GC must not make one. */
static bool store_exists(const struct cni *c)
{
	char p[VPCNET_PATH_MAX + 16];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/state.db", c->cfg.state_dir ? c->cfg.state_dir
							    : "/var/lib/vpcnet");
	return !stat(p, &sb);
}

int cni_del(struct cni *c)
{
	if (!store_exists(c)) {
		fprintf(stderr, "vpcnet cni DEL: no store: nothing to delete\n");
		return 0;
	}
	/* Deleting needs no host namespace: when the configured one is gone, do without. */
	char hp[VPCNET_PATH_MAX + 16];
	struct stat sb;
	if (c->cfg.host_netns) {
		snprintf(hp, sizeof(hp), "/run/netns/%s", c->cfg.host_netns);
		if (stat(hp, &sb))
			c->cfg.host_netns = NULL;
	}
	struct vpcnet *vn;
	int ret = open_lib(c, &vn, "cannot open the vpcnet store");
	if (ret)
		return ret;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	if (vpcnet_sandbox_get(vn, c->id, &s, &err)) {
		if (err.status != VPCNET_NOT_FOUND)
			ret = cni_fail(c, "cannot read the attachment", &err);
		goto out;  /* gone already: done */
	}
	if (strcmp(s.origin, c->origin)) {
		ret = cni_error(c, CNI_ERR_NOT_OURS, "attachment id taken",
				"sandbox %s belongs to '%s', not to this attachment", c->id,
				s.origin);
		goto out;
	}
	if (vpcnet_sandbox_delete(vn, c->id, &err))
		ret = cni_fail(c, "cannot detach the container", &err);
	else
		fprintf(stderr, "vpcnet cni DEL: %s detached\n", c->origin);
out:
	vpcnet_close(vn);
	return ret;
}

/* prevResult must name our interface in CNI_NETNS with the MAC, and our address. */
static int check_prev(struct cni *c, const struct vpcnet_sandbox *s)
{
	json_t *prev = json_object_get(c->conf, "prevResult");
	char ip[16], mac[18], cidr[24];
	mac_str(s->mac, mac);
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(s->addr, ip), s->prefix);
	json_t *ifs = json_object_get(prev, "interfaces"), *ips = json_object_get(prev, "ips");
	size_t i, found = (size_t)-1;
	json_t *v;
	json_array_foreach(ifs, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *sb = json_string_value(json_object_get(v, "sandbox"));
		if (n && sb && !strcmp(n, c->ifname) && !strcmp(sb, c->netns)) {
			found = i;
			const char *m = json_string_value(json_object_get(v, "mac"));
			if (m && strcasecmp(m, mac))
				return cni_error(c, CNI_ERR_CHECK, "attachment differs from prevResult",
						 "interface %s has MAC %s, prevResult says %s",
						 c->ifname, mac, m);
		}
	}
	if (found == (size_t)-1)
		return cni_error(c, CNI_ERR_CHECK, "attachment differs from prevResult",
				 "prevResult lists no interface %s in %s", c->ifname, c->netns);
	bool have = false;
	json_array_foreach(ips, i, v) {
		const char *a = json_string_value(json_object_get(v, "address"));
		json_t *idx = json_object_get(v, "interface");
		if (a && !strcmp(a, cidr) && (!idx || (size_t)json_integer_value(idx) == found))
			have = true;
	}
	if (!have)
		return cni_error(c, CNI_ERR_CHECK, "attachment differs from prevResult",
				 "prevResult lists no address %s on %s", cidr, c->ifname);
	if (strcmp(s->netns, c->netns))
		return cni_error(c, CNI_ERR_CHECK, "attachment differs from prevResult",
				 "attached in %s, CNI_NETNS is %s", s->netns, c->netns);
	return 0;
}

int cni_check(struct cni *c)
{
	if (!json_object_get(c->conf, "prevResult"))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "CHECK needs prevResult");
	struct vpcnet *vn;
	int ret = open_lib(c, &vn, "cannot open the vpcnet store");
	if (ret)
		return ret;
	struct vpcnet_error err = { 0 };
	struct vpcnet_sandbox s;
	if (vpcnet_sandbox_get(vn, c->id, &s, &err)) {
		ret = err.status == VPCNET_NOT_FOUND
			? cni_error(c, CNI_ERR_CHECK, "no such attachment", "%s", err.msg)
			: cni_fail(c, "cannot read the attachment", &err);
		goto out;
	}
	if (strcmp(s.origin, c->origin)) {
		ret = cni_error(c, CNI_ERR_NOT_OURS, "attachment id taken",
				"sandbox %s belongs to '%s'", c->id, s.origin);
		goto out;
	}
	if ((ret = check_prev(c, &s)))
		goto out;
	if (vpcnet_sandbox_check(vn, c->id, c->default_route ? 0 : VPCNET_CHECK_NO_DEFAULT_ROUTE,
				 &err))
		ret = err.errnum == EBUSY ? cni_fail(c, "attachment busy", &err)
		      : cni_error(c, CNI_ERR_CHECK, "attachment is broken", "%s", err.msg);
out:
	vpcnet_close(vn);
	return ret;
}

int cni_status(struct cni *c)
{
	if (!store_exists(c))
		return cni_error(c, CNI_ERR_UNAVAILABLE, "plugin not available",
				 "no vpcnet store in %s", c->cfg.state_dir ? c->cfg.state_dir
									 : "/var/lib/vpcnet");
	struct vpcnet *vn = NULL;
	struct vpcnet_error err = { 0 };
	struct vpcnet_vpc v;
	int ret = 0;
	if (vpcnet_open(&vn, &c->cfg, &err) || vpcnet_vpc_get(vn, c->vpc, &v, &err)) {
		ret = cni_error(c, CNI_ERR_UNAVAILABLE, "plugin not available", "%s", err.msg);
	} else if (strcmp(v.state, "ready")) {
		ret = cni_error(c, CNI_ERR_UNAVAILABLE, "plugin not available", "VPC %s is %s",
				c->vpc, v.state);
	} else if (access(v.netns, F_OK)) {
		ret = cni_error(c, CNI_ERR_UNAVAILABLE, "plugin not available",
				"VPC %s: its router namespace %s is gone",
				c->vpc, v.netns);
	} else {
		uint32_t net = ntohl(v.network.s_addr);
		uint32_t room = subnet_last(net, v.prefix) - subnet_first(net) + 1;
		if (v.sandboxes >= room)
			ret = cni_error(c, CNI_ERR_FULL, "no free address",
					"VPC %s: all %u addresses are leased", c->vpc, room);
	}
	if (vn)
		vpcnet_close(vn);
	return ret;
}

struct gc_arg {
	const char *prefix;  /* "cni:NAME/" */
	char (*ids)[VPCNET_ID_MAX + 1];
	char (*origins)[VPCNET_ORIGIN_MAX + 1];
	size_t n, cap;
};

static int gc_collect(const struct vpcnet_sandbox *s, void *arg)
{
	struct gc_arg *g = arg;
	if (strncmp(s->origin, g->prefix, strlen(g->prefix)))
		return 0;  /* another network's, or made by hand: never ours to remove */
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 16;
		void *a = realloc(g->ids, cap * sizeof(*g->ids));
		if (!a)
			return -ENOMEM;
		g->ids = a;
		if (!(a = realloc(g->origins, cap * sizeof(*g->origins))))
			return -ENOMEM;
		g->origins = a;
		g->cap = cap;
	}
	snprintf(g->ids[g->n], sizeof(*g->ids), "%s", s->id);
	snprintf(g->origins[g->n], sizeof(*g->origins), "%s", s->origin);
	g->n++;
	return 0;
}

/* Whether "cni:NAME/CID/IFNAME" is among @valid ({containerID, ifname} objects). */
static bool gc_valid(json_t *valid, const char *origin, size_t plen)
{
	size_t i;
	json_t *v;
	json_array_foreach(valid, i, v) {
		const char *cid = json_string_value(json_object_get(v, "containerID"));
		const char *ifn = json_string_value(json_object_get(v, "ifname"));
		if (!cid || !ifn)
			continue;
		size_t n = strlen(cid);
		const char *rest = origin + plen;
		if (!strncmp(rest, cid, n) && rest[n] == '/' && !strcmp(rest + n + 1, ifn))
			return true;
	}
	return false;
}

int cni_gc(struct cni *c)
{
	json_t *valid = json_object_get(c->conf, "cni.dev/valid-attachments");
	if (!valid)
		valid = json_object_get(c->conf, "cni.dev/attachments");
	if (!json_is_array(valid))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "GC needs cni.dev/valid-attachments (an array)");
	size_t i;
	json_t *v;
	json_array_foreach(valid, i, v)
		if (!json_is_object(v) || !json_is_string(json_object_get(v, "containerID")) ||
		    !json_is_string(json_object_get(v, "ifname")))
			return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
					 "cni.dev/valid-attachments[%zu]: {containerID, ifname}", i);
	if (!store_exists(c))
		return 0;
	struct vpcnet *vn;
	int ret = open_lib(c, &vn, "cannot open the vpcnet store");
	if (ret)
		return ret;
	char prefix[VPCNET_ORIGIN_MAX + 1];
	snprintf(prefix, sizeof(prefix), ORIGIN_PREFIX "%s/", c->name);
	struct gc_arg g = { .prefix = prefix };
	struct vpcnet_error err = { 0 };
	if ((ret = vpcnet_sandbox_list(vn, NULL, gc_collect, &g, &err))) {
		if (!err.msg[0]) {  /* gc_collect's own failure: the library said nothing */
			err.status = VPCNET_FAILED;
			err.errnum = -ret;
			snprintf(err.msg, sizeof(err.msg), "collect attachments: %s", strerror(-ret));
		}
		ret = cni_fail(c, "cannot list attachments", &err);
		goto out;
	}
	char details[8192] = "";
	size_t dl = 0;
	unsigned removed = 0, failed = 0, busy = 0;
	for (i = 0; i < g.n; i++) {
		if (gc_valid(valid, g.origins[i], strlen(prefix)))
			continue;
		if (vpcnet_sandbox_delete(vn, g.ids[i], &err)) {
			failed++;
			busy += err.errnum == EBUSY;
			fprintf(stderr, "vpcnet cni GC: %s: %s\n", g.origins[i], err.msg);
			if (dl < sizeof(details))
				dl += snprintf(details + dl, sizeof(details) - dl, "%s%s: %s",
					       dl ? "; " : "", g.origins[i], err.msg);
		} else {
			removed++;
			fprintf(stderr, "vpcnet cni GC: removed %s (sandbox %s)\n", g.origins[i],
				g.ids[i]);
		}
	}
	if (failed)
		ret = cni_error(c, busy == failed ? CNI_ERR_AGAIN : CNI_ERR_GC,
				"some stale attachments could not be removed",
				"%u removed, %u failed: %s", removed, failed, details);
out:
	free(g.ids);
	free(g.origins);
	vpcnet_close(vn);
	return ret;
}
