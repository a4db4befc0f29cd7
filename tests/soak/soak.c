/* SPDX-License-Identifier: MIT */
/* make soak: a bounded stress test with kills.  A fake host and internet (tests/topo.c), two
 * VPCs with groups; 8 workers doing random operations through the vpcnet binary under test
 * ($VPCNET_BIN) — sandbox and instance create/delete/set-sg, rule add/del, pool fill/drain,
 * CNI ADD/DEL into namespaces of their own — while a killer SIGKILLs a random vpcnet process
 * in flight every 50-300 ms and gc runs every few seconds (and is killed too).  At the end:
 * gc (must exit 0), the invariant checker (tests/invariants.c: 0 violations), everything
 * deleted, and nothing of the run's tag left.  One summary line; exit 1 on any leak, on a
 * failed final gc or on a sanitizer report.
 *
 *   SOAK_SECONDS  how long the workers run (default 180)
 *   VPCNET_BIN    the binary under test (default build/test/vpcnet)
 *
 * A supervisor process (a child subreaper) runs the soak in a process group of its own; when
 * it ends, however it ends (or on SIGINT/SIGTERM), the supervisor kills that group, reaps
 * every process and removes what the run left (VPCs, namespaces, the state dir). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/invariants.h"
#include "tests/topo.h"

#define WORKERS 8
#define GC_SLOT WORKERS      /* the slot of the periodic gc */
#define MAX_OWN 6            /* objects one worker keeps at most */
#define MAX_OPS 100000       /* per worker, whatever the time */
#define OP_TIMEOUT_MS 60000  /* one vpcnet run; past it: killed, counted failed */
#define STOP_GRACE_S 90      /* workers finish their operation in flight */
#define OUT_MAX 16384
#define LOG_MAX_ENTRIES 400
#define REPORT_MAX (1 << 18)
#define GROUPS 3             /* g1..g3 in each VPC */

enum op {
	SBX_CREATE, SBX_DELETE, INS_CREATE, INS_DELETE, SET_SG, RULE_ADD, RULE_DEL, POOL_FILL,
	POOL_DRAIN, CNI_ADD, CNI_DEL, OPS
};
static const char *const op_name[OPS] = {
	"sandbox-create", "sandbox-delete", "instance-create", "instance-delete", "set-sg",
	"rule-add", "rule-del", "pool-fill", "pool-drain", "cni-add", "cni-del",
};

/* Shared by every process of the run (MAP_SHARED), updated with atomics. */
struct shared {
	int stop;
	int slot[WORKERS + 1];    /* pid of the vpcnet process each one runs, or 0 */
	unsigned ok[OPS], failed[OPS], killed[OPS];
	unsigned kills, gc_ok, gc_failed, gc_killed, sanitizer, logged;
};

static struct shared *sh;
static struct topo T;
static const char *bin;
static char logpath[256];
static const char *const vpcs[2] = { "a", "b" };

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	nanosleep(&(struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000 }, NULL);
}

static unsigned rnd(unsigned *seed, unsigned n)
{
	return (unsigned)rand_r(seed) % n;
}

#define ADD(field) __atomic_fetch_add(&(field), 1, __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n(&(field), __ATOMIC_SEQ_CST)

/* Appends @what and @out to the run's log (bounded), for failures worth reading later. */
static void log_entry(const char *what, int rc, const char *out)
{
	if (ADD(sh->logged) >= LOG_MAX_ENTRIES)
		return;
	int fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	dprintf(fd, "== %s: exit %d\n%s%s", what, rc, out, *out && out[strlen(out) - 1] != '\n'
							      ? "\n" : "");
	close(fd);
}

/* --- running vpcnet in a slot the killer can see -------------------------------------- */

static void spawn_child(char **argv, const char *const *env, int in, int out)
{
	signal(SIGPIPE, SIG_DFL);  /* the soak ignores it: a killed reader of our stdin data */
	for (size_t i = 0; env && env[i]; i++)
		putenv((char *)env[i]);
	dup2(in, 0);
	dup2(out, 1);
	dup2(out, 2);
	execv(argv[0], argv);
	_exit(127);
}

/* Collects the output of @pid until it exits (bounded by OP_TIMEOUT_MS: then killed). */
static void collect(pid_t pid, int fd, char *out, size_t n)
{
	size_t len = 0;
	int64_t end = now_ms() + OP_TIMEOUT_MS;
	siginfo_t si;
	for (bool done = false; !done;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, 100);
		if (r > 0) {
			char sink[4096];
			bool room = len + 1 < n;
			ssize_t got = read(fd, room ? out + len : sink, room ? n - 1 - len : sizeof(sink));
			if (got > 0 && room)
				len += (size_t)got;
			done = got <= 0;
			continue;
		}
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
			done = true;  /* exited; a helper it left may hold the pipe open */
		else if (now_ms() > end) {
			kill(pid, SIGKILL);
			done = true;
		}
	}
	out[len] = '\0';
}

/* Runs vpcnet (@argv after the binary and the global options, or none with @env: a CNI
 * run) in slot @slot, @in on its stdin; its output in @out.  Returns the exit code, or
 * -SIGNAL when a signal ended it. */
static int spawn(int slot, const char *const *env, const char *in, char *out, size_t n,
		 char **args)
{
	char *argv[32] = { (char *)bin };
	int argc = 1;
	if (!env) {
		argv[argc++] = "--state-dir";
		argv[argc++] = T.state_dir;
		argv[argc++] = "--host-netns";
		argv[argc++] = T.host;
	}
	for (size_t i = 0; args && args[i] && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	int ip[2], op[2];
	if (pipe2(ip, O_CLOEXEC) || pipe2(op, O_CLOEXEC))
		return 127;
	pid_t pid = fork();
	if (pid == 0)
		spawn_child(argv, env, ip[0], op[1]);
	close(ip[0]);
	close(op[1]);
	if (pid > 0)
		__atomic_store_n(&sh->slot[slot], pid, __ATOMIC_SEQ_CST);
	if (pid > 0 && in && write(ip[1], in, strlen(in)) < 0) { /* it may be killed already */ }
	close(ip[1]);
	if (pid > 0)
		collect(pid, op[0], out, n);
	close(op[0]);
	if (pid < 0)
		return 127;
	/* Out of the slot before it is reaped: the killer holds a pidfd of it or nothing. */
	siginfo_t si;
	waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
	__atomic_store_n(&sh->slot[slot], 0, __ATOMIC_SEQ_CST);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* `vpcnet ARGS` (split on spaces) in @slot. */
__attribute__((format(printf, 4, 5)))
static int cli(int slot, char *out, size_t n, const char *fmt, ...)
{
	char line[1024], *args[24], *save = NULL;
	int argc = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *t = strtok_r(line, " ", &save); t && argc < 23; t = strtok_r(NULL, " ", &save))
		args[argc++] = t;
	args[argc] = NULL;
	return spawn(slot, NULL, NULL, out, n, args);
}

static bool sanitizer_said(const char *out)
{
	return strstr(out, "Sanitizer") || strstr(out, "runtime error:");
}

/* Counts the outcome of one operation; failures and sanitizer reports go to the log. */
static void tally(enum op o, int rc, const char *what, const char *out)
{
	if (sanitizer_said(out)) {
		ADD(sh->sanitizer);
		log_entry(what, rc, out);
	}
	if (rc == 0)
		ADD(sh->ok[o]);
	else if (rc == -SIGKILL)
		ADD(sh->killed[o]);
	else {
		ADD(sh->failed[o]);
		log_entry(what, rc, out);
	}
}

/* --- workers -------------------------------------------------------------------------- */

enum kind { OBJ_SBX, OBJ_INS, OBJ_CNI };

/* What a worker made (or may have: a create killed half-way), until a delete succeeds. */
struct obj {
	enum kind kind;
	char name[64];   /* sandbox or instance name; for CNI the container id */
	int vpc;
};

struct worker {
	int w;
	unsigned seed, serial;
	struct obj own[MAX_OWN];
	size_t n;
};

/* "g1" or "g2,default": one or two groups. */
static void groups_arg(struct worker *wk, char *buf, size_t n)
{
	static const char *const g[] = { "g1", "g2", "g3", "default" };
	unsigned a = rnd(&wk->seed, 4), b = rnd(&wk->seed, 4);
	if (a == b || rnd(&wk->seed, 2))
		snprintf(buf, n, "%s", g[a]);
	else
		snprintf(buf, n, "%s,%s", g[a], g[b]);
}

/* The CNI network config for VPC @vpc. */
static void cni_conf(char *buf, size_t n, int vpc)
{
	snprintf(buf, n, "{\"cniVersion\":\"1.0.0\",\"name\":\"soak\",\"type\":\"vpcnet\","
		 "\"vpc\":\"%s-%s\",\"stateDir\":\"%s\",\"hostNetns\":\"%s\","
		 "\"securityGroups\":[\"g%d\"]}", T.tag, vpcs[vpc], T.state_dir, T.host, 1 + vpc);
}

static int cni(struct worker *wk, const char *cmd, const struct obj *o, char *out, size_t n)
{
	char conf[1024], e_cmd[64], e_cid[96], e_ns[160];
	cni_conf(conf, sizeof(conf), o->vpc);
	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", cmd);
	snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=%s", o->name);
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=/run/netns/%s", o->name);
	const char *const env[] = { e_cmd, e_cid, e_ns, "CNI_IFNAME=eth0",
				    "CNI_PATH=/usr/lib/cni", NULL };
	return spawn(wk->w, env, conf, out, n, NULL);
}

static int do_create(struct worker *wk, enum op o, char *out, size_t n)
{
	struct obj *ob = &wk->own[wk->n];
	char g[32];
	ob->vpc = (int)rnd(&wk->seed, 2);
	ob->kind = o == SBX_CREATE ? OBJ_SBX : o == INS_CREATE ? OBJ_INS : OBJ_CNI;
	snprintf(ob->name, sizeof(ob->name), "%s-%c%d-%u", T.tag, "sic"[ob->kind], wk->w,
		 wk->serial++);
	wk->n++;  /* it may exist from here on, whatever the outcome */
	groups_arg(wk, g, sizeof(g));
	if (o == CNI_ADD) {
		if (run(out, n, "ip netns add %s", ob->name))
			return 127;
		return cni(wk, "ADD", ob, out, n);
	}
	if (o == INS_CREATE)
		return cli(wk->w, out, n, "instance create %s --vpc %s-%s --sg %s", ob->name, T.tag,
			   vpcs[ob->vpc], g);
	/* plain half of the time: the default group, and a network from the pool; else groups,
	 * sometimes a control port (@ctl_dnat) or a connection limit of its own (cl<N>) */
	unsigned r = rnd(&wk->seed, 12);
	if (r < 6)
		return cli(wk->w, out, n, "sandbox create %s --vpc %s-%s", ob->name, T.tag,
			   vpcs[ob->vpc]);
	return cli(wk->w, out, n, "sandbox create %s --vpc %s-%s --sg %s%s%s", ob->name, T.tag,
		   vpcs[ob->vpc], g, r == 6 ? " --control-port 8080" : "",
		   r == 7 ? " --max-connections 100" : "");
}

/* Deletes own object @i; forgets it once the delete succeeded. */
static int do_delete(struct worker *wk, size_t i, char *out, size_t n)
{
	struct obj *ob = &wk->own[i];
	int rc;
	if (ob->kind == OBJ_CNI) {
		rc = cni(wk, "DEL", ob, out, n);
		if (!rc)
			rc = run(out, n, "ip netns del %s", ob->name) ? 127 : 0;
	} else {
		rc = cli(wk->w, out, n, "%s delete %s", ob->kind == OBJ_SBX ? "sandbox" : "instance",
			 ob->name);
	}
	if (rc == 0)
		wk->own[i] = wk->own[--wk->n];
	return rc;
}

static int do_shared(struct worker *wk, enum op o, char *out, size_t n)
{
	const char *v = vpcs[rnd(&wk->seed, 2)];
	/* few rules, so that a del often finds the rule an add made */
	unsigned g = 1 + rnd(&wk->seed, GROUPS), port = 1000 + rnd(&wk->seed, 4);
	if (o == POOL_FILL)
		return cli(wk->w, out, n, "pool fill %s-%s 2", T.tag, v);
	if (o == POOL_DRAIN)
		return cli(wk->w, out, n, "pool drain %s-%s", T.tag, v);
	const char *verb = o == RULE_ADD ? "add" : "del";
	if (rnd(&wk->seed, 4) == 0)
		return cli(wk->w, out, n, "sg rule %s g%u egress tcp:%u sg:g%u --vpc %s-%s", verb, g,
			   port, 1 + rnd(&wk->seed, GROUPS), T.tag, v);
	return cli(wk->w, out, n, "sg rule %s g%u egress tcp:%u 10.200.%u.0/24 --vpc %s-%s", verb,
		   g, port, rnd(&wk->seed, 2), T.tag, v);
}

static enum op choose(struct worker *wk, size_t *victim)
{
	unsigned r = rnd(&wk->seed, 100);
	*victim = wk->n ? rnd(&wk->seed, (unsigned)wk->n) : 0;
	if (r < 10)
		return rnd(&wk->seed, 2) ? RULE_ADD : RULE_DEL;
	if (r < 14)
		return rnd(&wk->seed, 3) ? POOL_FILL : POOL_DRAIN;
	if (r < 24 && wk->n && wk->own[*victim].kind != OBJ_CNI)
		return SET_SG;
	if (wk->n == 0 || (wk->n < MAX_OWN && rnd(&wk->seed, 2))) {
		unsigned k = rnd(&wk->seed, 10);
		return k < 5 ? SBX_CREATE : k < 7 ? INS_CREATE : CNI_ADD;
	}
	enum kind kd = wk->own[*victim].kind;
	return kd == OBJ_SBX ? SBX_DELETE : kd == OBJ_INS ? INS_DELETE : CNI_DEL;
}

static int one_op(struct worker *wk, enum op o, size_t victim, char *out, size_t n, char *what,
		  size_t wn)
{
	char g[32];
	struct obj *ob = &wk->own[victim];
	switch (o) {
	case SBX_CREATE: case INS_CREATE: case CNI_ADD:
		snprintf(what, wn, "%s %s-%c%d-%u", op_name[o], T.tag, "sic"[o == SBX_CREATE ? 0 :
			 o == INS_CREATE ? 1 : 2], wk->w, wk->serial);
		return do_create(wk, o, out, n);
	case SBX_DELETE: case INS_DELETE: case CNI_DEL:
		snprintf(what, wn, "%s %s", op_name[o], ob->name);
		return do_delete(wk, victim, out, n);
	case SET_SG:
		groups_arg(wk, g, sizeof(g));
		snprintf(what, wn, "set-sg %s %s", ob->name, g);
		return cli(wk->w, out, n, "%s set-sg %s %s", ob->kind == OBJ_SBX ? "sandbox"
			   : "instance", ob->name, g);
	default:
		snprintf(what, wn, "%s (worker %d)", op_name[o], wk->w);
		return do_shared(wk, o, out, n);
	}
}

static void worker(int w, int64_t deadline)
{
	static char out[OUT_MAX];
	struct worker wk = { .w = w, .seed = (unsigned)(getpid() * 2654435761u) ^ (unsigned)w };
	for (unsigned i = 0; i < MAX_OPS && now_ms() < deadline && !GET(sh->stop); i++) {
		size_t victim;
		char what[192];
		enum op o = choose(&wk, &victim);
		int rc = one_op(&wk, o, victim, out, sizeof(out), what, sizeof(what));
		tally(o, rc, what, out);
	}
	_exit(0);
}

/* --- the killer and the periodic gc ------------------------------------------------------ */

/* SIGKILLs the vpcnet process in slot @s, if it is still that slot's: a pidfd taken while
 * the slot still names it is its own (a slot is emptied before its process is reaped). */
static bool kill_slot(int s)
{
	int pid = GET(sh->slot[s]);
	if (!pid)
		return false;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return false;
	bool done = GET(sh->slot[s]) == pid &&
		    syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0;
	close(fd);
	return done;
}

static void killer(void)
{
	unsigned seed = (unsigned)getpid();
	for (unsigned i = 0; i < 10000000 && !GET(sh->stop); i++) {
		sleep_ms(50 + rnd(&seed, 251));
		int busy[WORKERS + 1], n = 0;
		for (int s = 0; s <= WORKERS; s++)
			if (GET(sh->slot[s]))
				busy[n++] = s;
		if (n && kill_slot(busy[rnd(&seed, (unsigned)n)]))
			ADD(sh->kills);
	}
	_exit(0);
}

static void gc_runner(void)
{
	static char out[OUT_MAX];
	unsigned seed = (unsigned)getpid() ^ 0x5eedu;
	for (unsigned i = 0; i < 1000000 && !GET(sh->stop); i++) {
		for (int t = 2000 + (int)rnd(&seed, 3000); t > 0 && !GET(sh->stop); t -= 100)
			sleep_ms(100);
		if (GET(sh->stop))
			break;
		int rc = cli(GC_SLOT, out, sizeof(out), "gc");
		if (sanitizer_said(out)) {
			ADD(sh->sanitizer);
			log_entry("gc", rc, out);
		}
		if (rc == 0)
			ADD(sh->gc_ok);
		else if (rc == -SIGKILL)
			ADD(sh->gc_killed);
		else {
			ADD(sh->gc_failed);
			log_entry("gc (periodic)", rc, out);
		}
	}
	_exit(0);
}

/* Forks @fn into a process that dies with the soak's main process. */
static pid_t start(void (*fn)(int, int64_t), int arg, int64_t deadline)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(arg, deadline);
	}
	return pid;
}

static void killer_main(int arg, int64_t deadline) { killer(); }
static void gc_main(int arg, int64_t deadline) { gc_runner(); }

/* --- setup, the end, the summary ----------------------------------------------------------- */

/* Two VPCs (a with NAT, b without), groups g1..g3 in each with a rule. */
static int build(void)
{
	static char out[OUT_MAX];
	for (int v = 0; v < 2; v++) {
		if (vpcnet(&T, out, sizeof(out), NULL, "vpc create %s-%s --cidr 10.%d.0.0/24%s",
			   T.tag, vpcs[v], 60 + v, v ? "" : " --nat"))
			goto fail;
		for (int g = 1; g <= GROUPS; g++)
			if (vpcnet(&T, out, sizeof(out), NULL, "sg create g%d --vpc %s-%s", g, T.tag,
				   vpcs[v]) ||
			    vpcnet(&T, out, sizeof(out), NULL, "sg rule add g%d egress tcp:%d"
				   " 0.0.0.0/0 --vpc %s-%s", g, 80 + g, T.tag, vpcs[v]))
				goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "soak: setup failed: %s", out);
	return -1;
}

/* Whatever the store's members name as their namespace, and VPC names (for the end). */
static json_t *store_netns(void)
{
	char path[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	json_t *a = json_array();
	snprintf(path, sizeof(path), "file:%s/state.db?mode=ro", T.state_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT netns FROM members WHERE netns_owned", -1, &s, NULL) ==
		    SQLITE_OK)
		while (sqlite3_step(s) == SQLITE_ROW)
			json_array_append_new(a, json_string((const char *)sqlite3_column_text(s, 0)));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return a;
}

static long long store_rows(void)
{
	char path[256];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long n = -1;
	snprintf(path, sizeof(path), "file:%s/state.db?mode=ro", T.state_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM vpcs) + (SELECT count(*) FROM"
			       " members) + (SELECT count(*) FROM profiles) + (SELECT count(*)"
			       " FROM sgs)", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

/* Whether namespace @name holds no interface but lo (`ip -o`: a line per interface). */
static bool only_lo(const char *name)
{
	char out[4096];
	if (run(out, sizeof(out), "ip -n %s -o link show", name))
		return true;  /* gone meanwhile */
	const char *nl = strchr(out, '\n');
	return !nl || !nl[1];
}

/* What the run's tag (and the store's namespaces in @paths) still holds after everything
 * was deleted: namespaces, interfaces in the workers' container namespaces, transit links
 * and host table elements, store rows.  Counted, each said on stderr. */
static int leftovers(json_t *paths)
{
	static char out[OUT_MAX];
	int n = 0;
	size_t i;
	json_t *p;
	json_array_foreach(paths, i, p)
		if (!access(json_string_value(p), F_OK)) {
			n++;
			fprintf(stderr, "soak: left: namespace %s\n", json_string_value(p));
		}
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	char tag[32], pfx[32];
	snprintf(tag, sizeof(tag), "%s-", T.tag);
	snprintf(pfx, sizeof(pfx), "%s-c", T.tag);
	while (d && (e = readdir(d))) {
		if (!strncmp(e->d_name, "vpcnet-", 7) && strstr(e->d_name, tag)) {
			n++;
			fprintf(stderr, "soak: left: namespace %s\n", e->d_name);
		}
		if (!strncmp(e->d_name, pfx, strlen(pfx)) && !only_lo(e->d_name)) {
			n++;
			fprintf(stderr, "soak: left: an interface in %s\n", e->d_name);
		}
	}
	if (d)
		closedir(d);
	if (!run(out, sizeof(out), "ip -n %s -o link show", T.host) && strstr(out, ": vpct")) {
		n++;
		fprintf(stderr, "soak: left: transit links in the host: %s", out);
	}
	if (!run(out, sizeof(out), "ip netns exec %s nft list table inet vpcnet_host", T.host) &&
	    strstr(out, "elements")) {
		n++;
		fprintf(stderr, "soak: left: host table elements: %s", out);
	}
	long long rows = store_rows();
	if (rows != 0) {
		n++;
		fprintf(stderr, "soak: left: %lld store rows (vpcs, members, profiles, groups)\n",
			rows);
	}
	return n;
}

/* vpcnet-pool-* namespaces (their names carry no tag). */
static json_t *pool_namespaces(void)
{
	json_t *a = json_array();
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "vpcnet-pool-", 12))
			json_array_append_new(a, json_string(e->d_name));
	if (d)
		closedir(d);
	return a;
}

static bool listed(json_t *a, const char *s)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x)
		if (!strcmp(json_string_value(x), s))
			return true;
	return false;
}

/* Pool namespaces made during the run and empty now (only lo: no router leads to them):
 * ours most likely (another test's live pool entry has its eth0). */
static int pool_leftovers(json_t *before)
{
	static char out[OUT_MAX];
	json_t *now = pool_namespaces();
	size_t i;
	json_t *x;
	int n = 0;
	json_array_foreach(now, i, x) {
		const char *name = json_string_value(x);
		if (!listed(before, name) && !access(nspath(name, out, sizeof(out)), F_OK) &&
		    only_lo(name)) {
			n++;
			fprintf(stderr, "soak: left: empty pool namespace %s (made during the run)\n",
				name);
		}
	}
	json_decref(now);
	return n;
}

struct verdict {
	int gc_rc, violations, left;
};

/* The end: gc, the invariants, then everything deleted and nothing left. */
static void finish(struct verdict *vd, json_t *pools_before)
{
	static char out[OUT_MAX], rep[REPORT_MAX];
	vd->gc_rc = vpcnet(&T, out, sizeof(out), NULL, "gc");
	if (vd->gc_rc) {
		fprintf(stderr, "soak: the final gc exited %d: %s", vd->gc_rc, out);
		int again = vpcnet(&T, out, sizeof(out), NULL, "gc");
		fprintf(stderr, "soak: a second gc exited %d: %s", again, out);
	}
	char tag[32];
	snprintf(tag, sizeof(tag), "%s-", T.tag);  /* "t12-": never a part of "t123-" */
	vd->violations = invariants_check(T.state_dir, T.host, tag, rep, sizeof(rep));
	if (vd->violations)
		fprintf(stderr, "soak: %d invariant violation(s) after gc:\n%s", vd->violations, rep);
	json_t *paths = store_netns();
	for (int v = 0; v < 2; v++)
		if (vpcnet(&T, out, sizeof(out), NULL, "vpc delete --force %s-%s", T.tag, vpcs[v])) {
			fprintf(stderr, "soak: vpc delete --force %s-%s: %s", T.tag, vpcs[v], out);
			vd->left++;
		}
	if (vpcnet(&T, out, sizeof(out), NULL, "gc")) {
		fprintf(stderr, "soak: gc after deleting everything: %s", out);
		vd->left++;
	}
	vd->left += leftovers(paths) + pool_leftovers(pools_before);
	json_decref(paths);
}

static void summary(const struct verdict *vd, int seconds)
{
	printf("soak: %d s, %d workers; ops ok/failed/killed:", seconds, WORKERS);
	for (int o = 0; o < OPS; o++)
		printf(" %s %u/%u/%u%s", op_name[o], sh->ok[o], sh->failed[o], sh->killed[o],
		       o + 1 < OPS ? "," : ";");
	printf(" kills %u; gc runs %u (ok %u, failed %u, killed %u); final gc exit %d;"
	       " leaks %d; left after delete %d; sanitizer reports %u%s%s\n", sh->kills,
	       sh->gc_ok + sh->gc_failed + sh->gc_killed, sh->gc_ok, sh->gc_failed, sh->gc_killed,
	       vd->gc_rc, vd->violations, vd->left, sh->sanitizer, sh->logged ? "; log " : "",
	       sh->logged ? logpath : "");
	fflush(stdout);
}

/* Waits for child @pid at most @ms, then SIGKILLs it; reaps it either way. */
static void reap_within(pid_t pid, int64_t ms)
{
	int64_t end = now_ms() + (ms > 0 ? ms : 0);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		sleep_ms(100);
	}
}

/* The soak proper (in its own process group, under the supervisor). */
static int soak(int seconds)
{
	topo_setup(&T);
	snprintf(logpath, sizeof(logpath), "/tmp/vpcnet-soak-%s.log", T.tag);
	unlink(logpath);
	json_t *pools_before = pool_namespaces();
	if (build()) {
		json_decref(pools_before);
		return 2;
	}
	int64_t deadline = now_ms() + (int64_t)seconds * 1000;
	pid_t workers[WORKERS], helpers[2];
	for (int w = 0; w < WORKERS; w++)
		workers[w] = start(worker, w, deadline);
	helpers[0] = start(killer_main, 0, 0);
	helpers[1] = start(gc_main, 0, 0);
	for (int w = 0; w < WORKERS; w++)
		reap_within(workers[w], deadline + STOP_GRACE_S * 1000 - now_ms());
	__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
	for (int h = 0; h < 2; h++)
		reap_within(helpers[h], OP_TIMEOUT_MS + 10000);
	struct verdict vd = { 0 };
	finish(&vd, pools_before);
	json_decref(pools_before);
	summary(&vd, seconds);
	topo_teardown(&T);
	return vd.gc_rc || vd.violations || vd.left || sh->sanitizer ? 1 : 0;
}

/* --- the supervisor: whatever happens to the soak, nothing of it survives ------------------ */

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) { interrupted = sig; }

/* Removes what a soak run with tag @tag left: its VPCs (pool namespaces with them), the
 * namespaces that carry the tag, the state dir. */
static void sweep(const char *tag)
{
	char out[OUT_MAX], dir[128];
	struct topo t = { 0 };
	snprintf(t.tag, sizeof(t.tag), "%s", tag);
	snprintf(t.host, sizeof(t.host), "%s-h", tag);
	snprintf(t.inet, sizeof(t.inet), "%s-i", tag);
	snprintf(t.state_dir, sizeof(t.state_dir), "/tmp/vpcnet-test-%s", tag);
	snprintf(dir, sizeof(dir), "%s", t.state_dir);
	if (access(dir, F_OK))
		return;
	T = t;
	json_t *paths = store_netns();
	topo_teardown(&t);  /* VPCs (--force), namespaces with the tag, the fixtures, the dir */
	size_t i;
	json_t *p;
	json_array_foreach(paths, i, p)
		if (!access(json_string_value(p), F_OK))
			run(out, sizeof(out), "ip netns del %s", strrchr(json_string_value(p), '/') + 1);
	json_decref(paths);
}

/* Runs soak() in child @pid's process group; on a signal or when it ends, kills the group,
 * reaps everything (a subreaper gets the orphans) and sweeps. */
static int supervise(pid_t pid)
{
	int st = 0, rc = 1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		if (interrupted) {
			fprintf(stderr, "soak: interrupted (signal %d): stopping\n", interrupted);
			kill(-pid, SIGKILL);
		}
	if (WIFEXITED(st))
		rc = WEXITSTATUS(st);
	else
		fprintf(stderr, "soak: the soak process died of signal %d\n", WTERMSIG(st));
	kill(-pid, SIGKILL);  /* whatever of the group is left */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	char tag[32];
	snprintf(tag, sizeof(tag), "t%d", (int)pid);
	sweep(tag);
	return interrupted ? 130 : rc;
}

int main(void)
{
	const char *s = getenv("SOAK_SECONDS");
	int seconds = s ? atoi(s) : 180;
	bin = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	if (geteuid() != 0) {
		fprintf(stderr, "soak: needs root (namespaces)\n");
		return 77;
	}
	if (seconds < 1 || seconds > 24 * 3600 || access(bin, X_OK)) {
		fprintf(stderr, "soak: SOAK_SECONDS 1-86400 and an executable VPCNET_BIN (%s)\n", bin);
		return 2;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_IGN);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(soak(seconds));
	}
	if (pid < 0)
		return 1;
	setpgid(pid, pid);  /* either of the two does it first */
	return supervise(pid);
}
