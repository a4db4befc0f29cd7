/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"

void fuzz_fields(struct fuzz_fields *in, const uint8_t *data, size_t size, size_t max)
{
	memset(in, 0, sizeof(*in));
	if (max > FUZZ_FIELDS_MAX)
		max = FUZZ_FIELDS_MAX;
	in->buf = malloc(size + 1);
	FUZZ_CHECK(in->buf, "out of memory");
	if (size)
		memcpy(in->buf, data, size);
	in->buf[size] = '\0';
	char *p = in->buf, *end = in->buf + size;
	while (in->n < max) {
		in->f[in->n++] = p;
		if (in->n == max)
			break;
		char *nul = memchr(p, '\0', end - p);
		if (!nul || nul == end)
			break;
		p = nul + 1;
	}
	/* the last field, whole */
	in->rest = in->f[in->n - 1];
	in->rest_len = end - in->rest;
}

void fuzz_fields_free(struct fuzz_fields *in)
{
	free(in->buf);
	in->buf = NULL;
}

void fuzz_quiet(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0 && dup2(fd, 1) == 1, "/dev/null: %s", strerror(errno));
	close(fd);
}

void fuzz_stdin(const void *data, size_t len)
{
	static bool made;
	if (!made) {
		int fd = memfd_create("fuzz-stdin", MFD_CLOEXEC);
		FUZZ_CHECK(fd >= 0 && dup2(fd, 0) == 0, "memfd: %s", strerror(errno));
		close(fd);
		made = true;
	}
	FUZZ_CHECK(!ftruncate(0, 0), "ftruncate: %s", strerror(errno));
	FUZZ_CHECK(!len || pwrite(0, data, len, 0) == (ssize_t)len, "pwrite: %s", strerror(errno));
	clearerr(stdin);
	FUZZ_CHECK(!fseek(stdin, 0, SEEK_SET) && lseek(0, 0, SEEK_CUR) == 0, "rewind stdin");
}

bool fuzz_open_must_fail;
const char *fuzz_state_dir, *fuzz_absent_netns;
unsigned long fuzz_open_calls;
void (*fuzz_json_hook)(json_t *j);

int __real_vpcnet_open(struct vpcnet **out, const struct vpcnet_config *cfg,
		       struct vpcnet_error *err);
int __wrap_vpcnet_open(struct vpcnet **out, const struct vpcnet_config *cfg,
		       struct vpcnet_error *err);
int __wrap_vpcnet_open(struct vpcnet **out, const struct vpcnet_config *cfg,
		       struct vpcnet_error *err)
{
	fuzz_open_calls++;
	if (!fuzz_open_must_fail)
		return __real_vpcnet_open(out, cfg, err);
	FUZZ_CHECK(cfg && cfg->state_dir && !strcmp(cfg->state_dir, fuzz_state_dir),
		   "vpcnet_open with state dir '%s'", cfg && cfg->state_dir ? cfg->state_dir : "");
	FUZZ_CHECK(cfg->host_netns && !strcmp(cfg->host_netns, fuzz_absent_netns),
		   "vpcnet_open with host netns '%s'", cfg->host_netns ? cfg->host_netns : "");
	struct vpcnet_error scratch;
	if (!err)
		err = &scratch;
	*out = NULL;
	int ret = __real_vpcnet_open(out, cfg, err);
	FUZZ_CHECK(ret < 0 && !*out, "vpcnet_open got past the absent host namespace");
	/* as root, refused for the namespace; else at the capability check, before it */
	FUZZ_CHECK(geteuid() ? ret == -EPERM : ret == -ENOENT && err->status == VPCNET_BAD_INPUT,
		   "vpcnet_open: %d %s", ret, err->msg);
	return ret;
}

void __real_cli_print_json(json_t *j);
void __wrap_cli_print_json(json_t *j);
void __wrap_cli_print_json(json_t *j)
{
	/* NULL: a json_pack() failed (a string that is not UTF-8, say) and the command would
	 * print nothing where its caller waits for a document. */
	FUZZ_CHECK(j, "the CLI printed no JSON document (json_pack failed)");
	if (fuzz_json_hook)
		fuzz_json_hook(j);
	__real_cli_print_json(j);
}

void fuzz_check_state_dir(void)
{
	DIR *d = opendir(fuzz_state_dir);
	FUZZ_CHECK(d, "%s: %s", fuzz_state_dir, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)))
		FUZZ_CHECK(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."),
			   "a command made %s/%s", fuzz_state_dir, e->d_name);
	closedir(d);
}

static char *tmpdir;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void tmpdir_remove(void)
{
	if (tmpdir)
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A crash (or libFuzzer's _Exit) skips atexit: what a run that is gone left, goes now. */
static void tmpdirs_stale_remove(void)
{
	glob_t g;
	if (glob("/tmp/vpcnet-fuzz-*-*-*", GLOB_NOSORT, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		long pid;
		char proc[32];
		const char *p = strrchr(g.gl_pathv[i], '-');
		while (p > g.gl_pathv[i] && p[-1] != '-')
			p--;  /* the pid, before the last '-' */
		if (sscanf(p, "%ld-", &pid) != 1 || pid <= 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/%ld", pid);
		if (access(proc, F_OK))
			nftw(g.gl_pathv[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	globfree(&g);
}

const char *fuzz_tmpdir(const char *tag)
{
	if (tmpdir)
		return tmpdir;
	tmpdirs_stale_remove();
	char t[128];
	snprintf(t, sizeof(t), "/tmp/vpcnet-fuzz-%s-%ld-XXXXXX", tag, (long)getpid());
	FUZZ_CHECK(mkdtemp(t), "mkdtemp: %s", strerror(errno));
	tmpdir = strdup(t);
	atexit(tmpdir_remove);
	return tmpdir;
}

const char *fuzz_absent_netns_name(void)
{
	static char name[64];
	char path[128];
	snprintf(name, sizeof(name), "vpcnet-fuzz-absent-%ld", (long)getpid());
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	FUZZ_CHECK(access(path, F_OK) && errno == ENOENT, "%s exists", path);
	return name;
}

