/* SPDX-License-Identifier: MIT */
/* vpcnet_doctor(): whether this host can run vpcnet and whether what it runs is healthy.
 *
 * Theory of operation.  Doctor looks and never changes.  The kernel features are tried in
 * a forked child that unshares a network and a mount namespace of its own (and a user
 * namespace first when the caller lacks the capabilities, so that the kernel can still be
 * asked): a veth pair, an nf_tables table with a conntrack match and a NAT chain, a
 * namespace bind-mounted on a tmpfs.  The child writes what it found to a pipe and exits;
 * its namespaces vanish with it.  The host is only read: its capabilities, /run/netns, its
 * default route, the state directory (stat only; a missing one is a fresh host, not a
 * fault).  The store is opened read-only (never made, never migrated) and the routers are
 * judged by what vpcnet_vpc_list() says, plus a look for their tables. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/names.h"
#include "lib/internal.h"
#include "nat/tables.h"
#include "netns/inspect.h"
#include "netns/link.h"
#include "netns/netns.h"
#include "nft/nft.h"

#define DETAIL_MAX 384
#define PROBE_TIMEOUT_MS 20000
#define PROBE_TABLE "vpcnet_doctor"

struct report {
	void (*fn)(const struct vpcnet_check *c, void *arg);
	void *arg;
	unsigned failed;
};

static void tell(struct report *r, const char *name, enum vpcnet_check_status status,
		 const char *detail)
{
	struct vpcnet_check c = { .name = name, .status = status, .detail = detail };
	if (status == VPCNET_CHECK_FAIL)
		r->failed++;
	if (r->fn)
		r->fn(&c, r->arg);
}

static void tellf(struct report *r, const char *name, enum vpcnet_check_status status,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void tellf(struct report *r, const char *name, enum vpcnet_check_status status,
		  const char *fmt, ...)
{
	char detail[DETAIL_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	tell(r, name, status, detail);
}

/* --- capabilities --------------------------------------------------------------------- */

struct caps {
	bool net_admin, sys_admin;
};

static bool caps_all(const struct caps *c)
{
	return c->net_admin && c->sys_admin;
}

/* The missing ones by name, "" when none. */
static const char *caps_missing(const struct caps *c)
{
	if (!c->net_admin && !c->sys_admin)
		return "CAP_NET_ADMIN and CAP_SYS_ADMIN";
	return !c->net_admin ? "CAP_NET_ADMIN" : !c->sys_admin ? "CAP_SYS_ADMIN" : "";
}

static void check_caps(struct report *r, struct caps *c)
{
	int ret = caps_held(&c->net_admin, &c->sys_admin);
	if (ret)
		tellf(r, "capabilities", VPCNET_CHECK_FAIL, "cannot read them: %s", strerror(-ret));
	else if (caps_all(c))
		tell(r, "capabilities", VPCNET_CHECK_OK, "CAP_NET_ADMIN and CAP_SYS_ADMIN held");
	else
		tellf(r, "capabilities", VPCNET_CHECK_FAIL, "%s missing (run vpcnet as root)",
		      caps_missing(c));
}

/* --- kernel features, tried in a child's own namespaces --------------------------------- */

enum { K_NETNS, K_VETH, K_NFT, K_CT, K_NAT, K_MOUNT, K_N };
static const char *const k_name[K_N] = { "netns", "veth", "nf_tables", "conntrack", "nat",
					  "netns-mount" };

struct probe {
	struct {
		int status;  /* enum vpcnet_check_status */
		char detail[DETAIL_MAX];
	} k[K_N];
};

static void probe_set(struct probe *p, int k, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void probe_set(struct probe *p, int k, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	p->k[k].status = status;
	vsnprintf(p->k[k].detail, sizeof(p->k[k].detail), fmt, ap);
	va_end(ap);
}

static void probe_skip_from(struct probe *p, int from, const char *why)
{
	for (int k = from; k < K_N; k++)
		probe_set(p, k, VPCNET_CHECK_SKIP, "not tried: %s", why);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int ret = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return ret;
}

/* Becomes root of a user namespace of its own (its uid and gid mapped to ours). */
static int enter_userns(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER))
		return -errno;
	int ret = write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (!ret)
		ret = write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if (!ret)
		ret = write_file("/proc/self/gid_map", map);
	return ret;
}

static void table_free(struct nftnl_table **t) { if (*t) nftnl_table_free(*t); }
static void chain_free(struct nftnl_chain **c) { if (*c) nftnl_chain_free(*c); }
static void rule_free(struct nftnl_rule **r) { if (*r) nftnl_rule_free(*r); }
static void batch_free(struct nft_batch **b) { if (*b) nftb_free(*b); }

/* table inet vpcnet_doctor with a base filter chain "forward". */
static int nft_try_table(struct nf_sock *s, struct vpcnet_error *err)
{
	cleanup(batch_free) struct nft_batch *b = nftb_new();
	cleanup(table_free) struct nftnl_table *t = nft_table_new(NFPROTO_INET, PROBE_TABLE);
	cleanup(chain_free) struct nftnl_chain *c =
		nft_base_chain_new(NFPROTO_INET, PROBE_TABLE, "forward", "filter",
				   NF_INET_FORWARD, 0, NF_ACCEPT);
	if (!b || !t || !c)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	nftb_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t);
	nftb_chain(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, c);
	return nft_commit(s, b, false, err);
}

/* ct state established,related accept */
static int nft_try_ct(struct nf_sock *s, struct vpcnet_error *err)
{
	cleanup(batch_free) struct nft_batch *b = nftb_new();
	cleanup(rule_free) struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, PROBE_TABLE, "forward");
	if (!b || !r)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	m_ct_state(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
	x_verdict(r, NF_ACCEPT, NULL);
	nftb_rule(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, r);
	return nft_commit(s, b, false, err);
}

/* A nat postrouting chain that masquerades. */
static int nft_try_nat(struct nf_sock *s, struct vpcnet_error *err)
{
	cleanup(batch_free) struct nft_batch *b = nftb_new();
	cleanup(chain_free) struct nftnl_chain *c =
		nft_base_chain_new(NFPROTO_INET, PROBE_TABLE, "post", "nat",
				   NF_INET_POST_ROUTING, 100, NF_ACCEPT);
	cleanup(rule_free) struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, PROBE_TABLE, "post");
	if (!b || !c || !r)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	x_masq(r);
	nftb_chain(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, c);
	nftb_rule(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, r);
	return nft_commit(s, b, false, err);
}

static void probe_veth(struct probe *p)
{
	struct vpcnet_error e = { 0 };
	struct nl_sock *sk = NULL;
	int nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		probe_set(p, K_VETH, VPCNET_CHECK_FAIL, "cannot open the namespace: %s",
			  strerror(errno));
	else if (rtnl_open(&sk, &e) || link_veth_create(sk, "vpcdoc0", 0, "vpcdoc1", nsfd, NULL, &e))
		probe_set(p, K_VETH, VPCNET_CHECK_FAIL, "cannot make a veth pair (module veth): %s",
			  e.msg);
	else
		probe_set(p, K_VETH, VPCNET_CHECK_OK, "veth pairs can be made");
	rtnl_close(sk);
	if (nsfd >= 0)
		close(nsfd);
}

static void probe_nft(struct probe *p)
{
	struct vpcnet_error e = { 0 };
	struct nf_sock s;
	if (nf_open(&s, &e)) {
		probe_set(p, K_NFT, VPCNET_CHECK_FAIL, "no nfnetlink: %s", e.msg);
		probe_set(p, K_CT, VPCNET_CHECK_SKIP, "not tried: no nf_tables");
		probe_set(p, K_NAT, VPCNET_CHECK_SKIP, "not tried: no nf_tables");
		return;
	}
	if (nft_try_table(&s, &e)) {
		probe_set(p, K_NFT, VPCNET_CHECK_FAIL,
			  "cannot make a table and a base chain (module nf_tables): %s", e.msg);
		probe_set(p, K_CT, VPCNET_CHECK_SKIP, "not tried: no nf_tables");
		probe_set(p, K_NAT, VPCNET_CHECK_SKIP, "not tried: no nf_tables");
		nf_close(&s);
		return;
	}
	probe_set(p, K_NFT, VPCNET_CHECK_OK, "tables and base chains can be made");
	if (nft_try_ct(&s, &e))
		probe_set(p, K_CT, VPCNET_CHECK_FAIL,
			  "cannot match on connection state (modules nf_conntrack, nft_ct): %s",
			  e.msg);
	else
		probe_set(p, K_CT, VPCNET_CHECK_OK, "rules can match connection state (ct state)");
	if (nft_try_nat(&s, &e))
		probe_set(p, K_NAT, VPCNET_CHECK_FAIL,
			  "cannot masquerade (modules nft_chain_nat, nft_masq): %s", e.msg);
	else
		probe_set(p, K_NAT, VPCNET_CHECK_OK, "nat chains can masquerade");
	nf_close(&s);
}

/* A network namespace bind-mounted on a file, as under /run/netns: on a tmpfs of a
 * private mount namespace, which the host never sees. */
static void probe_mount(struct probe *p)
{
	const char *dir = access("/run", F_OK) ? "/tmp" : "/run";
	char file[64];
	snprintf(file, sizeof(file), "%s/ns", dir);
	const char *step = "make a mount namespace";
	int fd = -1;
	if (unshare(CLONE_NEWNS))
		goto fail;
	step = "make its mounts private";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		goto fail;
	step = "mount a tmpfs";
	if (mount("doctor", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k"))
		goto fail;
	step = "make a file to mount on";
	if ((fd = open(file, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)) < 0)
		goto fail;
	close(fd);
	step = "bind-mount a network namespace";
	if (mount("/proc/self/ns/net", file, "none", MS_BIND, NULL))
		goto fail;
	struct vpcnet_error e = { 0 };
	if (netns_open(file, &fd, &e)) {
		probe_set(p, K_MOUNT, VPCNET_CHECK_FAIL, "a bind-mounted namespace: %s", e.msg);
		return;
	}
	close(fd);
	probe_set(p, K_MOUNT, VPCNET_CHECK_OK, "network namespaces can be bind-mounted");
	return;
fail:
	probe_set(p, K_MOUNT, VPCNET_CHECK_FAIL, "cannot %s: %s", step, strerror(errno));
}

__attribute__((noreturn)) static void probe_child(int wfd, bool userns)
{
	struct probe p;
	memset(&p, 0, sizeof(p));
	int ret;
	if (userns && (ret = enter_userns())) {
		char why[DETAIL_MAX];
		snprintf(why, sizeof(why),
			 "needs the capabilities, or a user namespace to try in (%s)",
			 strerror(-ret));
		probe_skip_from(&p, 0, why);
	} else if (unshare(CLONE_NEWNET)) {
		probe_set(&p, K_NETNS, VPCNET_CHECK_FAIL, "cannot make a network namespace: %s",
			  strerror(errno));
		probe_skip_from(&p, K_VETH, "no network namespace");
	} else {
		probe_set(&p, K_NETNS, VPCNET_CHECK_OK, "network namespaces can be made");
		probe_veth(&p);
		probe_nft(&p);
		probe_mount(&p);
	}
	if (write(wfd, &p, sizeof(p)) != (ssize_t)sizeof(p))
		_exit(1);
	_exit(0);
}

/* Runs the probe in a child; fills @p (a failure of each when the child says nothing). */
static void run_probe(struct probe *p, bool userns)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC)) {
		for (int k = 0; k < K_N; k++)
			probe_set(p, k, VPCNET_CHECK_SKIP, "not tried: pipe: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		probe_child(pfd[1], userns);
	}
	int fork_errno = errno;
	close(pfd[1]);
	if (pid < 0) {
		for (int k = 0; k < K_N; k++)
			probe_set(p, k, VPCNET_CHECK_SKIP, "not tried: fork: %s",
				  strerror(fork_errno));
		close(pfd[0]);
		return;
	}
	struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
	ssize_t n = -1;
	int rc;
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += PROBE_TIMEOUT_MS / 1000;
	do {  /* a signal does not start the wait again */
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		rc = poll(&pf, 1, left > 0 ? (int)left : 0);
	} while (rc < 0 && errno == EINTR);
	if (rc > 0)
		n = read(pfd[0], p, sizeof(*p));
	close(pfd[0]);
	if (n != (ssize_t)sizeof(*p))
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*p)) {
		char why[64];
		if (rc == 0)
			snprintf(why, sizeof(why), "no answer in %d s", PROBE_TIMEOUT_MS / 1000);
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "exited with %d", WEXITSTATUS(status));
		for (int k = 0; k < K_N; k++)
			probe_set(p, k, VPCNET_CHECK_FAIL, "the kernel probe failed (%s)", why);
		return;
	}
	for (int k = 0; k < K_N; k++) {  /* what a child says, bounded */
		p->k[k].detail[DETAIL_MAX - 1] = '\0';
		if (p->k[k].status < VPCNET_CHECK_OK || p->k[k].status > VPCNET_CHECK_SKIP)
			p->k[k].status = VPCNET_CHECK_SKIP;
	}
}

/* /run/netns: a directory on a writable filesystem, or made on first use; a shared mount
 * point, or made one by the next namespace vpcnet names (netns/netns.c). */
static void check_run_netns(char *buf, size_t n, bool *ok)
{
	struct stat sb;
	struct statvfs vfs;
	*ok = true;
	if (lstat(NETNS_RUN_DIR, &sb)) {
		if (errno != ENOENT) {
			*ok = false;
			snprintf(buf, n, NETNS_RUN_DIR ": %s", strerror(errno));
		} else {
			snprintf(buf, n, NETNS_RUN_DIR " is made, a shared mount point, on first use");
		}
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		*ok = false;
		snprintf(buf, n, NETNS_RUN_DIR " is not a directory");
		return;
	}
	if (!statvfs(NETNS_RUN_DIR, &vfs) && (vfs.f_flag & ST_RDONLY)) {
		*ok = false;
		snprintf(buf, n, NETNS_RUN_DIR " is on a read-only filesystem");
		return;
	}
	/* The last mount on it is the one seen: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
	 * [OPTIONAL...] - TYPE SOURCE SUPEROPTS". */
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	int found = 0;  /* 1: a mount point, 2: a shared one */
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[256];
		int end = 0;
		if (sscanf(line, "%*s %*s %*s %*s %255s %*s%n", mnt, &end) != 1 ||
		    strcmp(mnt, NETNS_RUN_DIR))
			continue;
		const char *dash = strstr(line + end, " - ");
		const char *shared = strstr(line + end, " shared:");
		found = shared && (!dash || shared < dash) ? 2 : 1;
	}
	if (f)
		fclose(f);
	snprintf(buf, n, found == 2 ? NETNS_RUN_DIR " is a shared mount point"
		 : found ? NETNS_RUN_DIR " is a mount point, made shared by the next create"
			 : NETNS_RUN_DIR " is made a shared mount point by the next create");
}

static void check_kernel(struct report *r, const struct caps *caps)
{
	struct probe p;
	bool userns = !caps_all(caps);
	run_probe(&p, userns);
	for (int k = 0; k < K_N; k++) {
		char detail[2 * DETAIL_MAX];
		int status = p.k[k].status;
		size_t len = snprintf(detail, sizeof(detail), "%s%s", p.k[k].detail,
				      userns && status == VPCNET_CHECK_OK ?
				      " (tried in a user namespace)" : "");
		if (k == K_MOUNT) {  /* and how the host's /run/netns is */
			char run[DETAIL_MAX];
			bool ok;
			check_run_netns(run, sizeof(run), &ok);
			if (!ok) {
				status = VPCNET_CHECK_FAIL;
				snprintf(detail, sizeof(detail), "%s", run);
			} else if (status == VPCNET_CHECK_OK && len < sizeof(detail)) {
				snprintf(detail + len, sizeof(detail) - len, "; %s", run);
			}
		}
		tell(r, k_name[k], status, detail);
	}
}

/* --- the uplink ----------------------------------------------------------------------- */

struct uplink {
	char dev[VPCNET_IFNAME_MAX + 1];
	struct link_state ls;
	uint32_t ip;
	int stage;  /* 0 sockets, 1 default route, 2 device, 3 address, 4 done */
	int ret;
	struct vpcnet_error err;
};

static int uplink_here(void *arg)
{
	struct uplink *u = arg;
	struct nl_sock *sk = NULL;
	int ret = rtnl_open(&sk, &u->err);
	if (!ret && ++u->stage && !(ret = route_default_dev(sk, u->dev, &u->err)) &&
	    ++u->stage && !(ret = link_state_get(sk, u->dev, &u->ls, &u->err)) && ++u->stage &&
	    !(ret = addr_first4(sk, u->ls.ifindex, &u->ip, &u->err)))
		u->stage++;
	rtnl_close(sk);
	return u->ret = ret;
}

/* In the host namespace: @ns (open as @fd), or the caller's (@fd < 0). */
static void check_uplink(struct report *r, const char *ns, int fd, const struct caps *caps)
{
	char where[VPCNET_PATH_MAX + 32] = "the host namespace";
	struct uplink u = { 0 };
	if (ns) {
		snprintf(where, sizeof(where), "host namespace %s", ns);
		if (!caps->sys_admin) {
			tellf(r, "uplink", VPCNET_CHECK_SKIP,
			      "cannot enter --host-netns %s without CAP_SYS_ADMIN", ns);
			return;
		}
	}
	int ret = netns_run(fd, uplink_here, &u, &u.err);
	char ip[16];
	if (ret && u.stage == 1 && ret == -ENETUNREACH)
		tellf(r, "uplink", VPCNET_CHECK_FAIL,
		      "%s has no default route: VPCs with a NAT gateway have no way out "
		      "(add one, or give vpc create --uplink)", where);
	else if (ret && u.stage == 2)
		tellf(r, "uplink", VPCNET_CHECK_FAIL, "%s, the default route's device in %s, is gone",
		      u.dev, where);
	else if (ret)
		tellf(r, "uplink", VPCNET_CHECK_FAIL, "cannot read %s: %s", where, u.err.msg);
	else if (!u.ls.up)
		tellf(r, "uplink", VPCNET_CHECK_FAIL, "%s, the default route's device in %s, is down",
		      u.dev, where);
	else if (!u.ip)
		tellf(r, "uplink", VPCNET_CHECK_FAIL,
		      "%s, the default route's device in %s, has no IPv4 address", u.dev, where);
	else
		tellf(r, "uplink", VPCNET_CHECK_OK, "%s, the default route's device in %s, is up with %s",
		      u.dev, where, vpcnet_addr_str((struct in_addr){ htonl(u.ip) }, ip));
}

/* --- the state directory ---------------------------------------------------------------- */

enum store_seen { STORE_NONE, STORE_THERE, STORE_UNSAFE };

/* A file or directory of the store as vpcnet demands it (store_check_stat); fills @why
 * when not. */
static bool file_safe(const char *path, const struct stat *sb, bool dir, char *why, size_t n)
{
	struct vpcnet_error e = { 0 };
	if (!store_check_stat(sb, path, dir, &e))
		return true;
	snprintf(why, n, "%s", e.msg);
	return false;
}

static enum store_seen check_state_dir(struct report *r, const char *dir)
{
	struct stat sb;
	char why[DETAIL_MAX], path[VPCNET_PATH_MAX + 16];
	if (stat(dir, &sb)) {  /* followed, as the store follows it (its files are not) */
		if (errno == ENOENT) {
			tellf(r, "state-dir", VPCNET_CHECK_OK,
			      "%s does not exist yet: made (mode 0700) on first use", dir);
			return STORE_NONE;
		}
		tellf(r, "state-dir", VPCNET_CHECK_FAIL, "%s: %s", dir, strerror(errno));
		return STORE_UNSAFE;
	}
	if (!file_safe(dir, &sb, true, why, sizeof(why))) {
		tell(r, "state-dir", VPCNET_CHECK_FAIL, why);
		return STORE_UNSAFE;
	}
	unsigned dmode = sb.st_mode & 07777;
	const char *files[] = { "state.db", "state.db-wal", "state.db-shm" };
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (lstat(path, &sb)) {
			if (errno == ENOENT && i == 0) {
				tellf(r, "state-dir", VPCNET_CHECK_OK,
				      "%s: ours, mode %04o; no store in it yet", dir, dmode);
				return STORE_NONE;
			}
			if (errno == ENOENT)
				continue;
			tellf(r, "state-dir", VPCNET_CHECK_FAIL, "%s: %s", path, strerror(errno));
			return STORE_UNSAFE;
		}
		if (!file_safe(path, &sb, false, why, sizeof(why))) {
			tell(r, "state-dir", VPCNET_CHECK_FAIL, why);
			return STORE_UNSAFE;
		}
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	stat(path, &sb);
	tellf(r, "state-dir", VPCNET_CHECK_OK, "%s: ours, mode %04o; state.db mode %04o", dir,
	      dmode, (unsigned)(sb.st_mode & 07777));
	return STORE_THERE;
}

/* --- the routers of the store ----------------------------------------------------------- */

struct routers {
	struct vpcnet *vn;
	unsigned vpcs, broken, busy;
	char problems[DETAIL_MAX];
	size_t len;
};

static void routers_note(struct routers *rs, const char *vpc, const char *what)
{
	rs->broken++;
	if (rs->len < sizeof(rs->problems))
		rs->len += snprintf(rs->problems + rs->len, sizeof(rs->problems) - rs->len,
				    "%sVPC %s: %s", rs->len ? "; " : "", vpc, what);
}

static int table_there(struct nf_sock *nf, uint32_t family, const char *table, bool *found)
{
	struct vpcnet_error e;
	*found = true;  /* what cannot be told is not called missing */
	return nft_table_exists(nf, family, table, found, &e);
}

static int router_one(const struct vpcnet_vpc *v, void *arg)
{
	struct routers *rs = arg;
	rs->vpcs++;
	if (!strcmp(v->state, "broken")) {
		routers_note(rs, v->name, v->problem);
		return 0;
	}
	if (strcmp(v->state, "ready")) {  /* in flight, or left so by a crash (gc rolls it back) */
		rs->busy++;
		return 0;
	}
	struct router rt;
	struct vpcnet_error e;
	bool inet = true, arp = true;
	if (router_open(&rt, v->name, &e))
		routers_note(rs, v->name, e.msg);
	else if (!table_there(&rt.conn.nf, NFPROTO_INET, ROUTER_TABLE, &inet) && !inet)
		routers_note(rs, v->name, "its router table inet " ROUTER_TABLE " is gone");
	else if (!table_there(&rt.conn.nf, NFPROTO_ARP, ARP_TABLE, &arp) && !arp)
		routers_note(rs, v->name, "its router table arp " ARP_TABLE " is gone");
	router_close(rs->vn, &rt);
	return 0;
}

static void check_routers(struct report *r, const struct vpcnet_config *cfg,
			  const struct caps *caps, enum store_seen seen)
{
	if (seen == STORE_NONE) {
		tell(r, "routers", VPCNET_CHECK_OK, "no state store yet: no VPCs");
		return;
	}
	if (seen == STORE_UNSAFE) {
		tell(r, "routers", VPCNET_CHECK_SKIP,
		     "not looked at: vpcnet refuses the state directory (see state-dir)");
		return;
	}
	if (!caps_all(caps)) {
		tellf(r, "routers", VPCNET_CHECK_SKIP, "cannot look into the routers without %s",
		      caps_missing(caps));
		return;
	}
	struct vpcnet_config ro = *cfg;
	ro.read_only = true;
	ro.defer_release = false;
	struct vpcnet *vn = NULL;
	struct vpcnet_error e = { 0 };
	if (vpcnet_open(&vn, &ro, &e)) {
		tellf(r, "routers", e.errnum == ESTALE ? VPCNET_CHECK_SKIP : VPCNET_CHECK_FAIL,
		      "cannot read the store: %s", e.msg);
		return;
	}
	struct routers rs = { .vn = vn };
	int ret = vpcnet_vpc_list(vn, router_one, &rs, &e);
	bool host_table = true;
	if (!ret && rs.vpcs > rs.busy) {  /* the host's table, shared by every VPC */
		struct nsconn host;
		if (!nsconn_open(&host, vn->host_fd, true, &e)) {
			table_there(&host.nf, NFPROTO_INET, HOST_TABLE, &host_table);
			nsconn_close(&host);
		}
	}
	vpcnet_close(vn);
	const char *restore = "`vpcnet restore` rebuilds what is gone";
	if (ret)
		tellf(r, "routers", VPCNET_CHECK_FAIL, "cannot list the VPCs: %s", e.msg);
	else if (rs.broken)
		tellf(r, "routers", VPCNET_CHECK_FAIL, "%u of %u VPC(s) damaged: %s%s (%s)",
		      rs.broken, rs.vpcs, rs.problems, host_table ? "" : "; and the host table inet "
		      HOST_TABLE " is gone", restore);
	else if (!host_table)
		tellf(r, "routers", VPCNET_CHECK_FAIL, "the host table inet " HOST_TABLE
		      " is gone (%s)", restore);
	else if (!rs.vpcs)
		tell(r, "routers", VPCNET_CHECK_OK, "no VPCs");
	else
		tellf(r, "routers", VPCNET_CHECK_OK,
		      "%u VPC(s), each with its router namespace, transit link and tables%s",
		      rs.vpcs - rs.busy, rs.busy ? "; some being created or deleted" : "");
}

/* --- the agent ------------------------------------------------------------------------ */

/* The resident agent (flow logs, metrics, the resolver) does not exist yet: when it does,
 * this says whether it runs and answers. */
static void check_agent(struct report *r)
{
	tell(r, "agent", VPCNET_CHECK_SKIP, "no agent in this version of vpcnet");
}

VPCNET_API int vpcnet_doctor(const struct vpcnet_config *cfg,
			     void (*fn)(const struct vpcnet_check *c, void *arg), void *arg,
			     unsigned *failed, struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	static const struct vpcnet_config none;
	if (!cfg)
		cfg = &none;
	const char *dir = cfg->state_dir ? cfg->state_dir : DEFAULT_STATE_DIR;
	if (!*dir || strlen(dir) >= VPCNET_PATH_MAX)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "--state-dir '%s': bad path", dir);
	int ret, host_fd = -1;
	if (cfg->host_netns) {  /* as vpcnet_open() refuses it */
		char path[VPCNET_PATH_MAX];
		if ((ret = valid_netns_name(cfg->host_netns, "--host-netns", err)))
			return ret;
		snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", cfg->host_netns);
		if ((ret = netns_open(path, &host_fd, err))) {
			verr_wrap(err, "--host-netns");
			if (ret == -ENOENT)
				err->status = VPCNET_BAD_INPUT;
			return ret;
		}
	}
	struct report r = { .fn = fn, .arg = arg };
	struct caps caps = { 0 };
	check_caps(&r, &caps);
	check_kernel(&r, &caps);
	check_uplink(&r, cfg->host_netns, host_fd, &caps);
	if (host_fd >= 0)
		close(host_fd);
	enum store_seen seen = check_state_dir(&r, dir);
	check_routers(&r, cfg, &caps, seen);
	check_agent(&r);
	if (failed)
		*failed = r.failed;
	return 0;
}
