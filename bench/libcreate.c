/* SPDX-License-Identifier: MIT */
/* Creates and deletes through the C library, in one process: what an orchestrator that links
 * libvpcnet pays, without starting a process per sandbox.
 *   libcreate STATE_DIR HOST_NETNS VPC N OUT
 * makes N sandboxes l1..lN and deletes each right after (one handle for all), then fills the
 * VPC's pool with N networks and creates N sandboxes q1..qN from it, deleting them after;
 * appends each call's wall time in microseconds to OUT.create, OUT.delete and OUT.pool.
 * Bounded by N; stops at the first failure. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vpcnet.h"

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static FILE *out_file(const char *prefix, const char *what)
{
	char path[512];
	snprintf(path, sizeof(path), "%s.%s", prefix, what);
	FILE *f = fopen(path, "a");
	if (!f)
		perror(path);
	return f;
}

/* Creates sandbox <prefix><i> in @vpc; its wall time (us) in *@us. */
static int create(struct vpcnet *vn, const char *vpc, char prefix, int i, long long *us,
		  struct vpcnet_error *err)
{
	char id[32];
	snprintf(id, sizeof(id), "%c%d", prefix, i);
	struct vpcnet_sandbox_spec spec = { .id = id, .vpc = vpc };
	long long a = now_us();
	int ret = vpcnet_sandbox_create(vn, &spec, NULL, err);
	*us = now_us() - a;
	return ret;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: libcreate STATE_DIR HOST_NETNS VPC N OUT\n");
		return 2;
	}
	const char *vpc = argv[3];
	int n = atoi(argv[4]);
	struct vpcnet_config cfg = { .state_dir = argv[1], .host_netns = argv[2] };
	struct vpcnet *vn;
	struct vpcnet_error err;
	if (vpcnet_open(&vn, &cfg, &err)) {
		fprintf(stderr, "libcreate: %s\n", err.msg);
		return 1;
	}
	FILE *fc = out_file(argv[5], "create"), *fd = out_file(argv[5], "delete"),
	     *fp = out_file(argv[5], "pool");
	int ret = !fc || !fd || !fp;
	long long us;
	char id[32];
	for (int i = 1; !ret && i <= n; i++) {
		if ((ret = create(vn, vpc, 'l', i, &us, &err)))
			break;
		fprintf(fc, "%lld\n", us);
		snprintf(id, sizeof(id), "l%d", i);
		long long a = now_us();
		if ((ret = vpcnet_sandbox_delete(vn, id, &err)))
			break;
		fprintf(fd, "%lld\n", now_us() - a);
	}
	unsigned made = 0;
	if (!ret)
		ret = vpcnet_pool_fill(vn, vpc, (unsigned)n, &made, &err);
	for (int i = 1; !ret && i <= n; i++)
		if (!(ret = create(vn, vpc, 'q', i, &us, &err)))
			fprintf(fp, "%lld\n", us);
	for (int i = 1; i <= n; i++) {
		struct vpcnet_error ignored;
		snprintf(id, sizeof(id), "q%d", i);
		vpcnet_sandbox_delete(vn, id, &ignored);
	}
	if (ret)
		fprintf(stderr, "libcreate: %s\n", err.msg);
	if (fc)
		fclose(fc);
	if (fd)
		fclose(fd);
	if (fp)
		fclose(fp);
	vpcnet_close(vn);
	return ret ? 1 : 0;
}
