/* SPDX-License-Identifier: MIT */
/* `vpcnet oci-hook` driven by a real runtime: runc runs a busybox container whose bundle
 * names vpcnet as its createRuntime and poststop hooks (with an empty environment), and the
 * test checks the container's network from outside: its address, egress through the NAT
 * gateway, inbound refused, and nothing left once runc deletes it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "tests/ns_util.h"

#define WAIT 1000     /* ms a probe waits for an answer that must not come */
#define RUNC_S 60     /* a runc or podman command is killed after this */

static struct topo T;
static char dir[128];      /* /tmp/vpcnet-oci-<tag>: bundle and runc root */
static char bundle[192];
static char runc_root[192];
static char cids[2][64];   /* containers this test may have made */

/* `runc --root R ARGS...` */
static int runc(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int runc(char *out, size_t outlen, const char *fmt, ...)
{
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "runc --root %s", runc_root);
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun_logged(dir, RUNC_S, out, outlen, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

/* podman with storage, run dirs, configuration and hooks of the test's own. */
static char pod_name[64];
static int podman(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int podman(char *out, size_t outlen, const char *fmt, ...)
{
	char prefix[1024];
	snprintf(prefix, sizeof(prefix), "env CONTAINERS_CONF=%s/pod/containers.conf podman"
		 " --root %s/pod/storage --runroot %s/pod/run --tmpdir %s/pod/tmp --hooks-dir"
		 " %s/pod/hooks --cgroup-manager cgroupfs --runtime runc --events-backend none",
		 dir, dir, dir, dir, dir);
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun_logged(dir, RUNC_S, out, outlen, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

static void setup(void)
{
	topo_setup(&T);
	snprintf(dir, sizeof(dir), "/tmp/vpcnet-oci-%s", T.tag);
	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	snprintf(runc_root, sizeof(runc_root), "%s/runc", dir);
	char out[1024];
	cr_assert_eq(run(out, sizeof(out), "mkdir -p %s/rootfs/bin %s", bundle, runc_root), 0);
	cr_assert_eq(run(out, sizeof(out), "cp /bin/busybox %s/rootfs/bin/busybox", bundle), 0,
		     "busybox-static: %s", out);
	cr_assert_eq(run(out, sizeof(out), "ln -s busybox %s/rootfs/bin/sh", bundle), 0);
}

static void teardown(void)
{
	if (pod_name[0])
		podman(NULL, 0, "rm -f -t 0 %s", pod_name);
	for (int i = 0; i < 2; i++)
		if (cids[i][0])
			runc(NULL, 0, "delete --force %s", cids[i]);
	topo_teardown(&T);
	if (dir[0])
		run(NULL, 0, "rm -rf %s", dir);
}

TestSuite(oci, .init = setup, .fini = teardown, .timeout = 150);

/* The hook as a bundle names it: an absolute path, arguments, an empty environment. */
static json_t *hook(const char *bin, const char *verb, const char *extra)
{
	json_t *args = json_pack("[s, s, s, s, s, s, s]", "vpcnet", "--state-dir", T.state_dir,
				 "--host-netns", T.host, "oci-hook", verb);
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", extra ? extra : "");
	char *save = NULL;
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		json_array_append_new(args, json_string(t));
	return json_pack("[{s:s, s:o, s:[]}]", "path", bin, "args", args, "env");
}

/* A busybox container in a new network namespace, sleeping; vpcnet as its hooks. */
static void write_bundle(const char *create_args, json_t *annotations)
{
	char bin[4096];
	const char *b = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	cr_assert(realpath(b, bin), "VPCNET_BIN %s: %s", b, strerror(errno));
	json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type",
			       "network", "type", "ipc", "type", "uts", "type", "mount");
	json_t *mounts = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:[s, s]}]",
				   "destination", "/proc", "type", "proc", "source", "proc",
				   "destination", "/dev", "type", "tmpfs", "source", "tmpfs",
				   "options", "nosuid", "mode=755");
	json_t *cfg = json_pack(
		"{s:s, s:{s:b, s:{s:i, s:i}, s:[s, s, s], s:[s], s:s}, s:{s:s, s:b}, s:s,"
		" s:o, s:{s:o}, s:{s:o, s:o}, s:o}",
		"ociVersion", "1.0.2",
		"process", "terminal", 0, "user", "uid", 0, "gid", 0,
		"args", "/bin/busybox", "sleep", "120", "env", "PATH=/bin", "cwd", "/",
		"root", "path", "rootfs", "readonly", 0,
		"hostname", "oci",
		"mounts", mounts,
		"linux", "namespaces", ns,
		"hooks", "createRuntime", hook(bin, "create", create_args),
		"poststop", hook(bin, "delete", NULL),
		"annotations", annotations ? annotations : json_object());
	cr_assert(cfg);
	char path[256];
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	cr_assert_eq(json_dump_file(cfg, path, JSON_INDENT(1)), 0);
	json_decref(cfg);
}

/* The pid of a running container, from `runc state`. */
static long container_pid(const char *id)
{
	char out[8192];
	cr_assert_eq(runc(out, sizeof(out), "state %s", id), 0, "runc state: %s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "runc state: %s", out);
	long pid = json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	cr_assert_gt(pid, 0);
	return pid;
}

static int sandbox_count(void)
{
	char out[8192];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(json_is_array(j), "%s", out);
	int n = json_array_size(j);
	json_decref(j);
	return n;
}

/* Links in the VPC router whose name starts with @port (its routed ports). */
static int router_has_link(const char *router, const char *port)
{
	char out[16384], needle[40];
	cr_assert_eq(run(out, sizeof(out), "ip -netns %s -o link show", router + strlen("/run/netns/")),
		     0, "%s", out);
	snprintf(needle, sizeof(needle), " %s@", port);
	return strstr(out, needle) != NULL;
}

Test(oci, runc_container_gets_a_vpc_network_and_loses_it_on_delete)
{
	char out[8192], vpc[64], inet[256], host[256], ns[64], router[256];
	make_vpc(&T, "v", "10.61.0.0/24", true);
	tname(&T, "v", vpc, sizeof(vpc));
	/* a group that lets out TCP to the internet's port 8080 and nothing else */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create web --vpc %s", vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add web egress tcp:8080 "
			    INET_ADDR), 0, "%s", out);
	/* the VPC and the group from the annotations: the hook is given no --vpc, no --sg */
	write_bundle(NULL, json_pack("{s:s, s:s}", "vpcnet.vpc", vpc, "vpcnet.sg", "web"));
	tname(&T, "c1", cids[0], sizeof(cids[0]));
	int rc = runc(out, sizeof(out), "run -d --bundle %s %s", bundle, cids[0]);
	cr_assert_eq(rc, 0, "runc run: %s", out);
	long pid = container_pid(cids[0]);
	snprintf(ns, sizeof(ns), "/proc/%ld/ns/net", pid);

	/* the sandbox is the container: same id, its namespace adopted */
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox show %s", cids[0]), 0,
		     "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "%s", out);
	char ip[16], port[20];
	snprintf(ip, sizeof(ip), "%s", json_string_value(json_object_get(j, "ip")));
	snprintf(port, sizeof(port), "%s", json_string_value(json_object_get(j, "port")));
	cr_assert_str_eq(json_string_value(json_object_get(j, "vpc")), vpc);
	cr_assert_str_eq(json_string_value(json_object_get(j, "netns")), ns);
	cr_assert_not(json_is_true(json_object_get(j, "netns_owned")));
	json_t *groups = json_object_get(j, "groups");
	cr_assert_eq(json_array_size(groups), 1);
	cr_assert_str_eq(json_string_value(json_array_get(groups, 0)), "web");
	json_decref(j);
	cr_assert_eq(strncmp(ip, "10.61.0.", 8), 0, "address %s", ip);

	/* inside the container's namespace, as the kernel sees it */
	cr_assert_eq(run(out, sizeof(out), "nsenter --net=%s ip -o -4 addr show dev eth0", ns), 0,
		     "%s", out);
	char want[40];
	snprintf(want, sizeof(want), "inet %s/24", ip);
	cr_assert(strstr(out, want), "eth0 in the container: %s (want %s)", out, want);

	/* egress through the NAT gateway */
	struct listener il, cl;
	nspath(T.inet, inet, sizeof(inet));
	listen_tcp(&T, inet, 8080, &il);
	char peer[64];
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR, "the far end saw %s", peer);
	cr_assert_eq(listener_count(&il), 1);
	/* what the group does not allow stays in */
	struct listener ol;
	listen_tcp(&T, inet, 8081, &ol);
	cr_assert_neq(probe_tcp(ns, INET_ADDR, 8081, WAIT, NULL, 0), P_OK);
	cr_assert_eq(listener_count(&ol), 0, "egress the group does not allow got out");

	/* inbound from the host side, even with a route to the VPC: refused */
	listen_tcp(&T, ns, 80, &cl);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show %s", vpc), 0, "%s", out);
	j = json_loads(out, 0, NULL);
	const char *tr = json_string_value(json_object_get(json_object_get(j, "transit"), "router"));
	cr_assert_eq(run(out, sizeof(out), "ip -n %s route add 10.61.0.0/24 via %s", T.host, tr), 0,
		     "%s", out);
	json_decref(j);
	nspath(T.host, host, sizeof(host));
	cr_assert_neq(probe_tcp(host, ip, 80, WAIT, NULL, 0), P_OK);
	cr_assert_eq(listener_count(&cl), 0, "a connection reached the container");

	/* the port exists while the container runs ... */
	router_ns(&T, "v", router, sizeof(router));
	cr_assert(router_has_link(router, port), "router port %s missing", port);
	cr_assert_eq(sandbox_count(), 1);

	/* ... and runc's delete runs the poststop hook: the sandbox and its port are gone */
	cr_assert_eq(runc(out, sizeof(out), "kill %s KILL", cids[0]), 0, "runc kill: %s", out);
	for (int i = 0; i < 100; i++) {  /* until runc sees it stopped, at most 5 s */
		runc(out, sizeof(out), "state %s", cids[0]);
		if (strstr(out, "\"stopped\""))
			break;
		usleep(50 * 1000);
	}
	cr_assert_eq(runc(out, sizeof(out), "delete %s", cids[0]), 0, "runc delete: %s", out);
	cids[0][0] = '\0';
	cr_assert_eq(sandbox_count(), 0, "the poststop hook left the sandbox");
	cr_assert_not(router_has_link(router, port), "router port %s left behind", port);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json vpc show %s", vpc), 0, "%s", out);
	j = json_loads(out, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(j, "sandboxes")), 0, "%s", out);
	json_decref(j);
}

Test(oci, a_failing_hook_stops_the_container_and_leaves_nothing)
{
	char out[8192], vpc[64], router[256];
	make_vpc(&T, "v", "10.62.0.0/24", true);
	tname(&T, "v", vpc, sizeof(vpc));
	/* the argument wins over the annotation, and names a VPC that does not exist */
	write_bundle("--vpc nosuchvpc", json_pack("{s:s}", "vpcnet.vpc", vpc));
	tname(&T, "c2", cids[1], sizeof(cids[1]));
	int rc = runc(out, sizeof(out), "run -d --bundle %s %s", bundle, cids[1]);
	cr_assert_neq(rc, 0, "runc started a container its hook refused: %s", out);
	cr_assert(strstr(out, "VPC 'nosuchvpc' not found"), "runc said: %s", out);
	cr_assert_neq(runc(out, sizeof(out), "state %s", cids[1]), 0, "container left: %s", out);
	cr_assert_eq(sandbox_count(), 0);
	router_ns(&T, "v", router, sizeof(router));
	cr_assert_eq(run(out, sizeof(out), "ip -netns %s -o link show",
			 router + strlen("/run/netns/")), 0, "%s", out);
	cr_assert_null(strstr(out, ": " "port"), "a port is left in the router: %s", out);
}

Test(oci, hook_input_errors_exit_2_with_one_line)
{
	/* the hook as runc runs it, minus runc: state on stdin, no environment */
	char out[4096], cmd[1024];
	const char *b = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	/* a process in the host namespace, and this one (vpcnet's own namespace): a container
	 * that shares either has no namespace of its own to give an eth0 to.  (Refused before
	 * anything is touched; were it not, the unknown VPC would stop it, exit 3.) */
	char host[256], in_host[96], in_self[96], in_mine[160];
	struct listener hl;
	/* a sandbox made by hand under a container's id is not the hook's to delete */
	make_vpc(&T, "a", "10.64.0.0/24", false);
	struct sbx mine;
	make_sbx(&T, "a", "mine", &mine);
	snprintf(in_mine, sizeof(in_mine), "{\"id\":\"%s\"}", mine.id);
	listen_tcp(&T, nspath(T.host, host, sizeof(host)), 9, &hl);
	snprintf(in_host, sizeof(in_host), "{\"id\":\"c\",\"pid\":%d}", (int)hl.pid);
	snprintf(in_self, sizeof(in_self), "{\"id\":\"c\",\"pid\":%d}", (int)getpid());
	const struct { const char *state, *args, *says; int code; } cases[] = {
		{ in_host, "create --vpc nosuchvpc", "is the host's", 2 },
		{ in_self, "create --vpc nosuchvpc", "is the host's", 2 },
		{ "not json", "create --vpc x", "not JSON", 2 },
		{ "{\"pid\":1}", "create --vpc x", "\"id\" missing", 2 },
		{ "{\"id\":\"a+b\",\"pid\":1}", "create --vpc x", "sandbox id 'a+b'", 2 },
		{ "{\"id\":\"c\"}", "create --vpc x", "no \"pid\"", 2 },
		{ "{\"id\":\"c\",\"pid\":-4}", "create", "not a process id", 2 },
		{ "{\"id\":\"c\",\"pid\":1,\"annotations\":{\"vpcnet.sg\":7}}", "create",
		  "annotation vpcnet.sg", 2 },
		{ "{\"id\":\"c\",\"pid\":1}", "create --bogus", "unknown option", 2 },
		{ "{\"id\":\"gone\"}", "delete", NULL, 0 },
		{ in_mine, "delete", "not made by the OCI hook", 4 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | env -i %s --state-dir %s"
			 " --host-netns %s oci-hook %s", cases[i].state, b, T.state_dir, T.host,
			 cases[i].args);
		pid_t pid;
		int pfd[2];
		cr_assert_eq(pipe(pfd), 0);
		if ((pid = fork()) == 0) {
			dup2(pfd[1], 1);
			dup2(pfd[1], 2);
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		close(pfd[1]);
		ssize_t n = 0, got;
		while ((got = read(pfd[0], out + n, sizeof(out) - 1 - n)) > 0)
			n += got;
		out[n] = '\0';
		close(pfd[0]);
		int status;
		waitpid(pid, &status, 0);
		cr_assert(WIFEXITED(status), "case %zu crashed: %s", i, out);
		cr_assert_eq(WEXITSTATUS(status), cases[i].code, "case %zu (%s %s): exit %d: %s", i,
			     cases[i].state, cases[i].args, WEXITSTATUS(status), out);
		if (cases[i].says) {
			cr_assert(strstr(out, cases[i].says), "case %zu said: %s", i, out);
			cr_assert_eq(strchr(out, '\n'), out + n - 1, "case %zu: not one line: %s", i,
				     out);
		} else {
			cr_assert_eq(n, 0, "case %zu said: %s", i, out);
		}
	}
	cr_assert_eq(sandbox_count(), 1, "the hand-made sandbox is still there");
}

/* examples/oci/vpcnet-{create,delete}.json as shipped, pointed at the binary under test and
 * the test's state dir and host, in a hooks directory of the test's own. */
static void install_hooks_d(const char *bin)
{
	static const char *const verbs[] = { "create", "delete" };
	for (int i = 0; i < 2; i++) {
		char src[128], dst[256];
		json_error_t jerr;
		snprintf(src, sizeof(src), "examples/oci/vpcnet-%s.json", verbs[i]);
		json_t *h = json_load_file(src, 0, &jerr);
		cr_assert(h, "%s: %s", src, jerr.text);
		json_t *hook = json_object_get(h, "hook");
		json_object_set_new(hook, "path", json_string(bin));
		json_t *args = json_pack("[s, s, s, s, s, s, s]", "vpcnet", "--state-dir",
					 T.state_dir, "--host-netns", T.host, "oci-hook", verbs[i]);
		json_object_set_new(hook, "args", args);
		snprintf(dst, sizeof(dst), "%s/pod/hooks/vpcnet-%s.json", dir, verbs[i]);
		cr_assert_eq(json_dump_file(h, dst, 0), 0);
		json_decref(h);
	}
}

Test(oci, podman_runs_the_hooks_d_files)
{
	char out[8192], vpc[64], inet[256], bin[4096];
	const char *b = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	cr_assert(realpath(b, bin), "VPCNET_BIN %s: %s", b, strerror(errno));
	make_vpc(&T, "v", "10.67.0.0/24", true);
	tname(&T, "v", vpc, sizeof(vpc));
	cr_assert_eq(run(out, sizeof(out), "mkdir -p %s/pod/hooks %s/pod/storage %s/pod/run"
			 " %s/pod/tmp", dir, dir, dir, dir), 0, "%s", out);
	/* what podman needs on this machine kind (see the podman/CNI test) */
	char conf[256];
	snprintf(conf, sizeof(conf), "%s/pod/containers.conf", dir);
	FILE *f = fopen(conf, "w");
	cr_assert(f);
	fputs("[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"
	      "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n"
	      "events_logger = \"none\"\n", f);
	fclose(f);
	install_hooks_d(bin);

	/* no vpcnet.vpc annotation: the hooks do not fire, podman's own "none" network stays */
	tname(&T, "p0", pod_name, sizeof(pod_name));
	int rc = podman(out, sizeof(out), "run --rm --name %s --network none --rootfs"
			" %s/rootfs /bin/busybox ip -o link", pod_name, bundle);
	cr_assert_eq(rc, 0, "podman run: %s", out);
	cr_assert(strstr(out, ": lo:"), "ip -o link in the container: %s", out);
	cr_assert_null(strstr(out, "eth0"), "a hook fired without the annotation: %s", out);
	cr_assert_eq(sandbox_count(), 0);

	/* with it: the container's id is the sandbox, in that VPC, and it gets out */
	tname(&T, "p1", pod_name, sizeof(pod_name));
	rc = podman(out, sizeof(out), "run -d --name %s --network none --annotation vpcnet.vpc=%s"
		    " --rootfs %s/rootfs /bin/busybox sleep 120", pod_name, vpc, bundle);
	cr_assert_eq(rc, 0, "podman run: %s", out);
	char id[80];
	cr_assert_eq(sscanf(out, "%79[0-9a-f]", id), 1, "podman run said: %s", out);
	cr_assert_eq(strlen(id), 64, "container id %s", id);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox show %s", id), 0, "%s",
		     out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "%s", out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "vpc")), vpc);
	char ns[256];
	snprintf(ns, sizeof(ns), "%s", json_string_value(json_object_get(j, "netns")));
	json_decref(j);
	struct listener il;
	nspath(T.inet, inet, sizeof(inet));
	listen_tcp(&T, inet, 8080, &il);
	char peer[64];
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR);

	/* podman rm: poststop, and the sandbox is gone */
	cr_assert_eq(podman(out, sizeof(out), "rm -f -t 0 %s", pod_name), 0, "podman rm: %s", out);
	pod_name[0] = '\0';
	cr_assert_eq(sandbox_count(), 0, "the poststop hook left the sandbox");
}
