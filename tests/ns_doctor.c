/* SPDX-License-Identifier: MIT */
/* `vpcnet doctor` on a test's host namespace: all ok when healthy; each kind of trouble
 * named on its own line (capabilities dropped with setpriv, a state directory anyone may
 * write, a router namespace or table deleted behind vpcnet's back, no default route); and
 * doctor itself changes nothing.  The damage is done by hand, inside the test's own
 * namespaces and state dir. */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/ns_util.h"
#include "vpcnet.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(doctor, .init = setup, .fini = teardown, .timeout = 120);

static const char *const checks[] = { "capabilities", "netns", "veth", "nf_tables",
				      "conntrack", "nat", "netns-mount", "uplink", "state-dir",
				      "routers", "agent" };
#define NCHECKS (sizeof(checks) / sizeof(*checks))

/* The line of check @name ("ok    NAME: ..."), copied to @line. */
static const char *line_of(const char *out, const char *name, char *line, size_t n)
{
	char needle[64];
	snprintf(needle, sizeof(needle), " %s: ", name);
	const char *p = strstr(out, needle);
	cr_assert(p, "no line for %s in:\n%s", name, out);
	while (p > out && p[-1] != '\n')
		p--;
	size_t len = strcspn(p, "\n");
	snprintf(line, n, "%.*s", (int)(len < n ? len : n - 1), p);
	return line;
}

static void assert_check(const char *out, const char *name, const char *status,
			 const char *words)
{
	char line[1024], head[64];
	line_of(out, name, line, sizeof(line));
	snprintf(head, sizeof(head), "%-5s %s: ", status, name);
	cr_assert(!strncmp(line, head, strlen(head)), "%s is not '%s': %s\n%s", name, status, line,
		  out);
	cr_assert(!words || strstr(line, words), "%s does not say '%s': %s", name, words, line);
}

Test(doctor, healthy_host_is_all_ok_and_doctor_changes_nothing)
{
	char out[16384];
	struct stat sb;
	int rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 0, "doctor on a fresh host: %d\n%s", rc, out);
	cr_assert(stat(T.state_dir, &sb) && errno == ENOENT, "doctor made the state dir");
	assert_check(out, "state-dir", "ok", "does not exist yet");
	assert_check(out, "routers", "ok", "no VPCs");

	make_vpc(&T, "a", "10.41.0.0/16", true);
	char db[256];
	struct stat before, after;
	snprintf(db, sizeof(db), "%s/state.db", T.state_dir);
	cr_assert_eq(stat(db, &before), 0);
	rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 0, "doctor with a VPC: %d\n%s", rc, out);
	cr_assert_eq(stat(db, &after), 0);
	cr_assert(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
		  before.st_mtim.tv_nsec == after.st_mtim.tv_nsec && before.st_size == after.st_size,
		  "doctor wrote to the store");
	int lines = 0;
	for (const char *p = out; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != '\0')) {
		lines++;
		bool ok = !strncmp(p, "ok    ", 6) || !strncmp(p, "skip  agent: ", 13);
		cr_assert(ok, "not ok: %.*s\n%s", (int)strcspn(p, "\n"), p, out);
	}
	cr_assert_eq(lines, (int)NCHECKS, "one line per check:\n%s", out);
	for (size_t i = 0; i < NCHECKS - 1; i++)
		assert_check(out, checks[i], "ok", NULL);
	assert_check(out, "uplink", "ok", "up0");
	assert_check(out, "uplink", "ok", UPLINK_ADDR);
	assert_check(out, "routers", "ok", "1 VPC");
}

Test(doctor, json_lists_every_check)
{
	char out[16384];
	make_vpc(&T, "a", "10.42.0.0/16", false);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "--json doctor");
	cr_assert_eq(rc, 0, "%s", out);
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	cr_assert(j, "not JSON (%s): %s", je.text, out);
	cr_assert(json_is_true(json_object_get(j, "ok")), "%s", out);
	json_t *arr = json_object_get(j, "checks");
	cr_assert_eq(json_array_size(arr), NCHECKS, "%s", out);
	for (size_t i = 0; i < NCHECKS; i++) {
		json_t *c = json_array_get(arr, i);
		cr_assert_str_eq(json_string_value(json_object_get(c, "name")), checks[i]);
		const char *status = json_string_value(json_object_get(c, "status"));
		cr_assert_str_eq(status, i == NCHECKS - 1 ? "skip" : "ok", "%s", out);
		const char *detail = json_string_value(json_object_get(c, "detail"));
		cr_assert(detail && *detail && !strchr(detail, '\n'), "%s", out);
	}
	json_decref(j);
}

Test(doctor, without_cap_net_admin_names_it)
{
	char out[16384];
	const char *bin = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	make_vpc(&T, "a", "10.43.0.0/16", true);
	int rc = run(out, sizeof(out),
		     "setpriv --bounding-set=-net_admin --inh-caps=-net_admin %s --state-dir %s "
		     "--host-netns %s doctor", bin, T.state_dir, T.host);
	cr_assert_eq(rc, 1, "doctor without CAP_NET_ADMIN: %d\n%s", rc, out);
	assert_check(out, "capabilities", "FAIL", "CAP_NET_ADMIN missing");
	cr_assert_null(strstr(out, "CAP_SYS_ADMIN missing"), "%s", out);
	assert_check(out, "routers", "skip", "CAP_NET_ADMIN");
	assert_check(out, "state-dir", "ok", NULL);
	assert_check(out, "uplink", "ok", "up0");

	rc = run(out, sizeof(out),
		 "setpriv --bounding-set=-net_admin,-sys_admin --inh-caps=-net_admin,-sys_admin "
		 "%s --state-dir %s --host-netns %s --json doctor", bin, T.state_dir, T.host);
	cr_assert_eq(rc, 1, "doctor without either: %d\n%s", rc, out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "not JSON: %s", out);
	cr_assert(json_is_false(json_object_get(j, "ok")), "%s", out);
	json_t *caps = json_array_get(json_object_get(j, "checks"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(caps, "status")), "fail");
	cr_assert_str_eq(json_string_value(json_object_get(caps, "detail")),
			 "CAP_NET_ADMIN and CAP_SYS_ADMIN missing (run vpcnet as root)");
	json_decref(j);
}

Test(doctor, state_dir_anyone_may_write_is_reported)
{
	char out[16384];
	make_vpc(&T, "a", "10.44.0.0/16", false);
	cr_assert_eq(chmod(T.state_dir, 0777), 0);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 1, "%s", out);
	assert_check(out, "state-dir", "FAIL", "writable by others (mode 0777)");
	assert_check(out, "routers", "skip", NULL);
	chmod(T.state_dir, 0700);

	char db[256];
	snprintf(db, sizeof(db), "%s/state.db", T.state_dir);
	cr_assert_eq(chmod(db, 0666), 0);
	rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 1, "%s", out);
	assert_check(out, "state-dir", "FAIL", "state.db is writable by others (mode 0666)");
	cr_assert_eq(chmod(db, 0600), 0);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "doctor"), 0, "%s", out);
}

/* A state dir reached through a symlink is the store's as vpcnet follows it. */
Test(doctor, a_symlinked_state_dir_is_followed)
{
	char out[16384], link[300];
	make_vpc(&T, "a", "10.46.0.0/16", false);
	snprintf(link, sizeof(link), "%s-link", T.state_dir);
	unlink(link);
	cr_assert_eq(symlink(T.state_dir, link), 0);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "--state-dir %s doctor", link);
	unlink(link);
	cr_assert_eq(rc, 0, "%s", out);
	assert_check(out, "state-dir", "ok", "mode 0700");
	assert_check(out, "routers", "ok", "1 VPC");
}

/* A store of a newer vpcnet, which every command refuses, fails the routers line. */
Test(doctor, a_store_of_a_newer_vpcnet_fails)
{
	char out[16384], db[300];
	make_vpc(&T, "a", "10.47.0.0/16", false);
	snprintf(db, sizeof(db), "%s/state.db", T.state_dir);
	sqlite3 *sq = NULL;
	cr_assert_eq(sqlite3_open(db, &sq), SQLITE_OK);
	sqlite3_stmt *st = NULL;
	cr_assert_eq(sqlite3_prepare_v2(sq, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	int version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	cr_assert_eq(sqlite3_exec(sq, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	char back[64];
	snprintf(back, sizeof(back), "PRAGMA user_version = %d", version);
	cr_assert_eq(sqlite3_exec(sq, back, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(sq);
	cr_assert_eq(rc, 1, "%s", out);
	assert_check(out, "routers", "FAIL", "newer");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "doctor"), 0, "%s", out);
}

Test(doctor, router_deleted_behind_vpcnets_back_is_named)
{
	char out[16384], vpc[64], line[1024];
	make_vpc(&T, "a", "10.45.0.0/16", true);
	make_vpc(&T, "b", "10.46.0.0/16", false);
	cr_assert_eq(run(out, sizeof(out), "ip netns del vpcnet-vpc-%s-a", T.tag), 0, "%s", out);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 1, "%s", out);
	assert_check(out, "routers", "FAIL", tname(&T, "a", vpc, sizeof(vpc)));
	assert_check(out, "routers", "FAIL", "router namespace");
	cr_assert_null(strstr(line_of(out, "routers", line, sizeof(line)),
			      tname(&T, "b", vpc, sizeof(vpc))), "%s", out);

	/* b's router table deleted: named too; restore mends both */
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-b nft delete table inet vpcnet",
			 T.tag), 0, "%s", out);
	rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 1, "%s", out);
	assert_check(out, "routers", "FAIL", "2 of 2 VPC(s)");
	assert_check(out, "routers", "FAIL", "router table inet vpcnet is gone");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "restore"), 0, "%s", out);
	rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 0, "after restore: %s", out);
}

Test(doctor, host_without_default_route_reports_the_uplink)
{
	char out[16384];
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route del default", T.host), 0, "%s", out);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 1, "%s", out);
	assert_check(out, "uplink", "FAIL", "no default route");
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route add default via " INET_ADDR, T.host), 0);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s link set up0 down", T.host), 0);
	rc = vpcnet(&T, out, sizeof(out), NULL, "doctor");
	cr_assert_eq(rc, 1, "%s", out);
	/* a down device loses its routes: either way the uplink is what is named */
	assert_check(out, "uplink", "FAIL", NULL);
}

Test(doctor, usage)
{
	char out[16384];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "doctor --help"), 0);
	cr_assert(strstr(out, "Usage: vpcnet"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "doctor extra"), 2, "%s", out);
	cr_assert(strstr(out, "vpcnet doctor --help"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--host-netns ../x doctor"), 2, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--host-netns %s-gone doctor", T.tag), 2,
		     "%s", out);
	cr_assert(strstr(out, "--host-netns"), "%s", out);
}
