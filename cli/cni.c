/* SPDX-License-Identifier: MIT */
/* The CNI plugin (spec 1.1.0; 1.0.0 and 0.4.0 configs too): the vpcnet binary run with
 * CNI_COMMAND in its environment and the network config on stdin.
 *
 * An attachment (network name, CNI_CONTAINERID, CNI_IFNAME) is one vpcnet sandbox that adopts
 * the runtime's namespace.  Its sandbox id is derived from the three, so that DEL, CHECK and
 * GC find it from what the runtime passes and nothing else:
 *     "cni-" + the container id's first 12 characters + "-" + 16 hex digits of a 64-bit
 *     FNV-1a hash of "NAME\0CONTAINERID\0IFNAME"
 * and the whole attachment is recorded as the member's origin, "cni:NAME/CONTAINERID/IFNAME":
 * a plugin only ever deletes a sandbox whose origin is its own attachment (a hash collision or
 * a sandbox made by hand is refused, never touched), and GC scans the origins of NAME only.
 *
 * Results and errors go to stdout as JSON, logs to stderr.  Error codes: the spec's (1, 4, 5,
 * 6, 7, 11, 50, 51) and vpcnet's own (cni_code below, README "CNI plugin"). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/addr.h"

/* vpcnet's own error codes. */
enum {
	CNI_ERR_VERSION = 1,       /* incompatible cniVersion */
	CNI_ERR_ENV = 4,           /* a necessary environment variable missing or invalid */
	CNI_ERR_IO = 5,            /* stdin could not be read */
	CNI_ERR_DECODE = 6,        /* stdin is not a JSON object */
	CNI_ERR_CONFIG = 7,        /* the network config is invalid */
	CNI_ERR_AGAIN = 11,        /* the store or the attachment is busy: try again later */
	CNI_ERR_UNAVAILABLE = 50,  /* STATUS: the plugin cannot service ADD */
	CNI_ERR_FULL = 51,         /* STATUS: no free address left in the VPC */
	CNI_ERR_FAILED = 100,      /* the operation failed (kernel, store) */
	CNI_ERR_NOT_FOUND = 101,   /* the VPC or a security group does not exist */
	CNI_ERR_EXISTS = 102,      /* the interface or the attachment exists already */
	CNI_ERR_REFUSED = 103,     /* vpcnet refused an input (e.g. CNI_NETNS not a netns) */
	CNI_ERR_CHECK = 104,       /* CHECK: the attachment differs from prevResult or is broken */
	CNI_ERR_NOT_OURS = 105,    /* the sandbox of this id belongs to another attachment */
	CNI_ERR_GC = 106,          /* GC: some stale attachments could not be removed */
};

static const char *const supported[] = { "0.4.0", "1.0.0", "1.1.0" };
#define STDIN_MAX (4 << 20)
#define ORIGIN_PREFIX "cni:"
#define NAME_MAX_LEN 100
#define CID_MAX_LEN 128

struct cni {
	const char *cmd, *cid, *netns, *ifname, *path;
	const char *version;   /* the config's, once known to be supported */
	json_t *conf;
	const char *name, *vpc;
	const char *sgs[VPCNET_SG_PER_MEMBER];
	unsigned nsgs;
	bool default_route;    /* "defaultRoute" (default true) */
	char *arg_sgs;         /* VPCNET_SG from CNI_ARGS (owned) */
	struct vpcnet_config cfg;
	char id[VPCNET_ID_MAX + 1];
	char origin[VPCNET_ORIGIN_MAX + 1];
};

__attribute__((format(printf, 4, 5)))
static int cni_error(const struct cni *c, int code, const char *msg, const char *fmt, ...)
{
	char details[1024] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(details, sizeof(details), fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "vpcnet cni %s: %s%s%s\n", c->cmd ? c->cmd : "?", msg,
		details[0] ? ": " : "", details);
	json_t *j = json_pack("{s:s, s:i, s:s, s:s}", "cniVersion",
			      c->version ? c->version : "1.1.0", "code", code, "msg", msg,
			      "details", details);
	cli_print_json(j);
	return 1;
}

/* A library failure as a CNI error. */
static int cni_fail(const struct cni *c, const char *msg, const struct vpcnet_error *err)
{
	int code = CNI_ERR_FAILED;
	if (err->errnum == EBUSY || err->errnum == EAGAIN)
		code = CNI_ERR_AGAIN;
	else if (err->status == VPCNET_NOT_FOUND)
		code = CNI_ERR_NOT_FOUND;
	else if (err->status == VPCNET_EXISTS)
		code = CNI_ERR_EXISTS;
	else if (err->status == VPCNET_BAD_INPUT)
		code = CNI_ERR_REFUSED;
	return cni_error(c, code, msg, "%s", err->msg);
}

static bool is_supported(const char *v)
{
	for (size_t i = 0; i < sizeof(supported) / sizeof(*supported); i++)
		if (!strcmp(v, supported[i]))
			return true;
	return false;
}

static bool is_v04(const struct cni *c)
{
	return !strncmp(c->version, "0.", 2);
}

/* [A-Za-z0-9] then [A-Za-z0-9_.-]*: the spec's network names and container ids. */
static bool valid_cni_name(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || !strchr("_.-", ch)))
			return false;
	}
	return true;
}

static bool valid_ifname_str(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > VPCNET_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The sandbox id and origin of attachment (name, cid, ifname). */
static void attachment_id(struct cni *c, const char *cid, const char *ifname)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv1a(h, c->name, strlen(c->name) + 1);
	h = fnv1a(h, cid, strlen(cid) + 1);
	h = fnv1a(h, ifname, strlen(ifname));
	char head[13];
	snprintf(head, sizeof(head), "%s", cid);
	snprintf(c->id, sizeof(c->id), "cni-%s-%016" PRIx64, head, h);
	snprintf(c->origin, sizeof(c->origin), ORIGIN_PREFIX "%s/%s/%s", c->name, cid, ifname);
}

/* --- input ------------------------------------------------------------------------------ */

/* Reads all of stdin (at most STDIN_MAX bytes) into *@out, NUL-terminated; -errno. */
static int slurp_stdin(char **out, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n + 1 >= cap) {
			char *nb = cap < STDIN_MAX ? realloc(buf, cap * 2) : NULL;
			if (!nb) {
				free(buf);
				return cap < STDIN_MAX ? -ENOMEM : -EFBIG;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(0, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			return -e;
		}
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int parse_stdin(struct cni *c)
{
	char *buf;
	size_t len;
	int ret = slurp_stdin(&buf, &len);
	if (ret)
		return cni_error(c, CNI_ERR_IO, "cannot read the network config", "stdin: %s",
				 ret == -EFBIG ? "more than 4 MiB" : strerror(-ret));
	json_error_t je;
	c->conf = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!c->conf)
		return cni_error(c, CNI_ERR_DECODE, "cannot decode the network config",
				 "line %d column %d: %s", je.line, je.column, je.text);
	if (!json_is_object(c->conf))
		return cni_error(c, CNI_ERR_DECODE, "cannot decode the network config",
				 "not a JSON object");
	return 0;
}

static const char *conf_string(json_t *o, const char *key, bool *bad)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

/* Up to VPCNET_SG_PER_MEMBER group names from JSON array @arr (what: for the message). */
static int groups_from_json(struct cni *c, json_t *arr, const char *what)
{
	if (!json_is_array(arr))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "%s: an array of group names", what);
	if (json_array_size(arr) > VPCNET_SG_PER_MEMBER)
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "%s: at most %d groups", what, VPCNET_SG_PER_MEMBER);
	size_t i;
	json_t *g;
	c->nsgs = 0;
	json_array_foreach(arr, i, g) {
		if (!json_is_string(g) || !json_string_length(g))
			return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
					 "%s[%zu]: a group name", what, i);
		c->sgs[c->nsgs++] = json_string_value(g);
	}
	return 0;
}

/* The config: cniVersion (1), then its fields (7). */
static int parse_config(struct cni *c)
{
	bool bad = false;
	const char *v = conf_string(c->conf, "cniVersion", &bad);
	if (!v || bad)
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "cniVersion: a string is required");
	if (!is_supported(v))
		return cni_error(c, CNI_ERR_VERSION, "incompatible CNI version",
				 "config version %s; vpcnet supports 0.4.0, 1.0.0, 1.1.0", v);
	c->version = v;
	c->name = conf_string(c->conf, "name", &bad);
	if (bad || !c->name || !valid_cni_name(c->name, NAME_MAX_LEN))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "name: 1-%d of [A-Za-z0-9_.-], starting with a letter or digit",
				 NAME_MAX_LEN);
	c->vpc = conf_string(c->conf, "vpc", &bad);
	if (bad || !c->vpc || !*c->vpc)
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "vpc: the name of an existing VPC is required");
	c->cfg.state_dir = conf_string(c->conf, "stateDir", &bad);
	if (bad || (c->cfg.state_dir && c->cfg.state_dir[0] != '/'))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "stateDir: an absolute path");
	c->cfg.host_netns = conf_string(c->conf, "hostNetns", &bad);
	if (bad || (c->cfg.host_netns && (!*c->cfg.host_netns || strchr(c->cfg.host_netns, '/'))))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "hostNetns: a namespace name under /run/netns");
	json_t *dr = json_object_get(c->conf, "defaultRoute");
	if (dr && !json_is_boolean(dr))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "defaultRoute: true or false");
	c->default_route = !dr || json_is_true(dr);
	json_t *g = json_object_get(c->conf, "securityGroups");
	int ret;
	if (g && (ret = groups_from_json(c, g, "securityGroups")))
		return ret;
	json_t *rc = json_object_get(c->conf, "runtimeConfig");
	if (rc && !json_is_object(rc))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "runtimeConfig: an object");
	if (rc && (g = json_object_get(rc, "securityGroups")) &&
	    (ret = groups_from_json(c, g, "runtimeConfig.securityGroups")))
		return ret;
	json_t *prev = json_object_get(c->conf, "prevResult");
	if (prev && !json_is_object(prev))
		return cni_error(c, CNI_ERR_CONFIG, "invalid network config",
				 "prevResult: an object");
	return 0;
}

/* CNI_ARGS "K=V;K=V": VPCNET_SG=a,b is ours; other keys are an error unless
 * IgnoreUnknown=1/true is among them (the CNI conventions). */
static int parse_args(struct cni *c)
{
	const char *args = getenv("CNI_ARGS");
	if (!args || !*args)
		return 0;
	char *dup = strdup(args);
	if (!dup)
		return cni_error(c, CNI_ERR_FAILED, "out of memory", NULL);
	bool ignore = false;
	const char *unknown = NULL;
	char *save = NULL, *sg = NULL;
	int ret = 0;
	for (char *kv = strtok_r(dup, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			ret = cni_error(c, CNI_ERR_ENV, "invalid CNI_ARGS",
					"'%s' is not KEY=VALUE", kv);
			goto out;
		}
		*eq = '\0';
		if (!strcmp(kv, "IgnoreUnknown"))
			ignore = !strcmp(eq + 1, "1") || !strcasecmp(eq + 1, "true");
		else if (!strcmp(kv, "VPCNET_SG"))
			sg = eq + 1;
		else if (!unknown)
			unknown = kv;
	}
	if (unknown && !ignore) {
		ret = cni_error(c, CNI_ERR_ENV, "invalid CNI_ARGS",
				"unknown key '%s' (add IgnoreUnknown=1 to ignore it)", unknown);
		goto out;
	}
	if (sg) {
		if (!(c->arg_sgs = strdup(sg))) {
			ret = cni_error(c, CNI_ERR_FAILED, "out of memory", NULL);
			goto out;
		}
		c->nsgs = 0;
		char *s2 = NULL;
		for (char *t = strtok_r(c->arg_sgs, ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
			if (c->nsgs == VPCNET_SG_PER_MEMBER) {
				ret = cni_error(c, CNI_ERR_ENV, "invalid CNI_ARGS",
						"VPCNET_SG: at most %d groups", VPCNET_SG_PER_MEMBER);
				goto out;
			}
			c->sgs[c->nsgs++] = t;
		}
		if (!c->nsgs)
			ret = cni_error(c, CNI_ERR_ENV, "invalid CNI_ARGS",
					"VPCNET_SG: name at least one group");
	}
out:
	free(dup);
	return ret;
}

/* The variables @cmd needs (spec 1.1, section 2). */
static int check_env(struct cni *c)
{
	bool add = !strcmp(c->cmd, "ADD"), del = !strcmp(c->cmd, "DEL"),
	     check = !strcmp(c->cmd, "CHECK"), gc = !strcmp(c->cmd, "GC");
	c->cid = getenv("CNI_CONTAINERID");
	c->netns = getenv("CNI_NETNS");
	c->ifname = getenv("CNI_IFNAME");
	c->path = getenv("CNI_PATH");
	if (add || del || check) {
		if (!c->cid || !*c->cid)
			return cni_error(c, CNI_ERR_ENV, "missing CNI_CONTAINERID", NULL);
		if (!valid_cni_name(c->cid, CID_MAX_LEN))
			return cni_error(c, CNI_ERR_ENV, "invalid CNI_CONTAINERID",
					 "'%s': 1-%d of [A-Za-z0-9_.-], starting with a letter or digit",
					 c->cid, CID_MAX_LEN);
		if (!c->ifname || !*c->ifname)
			return cni_error(c, CNI_ERR_ENV, "missing CNI_IFNAME", NULL);
		if (!valid_ifname_str(c->ifname))
			return cni_error(c, CNI_ERR_ENV, "invalid CNI_IFNAME",
					 "'%s': an interface name of at most %d bytes", c->ifname,
					 VPCNET_IFNAME_MAX);
	}
	if (add || check) {
		if (!c->netns || !*c->netns)
			return cni_error(c, CNI_ERR_ENV, "missing CNI_NETNS", NULL);
		struct stat sb;
		if (c->netns[0] != '/' || strlen(c->netns) >= VPCNET_PATH_MAX ||
		    stat(c->netns, &sb))
			return cni_error(c, CNI_ERR_ENV, "invalid CNI_NETNS", "'%s': %s", c->netns,
					 c->netns[0] != '/' ? "not an absolute path" : strerror(errno));
	}
	if ((check || gc) && (!c->path || !*c->path))
		return cni_error(c, CNI_ERR_ENV, "missing CNI_PATH", NULL);
	return 0;
}

/* --- commands --------------------------------------------------------------------------- */

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
	char ip[16], gw[16], mac[18], cidr[24], router[VPCNET_PATH_MAX];
	copy_prev(prev, "interfaces", ifs);
	copy_prev(prev, "ips", ips);
	copy_prev(prev, "routes", routes);
	/* The router's end of the veth lives in the VPC router's namespace, not the host's. */
	snprintf(router, sizeof(router), "/run/netns/vpcnet-vpc-%s", s->vpc);
	json_array_append_new(ifs, json_pack("{s:s, s:s}", "name", s->port, "sandbox", router));
	size_t idx = json_array_size(ifs);
	json_array_append_new(ifs, json_pack("{s:s, s:s, s:s}", "name", s->ifname, "mac",
					     mac_str(s->mac, mac), "sandbox", s->netns));
	snprintf(cidr, sizeof(cidr), "%s/%u", vpcnet_addr_str(s->addr, ip), s->prefix);
	vpcnet_addr_str(s->gateway, gw);
	json_t *ipc = json_pack("{s:s, s:s, s:I}", "address", cidr, "gateway", gw, "interface",
				(json_int_t)idx);
	if (is_v04(c))
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

static int cni_add(struct cni *c)
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

static int cni_del(struct cni *c)
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

static int cni_check(struct cni *c)
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

static int cni_status(struct cni *c)
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

static int cni_gc(struct cni *c)
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
	if (vpcnet_sandbox_list(vn, NULL, gc_collect, &g, &err)) {
		ret = cni_fail(c, "cannot list attachments", &err);
		goto out;
	}
	char details[1024] = "";
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

static int cni_version(struct cni *c)
{
	/* stdin holds {"cniVersion": ...}; answer in it when we speak it, else in 1.1.0. */
	char *buf;
	size_t len;
	const char *v = "1.1.0";
	json_t *in = NULL;
	if (!slurp_stdin(&buf, &len)) {
		in = json_loadb(buf, len, 0, NULL);
		free(buf);
		const char *want = json_string_value(json_object_get(in, "cniVersion"));
		if (want && is_supported(want))
			v = want;
	}
	json_t *vs = json_array();
	for (size_t i = 0; i < sizeof(supported) / sizeof(*supported); i++)
		json_array_append_new(vs, json_string(supported[i]));
	cli_print_json(json_pack("{s:s, s:o}", "cniVersion", v, "supportedVersions", vs));
	json_decref(in);
	return 0;
}

int cni_main(void)
{
	struct cni c = { .cmd = getenv("CNI_COMMAND") };
	static const struct {
		const char *name;
		int (*run)(struct cni *);
		bool attachment;  /* works on one (CNI_CONTAINERID, CNI_IFNAME) */
	} cmds[] = {
		{ "ADD", cni_add, true }, { "DEL", cni_del, true }, { "CHECK", cni_check, true },
		{ "STATUS", cni_status, false }, { "GC", cni_gc, false },
	};
	if (!strcmp(c.cmd, "VERSION"))
		return cni_version(&c);
	size_t k;
	for (k = 0; k < sizeof(cmds) / sizeof(*cmds); k++)
		if (!strcmp(c.cmd, cmds[k].name))
			break;
	if (k == sizeof(cmds) / sizeof(*cmds))
		return cni_error(&c, CNI_ERR_ENV, "invalid CNI_COMMAND",
				 "'%s': ADD, DEL, CHECK, VERSION, STATUS or GC", c.cmd);
	int ret = parse_stdin(&c);
	if (!ret && !(ret = parse_config(&c)) && !(ret = check_env(&c)) &&
	    !(ret = parse_args(&c))) {
		if (cmds[k].attachment)
			attachment_id(&c, c.cid, c.ifname);
		ret = cmds[k].run(&c);
	}
	free(c.arg_sgs);
	json_decref(c.conf);
	return ret;
}
