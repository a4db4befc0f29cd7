/* SPDX-License-Identifier: MIT */
/* A real orchestrator: podman 4.3 with its CNI backend runs a busybox container on a
 * vpcnet network (vpcnet is the network's only plugin).  Inside it, egress its group allows
 * gets out through the NAT gateway and the rest stays in; nothing opens a connection to it;
 * after `podman rm` nothing of it remains.  podman's storage, run dirs, configuration and
 * CNI directories are the test's own (CONTAINERS_CONF and command-line options); what this
 * machine kind needs of podman is in containers.conf below. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/ns_util.h"

#define PODMAN_S 90   /* a podman command is killed after this */
#define WAIT 1000     /* ms a probe waits for an answer that must not come */

static struct topo T;
static char dir[128];       /* /tmp/vpcnet-podman-<tag> */
static char container[64];  /* the container this test may have made */

static int podman(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int podman(char *out, size_t outlen, const char *fmt, ...)
{
	char prefix[1024];
	snprintf(prefix, sizeof(prefix), "env CONTAINERS_CONF=%s/containers.conf podman --root"
		 " %s/storage --runroot %s/run --tmpdir %s/tmp --cgroup-manager cgroupfs"
		 " --runtime runc --events-backend none", dir, dir, dir, dir);
	va_list ap;
	va_start(ap, fmt);
	int rc = vrun_logged(dir, PODMAN_S, out, outlen, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static void setup(void)
{
	topo_setup(&T);
	snprintf(dir, sizeof(dir), "/tmp/vpcnet-podman-%s", T.tag);
	char out[1024], path[256], text[2048], bin[4096];
	cr_assert_eq(run(out, sizeof(out), "mkdir -p %s/rootfs/bin %s/storage %s/run %s/tmp"
			 " %s/cni-bin %s/cni-conf", dir, dir, dir, dir, dir, dir), 0, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "cp /bin/busybox %s/rootfs/bin/busybox", dir), 0,
		     "busybox-static: %s", out);
	/* the plugin is the test build of vpcnet, under the name the network config gives */
	const char *b = getenv("VPCNET_BIN") ? getenv("VPCNET_BIN") : "build/test/vpcnet";
	cr_assert(realpath(b, bin), "VPCNET_BIN %s: %s", b, strerror(errno));
	snprintf(path, sizeof(path), "%s/cni-bin/vpcnet", dir);
	cr_assert_eq(symlink(bin, path), 0, "%s: %s", path, strerror(errno));
	/* podman on this machine kind: runc (crun refuses the hybrid cgroup layout), cgroupfs,
	 * bounded ulimits; the CNI backend with the test's own directories */
	snprintf(text, sizeof(text),
		 "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n"
		 "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n"
		 "events_logger = \"none\"\n"
		 "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"%s/cni-bin\"]\n"
		 "network_config_dir = \"%s/cni-conf\"\n", dir, dir);
	snprintf(path, sizeof(path), "%s/containers.conf", dir);
	write_file(path, text);
}

static void teardown(void)
{
	if (container[0])
		podman(NULL, 0, "rm -f -t 0 %s", container);
	topo_teardown(&T);
	if (dir[0])
		run(NULL, 0, "rm -rf %s", dir);
}

TestSuite(podman, .init = setup, .fini = teardown, .timeout = 240);

/* The sandbox of the test's store that is the network's attachment (there is one). */
static void attachment(const char *net, char *ip, size_t iplen, char *netns, size_t nslen)
{
	char out[8192], origin[128];
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0, "%s", out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(json_is_array(j), "%s", out);
	snprintf(origin, sizeof(origin), "cni:%s/", net);
	int found = 0;
	for (size_t i = 0; i < json_array_size(j); i++) {
		json_t *s = json_array_get(j, i);
		const char *o = json_string_value(json_object_get(s, "origin"));
		if (!o || strncmp(o, origin, strlen(origin)))
			continue;
		found++;
		snprintf(ip, iplen, "%s", json_string_value(json_object_get(s, "ip")));
		snprintf(netns, nslen, "%s", json_string_value(json_object_get(s, "netns")));
	}
	json_decref(j);
	cr_assert_eq(found, 1, "one attachment of %s: %s", net, out);
}

/* Router links and the sets a member is in (not the refusal counters, which the probes
 * move): what the attachment added to the VPC router. */
static void router_state(const char *vpc, char *buf, size_t n)
{
	static const char *const sets[] = { "inet vpcnet ports", "inet vpcnet port_src",
					    "inet vpcnet climit", "inet vpcnet out1",
					    "arp vpcnet port_src", "inet vpcnet revoked",
					    "arp vpcnet revoked" };
	char part[4096];
	size_t len = 0;
	run(part, sizeof(part), "ip -n vpcnet-vpc-%s -br link", vpc);
	len += snprintf(buf + len, n - len, "%s", part);
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		run(part, sizeof(part), "ip netns exec vpcnet-vpc-%s nft list set %s", vpc, sets[i]);
		len += snprintf(buf + len, n - len, "%s", part);
	}
}

Test(podman, a_container_on_a_vpcnet_network)
{
	char out[8192], vpc[64], net[64], inet[256], path[256], text[1024];
	char before[16384], after[16384];
	make_vpc(&T, "v", "10.68.0.0/24", true);
	tname(&T, "v", vpc, sizeof(vpc));
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg create web --vpc %s", vpc), 0, "%s", out);
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "sg rule add web egress tcp:8080 0.0.0.0/0"
			    " --vpc %s", vpc), 0, "%s", out);
	struct sbx neighbour;
	make_sbx(&T, "v", "n", &neighbour);
	router_state(vpc, before, sizeof(before));

	tname(&T, "net", net, sizeof(net));
	snprintf(text, sizeof(text),
		 "{\"cniVersion\": \"1.0.0\", \"name\": \"%s\", \"plugins\": [{\"type\": \"vpcnet\","
		 " \"vpc\": \"%s\", \"securityGroups\": [\"web\"], \"stateDir\": \"%s\","
		 " \"hostNetns\": \"%s\"}]}\n", net, vpc, T.state_dir, T.host);
	snprintf(path, sizeof(path), "%s/cni-conf/%s.conflist", dir, net);
	write_file(path, text);
	int rc = podman(out, sizeof(out), "network ls --format {{.Name}}");
	cr_assert(rc == 0 && strstr(out, net), "podman sees the network: %s", out);

	struct listener web, other;
	nspath(T.inet, inet, sizeof(inet));
	listen_tcp(&T, inet, 8080, &web);
	listen_tcp(&T, inet, 8081, &other);

	tname(&T, "c", container, sizeof(container));
	rc = podman(out, sizeof(out), "run -d --name %s --network %s --rootfs %s/rootfs"
		    " /bin/busybox sleep 120", container, net, dir);
	cr_assert_eq(rc, 0, "podman run: %s", out);
	char ip[16], netns[256];
	attachment(net, ip, sizeof(ip), netns, sizeof(netns));

	/* inside the container, as its process sees it: its address, egress the group allows
	 * through the NAT gateway (the far end sees the uplink address), and no other */
	rc = podman(out, sizeof(out), "exec %s /bin/busybox ip -o -4 addr show dev eth0", container);
	cr_assert(rc == 0 && strstr(out, ip), "the container's eth0 holds %s: %s", ip, out);
	rc = podman(out, sizeof(out), "exec %s /bin/busybox nc -w 3 %s 8080", container, INET_ADDR);
	cr_assert(rc == 0 && strstr(out, UPLINK_ADDR), "egress on 8080 (exit %d): %s", rc, out);
	cr_assert_eq(listener_count(&web), 1);
	rc = podman(out, sizeof(out), "exec %s /bin/busybox nc -w 2 %s 8081", container, INET_ADDR);
	cr_assert(rc != 0 && !strstr(out, UPLINK_ADDR), "egress on 8081 got out: %s", out);
	cr_assert_eq(listener_count(&other), 0, "a connection the group does not allow arrived");

	/* nothing opens a connection to it: not the host, not a neighbour, not the internet */
	struct listener in;
	listen_tcp(&T, netns, 9000, &in);
	char host[256];
	nspath(T.host, host, sizeof(host));
	cr_assert_neq(probe_tcp(host, ip, 9000, WAIT, NULL, 0), P_OK, "the host got in");
	cr_assert_neq(probe_tcp(neighbour.netns, ip, 9000, WAIT, NULL, 0), P_OK,
		      "a neighbour got in");
	cr_assert_neq(probe_tcp(inet, ip, 9000, WAIT, NULL, 0), P_OK, "the internet got in");
	cr_assert_eq(listener_count(&in), 0, "a connection reached the container");

	/* podman rm: DEL, and nothing of it remains */
	cr_assert_eq(podman(out, sizeof(out), "rm -f -t 0 %s", container), 0, "podman rm: %s", out);
	container[0] = '\0';
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "--json sandbox list"), 0, "%s", out);
	cr_assert(strstr(out, neighbour.id) && !strstr(out, "cni:"), "left in the store: %s", out);
	struct stat sb;
	cr_assert(stat(netns, &sb) && errno == ENOENT, "%s is still there", netns);
	/* its port is revoked at once; once reaped (gc, or every 32nd delete) its elements
	 * are gone too */
	router_state(vpc, after, sizeof(after));
	cr_assert_str_neq(after, before, "the container's port was not revoked");
	cr_assert_eq(vpcnet(&T, out, sizeof(out), NULL, "gc"), 0, "%s", out);
	router_state(vpc, after, sizeof(after));
	cr_assert_str_eq(after, before, "the router holds more than before the container");
}
