/* SPDX-License-Identifier: MIT */
/* The C library as a program embeds it: one handle per thread, several threads at once;
 * the shared object exports vpcnet_ symbols alone; and examples/c/hello, built through
 * pkg-config against a `make install PREFIX=...` copy, runs against a test topology. */
#include <pthread.h>
#include <stdlib.h>

#include "tests/ns_util.h"
#include "vpcnet.h"

static struct topo T;
static char dir[128];  /* /tmp/vpcnet-capi-<tag> */

static void setup(void) { topo_setup(&T); }
static void teardown(void)
{
	topo_teardown(&T);
	if (dir[0])
		run(NULL, 0, "rm -rf %s", dir);
}

TestSuite(capi, .init = setup, .fini = teardown, .timeout = 240);

#define THREADS 4
#define PER_THREAD 4

struct worker {
	pthread_t th;
	int n;
	pthread_barrier_t *made;     /* all have created theirs */
	pthread_barrier_t *checked;  /* the main thread has looked */
	struct in_addr addr[PER_THREAD];
	char netns[PER_THREAD][VPCNET_PATH_MAX];
	int created, deleted;
	struct vpcnet_error err;     /* the first failure */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct vpcnet_config cfg = { .state_dir = T.state_dir, .host_netns = T.host };
	struct vpcnet *vn = NULL;
	char vpc[64], id[80];
	tname(&T, "v", vpc, sizeof(vpc));
	if (vpcnet_open(&vn, &cfg, &w->err)) {
		pthread_barrier_wait(w->made);
		pthread_barrier_wait(w->checked);
		return NULL;
	}
	for (int k = 0; k < PER_THREAD; k++) {
		snprintf(id, sizeof(id), "%s-w%d-%d", T.tag, w->n, k);
		struct vpcnet_sandbox_spec spec = { .id = id, .vpc = vpc };
		struct vpcnet_sandbox sb;
		if (vpcnet_sandbox_create(vn, &spec, &sb, &w->err))
			break;
		w->addr[k] = sb.addr;
		snprintf(w->netns[k], sizeof(w->netns[k]), "%s", sb.netns);
		w->created++;
	}
	pthread_barrier_wait(w->made);
	pthread_barrier_wait(w->checked);
	for (int k = 0; k < w->created; k++) {
		snprintf(id, sizeof(id), "%s-w%d-%d", T.tag, w->n, k);
		if (vpcnet_sandbox_delete(vn, id, &w->err))
			break;
		w->deleted++;
	}
	vpcnet_close(vn);
	return NULL;
}

static int count_list(const struct vpcnet_sandbox *sb, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

Test(capi, threads_each_with_a_handle_create_and_delete_at_once)
{
	make_vpc(&T, "v", "10.63.0.0/24", false);
	char router[256], out[16384];
	router_ns(&T, "v", router, sizeof(router));
	pthread_barrier_t made, checked;
	pthread_barrier_init(&made, NULL, THREADS + 1);
	pthread_barrier_init(&checked, NULL, THREADS + 1);
	struct worker w[THREADS];
	memset(w, 0, sizeof(w));
	for (int i = 0; i < THREADS; i++) {
		w[i].n = i;
		w[i].made = &made;
		w[i].checked = &checked;
		cr_assert_eq(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
	}
	pthread_barrier_wait(&made);
	/* all created: each succeeded, addresses distinct, each namespace there */
	int created = 0;
	for (int i = 0; i < THREADS; i++) {
		created += w[i].created;
		for (int k = 0; k < w[i].created; k++) {
			cr_expect_eq(access(w[i].netns[k], F_OK), 0, "%s missing", w[i].netns[k]);
			for (int j = 0; j <= i; j++)
				for (int l = 0; l < (j == i ? k : w[j].created); l++)
					cr_expect_neq(w[i].addr[k].s_addr, w[j].addr[l].s_addr,
						      "threads %d and %d got the same address", i, j);
		}
	}
	struct vpcnet_config cfg = { .state_dir = T.state_dir, .host_netns = T.host };
	struct vpcnet *vn = NULL;
	struct vpcnet_error err = { 0 };
	int listed = 0;
	cr_expect_eq(vpcnet_open(&vn, &cfg, &err), 0, "%s", err.msg);
	cr_expect_eq(vpcnet_sandbox_list(vn, NULL, count_list, &listed, &err), 0, "%s", err.msg);
	run(out, sizeof(out), "ip -netns %s -o link show", router + strlen("/run/netns/"));
	int ports = 0;
	for (const char *p = out; (p = strstr(p, ": port")); p++)
		ports++;
	pthread_barrier_wait(&checked);
	for (int i = 0; i < THREADS; i++)
		pthread_join(w[i].th, NULL);
	pthread_barrier_destroy(&made);
	pthread_barrier_destroy(&checked);
	for (int i = 0; i < THREADS; i++) {
		cr_expect_eq(w[i].created, PER_THREAD, "thread %d: %s", i, w[i].err.msg);
		cr_expect_eq(w[i].deleted, w[i].created, "thread %d: %s", i, w[i].err.msg);
	}
	cr_expect_eq(listed, THREADS * PER_THREAD);
	cr_expect_eq(ports, THREADS * PER_THREAD, "router ports: %s", out);
	/* all deleted: nothing of them is left, in the store or the kernel */
	listed = 0;
	cr_expect_eq(vpcnet_sandbox_list(vn, NULL, count_list, &listed, &err), 0, "%s", err.msg);
	cr_expect_eq(listed, 0, "sandboxes left in the store");
	vpcnet_close(vn);
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < w[i].created; k++)
			cr_expect_neq(access(w[i].netns[k], F_OK), 0, "%s left", w[i].netns[k]);
	/* the kernel destroys a deleted namespace's veth pair asynchronously: give it 5 s */
	for (int i = 0; i < 100; i++) {
		run(out, sizeof(out), "ip -netns %s -o link show", router + strlen("/run/netns/"));
		if (!strstr(out, ": port"))
			break;
		usleep(50 * 1000);
	}
	cr_assert_null(strstr(out, ": port"), "router ports left: %s", out);
	cr_assert_eq(created, THREADS * PER_THREAD);
}

/* `nm -D` of the shared object, observed. */
Test(capi_elf, the_shared_library_exports_only_vpcnet_symbols)
{
	const char *so = getenv("VPCNET_LIB") ? getenv("VPCNET_LIB") : "build/libvpcnet.so";
	static char out[1 << 16];
	cr_assert_eq(run(out, sizeof(out), "nm -D --defined-only %s", so), 0, "nm: %s", out);
	int n = 0, open_seen = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char addr[32], type[4], name[256];
		cr_assert_eq(sscanf(line, "%31s %3s %255s", addr, type, name), 3, "nm said: %s",
			     line);
		if (!strcmp(type, "A") && !strcmp(name, "VPCNET_0"))
			continue;  /* the version node of lib/libvpcnet.map */
		cr_expect_eq(strncmp(name, "vpcnet_", 7), 0, "%s exports %s", so, name);
		open_seen |= !strncmp(name, "vpcnet_open@", 12) || !strcmp(name, "vpcnet_open");
		n++;
	}
	cr_assert_gt(n, 20, "only %d symbols exported", n);
	cr_assert(open_seen, "vpcnet_open is not exported");
	cr_assert_eq(run(out, sizeof(out), "readelf -d %s", so), 0, "%s", out);
	cr_assert(strstr(out, "Library soname: [libvpcnet.so.0]"), "soname: %s", out);
}

/* hello prints its sandbox and what the far end said, then cleans up after itself. */
static void run_hello(const char *bin, const char *vpc_suffix, const char *sbx_suffix,
		      const char *cidr_prefix, uint16_t port)
{
	char out[8192], inet[256], vpc[64], id[80];
	nspath(T.inet, inet, sizeof(inet));
	struct listener l;
	listen_tcp(&T, inet, port, &l);
	tname(&T, vpc_suffix, vpc, sizeof(vpc));
	tname(&T, sbx_suffix, id, sizeof(id));
	int rc = run(out, sizeof(out), "%s/src/%s -s %s -n %s -c %s0/24 %s %s " INET_ADDR ":%u",
		     dir, bin, T.state_dir, T.host, cidr_prefix, vpc, id, port);
	cr_assert_eq(rc, 0, "%s exited %d: %s", bin, rc, out);
	char want[160];
	snprintf(want, sizeof(want), "sandbox %s: %s", id, cidr_prefix);
	cr_assert(strstr(out, want), "%s said: %s", bin, out);
	cr_assert(strstr(out, "it said: " UPLINK_ADDR "\n"), "%s said: %s", bin, out);
	cr_assert_eq(listener_count(&l), 1, "the listener saw no connection");
	cr_assert(strstr(out, "deleted sandbox"), "%s said: %s", bin, out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "vpc list"), 0, "%s", out);
	cr_assert_null(strstr(out, vpc), "hello left its VPC: %s", out);
}

Test(capi, the_example_builds_through_pkg_config_and_runs)
{
	char out[16384];
	snprintf(dir, sizeof(dir), "/tmp/vpcnet-capi-%s", T.tag);
	cr_assert_eq(run(out, sizeof(out), "mkdir -p %s/src", dir), 0, "%s", out);
	/* the library as `make install` lays it out, in a prefix of the test's own */
	cr_assert_eq(run(out, sizeof(out), "make -s --no-print-directory install PREFIX=%s/prefix",
			 dir), 0, "make install: %s", out);
	cr_assert_eq(run(out, sizeof(out), "cp examples/c/hello.c examples/c/Makefile %s/src", dir),
		     0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "env PKG_CONFIG_PATH=%s/prefix/lib/pkgconfig make -s"
			 " --no-print-directory -C %s/src", dir, dir), 0, "build: %s", out);
	/* hello is linked with the installed libvpcnet.so.0; hello-static with the .a */
	cr_assert_eq(run(out, sizeof(out), "readelf -d %s/src/hello", dir), 0, "%s", out);
	cr_assert(strstr(out, "[libvpcnet.so.0]"), "hello: %s", out);
	cr_assert_eq(run(out, sizeof(out), "readelf -d %s/src/hello-static", dir), 0, "%s", out);
	cr_assert_null(strstr(out, "libvpcnet"), "hello-static: %s", out);

	run_hello("hello", "hv", "hs", "10.64.0.", 8080);
	run_hello("hello-static", "hv2", "hs2", "10.65.0.", 8081);
}
