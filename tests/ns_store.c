/* SPDX-License-Identifier: MIT */
/* The state store's own faults, against the real kernel and the real SQLite: a full disk, a
 * read-only state directory, a damaged log or database file, and stores written by the
 * first vpcnet (migrated) or by a newer one (refused, untouched).
 *
 * The state directory is on a small tmpfs of the test's own, mounted under its scratch
 * directory and unmounted at teardown.  Every vpcnet run here is bounded in time and must
 * neither crash (the binary under test is built with ASan and UBSan) nor hang. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "tests/ns_util.h"

#define CMD_TIMEOUT_S 60
#define TMPFS_OPTS "size=4m,mode=0700"
#define TMPFS_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)
#define PAGE 4096
/* A create writes a few dozen pages at most: past this much room a failure is a bug. */
#define MAX_ROOM_PAGES 64

static struct topo T;
static char base[128];   /* the test's scratch directory (topo's state dir, moved) */
static char mnt[160];    /* base/mnt: the tmpfs */
static char filler[200]; /* mnt/filler */
static bool mounted, fixture_store;

static void setup(void)
{
	topo_setup(&T);
	snprintf(base, sizeof(base), "%s", T.state_dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", base);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	cr_assert(!mkdir(base, 0700) && !mkdir(mnt, 0700), "scratch %s: %s", base, strerror(errno));
	cr_assert_eq(mount("tmpfs", mnt, "tmpfs", TMPFS_FLAGS, TMPFS_OPTS), 0, "tmpfs on %s: %s",
		     mnt, strerror(errno));
	mounted = true;
	snprintf(T.state_dir, sizeof(T.state_dir), "%s/state", mnt);
}

static void teardown(void)
{
	if (mounted) {
		/* writable and with room again, so that teardown can delete what the test made */
		mount(NULL, mnt, NULL, MS_REMOUNT | TMPFS_FLAGS, NULL);
		unlink(filler);
	}
	/* a fixture's VPCs and sandboxes never existed here: their names are not the test's */
	if (fixture_store)
		run(NULL, 0, "rm -rf %s", T.state_dir);
	topo_teardown(&T);
	if (mounted && umount2(mnt, MNT_DETACH))
		fprintf(stderr, "umount %s: %s\n", mnt, strerror(errno));
	if (base[0])
		run(NULL, 0, "rm -rf %s", base);
}

TestSuite(store_faults, .init = setup, .fini = teardown, .timeout = 300);

static const char *bin(void)
{
	return getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
}

static int run_logged(char *out, size_t n, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int run_logged(char *out, size_t n, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun_logged(base, CMD_TIMEOUT_S, out, n, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

/* Runs `vpcnet --state-dir S --host-netns H ARGS` ("%1$s" in ARGS: the tag) with @env (one
 * "NAME=value", or NULL) and asserts that it ended, by itself, without a sanitizer's
 * report.  Returns its exit code; its output (stdout and stderr) in @out. */
static int vn(char *out, size_t n, const char *env, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int vn(char *out, size_t n, const char *env, const char *fmt, ...)
{
	char line[1024], args[1024], prefix[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	with_tag(&T, line, args, sizeof(args));
	snprintf(prefix, sizeof(prefix), "%s --state-dir %s --host-netns %s", bin(), T.state_dir,
		 T.host);
	char name[64] = "";
	if (env) {
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(env, "="), env);
		setenv(name, strchr(env, '=') + 1, 1);
	}
	int rc = run_logged(out, n, prefix, "%s", args);
	if (env)
		unsetenv(name);
	cr_assert_neq(rc, -1, "`%s` did not end in %d s: %s", args, CMD_TIMEOUT_S, out);
	cr_assert_lt(rc, 128, "`%s` was killed by signal %d: %s", args, rc - 128, out);
	cr_assert_null(strstr(out, "Sanitizer"), "`%s`: %s", args, out);
	cr_assert_null(strstr(out, "runtime error"), "`%s`: %s", args, out);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t append_run(char *buf, size_t n, size_t len, const char *cmd)
{
	static char part[65536];
	run(part, sizeof(part), "%s", cmd);
	return len + snprintf(buf + len, len < n ? n - len : 0, "%s\n", part);
}

/* Whether namespace @name is the test's: the tag, then '-', at its start or after a '-'. */
static bool ours(const char *name)
{
	size_t n = strlen(T.tag);
	for (const char *p = name; (p = strstr(p, T.tag)); p++)
		if ((p == name || p[-1] == '-') && p[n] == '-')
			return true;
	return false;
}

/* What the kernel holds of the test's: its namespaces, the host's and every router's links,
 * routes, pinned neighbours and nftables ruleset (without counters). */
static void kernel_snapshot(char *buf, size_t n)
{
	char *names[64];
	int nn = 0;
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	while (d && (e = readdir(d)) && nn < 64)
		if (ours(e->d_name))
			names[nn++] = strdup(e->d_name);
	if (d)
		closedir(d);
	qsort(names, nn, sizeof(*names), cmp_str);
	size_t len = 0;
	for (int i = 0; i < nn; i++)
		len += snprintf(buf + len, len < n ? n - len : 0, "netns %s\n", names[i]);
	char router[64];
	snprintf(router, sizeof(router), "vpcnet-vpc-%s-", T.tag);
	for (int i = -1; i < nn; i++) {
		const char *ns = i < 0 ? T.host : names[i];
		if (i >= 0 && strncmp(ns, router, strlen(router)))
			continue;
		char cmd[4][160];
		/* -br: no peer namespace names, which race with other tests */
		snprintf(cmd[0], sizeof(cmd[0]), "ip -n %s -br link", ns);
		snprintf(cmd[1], sizeof(cmd[1]), "ip -n %s -4 route show table all", ns);
		snprintf(cmd[2], sizeof(cmd[2]), "ip -n %s neigh show nud permanent", ns);
		snprintf(cmd[3], sizeof(cmd[3]), "ip netns exec %s nft -s list ruleset", ns);
		for (int c = 0; c < 4; c++)
			len = append_run(buf, n, len, cmd[c]);
	}
	for (int i = 0; i < nn; i++)
		free(names[i]);
	cr_assert_lt(len, n, "snapshot buffer too small");
}

static void db_path(char *buf, size_t n, const char *suffix)
{
	snprintf(buf, n, "%s/state.db%s", T.state_dir, suffix);
}

/* Opens the store as the test, while no vpcnet runs.  Its close leaves the log (emptied by
 * a checkpoint) and the log's index in place, as vpcnet's own runs do. */
static sqlite3 *store_db(int flags)
{
	char path[256];
	sqlite3 *db;
	db_path(path, sizeof(path), "");
	cr_assert_eq(sqlite3_open_v2(path, &db, flags, NULL), SQLITE_OK, "%s", path);
	int one = 1;
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
	return db;
}

/* Appends every row of @sql's result (columns joined by '|') to @buf. */
static size_t rows(sqlite3 *db, const char *sql, char *buf, size_t n, size_t len)
{
	sqlite3_stmt *s;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(db));
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(s); c++) {
			const unsigned char *t = sqlite3_column_text(s, c);
			len += snprintf(buf + len, len < n ? n - len : 0, "%s%s", c ? "|" : "",
					t ? (const char *)t : "NULL");
		}
		len += snprintf(buf + len, len < n ? n - len : 0, "\n");
	}
	cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return len;
}

/* Every row of every table of the store (but the ids AUTOINCREMENT has handed out). */
static void store_snapshot(char *buf, size_t n)
{
	sqlite3 *db = store_db(SQLITE_OPEN_READONLY);
	char tables[4096] = "";
	rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence'"
	     " ORDER BY name", tables, sizeof(tables), 0);
	size_t len = 0;
	for (char *t = strtok(tables, "\n"); t; t = strtok(NULL, "\n")) {
		char sql[160];
		snprintf(sql, sizeof(sql), "SELECT '%s', * FROM \"%s\" ORDER BY rowid", t, t);
		len = rows(db, sql, buf, n, len);
	}
	sqlite3_close(db);
	cr_assert_lt(len, n, "snapshot buffer too small");
}

static void assert_same(const char *after, const char *before, const char *what)
{
	size_t at = 0;
	while (before[at] && before[at] == after[at])
		at++;
	size_t from = at > 200 ? at - 200 : 0;
	cr_assert_str_eq(after, before, "%s\nnow: %.600s\nwas: %.600s", what, after + from,
			 before + from);
}

/* Checkpoints the whole log into state.db. */
static void store_checkpoint(void)
{
	sqlite3 *db = store_db(SQLITE_OPEN_READWRITE);
	int rc = sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	cr_assert_eq(rc, SQLITE_OK, "checkpoint: %s", sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
}

static long free_pages(void)
{
	struct statvfs sv;
	cr_assert_eq(statvfs(mnt, &sv), 0);
	cr_assert_eq(sv.f_frsize, PAGE);
	return (long)sv.f_bavail;
}

/* Fills the tmpfs so that exactly @pages pages stay free. */
static void fill_leaving(long pages)
{
	unlink(filler);
	long have = free_pages();
	cr_assert_gt(have, pages, "the tmpfs is too small: %ld pages free", have);
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", filler, strerror(errno));
	int rc = posix_fallocate(fd, 0, (off_t)(have - pages) * PAGE);
	close(fd);
	cr_assert_eq(rc, 0, "fill: %s", strerror(rc));
	cr_assert_eq(free_pages(), pages, "the filler leaves %ld pages free, not %ld",
		     free_pages(), pages);
}

static void unfill(void)
{
	cr_assert(!unlink(filler) || errno == ENOENT);
}

/* ----------------------------------------------------------------------------------------
 * Full disk.  One case is one command that writes to the store.  With no room at all it
 * must fail (exit 1, saying that the store's disk is full) and leave the kernel and the
 * store as they were; with the filler gone the same command succeeds.
 *
 * The walk goes further: it grows the room a page at a time from none, so that each of the
 * command's commits in turn meets the full disk, until the command succeeds.  Wherever it
 * fails, the kernel must be as it was; a row it may leave in flight is gc's.
 *
 * `vpcnet restore` needs a simulated reboot first: it has a Test of its own below
 * (restore_on_a_full_disk_says_so_and_finishes_with_room).
 * ---------------------------------------------------------------------------------------- */
struct full_case {
	const char *args;  /* "%1$s" stands for the tag */
	const char *env;   /* a failpoint choosing one way of the command, or NULL */
	bool writes;       /* it always writes to the store: with no room it must fail */
};

static const struct full_case full_disk_cases[] = {
	{ "sandbox create %1$s-s1 --vpc %1$s-a", "VPCNET_FAILPOINT=create:late-ns", true },
	{ "sandbox create %1$s-s2 --vpc %1$s-a", "VPCNET_FAILPOINT=create:early-ns", true },
	{ "sg create web --vpc %1$s-a", NULL, true },
	{ "sg rule add web egress tcp:443 0.0.0.0/0 --vpc %1$s-a", NULL, true },
	{ "sg rule add web ingress tcp:5432 sg:web --vpc %1$s-a", NULL, true },
	{ "instance create %1$s-db --vpc %1$s-a --sg web", NULL, true },
	{ "sandbox set-sg %1$s-s1 web,default", NULL, true },
	{ "vpc create %1$s-b --cidr 10.41.0.0/16 --nat", NULL, true },  /* last: one more router */
	/* `vpcnet restore` has a test of its own: restore_on_a_full_disk_... */
};

static bool says_disk_full(const char *out)
{
	return strstr(out, "state store ") && strstr(out, "state.db") &&
	       (strstr(out, "disk is full") || strstr(out, "No space left on device"));
}

/* Runs case @c with @room pages free.  Returns its exit code; when it failed, asserts that
 * it said why and changed nothing in the kernel (@kb: the kernel before). */
static int full_disk_run(const struct full_case *c, long room, const char *kb)
{
	static char ka[1 << 18];
	char out[8192], args[512], what[600];
	with_tag(&T, c->args, args, sizeof(args));
	store_checkpoint();  /* every run from the same, empty, log */
	fill_leaving(room);
	int rc = vn(out, sizeof(out), c->env, "%s", args);
	unfill();
	if (rc == 0) {
		cr_assert(room > 0 || !c->writes, "`%s` succeeded on a full disk: %s", args, out);
		return 0;
	}
	cr_assert_eq(rc, 1, "`%s` with %ld pages free exited %d: %s", args, room, rc, out);
	cr_assert(says_disk_full(out), "`%s` with %ld pages free must say that the store's disk"
		  " is full: %s", args, room, out);
	kernel_snapshot(ka, sizeof(ka));
	snprintf(what, sizeof(what), "`%s` failed with %ld pages free and left a kernel change",
		 args, room);
	assert_same(ka, kb, what);
	return rc;
}

/* No room: fails, changes nothing (store included); room: succeeds. */
static void full_disk_once(const struct full_case *c)
{
	static char kb[1 << 18], sb[1 << 18], sa[1 << 18];
	char out[8192], args[512];
	with_tag(&T, c->args, args, sizeof(args));
	kernel_snapshot(kb, sizeof(kb));
	store_snapshot(sb, sizeof(sb));
	if (full_disk_run(c, 0, kb) == 0)
		return;
	store_snapshot(sa, sizeof(sa));
	assert_same(sa, sb, "a command that failed on a full disk changed the store");
	cr_assert_eq(vn(out, sizeof(out), c->env, "%s", args), 0, "`%s` once there is room: %s",
		     args, out);
}

static void full_disk_walk(const struct full_case *c)
{
	static char kb[1 << 18], sb[1 << 18], sa[1 << 18];
	char out[8192], args[512], what[600];
	with_tag(&T, c->args, args, sizeof(args));
	kernel_snapshot(kb, sizeof(kb));
	store_snapshot(sb, sizeof(sb));
	for (long room = 0; room <= MAX_ROOM_PAGES; room++) {
		if (full_disk_run(c, room, kb) == 0) {
			cr_log_info("`%s` succeeded with %ld pages free", args, room);
			return;
		}
		store_snapshot(sa, sizeof(sa));
		if (!strcmp(sa, sb))
			continue;
		/* a row it left in flight is gc's (its owner is gone) */
		int rc = vn(out, sizeof(out), NULL, "gc");
		cr_assert_eq(rc, 0, "gc after `%s` failed with %ld pages free: %s", args, room, out);
		store_snapshot(sa, sizeof(sa));
		snprintf(what, sizeof(what), "`%s` failed with %ld pages free: after gc the store "
			 "differs", args, room);
		assert_same(sa, sb, what);
	}
	cr_assert_fail("`%s` still fails with %d pages free", args, MAX_ROOM_PAGES);
}

#define FULL_CASES (sizeof(full_disk_cases) / sizeof(*full_disk_cases))

Test(store_faults, a_full_disk_fails_clearly_changes_nothing_and_room_lets_it_through)
{
	make_vpc(&T, "a", "10.40.0.0/16", true);
	for (size_t i = 0; i < FULL_CASES; i++)
		full_disk_once(&full_disk_cases[i]);
}

Test(store_faults, a_disk_that_fills_at_any_commit_leaves_no_kernel_change)
{
	make_vpc(&T, "a", "10.40.0.0/16", true);
	for (size_t i = 0; i < FULL_CASES; i++)
		full_disk_walk(&full_disk_cases[i]);
}

/* `vpcnet restore` after a reboot, on a full disk: what needs no row written is built (a
 * router, its groups: configuration the store has), what needs one (a member claimed for
 * its repair, the rows of the sandboxes that died) fails, and restore says that the store's
 * disk is full; with room, the same restore finishes, and the kernel matches the store. */
Test(store_faults, restore_on_a_full_disk_says_so_and_finishes_with_room)
{
	char out[8192];
	make_vpc(&T, "a", "10.40.0.0/16", true);
	cr_assert_eq(vn(out, sizeof(out), NULL, "instance create %s-db --vpc %s-a", T.tag, T.tag),
		     0, "%s", out);
	cr_assert_eq(vn(out, sizeof(out), NULL, "sandbox create %s-s1 --vpc %s-a", T.tag, T.tag),
		     0, "%s", out);
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "vpcnet-", 7) && ours(e->d_name))
			run(NULL, 0, "ip netns del %s", e->d_name);
	if (d)
		closedir(d);
	run(NULL, 0, "ip netns exec %s nft flush ruleset", T.host);

	store_checkpoint();
	fill_leaving(0);
	int rc = vn(out, sizeof(out), NULL, "restore");
	unfill();
	cr_assert_eq(rc, 1, "restore on a full disk: %d %s", rc, out);
	cr_assert(says_disk_full(out), "restore must say that the store's disk is full: %s", out);
	cr_assert_eq(vn(out, sizeof(out), NULL, "restore"), 0, "restore with room: %s", out);
	assert_invariants(&T, "restore with room");
	cr_assert_eq(vn(out, sizeof(out), NULL, "--json sandbox list"), 0, "%s", out);
	cr_assert_str_eq(out, "[]\n", "the sandbox died with the host: %s", out);
	cr_assert_eq(vn(out, sizeof(out), NULL, "--json instance show %s-db", T.tag), 0, "%s", out);
	cr_assert(strstr(out, "\"state\": \"ready\""), "%s", out);
}

/* Deletes and removals on a full disk: they fail clearly or succeed; either way the store
 * and the kernel agree afterwards (gc finds nothing to repair, the name is free again). */
Test(store_faults, deletes_on_a_full_disk)
{
	char out[8192];
	make_vpc(&T, "a", "10.44.0.0/16", true);
	make_vpc(&T, "b", "10.45.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	cr_assert_eq(vn(out, sizeof(out), NULL, "sg create web --vpc %%1$s-a"), 0, "%s", out);
	cr_assert_eq(vn(out, sizeof(out), NULL, "sg rule add web egress tcp:80 0.0.0.0/0 --vpc"
			" %%1$s-a"), 0, "%s", out);
	const char *cmds[] = { "sg rule del web egress tcp:80 0.0.0.0/0 --vpc %1$s-a",
			       "sg delete web --vpc %1$s-a", "sandbox delete %1$s-s1",
			       "vpc delete %1$s-b" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
		store_checkpoint();
		fill_leaving(0);
		int rc = vn(out, sizeof(out), NULL, "%s", cmds[i]);
		unfill();
		cr_assert(rc == 0 || (rc == 1 && says_disk_full(out)), "`%s` on a full disk: %d %s",
			  cmds[i], rc, out);
		if (rc)
			cr_assert_eq(vn(out, sizeof(out), NULL, "%s", cmds[i]), 0,
				     "`%s` once there is room: %s", cmds[i], out);
		cr_assert_eq(vn(out, sizeof(out), NULL, "--json gc"), 0, "%s", out);
		cr_assert(strstr(out, "\"vpcs_removed\": 0") && strstr(out, "\"sandboxes_removed\": 0")
			  && strstr(out, "\"ports_removed\": 0") &&
			  strstr(out, "\"elements_removed\": 0"),
			  "after `%s`, gc had something to repair: %s", cmds[i], out);
	}
	cr_assert_neq(access(s.netns, F_OK), 0, "the sandbox's namespace is gone");
	char ns[256];
	cr_assert_neq(access(router_ns(&T, "b", ns, sizeof(ns)), F_OK), 0, "VPC b's router is gone");
}

/* ----------------------------------------------------------------------------------------
 * A read-only state directory (the tmpfs remounted read-only: modes do not stop root).
 * ---------------------------------------------------------------------------------------- */

static void remount(bool ro)
{
	cr_assert_eq(mount(NULL, mnt, NULL, MS_REMOUNT | TMPFS_FLAGS | (ro ? MS_RDONLY : 0), NULL),
		     0, "remount %s: %s", ro ? "ro" : "rw", strerror(errno));
}

static bool says_read_only(const char *out)
{
	return strstr(out, "state store ") && strstr(out, "state.db") &&
	       (strstr(out, "Read-only file system") || strstr(out, "readonly database"));
}

Test(store_faults, a_read_only_store_refuses_changes_and_changes_nothing)
{
	static char kb[1 << 18], ka[1 << 18], sb[1 << 18], sa[1 << 18];
	char out[8192];
	make_vpc(&T, "a", "10.46.0.0/16", true);
	struct sbx s;
	make_sbx(&T, "a", "s1", &s);
	cr_assert_eq(vn(out, sizeof(out), NULL, "sg create web --vpc %%1$s-a"), 0, "%s", out);
	kernel_snapshot(kb, sizeof(kb));
	store_snapshot(sb, sizeof(sb));
	remount(true);
	const char *reads[] = { "--json vpc list", "--json vpc show %1$s-a", "--json sandbox list",
				"--json sandbox show %1$s-s1", "--json sg list --vpc %1$s-a" };
	for (size_t i = 0; i < sizeof(reads) / sizeof(*reads); i++) {
		int rc = vn(out, sizeof(out), NULL, "%s", reads[i]);
		cr_assert((rc == 0 && strstr(out, T.tag)) || (rc == 1 && says_read_only(out)),
			  "`%s` on a read-only store: works or says why: %d %s", reads[i], rc, out);
	}
	const char *writes[] = { "sandbox create %1$s-s2 --vpc %1$s-a",
				 "vpc create %1$s-b --cidr 10.47.0.0/16 --nat",
				 "sg create db --vpc %1$s-a",
				 "sg rule add web egress tcp:443 0.0.0.0/0 --vpc %1$s-a",
				 "sandbox set-sg %1$s-s1 web", "sandbox delete %1$s-s1", "gc" };
	const char *ways[] = { "VPCNET_FAILPOINT=create:early-ns",
			       "VPCNET_FAILPOINT=create:late-ns" };
	for (size_t k = 0; k < 2 * sizeof(writes) / sizeof(*writes); k++) {
		size_t i = k % (sizeof(writes) / sizeof(*writes));
		const char *env = ways[k / (sizeof(writes) / sizeof(*writes))];
		int rc = vn(out, sizeof(out), env, "%s", writes[i]);
		cr_assert_eq(rc, 1, "`%s` on a read-only store: %s", writes[i], out);
		cr_assert(says_read_only(out), "`%s` must say the store is read-only: %s", writes[i],
			  out);
		kernel_snapshot(ka, sizeof(ka));
		char what[300];
		snprintf(what, sizeof(what), "`%s` on a read-only store changed the kernel",
			 writes[i]);
		assert_same(ka, kb, what);
	}
	remount(false);
	store_snapshot(sa, sizeof(sa));
	assert_same(sa, sb, "the read-only store changed");
	for (size_t i = 0; i < sizeof(writes) / sizeof(*writes); i++)
		cr_assert_eq(vn(out, sizeof(out), NULL, "%s", writes[i]), 0,
			     "`%s` once the store is writable: %s", writes[i], out);
}

/* ----------------------------------------------------------------------------------------
 * A damaged log or database file, while no process has the store open.  A log's damaged
 * tail (or a log that is no log) is discarded by SQLite, as after a crash: what was
 * checkpointed before is all there, and the store works on.  A damaged database file is
 * refused, naming it.  Nothing crashes, nothing hangs.
 * ---------------------------------------------------------------------------------------- */
enum damage {
	WAL_TAIL_CUT,        /* the log cut in its last frame */
	WAL_TAIL_GARBAGE,    /* garbage over its last frames */
	WAL_HEADER_GARBAGE,  /* garbage over its header */
	WAL_CUT_SHORT,       /* shorter than its header */
	SHM_GARBAGE,         /* garbage for the log's index */
	DB_HEADER_GARBAGE,   /* garbage over state.db's header (everything checkpointed) */
	DB_CUT,              /* state.db cut in half */
	DB_PAGE_GARBAGE,     /* garbage over state.db's second page */
};

static void garble(const char *path, long off, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	struct stat sb;
	cr_assert_eq(fstat(fd, &sb), 0);
	if (off < 0)
		off += sb.st_size;
	unsigned char junk[8192];
	cr_assert_leq(n, sizeof(junk));
	for (size_t i = 0; i < n; i++)
		junk[i] = (unsigned char)(i * 151 + 89);
	cr_assert_eq(pwrite(fd, junk, n, off), (ssize_t)n);
	close(fd);
}

static void cut(const char *path, long size)
{
	struct stat sb;
	cr_assert_eq(stat(path, &sb), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(truncate(path, size < 0 ? sb.st_size + size : size), 0);
}

static bool file_bytes(const char *path, char **buf, size_t *n)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	struct stat sb;
	fstat(fileno(f), &sb);
	*n = (size_t)sb.st_size;
	*buf = malloc(*n + 1);
	bool ok = *buf && fread(*buf, 1, *n, f) == *n;
	fclose(f);
	return ok;
}

static void damaged_store(enum damage d)
{
	static char kb[1 << 18], ka[1 << 18];
	char out[65536], wal[256], shm[256], db[256];
	bool in_db = d >= DB_HEADER_GARBAGE;
	db_path(db, sizeof(db), "");
	db_path(wal, sizeof(wal), "-wal");
	db_path(shm, sizeof(shm), "-shm");
	make_vpc(&T, "a", "10.48.0.0/16", true);
	char vpc[64];
	tname(&T, "a", vpc, sizeof(vpc));
	struct sbx s1, s2;
	make_sbx(&T, "a", "s1", &s1);
	store_checkpoint();
	make_sbx(&T, "a", "s2", &s2);  /* only in the log, unless checkpointed next */
	if (in_db)
		store_checkpoint();
	struct stat st;
	cr_assert_eq(stat(in_db ? db : wal, &st), 0, "%s", in_db ? db : wal);
	cr_assert_gt(st.st_size, 2 * PAGE, "there is something to damage");
	switch (d) {
	case WAL_TAIL_CUT: cut(wal, -100); break;
	case WAL_TAIL_GARBAGE: garble(wal, -6000, 6000); break;
	case WAL_HEADER_GARBAGE: garble(wal, 0, 32); break;
	case WAL_CUT_SHORT: cut(wal, 10); break;
	case SHM_GARBAGE: garble(shm, 0, 8192); break;
	case DB_HEADER_GARBAGE: garble(db, 0, 100); break;
	case DB_CUT: cut(db, st.st_size / 2); break;
	case DB_PAGE_GARBAGE: garble(db, PAGE, PAGE); break;
	}
	char *before = NULL, *after = NULL;
	size_t nb = 0, na = 0;
	cr_assert(file_bytes(db, &before, &nb));
	kernel_snapshot(kb, sizeof(kb));
	const char *cmds[] = { "--json vpc list", "--json sandbox list", "--json sandbox show %1$s-s1",
			       "gc", "sandbox create %1$s-s3 --vpc %1$s-a" };
	int rcs[5];
	for (size_t i = 0; i < 5; i++) {
		rcs[i] = vn(out, sizeof(out), NULL, "%s", cmds[i]);
		cr_log_info("damage %d: `%s` exited %d: %.200s", d, cmds[i], rcs[i], out);
		cr_assert(rcs[i] == 0 || (rcs[i] == 1 && strstr(out, "state store ") &&
					  strstr(out, "state.db")),
			  "`%s` on a damaged store: works or says which: %d %s", cmds[i], rcs[i], out);
		/* what was checkpointed is there */
		if (i < 3 && rcs[i] == 0)
			cr_assert(strstr(out, i ? s1.id : vpc), "`%s` lost %s: %s", cmds[i],
				  i ? s1.id : vpc, out);
		if (rcs[i] && i >= 3) {
			kernel_snapshot(ka, sizeof(ka));
			assert_same(ka, kb, "a command that failed on a damaged store changed the kernel");
		}
	}
	/* whatever the store could read, what it had before the damage stays in the kernel */
	char ns[256];
	cr_assert_eq(access(s1.netns, F_OK), 0, "damage %d: %s's namespace was removed", d, s1.id);
	cr_assert_eq(access(router_ns(&T, "a", ns, sizeof(ns)), F_OK), 0,
		     "damage %d: the VPC's router was removed", d);
	if (d < DB_HEADER_GARBAGE) {
		/* the log is SQLite's to discard: the store works on */
		for (size_t i = 0; i < 5; i++)
			cr_assert_eq(rcs[i], 0, "`%s` after damage %d to the log", cmds[i], d);
		snprintf(ns, sizeof(ns), "/run/netns/vpcnet-sbx-%s-s3", T.tag);
		cr_assert_eq(access(ns, F_OK), 0, "s3 was made");
	}
	if (d == DB_HEADER_GARBAGE) {
		/* refused, and left as it was for the operator (not made a new store) */
		for (size_t i = 0; i < 5; i++)
			cr_assert_eq(rcs[i], 1, "`%s` on a store that is no database", cmds[i]);
		cr_assert_eq(vn(out, sizeof(out), NULL, "vpc list"), 1);
		cr_assert(strstr(out, "not a database"), "%s", out);
		cr_assert(file_bytes(db, &after, &na));
		cr_assert(na == nb && !memcmp(after, before, nb), "state.db was changed");
	}
	free(before);
	free(after);
}

Test(store_faults, a_log_cut_in_its_last_frame) { damaged_store(WAL_TAIL_CUT); }
Test(store_faults, a_log_with_garbage_at_its_end) { damaged_store(WAL_TAIL_GARBAGE); }
Test(store_faults, a_log_with_a_garbage_header) { damaged_store(WAL_HEADER_GARBAGE); }
Test(store_faults, a_log_shorter_than_its_header) { damaged_store(WAL_CUT_SHORT); }
Test(store_faults, a_garbage_log_index) { damaged_store(SHM_GARBAGE); }
Test(store_faults, a_database_with_a_garbage_header) { damaged_store(DB_HEADER_GARBAGE); }
Test(store_faults, a_database_cut_in_half) { damaged_store(DB_CUT); }
Test(store_faults, a_database_with_a_garbage_page) { damaged_store(DB_PAGE_GARBAGE); }

/* ----------------------------------------------------------------------------------------
 * Stores of other schema versions.
 * ---------------------------------------------------------------------------------------- */

/* Loads tests/fixtures/@name (SQL text) into the state directory's state.db. */
static void load_fixture(const char *name)
{
	char path[256], *sql = NULL;
	size_t n = 0;
	snprintf(path, sizeof(path), "tests/fixtures/%s", name);
	cr_assert(file_bytes(path, &sql, &n), "%s (run from the top of the tree): %s", path,
		  strerror(errno));
	sql[n] = '\0';
	cr_assert_eq(mkdir(T.state_dir, 0700), 0);
	fixture_store = true;
	char db_file[256];
	db_path(db_file, sizeof(db_file), "");
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(db_file, &db), SQLITE_OK);
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", path, msg);
	sqlite3_close(db);
	free(sql);
}

/* Every row of @sql's result in @db_file, as text. */
static void query(const char *db_file, const char *sql, char *buf, size_t n)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open_v2(db_file, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	buf[0] = '\0';
	cr_assert_lt(rows(db, sql, buf, n, 0), n);
	sqlite3_close(db);
}

/* Every table's columns (but their defaults: a column added later carries one) and every
 * index, as a new store has them. */
#define SCHEMA_SHAPE \
	"SELECT m.name, p.name, p.type, p.\"notnull\", p.pk FROM sqlite_master m," \
	" pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY 1, 2;"
#define SCHEMA_INDEXES "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY 1"

static void assert_current_schema(void)
{
	static char got[16384], want[16384];
	char db_file[256], fresh[256], out[4096];
	db_path(db_file, sizeof(db_file), "");
	query(db_file, "PRAGMA user_version", got, sizeof(got));
	cr_assert_str_eq(got, "8\n", "migrated to version 8");
	query(db_file, "PRAGMA integrity_check", got, sizeof(got));
	cr_assert_str_eq(got, "ok\n");
	query(db_file, "PRAGMA foreign_key_check", got, sizeof(got));
	cr_assert_str_eq(got, "", "rows that point nowhere: %s", got);
	snprintf(fresh, sizeof(fresh), "%s/fresh", mnt);
	int rc = run(out, sizeof(out), "%s --state-dir %s --host-netns %s vpc list", bin(), fresh,
		     T.host);
	cr_assert_eq(rc, 0, "a new store: %s", out);
	snprintf(fresh, sizeof(fresh), "%s/fresh/state.db", mnt);
	const char *shapes[] = { SCHEMA_SHAPE, SCHEMA_INDEXES };
	for (int i = 0; i < 2; i++) {
		query(db_file, shapes[i], got, sizeof(got));
		query(fresh, shapes[i], want, sizeof(want));
		cr_assert_str_eq(got, want, "the migrated schema is not a new store's");
	}
}

static json_t *json_run(const char *args)
{
	char out[65536];
	int rc = vn(out, sizeof(out), NULL, "%s", args);
	cr_assert_eq(rc, 0, "`%s`: %s", args, out);
	json_error_t e;
	json_t *j = json_loads(out, 0, &e);
	cr_assert(j, "`%s` printed no JSON (%s): %s", args, e.text, out);
	return j;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* The store as the first vpcnet released wrote it (3c033d8: schema version 1, no owner
 * nonces, no security groups): read by this one, migrated to version 8. */
Test(store_faults, the_first_schema_is_migrated_and_its_rows_come_through)
{
	load_fixture("store-v1.sql");
	json_t *vpcs = json_run("--json vpc list");
	cr_assert_eq(json_array_size(vpcs), 1);
	json_t *v = json_array_get(vpcs, 0);
	cr_assert_str_eq(jstr(v, "name"), "v1prod");
	cr_assert_str_eq(jstr(v, "cidr"), "10.99.0.0/16");
	cr_assert_str_eq(jstr(v, "uplink"), "up0");
	cr_assert(json_is_true(json_object_get(v, "nat")));
	cr_assert_eq(json_integer_value(json_object_get(v, "sandboxes")), 1);
	json_decref(vpcs);
	json_t *sbxs = json_run("--json sandbox list");
	cr_assert_eq(json_array_size(sbxs), 1);
	json_t *s = json_array_get(sbxs, 0);
	cr_assert_str_eq(jstr(s, "id"), "v1-fn-1");
	cr_assert_str_eq(jstr(s, "vpc"), "v1prod");
	cr_assert_str_eq(jstr(s, "ip"), "10.99.0.4");
	cr_assert_str_eq(jstr(s, "netns"), "/run/netns/vpcnet-sbx-v1-fn-1");
	cr_assert_str_eq(jstr(s, "ifname"), "eth0");
	/* its state: ready as stored, or what the kernel's lack of it makes of that */
	cr_assert_str_neq(jstr(s, "state"), "creating");
	cr_assert_str_neq(jstr(s, "state"), "deleting");
	json_decref(sbxs);
	json_decref(json_run("--json sandbox show v1-fn-1"));
	json_decref(json_run("--json vpc show v1prod"));
	assert_current_schema();
}

/* The last shape of version 1 (0f421aa: owner nonces, security groups, instances). */
Test(store_faults, the_last_version_1_shape_is_migrated_with_its_groups)
{
	load_fixture("store-v1-sg.sql");
	json_t *vpcs = json_run("--json vpc list");
	cr_assert_eq(json_array_size(vpcs), 1);
	cr_assert_str_eq(jstr(json_array_get(vpcs, 0), "name"), "v1sg");
	json_decref(vpcs);
	json_t *sbxs = json_run("--json sandbox list");
	cr_assert_eq(json_array_size(sbxs), 1);
	json_t *s = json_array_get(sbxs, 0);
	cr_assert_str_eq(jstr(s, "id"), "v1-fn-2");
	cr_assert_str_eq(jstr(s, "ip"), "10.98.0.4");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "groups"), 0)), "web");
	json_decref(sbxs);
	json_t *ins = json_run("--json instance list");
	cr_assert_eq(json_array_size(ins), 1);
	cr_assert_str_eq(jstr(json_array_get(ins, 0), "name"), "v1-db");
	cr_assert_str_eq(jstr(json_array_get(ins, 0), "ip"), "10.98.0.5");
	json_decref(ins);
	char out[16384];
	cr_assert_eq(vn(out, sizeof(out), NULL, "sg show web --vpc v1sg"), 0, "%s", out);
	cr_assert(strstr(out, "443") && strstr(out, "5432") && strstr(out, "sg:web"), "%s", out);
	cr_assert_eq(vn(out, sizeof(out), NULL, "--json sg list --vpc v1sg"), 0, "%s", out);
	cr_assert(strstr(out, "\"default\"") && strstr(out, "\"web\""), "%s", out);
	assert_current_schema();
}

/* A store of a newer vpcnet is refused, naming it, and left byte for byte as it was (in
 * either journal mode: switching one to WAL would write to it). */
Test(store_faults, a_newer_schema_is_refused_and_left_untouched)
{
	static char kb[1 << 18], ka[1 << 18];
	char out[8192], db_file[256], wal[256];
	db_path(db_file, sizeof(db_file), "");
	db_path(wal, sizeof(wal), "-wal");
	const char *modes[] = { "WAL", "DELETE" };
	for (int m = 0; m < 2; m++) {
		run(NULL, 0, "rm -rf %s", T.state_dir);
		cr_assert_eq(vn(out, sizeof(out), NULL, "vpc list"), 0, "%s", out);
		sqlite3 *db;
		cr_assert_eq(sqlite3_open(db_file, &db), SQLITE_OK);
		char sql[256];
		snprintf(sql, sizeof(sql), "PRAGMA journal_mode = %s; PRAGMA user_version = 99;"
			 "CREATE TABLE future (x TEXT); INSERT INTO future VALUES ('newer');",
			 modes[m]);
		cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s",
			     sqlite3_errmsg(db));
		sqlite3_close(db);
		char *before, *after;
		size_t nb, na;
		cr_assert(file_bytes(db_file, &before, &nb));
		kernel_snapshot(kb, sizeof(kb));
		const char *cmds[] = { "vpc list", "--json sandbox list",
				       "vpc create %1$s-a --cidr 10.49.0.0/16 --nat", "gc" };
		for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
			int rc = vn(out, sizeof(out), NULL, "%s", cmds[i]);
			cr_assert_eq(rc, 1, "`%s` on a store of version 99 (%s): %s", cmds[i],
				     modes[m], out);
			cr_assert(strstr(out, "state.db: schema version 99 is newer than this vpcnet"),
				  "`%s`: %s", cmds[i], out);
		}
		cr_assert(file_bytes(db_file, &after, &na));
		cr_assert(na == nb && !memcmp(before, after, nb), "the %s store was written to",
			  modes[m]);
		struct stat sb;
		cr_assert(stat(wal, &sb) || sb.st_size == 0, "its log was written to");
		free(before);
		free(after);
		kernel_snapshot(ka, sizeof(ka));
		assert_same(ka, kb, "a refused store changed the kernel");
	}
}
