/* SPDX-License-Identifier: MIT */
/* Operations: concurrency, crash recovery by gc, bad input that changes nothing, the
 * default VPC, the CLI's help and exit codes. */
#include <dirent.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "tests/ns_util.h"
#include "vpcnet.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(ops, .init = setup, .fini = teardown, .timeout = 240);

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Everything of the test's that the store and the kernel hold, as one string. */
static void snapshot(char *buf, size_t n)
{
	static char part[65536];
	size_t len = 0;
	const char *cmds[] = { "--json vpc list", "--json sandbox list" };
	for (int i = 0; i < 2; i++) {
		vpcnet(&T, part, sizeof(part), NULL, "%s", cmds[i]);
		len += snprintf(buf + len, n - len, "%s", part);
	}
	len = append_tagged_netns(&T, buf, n, len);
	run(part, sizeof(part), "ip -n %s -br link", T.host);  /* -br: no peer netns names, which
								  * race with other tests */
	len += snprintf(buf + len, n - len, "%s", part);
	run(part, sizeof(part), "ip netns exec %s nft list ruleset", T.host);
	len += snprintf(buf + len, n - len, "%s", part);
	run(part, sizeof(part), "ip netns exec vpcnet-vpc-%s-a nft list ruleset", T.tag);
	len += snprintf(buf + len, n - len, "%s", part);
	run(part, sizeof(part), "ip -n vpcnet-vpc-%s-a -br link", T.tag);
	snprintf(buf + len, n - len, "%s", part);
}

Test(ops, thirty_two_concurrent_creates_get_distinct_addresses)
{
	make_vpc(&T, "a", "10.30.0.0/16", true);
	enum { N = 32 };
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			char out[4096];
			int rc = vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-c%d --vpc %s-a",
					T.tag, i, T.tag);
			if (rc)
				fprintf(stderr, "create %d: %s\n", i, out);
			_exit(rc);
		}
	}
	int failed = 0;
	for (int i = 0; i < N; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	cr_assert_eq(failed, 0, "%d of %d concurrent creates failed", failed, N);
	char out[65536];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list --vpc %s-a", T.tag), 0);
	json_t *arr = json_loads(out, 0, NULL);
	cr_assert_eq(json_array_size(arr), N);
	char seen[N][16];
	for (size_t i = 0; i < N; i++) {
		const char *ip = json_string_value(json_object_get(json_array_get(arr, i), "ip"));
		snprintf(seen[i], 16, "%s", ip);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(seen[i], seen[j], "address %s leased twice", ip);
	}
	json_decref(arr);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a nft list set inet vpcnet port_src", T.tag);
	cr_assert_eq(count(out, "\"port"), N, "every sandbox is in the router's set: %s", out);
}

static void assert_clean_after_gc(const char *what)
{
	char out[65536];
	int rc = vpcnet(&T, out, sizeof(out), NULL, "gc");
	cr_assert_eq(rc, 0, "gc after a crash at %s: %s", what, out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0);
	cr_assert_str_eq(out, "[]\n", "after a crash at %s gc left a sandbox: %s", what, out);
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	char needle[40];
	snprintf(needle, sizeof(needle), "vpcnet-sbx-%s", T.tag);
	while (d && (e = readdir(d)))
		cr_assert_null(strstr(e->d_name, needle), "after a crash at %s: %s left", what,
			       e->d_name);
	if (d)
		closedir(d);
}

Test(ops, gc_repairs_a_crash_at_any_point_of_a_sandbox)
{
	make_vpc(&T, "a", "10.31.0.0/16", true);
	/* early-ns: its namespace made (beside the row's transaction) but not yet named */
	const char *create_points[] = { "sandbox-create:early-ns", "sandbox-create:row",
					"sandbox-create:netns", "sandbox-create:veth",
					"sandbox-create:addr" };
	const char *delete_points[] = { "sandbox-delete:elements", "sandbox-delete:kernel" };
	char out[65536], env[128];
	for (size_t i = 0; i < sizeof(create_points) / sizeof(*create_points); i++) {
		snprintf(env, sizeof(env), "VPCNET_FAILPOINT=%s", create_points[i]);
		int rc = vpcnet(&T, out, sizeof(out), env, "sandbox create %s-x --vpc %s-a --ip 10.31.0.9",
				T.tag, T.tag);
		cr_assert_eq(rc, 99, "the failpoint %s did not fire: %d %s", create_points[i], rc, out);
		assert_clean_after_gc(create_points[i]);
		/* the address was released and the name is free */
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL,
				    "sandbox create %s-x --vpc %s-a --ip 10.31.0.9", T.tag, T.tag), 0,
			     "after %s: %s", create_points[i], out);
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s-x", T.tag), 0);
	}
	for (size_t i = 0; i < sizeof(delete_points) / sizeof(*delete_points); i++) {
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-y --vpc %s-a",
				    T.tag, T.tag), 0, "%s", out);
		snprintf(env, sizeof(env), "VPCNET_FAILPOINT=%s", delete_points[i]);
		int rc = vpcnet(&T, out, sizeof(out), env, "sandbox delete %s-y", T.tag);
		cr_assert_eq(rc, 99, "the failpoint %s did not fire: %d %s", delete_points[i], rc, out);
		assert_clean_after_gc(delete_points[i]);
	}
	/* a crash in the middle of a reap (gc's, here): the next gc finishes it */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-y --vpc %s-a",
			    T.tag, T.tag), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s-y", T.tag), 0, "%s", out);
	int rc = vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=sandbox-reap:elements", "gc");
	cr_assert_eq(rc, 99, "the failpoint sandbox-reap:elements did not fire: %d %s", rc, out);
	assert_clean_after_gc("sandbox-reap:elements");
	/* and the router holds no port and no element of any of them */
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a ip -o link", T.tag);
	cr_assert_eq(count(out, "port"), 0, "a router port survived: %s", out);
	const char *sets[] = { "set inet vpcnet ports", "set inet vpcnet port_src",
			       "set inet vpcnet sgm1", "map inet vpcnet out1" };
	for (int i = 0; i < 4; i++) {
		run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a nft list %s", T.tag, sets[i]);
		cr_assert_eq(count(out, "elements"), 0, "an element of a sandbox survived: %s", out);
	}
}

Test(ops, gc_repairs_a_crash_at_any_point_of_a_vpc)
{
	const char *points[] = { "vpc-create:row", "vpc-create:netns", "vpc-transit:veth",
				 "vpc-create:router-table" };
	const char *delete_points[] = { "vpc-delete:host-elements", "vpc-delete:transit",
					"vpc-delete:kernel" };
	char out[65536], env[128], before[65536];
	snapshot(before, sizeof(before));
	for (size_t i = 0; i < sizeof(points) / sizeof(*points); i++) {
		snprintf(env, sizeof(env), "VPCNET_FAILPOINT=%s", points[i]);
		int rc = vpcnet(&T, out, sizeof(out), env, "vpc create %s-a --cidr 10.32.0.0/16 --nat",
				T.tag);
		cr_assert_eq(rc, 99, "the failpoint %s did not fire: %d %s", points[i], rc, out);
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
		char after[65536];
		snapshot(after, sizeof(after));
		cr_assert_str_eq(after, before, "gc after a crash at %s left something", points[i]);
	}
	for (size_t i = 0; i < sizeof(delete_points) / sizeof(*delete_points); i++) {
		make_vpc(&T, "a", "10.32.0.0/16", true);
		snprintf(env, sizeof(env), "VPCNET_FAILPOINT=%s", delete_points[i]);
		int rc = vpcnet(&T, out, sizeof(out), env, "vpc delete %s-a", T.tag);
		cr_assert_eq(rc, 99, "the failpoint %s did not fire: %d %s", delete_points[i], rc, out);
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
		char after[65536];
		snapshot(after, sizeof(after));
		cr_assert_str_eq(after, before, "gc after a crash at %s left something:\n%s\n---\n%s",
				 delete_points[i], before, after);
	}
}

Test(ops, gc_removes_a_port_whose_namespace_was_held)
{
	make_vpc(&T, "a", "10.33.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	/* a process keeps the sandbox's namespace alive past its deletion */
	int ready[2], go[2];
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	pid_t holder = fork();
	if (holder == 0) {
		char c;
		close(go[1]);
		close(ready[0]);
		int fd = open(s.netns, O_RDONLY);
		if (fd < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		if (read(go[0], &c, 1) < 0) { /* held until a byte comes or the pipe closes */ }
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	char c, out[8192];
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", s.id), 0, "%s", out);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a ip -o link", T.tag);
	cr_assert_eq(count(out, "port"), 1, "the held namespace keeps its port: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json gc"), 0, "%s", out);
	cr_assert(strstr(out, "\"ports_removed\": 1"), "%s", out);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s-a ip -o link", T.tag);
	cr_assert_eq(count(out, "port"), 0, "gc removed the orphan port: %s", out);
	close(go[1]);
	waitpid(holder, NULL, 0);
}

struct bad {
	const char *args;  /* "%1$s" stands for the tag */
	int code;
	const char *says;  /* what the message must name */
};

Test(ops, bad_input_is_refused_and_changes_nothing)
{
	make_vpc(&T, "a", "10.34.0.0/16", true);
	make_vpc(&T, "tiny", "10.35.0.0/28", false);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	char out[8192];
	/* fill the /28: 16 - 4 reserved - broadcast = 11 addresses */
	for (int i = 0; i < 11; i++)
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-f%d --vpc %s-tiny",
				    T.tag, i, T.tag), 0, "%s", out);
	const struct bad cases[] = {
		{ "vpc create %1$s-b --cidr 10.0.0.0/8", 2, "10.0.0.0/8" },
		{ "vpc create %1$s-b --cidr 10.0.0.0/30", 2, "/16 to /28" },
		{ "vpc create %1$s-b --cidr banana", 2, "banana" },
		{ "vpc create %1$s-b --cidr 10.0.0.1/16", 2, "host bits" },
		{ "vpc create Bad_%1$s --cidr 10.0.0.0/16", 2, "Bad_" },
		{ "vpc create %1$s-0123456789012345678901234567890 --cidr 10.0.0.0/16", 2, "1-32" },
		{ "vpc create %1$s-b", 2, "--cidr" },
		{ "vpc create %1$s-a --cidr 10.0.0.0/16", 4, "already exists" },
		{ "vpc create %1$s-b --cidr 10.0.0.0/16 --nat --uplink nosuch0", 2, "nosuch0" },
		{ "vpc create %1$s-b --cidr 10.0.0.0/16 --nat --uplink 0123456789abcdef", 2, "15" },
		{ "sandbox create %1$s-n --vpc %1$s-nosuch", 3, "not found" },
		{ "sandbox create %1$s-n --vpc %1$s-a --ip 10.99.0.5", 2, "outside" },
		{ "sandbox create %1$s-n --vpc %1$s-a --ip 10.34.0.1", 2, "reserved" },
		{ "sandbox create %1$s-n --vpc %1$s-a --ip 10.34.0.300", 2, "10.34.0.300" },
		{ "sandbox create %1$s-n --vpc %1$s-a --ip 10.34.0.4", 4, "10.34.0.4" },
		{ "sandbox create %1$s-s1 --vpc %1$s-a", 4, "already exists" },
		{ "sandbox create %1$s-n --vpc %1$s-a --ifname 0123456789abcdef", 2, "--ifname" },
		{ "sandbox create %1$s-n --vpc %1$s-a --netns /run/netns/%1$s-nope", 2, "does not exist" },
		{ "sandbox create %1$s-n --vpc %1$s-a --netns run/netns/%1$s-h", 2, "absolute" },
		{ "sandbox create %1$s-n! --vpc %1$s-a", 2, "sandbox id" },
		{ "sandbox create %1$s-n --vpc %1$s-tiny", 4, "exhausted" },
		{ "sandbox show %1$s-nosuch", 3, "not found" },
		{ "vpc show %1$s-nosuch", 3, "not found" },
		{ "vpc delete %1$s-a", 4, "--force" },
		{ "vpc frobnicate", 2, "frobnicate" },
		{ "sandbox create", 2, "ID" },
		{ "sandbox create %1$s-n --bogus", 2, "--bogus" },
		{ "nosuchnoun", 2, "nosuchnoun" },
	};
	static char before[1 << 18], after[1 << 18];
	snapshot(before, sizeof(before));
	/* a create makes its namespace beside its transaction or after it (by load): both */
	const char *ways[] = { "VPCNET_FAILPOINT=create:early-ns", "VPCNET_FAILPOINT=create:late-ns" };
	for (size_t k = 0; k < 2 * sizeof(cases) / sizeof(*cases); k++) {
		size_t i = k % (sizeof(cases) / sizeof(*cases));
		char args[512];
		with_tag(&T, cases[i].args, args, sizeof(args));
		int rc = vpcnet(&T, out, sizeof(out), ways[k / (sizeof(cases) / sizeof(*cases))],
				"%s", args);
		cr_expect_eq(rc, cases[i].code, "`%s` exited %d, not %d: %s", args, rc, cases[i].code,
			     out);
		cr_expect(strstr(out, cases[i].says), "`%s` must say '%s': %s", args, cases[i].says,
			  out);
		snapshot(after, sizeof(after));
		size_t at = 0;
		while (before[at] && before[at] == after[at])
			at++;
		cr_assert_str_eq(after, before, "`%s` changed something, from: %.300s\nwas: %.300s",
				 args, after + (at > 100 ? at - 100 : 0), before + (at > 100 ? at - 100 : 0));
	}
}

/* A create makes its namespace beside its store transaction when a CPU is idle, after it
 * otherwise: either way the sandbox works, and its namespace is where its row says. */
Test(ops, a_sandbox_works_whichever_way_its_namespace_was_made)
{
	char inet[256], out[4096];
	struct listener l;
	nspath(T.inet, inet, sizeof(inet));
	listen_tcp(&T, inet, 8080, &l);
	make_vpc(&T, "a", "10.36.0.0/16", true);
	const char *ways[] = { "create:early-ns", "create:late-ns" };
	for (int i = 0; i < 2; i++) {
		char id[64], env[64], ns[256];
		snprintf(id, sizeof(id), "%s-w%d", T.tag, i);
		snprintf(env, sizeof(env), "VPCNET_FAILPOINT=%s", ways[i]);
		cr_assert_eq(vpcnet(&T, out, sizeof(out), env, "sandbox create %s --vpc %s-a", id,
				    T.tag), 0, "%s: %s", ways[i], out);
		snprintf(ns, sizeof(ns), "/run/netns/vpcnet-sbx-%s", id);
		cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, NULL, 0), P_OK, "%s", ways[i]);
	}
	cr_assert_eq(listener_count(&l), 2);
}

Test(ops, the_default_vpc_is_made_on_first_use)
{
	if (access("/run/netns/vpcnet-vpc-default", F_OK) == 0)
		cr_skip_test("a VPC named default exists on this host already");
	char out[8192];
	int rc = vpcnet(&T, out, sizeof(out), NULL, "--json sandbox create %s-d", T.tag);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "\"vpc\": \"default\"") && strstr(out, "172.31.0.4/16"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show default"), 0, "%s", out);
	cr_assert(strstr(out, "\"nat\": true") && strstr(out, "172.31.0.0/16"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "vpc delete --force default"), 0, "%s", out);
}

Test(ops, help_on_every_level)
{
	const char *levels[] = { "--help", "vpc --help", "vpc create --help", "sandbox --help",
				 "sandbox create -h", "sandbox exec --help", "gc --help",
				 "version --help" };
	char out[8192];
	for (size_t i = 0; i < sizeof(levels) / sizeof(*levels); i++) {
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "%s", levels[i]), 0, "%s", levels[i]);
		cr_assert(strstr(out, "Usage: vpcnet"), "`%s`: %s", levels[i], out);
	}
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "%s", ""), 2, "no noun is bad usage");
}

/* A usage error is one line: what was wrong, and which --help tells more. */
Test(ops, a_usage_error_is_one_line_that_points_at_help)
{
	const struct { const char *args, *bad, *help; } cases[] = {
		{ "", "a noun is missing", "'vpcnet --help'" },
		{ "--bogus", "'--bogus'", "'vpcnet --help'" },
		{ "sandbox create x --bogus", "'--bogus'", "'vpcnet sandbox --help'" },
		{ "instance create", "one NAME", "'vpcnet instance --help'" },
		{ "vpc create x", "--cidr", "'vpcnet vpc --help'" },
		{ "sg rule add x egress", "wrong number", "'vpcnet sg --help'" },
		{ "pool fill x 0", "N from 1", "'vpcnet pool --help'" },
		{ "gc now", "no arguments", "'vpcnet gc --help'" },
		{ "vpc create -xy n", "'-x'", "'vpcnet vpc --help'" },
		{ "version now", "no arguments", "'vpcnet --help'" },
		{ "oci-hook frob", "frob", "'vpcnet oci-hook --help'" },
	};
	char out[8192];
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "%s", cases[i].args), 2, "`%s`: %s",
			     cases[i].args, out);
		char *nl = strchr(out, '\n');
		cr_assert(nl && !nl[1], "`%s` printed more than one line: %s", cases[i].args, out);
		cr_assert(!strncmp(out, "vpcnet: ", 8) && strstr(out, cases[i].bad) &&
			  strstr(out, cases[i].help), "`%s`: %s", cases[i].args, out);
	}
}

/* A VPC made before security groups existed (router layout 1, as a migrated version 1 store
 * marks it) can be shown and deleted; everything that would need its group chains is
 * refused, saying why, and changes nothing. */
Test(ops, a_vpc_of_an_older_layout_can_only_be_deleted)
{
	char vpc[64], out[4096], path[300];
	make_vpc(&T, "a", "10.61.0.0/16", true);
	tname(&T, "a", vpc, sizeof(vpc));
	snprintf(path, sizeof(path), "%s/state.db", T.state_dir);
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "UPDATE vpcs SET layout = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	int rc = vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-s1 --vpc %s", T.tag, vpc);
	cr_assert_eq(rc, 1, "%d %s", rc, out);
	cr_assert(strstr(out, "made by an older vpcnet"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create web --vpc %s", vpc), 1, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox list"), 0);
	cr_assert_null(strstr(out, "-s1"), "nothing was made: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "vpc show %s", vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "vpc delete %s", vpc), 0, "%s", out);
	cr_assert_neq(run(out, sizeof(out), "ip netns pids vpcnet-vpc-%s", vpc), 0,
		      "its router is gone");
}

/* Without the privileges it needs, vpcnet says so in one line, and touches nothing. */
Test(ops, without_privileges_one_clear_line)
{
	char out[4096], dir[160];
	snprintf(dir, sizeof(dir), "%s-nobody", T.state_dir);
	const char *bin = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	int rc = run(out, sizeof(out), "setpriv --reuid=65534 --regid=65534 --clear-groups %s"
		     " --state-dir %s vpc list", bin, dir);
	cr_assert_eq(rc, 1, "%d: %s", rc, out);
	cr_assert(strstr(out, "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"), "%s", out);
	cr_assert_null(strchr(out, '\n') == out + strlen(out) - 1 ? NULL : strchr(out, '\n'),
		       "one line: %s", out);
	cr_assert_neq(access(dir, F_OK), 0, "the state directory was not made");
}

/* gc removes refusal counters whose port is gone (a refusal counted after a delete removed
 * them; simulated here by adding one for a port that never existed) and keeps the others. */
Test(ops, gc_sweeps_counters_of_ports_that_are_gone)
{
	char out[8192], vpc[64];
	make_vpc(&T, "a", "10.62.0.0/16", true);
	tname(&T, "a", vpc, sizeof(vpc));
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	const char *ns = strrchr(s.netns, '/') + 1;
	run(out, sizeof(out), "ip netns exec %s ip addr add 10.62.0.99/16 dev eth0", ns);
	run(out, sizeof(out), "ip netns exec %s busybox ping -c 2 -W 1 -I 10.62.0.99 10.62.0.1", ns);
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft add element inet vpcnet"
			 " drops_out { \"port999\" }", vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json gc"), 0, "%s", out);
	cr_assert(strstr(out, "\"elements_removed\": 1"), "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list set inet vpcnet"
			 " drops_out", vpc), 0);
	cr_assert_null(strstr(out, "port999"), "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox show %s", s.id), 0);
	json_t *j = json_loads(out, 0, NULL);
	json_t *spoofed = json_object_get(json_object_get(j, "drops"), "spoofed");
	cr_assert(json_is_integer(spoofed) && json_integer_value(spoofed) > 0,
		  "the live port's count stays: %s", out);
	json_decref(j);
}

/* Kernels before 6.3 have no NFT_MSG_DESTROYSETELEM: idempotent deletes then drop what the
 * kernel says is gone and resend.  That path, forced, still deletes, twice. */
Test(ops, deletes_are_idempotent_without_destroy)
{
	char out[4096];
	make_vpc(&T, "a", "10.63.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=nft:no-destroy",
			    "sandbox delete %s", s.id), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), "VPCNET_FAILPOINT=nft:no-destroy",
			    "sandbox delete %s", s.id), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox list"), 0);
	cr_assert_null(strstr(out, s.id), "%s", out);
	cr_assert_neq(access(s.netns, F_OK), 0, "its namespace is gone");
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* A handle keeps the sockets whose release waits for the kernel to free deleted elements
 * (a reap's, here) and lets them go at close: itself, or (defer_release) through a child
 * that exits. */
Test(ops, sockets_that_freed_rules_are_released_at_close)
{
	char vpc[64], id[80];
	tname(&T, "a", vpc, sizeof(vpc));
	for (int defer = 0; defer < 2; defer++) {
		struct vpcnet *vn;
		struct vpcnet_error err;
		struct vpcnet_config cfg = { .state_dir = T.state_dir, .host_netns = T.host,
					     .defer_release = defer };
		int before = open_fds();
		cr_assert_eq(vpcnet_open(&vn, &cfg, &err), 0, "%s", err.msg);
		int opened = open_fds();
		if (!defer) {
			struct vpcnet_vpc_spec vs = { .name = vpc, .cidr = "10.51.0.0/16" };
			cr_assert_eq(vpcnet_vpc_create(vn, &vs, NULL, &err), 0, "%s", err.msg);
		}
		for (int i = 0; i < 3; i++) {
			snprintf(id, sizeof(id), "%s-r%d", T.tag, i);
			struct vpcnet_sandbox_spec ss = { .id = id, .vpc = vpc };
			cr_assert_eq(vpcnet_sandbox_create(vn, &ss, NULL, &err), 0, "%s", err.msg);
		}
		cr_assert_eq(open_fds(), opened, "a create deletes nothing: nothing kept");
		for (int i = 0; i < 3; i++) {
			snprintf(id, sizeof(id), "%s-r%d", T.tag, i);
			cr_assert_eq(vpcnet_sandbox_delete(vn, id, &err), 0, "%s", err.msg);
		}
		cr_assert_eq(open_fds(), opened, "a delete revokes, deletes nothing: nothing kept");
		struct vpcnet_gc_report rep;
		cr_assert_eq(vpcnet_gc(vn, &rep, &err), 0, "%s", err.msg);
		cr_assert_eq(rep.sandboxes_reaped, 3);
		cr_assert_gt(open_fds(), opened, "the reap's socket is kept");
		vpcnet_close(vn);
		cr_assert_eq(open_fds(), before, "all released at close");
		/* defer_release: a grandchild closes them, and no child is left to the caller */
		cr_assert_leq(waitpid(-1, NULL, WNOHANG), 0, "a child of vpcnet's was left");
	}
}

/* Ports in the router's @revoked set. */
static int revoked(const char *vpc)
{
	char out[16384];
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list set inet vpcnet revoked", vpc);
	return count(out, "\"port");
}

/* A delete revokes; the 32nd revoked member of a VPC makes its delete reap them all (their
 * elements and flows go, their addresses come back); a full subnet reaps too. */
Test(ops, deletes_are_reaped_together)
{
	char vpc[64], out[8192];
	make_vpc(&T, "a", "10.52.0.0/24", true);
	tname(&T, "a", vpc, sizeof(vpc));
	for (int i = 0; i < 32; i++)
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-r%d --vpc %s",
				    T.tag, i, vpc), 0, "%s", out);
	for (int i = 0; i < 31; i++)
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s-r%d", T.tag, i), 0,
			     "%s", out);
	cr_assert_eq(revoked(vpc), 31, "each delete revokes its port");
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list set inet vpcnet ports", vpc);
	cr_assert_eq(count(out, "\"port"), 32, "their elements wait to be reaped: %s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s-r31", T.tag), 0, "%s",
		     out);
	cr_assert_eq(revoked(vpc), 0, "the 32nd delete reaped them all");
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list set inet vpcnet ports", vpc);
	cr_assert_eq(count(out, "elements"), 0, "an element survived the reap: %s", out);
	run(out, sizeof(out), "ip netns exec vpcnet-vpc-%s nft list set inet vpcnet port_src", vpc);
	cr_assert_eq(count(out, "elements"), 0, "an element survived the reap: %s", out);

	/* a /28 leases 11 addresses: full, one deleted (held), and one more created */
	make_vpc(&T, "b", "10.53.0.0/28", true);
	tname(&T, "b", vpc, sizeof(vpc));
	for (int i = 0; i < 11; i++)
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-f%d --vpc %s",
				    T.tag, i, vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s-f3", T.tag), 0, "%s",
		     out);
	cr_assert_eq(revoked(vpc), 1);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox create %s-g --vpc %s",
			    T.tag, vpc), 0, "a full subnet reaps what deleted sandboxes hold: %s",
		     out);
	cr_assert(strstr(out, "\"10.53.0.7\""), "the freed address: %s", out);
	cr_assert_eq(revoked(vpc), 0);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s-h --vpc %s", T.tag,
			    vpc), 4, "full again: %s", out);
	cr_assert(strstr(out, "exhausted"), "%s", out);
}
