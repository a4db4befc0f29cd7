/* SPDX-License-Identifier: MIT */
/* Coming back: `vpcnet restore` after a simulated host reboot (every namespace of the test
 * gone, the host table gone, forwarding reset, the store kept) and after partial damage
 * done behind vpcnet's back; what list and show say meanwhile; gc rebuilding a missing
 * router.  The damage is done by hand with `ip`/`nft`, inside the test's own namespaces:
 * that is what is simulated; all that is built again is built by vpcnet. */
#include <dirent.h>
#include <sqlite3.h>

#include "tests/ns_util.h"
#include "vpcnet.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(restore, .init = setup, .fini = teardown, .timeout = 240);

#define WAIT 1000

#define V(...) do { \
	char _o[8192]; \
	int _rc = vpcnet(&T, _o, sizeof(_o), NULL, __VA_ARGS__); \
	cr_assert_eq(_rc, 0, "%s: %s", #__VA_ARGS__, _o); \
} while (0)

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int token_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* @buf as the sorted list of its words, without what may rightly differ after a rebuild:
 * a veth peer's index in the other namespace ("@if12"), and rule counters.  Sorted, since
 * a hash set lists its elements in an order of its own (a new table: a new hash seed). */
static void canonical(char *buf, size_t n)
{
	static char copy[1 << 20];
	static char *tok[1 << 16];
	size_t nt = 0, len = 0;
	/* connection counts per port come and go with the traffic (ct count elements) */
	size_t c = 0;
	for (char *line = buf, *nl; *line && c + 1 < sizeof(copy); line = nl + 1) {
		nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		if (!memmem(line, ll, "ct count over", 13) && c + ll + 1 < sizeof(copy)) {
			memcpy(copy + c, line, ll);
			copy[c + ll] = '\n';
			c += ll + 1;
		}
		if (!nl)
			break;
	}
	copy[c] = '\0';
	for (char *save, *t = strtok_r(copy, " \t\n,{}", &save); t && nt < (1 << 16);
	     t = strtok_r(NULL, " \t\n,{}", &save)) {
		char *at = strstr(t, "@if");
		if (at)
			*at = '\0';
		if (!strcmp(t, "packets") || !strcmp(t, "bytes")) {
			strtok_r(NULL, " \t\n,{}", &save);  /* and its number */
			continue;
		}
		tok[nt++] = t;
	}
	qsort(tok, nt, sizeof(*tok), token_cmp);
	for (size_t i = 0; i < nt && len < n; i++)
		len += snprintf(buf + len, n - len, "%s\n", tok[i]);
}

/* `ip -br link` output without its MAC column, `ip -br addr` without IPv6 link-local
 * addresses: a veth made again gets a random MAC of its own. */
static void drop_random(char *text, size_t size)
{
	static char out[262144];
	size_t len = 0;
	for (char *lsave, *line = strtok_r(text, "\n", &lsave); line;
	     line = strtok_r(NULL, "\n", &lsave)) {
		int field = 0;
		for (char *save, *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
			bool mac = strlen(t) == 17 && t[2] == ':' && t[14] == ':';
			if ((field++ == 2 && mac) || !strncmp(t, "fe80::", 6))
				continue;
			len += snprintf(out + len, sizeof(out) - len, "%s ", t);
		}
		len += snprintf(out + len, sizeof(out) - len, "\n");
		if (len >= sizeof(out))
			break;
	}
	snprintf(text, size, "%s", out);
}

/* What the kernel holds for the test: the host's links and ruleset, each VPC router's links,
 * routes, neighbours and ruleset, the tagged namespaces. */
static void kernel_snapshot(const char *const *vpcs, size_t nvpcs, char *buf, size_t n)
{
	static char part[262144];
	size_t len = 0;
	run(part, sizeof(part), "ip -n %s -br link", T.host);
	drop_random(part, sizeof(part));
	len += snprintf(buf + len, n - len, "%s", part);
	run(part, sizeof(part), "ip -n %s -br addr", T.host);
	drop_random(part, sizeof(part));
	len += snprintf(buf + len, n - len, "%s", part);
	run(part, sizeof(part), "ip netns exec %s nft list ruleset", T.host);
	len += snprintf(buf + len, n - len, "%s", part);
	for (size_t i = 0; i < nvpcs; i++) {
		const char *cmds[] = { "ip -br link", "ip -br addr", "ip route", "ip neigh show nud permanent",
				       "nft list ruleset" };
		for (size_t c = 0; c < sizeof(cmds) / sizeof(*cmds); c++) {
			run(part, sizeof(part), "ip netns exec vpcnet-vpc-%s-%s %s", T.tag, vpcs[i],
			    cmds[c]);
			drop_random(part, sizeof(part));
			len += snprintf(buf + len, n - len, "%s", part);
		}
	}
	append_tagged_netns(&T, buf, n, len);
	canonical(buf, n);
}

/* A host reboot, as far as the test's namespaces go: every namespace vpcnet made is gone
 * (/run/netns is a tmpfs), the host's table and forwarding with them. */
static void reboot(void)
{
	char out[8192], db[256];
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	char names[64][128];
	int n = 0;
	while (d && (e = readdir(d)) && n < 64)
		if (!strncmp(e->d_name, "vpcnet-", 7) && tagged(&T, e->d_name))
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	if (d)
		closedir(d);
	/* pool entries' namespaces carry no tag: the store knows them */
	sqlite3 *sq;
	sqlite3_stmt *st;
	snprintf(db, sizeof(db), "%s/state.db", T.state_dir);
	cr_assert_eq(sqlite3_open_v2(db, &sq, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(sq, "SELECT netns FROM members WHERE kind = 'pool'", -1,
					&st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW && n < 64)
		snprintf(names[n++], sizeof(names[0]), "%s",
			 (const char *)sqlite3_column_text(st, 0) + strlen("/run/netns/"));
	sqlite3_finalize(st);
	sqlite3_close(sq);
	cr_assert_gt(n, 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(run(out, sizeof(out), "ip netns del %s", names[i]), 0, "%s", out);
	run(out, sizeof(out), "ip netns exec %s nft flush ruleset", T.host);
	run(out, sizeof(out), "ip netns exec %s sysctl -qw net.ipv4.conf.up0.forwarding=0", T.host);
}

__attribute__((format(printf, 1, 2)))
static json_t *json_of(const char *fmt, ...)
{
	char out[65536], cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "%s", cmd);
	cr_assert_eq(rc, 0, "%s: %s", cmd, out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "no JSON: %s", out);
	return j;
}

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The whole story of the issue: build, reboot, look, restore, use, restore again. */
Test(restore, after_a_reboot_vpcs_groups_and_instances_come_back_sandboxes_go)
{
	char inet[256], out[65536], vpc[64], peer[64];
	nspath(T.inet, inet, sizeof(inet));
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	listen_tcp(&T, inet, 9090, &web);
	make_vpc(&T, "p", "10.60.0.0/16", true);
	tname(&T, "p", vpc, sizeof(vpc));
	V("sg create app --vpc %s", vpc);
	V("sg create db --vpc %s", vpc);
	V("sg rule add app egress tcp:8080 203.0.113.0/24");
	V("sg rule add app egress tcp:5432 sg:db");
	V("sg rule add db ingress tcp:5432 sg:app");
	struct sbx s1, s2, db, s3, s4;
	make_sbx_args(&T, "p", "s1", "--sg app", &s1);
	make_sbx(&T, "p", "s2", &s2);
	make_instance(&T, "p", "db", "db", &db);
	V("pool fill %s 2", vpc);
	const char *vpcs[] = { "p" };
	static char before[1 << 20], after[1 << 20];

	/* on a healthy host restore changes nothing */
	kernel_snapshot(vpcs, 1, before, sizeof(before));
	json_t *r = json_of("--json restore");
	cr_assert_eq(json_array_size(json_object_get(r, "repairs")), 0, "restore repaired a healthy"
		     " host: %s", json_dumps(r, 0));
	json_decref(r);
	kernel_snapshot(vpcs, 1, after, sizeof(after));
	cr_assert_str_eq(after, before, "restore changed a healthy host");

	reboot();
	/* nothing is reported that the kernel lacks */
	json_t *v = json_of("--json vpc show %s", vpc);
	cr_assert_str_eq(str_of(v, "state"), "broken", "vpc show: %s", json_dumps(v, 0));
	cr_assert(strstr(str_of(v, "problem"), "router namespace"), "%s", str_of(v, "problem"));
	json_decref(v);
	json_t *list = json_of("--json sandbox list");
	cr_assert_eq(json_array_size(list), 2);
	for (size_t i = 0; i < 2; i++)
		cr_assert_str_eq(str_of(json_array_get(list, i), "state"), "broken");
	json_decref(list);
	cr_assert_neq(vpcnet(&T, out, sizeof(out), NULL, "vpc show %s", vpc), 1);
	cr_assert(strstr(out, "run `vpcnet restore`"), "%s", out);
	json_t *one = json_of("--json sandbox show %s", s1.id);  /* one member, not a list */
	cr_assert_str_eq(str_of(one, "state"), "broken", "%s", json_dumps(one, 0));
	cr_assert(strstr(str_of(one, "problem"), "namespace"), "%s", str_of(one, "problem"));
	json_decref(one);

	r = json_of("--json restore");
	json_t *reps = json_object_get(r, "repairs");
	size_t i;
	json_t *rep;
	int deleted = 0, rebuilt = 0, vpc_rebuilt = 0;
	json_array_foreach(reps, i, rep) {
		const char *kind = str_of(rep, "kind"), *action = str_of(rep, "action");
		if (!strcmp(kind, "vpc"))
			vpc_rebuilt += !strcmp(action, "rebuilt");
		else if (!strcmp(kind, "sandbox"))
			deleted += !strcmp(action, "deleted");
		else
			rebuilt += !strcmp(action, "rebuilt");  /* the instance and 2 pool entries */
	}
	cr_assert_eq(vpc_rebuilt, 1, "%s", json_dumps(r, 0));
	cr_assert_eq(deleted, 2, "%s", json_dumps(r, 0));
	cr_assert_eq(rebuilt, 3, "%s", json_dumps(r, 0));
	cr_assert_eq(json_integer_value(json_object_get(r, "errors")), 0);
	json_decref(r);
	assert_invariants(&T, "after restore");

	/* the dead sandboxes are gone, their ids reusable; the VPC is whole */
	list = json_of("--json sandbox list");
	cr_assert_eq(json_array_size(list), 0, "%s", json_dumps(list, 0));
	json_decref(list);
	v = json_of("--json vpc show %s", vpc);
	cr_assert_str_eq(str_of(v, "state"), "ready", "%s", json_dumps(v, 0));
	json_decref(v);
	make_sbx_args(&T, "p", "s1", "--sg app", &s3);
	make_sbx(&T, "p", "s2", &s4);  /* from the pool, which was refilled */
	V("pool show %s", vpc);

	/* the new sandbox goes out through the NAT gateway as its group allows, and only so */
	cr_assert_eq(probe_tcp(s3.netns, INET_ADDR, 8080, WAIT, peer, sizeof(peer)), P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR, "not masqueraded by the host: %s", peer);
	cr_assert_neq(probe_tcp(s3.netns, INET_ADDR, 9090, WAIT, NULL, 0), P_OK,
		      "its group does not allow 9090");
	cr_assert_eq(probe_tcp(s4.netns, INET_ADDR, 9090, WAIT, NULL, 0), P_OK,
		     "the default group allows all egress");
	/* inbound stays closed: from the host, from the internet, from a neighbour */
	char hostns[256];
	nspath(T.host, hostns, sizeof(hostns));
	struct listener in;
	listen_tcp(&T, s3.netns, 7000, &in);
	cr_assert_neq(probe_tcp(hostns, s3.ip, 7000, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_tcp(inet, s3.ip, 7000, WAIT, NULL, 0), P_OK);
	cr_assert_neq(probe_tcp(s4.netns, s3.ip, 7000, WAIT, NULL, 0), P_OK);
	cr_assert_eq(listener_count(&in), 0);

	/* the instance answers on its old address, as its groups allow */
	json_t *ins = json_of("--json instance show %s", db.id);
	cr_assert_str_eq(str_of(ins, "ip"), db.ip, "the instance's address changed");
	cr_assert_str_eq(str_of(ins, "state"), "ready");
	json_decref(ins);
	struct listener pg;
	listen_tcp(&T, db.netns, 5432, &pg);
	cr_assert_eq(probe_tcp(s3.netns, db.ip, 5432, WAIT, NULL, 0), P_OK, "app reaches db");
	cr_assert_neq(probe_tcp(s4.netns, db.ip, 5432, WAIT, NULL, 0), P_OK, "default does not");
	run(out, sizeof(out), "ip -n %s link show eth0", db.netns + strlen("/run/netns/"));
	cr_assert(strstr(out, "02:"), "the instance's MAC: %s", out);

	/* a second restore changes nothing */
	kernel_snapshot(vpcs, 1, before, sizeof(before));
	r = json_of("--json restore");
	cr_assert_eq(json_array_size(json_object_get(r, "repairs")), 0, "%s", json_dumps(r, 0));
	json_decref(r);
	kernel_snapshot(vpcs, 1, after, sizeof(after));
	cr_assert_str_eq(after, before, "a second restore changed something");
	V("gc");
}

/* Damage behind vpcnet's back, one kind at a time, in one VPC of two: restore (or gc)
 * repairs it and leaves the other VPC alone. */
Test(restore, repairs_damage_to_routers_tables_and_links_done_behind_its_back)
{
	char inet[256], out[65536], a[64], peer[64];
	nspath(T.inet, inet, sizeof(inet));
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	make_vpc(&T, "a", "10.61.0.0/16", true);
	make_vpc(&T, "b", "10.61.0.0/16", true);
	tname(&T, "a", a, sizeof(a));
	V("sg create app --vpc %s", a);
	V("sg rule add app egress tcp:8080 203.0.113.2");
	struct sbx sa, sb;
	make_sbx_args(&T, "a", "sa", "--sg app", &sa);
	make_sbx(&T, "b", "sb", &sb);
	const char *vpcs[] = { "a", "b" };
	static char before[1 << 20], after[1 << 20];
	/* traffic first: what it makes (connection counts per port) is in the picture */
	cr_assert_eq(probe_tcp(sa.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_OK);
	cr_assert_eq(probe_tcp(sb.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_OK);
	kernel_snapshot(vpcs, 2, before, sizeof(before));

	const struct { const char *cmd; bool cuts_egress; const char *verb; } damage[] = {
		{ "ip netns exec %1$s-h nft flush ruleset", true, "gc" },
		{ NULL, true, "gc" },  /* the transit link deleted: its name is read below */
		{ "ip netns exec %1$s-h nft flush chain inet vpcnet_host input", false, "restore" },
		{ "ip netns exec vpcnet-vpc-%1$s-a nft delete table arp vpcnet", false, "gc" },
		{ "ip netns exec vpcnet-vpc-%1$s-a nft flush chain inet vpcnet forward", true, "gc" },
		{ "ip netns del vpcnet-vpc-%1$s-a", true, "restore" },
	};
	const size_t ndamage = sizeof(damage) / sizeof(*damage);
	json_t *va = json_of("--json vpc show %s", a);
	const char *transit = json_string_value(json_object_get(json_object_get(va, "transit"),
							       "host_if"));
	char del_transit[128];
	snprintf(del_transit, sizeof(del_transit), "ip -n %s link del %s", T.host, transit);
	json_decref(va);
	for (size_t d = 0; d < ndamage; d++) {
		char cmd[256];
		if (!damage[d].cmd)
			snprintf(cmd, sizeof(cmd), "%s", del_transit);
		else
			with_tag(&T, damage[d].cmd, cmd, sizeof(cmd));
		cr_assert_eq(run(out, sizeof(out), "%s", cmd), 0, "%s: %s", cmd, out);
		/* a namespace is destroyed by the kernel a little later: its ports with it */
		for (int i = 0; d == ndamage - 1 && i < 100; i++) {
			if (run(out, sizeof(out), "ip -n %s link show eth0",
				sa.netns + strlen("/run/netns/")))
				break;
			usleep(20000);
		}
		if (damage[d].cuts_egress)
			cr_assert_neq(probe_tcp(sa.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_OK,
				      "after '%s' the way out still works?", cmd);
		/* the router going takes the sandbox's port: its namespace is still there, so it
		 * gets a new port (reattached), not deleted */
		const char *verb = damage[d].verb;
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "%s", verb), 0, "%s after '%s': %s",
			     verb, cmd, out);
		assert_invariants(&T, cmd);
		kernel_snapshot(vpcs, 2, after, sizeof(after));
		if (strcmp(after, before)) {
			FILE *f = fopen("/tmp/restore-before.txt", "w");
			if (f) { fputs(before, f); fclose(f); }
			f = fopen("/tmp/restore-after.txt", "w");
			if (f) { fputs(after, f); fclose(f); }
		}
		cr_assert_str_eq(after, before, "%s did not repair '%s' whole", verb, cmd);
		cr_assert_eq(probe_tcp(sa.netns, INET_ADDR, 8080, WAIT, peer, sizeof(peer)), P_OK,
			     "after '%s' and %s", cmd, verb);
		cr_assert_eq(probe_tcp(sb.netns, INET_ADDR, 8080, WAIT, NULL, 0), P_OK);
	}
	cr_assert_eq(count(after, "\nvpcnet-sbx-"), 2, "both sandboxes kept their namespace");
}
