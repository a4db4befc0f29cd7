/* SPDX-License-Identifier: MIT */
/* The invariant checker (tests/invariants.c) checked: it finds nothing wrong in a healthy VPC
 * (NAT, a group with a rule, sandboxes, an instance, a pool, a deleted sandbox not reaped yet),
 * then each invariant broken once by hand — the one place a test changes kernel state itself,
 * to simulate damage, inside its own namespaces — must be reported; gc repairs what it can.
 * And what a process killed half-way (a failpoint's _exit) leaves breaks them until gc. */
#include <sqlite3.h>

#include "tests/invariants.h"
#include "tests/ns_util.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(invariants, .init = setup, .fini = teardown, .timeout = 240);

#define REPORT_MAX 65536

static int check(char *rep)
{
	char tag[32];
	snprintf(tag, sizeof(tag), "%s-", T.tag);  /* "t12-": never a part of "t123-" */
	int n = invariants_check(T.state_dir, T.host, tag, rep, REPORT_MAX);
	cr_assert_geq(n, 0, "the checker could not run: %s", rep);
	return n;
}

/* Runs SQL @sql on the test's own store (a test that simulates damage). */
static void store_exec(const char *sql)
{
	char path[256];
	sqlite3 *db;
	char *msg = NULL;
	snprintf(path, sizeof(path), "%s/state.db", T.state_dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	char why[512];
	snprintf(why, sizeof(why), "%s", msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, why);
}

/* One integer the store answers to @sql. */
static long long store_int(const char *sql)
{
	char path[256];
	sqlite3 *db;
	sqlite3_stmt *s;
	snprintf(path, sizeof(path), "%s/state.db", T.state_dir);
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sql);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s: no row", sql);
	long long v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

#define MUST(...) do { \
	char _o[4096]; \
	int _rc = run(_o, sizeof(_o), __VA_ARGS__); \
	cr_assert_eq(_rc, 0, "damage could not be done (%d): %s", _rc, _o); \
} while (0)

/* The VPC of the suite: NAT, group web (tcp:80 out), sandboxes s1 (web) and s2 (default),
 * instance db (web), a pool of 2, and s3 deleted (revoked, its address not yet reaped). */
static void build(struct sbx *s1, struct sbx *s2, struct sbx *db)
{
	char out[4096];
	struct sbx s3;
	make_vpc(&T, "a", "10.93.0.0/24", true);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create web --vpc %s-a", T.tag), 0,
		     "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add web egress tcp:80 0.0.0.0/0"
			    " --vpc %s-a", T.tag), 0, "%s", out);
	make_sbx_args(&T, "a", "s1", "--sg web", s1);
	make_sbx(&T, "a", "s2", s2);
	make_instance(&T, "a", "db", "web", db);
	make_sbx(&T, "a", "s3", &s3);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s3.id), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "pool fill %s-a 2", T.tag), 0, "%s", out);
	cr_assert_eq(store_int("SELECT count(*) FROM members WHERE state = 'revoked'"), 1,
		     "s3 waits, revoked, to be reaped");
}

struct damage {
	const char *what;
	char cmd[512];     /* an ip/nft command, or SQL when it starts with "SQL " */
	char want[256];    /* what the report must say */
	bool gc_repairs;   /* gc puts it right (today) */
};

static void inflict(const struct damage *d)
{
	if (!strncmp(d->cmd, "SQL ", 4))
		store_exec(d->cmd + 4);
	else
		MUST("%s", d->cmd);
}

#define DAMAGE_MAX 24

/* Appends a damage to dmg[n] (locals of the caller): what it is, whether gc repairs it, what
 * the report must say, and the command (printf-style) that does it. */
#define DAMAGE(what_, repairs_, want_, ...) \
	do { \
		cr_assert_lt(n, DAMAGE_MAX); \
		struct damage *d_ = &dmg[n++]; \
		d_->what = (what_); \
		d_->gc_repairs = (repairs_); \
		snprintf(d_->want, sizeof(d_->want), "%s", want_); \
		snprintf(d_->cmd, sizeof(d_->cmd), __VA_ARGS__); \
	} while (0)

/* Each invariant broken once, each on an object of its own so that none hides another:
 * first in the router (@dmg from @n on; returns the new count). */
static size_t damages_router(struct damage *dmg, size_t n, const struct sbx *s1,
			     const struct sbx *s2, const struct sbx *db, const char *router)
{
	char w[256], pool_port[24], pool_ip[16];
	long long first = store_int("SELECT min(id) FROM members WHERE kind = 'pool'");
	long long ip = store_int("SELECT ip FROM members WHERE id = (SELECT min(id) FROM members"
				 " WHERE kind = 'pool')");
	snprintf(pool_port, sizeof(pool_port), "port%lld", first);
	snprintf(pool_ip, sizeof(pool_ip), "%lld.%lld.%lld.%lld", ip >> 24, (ip >> 16) & 255,
		 (ip >> 8) & 255, ip & 255);
	long profile = link_group(router, db->port);
	cr_assert_gt(profile, 0, "db's port is in its profile's device group");
	snprintf(w, sizeof(w), "%s: router port %s is missing", s1->id, s1->port);
	DAMAGE("a port deleted", true, w, "ip -n %s link del %s", router, s1->port);
	snprintf(w, sizeof(w), "%s: inet vpcnet @ports lacks %s", s2->id, s2->port);
	DAMAGE("an element deleted", false, w, "ip netns exec %s nft delete element inet vpcnet"
	       " ports { %s }", router, s2->port);
	snprintf(w, sizeof(w), "%s: inet vpcnet @out1 lacks %ld", db->id, profile);
	DAMAGE("a profile's element deleted", true, w, "ip netns exec %s nft delete element inet"
	       " vpcnet out1 { %ld }", router, profile);
	snprintf(w, sizeof(w), "%s: port %s is in device group 77", s2->id, s2->port);
	DAMAGE("a port moved to another group", true, w, "ip -n %s link set %s group 77", router,
	       s2->port);
	snprintf(w, sizeof(w), "%s: the router has no /32 route to %s via %s", db->id, db->ip,
		 db->port);
	DAMAGE("a route deleted", false, w, "ip -n %s route del %s/32 dev %s", router, db->ip,
	       db->port);
	snprintf(w, sizeof(w), "neighbour %s lladdr 02:00:00:00:00:01 on %s: not its member's",
		 pool_ip, pool_port);
	DAMAGE("a neighbour re-pinned", false, w, "ip -n %s neigh replace %s lladdr"
	       " 02:00:00:00:00:01 dev %s nud permanent", router, pool_ip, pool_port);
	snprintf(w, sizeof(w), "inet vpcnet @ports holds the pool entry's %s", pool_port);
	DAMAGE("a pool entry enlisted", false, w, "ip netns exec %s nft add element inet vpcnet"
	       " ports { %s }", router, pool_port);
	long long web = store_int("SELECT id FROM sgs WHERE name = 'web'");
	snprintf(w, sizeof(w), "group %lld's egress rules: 0 elements", web);
	DAMAGE("a rule's element deleted", true, w, "ip netns exec %s nft delete element inet vpcnet"
	       " sg%lld_e { tcp . 0.0.0.0/0 . 80 }", router, web);
	DAMAGE("a stray port", true, "router link port900: no row owns it",
	       "ip -n %s link add port900 type veth peer name port901", router);
	DAMAGE("a stray counter", true, "inet vpcnet @drops_out holds port902: no row owns",
	       "ip netns exec %s nft add element inet vpcnet drops_out { port902 }", router);
	return n;
}

/* ... then in the host, /run/netns and the store. */
static size_t damages_rest(struct damage *dmg, size_t n, const struct sbx *s1)
{
	char w[256];
	snprintf(w, sizeof(w), "namespace vpcnet-sbx-%s-zz: no row owns it", T.tag);
	DAMAGE("a stray namespace", false, w, "ip netns add vpcnet-sbx-%s-zz", T.tag);
	DAMAGE("a host table element deleted", true, "inet vpcnet_host @transits lacks vpct1",
	       "ip netns exec %s nft delete element inet vpcnet_host transits { vpct1 }", T.host);
	/* The schema's UNIQUE(vpc_id, ip) refuses a double lease: dropped here (writable
	 * schema; the next connection reads it), then the last pool entry is given s1's address;
	 * next it is left in flight by a dead process, so gc removes it (it has no element that
	 * the address it no longer holds would leave behind). */
	long long last = store_int("SELECT max(id) FROM members WHERE kind = 'pool'");
	store_exec("PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql ="
		   " replace(sql, ', UNIQUE(vpc_id, ip))', ')') WHERE name = 'members';"
		   " DELETE FROM sqlite_schema WHERE name = 'sqlite_autoindex_members_2';"
		   " PRAGMA writable_schema = OFF;");
	snprintf(w, sizeof(w), "address %s leased twice: sandbox %s (ready)", s1->ip, s1->id);
	DAMAGE("an address leased twice", true, w, "SQL UPDATE members SET ip = (SELECT ip FROM"
	       " members WHERE name = '%s') WHERE id = %lld", s1->id, last);
	DAMAGE("a row left in flight by a dead process", true, "left creating by process 0, which"
	       " is gone", "SQL UPDATE members SET state = 'creating', owner_pid = 0 WHERE id = %lld",
	       last);
	return n;
}

Test(invariants, holds_then_reports_each_damage_and_gc_repairs_some)
{
	static char rep[REPORT_MAX];
	struct sbx s1, s2, db;
	char router[96], out[4096];
	build(&s1, &s2, &db);
	snprintf(router, sizeof(router), "vpcnet-vpc-%s-a", T.tag);
	cr_assert_eq(check(rep), 0, "a healthy VPC: %s", rep);

	static struct damage dmg[DAMAGE_MAX];
	size_t n = damages_router(dmg, 0, &s1, &s2, &db, router);
	n = damages_rest(dmg, n, &s1);
	int before = 0;
	for (size_t i = 0; i < n; i++) {
		cr_assert_null(strstr(rep, dmg[i].want), "%s: reported before it was done:\n%s",
			       dmg[i].what, rep);
		inflict(&dmg[i]);
		before = check(rep);
		cr_assert(strstr(rep, dmg[i].want), "%s: the report does not say '%s':\n%s",
			  dmg[i].what, dmg[i].want, rep);
	}
	int rc = vpcnet(&T, out, sizeof(out), NULL, "gc");
	cr_log_info("gc after the damage exited %d: %s", rc, out);
	int after = check(rep);
	for (size_t i = 0; i < n; i++)
		if (dmg[i].gc_repairs)
			cr_assert_null(strstr(rep, dmg[i].want), "%s: gc left it:\n%s", dmg[i].what,
				       rep);
	cr_assert_lt(after, before, "gc repaired nothing:\n%s", rep);
	cr_log_info("what gc leaves (%d):\n%s", after, rep);
}

/* A create killed half-way (a failpoint: _exit as kill -9) breaks the invariants until gc. */
Test(invariants, a_killed_create_breaks_them_until_gc)
{
	static char rep[REPORT_MAX];
	char out[4096];
	make_vpc(&T, "a", "10.94.0.0/24", true);
	cr_assert_eq(check(rep), 0, "%s", rep);
	int rc = vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sandbox-create:veth",
			"sandbox create %s-k --vpc %s-a", T.tag, T.tag);
	cr_assert_eq(rc, 99, "the failpoint exits 99: %s", out);
	cr_assert_gt(check(rep), 0, "a killed create left no trace?");
	cr_assert(strstr(rep, "left creating by process"), "%s", rep);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
	cr_assert_eq(check(rep), 0, "after gc: %s", rep);
}

/* A rule change killed between the kernel's commit and the store's: the router holds a
 * cover the store does not, until gc; then the change can be made again. */
Test(invariants, a_killed_rule_change_breaks_them_until_gc)
{
	static char rep[REPORT_MAX];
	char out[4096];
	make_vpc(&T, "a", "10.95.0.0/24", false);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create web --vpc %s-a", T.tag), 0,
		     "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add web egress tcp:1000"
			    " 10.200.0.0/24 --vpc %s-a", T.tag), 0, "%s", out);
	cr_assert_eq(check(rep), 0, "%s", rep);
	int rc = vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sg:commit", "sg rule del web egress"
			" tcp:1000 10.200.0.0/24 --vpc %s-a", T.tag);
	cr_assert_eq(rc, 99, "the failpoint exits 99: %s", out);
	cr_assert_gt(check(rep), 0, "the router lost the rule, the store kept it: unseen");
	cr_assert(strstr(rep, "egress rules: 0 elements"), "%s", rep);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
	cr_assert_eq(check(rep), 0, "after gc: %s", rep);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule del web egress tcp:1000"
			    " 10.200.0.0/24 --vpc %s-a", T.tag), 0, "after gc: %s", out);
	cr_assert_eq(check(rep), 0, "%s", rep);
}
