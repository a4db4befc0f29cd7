/* SPDX-License-Identifier: MIT */
/* The store's rows as read back: a hostile or corrupt database must not crash the reader.
 *
 * Each input starts from the same database (the real schema, made by store_open(), with a
 * VPC, members of each kind, groups, rules, references, covers and profiles in it) and
 * changes it, by its first byte:
 *   'S'  the rest is SQL, run on the database (no ATTACH, views, triggers or pragmas but
 *        user_version; a step budget),
 *   'C'  the rest is (2-byte offset, byte) pairs written over the database file,
 *   else ops: a byte (table; high bit: UPDATE one column of a row, else INSERT OR REPLACE a
 *        whole row) then typed values (fuzz/README.md).
 * Then it reads everything back as vpcnet does: every store reader, and what the code does
 * with the rows: subnet arithmetic, the rule compiler, the functions that format rows for
 * the public API (vpc_to_public(), and lib/sandbox.c's static sandbox_to_public(), compiled
 * in).  Not the public list and get calls themselves: they also look at the kernel (is a
 * router, a namespace, a port gone?), at paths taken from the rows.  A row that comes back
 * must be one that vpcnet could have written: its values in range, its names whole (a
 * listed name finds the same row again); any other must be refused with an error. */
#include "lib/sandbox.c"  /* for its static sandbox_to_public() */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "base/addr.h"
#include "lib/internal.h"
#include "base/names.h"
#include "lib/store.h"
#include "secgroups/compile.h"

static const char *state_dir;
static char db_path[256];
static uint8_t *tmpl;
static size_t tmpl_len;

static const char baseline[] =
	"INSERT INTO vpcs VALUES (1, 'prod', 167772160, 16, 1, 'eth0', 0, 'ready', 0, 0, 0, 0, 6);"
	"INSERT INTO vpcs VALUES (2, 'dev', 2887712768, 28, 0, '', 1, 'creating', 1, 2, 3, 0, 6);"
	"INSERT INTO members VALUES (1, 'sandbox', 'fn-1', 1, 167772164,"
	" '/run/netns/vpcnet-sbx-fn-1', 1, 'eth0', 'ready', 0, 0, 0, 0, 1024, '', 0, '', 0, 0, 1);"
	"INSERT INTO members VALUES (2, 'instance', 'db', 1, 167772165, '/run/netns/vpcnet-ins-db',"
	" 1, 'eth0', 'ready', 0, 0, 0, 0, 1024, '', 0, '', 0, 0, 2);"
	"INSERT INTO members VALUES (3, 'pool', 'pool-abc', 1, 167772166,"
	" '/run/netns/vpcnet-pool-abc', 1, 'eth0', 'ready', 0, 0, 0, 0, 1024, '', 0, '', 0, 0, 0);"
	"INSERT INTO members VALUES (4, 'sandbox', '#4', 1, 167772167, '/run/netns/vpcnet-sbx-x',"
	" 1, 'eth0', 'revoked', 0, 0, 0, 0, 1024, '', 0, '', 0, 0, 1);"
	"INSERT INTO members VALUES (5, 'sandbox', 'cni-c0ffee-0123456789abcdef', 2, 2887712772,"
	" '/proc/1/ns/net', 0, 'net1', 'creating', 9, 8, 7, 0, 10, 'tap0', 8080,"
	" 'cni:net/c0ffee/net1', 4, 4026531840, 3);"
	"INSERT INTO sgs VALUES (1, 1, 'default', '');"
	"INSERT INTO sgs VALUES (2, 1, 'web', 'web servers');"
	"INSERT INTO sgs VALUES (3, 2, 'default', '');"
	"INSERT INTO sg_rules VALUES (1, 1, 0, 0, 0, 65535, 0, 0, 0);"
	"INSERT INTO sg_rules VALUES (2, 1, 1, 0, 0, 65535, 1, 0, 0);"
	"INSERT INTO sg_rules VALUES (3, 2, 0, 6, 443, 443, 0, 3325256704, 24);"
	"INSERT INTO sg_rules VALUES (4, 2, 1, 17, 53, 54, 1, 0, 0);"
	"INSERT INTO sg_rules VALUES (5, 3, 0, 1, 0, 65535, 0, 167772161, 32);"
	"INSERT INTO member_sgs VALUES (1, 1, 0), (1, 2, 1), (2, 2, 0), (5, 3, 0);"
	"INSERT INTO sg_refs VALUES (1, 1, 1), (2, 1, 1);"
	"INSERT INTO sg_covers VALUES (1, 0, 1), (2, 0, 1);"
	"INSERT INTO profiles VALUES (1, 1, 0, '1,2'), (2, 1, 1, '2'), (3, 2, 0, '3');";

/* --- the database --------------------------------------------------------------------- */

static const struct table {
	const char *name;
	const char *cols[20];
} tables[] = {
	{ "vpcs", { "id", "name", "net", "prefix", "nat", "uplink", "transit", "state", "owner_pid",
		    "owner_start", "owner_nonce", "created", "layout" } },
	{ "members", { "id", "kind", "name", "vpc_id", "ip", "netns", "netns_owned", "ifname",
		       "state", "owner_pid", "owner_start", "owner_nonce", "created", "max_conns",
		       "tap", "control_port", "origin", "netns_dev", "netns_ino", "profile" } },
	{ "sgs", { "id", "vpc_id", "name", "description" } },
	{ "sg_rules", { "id", "sg_id", "dir", "proto", "port_lo", "port_hi", "to_sg", "net",
			"len" } },
	{ "member_sgs", { "member_id", "sg_id", "slot" } },
	{ "sg_refs", { "sg_id", "dir", "ref_id" } },
	{ "sg_covers", { "sg_id", "dir", "elems" } },
	{ "profiles", { "id", "vpc_id", "ingress", "sgs" } },
};
#define NTABLES (sizeof(tables) / sizeof(*tables))

static size_t ncols(const struct table *t)
{
	size_t n = 0;
	while (n < 20 && t->cols[n])
		n++;
	return n;
}

static const int64_t ints[] = {
	0, 1, -1, 2, 3, 5, 6, 16, 17, 28, 32, 33, 99, 255, 256, 65535, 65536, 1000000, 1000001,
	4294967295LL, 4294967296LL, 167772160, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN,
	65536 + 80, -65536,
};
static const char *const texts[] = {
	"ready", "creating", "deleting", "revoked", "broken", "sandbox", "instance", "pool",
	"prod", "default", "web", "fn-1", "eth0", "1,2", "1,2,3,4,5,6", "0", "-1", "a,b", "",
	"/run/netns/vpcnet-sbx-fn-1", "readyreadyready", "cni:net/c0ffee/net1",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

struct reader {
	const uint8_t *p, *end;
};

static bool get(struct reader *r, void *out, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return false;
	memcpy(out, r->p, n);
	r->p += n;
	return true;
}

/* One typed value from the input, bound to parameter @i of @s. */
static bool bind_value(struct reader *r, sqlite3_stmt *s, int i)
{
	uint8_t type, b;
	int64_t v;
	double d;
	if (!get(r, &type, 1))
		return false;
	switch (type & 7) {
	case 0: sqlite3_bind_null(s, i); return true;
	case 1: if (!get(r, &b, 1)) return false;
		sqlite3_bind_int64(s, i, (int8_t)b); return true;
	case 2: if (!get(r, &v, 8)) return false;
		sqlite3_bind_int64(s, i, v); return true;
	case 3:
	case 4: if (!get(r, &b, 1) || (size_t)(r->end - r->p) < b) return false;
		if ((type & 7) == 3)
			sqlite3_bind_text(s, i, (const char *)r->p, b, SQLITE_TRANSIENT);
		else
			sqlite3_bind_blob(s, i, r->p, b, SQLITE_TRANSIENT);
		r->p += b;
		return true;
	case 5: if (!get(r, &d, 8)) return false;
		sqlite3_bind_double(s, i, d); return true;
	case 6: sqlite3_bind_int64(s, i, ints[(type >> 3) % (sizeof(ints) / sizeof(*ints))]);
		return true;
	default:
		sqlite3_bind_text(s, i, texts[(type >> 3) % (sizeof(texts) / sizeof(*texts))], -1,
				  SQLITE_STATIC);
		return true;
	}
}

static void run_ops(sqlite3 *db, const uint8_t *p, size_t n)
{
	struct reader r = { p, p + n };
	uint8_t op;
	for (int k = 0; k < 64 && get(&r, &op, 1); k++) {
		const struct table *t = &tables[(op & 0x7f) % NTABLES];
		size_t nc = ncols(t);
		char sql[512];
		int len;
		uint8_t col = 0, row = 0;
		if (op & 0x80) {  /* UPDATE t SET col = ? WHERE rowid = row */
			if (!get(&r, &col, 1) || !get(&r, &row, 1))
				return;
			len = snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ?1 WHERE rowid = %u",
				       t->name, t->cols[col % nc], row % 8);
		} else {
			len = snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO %s VALUES (?", t->name);
			for (size_t i = 1; i < nc; i++)
				len += snprintf(sql + len, sizeof(sql) - len, ", ?");
			snprintf(sql + len, sizeof(sql) - len, ")");
		}
		sqlite3_stmt *s = NULL;
		FUZZ_CHECK(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK, "%s: %s", sql,
			   sqlite3_errmsg(db));
		bool whole = true;
		for (int i = 1; whole && i <= sqlite3_bind_parameter_count(s); i++)
			whole = bind_value(&r, s, i);
		if (whole)
			sqlite3_step(s);
		sqlite3_finalize(s);
		if (!whole)
			return;
	}
}

/* Hostile SQL may change rows and tables, not reach outside the database. */
static int authorize(void *arg, int code, const char *a, const char *b, const char *db,
		     const char *trigger)
{
	switch (code) {
	case SQLITE_PRAGMA:
		return a && !strcasecmp(a, "user_version") ? SQLITE_OK : SQLITE_DENY;
	case SQLITE_FUNCTION:
		return b && !strcasecmp(b, "load_extension") ? SQLITE_DENY : SQLITE_OK;
	case SQLITE_CREATE_INDEX: case SQLITE_CREATE_TABLE: case SQLITE_DELETE:
	case SQLITE_DROP_INDEX: case SQLITE_DROP_TABLE: case SQLITE_INSERT: case SQLITE_READ:
	case SQLITE_SELECT: case SQLITE_TRANSACTION: case SQLITE_UPDATE: case SQLITE_ALTER_TABLE:
	case SQLITE_REINDEX: case SQLITE_ANALYZE: case SQLITE_RECURSIVE: case SQLITE_SAVEPOINT:
		return SQLITE_OK;
	default:  /* ATTACH, views, triggers, virtual and temporary tables */
		return SQLITE_DENY;
	}
}

static int budget(void *arg)
{
	return ++*(int *)arg > 2000;  /* x 1000 VM steps */
}

static void db_write(const uint8_t *p, size_t n)
{
	char path[300];
	snprintf(path, sizeof(path), "%s-wal", db_path);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db_path);
	unlink(path);
	int fd = open(db_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0 && write(fd, p, n) == (ssize_t)n && !close(fd), "%s: %s", db_path,
		   strerror(errno));
}

static void mutate(const uint8_t *data, size_t size)
{
	if (size && data[0] == 'C') {
		uint8_t *copy = malloc(tmpl_len);
		memcpy(copy, tmpl, tmpl_len);
		for (size_t i = 1; i + 3 <= size; i += 3)
			copy[(data[i] | data[i + 1] << 8) % tmpl_len] = data[i + 2];
		db_write(copy, tmpl_len);
		free(copy);
		return;
	}
	db_write(tmpl, tmpl_len);
	sqlite3 *db;
	FUZZ_CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK,
		   "open %s", db_path);
	int steps = 0;
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 100000);
	sqlite3_progress_handler(db, 1000, budget, &steps);
	sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	sqlite3_set_authorizer(db, authorize, NULL);
	if (size && data[0] == 'S') {
		char *sql = strndup((const char *)data + 1, size - 1);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
		free(sql);
	} else {
		run_ops(db, data, size);
	}
	sqlite3_close(db);
}

/* --- reading it back ------------------------------------------------------------------- *
 * The harness's own idea of a valid row, written apart from lib/store.c's on purpose: an
 * oracle that shares the code under test would agree with its mistakes. */

static bool known(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static const char *const vpc_states[] = { ST_CREATING, ST_READY, ST_DELETING, NULL };
static const char *const member_states[] = { ST_CREATING, ST_READY, ST_DELETING, ST_REVOKED,
					     ST_RESTORING,
					     NULL };

#define LIST_MAX 64
struct ids {
	int64_t id[LIST_MAX];
	size_t n;
};

static void check_vpc(const struct vpc_row *v)
{
	FUZZ_CHECK(v->prefix >= VPC_PREFIX_MIN && v->prefix <= VPC_PREFIX_MAX, "VPC #%lld: /%u",
		   (long long)v->id, v->prefix);
	FUZZ_CHECK(!(v->net & ~prefix_mask(v->prefix)), "VPC #%lld: host bits", (long long)v->id);
	FUZZ_CHECK(v->transit < TRANSIT_MAX, "VPC #%lld: transit %u", (long long)v->id,
		   v->transit);
	FUZZ_CHECK(known(v->state, vpc_states), "VPC #%lld: state '%s'", (long long)v->id,
		   v->state);
	/* what cni_status() and sandbox create do with it */
	uint32_t room = subnet_last(v->net, v->prefix) - subnet_first(v->net) + 1;
	(void)room;
	struct vpcnet_vpc pub;
	vpc_to_public(v, &pub);
}

static int on_vpc(const struct vpc_row *v, void *arg)
{
	struct ids *ids = arg;
	check_vpc(v);
	if (ids->n < LIST_MAX)
		ids->id[ids->n++] = v->id;
	return 0;
}

static void check_member(struct store *st, const struct member_row *m)
{
	struct vpcnet_error err;
	FUZZ_CHECK(known(m->state, member_states), "member #%lld: state '%s'", (long long)m->id,
		   m->state);
	FUZZ_CHECK(m->kind >= MEMBER_SANDBOX && m->kind <= MEMBER_POOL, "member #%lld: kind %d",
		   (long long)m->id, (int)m->kind);
	FUZZ_CHECK(m->max_conns <= VPCNET_MAX_CONNECTIONS_MAX, "member #%lld: max_conns %u",
		   (long long)m->id, m->max_conns);
	FUZZ_CHECK(m->control_port <= 65535, "member #%lld: control port %u", (long long)m->id,
		   m->control_port);
	FUZZ_CHECK(m->profile >= 0 && m->profile <= UINT32_MAX, "member #%lld: profile %lld",
		   (long long)m->id, (long long)m->profile);
	struct member_row again;
	if (strcmp(m->state, ST_REVOKED)) {  /* a listed name finds the same row */
		int ret = store_member_get(st, m->kind, m->name, &again, &err);
		FUZZ_CHECK(!ret && again.id == m->id, "member #%lld: '%s' finds %s",
			   (long long)m->id, m->name, ret ? err.msg : "another row");
	}
	struct vpc_row v;
	if (!store_vpc_get_id(st, m->vpc_id, &v, &err)) {
		check_vpc(&v);
		subnet_check_lease(v.net, v.prefix, m->ip, &err);
		struct vpcnet vn = { .st = st };
		struct vpcnet_sandbox pub;
		sandbox_to_public(&vn, m, &v, &pub);
		FUZZ_CHECK(pub.ngroups <= VPCNET_SG_PER_MEMBER, "%u groups", pub.ngroups);
	}
	int64_t g[SG_PER_MEMBER];
	size_t n;
	store_member_sgs(st, m->id, g, SG_PER_MEMBER, &n, &err);
	FUZZ_CHECK(n <= SG_PER_MEMBER, "%zu groups", n);
	struct profile_row p;
	if (m->profile && !store_profile_get(st, m->profile, &p, &err))
		FUZZ_CHECK(p.n <= SG_PER_MEMBER, "profile of %zu", p.n);
	char port[VPCNET_IFNAME_MAX + 1];
	port_name(port, m->id);
}

static int on_member(const struct member_row *m, void *arg)
{
	struct ids *ids = arg;
	if (ids->n < LIST_MAX)
		ids->id[ids->n++] = m->id;
	return 0;
}

static int on_sg(const struct sg_row *g, void *arg)
{
	struct ids *ids = arg;
	if (ids->n < LIST_MAX)
		ids->id[ids->n++] = g->id;
	return 0;
}

static int on_revoked(const struct member_row *m, void *arg)
{
	FUZZ_CHECK(!strcmp(m->state, ST_REVOKED), "revoked list: '%s'", m->state);
	return 0;
}

static void check_rule(const struct sg_rule *r, bool cidr_only)
{
	FUZZ_CHECK(r->dir == SG_EGRESS || r->dir == SG_INGRESS, "rule dir %d", r->dir);
	FUZZ_CHECK(r->proto == 0 || r->proto == IPPROTO_ICMP || r->proto == IPPROTO_TCP ||
		   r->proto == IPPROTO_UDP, "rule proto %u", r->proto);
	FUZZ_CHECK(r->port_lo <= r->port_hi, "rule ports %u-%u", r->port_lo, r->port_hi);
	if (!r->to_group || cidr_only)
		FUZZ_CHECK(r->len <= 32 && !(r->net & ~prefix_mask(r->len)), "rule %08x/%u",
			   r->net, r->len);
	char text[96];
	sg_rule_str(r, text, sizeof(text));
}

/* The rules near [lo, hi] of group @id, direction @dir, protocol @proto, as a rule
 * change reads them. */
static void check_near(struct store *st, int64_t id, int dir, uint8_t proto)
{
	struct vpcnet_error err;
	bool mixed;
	store_rules_mixed(st, id, dir, proto, &mixed, &err);
	struct sg_rule *near;
	size_t n;
	if (!store_rules_near(st, id, dir, proto, 0x0a000000, 0x0affffff, &near, &n, &err)) {
		for (size_t i = 0; i < n; i++)
			check_rule(&near[i], true);
		free(near);
	}
}

static void check_sg(struct store *st, int64_t id)
{
	struct vpcnet_error err;
	struct sg_row g, again;
	if (store_sg_get_id(st, id, &g, &err))
		return;
	if (!store_sg_get(st, g.vpc_id, g.name, &again, &err))  /* (or it is not unique) */
		FUZZ_CHECK(again.id == g.id, "group #%lld: '%s' finds another row",
			   (long long)g.id, g.name);
	store_sg_counts(st, &g, &err);
	struct sg_rule *rules;
	int64_t *ref_of;
	size_t n;
	bool near[2][256] = { { false } };  /* the (direction, protocol) pairs its rules have */
	near[SG_EGRESS][IPPROTO_TCP] = true;
	if (!store_rules(st, id, &rules, &ref_of, &n, &err)) {
		for (size_t i = 0; i < n; i++) {
			check_rule(&rules[i], false);
			near[rules[i].dir][rules[i].proto] = true;
		}
		for (enum sg_dir dir = SG_EGRESS; dir <= SG_INGRESS; dir++) {
			struct box *out;
			size_t nout;
			if (!sg_cover(rules, ref_of, n, dir, 0, &out, &nout))
				free(out);
			for (size_t i = 0; i < n; i++)
				if (rules[i].to_group && rules[i].dir == dir &&
				    !sg_cover(rules, ref_of, n, dir, ref_of[i], &out, &nout))
					free(out);
		}
	}
	free(rules);
	free(ref_of);
	for (int dir = 0; dir < 2; dir++) {
		int64_t *ids;
		size_t k;
		if (!store_refs(st, id, dir, &ids, &k, &err))
			free(ids);
		if (!store_ref_holders(st, id, dir, &ids, &k, &err))
			free(ids);
		int64_t elems;
		store_cover_get(st, id, dir, &elems, &err);
		for (int proto = 0; proto < 256; proto++)
			if (near[dir][proto])
				check_near(st, id, dir, proto);
	}
}

static void read_store(void)
{
	struct store *st;
	struct vpcnet_error err;
	if (store_open(&st, state_dir, &err))
		return;
	struct ids vpcs = { .n = 0 }, members = { .n = 0 }, sgs = { .n = 0 };
	store_vpc_list(st, on_vpc, &vpcs, &err);
	int64_t count;
	store_vpc_count(st, &count, &err);
	for (size_t i = 0; i < vpcs.n; i++) {
		struct vpc_row v, again;
		if (store_vpc_get_id(st, vpcs.id[i], &v, &err))
			continue;
		check_vpc(&v);
		int ret = store_vpc_get(st, v.name, &again, &err);
		FUZZ_CHECK(!ret && again.id == v.id, "VPC #%lld: '%s' finds %s", (long long)v.id,
			   v.name, ret ? err.msg : "another row");
		store_vpc_members(st, &v, &err);
		bool any;
		store_pool_ready(st, v.id, &any, &err);
		store_revoked_list(st, v.id, on_revoked, NULL, &err);
		store_revoked_count(st, v.id, 0, &count, &err);
		struct profile_row *unused;
		size_t n;
		if (!store_profiles_unused(st, v.id, &unused, &n, &err))
			free(unused);
	}
	store_member_list(st, MEMBER_ANY, 0, on_member, &members, &err);
	for (size_t i = 0; i < members.n; i++) {
		struct member_row m;
		if (!store_member_get_id(st, members.id[i], &m, &err))
			check_member(st, &m);
	}
	store_sg_list(st, 0, on_sg, &sgs, &err);
	for (size_t i = 0; i < sgs.n; i++)
		check_sg(st, sgs.id[i]);
	store_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mutate(data, size);
	read_store();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	state_dir = fuzz_tmpdir("store");
	snprintf(db_path, sizeof(db_path), "%s/state.db", state_dir);
	struct store *st;
	struct vpcnet_error err;
	FUZZ_CHECK(!store_open(&st, state_dir, &err), "store_open: %s", err.msg);
	store_close(st);
	sqlite3 *db;
	FUZZ_CHECK(sqlite3_open(db_path, &db) == SQLITE_OK, "open %s", db_path);
	FUZZ_CHECK(sqlite3_exec(db, baseline, NULL, NULL, NULL) == SQLITE_OK &&
		   sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) ==
		   SQLITE_OK, "baseline: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	struct stat sb;
	int fd = open(db_path, O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0 && !fstat(fd, &sb), "%s", db_path);
	tmpl_len = sb.st_size;
	tmpl = malloc(tmpl_len);
	FUZZ_CHECK(tmpl && read(fd, tmpl, tmpl_len) == (ssize_t)tmpl_len, "read %s", db_path);
	close(fd);
	return 0;
}
