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
 * 6, 7, 11, 50, 51) and vpcnet's own from 100 (cli/cni.h, docs/cni.md, vpcnet-cni(8)). */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cni.h"

static const char *const supported[] = { "0.4.0", "1.0.0", "1.1.0" };
#define STDIN_MAX (4 << 20)
#define NAME_MAX_LEN 100
#define CID_MAX_LEN 128

int cni_error(const struct cni *c, int code, const char *msg, const char *fmt, ...)
{
	char details[8192] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(details, sizeof(details), fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "vpcnet cni %s: %s%s%s\n", c->cmd ? c->cmd : "?", msg,
		details[0] ? ": " : "", details);
	/* The details may quote the environment, which need not be UTF-8: JSON must be. */
	json_t *d = json_string(details);
	if (!d) {
		for (char *p = details; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		d = json_string(details);
	}
	json_t *j = json_pack("{s:s, s:i, s:s, s:o}", "cniVersion",
			      c->version ? c->version : "1.1.0", "code", code, "msg", msg,
			      "details", d);
	cli_print_json(j);
	return 1;
}

/* A library failure as a CNI error. */
int cni_fail(const struct cni *c, const char *msg, const struct vpcnet_error *err)
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

bool cni_v04(const struct cni *c)
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
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p >= 0x7f)  /* printable ASCII */
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

/* Reads all of stdin (at most STDIN_MAX bytes) into *@out, NUL-terminated; -errno, -EFBIG
 * for more. */
static int slurp_stdin(char **out, size_t *len)
{
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n + 1 >= cap) {  /* full: room for one more byte than STDIN_MAX, to tell */
			size_t want = cap * 2 < STDIN_MAX + 2 ? cap * 2 : STDIN_MAX + 2;
			char *nb = want > cap ? realloc(buf, want) : NULL;
			if (!nb) {
				free(buf);
				return want > cap ? -ENOMEM : -EFBIG;
			}
			buf = nb;
			cap = want;
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
		if (n > STDIN_MAX) {
			free(buf);
			return -EFBIG;
		}
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
		json_t *utf8 = json_string(c->netns);  /* the result names it, in JSON */
		json_decref(utf8);
		if (!utf8)
			return cni_error(c, CNI_ERR_ENV, "invalid CNI_NETNS", "'%s': not UTF-8",
					 c->netns);
	}
	if ((check || gc) && (!c->path || !*c->path))
		return cni_error(c, CNI_ERR_ENV, "missing CNI_PATH", NULL);
	return 0;
}

/* --- commands --------------------------------------------------------------------------- */

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
