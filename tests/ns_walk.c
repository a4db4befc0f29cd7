/* SPDX-License-Identifier: MIT */
/* Every step, both ways: for each operation that changes something, the failpoints it passes
 * are traced (VPCNET_FAILPOINT_TRACE), and then, for each of them, the operation is run again
 * from the same start with that step failing (NAME=error) and with the process dying there
 * (NAME: _exit, as a kill -9 would).  After each: `gc` exits 0, the kernel matches the store
 * (tests/invariants.c: namespaces, ports, routes, neighbours, every element, the host table,
 * no address leased twice), the operation then runs to success, and deleting everything
 * leaves nothing.  A failpoint in the sources that no operation passes fails the walk. */
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "tests/ns_util.h"

static struct topo T;
static pid_t holder = -1;  /* a process in a namespace of its own, for the OCI hook */
static char conf_path[128];

static void setup(void)
{
	topo_setup(&T);
	int go[2];
	cr_assert_eq(pipe(go), 0);
	holder = fork();
	cr_assert_geq(holder, 0);
	if (holder == 0) {
		close(go[0]);
		if (unshare(CLONE_NEWNET))
			_exit(1);
		close(go[1]);
		pause();
		_exit(0);
	}
	close(go[1]);
	char c;
	cr_assert_eq(read(go[0], &c, 1), 0, "the holder is in its namespace");
	close(go[0]);
	snprintf(conf_path, sizeof(conf_path), "/tmp/vpcnet-walk-%s.json", T.tag);
	FILE *f = fopen(conf_path, "w");
	cr_assert(f);
	fprintf(f, "{\"cniVersion\":\"1.0.0\",\"name\":\"walk\",\"type\":\"vpcnet\",\"vpc\":\"%s-w\","
		"\"stateDir\":\"%s\",\"hostNetns\":\"%s\"}", T.tag, T.state_dir, T.host);
	fclose(f);
}

static void teardown(void)
{
	if (holder > 0) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}
	unlink(conf_path);
	topo_teardown(&T);
}

TestSuite(walk, .init = setup, .fini = teardown, .timeout = 900);

/* An operation, as shell commands with {V} (the vpcnet CLI with the test's state dir and
 * host), {B} (the binary), {T} (the tag), {W} (the VPC "<tag>-w"), {H} (the host
 * namespace), {C} (the CNI config file) and {P} (the holder's pid). */
struct op {
	const char *name;
	const char *setup;  /* "&&"-joined; must succeed */
	const char *run;
	const char *trace_env; /* also set for the trace run (to reach a path), or NULL */
};

#define VPC "{V} vpc create {W} --cidr 10.70.0.0/16 --nat"
#define CNI(cmd) "CNI_COMMAND=" cmd " CNI_CONTAINERID={T}c CNI_NETNS=/run/netns/{T}-c" \
		 " CNI_IFNAME=eth0 CNI_PATH=/nonexistent {B} < {C}"
#define OCI(verb) "printf '{\"id\":\"{T}o\",\"pid\":{P}}' | {V} oci-hook " verb

static const struct op ops[] = {
	{ "vpc create", "true", VPC, NULL },
	{ "vpc delete", VPC, "{V} vpc delete {W}", NULL },
	{ "vpc delete --force", VPC " && {V} sandbox create {T}-s --vpc {W} && "
	  "{V} instance create {T}-i --vpc {W} && {V} pool fill {W} 1",
	  "{V} vpc delete --force {W}", NULL },
	{ "sandbox create", VPC " && {V} sg create app --vpc {W} && "
	  "{V} sg rule add app egress tcp:80 0.0.0.0/0",
	  "{V} sandbox create {T}-s --vpc {W} --sg app", "VPCNET_FAILPOINT=create:early-ns" },
	{ "sandbox create (late namespace)", VPC,
	  "{V} sandbox create {T}-s --vpc {W}", "VPCNET_FAILPOINT=create:late-ns" },
	{ "sandbox create from the pool", VPC " && {V} pool fill {W} 1",
	  "{V} sandbox create {T}-s --vpc {W}", NULL },
	{ "sandbox create --tap --control-port", VPC,
	  "{V} sandbox create {T}-s --vpc {W} --tap tap0 --control-port 22", NULL },
	{ "sandbox delete", VPC " && {V} sandbox create {T}-s --vpc {W} --tap tap0",
	  "{V} sandbox delete {T}-s", NULL },
	{ "sandbox set-sg", VPC " && {V} sg create a --vpc {W} && {V} sg create b --vpc {W} && "
	  "{V} sg rule add b egress udp:53 10.0.0.0/8 && {V} sandbox create {T}-s --vpc {W} --sg a",
	  "{V} sandbox set-sg {T}-s b", NULL },
	{ "instance create", VPC " && {V} sg create db --vpc {W} && "
	  "{V} sg rule add db ingress tcp:5432 sg:default",
	  "{V} instance create {T}-i --vpc {W} --sg db", NULL },
	{ "instance delete", VPC " && {V} instance create {T}-i --vpc {W}",
	  "{V} instance delete {T}-i", NULL },
	{ "instance set-sg", VPC " && {V} sg create db --vpc {W} && "
	  "{V} instance create {T}-i --vpc {W}", "{V} instance set-sg {T}-i db", NULL },
	{ "sg create", VPC, "{V} sg create g --vpc {W}", NULL },
	{ "sg delete", VPC " && {V} sg create g --vpc {W} && {V} sg rule add g egress tcp:1 sg:g",
	  "{V} sg delete g --vpc {W}", NULL },
	{ "sg rule add", VPC " && {V} sg create g --vpc {W} && "
	  "{V} sandbox create {T}-s --vpc {W} --sg g",
	  "{V} sg rule add g egress tcp:443 10.1.0.0/16", NULL },
	{ "sg rule del", VPC " && {V} sg create g --vpc {W} && "
	  "{V} sg rule add g egress tcp:443 10.1.0.0/16 && {V} sandbox create {T}-s --vpc {W} --sg g",
	  "{V} sg rule del g egress tcp:443 10.1.0.0/16", NULL },
	{ "pool fill", VPC, "{V} pool fill {W} 2", NULL },
	{ "pool drain", VPC " && {V} pool fill {W} 2", "{V} pool drain {W}", NULL },
	{ "CNI ADD", VPC " && ip netns add {T}-c", CNI("ADD"), NULL },
	{ "CNI DEL", VPC " && ip netns add {T}-c && " CNI("ADD") " >/dev/null", CNI("DEL"), NULL },
	{ "OCI hook create", VPC, OCI("create --vpc {W}"), NULL },
	{ "OCI hook delete", VPC " && " OCI("create --vpc {W}") " >/dev/null", OCI("delete"),
	  NULL },
	{ "gc of a deleted sandbox", VPC " && {V} sandbox create {T}-s --vpc {W} && "
	  "{V} sandbox delete {T}-s", "{V} gc", NULL },
	{ "gc of a half-made sandbox", VPC " && { VPCNET_FAILPOINT=sandbox-create:addr "
	  "{V} sandbox create {T}-s --vpc {W} || true; }", "{V} gc", NULL },
	{ "restore after a reboot", VPC " && {V} sg create app --vpc {W} && "
	  "{V} sandbox create {T}-s --vpc {W} --sg app && {V} instance create {T}-i --vpc {W} && "
	  "{V} pool fill {W} 1 && ip netns del vpcnet-vpc-{W} && ip netns del vpcnet-ins-{T}-i && "
	  "ip netns del vpcnet-sbx-{T}-s && ip netns exec {H} nft flush ruleset", "{V} restore",
	  NULL },
	{ "restore of a deleted router", VPC " && {V} sg create app --vpc {W} && "
	  "{V} sandbox create {T}-s --vpc {W} --sg app --tap tap0 && "
	  "{V} instance create {T}-i --vpc {W} && ip netns del vpcnet-vpc-{W}", "{V} restore",
	  NULL },
	{ "restore of a deleted transit link", VPC " && {V} sandbox create {T}-s --vpc {W} && "
	  "ip -n {H} link del $({V} --json vpc show {W} | grep host_if | cut -d\\\" -f4)", "{V} restore", NULL },
};
#define NOPS (sizeof(ops) / sizeof(*ops))

/* @tmpl with its placeholders filled in. */
static void expand(const char *tmpl, char *out, size_t n)
{
	char v[512], w[64], p[16];
	const char *bin = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	snprintf(v, sizeof(v), "%s --state-dir %s --host-netns %s", bin, T.state_dir, T.host);
	snprintf(w, sizeof(w), "%s-w", T.tag);
	snprintf(p, sizeof(p), "%d", (int)holder);
	const struct { const char *key, *val; } subs[] = {
		{ "{V}", v }, { "{B}", bin }, { "{T}", T.tag }, { "{W}", w }, { "{H}", T.host },
		{ "{C}", conf_path }, { "{P}", p },
	};
	size_t len = 0;
	for (const char *s = tmpl; *s && len + 1 < n;) {
		size_t i = 0;
		for (; i < sizeof(subs) / sizeof(*subs); i++)
			if (!strncmp(s, subs[i].key, strlen(subs[i].key)))
				break;
		if (i < sizeof(subs) / sizeof(*subs)) {
			len += snprintf(out + len, n - len, "%s", subs[i].val);
			s += strlen(subs[i].key);
		} else {
			out[len++] = *s++;
		}
	}
	out[len < n ? len : n - 1] = '\0';
}

/* Runs @tmpl (expanded) with `sh -c`, with "NAME=value" @env (may be NULL) and a time limit;
 * output to @out.  Returns the exit code (the shell's: the last command's). */
static int sh(const char *env, const char *tmpl, char *out, size_t n)
{
	char cmd[4096];
	expand(tmpl, cmd, sizeof(cmd));
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		char e[512];
		snprintf(e, sizeof(e), "%s", env ? env : "");
		for (char *save, *kv = strtok_r(e, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
			putenv(kv);
		execl("/usr/bin/timeout", "timeout", "120", "/bin/sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	size_t got = 0;
	ssize_t r;
	char scratch[4096];
	while ((r = read(pfd[0], got + 1 < n ? out + got : scratch,
			 got + 1 < n ? n - 1 - got : sizeof(scratch))) > 0)
		if (got + 1 < n)
			got += r;
	out[got] = '\0';
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The pool entries' namespaces (their names carry no tag): from the store. */
static void pool_paths(char paths[][128], int *n, int max)
{
	char db[256];
	sqlite3 *sq;
	sqlite3_stmt *st;
	snprintf(db, sizeof(db), "%s/state.db", T.state_dir);
	if (sqlite3_open_v2(db, &sq, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(sq);
		return;
	}
	if (sqlite3_prepare_v2(sq, "SELECT netns FROM members WHERE kind = 'pool'", -1, &st,
			       NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && *n < max)
			snprintf(paths[(*n)++], 128, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(sq);
}

/* Deletes every VPC (and the test's CNI namespace), then asserts nothing is left: no row,
 * no namespace, no transit link, no host table. */
static void delete_all_and_check(const char *what)
{
	char out[65536], paths[32][128];
	int np = 0;
	pool_paths(paths, &np, 32);
	sh(NULL, "for v in $({V} --json vpc list | grep '\"name\"' | cut -d'\"' -f4); do "
	   "{V} vpc delete --force $v || exit 1; done", out, sizeof(out));
	sh(NULL, "ip netns del {T}-c 2>/dev/null; true", out, sizeof(out));
	cr_assert_eq(sh(NULL, "{V} --json vpc list", out, sizeof(out)), 0, "%s", out);
	cr_assert_str_eq(out, "[]\n", "%s: deleting everything left a VPC", what);
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	while (d && (e = readdir(d)))
		cr_assert(!(tagged(&T, e->d_name) && !strncmp(e->d_name, "vpcnet-", 7)),
			  "%s: namespace %s left", what, e->d_name);
	if (d)
		closedir(d);
	for (int i = 0; i < np; i++)
		cr_assert_neq(access(paths[i], F_OK), 0, "%s: pool namespace %s left", what,
			      paths[i]);
	sh(NULL, "ip -n {H} -br link", out, sizeof(out));
	cr_assert_null(strstr(out, "vpct"), "%s: a transit link left: %s", what, out);
	cr_assert_neq(sh(NULL, "ip netns exec {H} nft list table inet vpcnet_host", out,
			 sizeof(out)), 0, "%s: the host table left: %s", what, out);
	sh(NULL, "ip -n {H} -br link", out, sizeof(out));
}


/* The failpoints @op passes, in order, each once; returns how many. */
static int trace(const struct op *op, char names[][64], int max)
{
	char out[65536], env[512], file[128];
	snprintf(file, sizeof(file), "/tmp/vpcnet-walk-%s.trace", T.tag);
	unlink(file);
	cr_assert_eq(sh(NULL, op->setup, out, sizeof(out)), 0, "%s: setup: %s", op->name, out);
	snprintf(env, sizeof(env), "VPCNET_FAILPOINT_TRACE=%s%s%s", file,
		 op->trace_env ? " " : "", op->trace_env ? op->trace_env : "");
	cr_assert_eq(sh(env, op->run, out, sizeof(out)), 0, "%s: %s", op->name, out);
	delete_all_and_check(op->name);
	int n = 0;
	FILE *f = fopen(file, "r");
	char line[128];
	while (f && fgets(line, sizeof(line), f) && n < max) {
		line[strcspn(line, "\n")] = '\0';
		int i = 0;
		while (i < n && strcmp(names[i], line))
			i++;
		if (i == n)
			snprintf(names[n++], 64, "%s", line);
	}
	if (f)
		fclose(f);
	unlink(file);
	return n;
}

/* One step of @op failing (@crash: the process dies there), then the checks. */
static void walk_one(const struct op *op, const char *fp, bool crash)
{
	char out[65536], env[160], what[256];
	snprintf(what, sizeof(what), "%s, %s at %s", op->name, crash ? "killed" : "failing", fp);
	snprintf(env, sizeof(env), "VPCNET_FAILPOINT=%s%s", fp, crash ? "" : "=error");
	cr_assert_eq(sh(NULL, op->setup, out, sizeof(out)), 0, "%s: setup: %s", what, out);
	int rc = sh(env, op->run, out, sizeof(out));
	if (crash)
		cr_assert_eq(rc, 99, "%s: the failpoint did not fire (%d): %s", what, rc, out);
	else
		cr_assert(rc != 0 && rc != 99 && strstr(out, "failpoint"), "%s: the step's failure"
			  " must fail the operation, and say so (%d): %s", what, rc, out);
	cr_assert_eq(sh(NULL, "{V} gc", out, sizeof(out)), 0, "%s: gc: %s", what, out);
	assert_invariants(&T, what);
	cr_assert_eq(sh(NULL, op->run, out, sizeof(out)), 0, "%s: run again: %s", what, out);
	assert_invariants(&T, what);
	delete_all_and_check(what);
}

static void walk(size_t i)
{
	char names[32][64];
	int n = trace(&ops[i], names, 32);
	cr_assert_gt(n, 0, "%s passes no failpoint", ops[i].name);
	for (int f = 0; f < n; f++)
		for (int crash = 0; crash < 2; crash++)
			walk_one(&ops[i], names[f], crash);
	cr_log_info("walk: %s: %d failpoint(s) x 2 ways, 0 leaks", ops[i].name, n);
	fprintf(stderr, "walk: %-36s %2d failpoint(s) x 2 ways, 0 leaks\n", ops[i].name, n);
}

#define WALK(n, id) Test(walk, id) { walk(n); }
WALK(0, vpc_create)
WALK(1, vpc_delete)
WALK(2, vpc_delete_force)
WALK(3, sandbox_create)
WALK(4, sandbox_create_late_namespace)
WALK(5, sandbox_create_from_the_pool)
WALK(6, sandbox_create_tap_control_port)
WALK(7, sandbox_delete)
WALK(8, sandbox_set_sg)
WALK(9, instance_create)
WALK(10, instance_delete)
WALK(11, instance_set_sg)
WALK(12, sg_create)
WALK(13, sg_delete)
WALK(14, sg_rule_add)
WALK(15, sg_rule_del)
WALK(16, pool_fill)
WALK(17, pool_drain)
WALK(18, cni_add)
WALK(19, cni_del)
WALK(20, oci_hook_create)
WALK(21, oci_hook_delete)
WALK(22, gc_of_a_deleted_sandbox)
WALK(23, gc_of_a_half_made_sandbox)
WALK(24, restore_after_a_reboot)
WALK(25, restore_of_a_deleted_router)
WALK(26, restore_of_a_deleted_transit_link)

/* Every failpoint in the sources is passed by some operation above. */
Test(walk, every_failpoint_in_the_sources_is_walked)
{
	_Static_assert(NOPS == 27, "a WALK() line per operation");
	char seen[128][64];
	int nseen = 0, steps = 0;
	for (size_t i = 0; i < NOPS; i++) {
		char names[32][64];
		int n = trace(&ops[i], names, 32);
		steps += n;
		for (int f = 0; f < n; f++) {
			int j = 0;
			while (j < nseen && strcmp(seen[j], names[f]))
				j++;
			if (j == nseen && nseen < 128)
				snprintf(seen[nseen++], 64, "%s", names[f]);
		}
	}
	char out[65536];
	cr_assert_eq(run(out, sizeof(out), "grep -rhoE failpoint\\(\"[a-z0-9:-]+\" lib cli nft netns nat"
			 " secgroups"), 0, "%s", out);
	int in_source = 0;
	for (char *save, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[64];
		if (sscanf(l, "failpoint(\"%63[a-z0-9:-]\"", name) != 1)
			continue;
		in_source++;
		int j = 0;
		while (j < nseen && strcmp(seen[j], name))
			j++;
		cr_assert_lt(j, nseen, "failpoint %s is passed by no operation of the walk", name);
	}
	cr_assert_gt(in_source, 20, "the sources were not read: %d failpoints", in_source);
	fprintf(stderr, "walk: %d failpoints in the sources, every one walked: %zu operations, %d"
		" steps, each failing and killed (%d runs)\n", nseen, NOPS, steps, 2 * steps);
}
