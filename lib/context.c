/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "lib/internal.h"
#include "base/names.h"
#include "netns/link.h"
#include "netns/netns.h"


/* Namespaces, links and nftables need CAP_SYS_ADMIN and CAP_NET_ADMIN: say so in one
 * line, rather than with whichever netlink call would fail first. */
int caps_held(bool *net_admin, bool *sys_admin)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };
	if (syscall(SYS_capget, &h, d))
		return -errno;
	*net_admin = d[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32));
	*sys_admin = d[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32));
	return 0;
}

static int check_privileges(struct vpcnet_error *err)
{
	bool net, sys;
	int ret = caps_held(&net, &sys);
	if (ret)
		return verr(err, VPCNET_FAILED, -ret, "capabilities");
	if (net && sys)
		return 0;
	return vinput(err, VPCNET_FAILED, EPERM,
		      "vpcnet needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run it as root); missing: %s%s%s",
		      net ? "" : "CAP_NET_ADMIN", net || sys ? "" : ", ", sys ? "" : "CAP_SYS_ADMIN");
}

#define RELEASE_DELAY_MS 50  /* a few RCU grace periods on the machines we measured */

/* In the grandchild of release_parked: everything of the caller's closed but the parked
 * sockets (@fds, sorted here), which close on _exit after the kernel's destroy work is
 * done.  Only async-signal-safe calls: the caller may have threads. */
static void hold_then_exit(int *fds, unsigned n, long open_max)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j]; fds[j] = fds[j - 1]; fds[j - 1] = t;
		}
	unsigned lo = 0;
	for (unsigned i = 0; i <= n; i++) {
		unsigned hi = i < n ? (unsigned)fds[i] : ~0U;
		if (hi > lo && close_range(lo, hi - 1, 0))
			for (long fd = lo; fd < open_max && (unsigned long)fd < hi; fd++)
				close((int)fd);  /* a kernel without close_range */
		lo = hi + 1;
	}
	/* Closing waits for the kernel's destroy work, and holds the namespace's nftables
	 * commit lock meanwhile: let that work finish first. */
	struct timespec pause = { .tv_nsec = RELEASE_DELAY_MS * 1000000L };
	nanosleep(&pause, NULL);
	_exit(0);
}

/* Closes the parked sockets: here (one grace period for all of them), or in a grandchild
 * that holds the only other references when the handle may defer. */
static void release_parked(struct vpcnet *vn)
{
	if (!vn->nparked)
		return;
	if (vn->defer_release) {
		/* A grandchild holds the sockets: its parent exits at once and is reaped here, so
		 * the caller (a long-lived orchestrator) is left no zombie and no child of ours.
		 * _Fork: no atfork handlers of the caller's run in a copy of a threaded process. */
		int fds[PARKED_MAX];
		memcpy(fds, vn->parked, vn->nparked * sizeof(int));
		long open_max = sysconf(_SC_OPEN_MAX);
		pid_t pid = _Fork();
		if (pid == 0) {
			if (_Fork() == 0)
				hold_then_exit(fds, vn->nparked, open_max);
			_exit(0);
		}
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
	}
	for (unsigned i = 0; i < vn->nparked; i++)
		close(vn->parked[i]);
	vn->nparked = 0;
}

VPCNET_API int vpcnet_open(struct vpcnet **out, const struct vpcnet_config *cfg,
			   struct vpcnet_error *err)
{
	ERR_OR_SCRATCH(err);
	const char *dir = cfg && cfg->state_dir ? cfg->state_dir : DEFAULT_STATE_DIR;
	if (!*dir || strlen(dir) >= VPCNET_PATH_MAX)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "--state-dir '%s': bad path", dir);
	int pret = check_privileges(err);
	if (pret)
		return pret;
	struct vpcnet *vn = calloc(1, sizeof(*vn));
	if (!vn)
		return verr(err, VPCNET_FAILED, ENOMEM, "vpcnet");
	vn->host_fd = -1;
	vn->defer_release = cfg && cfg->defer_release;
	if (getrandom(&vn->nonce, sizeof(vn->nonce), 0) != sizeof(vn->nonce)) {
		free(vn);
		return verr(err, VPCNET_FAILED, errno, "random nonce");
	}
	vn->nonce &= INT64_MAX;  /* SQLite integers are signed */
	if (!vn->nonce)
		vn->nonce = 1;
	snprintf(vn->state_dir, sizeof(vn->state_dir), "%s", dir);
	int ret;
	if (cfg && cfg->host_netns) {
		char path[VPCNET_PATH_MAX];
		if ((ret = valid_netns_name(cfg->host_netns, "--host-netns", err)))
			goto fail;
		snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", cfg->host_netns);
		if ((ret = netns_open(path, &vn->host_fd, err))) {
			verr_wrap(err, "--host-netns");
			if (ret == -ENOENT)
				err->status = VPCNET_BAD_INPUT;
			goto fail;
		}
	}
	if ((ret = cfg && cfg->read_only ? store_open_ro(&vn->st, dir, err)
					 : store_open(&vn->st, dir, err)))
		goto fail;
	*out = vn;
	return 0;
fail:
	vpcnet_close(vn);
	return ret;
}

VPCNET_API void vpcnet_close(struct vpcnet *vn)
{
	if (!vn)
		return;
	release_parked(vn);
	store_close(vn->st);
	if (vn->host_fd >= 0)
		close(vn->host_fd);
	free(vn);
}

int nsconn_open_here(void *arg)
{
	struct nsconn *c = arg;
	int ret = rtnl_open(&c->rt, c->err);
	if (!ret && c->want_nf && (ret = nf_open(&c->nf, c->err))) {
		rtnl_close(c->rt);
		c->rt = NULL;
	}
	return ret;
}

int nsconn_open(struct nsconn *c, int nsfd, bool want_nf, struct vpcnet_error *err)
{
	memset(c, 0, sizeof(*c));
	c->want_nf = want_nf;
	c->err = err;
	return netns_run(nsfd, nsconn_open_here, c, err);
}

void nsconn_close(struct nsconn *c)
{
	rtnl_close(c->rt);
	c->rt = NULL;
	nf_close(&c->nf);
}

int router_open(struct router *r, const char *vpc, struct vpcnet_error *err)
{
	char path[VPCNET_PATH_MAX];
	router_netns_path(path, vpc);
	r->fd = -1;
	memset(&r->conn, 0, sizeof(r->conn));
	int ret = netns_open(path, &r->fd, err);
	if (!ret)
		ret = nsconn_open(&r->conn, r->fd, true, err);
	if (ret)
		verr_wrap(err, "VPC %s: router", vpc);
	return ret;
}

void router_close(struct vpcnet *vn, struct router *r)
{
	if (r->conn.nf.nl && r->conn.nf.freed) {
		if (vn->nparked == PARKED_MAX)
			release_parked(vn);
		int fd = fcntl(mnl_socket_get_fd(r->conn.nf.nl), F_DUPFD_CLOEXEC, 3);
		if (fd >= 0)
			vn->parked[vn->nparked++] = fd;
	}
	nsconn_close(&r->conn);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

#ifdef VPCNET_FAILPOINTS
bool failpoint_armed(const char *name)
{
	const char *want = getenv("VPCNET_FAILPOINT");
	size_t n = strlen(name);
	return want && !strncmp(want, name, n) && (!want[n] || !strcmp(want + n, "=error"));
}

int failpoint(const char *name, struct vpcnet_error *err)
{
	const char *trace = getenv("VPCNET_FAILPOINT_TRACE");
	if (trace) {
		int fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dprintf(fd, "%s\n", name);
			close(fd);
		}
	}
	if (!failpoint_armed(name))
		return 0;
	if (!strchr(getenv("VPCNET_FAILPOINT"), '='))
		_exit(99);  /* as a kill -9 would: nothing is released, nothing rolled back */
	return verr(err, VPCNET_FAILED, EIO, "failpoint %s", name);
}
#endif
