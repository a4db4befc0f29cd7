/* SPDX-License-Identifier: MIT */
/* The invariant checker (tests/invariants.h): the store, read in one read transaction, and
 * the kernel, observed with `ip -j` and `nft -j` run inside each namespace, must agree.
 *
 * What it knows of vpcnet it knows from the design, written out here again on purpose (an
 * independent observer): names (base/names.c), the transit plan and member MACs (base/addr.h),
 * the router's sets and maps (nat/tables.c router_member_elems, secgroups/compile.c
 * sg_profile_elems).  Per VPC in scope (tag):
 *   router   /run/netns/vpcnet-vpc-NAME; "transit" holds the router end of the /31, the host's
 *            vpct<id> the host end; lo the gateway; inet vpcnet_host @transits (and with NAT
 *            @egress, @masq) hold the VPC's elements
 *   member   ready: its namespace (owned at its path; adopted: the same nsfs inode), its
 *            interface with its MAC and address; port<id> in the router, in device group =
 *            its profile, its peer in the member's namespace; a /32 route via it; a permanent
 *            neighbour with its MAC; @ports, @port_src (inet and arp), @climit -> cl<limit>,
 *            @ctl_dnat for a control port, not @revoked; its profile's out<i>/in<i> jumps and
 *            sgm<g> elements.  A pool entry: all that but no element (it sends nothing)
 *   groups   each group's sets exist, and its CIDR cover has as many elements as the store
 *            recorded (sg_covers): a rule change the kernel took and the store did not shows
 *   orphans  every port, /32 route, pinned neighbour, set or map element, group set,
 *            vpcnet namespace and transit link must be some row's
 *   store    no address leased twice in a VPC (revoked rows too), none outside the subnet's
 *            leasable range, no row in flight whose owner is dead. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/invariants.h"
#include "vpcnet.h"

#define NETNS_DIR "/run/netns/"
#define NSFS_MAGIC_ 0x6e736673
#define TRANSIT_BASE_ 0xc6120000u  /* 198.18.0.0: VPC transit index i holds +2i, +2i+1 */
#define OBSERVE_TIMEOUT_MS 20000
#define OBSERVE_MAX (64u << 20)
#define SLOTS 5  /* out1..5, in1..5 */

struct own { int64_t pid, start; };

struct vrow {
	int64_t id, transit, layout;
	char name[VPCNET_NAME_MAX + 1], uplink[VPCNET_IFNAME_MAX + 1], state[12];
	uint32_t net;
	unsigned prefix;
	bool nat, scope;  /* scope: its name has the tag */
	struct own owner;
};

struct mrow {
	int64_t id, vpc_id, profile, netns_dev, netns_ino;
	char kind[12], name[VPCNET_ID_MAX + 2], netns[VPCNET_PATH_MAX], ifname[16], state[12];
	char tap[16];
	uint32_t ip;
	unsigned max_conns, control_port;
	bool owned;
	struct own owner;
};

struct prow {
	int64_t id, vpc_id, sgs[SLOTS];
	size_t n;
	bool ingress;
};

struct grp { int64_t id, vpc_id; };

/* How many elements a group's CIDR cover has, as the store recorded it (sg_covers). */
struct cover { int64_t sg_id, dir, elems; };

struct ictx {
	const char *tag, *host;
	char *rep;
	size_t cap, len;
	int n;
	struct vrow *v;
	struct mrow *m;
	struct prow *p;
	struct grp *g;
	struct cover *cv;
	size_t nv, nm, np, ng, ncv;
	char (*peers)[256];  /* namespaces our routers' ports lead to */
	size_t npeers;
};

/* What one router namespace shows. */
struct robs {
	json_t *links, *routes, *neigh, *nsids, *nft;
};

__attribute__((format(printf, 2, 3)))
static void bad(struct ictx *c, const char *fmt, ...)
{
	c->n++;
	if (c->len + 2 >= c->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(c->rep + c->len, c->cap - c->len - 1, fmt, ap);
	va_end(ap);
	if (w > 0)
		c->len += (size_t)w < c->cap - c->len - 1 ? (size_t)w : c->cap - c->len - 2;
	c->rep[c->len++] = '\n';
	c->rep[c->len] = '\0';
}

static const char *ip4(uint32_t a, char buf[16])
{
	struct in_addr in = { htonl(a) };
	return inet_ntop(AF_INET, &in, buf, 16) ? buf : "?";
}

static const char *mac_of(uint32_t ip, char buf[18])
{
	snprintf(buf, 18, "02:76:%02x:%02x:%02x:%02x", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- observing: a command inside a namespace, its stdout as JSON -------------------------- */

static void observe_child(const char *ns, char **argv, int out)
{
	int null = open("/dev/null", O_RDWR);
	if (ns) {
		int fd = open(ns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			_exit(126);
	}
	dup2(null, 0);
	dup2(out, 1);
	dup2(null, 2);
	execvp(argv[0], argv);
	_exit(127);
}

/* Reads @fd to EOF (bounded in time and size) into a malloc'd buffer. */
static char *slurp(int fd, size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap);
	int64_t end = now_ms() + OBSERVE_TIMEOUT_MS;
	*len = 0;
	while (buf) {
		int left = (int)(end - now_ms());
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, left) != 1)
			break;
		if (*len + 1 == cap) {
			char *more = cap < OBSERVE_MAX ? realloc(buf, cap * 2) : NULL;
			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + *len, cap - 1 - *len);
		if (r <= 0)
			return buf;
		*len += (size_t)r;
	}
	free(buf);
	return NULL;
}

/* Runs the NULL-terminated argv inside namespace @ns (a path; NULL: ours); its output as
 * JSON, or NULL when it failed or printed none. */
static json_t *observe(const char *ns, ...)
{
	char *argv[16];
	int argc = 0, pfd[2];
	va_list ap;
	va_start(ap, ns);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return NULL;
	pid_t pid = fork();
	if (pid == 0)
		observe_child(ns, argv, pfd[1]);
	close(pfd[1]);
	size_t len = 0;
	char *out = pid > 0 ? slurp(pfd[0], &len) : NULL;
	close(pfd[0]);
	int st = -1;
	if (pid > 0) {
		if (!out)
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	json_t *j = out && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? json_loadb(out, len, 0, NULL)
								     : NULL;
	free(out);
	return j;
}

/* --- the store, read-only ------------------------------------------------------------- */

static void copy_text(sqlite3_stmt *s, int col, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Makes room for item @n of the array *@pv (capacity 16, then doubling). */
static int grow(void *pv, size_t n, size_t size)
{
	void **v = pv;
	if (n && (n < 16 || (n & (n - 1))))
		return 0;
	void *m = realloc(*v, (n ? 2 * n : 16) * size);
	if (!m)
		return -1;
	*v = m;
	return 0;
}

static int load_vpc(struct ictx *c, sqlite3_stmt *s)
{
	if (grow(&c->v, c->nv, sizeof(*c->v)))
		return -1;
	struct vrow *v = &c->v[c->nv++];
	memset(v, 0, sizeof(*v));
	v->id = sqlite3_column_int64(s, 0);
	copy_text(s, 1, v->name, sizeof(v->name));
	v->net = (uint32_t)sqlite3_column_int64(s, 2);
	v->prefix = (unsigned)sqlite3_column_int(s, 3);
	v->nat = sqlite3_column_int(s, 4);
	copy_text(s, 5, v->uplink, sizeof(v->uplink));
	v->transit = sqlite3_column_int64(s, 6);
	copy_text(s, 7, v->state, sizeof(v->state));
	v->owner = (struct own){ sqlite3_column_int64(s, 8), sqlite3_column_int64(s, 9) };
	v->layout = sqlite3_column_int64(s, 10);
	v->scope = !c->tag || strstr(v->name, c->tag);
	return 0;
}

static int load_member(struct ictx *c, sqlite3_stmt *s)
{
	if (grow(&c->m, c->nm, sizeof(*c->m)))
		return -1;
	struct mrow *m = &c->m[c->nm++];
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(s, 0);
	copy_text(s, 1, m->kind, sizeof(m->kind));
	copy_text(s, 2, m->name, sizeof(m->name));
	m->vpc_id = sqlite3_column_int64(s, 3);
	m->ip = (uint32_t)sqlite3_column_int64(s, 4);
	copy_text(s, 5, m->netns, sizeof(m->netns));
	m->owned = sqlite3_column_int(s, 6);
	copy_text(s, 7, m->ifname, sizeof(m->ifname));
	copy_text(s, 8, m->state, sizeof(m->state));
	m->owner = (struct own){ sqlite3_column_int64(s, 9), sqlite3_column_int64(s, 10) };
	m->max_conns = (unsigned)sqlite3_column_int64(s, 11);
	copy_text(s, 12, m->tap, sizeof(m->tap));
	m->control_port = (unsigned)sqlite3_column_int64(s, 13);
	m->netns_dev = sqlite3_column_int64(s, 14);
	m->netns_ino = sqlite3_column_int64(s, 15);
	m->profile = sqlite3_column_int64(s, 16);
	return 0;
}

/* "3,7,12": a profile's groups, in slot order (ascending ids). */
static int load_profile(struct ictx *c, sqlite3_stmt *s)
{
	if (grow(&c->p, c->np, sizeof(*c->p)))
		return -1;
	struct prow *p = &c->p[c->np++];
	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(s, 0);
	p->vpc_id = sqlite3_column_int64(s, 1);
	p->ingress = sqlite3_column_int(s, 2);
	const char *t = (const char *)sqlite3_column_text(s, 3);
	for (char *end; t && *t && p->n < SLOTS; t = *end ? end + 1 : end) {
		p->sgs[p->n++] = strtoll(t, &end, 10);
		if (end == t)
			break;
	}
	return 0;
}

static int load_group(struct ictx *c, sqlite3_stmt *s)
{
	if (grow(&c->g, c->ng, sizeof(*c->g)))
		return -1;
	c->g[c->ng++] = (struct grp){ sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1) };
	return 0;
}

static int load_cover(struct ictx *c, sqlite3_stmt *s)
{
	if (grow(&c->cv, c->ncv, sizeof(*c->cv)))
		return -1;
	c->cv[c->ncv++] = (struct cover){ sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
					  sqlite3_column_int64(s, 2) };
	return 0;
}

static int query(struct ictx *c, sqlite3 *db, const char *sql,
		 int (*row)(struct ictx *, sqlite3_stmt *))
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		rc = row(c, s) ? SQLITE_NOMEM : SQLITE_OK;
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		snprintf(c->rep, c->cap, "store: %s: %s\n", sql, sqlite3_errstr(rc));
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The whole store in one read transaction: a consistent snapshot while others write. */
static int load_store(struct ictx *c, const char *dir)
{
	char uri[VPCNET_PATH_MAX * 3 + 64] = "file:", *u = uri + 5;
	for (const char *p = dir; *p && u < uri + sizeof(uri) - 40; p++)
		u += strchr("%?#", *p) ? sprintf(u, "%%%02X", (unsigned char)*p)
				       : sprintf(u, "%c", *p);
	snprintf(u, 40, "/state.db?mode=ro");
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (rc != SQLITE_OK) {
		snprintf(c->rep, c->cap, "store %s: %s\n", uri, sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 30000);
	int ret = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	if (!ret)
		ret = query(c, db, "SELECT id, name, net, prefix, nat, uplink, transit, state,"
			    " owner_pid, owner_start, layout FROM vpcs", load_vpc) ||
		      query(c, db, "SELECT id, kind, name, vpc_id, ip, netns, netns_owned, ifname,"
			    " state, owner_pid, owner_start, max_conns, tap, control_port,"
			    " netns_dev, netns_ino, profile FROM members", load_member) ||
		      query(c, db, "SELECT id, vpc_id, ingress, sgs FROM profiles", load_profile) ||
		      query(c, db, "SELECT id, vpc_id FROM sgs", load_group) ||
		      query(c, db, "SELECT sg_id, dir, elems FROM sg_covers", load_cover) ? -1 : 0;
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	return ret;
}

/* Whether a row's owner still runs: the same pid with the same start time (the store's
 * /proc/PID/stat field 22). */
static bool alive(const struct own *o)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%" PRId64 "/stat", o->pid);
	int fd = o->pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'), *save = NULL;
	int field = 2;
	for (char *t = p ? strtok_r(p + 1, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
		if (++field == 22)
			return strtoll(t, NULL, 10) == o->start;
	return false;
}

static bool is(const char *a, const char *b) { return !strcmp(a, b); }

/* In flight: created, deleted or restored by someone right now (or by someone who died at
 * it): any state but ready and revoked. */
static bool in_flight(const char *state)
{
	return !is(state, "ready") && !is(state, "revoked");
}

/* --- what ip and nft print ------------------------------------------------------------ */

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static json_t *link_named(json_t *links, const char *name)
{
	size_t i;
	json_t *l;
	json_array_foreach(links, i, l)
		if (is(str(l, "ifname"), name))
			return l;
	return NULL;
}

static bool link_has(json_t *link, uint32_t ip, unsigned len)
{
	char a[16];
	size_t i;
	json_t *x;
	ip4(ip, a);
	json_array_foreach(json_object_get(link, "addr_info"), i, x)
		if (is(str(x, "family"), "inet") && is(str(x, "local"), a) &&
		    json_integer_value(json_object_get(x, "prefixlen")) == len)
			return true;
	return false;
}

/* A link's device group ("default" is 0; -1: a name we cannot read). */
static long dev_group(json_t *link)
{
	json_t *g = json_object_get(link, "group");
	if (json_is_integer(g))
		return (long)json_integer_value(g);
	const char *s = json_string_value(g);
	if (!s || is(s, "default"))
		return 0;
	char *end;
	long v = strtol(s, &end, 10);
	return *end ? -1 : v;
}

/* The name (under /run/netns) of the namespace where @link's veth peer is, or NULL. */
static const char *peer_of(const struct robs *o, json_t *link)
{
	json_t *id = json_object_get(link, "link_netnsid"), *x;
	size_t i;
	if (!json_is_integer(id))
		return NULL;
	json_array_foreach(o->nsids, i, x)
		if (json_is_integer(json_object_get(x, "nsid")) &&
		    json_integer_value(json_object_get(x, "nsid")) == json_integer_value(id))
			return json_string_value(json_object_get(x, "name"));
	return NULL;
}

/* Set or map @name of table @family vpcnet (or @table) in `nft -j list ruleset`. */
static json_t *nft_find(json_t *rs, const char *family, const char *table, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(rs, "nftables"), i, o) {
		json_t *s = json_object_get(o, "set");
		if (!s)
			s = json_object_get(o, "map");
		if (s && is(str(s, "family"), family) && is(str(s, "table"), table) &&
		    is(str(s, "name"), name))
			return s;
	}
	return NULL;
}

/* An element's value as text: "port1", "port1 . 02:76:0a:00:00:04 . 10.0.0.4", "7",
 * "jump sg3_e" (a dynamic set's elements carry counters: {"elem": {"val": ...}}). */
static void val_str(json_t *v, char *buf, size_t n)
{
	json_t *x = json_object_get(v, "elem");
	if (x)
		v = json_object_get(x, "val");
	buf[0] = '\0';
	if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	} else if ((x = json_object_get(v, "concat"))) {
		size_t i, len = 0;
		json_t *part;
		json_array_foreach(x, i, part) {
			char p[96];
			val_str(part, p, sizeof(p));
			len += snprintf(buf + len, len < n ? n - len : 0, "%s%s", i ? " . " : "", p);
		}
	} else if ((x = json_object_get(v, "jump")) || (x = json_object_get(v, "goto"))) {
		snprintf(buf, n, "jump %s", str(x, "target"));
	} else {
		char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, n, "%s", d ? d : "?");
		free(d);
	}
}

/* Element @i of @set: its key and (a map's) value as text; false past the last. */
static bool elem_at(json_t *set, size_t i, char *key, char *val, size_t n)
{
	json_t *e = json_array_get(json_object_get(set, "elem"), i);
	if (!e)
		return false;
	val_str(json_is_array(e) ? json_array_get(e, 0) : e, key, n);
	val[0] = '\0';
	if (json_is_array(e))
		val_str(json_array_get(e, 1), val, n);
	return true;
}

/* Whether @set holds @key (mapped to @val, when not NULL). */
static bool set_has(json_t *set, const char *key, const char *val)
{
	char k[192], v[192];
	for (size_t i = 0; elem_at(set, i, k, v, sizeof(k)); i++)
		if (is(k, key) && (!val || is(v, val)))
			return true;
	return false;
}

static bool in_vpcnet(json_t *rs, const char *family, const char *set, const char *key,
		      const char *val)
{
	return set_has(nft_find(rs, family, "vpcnet", set), key, val);
}

static bool is_netns(const char *path, struct stat *st)
{
	struct statfs fs;
	return !stat(path, st) && !statfs(path, &fs) && fs.f_type == NSFS_MAGIC_;
}

/* --- the store's own invariants --------------------------------------------------------- */

static const struct vrow *vpc_id(struct ictx *c, int64_t id)
{
	for (size_t i = 0; i < c->nv; i++)
		if (c->v[i].id == id)
			return &c->v[i];
	return NULL;
}

static bool leasable(const struct vrow *v, uint32_t ip)
{
	uint32_t mask = v->prefix ? ~0u << (32 - v->prefix) : 0;
	return (ip & mask) == v->net && ip >= v->net + 4 && ip <= (v->net | ~mask) - 1;
}

/* No address twice in a VPC, revoked rows included (they hold theirs until reaped). */
static void check_leases(struct ictx *c, const struct vrow *v, size_t i)
{
	const struct mrow *m = &c->m[i];
	char a[16];
	if (!leasable(v, m->ip))
		bad(c, "VPC %s: %s %s holds %s, not a leasable address of %s/%u", v->name, m->kind,
		    m->name, ip4(m->ip, a), ip4(v->net, (char[16]){ 0 }), v->prefix);
	for (size_t j = i + 1; j < c->nm; j++)
		if (c->m[j].vpc_id == m->vpc_id && c->m[j].ip == m->ip)
			bad(c, "VPC %s: address %s leased twice: %s %s (%s) and %s %s (%s)", v->name,
			    ip4(m->ip, a), m->kind, m->name, m->state, c->m[j].kind, c->m[j].name,
			    c->m[j].state);
}

static void check_store(struct ictx *c)
{
	for (size_t i = 0; i < c->nv; i++) {
		const struct vrow *v = &c->v[i];
		if (v->scope && in_flight(v->state) && !alive(&v->owner))
			bad(c, "VPC %s: left %s by process %" PRId64 ", which is gone", v->name,
			    v->state, v->owner.pid);
	}
	for (size_t i = 0; i < c->nm; i++) {
		const struct mrow *m = &c->m[i];
		const struct vrow *v = vpc_id(c, m->vpc_id);
		if (!v) {
			bad(c, "%s %s: its VPC %" PRId64 " has no row", m->kind, m->name, m->vpc_id);
			continue;
		}
		if (!v->scope)
			continue;
		if (in_flight(m->state) && !alive(&m->owner))
			bad(c, "VPC %s: %s %s: left %s by process %" PRId64 ", which is gone", v->name,
			    m->kind, m->name, m->state, m->owner.pid);
		check_leases(c, v, i);
	}
}

/* --- the host: transit links and the host table ------------------------------------------ */

static uint32_t transit_host(const struct vrow *v) { return TRANSIT_BASE_ + 2 * (uint32_t)v->transit; }
static uint32_t transit_router(const struct vrow *v) { return transit_host(v) + 1; }

static void check_host_vpc(struct ictx *c, const struct vrow *v, json_t *links, json_t *rs)
{
	char tn[24], k[96], a[16];
	snprintf(tn, sizeof(tn), "vpct%" PRId64, v->id);
	json_t *l = link_named(links, tn);
	if (!l)
		bad(c, "VPC %s: the host has no transit link %s", v->name, tn);
	else if (!link_has(l, transit_host(v), 31))
		bad(c, "VPC %s: host link %s lacks %s/31", v->name, tn, ip4(transit_host(v), a));
	if (!set_has(nft_find(rs, "inet", "vpcnet_host", "transits"), tn, NULL))
		bad(c, "VPC %s: inet vpcnet_host @transits lacks %s", v->name, tn);
	if (!v->nat)
		return;
	snprintf(k, sizeof(k), "%s . %s", tn, v->uplink);
	if (!set_has(nft_find(rs, "inet", "vpcnet_host", "egress"), k, NULL))
		bad(c, "VPC %s: inet vpcnet_host @egress lacks %s", v->name, k);
	snprintf(k, sizeof(k), "%s . %s", ip4(transit_router(v), a), v->uplink);
	if (!set_has(nft_find(rs, "inet", "vpcnet_host", "masq"), k, NULL))
		bad(c, "VPC %s: inet vpcnet_host @masq lacks %s", v->name, k);
}

/* The VPC whose host end is @tn ("vpct<id>"), or NULL. */
static const struct vrow *vpc_of_transit(struct ictx *c, const char *tn)
{
	char *end;
	if (strncmp(tn, "vpct", 4) || tn[4] < '1' || tn[4] > '9')
		return NULL;
	long long id = strtoll(tn + 4, &end, 10);
	return *end ? NULL : vpc_id(c, id);
}

/* Is @key of host set @set some VPC's?  transits: vpct<id>; egress: vpct<id> . uplink
 * (NAT only); masq: router transit address . uplink (NAT only). */
static bool host_elem_owned(struct ictx *c, const char *set, const char *key)
{
	char k[96], a[16];
	for (size_t i = 0; i < c->nv; i++) {
		const struct vrow *v = &c->v[i];
		if (is(set, "transits"))
			snprintf(k, sizeof(k), "vpct%" PRId64, v->id);
		else if (is(set, "egress"))
			snprintf(k, sizeof(k), "vpct%" PRId64 " . %s", v->id, v->uplink);
		else
			snprintf(k, sizeof(k), "%s . %s", ip4(transit_router(v), a), v->uplink);
		if (is(k, key) && (v->nat || is(set, "transits")))
			return true;
	}
	return false;
}

/* What no VPC row accounts for in the host: transit links and host table elements. */
static void host_orphans(struct ictx *c, json_t *links, json_t *rs)
{
	size_t i;
	json_t *l;
	json_array_foreach(links, i, l) {
		const char *name = str(l, "ifname");
		if (!strncmp(name, "vpct", 4) && !vpc_of_transit(c, name))
			bad(c, "host: transit link %s: no VPC row owns it", name);
	}
	static const char *const sets[] = { "transits", "egress", "masq" };
	for (size_t s = 0; s < 3; s++) {
		json_t *set = nft_find(rs, "inet", "vpcnet_host", sets[s]);
		char k[192], v[192];
		for (size_t e = 0; elem_at(set, e, k, v, sizeof(k)); e++)
			if (!host_elem_owned(c, sets[s], k))
				bad(c, "host: inet vpcnet_host @%s holds %s: no VPC accounts for it",
				    sets[s], k);
	}
}

static void check_host(struct ictx *c)
{
	char path[VPCNET_PATH_MAX];
	snprintf(path, sizeof(path), NETNS_DIR "%s", c->host ? c->host : "");
	json_t *links = observe(c->host ? path : NULL, "ip", "-j", "addr", "show", NULL);
	json_t *rs = observe(c->host ? path : NULL, "nft", "-j", "list", "ruleset", NULL);
	if (!links || !rs) {
		bad(c, "host: cannot observe it (ip: %s, nft: %s)", links ? "ok" : "failed",
		    rs ? "ok" : "failed");
		goto out;
	}
	for (size_t i = 0; i < c->nv; i++)
		if (c->v[i].scope && is(c->v[i].state, "ready"))
			check_host_vpc(c, &c->v[i], links, rs);
	/* Another store's VPCs may share the real host: orphans only in a host of our own. */
	if (c->host || !c->tag)
		host_orphans(c, links, rs);
out:
	json_decref(links);
	json_decref(rs);
}

/* --- a member: its namespace, its port, its elements, its profile -------------------------- */

static void check_member_ns(struct ictx *c, const struct vrow *v, const struct mrow *m,
			    const char *who)
{
	struct stat st;
	char mac[18], a[16];
	if (!is_netns(m->netns, &st)) {
		bad(c, "%s: its namespace %s is missing", who, m->netns);
		return;
	}
	if (!m->owned && m->netns_ino && ((int64_t)st.st_dev != m->netns_dev ||
					  (int64_t)st.st_ino != m->netns_ino)) {
		bad(c, "%s: %s is no longer the namespace it adopted", who, m->netns);
		return;
	}
	json_t *links = observe(m->netns, "ip", "-j", "addr", "show", NULL);
	json_t *l = link_named(links, m->ifname);
	if (!links)
		bad(c, "%s: cannot observe its namespace %s", who, m->netns);
	else if (!l)
		bad(c, "%s: no interface %s in its namespace", who, m->ifname);
	else if (!is(str(l, "address"), mac_of(m->ip, mac)))
		bad(c, "%s: its %s has MAC %s, not %s", who, m->ifname, str(l, "address"), mac);
	else if (!m->tap[0] && !link_has(l, m->ip, v->prefix))
		bad(c, "%s: its %s lacks %s/%u", who, m->ifname, ip4(m->ip, a), v->prefix);
	json_decref(links);
}

static bool has_route(json_t *routes, uint32_t ip, const char *dev)
{
	char a[16], a32[24];
	size_t i;
	json_t *r;
	snprintf(a32, sizeof(a32), "%s/32", ip4(ip, a));
	json_array_foreach(routes, i, r)
		if ((is(str(r, "dst"), a) || is(str(r, "dst"), a32)) && is(str(r, "dev"), dev) &&
		    !json_object_get(r, "gateway"))
			return true;
	return false;
}

static bool permanent(json_t *n)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(n, "state"), i, s)
		if (is(json_string_value(s) ? json_string_value(s) : "", "PERMANENT"))
			return true;
	return false;
}

/* Its port in the router: in its profile's device group, its peer in its namespace, a /32
 * route and a pinned neighbour through it. */
static void check_port(struct ictx *c, const struct mrow *m, const struct robs *o,
		       const char *who, const char *port)
{
	char a[16], mac[18];
	json_t *l = link_named(o->links, port), *n;
	if (!l) {
		bad(c, "%s: router port %s is missing", who, port);
		return;
	}
	long g = dev_group(l);
	if (g != m->profile)
		bad(c, "%s: port %s is in device group %ld, not in its profile %" PRId64, who, port,
		    g, m->profile);
	const char *peer = peer_of(o, l);
	size_t dl = strlen(NETNS_DIR);
	if (peer && !strncmp(m->netns, NETNS_DIR, dl) && !is(peer, m->netns + dl))
		bad(c, "%s: port %s leads to namespace %s, not to %s", who, port, peer, m->netns);
	if (!has_route(o->routes, m->ip, port))
		bad(c, "%s: the router has no /32 route to %s via %s", who, ip4(m->ip, a), port);
	size_t i;
	bool pinned = false;
	mac_of(m->ip, mac);
	json_array_foreach(o->neigh, i, n)
		pinned |= is(str(n, "dst"), ip4(m->ip, a)) && is(str(n, "dev"), port) &&
			  permanent(n) && is(str(n, "lladdr"), mac);
	if (!pinned)
		bad(c, "%s: no permanent neighbour %s lladdr %s on %s", who, ip4(m->ip, a), mac,
		    port);
}

/* Its elements (nat/tables.c router_member_elems): @ports, @port_src in inet and arp,
 * @climit -> cl<limit>, and @ctl_dnat for a control port; none for a pool entry, which
 * sends nothing until a create takes it. */
static void check_elems(struct ictx *c, const struct vrow *v, const struct mrow *m, json_t *rs,
			const char *who, const char *port)
{
	char src[96], mac[18], a[16], cl[32];
	snprintf(src, sizeof(src), "%s . %s . %s", port, mac_of(m->ip, mac), ip4(m->ip, a));
	snprintf(cl, sizeof(cl), "jump cl%u", m->max_conns);
	const struct { const char *fam, *set, *key, *val; } want[] = {
		{ "inet", "ports", port, NULL }, { "inet", "port_src", src, NULL },
		{ "arp", "port_src", src, NULL }, { "inet", "climit", port, cl },
	};
	bool pool = is(m->kind, "pool");
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		bool has = in_vpcnet(rs, want[i].fam, want[i].set, want[i].key, NULL);
		if (pool && has)
			bad(c, "%s: %s vpcnet @%s holds the pool entry's %s", who, want[i].fam,
			    want[i].set, want[i].key);
		else if (!pool && !has)
			bad(c, "%s: %s vpcnet @%s lacks %s", who, want[i].fam, want[i].set, want[i].key);
		else if (!pool && want[i].val &&
			 !in_vpcnet(rs, want[i].fam, want[i].set, want[i].key, want[i].val))
			bad(c, "%s: %s vpcnet @%s maps %s elsewhere than %s", who, want[i].fam,
			    want[i].set, want[i].key, want[i].val);
	}
	if (in_vpcnet(rs, "inet", "revoked", port, NULL) || in_vpcnet(rs, "arp", "revoked", port, NULL))
		bad(c, "%s: ready, but its port %s is in @revoked", who, port);
	if (!m->control_port)
		return;
	char k[16], val[48];
	snprintf(k, sizeof(k), "%u", (unsigned)(m->ip - v->net));
	snprintf(val, sizeof(val), "%s . %u", a, m->control_port);
	if (!in_vpcnet(rs, "inet", "ctl_dnat", k, val))
		bad(c, "%s: inet vpcnet @ctl_dnat lacks %s : %s", who, k, val);
}

static const struct prow *profile_of(struct ictx *c, int64_t id, int64_t vpc)
{
	for (size_t i = 0; i < c->np; i++)
		if (c->p[i].id == id && c->p[i].vpc_id == vpc)
			return &c->p[i];
	return NULL;
}

/* Its profile's elements (secgroups/compile.c sg_profile_elems): slot i of out<i+1> (and of
 * in<i+1> for an instance's profile) jumps to group sgs[i]'s chain; sgm<g> holds it. */
static void check_profile(struct ictx *c, const struct vrow *v, const struct mrow *m,
			  json_t *rs, const char *who)
{
	const struct prow *p = profile_of(c, m->profile, v->id);
	if (!p) {
		bad(c, "%s: its membership profile %" PRId64 " has no row", who, m->profile);
		return;
	}
	if (p->ingress != is(m->kind, "instance"))
		bad(c, "%s: in profile %" PRId64 ", which is %s", who, p->id,
		    p->ingress ? "an instance's (ingress)" : "a sandbox's (no ingress)");
	char key[24], map[16], val[48], set[32];
	snprintf(key, sizeof(key), "%" PRId64, p->id);
	for (size_t i = 0; i < p->n; i++) {
		for (int d = 0; d <= (int)p->ingress; d++) {
			snprintf(map, sizeof(map), "%s%zu", d ? "in" : "out", i + 1);
			snprintf(val, sizeof(val), "jump sg%" PRId64 "_%s", p->sgs[i], d ? "i" : "e");
			if (!in_vpcnet(rs, "inet", map, key, val))
				bad(c, "%s: inet vpcnet @%s lacks %s : %s (its profile)", who, map, key,
				    val);
		}
		snprintf(set, sizeof(set), "sgm%" PRId64, p->sgs[i]);
		if (!in_vpcnet(rs, "inet", set, key, NULL))
			bad(c, "%s: inet vpcnet @%s lacks its profile %s", who, set, key);
	}
}

/* A revoked row (deleted, not reaped yet) owns what vpc_reap (lib/member.c) will delete:
 * its elements in @ports, @port_src (inet, arp), @climit, @ctl_dnat, its refusal counters
 * and its @revoked entry, all or some of them; its port while its namespace lingers (held
 * by someone: gc takes ports whose row is gone), with the /32 route and neighbour that go
 * with it; its address (leased until reaped); its profile's row.  Never a namespace of its
 * own (removed before the row became revoked), and what of it may still send must be in
 * @revoked: its port (link or @ports) and, in arp, its @port_src. */
static void check_revoked(struct ictx *c, const struct mrow *m, const struct robs *o,
			  const char *who, const char *port)
{
	json_t *rs = o->nft;
	if ((link_named(o->links, port) || in_vpcnet(rs, "inet", "ports", port, NULL)) &&
	    !in_vpcnet(rs, "inet", "revoked", port, NULL))
		bad(c, "%s: deleted, its port %s remains, not in inet @revoked", who, port);
	char src[96], mac[18], a[16];
	snprintf(src, sizeof(src), "%s . %s . %s", port, mac_of(m->ip, mac), ip4(m->ip, a));
	if (in_vpcnet(rs, "arp", "port_src", src, NULL) && !in_vpcnet(rs, "arp", "revoked", port, NULL))
		bad(c, "%s: deleted, arp @port_src holds %s, not in arp @revoked", who, port);
}

static void check_member(struct ictx *c, const struct vrow *v, const struct mrow *m,
			 const struct robs *o)
{
	char who[192], port[24];
	snprintf(who, sizeof(who), "VPC %s: %s %s", v->name, m->kind, m->name);
	snprintf(port, sizeof(port), "port%" PRId64, m->id);
	if (is(m->state, "revoked")) {
		check_revoked(c, m, o, who, port);
		return;
	}
	if (!is(m->state, "ready"))
		return;  /* in flight: its owner's; when its owner is gone, check_store says so */
	check_member_ns(c, v, m, who);
	check_port(c, m, o, who, port);
	if (v->layout < 6)
		return;  /* an older router's sets (it can only be deleted): not checked */
	check_elems(c, v, m, o->nft, who, port);
	if (is(m->kind, "pool"))
		return;
	if (!m->profile)
		bad(c, "%s: in no membership profile (no group, not even 'default')", who);
	else
		check_profile(c, v, m, o->nft, who);
}

/* --- orphans in a router --------------------------------------------------------------- */

/* The row (any state) of VPC @v whose port is @port ("port<id>"), or NULL. */
static const struct mrow *row_of_port(struct ictx *c, const struct vrow *v, const char *port)
{
	char *end;
	if (strncmp(port, "port", 4) || port[4] < '1' || port[4] > '9')
		return NULL;
	long long id = strtoll(port + 4, &end, 10);
	for (size_t i = 0; !*end && i < c->nm; i++)
		if (c->m[i].id == id && c->m[i].vpc_id == v->id)
			return &c->m[i];
	return NULL;
}

/* Links, /32 routes and pinned neighbours through ports that no row owns, or not for its
 * address; links a router should not have. */
static void router_orphans_net(struct ictx *c, const struct vrow *v, const struct robs *o)
{
	size_t i;
	json_t *x;
	char a[16], mac[18];
	json_array_foreach(o->links, i, x) {
		const char *name = str(x, "ifname");
		if (is(name, "lo") || is(name, "transit"))
			continue;
		if (!row_of_port(c, v, name))
			bad(c, "VPC %s: router link %s: no row owns it", v->name, name);
	}
	json_array_foreach(o->routes, i, x) {
		const char *dev = str(x, "dev");
		const struct mrow *m = row_of_port(c, v, dev);
		uint32_t ip = 0;
		struct in_addr in;
		char dst[24];
		snprintf(dst, sizeof(dst), "%s", str(x, "dst"));
		if (strchr(dst, '/') && !strcmp(strchr(dst, '/'), "/32"))
			*strchr(dst, '/') = '\0';
		if (inet_pton(AF_INET, dst, &in) == 1)
			ip = ntohl(in.s_addr);
		if (!strncmp(dev, "port", 4) && (!m || !ip || ip != m->ip))
			bad(c, "VPC %s: route %s via %s: %s", v->name, str(x, "dst"), dev,
			    m ? "not its member's address" : "no row owns the port");
	}
	json_array_foreach(o->neigh, i, x) {
		const char *dev = str(x, "dev");
		const struct mrow *m = row_of_port(c, v, dev);
		if (strncmp(dev, "port", 4) || !permanent(x))
			continue;
		if (!m || !is(str(x, "dst"), ip4(m->ip, a)) ||
		    !is(str(x, "lladdr"), mac_of(m->ip, mac)))
			bad(c, "VPC %s: neighbour %s lladdr %s on %s: %s", v->name, str(x, "dst"),
			    str(x, "lladdr"), dev, m ? "not its member's" : "no row owns the port");
	}
}

/* Elements keyed by port (and @port_src's address: never one address for two ports). */
static void orphan_port_elems(struct ictx *c, const struct vrow *v, json_t *set,
			      const char *fam, const char *name)
{
	char k[192], val[192], want[96], mac[18], a[16];
	bool src = is(name, "port_src");
	for (size_t i = 0; elem_at(set, i, k, val, sizeof(k)); i++) {
		char port[24];
		snprintf(port, sizeof(port), "%.*s", (int)strcspn(k, " "), k);
		const struct mrow *m = row_of_port(c, v, port);
		if (!m) {
			bad(c, "VPC %s: %s vpcnet @%s holds %s: no row owns %s", v->name, fam, name, k,
			    port);
			continue;
		}
		snprintf(want, sizeof(want), "%s . %s . %s", port, mac_of(m->ip, mac), ip4(m->ip, a));
		if (src && !is(k, want))
			bad(c, "VPC %s: %s vpcnet @port_src holds %s, not %s", v->name, fam, k, want);
		char k2[192], v2[192];
		const char *addr = strrchr(k, ' ');
		for (size_t j = i + 1; src && addr && elem_at(set, j, k2, v2, sizeof(k2)); j++)
			if (strrchr(k2, ' ') && is(strrchr(k2, ' '), addr) && strncmp(k2, k, strlen(port) + 1))
				bad(c, "VPC %s: %s vpcnet @port_src holds address%s twice: %s and %s",
				    v->name, fam, addr, k, k2);
	}
}

/* out<slot>/in<slot>: a profile of this VPC with a group in that slot jumps to its chain. */
static void orphan_profile_elems(struct ictx *c, const struct vrow *v, json_t *set,
				 const char *name, bool in, size_t slot)
{
	char k[192], val[192], want[48];
	for (size_t i = 0; elem_at(set, i, k, val, sizeof(k)); i++) {
		const struct prow *p = profile_of(c, strtoll(k, NULL, 10), v->id);
		if (p && slot >= 1 && slot <= p->n && (!in || p->ingress))
			snprintf(want, sizeof(want), "jump sg%" PRId64 "_%s", p->sgs[slot - 1],
				 in ? "i" : "e");
		else
			snprintf(want, sizeof(want), "(nothing)");
		if (!is(val, want))
			bad(c, "VPC %s: inet vpcnet @%s holds %s : %s, where its profiles want %s",
			    v->name, name, k, val, want);
	}
}

static bool group_of(struct ictx *c, const struct vrow *v, int64_t g)
{
	for (size_t i = 0; i < c->ng; i++)
		if (c->g[i].id == g && c->g[i].vpc_id == v->id)
			return true;
	return false;
}

/* sgm<g>: the profiles of this VPC that have group g. */
static void orphan_sgm(struct ictx *c, const struct vrow *v, json_t *set, int64_t g)
{
	char k[192], val[192];
	for (size_t i = 0; elem_at(set, i, k, val, sizeof(k)); i++) {
		const struct prow *p = profile_of(c, strtoll(k, NULL, 10), v->id);
		bool has = false;
		for (size_t s = 0; p && s < p->n; s++)
			has |= p->sgs[s] == g;
		if (!has)
			bad(c, "VPC %s: inet vpcnet @sgm%" PRId64 " holds %s: no profile of group %"
			    PRId64 " has that id", v->name, g, k, g);
	}
}

/* @ctl_dnat: host port (the address's offset) -> address . control port of a member. */
static void orphan_ctl(struct ictx *c, const struct vrow *v, json_t *set)
{
	char k[192], val[192], want[48], a[16];
	for (size_t i = 0; elem_at(set, i, k, val, sizeof(k)); i++) {
		uint32_t ip = v->net + (uint32_t)strtoul(k, NULL, 10);
		bool owned = false;
		for (size_t j = 0; j < c->nm && !owned; j++) {
			const struct mrow *m = &c->m[j];
			snprintf(want, sizeof(want), "%s . %u", ip4(ip, a), m->control_port);
			owned = m->vpc_id == v->id && m->ip == ip && m->control_port && is(val, want);
		}
		if (!owned)
			bad(c, "VPC %s: inet vpcnet @ctl_dnat holds %s : %s: no member has that control"
			    " port", v->name, k, val);
	}
}

/* "<prefix><digits><rest>": the number, with *@rest after it; -1 when not so. */
static int64_t numbered(const char *name, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);
	char *end;
	if (strncmp(name, prefix, n) || name[n] < '0' || name[n] > '9')
		return -1;
	long long v = strtoll(name + n, &end, 10);
	*rest = end;
	return v;
}

/* Every element of every set and map in the router's tables, by what keys it. */
static void router_orphans_nft(struct ictx *c, const struct vrow *v, json_t *rs)
{
	static const char *const by_port[] = { "ports", "port_src", "climit", "revoked",
					       "drops_spoof", "drops_in", "drops_out" };
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(rs, "nftables"), i, o) {
		json_t *set = json_object_get(o, "set");
		if (!set)
			set = json_object_get(o, "map");
		const char *fam = str(set, "family"), *name = str(set, "name"), *rest = "";
		if (!set || !is(str(set, "table"), "vpcnet"))
			continue;
		bool port_keyed = false;
		for (size_t k = 0; k < sizeof(by_port) / sizeof(*by_port); k++)
			port_keyed |= is(name, by_port[k]);
		int64_t n;
		if (port_keyed || ((n = numbered(name, "cl", &rest)) >= 0 && !*rest))
			orphan_port_elems(c, v, set, fam, name);
		else if ((n = numbered(name, "out", &rest)) >= 0 && !*rest)
			orphan_profile_elems(c, v, set, name, false, (size_t)n);
		else if ((n = numbered(name, "in", &rest)) >= 0 && !*rest)
			orphan_profile_elems(c, v, set, name, true, (size_t)n);
		else if (is(name, "ctl_dnat"))
			orphan_ctl(c, v, set);
		else if ((n = numbered(name, "sgm", &rest)) >= 0 && !*rest && group_of(c, v, n))
			orphan_sgm(c, v, set, n);
		else if (((n = numbered(name, "sgm", &rest)) >= 0 && !*rest) ||
			 ((n = numbered(name, "sg", &rest)) >= 0 && *rest == '_'))
			if (!group_of(c, v, n))
				bad(c, "VPC %s: inet vpcnet set %s: group %" PRId64 " is not one of its",
				    v->name, name, n);
	}
}

static size_t elem_count(json_t *rs, const char *set)
{
	return json_array_size(json_object_get(nft_find(rs, "inet", "vpcnet", set), "elem"));
}

/* Each group's CIDR rules as the store has them: its cover (secgroups/compile.h: the
 * disjoint boxes of the rules' union, single points in sg<g>_<d>x, the rest in sg<g>_<d>)
 * has as many elements as the store recorded (sg_covers).  The boxes themselves are the
 * compiler's: only their number is checked here. */
static void check_covers(struct ictx *c, const struct vrow *v, json_t *rs)
{
	for (size_t i = 0; i < c->ncv; i++) {
		const struct cover *cv = &c->cv[i];
		char set[48], exact[48];
		if (!group_of(c, v, cv->sg_id) || cv->elems < 0)
			continue;
		const char *d = cv->dir ? "i" : "e";
		snprintf(set, sizeof(set), "sg%" PRId64 "_%s", cv->sg_id, d);
		snprintf(exact, sizeof(exact), "sg%" PRId64 "_%sx", cv->sg_id, d);
		size_t n = elem_count(rs, set) + elem_count(rs, exact);
		if (!nft_find(rs, "inet", "vpcnet", set))
			bad(c, "VPC %s: group %" PRId64 " has no set %s", v->name, cv->sg_id, set);
		else if ((int64_t)n != cv->elems)
			bad(c, "VPC %s: group %" PRId64 "'s %s rules: %zu elements in @%s and @%s, the"
			    " store's cover has %" PRId64, v->name, cv->sg_id,
			    cv->dir ? "ingress" : "egress", n, set, exact, cv->elems);
	}
}

/* --- a VPC -------------------------------------------------------------------------- */

static void robs_free(struct robs *o)
{
	json_decref(o->links);
	json_decref(o->routes);
	json_decref(o->neigh);
	json_decref(o->nsids);
	json_decref(o->nft);
}

/* Remembers the namespaces that the router's ports lead to (a pool namespace carries no
 * tag: it is ours if one of our routers leads to it). */
static void note_peers(struct ictx *c, const struct robs *o)
{
	size_t i;
	json_t *l;
	json_array_foreach(o->links, i, l) {
		const char *peer = peer_of(o, l);
		if (!peer || grow(&c->peers, c->npeers, sizeof(*c->peers)))
			continue;
		snprintf(c->peers[c->npeers++], sizeof(*c->peers), "%s", peer);
	}
}

/* The router: its namespace, transit end and gateway, a NAT VPC's default route. */
static void check_router_base(struct ictx *c, const struct vrow *v, const struct robs *o)
{
	char a[16];
	json_t *t = link_named(o->links, "transit"), *lo = link_named(o->links, "lo"), *r;
	if (!t)
		bad(c, "VPC %s: no transit link in its router", v->name);
	else if (!link_has(t, transit_router(v), 31))
		bad(c, "VPC %s: the router's transit lacks %s/31", v->name,
		    ip4(transit_router(v), a));
	if (!lo || !link_has(lo, v->net + 1, 32))
		bad(c, "VPC %s: the router's lo lacks the gateway %s/32", v->name, ip4(v->net + 1, a));
	bool dflt = false;
	size_t i;
	json_array_foreach(o->routes, i, r)
		dflt |= is(str(r, "dst"), "default") &&
			is(str(r, "gateway"), ip4(transit_host(v), a)) && is(str(r, "dev"), "transit");
	if (v->nat != dflt)
		bad(c, "VPC %s: %s", v->name, v->nat ? "NAT, but no default route via the host"
						     : "no NAT, but a default route");
}

static void check_vpc(struct ictx *c, const struct vrow *v)
{
	char path[VPCNET_PATH_MAX];
	struct stat st;
	struct robs o = { 0 };
	if (!is(v->state, "ready"))
		return;  /* in flight: its owner's (check_store tells when the owner is gone) */
	snprintf(path, sizeof(path), NETNS_DIR "vpcnet-vpc-%s", v->name);
	if (!is_netns(path, &st)) {
		bad(c, "VPC %s: its router namespace %s is missing", v->name, path);
		return;
	}
	o.links = observe(path, "ip", "-j", "addr", "show", NULL);
	o.routes = observe(path, "ip", "-j", "route", "show", NULL);
	o.neigh = observe(path, "ip", "-j", "neigh", "show", NULL);
	o.nsids = observe(path, "ip", "-j", "netns", "list-id", NULL);
	o.nft = observe(path, "nft", "-j", "list", "ruleset", NULL);
	if (!o.links || !o.routes || !o.neigh || !o.nft) {
		bad(c, "VPC %s: cannot observe its router (ip or nft failed)", v->name);
		goto out;
	}
	check_router_base(c, v, &o);
	for (size_t i = 0; i < c->nm; i++)
		if (c->m[i].vpc_id == v->id)
			check_member(c, v, &c->m[i], &o);
	router_orphans_net(c, v, &o);
	if (v->layout >= 6) {
		router_orphans_nft(c, v, o.nft);
		check_covers(c, v, o.nft);
	}
	note_peers(c, &o);
out:
	robs_free(&o);
}

/* --- namespaces ------------------------------------------------------------------------ */

/* Whether a row accounts for namespace @name: a VPC's router, a member's (not a revoked
 * one's: its own namespace was removed before it was revoked; another may have its name). */
static bool ns_owned(struct ictx *c, const char *name)
{
	char path[VPCNET_PATH_MAX];
	snprintf(path, sizeof(path), NETNS_DIR "%s", name);
	for (size_t i = 0; i < c->nv; i++)
		if (!strncmp(name, "vpcnet-vpc-", 11) && is(name + 11, c->v[i].name))
			return true;
	for (size_t i = 0; i < c->nm; i++)
		if (!is(c->m[i].state, "revoked") && is(c->m[i].netns, path))
			return true;
	return false;
}

/* vpcnet's namespaces (with the tag) that no row accounts for.  A pool namespace's name
 * carries no tag: with a tag it counts when one of our routers' ports leads to it (one that
 * leads nowhere cannot be told from another store's). */
static void orphan_namespaces(struct ictx *c)
{
	static const char *const kinds[] = { "vpcnet-vpc-", "vpcnet-sbx-", "vpcnet-ins-",
					     "vpcnet-pool-" };
	DIR *d = opendir(NETNS_DIR);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		bool ours = false, pool = !strncmp(e->d_name, kinds[3], strlen(kinds[3]));
		for (size_t k = 0; k < 3; k++)
			ours |= !strncmp(e->d_name, kinds[k], strlen(kinds[k])) &&
				(!c->tag || strstr(e->d_name + strlen(kinds[k]), c->tag));
		for (size_t p = 0; pool && p < c->npeers; p++)
			ours |= is(c->peers[p], e->d_name);
		if ((ours || (pool && !c->tag)) && !ns_owned(c, e->d_name))
			bad(c, "namespace %s: no row owns it", e->d_name);
	}
	if (d)
		closedir(d);
}

int invariants_check(const char *state_dir, const char *host_netns, const char *tag,
		     char *report, size_t n)
{
	struct ictx c = { .tag = tag, .host = host_netns, .rep = report, .cap = n };
	if (!n)
		return -1;
	report[0] = '\0';
	int ret = -1;
	if (load_store(&c, state_dir))
		goto out;
	check_store(&c);
	check_host(&c);
	for (size_t i = 0; i < c.nv; i++)
		if (c.v[i].scope)
			check_vpc(&c, &c.v[i]);
	orphan_namespaces(&c);
	ret = c.n;
out:
	free(c.v);
	free(c.m);
	free(c.p);
	free(c.g);
	free(c.cv);
	free(c.peers);
	return ret;
}
