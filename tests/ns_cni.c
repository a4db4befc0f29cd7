/* SPDX-License-Identifier: MIT */
/* The CNI plugin, driven exactly as a runtime drives it: $VPCNET_BIN exec'd with the CNI
 * variables as its whole environment (plus the sanitizers' settings) and the network config
 * on stdin; stdout must be one JSON document.  Chained with the reference plugins of
 * Debian's containernetworking-plugins (/usr/lib/cni: tuning, sbr), which parse vpcnet's
 * result as their prevResult.  Container namespaces are the test's own (the runtime's job). */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "lib/store.h"
#include "tests/ns_util.h"

static struct topo T;
static void setup(void) { topo_setup(&T); }
static void teardown(void) { topo_teardown(&T); }

TestSuite(cni, .init = setup, .fini = teardown, .timeout = 180);

#define REF_PLUGINS "/usr/lib/cni"
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define STDIN_IS_A_DIRECTORY ((const char *)1)

static const char *bin(void)
{
	return getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
}

/* Runs @path with @env as its whole environment (the sanitizers' settings and the test
 * build's failpoint added), @conf on stdin; its stdout into @out.  Returns the exit code. */
static int exec_argv(const char *path, const char *arg, const char *const *env,
		     const char *conf, char *out, size_t outlen)
{
	const char *keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	char *envp[32], kept[3][512];
	int n = 0;
	for (; env[n] && n < 24; n++)
		envp[n] = (char *)env[n];
	for (size_t i = 0; i < 3; i++)
		if (getenv(keep[i])) {
			snprintf(kept[i], sizeof(kept[i]), "%s=%s", keep[i], getenv(keep[i]));
			envp[n++] = kept[i];
		}
	envp[n] = NULL;
	int in[2], o[2], mem = -1;
	size_t clen = conf && conf != STDIN_IS_A_DIRECTORY ? strlen(conf) : 0;
	if (clen > 60000) {  /* more than a pipe holds: from a file */
		mem = memfd_create("conf", MFD_CLOEXEC);
		cr_assert(mem >= 0 && write(mem, conf, clen) == (ssize_t)clen &&
			  lseek(mem, 0, SEEK_SET) == 0);
	}
	cr_assert(!pipe2(in, O_CLOEXEC) && !pipe2(o, O_CLOEXEC));
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fd = conf == STDIN_IS_A_DIRECTORY ? open("/", O_RDONLY | O_DIRECTORY)
			 : mem >= 0 ? mem : in[0];
		dup2(fd, 0);
		dup2(o[1], 1);
		execve(path, (char *[]){ (char *)path, (char *)arg, NULL }, envp);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	if (clen && mem < 0)
		cr_assert_eq(write(in[1], conf, clen), (ssize_t)clen);
	if (mem >= 0)
		close(mem);
	close(in[1]);
	size_t got = 0;
	for (;;) {
		ssize_t r = read(o[0], out + got, outlen - 1 - got);
		if (r <= 0)
			break;
		got += r;
		if (got + 1 >= outlen)
			break;
	}
	out[got] = '\0';
	close(o[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int exec_plugin(const char *path, const char *const *env, const char *conf, char *out,
		       size_t outlen)
{
	return exec_argv(path, NULL, env, conf, out, outlen);
}

static int plugin(const char *const *env, const char *conf, char *out, size_t outlen)
{
	return exec_plugin(bin(), env, conf, out, outlen);
}

/* A network config of network @name on VPC <tag>-@vpc; @extra is appended to the object. */
static const char *conf(char *buf, size_t n, const char *version, const char *name,
			const char *vpc, const char *extra)
{
	snprintf(buf, n,
		 "{\"cniVersion\":\"%s\",\"name\":\"%s\",\"type\":\"vpcnet\",\"vpc\":\"%s-%s\","
		 "\"stateDir\":\"%s\",\"hostNetns\":\"%s\"%s%s}", version, name, T.tag, vpc,
		 T.state_dir, T.host, extra ? "," : "", extra ? extra : "");
	return buf;
}

/* @conf with "prevResult": @result (and a changed "type" when @type). */
static const char *with_prev(char *buf, size_t n, const char *conf_s, const char *result,
			     const char *type)
{
	json_t *c = json_loads(conf_s, 0, NULL), *r = json_loads(result, 0, NULL);
	cr_assert(c && r, "not JSON: %s / %s", conf_s, result);
	json_object_set_new(c, "prevResult", r);
	if (type)
		json_object_set_new(c, "type", json_string(type));
	char *s = json_dumps(c, JSON_COMPACT);
	snprintf(buf, n, "%s", s);
	free(s);
	json_decref(c);
	return buf;
}

/* The error a plugin printed: asserts the shape, returns its code. */
static int err_code(const char *out, const char *version)
{
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "stdout is not one JSON document: '%s'", out);
	cr_assert(json_is_integer(json_object_get(j, "code")), "no code: %s", out);
	cr_assert(json_is_string(json_object_get(j, "msg")), "no msg: %s", out);
	cr_assert(json_is_string(json_object_get(j, "details")), "no details: %s", out);
	const char *v = json_string_value(json_object_get(j, "cniVersion"));
	cr_assert(v && (!version || !strcmp(v, version)), "cniVersion %s, want %s", v, version);
	int code = json_integer_value(json_object_get(j, "code"));
	json_decref(j);
	return code;
}

#define EXPECT_ERR(code_, version_, env_, conf_) do { \
	char _o[4096]; \
	int _rc = plugin(env_, conf_, _o, sizeof(_o)); \
	cr_assert_neq(_rc, 0, "exit 0 where error %d was due: %s", code_, _o); \
	cr_assert_eq(err_code(_o, version_), code_, "want code %d: %s", code_, _o); \
} while (0)

/* "/run/netns/<tag>-@suffix", made as a runtime would. */
static const char *container_ns(const char *suffix, char *path, size_t n)
{
	char name[64];
	tname(&T, suffix, name, sizeof(name));
	cr_assert_eq(run(NULL, 0, "ip netns add %s", name), 0);
	return nspath(name, path, n);
}

static int links_in(const char *netns_path, const char *ifname)
{
	char out[4096];
	return run(out, sizeof(out), "ip -n %s link show %s", strrchr(netns_path, '/') + 1,
		   ifname) == 0;
}

static json_t *sandboxes(void)
{
	char out[65536];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(json_is_array(j), "%s", out);
	return j;
}

/* The sandbox whose origin is @origin (a new reference), or NULL. */
static json_t *sandbox_of(const char *origin)
{
	json_t *arr = sandboxes(), *v, *found = NULL;
	size_t i;
	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "origin")), origin))
			found = json_incref(v);
	json_decref(arr);
	return found;
}

static size_t count_sandboxes(void)
{
	json_t *arr = sandboxes();
	size_t n = json_array_size(arr);
	json_decref(arr);
	return n;
}

/* Router ports of VPC <tag>-@vpc. */
static int router_ports(const char *vpc)
{
	char ns[256], out[16384];
	router_ns(&T, vpc, ns, sizeof(ns));
	cr_assert_eq(run(out, sizeof(out), "ip -n %s -o link show", strrchr(ns, '/') + 1), 0);
	int n = 0;
	for (char *p = out; (p = strstr(p, ": port")); p++)
		n++;
	return n;
}

Test(cni, add_egress_through_nat_inbound_refused_check_del)
{
	char c[2048], out[8192], ns[256], cc[8192], inet[256], host[256], peer[64];
	make_vpc(&T, "a", "10.80.0.0/24", true);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "sg create web --vpc %s-a", T.tag);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "%s", cmd), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add web egress tcp:8080 "
			    "0.0.0.0/0 --vpc %s-a", T.tag), 0, "%s", out);
	container_ns("c1", ns, sizeof(ns));
	nspath(T.inet, inet, sizeof(inet));
	nspath(T.host, host, sizeof(host));
	struct listener web, other, inside;
	listen_tcp(&T, inet, 8080, &web);
	listen_tcp(&T, inet, 8081, &other);
	conf(c, sizeof(c), "1.0.0", "fns", "a", "\"securityGroups\":[\"web\"]");
	char e_ns[300];
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	int rc = plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=0123456789abcdef0123456789abcdef"
			    "0123456789abcdef0123456789abcdef", e_ns, "CNI_IFNAME=eth0",
			    "CNI_PATH=" REF_PLUGINS), c, out, sizeof(out));
	cr_assert_eq(rc, 0, "ADD: %s", out);
	json_t *r = json_loads(out, 0, NULL);
	cr_assert(r, "ADD printed no JSON: %s", out);
	cr_assert_str_eq(json_string_value(json_object_get(r, "cniVersion")), "1.0.0");
	json_t *ifs = json_object_get(r, "interfaces"), *ips = json_object_get(r, "ips");
	cr_assert_eq(json_array_size(ifs), 2, "%s", out);
	json_t *eth = json_array_get(ifs, 1);
	cr_assert_str_eq(json_string_value(json_object_get(eth, "name")), "eth0");
	cr_assert_str_eq(json_string_value(json_object_get(eth, "sandbox")), ns);
	cr_assert(json_string_value(json_object_get(eth, "mac")), "%s", out);
	cr_assert_null(json_object_get(json_array_get(ifs, 0), "sandbox"),
		       "the router's port is reported as a host-side interface: %s", out);
	cr_assert_eq(json_array_size(ips), 1, "%s", out);
	json_t *ip0 = json_array_get(ips, 0);
	cr_assert_eq(json_integer_value(json_object_get(ip0, "interface")), 1);
	cr_assert_null(json_object_get(ip0, "version"), "1.x ips carry no version");
	const char *addr = json_string_value(json_object_get(ip0, "address"));
	cr_assert(addr && !strncmp(addr, "10.80.0.", 8) && strstr(addr, "/24"), "%s", out);
	cr_assert_str_eq(json_string_value(json_object_get(ip0, "gateway")), "10.80.0.1");
	json_t *rt = json_array_get(json_object_get(r, "routes"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(rt, "dst")), "0.0.0.0/0");
	cr_assert_str_eq(json_string_value(json_object_get(rt, "gw")), "10.80.0.1");
	cr_assert(json_is_object(json_object_get(r, "dns")));
	char ip[16];
	snprintf(ip, sizeof(ip), "%.*s", (int)(strchr(addr, '/') - addr), addr);

	/* the attachment is a sandbox recorded with its origin */
	json_t *sb = sandbox_of("cni:fns/0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
				"abcdef/eth0");
	cr_assert(sb, "no sandbox with the attachment as origin");
	cr_assert_str_eq(json_string_value(json_object_get(sb, "netns")), ns);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(sb, "groups"), 0)), "web");
	json_decref(sb);

	/* real packets: out through the NAT gateway as the groups allow; nothing in */
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR, "NATed to the uplink");
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8081, 3000, NULL, 0), P_REFUSED, "group: 8080 only");
	cr_assert_eq(listener_count(&other), 0);
	listen_tcp(&T, ns, 9090, &inside);
	cr_assert_neq(probe_tcp(host, ip, 9090, 1000, NULL, 0), P_OK, "the host got in");
	cr_assert_neq(probe_tcp(inet, ip, 9090, 1000, NULL, 0), P_OK, "the internet got in");
	cr_assert_eq(listener_count(&inside), 0);

	/* CHECK against the result; then broken: it says what */
	with_prev(cc, sizeof(cc), c, out, NULL);
	const char *const *check_env = ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=0123456789abcdef"
		"0123456789abcdef0123456789abcdef0123456789abcdef", e_ns, "CNI_IFNAME=eth0",
		"CNI_PATH=" REF_PLUGINS);
	char o2[4096];
	cr_assert_eq(plugin(check_env, cc, o2, sizeof(o2)), 0, "CHECK: %s", o2);
	cr_assert_str_eq(o2, "", "CHECK prints nothing on success");
	cr_assert_eq(run(o2, sizeof(o2), "ip -n %s-c1 route del default", T.tag), 0, "%s", o2);
	EXPECT_ERR(104, "1.0.0", check_env, cc);
	cr_assert_eq(run(o2, sizeof(o2), "ip -n %s-c1 route add default via 10.80.0.1", T.tag), 0);
	cr_assert_eq(plugin(check_env, cc, o2, sizeof(o2)), 0, "CHECK: %s", o2);
	/* its profile's map entry gone from the router: broken; gc rebuilds it from the store */
	const char *port = json_string_value(json_object_get(json_array_get(ifs, 0), "name"));
	char router[96];
	snprintf(router, sizeof(router), "vpcnet-vpc-%s-a", T.tag);
	long profile = link_group(router, port);
	cr_assert_gt(profile, 0, "the port is in its profile's device group");
	cr_assert_eq(run(o2, sizeof(o2), "ip netns exec %s nft delete element inet vpcnet out1"
			 " { %ld }", router, profile), 0, "%s", o2);
	cr_assert_neq(plugin(check_env, cc, o2, sizeof(o2)), 0);
	cr_assert_eq(err_code(o2, "1.0.0"), 104);
	cr_assert(strstr(o2, "@out1"), "names what is missing: %s", o2);
	cr_assert_eq(vpcnet(&T, o2, sizeof(o2), NULL, "gc"), 0, "%s", o2);
	cr_assert_eq(plugin(check_env, cc, o2, sizeof(o2)), 0, "CHECK after gc: %s", o2);
	/* prevResult that does not match */
	char bad[8192], *p;
	snprintf(bad, sizeof(bad), "%s", cc);
	cr_assert((p = strstr(bad, ip)));
	p[strlen(ip) - 1] = p[strlen(ip) - 1] == '9' ? '8' : '9';
	EXPECT_ERR(104, "1.0.0", check_env, bad);

	/* DEL: gone from the netns, the router and the store; again: still fine */
	const char *const *del_env = ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=0123456789abcdef"
		"0123456789abcdef0123456789abcdef0123456789abcdef", e_ns, "CNI_IFNAME=eth0",
		"CNI_PATH=" REF_PLUGINS);
	cr_assert_eq(plugin(del_env, cc, o2, sizeof(o2)), 0, "DEL: %s", o2);
	cr_assert_str_eq(o2, "");
	cr_assert_not(links_in(ns, "eth0"));
	cr_assert_eq(router_ports("a"), 0);
	cr_assert_eq(count_sandboxes(), 0);
	cr_assert_eq(plugin(del_env, cc, o2, sizeof(o2)), 0, "DEL again: %s", o2);
	/* CHECK after DEL: no such attachment */
	EXPECT_ERR(104, "1.0.0", check_env, cc);
	json_decref(r);
}

Test(cni, result_shapes_and_versions)
{
	char c[2048], out[8192], ns[256], e_ns[300];
	make_vpc(&T, "a", "10.81.0.0/24", false);
	container_ns("c1", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	static const char *const versions[] = { "0.4.0", "1.0.0", "1.1.0" };
	for (size_t v = 0; v < 3; v++) {
		conf(c, sizeof(c), versions[v], "fns", "a", NULL);
		int rc = plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns, "CNI_IFNAME=net1"),
				c, out, sizeof(out));
		cr_assert_eq(rc, 0, "ADD %s: %s", versions[v], out);
		json_t *r = json_loads(out, 0, NULL);
		cr_assert_str_eq(json_string_value(json_object_get(r, "cniVersion")), versions[v]);
		json_t *ip0 = json_array_get(json_object_get(r, "ips"), 0);
		if (v == 0)
			cr_assert_str_eq(json_string_value(json_object_get(ip0, "version")), "4",
					 "0.4.0 ips carry version: %s", out);
		else
			cr_assert_null(json_object_get(ip0, "version"), "%s", out);
		json_decref(r);
		cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=ctr", "CNI_IFNAME=net1"),
				    c, out, sizeof(out)), 0, "%s", out);
	}
	/* versions vpcnet does not speak: 1, and nothing made */
	EXPECT_ERR(1, NULL, ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns, "CNI_IFNAME=net1"),
		   conf(c, sizeof(c), "0.3.1", "fns", "a", NULL));
	EXPECT_ERR(1, NULL, ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns, "CNI_IFNAME=net1"),
		   conf(c, sizeof(c), "2.0.0", "fns", "a", NULL));
	cr_assert_eq(count_sandboxes(), 0);
	/* VERSION: with and without a version on stdin */
	cr_assert_eq(plugin(ENV("CNI_COMMAND=VERSION"), "{\"cniVersion\":\"0.4.0\"}", out,
			    sizeof(out)), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert_str_eq(json_string_value(json_object_get(j, "cniVersion")), "0.4.0");
	json_t *sv = json_object_get(j, "supportedVersions");
	cr_assert_eq(json_array_size(sv), 3, "%s", out);
	cr_assert_str_eq(json_string_value(json_array_get(sv, 2)), "1.1.0");
	json_decref(j);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=VERSION"), "", out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "\"cniVersion\": \"1.1.0\""), "%s", out);
	/* CNI_COMMAND wins over the command line (checked before any option) */
	cr_assert_eq(exec_argv(bin(), "--no-such-option", ENV("CNI_COMMAND=VERSION"), "", out,
			       sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "supportedVersions"), "%s", out);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=VERSION"), STDIN_IS_A_DIRECTORY, out, sizeof(out)), 0,
		     "%s", out);
	j = json_loads(out, 0, NULL);
	cr_assert(j, "one JSON document: %s", out);
	cr_assert_str_eq(json_string_value(json_object_get(j, "cniVersion")), "1.1.0");
	json_decref(j);
	/* stdin of 4 MiB is read whole; one byte more is refused (code 5; VERSION answers
	 * all the same, as it does to any stdin it cannot read) */
	enum { MAX = 4 << 20 };
	static char big[MAX + 2];
	memset(big, ' ', MAX + 1);
	memcpy(big, "{\"cniVersion\":\"0.4.0\"}", 22);
	big[MAX] = '\0';
	cr_assert_eq(plugin(ENV("CNI_COMMAND=VERSION"), big, out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "\"cniVersion\": \"0.4.0\""), "4 MiB exactly: %s", out);
	big[MAX] = ' ';
	big[MAX + 1] = '\0';
	cr_assert_neq(plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", "CNI_IFNAME=net1",
				 "CNI_NETNS=/proc/self/ns/net"), big, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(err_code(out, NULL), 5, "%s", out);
	cr_assert(strstr(out, "more than 4 MiB"), "%s", out);
}

Test(cni, every_error_code)
{
	char c[2048], out[8192], ns[256], e_ns[300], fileenv[300], file[256];
	make_vpc(&T, "a", "10.82.0.0/24", false);
	container_ns("c1", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	conf(c, sizeof(c), "1.1.0", "fns", "a", NULL);
#define ADD_ENV ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns, "CNI_IFNAME=eth0")
	/* 4: variables */
	EXPECT_ERR(4, NULL, ENV("CNI_COMMAND=FROB"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", e_ns, "CNI_IFNAME=eth0"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", "CNI_IFNAME=eth0"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", "CNI_NETNS=",
				   "CNI_IFNAME=eth0"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr",
				   "CNI_NETNS=/run/netns/no-such-ns", "CNI_IFNAME=eth0"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns,
				   "CNI_IFNAME=a-name-longer-than-15"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=-bad/id", e_ns,
				   "CNI_IFNAME=eth0"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=ctr"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=ctr", e_ns,
				   "CNI_IFNAME=eth0"), c);  /* CHECK needs CNI_PATH */
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=GC"), c);  /* and so does GC */
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns,
				   "CNI_IFNAME=eth0", "CNI_ARGS=K8S_POD_NAME=x"), c);
	EXPECT_ERR(4, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns,
				   "CNI_IFNAME=eth0", "CNI_ARGS=novalue"), c);
	/* 5: stdin cannot be read; 6: not JSON */
	EXPECT_ERR(5, NULL, ADD_ENV, STDIN_IS_A_DIRECTORY);
	EXPECT_ERR(6, NULL, ADD_ENV, "");
	EXPECT_ERR(6, NULL, ADD_ENV, "{\"cniVersion\":");
	EXPECT_ERR(6, NULL, ADD_ENV, "[1,2]");
	/* 7: the config */
	char bad[2048];
	EXPECT_ERR(7, NULL, ADD_ENV, "{\"name\":\"fns\",\"type\":\"vpcnet\",\"vpc\":\"x\"}");
	snprintf(bad, sizeof(bad), "{\"cniVersion\":\"1.0.0\",\"name\":\"fns\",\"type\":\"vpcnet\"}");
	EXPECT_ERR(7, "1.0.0", ADD_ENV, bad);
	EXPECT_ERR(7, "1.1.0", ADD_ENV, conf(bad, sizeof(bad), "1.1.0", "-bad name", "a", NULL));
	EXPECT_ERR(7, "1.1.0", ADD_ENV, conf(bad, sizeof(bad), "1.1.0", "fns", "a",
					      "\"securityGroups\":\"web\""));
	EXPECT_ERR(7, "1.1.0", ADD_ENV, conf(bad, sizeof(bad), "1.1.0", "fns", "a",
					      "\"securityGroups\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]"));
	EXPECT_ERR(7, "1.1.0", ADD_ENV, conf(bad, sizeof(bad), "1.1.0", "fns", "a",
					      "\"runtimeConfig\":{\"securityGroups\":[1]}"));
	EXPECT_ERR(7, "1.1.0", ADD_ENV, conf(bad, sizeof(bad), "1.1.0", "fns", "a",
					      "\"defaultRoute\":\"no\""));
	EXPECT_ERR(7, "1.1.0", ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=ctr", e_ns,
				   "CNI_IFNAME=eth0", "CNI_PATH=/x"), c);  /* no prevResult */
	EXPECT_ERR(7, "1.1.0", ENV("CNI_COMMAND=GC", "CNI_PATH=/x"), c);  /* no attachments */
	/* 101: no such VPC, no such group */
	EXPECT_ERR(101, "1.1.0", ADD_ENV, conf(bad, sizeof(bad), "1.1.0", "fns", "nope", NULL));
	EXPECT_ERR(101, "1.1.0", ADD_ENV, conf(bad, sizeof(bad), "1.1.0", "fns", "a",
						"\"securityGroups\":[\"nope\"]"));
	EXPECT_ERR(101, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns,
				     "CNI_IFNAME=eth0", "CNI_ARGS=IgnoreUnknown=1;VPCNET_SG=nope;"
				     "K8S_POD_NAME=x"), c);
	/* 103: CNI_NETNS is no namespace */
	snprintf(file, sizeof(file), "%s/not-a-netns", T.state_dir);
	cr_assert_eq(run(out, sizeof(out), "touch %s", file), 0, "%s", out);
	snprintf(fileenv, sizeof(fileenv), "CNI_NETNS=%s", file);
	EXPECT_ERR(103, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", fileenv,
				     "CNI_IFNAME=eth0"), c);
	/* 103: ... or the host's, or the router's */
	char rns[256];
	snprintf(fileenv, sizeof(fileenv), "CNI_NETNS=/run/netns/%s", T.host);
	EXPECT_ERR(103, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", fileenv,
				     "CNI_IFNAME=eth0"), c);
	snprintf(fileenv, sizeof(fileenv), "CNI_NETNS=%s", router_ns(&T, "a", rns, sizeof(rns)));
	EXPECT_ERR(103, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", fileenv,
				     "CNI_IFNAME=eth0"), c);
	cr_assert_eq(router_ports("a"), 0);
	/* 102: the interface exists already (another plugin's): refused, nothing left behind */
	cr_assert_eq(run(out, sizeof(out), "ip -n %s-c1 link add eth0 type veth peer name eth0p", T.tag), 0);
	EXPECT_ERR(102, "1.1.0", ADD_ENV, c);
	cr_assert_eq(count_sandboxes(), 0, "a failed ADD leaves no sandbox");
	cr_assert_eq(router_ports("a"), 0, "a failed ADD leaves no router port");
	cr_assert(links_in(ns, "eth0"), "and the interface it found is untouched");
	/* DEL after the failed ADD */
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=ctr", "CNI_IFNAME=eth0"), c,
			    out, sizeof(out)), 0, "%s", out);
	cr_assert(links_in(ns, "eth0"), "DEL did not remove what is not vpcnet's");
	cr_assert_eq(run(out, sizeof(out), "ip -n %s-c1 link del eth0", T.tag), 0);
	/* ADD twice: 102 the second time, the first stays whole */
	cr_assert_eq(plugin(ADD_ENV, c, out, sizeof(out)), 0, "%s", out);
	EXPECT_ERR(102, "1.1.0", ADD_ENV, c);
	cr_assert_eq(count_sandboxes(), 1);
	cr_assert(links_in(ns, "eth0"));
	/* a second vpcnet interface in the namespace fails late (its default route exists
	 * already), after its veth, port and address were made: all of it is rolled back */
	EXPECT_ERR(102, "1.1.0", ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=ctr", e_ns,
				     "CNI_IFNAME=eth1"), c);
	cr_assert_not(links_in(ns, "eth1"), "rolled back: the interface");
	cr_assert_eq(router_ports("a"), 1, "rolled back: the router port");
	cr_assert_eq(count_sandboxes(), 1, "rolled back: the sandbox");
	/* 11: the attachment is in flight in another (live) process: try again later */
	char db[256];
	snprintf(db, sizeof(db), "%s/state.db", T.state_dir);
	sqlite3 *sq;
	cr_assert_eq(sqlite3_open(db, &sq), SQLITE_OK);
	struct owner me = owner_self(1);
	char sql[512];
	snprintf(sql, sizeof(sql), "UPDATE members SET state='creating', owner_pid=%" PRId64
		 ", owner_start=%" PRId64 ", owner_nonce=1 WHERE origin='cni:fns/ctr/eth0'",
		 me.pid, me.start);
	cr_assert_eq(sqlite3_exec(sq, sql, NULL, NULL, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_changes(sq), 1);
	EXPECT_ERR(11, "1.1.0", ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=ctr", "CNI_IFNAME=eth0"), c);
	cr_assert_eq(sqlite3_exec(sq, "UPDATE members SET state='ready' WHERE origin="
				  "'cni:fns/ctr/eth0'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(sq);
	/* 100: a step fails (failpoint: revoking its port); the sandbox stays
	 * recorded, its address taken, and the next DEL finishes it */
	EXPECT_ERR(100, "1.1.0", ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=ctr", "CNI_IFNAME=eth0",
				     "VPCNET_FAILPOINT=sandbox-delete:revoke=error"), c);
	cr_assert_eq(count_sandboxes(), 1);
	/* 105: a sandbox made by hand under the id an attachment would have is never touched */
	char id[80];
	json_t *sb = sandbox_of("cni:fns/ctr/eth0");
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(sb, "id")));
	json_decref(sb);
	/* the id is a contract (a DEL after an upgrade must find it): docs/cni.md's formula,
	 * "cni-" + 12 of the container id + FNV-1a 64 of "fns\0ctr\0eth0" */
	cr_assert_str_eq(id, "cni-ctr-cff94c850a2409d2");
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=ctr", "CNI_IFNAME=eth0"), c,
			    out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox create %s --vpc %s-a", id, T.tag),
		     0, "%s", out);
	EXPECT_ERR(105, "1.1.0", ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=ctr", "CNI_IFNAME=eth0"), c);
	EXPECT_ERR(105, "1.1.0", ADD_ENV, c);
	cr_assert_eq(count_sandboxes(), 1, "the hand-made sandbox stays");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sandbox delete %s", id), 0, "%s", out);
#undef ADD_ENV
}

Test(cni, status)
{
	char c[2048], out[8192], bad[2048];
	/* no store yet: 50 (and STATUS made none) */
	EXPECT_ERR(50, "1.1.0", ENV("CNI_COMMAND=STATUS"), conf(c, sizeof(c), "1.1.0", "fns", "a",
								 NULL));
	struct stat sb;
	cr_assert_neq(stat(T.state_dir, &sb), 0, "STATUS made a store");
	make_vpc(&T, "a", "10.83.0.0/28", false);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=STATUS", "CNI_PATH=/x"), c, out, sizeof(out)), 0, "%s",
		     out);
	cr_assert_str_eq(out, "");
	EXPECT_ERR(50, "1.1.0", ENV("CNI_COMMAND=STATUS"), conf(bad, sizeof(bad), "1.1.0", "fns",
								 "nope", NULL));
	/* a /28 leases 11 addresses: full, 51 */
	for (int i = 0; i < 11; i++) {
		char id[32];
		snprintf(id, sizeof(id), "s%d", i);
		struct sbx s;
		make_sbx(&T, "a", id, &s);
	}
	EXPECT_ERR(51, "1.1.0", ENV("CNI_COMMAND=STATUS"), c);
	/* the router namespace is gone (a reboot): 50 */
	make_vpc(&T, "b", "10.83.1.0/24", false);
	conf(c, sizeof(c), "1.1.0", "fns", "b", NULL);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=STATUS"), c, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip netns del vpcnet-vpc-%s-b", T.tag), 0, "%s", out);
	EXPECT_ERR(50, "1.1.0", ENV("CNI_COMMAND=STATUS"), c);
}

Test(cni, del_when_things_are_gone)
{
	char c[2048], out[8192], ns[256], e_ns[300], cc[8192];
	make_vpc(&T, "a", "10.84.0.0/24", false);
	conf(c, sizeof(c), "1.0.0", "fns", "a", NULL);
	/* the netns is gone */
	container_ns("c1", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", e_ns, "CNI_IFNAME=eth0"),
			    c, out, sizeof(out)), 0, "%s", out);
	with_prev(cc, sizeof(cc), c, out, NULL);
	cr_assert_eq(run(out, sizeof(out), "ip netns del %s-c1", T.tag), 0);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c1", e_ns, "CNI_IFNAME=eth0",
				"CNI_PATH=/x"), cc, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(count_sandboxes(), 0);
	cr_assert_eq(router_ports("a"), 0);
	/* the interface is gone (deleted inside); a minimal environment, empty CNI_NETNS
	 * (containerd), no prevResult */
	container_ns("c2", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c2", e_ns, "CNI_IFNAME=eth0"),
			    c, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "ip -n %s-c2 link del eth0", T.tag), 0, "%s", out);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c2", "CNI_NETNS=",
				"CNI_IFNAME=eth0"), c, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(count_sandboxes(), 0);
	cr_assert_eq(router_ports("a"), 0);
	/* the state is gone: DEL succeeds and makes no store */
	char gone[2048], dir[256];
	snprintf(dir, sizeof(dir), "%s/elsewhere", T.state_dir);
	snprintf(gone, sizeof(gone), "{\"cniVersion\":\"1.0.0\",\"name\":\"fns\",\"type\":\"vpcnet\","
		 "\"vpc\":\"x\",\"stateDir\":\"%s\"}", dir);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c3", "CNI_IFNAME=eth0"), gone,
			    out, sizeof(out)), 0, "%s", out);
	struct stat sb;
	cr_assert_neq(stat(dir, &sb), 0, "DEL made a store");
	/* the host netns is gone: DEL does without it */
	container_ns("c4", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=c4", e_ns, "CNI_IFNAME=eth0"),
			    c, out, sizeof(out)), 0, "%s", out);
	char nohost[2048];
	snprintf(nohost, sizeof(nohost), "{\"cniVersion\":\"1.0.0\",\"name\":\"fns\",\"type\":"
		 "\"vpcnet\",\"vpc\":\"%s-a\",\"stateDir\":\"%s\",\"hostNetns\":\"%s-gone\"}",
		 T.tag, T.state_dir, T.tag);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=c4", "CNI_IFNAME=eth0"), nohost,
			    out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(count_sandboxes(), 0);
	cr_assert_not(links_in(ns, "eth0"));
}

/* A process in a network namespace of its own, as a runtime's container. */
static pid_t unshared_process(void)
{
	int p[2];
	cr_assert(!pipe(p));
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) || write(p[1], "R", 1) != 1)
			_exit(1);
		for (int i = 0; i < 120; i++)
			sleep(1);
		_exit(0);
	}
	close(p[1]);
	char ch;
	cr_assert_eq(read(p[0], &ch, 1), 1);
	close(p[0]);
	return pid;
}

Test(cni, proc_pid_netns)
{
	char c[2048], out[8192], ns[64], e_ns[80], inet[256], peer[64];
	make_vpc(&T, "a", "10.85.0.0/24", true);
	nspath(T.inet, inet, sizeof(inet));
	struct listener web;
	listen_tcp(&T, inet, 8080, &web);
	pid_t pid = unshared_process();
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", pid);
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	conf(c, sizeof(c), "1.1.0", "fns", "a", NULL);
	int rc = plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=p1", e_ns, "CNI_IFNAME=eth0"), c,
			out, sizeof(out));
	if (rc) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, ns), "sandbox = %s: %s", ns, out);
	enum probe_result pr = probe_tcp(ns, INET_ADDR, 8080, 3000, peer, sizeof(peer));
	char cc[8192], o2[4096];
	with_prev(cc, sizeof(cc), c, out, NULL);
	int crc = plugin(ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=p1", e_ns, "CNI_IFNAME=eth0",
			     "CNI_PATH=/x"), cc, o2, sizeof(o2));
	/* the container exits; DEL afterwards (its namespace is gone with it) */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_eq(pr, P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR);
	cr_assert_eq(crc, 0, "CHECK: %s", o2);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=p1", e_ns, "CNI_IFNAME=eth0"),
			    c, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(count_sandboxes(), 0);
	cr_assert_eq(router_ports("a"), 0);
}

Test(cni, prev_result_merged_and_chained_with_tuning_and_sbr)
{
	struct stat sb;
	if (stat(REF_PLUGINS "/tuning", &sb) || stat(REF_PLUGINS "/sbr", &sb))
		cr_skip_test("containernetworking-plugins is not installed");
	char c[2048], out[8192], ns[256], e_ns[300], cc[8192], o2[8192];
	make_vpc(&T, "a", "10.86.0.0/24", true);
	container_ns("c1", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	const char *const *add = ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=chain1", e_ns,
				     "CNI_IFNAME=eth0", "CNI_PATH=" REF_PLUGINS);
	/* vpcnet after a plugin that made an interface: appended, indices fixed up */
	char prev[1024];
	snprintf(prev, sizeof(prev), "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\","
		 "\"sandbox\":\"%s\"}],\"ips\":[{\"address\":\"127.0.0.1/8\",\"interface\":0}],"
		 "\"dns\":{\"nameservers\":[\"10.86.0.2\"]}}", ns);
	conf(c, sizeof(c), "1.0.0", "fns", "a", NULL);
	with_prev(cc, sizeof(cc), c, prev, NULL);
	cr_assert_eq(plugin(add, cc, out, sizeof(out)), 0, "%s", out);
	json_t *r = json_loads(out, 0, NULL);
	json_t *ifs = json_object_get(r, "interfaces"), *ips = json_object_get(r, "ips");
	cr_assert_eq(json_array_size(ifs), 3, "%s", out);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ifs, 0), "name")), "lo");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ifs, 2), "name")), "eth0");
	cr_assert_eq(json_array_size(ips), 2, "%s", out);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(ips, 0), "interface")), 0);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(ips, 1), "interface")), 2);
	cr_assert(strstr(out, "10.86.0.2"), "prevResult's dns kept: %s", out);
	json_decref(r);
	char vres[8192];
	snprintf(vres, sizeof(vres), "%s", out);

	/* tuning reads it as its prevResult, sets MTU and a sysctl inside the container */
	char tconf[2048];
	snprintf(tconf, sizeof(tconf), "{\"cniVersion\":\"1.0.0\",\"name\":\"fns\",\"type\":"
		 "\"tuning\",\"mtu\":1400,\"sysctl\":{\"net.ipv4.conf.eth0.accept_local\":\"1\"}}");
	with_prev(cc, sizeof(cc), tconf, vres, NULL);
	int rc = exec_plugin(REF_PLUGINS "/tuning", add, cc, o2, sizeof(o2));
	cr_assert_eq(rc, 0, "tuning: %s", o2);
	char tres[8192];
	snprintf(tres, sizeof(tres), "%s", o2);
	cr_assert(strstr(tres, "10.86.0."), "tuning passed the result on: %s", tres);
	cr_assert_eq(run(o2, sizeof(o2), "ip -n %s-c1 link show eth0", T.tag), 0);
	cr_assert(strstr(o2, "mtu 1400"), "tuning's MTU: %s", o2);
	cr_assert_eq(run(o2, sizeof(o2), "ip netns exec %s-c1 cat "
			 "/proc/sys/net/ipv4/conf/eth0/accept_local", T.tag), 0);
	cr_assert_eq(o2[0], '1', "tuning's sysctl: %s", o2);

	/* sbr reads tuning's result: a rule from our address to table 100, routes moved there */
	char sconf[2048], sres[8192];
	snprintf(sconf, sizeof(sconf), "{\"cniVersion\":\"1.0.0\",\"name\":\"fns\",\"type\":\"sbr\"}");
	with_prev(cc, sizeof(cc), sconf, tres, NULL);
	rc = exec_plugin(REF_PLUGINS "/sbr", add, cc, sres, sizeof(sres));
	cr_assert_eq(rc, 0, "sbr: %s", sres);
	char ip[16];
	json_t *vr = json_loads(vres, 0, NULL);
	const char *addr = json_string_value(json_object_get(json_array_get(
		json_object_get(vr, "ips"), 1), "address"));
	snprintf(ip, sizeof(ip), "%.*s", (int)(strchr(addr, '/') - addr), addr);
	json_decref(vr);
	cr_assert_eq(run(o2, sizeof(o2), "ip -n %s-c1 rule show", T.tag), 0);
	char want[64];
	snprintf(want, sizeof(want), "from %s lookup 100", ip);
	cr_assert(strstr(o2, want), "sbr's rule (%s): %s", want, o2);
	cr_assert_eq(run(o2, sizeof(o2), "ip -n %s-c1 route show table 100", T.tag), 0);
	cr_assert(strstr(o2, "default via 10.86.0.1 dev eth0"), "sbr's table: %s", o2);
	/* vpcnet's CHECK accepts the routes sbr moved (a socket bound to the address still
	 * leaves: sbr routes by source) */
	with_prev(cc, sizeof(cc), c, sres, NULL);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=chain1", e_ns,
				"CNI_IFNAME=eth0", "CNI_PATH=" REF_PLUGINS), cc, o2, sizeof(o2)), 0,
		     "CHECK after sbr: %s", o2);

	/* DEL in reverse order, each with the final result */
	const char *const *del = ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=chain1", e_ns,
				     "CNI_IFNAME=eth0", "CNI_PATH=" REF_PLUGINS);
	with_prev(cc, sizeof(cc), sconf, sres, NULL);
	cr_assert_eq(exec_plugin(REF_PLUGINS "/sbr", del, cc, o2, sizeof(o2)), 0, "sbr DEL: %s", o2);
	with_prev(cc, sizeof(cc), tconf, sres, NULL);
	cr_assert_eq(exec_plugin(REF_PLUGINS "/tuning", del, cc, o2, sizeof(o2)), 0, "%s", o2);
	with_prev(cc, sizeof(cc), c, sres, NULL);
	cr_assert_eq(plugin(del, cc, o2, sizeof(o2)), 0, "vpcnet DEL: %s", o2);
	cr_assert_not(links_in(ns, "eth0"));
	cr_assert_eq(count_sandboxes(), 0);
}

Test(cni, groups_from_cni_args_and_runtime_config)
{
	char c[2048], out[8192], ns[256], e_ns[300], inet[256];
	make_vpc(&T, "a", "10.87.0.0/24", true);
	nspath(T.inet, inet, sizeof(inet));
	struct listener l80, l81;
	listen_tcp(&T, inet, 8080, &l80);
	listen_tcp(&T, inet, 8081, &l81);
	static const char *const rules[][2] = { { "g80", "tcp:8080" }, { "g81", "tcp:8081" } };
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create %s --vpc %s-a", rules[i][0],
				    T.tag), 0, "%s", out);
		cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add %s egress %s 0.0.0.0/0 "
				    "--vpc %s-a", rules[i][0], rules[i][1], T.tag), 0, "%s", out);
	}
	/* the config says g80; CNI_ARGS overrides it with g81 */
	conf(c, sizeof(c), "1.0.0", "fns", "a", "\"securityGroups\":[\"g80\"]");
	container_ns("c1", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=g1", e_ns, "CNI_IFNAME=eth0",
				"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=x;VPCNET_SG=g81"), c, out,
			    sizeof(out)), 0, "%s", out);
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8081, 3000, NULL, 0), P_OK);
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, NULL, 0), P_REFUSED);
	/* runtimeConfig overrides the config too */
	char rc_conf[2048];
	conf(rc_conf, sizeof(rc_conf), "1.0.0", "fns", "a", "\"securityGroups\":[\"g80\"],"
	     "\"runtimeConfig\":{\"securityGroups\":[\"g81\"]}");
	container_ns("c2", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=g2", e_ns, "CNI_IFNAME=eth0"),
			    rc_conf, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8081, 3000, NULL, 0), P_OK);
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, NULL, 0), P_REFUSED);
	/* and the config's own groups when nothing overrides them */
	container_ns("c3", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=g3", e_ns, "CNI_IFNAME=eth0"),
			    c, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8081, 3000, NULL, 0), P_REFUSED);
	cr_assert_eq(listener_count(&l80), 1);
	cr_assert_eq(listener_count(&l81), 2);
}

/* ADD of (network, container) on ns <tag>-@suffix, returning nothing. */
static void attach(const char *c, const char *cid, const char *suffix)
{
	char ns[256], e_ns[300], e_cid[128], out[8192];
	container_ns(suffix, ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=%s", cid);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=ADD", e_cid, e_ns, "CNI_IFNAME=eth0"), c, out,
			    sizeof(out)), 0, "ADD %s: %s", cid, out);
}

Test(cni, gc_removes_what_is_not_listed_of_its_network_only)
{
	char fns[2048], oth[2048], g[4096], out[8192];
	make_vpc(&T, "a", "10.88.0.0/24", false);
	conf(fns, sizeof(fns), "1.1.0", "fns", "a", NULL);
	conf(oth, sizeof(oth), "1.1.0", "other", "a", NULL);
	attach(fns, "k1", "c1");
	attach(fns, "k2", "c2");
	attach(fns, "k3", "c3");
	attach(oth, "k1", "c4");  /* the same container id on another network */
	struct sbx hand;
	make_sbx(&T, "a", "byhand", &hand);
	cr_assert_eq(count_sandboxes(), 5);
	/* deletes fail (failpoint): GC carries on and reports every failure */
	conf(g, sizeof(g), "1.1.0", "fns", "a", "\"cni.dev/valid-attachments\":[{\"containerID\":"
	     "\"k1\",\"ifname\":\"eth0\"}]");
	int rc = plugin(ENV("CNI_COMMAND=GC", "CNI_PATH=/x",
			    "VPCNET_FAILPOINT=sandbox-delete:revoke=error"), g, out, sizeof(out));
	cr_assert_neq(rc, 0, "%s", out);
	cr_assert_eq(err_code(out, "1.1.0"), 106, "%s", out);
	cr_assert(strstr(out, "cni:fns/k2/eth0") && strstr(out, "cni:fns/k3/eth0"),
		  "both failures reported: %s", out);
	/* then for real */
	cr_assert_eq(plugin(ENV("CNI_COMMAND=GC", "CNI_PATH=/x"), g, out, sizeof(out)), 0, "%s",
		     out);
	cr_assert_str_eq(out, "");
	cr_assert_eq(count_sandboxes(), 3);
	json_t *s;
	cr_assert((s = sandbox_of("cni:fns/k1/eth0")), "the valid attachment stays");
	json_decref(s);
	cr_assert((s = sandbox_of("cni:other/k1/eth0")), "another network's stays");
	json_decref(s);
	cr_assert((s = sandbox_of("")), "a sandbox made by hand stays");
	json_decref(s);
	cr_assert_null(sandbox_of("cni:fns/k2/eth0"));
	char ns[256];
	snprintf(ns, sizeof(ns), "/run/netns/%s-c2", T.tag);
	cr_assert_not(links_in(ns, "eth0"), "GC removed its interface");
	/* the older key, listing nothing: the last of fns goes */
	conf(g, sizeof(g), "1.1.0", "fns", "a", "\"cni.dev/attachments\":[]");
	cr_assert_eq(plugin(ENV("CNI_COMMAND=GC", "CNI_PATH=/x"), g, out, sizeof(out)), 0, "%s",
		     out);
	cr_assert_null(sandbox_of("cni:fns/k1/eth0"));
	cr_assert_eq(count_sandboxes(), 2);
	cr_assert_eq(router_ports("a"), 2);
}

Test(cni, one_container_on_two_vpcnet_networks)
{
	char a[2048], b[2048], out[8192], ns[256], e_ns[300], inet[256], cc[8192];
	make_vpc(&T, "a", "10.89.0.0/24", true);
	make_vpc(&T, "b", "10.90.0.0/24", false);
	nspath(T.inet, inet, sizeof(inet));
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create db --vpc %s-b", T.tag), 0, "%s",
		     out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add db ingress tcp:5432 "
			    "10.90.0.0/24 --vpc %s-b", T.tag), 0, "%s", out);
	struct sbx db;
	make_instance(&T, "b", "db", "db", &db);
	struct listener web, pg;
	listen_tcp(&T, inet, 8080, &web);
	listen_tcp(&T, db.netns, 5432, &pg);
	container_ns("c1", ns, sizeof(ns));
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns);
	conf(a, sizeof(a), "1.0.0", "fns", "a", NULL);
	conf(b, sizeof(b), "1.0.0", "inner", "b", "\"defaultRoute\":false");
	const char *const *add0 = ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=two", e_ns,
				      "CNI_IFNAME=eth0");
	const char *const *add1 = ENV("CNI_COMMAND=ADD", "CNI_CONTAINERID=two", e_ns,
				      "CNI_IFNAME=eth1");
	cr_assert_eq(plugin(add0, a, out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(plugin(add1, b, out, sizeof(out)), 0, "%s", out);
	json_t *r = json_loads(out, 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(r, "routes")), 0, "no default route: %s", out);
	json_decref(r);
	/* the internet through VPC a's NAT gateway, VPC b's instance through eth1 */
	char peer[64];
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, peer, sizeof(peer)), P_OK);
	cr_assert_str_eq(peer, UPLINK_ADDR);
	cr_assert_eq(probe_tcp(ns, db.ip, 5432, 3000, peer, sizeof(peer)), P_OK);
	cr_assert(!strncmp(peer, "10.90.0.", 8), "reached from its VPC b address: %s", peer);
	json_t *s0 = sandbox_of("cni:fns/two/eth0"), *s1 = sandbox_of("cni:inner/two/eth1");
	cr_assert(s0 && s1);
	cr_assert_str_neq(json_string_value(json_object_get(s0, "id")),
			  json_string_value(json_object_get(s1, "id")));
	json_decref(s0);
	json_decref(s1);
	/* CHECK each against its own config; DEL each */
	with_prev(cc, sizeof(cc), b, out, NULL);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=CHECK", "CNI_CONTAINERID=two", e_ns, "CNI_IFNAME=eth1",
				"CNI_PATH=/x"), cc, out, sizeof(out)), 0, "CHECK eth1: %s", out);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=two", "CNI_IFNAME=eth1"), b,
			    out, sizeof(out)), 0, "%s", out);
	cr_assert_not(links_in(ns, "eth1"));
	cr_assert(links_in(ns, "eth0"), "the other network's interface stays");
	cr_assert_eq(probe_tcp(ns, INET_ADDR, 8080, 3000, NULL, 0), P_OK);
	cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", "CNI_CONTAINERID=two", "CNI_IFNAME=eth0"), a,
			    out, sizeof(out)), 0, "%s", out);
	cr_assert_eq(count_sandboxes(), 0);
	char ins[8192];
	cr_assert_eq(vpcnet(&T, ins, sizeof(ins), NULL, "instance delete %s", db.id), 0, "%s", ins);
}

Test(cni, parallel_adds_as_a_busy_runtime_makes_them)
{
	enum { N = 8 };
	char c[2048], out[8192];
	make_vpc(&T, "a", "10.91.0.0/24", false);
	conf(c, sizeof(c), "1.1.0", "fns", "a", NULL);
	char ns[N][256];
	for (int i = 0; i < N; i++) {
		char sfx[16];
		snprintf(sfx, sizeof(sfx), "p%d", i);
		container_ns(sfx, ns[i], sizeof(ns[i]));
	}
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		cr_assert(kids[i] >= 0);
		if (kids[i] == 0) {
			char e_ns[300], e_cid[64], o[8192];
			snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", ns[i]);
			snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=par%d", i);
			_exit(plugin(ENV("CNI_COMMAND=ADD", e_cid, e_ns, "CNI_IFNAME=eth0"), c, o,
				     sizeof(o)));
		}
	}
	int ok = 0;
	for (int i = 0; i < N; i++) {
		int st;
		waitpid(kids[i], &st, 0);
		ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	cr_assert_eq(ok, N, "every concurrent ADD succeeded");
	json_t *arr = sandboxes(), *v;
	size_t i;
	char seen[N][16] = { { 0 } };
	cr_assert_eq(json_array_size(arr), N);
	json_array_foreach(arr, i, v) {
		const char *ip = json_string_value(json_object_get(v, "ip"));
		for (size_t k = 0; k < i; k++)
			cr_assert_str_neq(seen[k], ip, "address %s leased twice", ip);
		snprintf(seen[i], sizeof(seen[i]), "%s", ip);
	}
	json_decref(arr);
	cr_assert_eq(router_ports("a"), N);
	for (int k = 0; k < N; k++) {
		char e_cid[64];
		snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=par%d", k);
		cr_assert_eq(plugin(ENV("CNI_COMMAND=DEL", e_cid, "CNI_IFNAME=eth0"), c, out,
				    sizeof(out)), 0, "%s", out);
	}
	cr_assert_eq(count_sandboxes(), 0);
}
