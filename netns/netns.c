/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/names.h"
#include "netns/netns.h"

struct ns_job {
	int nsfd;          /* join this namespace, or */
	bool fresh;        /* make a new one: bound at @path, or held by @fd_out alone */
	const char *path;
	int (*fn)(void *);
	void *arg;
	int fd_out;
	int ret;
	struct vpcnet_error *err;
	pthread_t thread;
};

static int prepare_run_dir(struct vpcnet_error *err);

static void *ns_thread(void *p)
{
	struct ns_job *job = p;
	if (job->fresh) {
		if (unshare(CLONE_NEWNET)) {
			job->ret = verr(job->err, VPCNET_FAILED, errno, "unshare network namespace");
			return NULL;
		}
	} else if (setns(job->nsfd, CLONE_NEWNET)) {
		job->ret = verr(job->err, VPCNET_FAILED, errno, "enter network namespace");
		return NULL;
	}
	if (job->fn && (job->ret = job->fn(job->arg)))
		return NULL;
	if (job->path) {
		if (mount("/proc/thread-self/ns/net", job->path, "none", MS_BIND, NULL)) {
			job->ret = verr(job->err, VPCNET_FAILED, errno, "mount %s", job->path);
			return NULL;
		}
		job->fd_out = open(job->path, O_RDONLY | O_CLOEXEC);
		if (job->fd_out < 0)
			job->ret = verr(job->err, VPCNET_FAILED, errno, "open %s", job->path);
	} else if (job->fresh) {
		job->fd_out = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (job->fd_out < 0)
			job->ret = verr(job->err, VPCNET_FAILED, errno, "open the new namespace");
	}
	return NULL;
}

static int run_job(struct ns_job *job)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, ns_thread, job);
	if (rc)
		return verr(job->err, VPCNET_FAILED, rc, "namespace helper thread");
	pthread_join(t, NULL);
	return job->ret;
}

/* The whole of a named namespace's making, on the helper thread: the name taken (O_EXCL),
 * the namespace made and published, or the name given back. */
static void *create_thread(void *p)
{
	struct ns_job *job = p;
	if ((job->ret = prepare_run_dir(job->err)))
		return NULL;
	int fd = open(job->path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		job->ret = errno == EEXIST ? vinput(job->err, VPCNET_EXISTS, EEXIST,
						    "namespace %s already exists", job->path)
					   : verr(job->err, VPCNET_FAILED, errno, "create %s",
						  job->path);
		return NULL;
	}
	close(fd);
	ns_thread(job);
	if (job->ret) {
		umount2(job->path, MNT_DETACH);
		unlink(job->path);
	}
	return NULL;
}

bool netns_cpu_idle(void)
{
	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) || CPU_COUNT(&cpus) < 2)
		return false;
	char buf[128];
	int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC), n = INT_MAX;
	if (fd < 0)
		return false;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len > 0) {
		buf[len] = '\0';
		if (sscanf(buf, "%*s %*s %*s %d/", &n) != 1)
			n = INT_MAX;
	}
	return n < CPU_COUNT(&cpus);
}

int netns_create_start(struct netns_pending **out, int (*fn)(void *arg), void *arg,
		       struct vpcnet_error *err)
{
	struct ns_job *job = calloc(1, sizeof(*job));
	if (!job)
		return verr(err, VPCNET_FAILED, ENOMEM, "namespace helper");
	*job = (struct ns_job){ .fresh = true, .fn = fn, .arg = arg, .fd_out = -1, .err = err };
	/* On another CPU than this thread's: a new thread is otherwise woken on its creator's
	 * CPU and waits there while the creator runs. */
	pthread_attr_t attr;
	cpu_set_t cpus;
	int cpu = sched_getcpu(), rc = pthread_attr_init(&attr);
	if (!rc && cpu >= 0 && !sched_getaffinity(0, sizeof(cpus), &cpus) && CPU_COUNT(&cpus) > 1) {
		CPU_CLR(cpu, &cpus);
		pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	}
	if (!rc) {
		rc = pthread_create(&job->thread, &attr, ns_thread, job);
		pthread_attr_destroy(&attr);
	}
	if (rc) {
		free(job);
		return verr(err, VPCNET_FAILED, rc, "namespace helper thread");
	}
	*out = (struct netns_pending *)job;
	return 0;
}

int netns_create_wait(struct netns_pending *p, int *fd_out)
{
	struct ns_job *job = (struct ns_job *)p;
	pthread_join(job->thread, NULL);
	int ret = job->ret;
	*fd_out = job->fd_out;
	free(job);
	return ret;
}

int netns_publish(int fd, const char *path, struct vpcnet_error *err)
{
	int ret = prepare_run_dir(err);
	if (ret)
		return ret;
	int f = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (f < 0) {
		if (errno == EEXIST)
			return vinput(err, VPCNET_EXISTS, EEXIST, "namespace %s already exists", path);
		return verr(err, VPCNET_FAILED, errno, "create %s", path);
	}
	close(f);
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (mount(self, path, "none", MS_BIND, NULL)) {
		ret = verr(err, VPCNET_FAILED, errno, "mount %s", path);
		unlink(path);
	}
	return ret;
}

int netns_run(int nsfd, int (*fn)(void *arg), void *arg, struct vpcnet_error *err)
{
	if (nsfd < 0)
		return fn(arg);
	struct ns_job job = { .nsfd = nsfd, .fn = fn, .arg = arg, .fd_out = -1, .err = err };
	return run_job(&job);
}

/* /run/netns must exist and be a shared mount point so that the bind mounts propagate to
 * other mount namespaces (and their unmounts too, freeing the namespace). */
static int prepare_run_dir(struct vpcnet_error *err)
{
	if (mkdir("/run", 0755) && errno != EEXIST)
		return verr(err, VPCNET_FAILED, errno, "mkdir /run");
	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST)
		return verr(err, VPCNET_FAILED, errno, "mkdir " NETNS_RUN_DIR);
	for (int made = 0;; made = 1) {
		if (!mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL))
			return 0;
		if (errno != EINVAL || made)
			return verr(err, VPCNET_FAILED, errno, "make " NETNS_RUN_DIR " shared");
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL))
			return verr(err, VPCNET_FAILED, errno, "bind mount " NETNS_RUN_DIR);
	}
}

int netns_create(const char *path, int (*fn)(void *arg), void *arg, int *fd_out,
		 struct vpcnet_error *err)
{
	struct ns_job job = { .fresh = true, .path = path, .fn = fn, .arg = arg, .fd_out = -1,
			      .err = err };
	int rc = pthread_create(&job.thread, NULL, create_thread, &job);
	if (rc)
		return verr(err, VPCNET_FAILED, rc, "namespace helper thread");
	pthread_join(job.thread, NULL);
	*fd_out = job.fd_out;
	return job.ret;
}

int netns_open(const char *path, int *fd_out, struct vpcnet_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return vinput(err, VPCNET_FAILED, ENOENT, "namespace %s does not exist",
				      path);
		return verr(err, VPCNET_FAILED, errno, "open namespace %s", path);
	}
	int type = ioctl(fd, NS_GET_NSTYPE);
	if (type != CLONE_NEWNET) {
		close(fd);
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "%s is not a network namespace", path);
	}
	*fd_out = fd;
	return 0;
}

int netns_remove(const char *path, struct vpcnet_error *err)
{
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		return verr(err, VPCNET_FAILED, errno, "unmount %s", path);
	if (unlink(path) && errno != ENOENT)
		return verr(err, VPCNET_FAILED, errno, "remove %s", path);
	return 0;
}

/* A procfs instance of our own, not mounted anywhere: -1 when one cannot be made (a kernel
 * without fsopen, a container that forbids mounting proc). */
static int proc_fresh(void)
{
	int fs = fsopen("proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	int m = -1;
	if (!fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		m = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	close(fs);
	return m;
}

int sysctl_set(const char *const kv[][2], size_t n, struct vpcnet_error *err)
{
	int proc = proc_fresh(), ret = 0;
	for (size_t i = 0; i < n && !ret; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/sys/%s", proc < 0 ? "/proc" : ".", kv[i][0]);
		int fd = openat(proc < 0 ? AT_FDCWD : proc, path, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = verr(err, VPCNET_FAILED, errno, "sysctl %s", kv[i][0]);
			break;
		}
		size_t len = strlen(kv[i][1]);
		ssize_t w = write(fd, kv[i][1], len);
		int e = errno;
		close(fd);
		if (w != (ssize_t)len)
			ret = verr(err, VPCNET_FAILED, w < 0 ? e : EIO, "sysctl %s=%s", kv[i][0],
				   kv[i][1]);
	}
	if (proc >= 0)
		close(proc);
	return ret;
}

int sysctl_write(const char *key, const char *value, struct vpcnet_error *err)
{
	const char *const kv[1][2] = { { key, value } };
	return sysctl_set(kv, 1, err);
}
