/* SPDX-License-Identifier: MIT */
/* Helpers shared by the namespace tests: VPCs and sandboxes made through the CLI. */
#ifndef VPCNET_TEST_NS_UTIL_H
#define VPCNET_TEST_NS_UTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/invariants.h"
#include "tests/topo.h"

struct sbx {
	char id[80];
	char ip[16];
	char netns[256];
	char port[16];  /* its end in the VPC router */
};

/* Whether @name carries the test's tag as a word ("vpcnet-sbx-t12-a": yes; "...-t123-a",
 * another test's: no). */
static inline bool tagged(const struct topo *t, const char *name)
{
	size_t n = strlen(t->tag);
	for (const char *p = name; (p = strstr(p, t->tag)); p++)
		if ((p == name || p[-1] == '-') && p[n] == '-')
			return true;
	return false;
}

/* Appends "netns NAME\n" for each namespace that carries the test's tag to @buf (@len of @n
 * used); returns the new length. */
static inline size_t append_tagged_netns(const struct topo *t, char *buf, size_t n, size_t len)
{
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (tagged(t, e->d_name) && len < n)
			len += snprintf(buf + len, n - len, "netns %s\n", e->d_name);
	if (d)
		closedir(d);
	return len;
}

/* "<tag>-<suffix>" */
static inline const char *tname(struct topo *t, const char *suffix, char *buf, size_t n)
{
	snprintf(buf, n, "%s-%s", t->tag, suffix);
	return buf;
}

static inline void make_vpc(struct topo *t, const char *suffix, const char *cidr, bool nat)
{
	char name[64], out[4096];
	tname(t, suffix, name, sizeof(name));
	int rc = vpcnet(t, out, sizeof(out), NULL, "vpc create %s --cidr %s%s", name, cidr,
			nat ? " --nat" : "");
	cr_assert_eq(rc, 0, "vpc create %s: %s", name, out);
}

static inline void make_sbx_args(struct topo *t, const char *vpc_suffix, const char *suffix,
				 const char *extra, struct sbx *s)
{
	char vpc[64], out[4096];
	tname(t, suffix, s->id, sizeof(s->id));
	tname(t, vpc_suffix, vpc, sizeof(vpc));
	int rc = vpcnet(t, out, sizeof(out), NULL, "--json sandbox create %s --vpc %s%s%s", s->id,
			vpc, extra ? " " : "", extra ? extra : "");
	cr_assert_eq(rc, 0, "sandbox create %s: %s", s->id, out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "sandbox create printed no JSON: %s", out);
	snprintf(s->ip, sizeof(s->ip), "%s", json_string_value(json_object_get(j, "ip")));
	snprintf(s->netns, sizeof(s->netns), "%s", json_string_value(json_object_get(j, "netns")));
	snprintf(s->port, sizeof(s->port), "%s", json_string_value(json_object_get(j, "port")));
	json_decref(j);
}

static inline void make_sbx(struct topo *t, const char *vpc_suffix, const char *suffix,
			    struct sbx *s)
{
	make_sbx_args(t, vpc_suffix, suffix, NULL, s);
}

/* Copies @pattern to @buf with every "%1$s" replaced by the test's tag. */
static inline const char *with_tag(struct topo *t, const char *pattern, char *buf, size_t size)
{
	size_t n = 0;
	for (const char *p = pattern; *p && n + strlen(t->tag) + 1 < size; p++) {
		if (!strncmp(p, "%1$s", 4)) {
			n += snprintf(buf + n, size - n, "%s", t->tag);
			p += 3;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = '\0';
	return buf;
}

/* `instance create <tag>-<suffix> --vpc <tag>-<vpc_suffix> --sg GROUPS` */
static inline void make_instance(struct topo *t, const char *vpc_suffix, const char *suffix,
				 const char *groups, struct sbx *s)
{
	char vpc[64], out[4096];
	tname(t, suffix, s->id, sizeof(s->id));
	tname(t, vpc_suffix, vpc, sizeof(vpc));
	int rc = vpcnet(t, out, sizeof(out), NULL, "--json instance create %s --vpc %s --sg %s",
			s->id, vpc, groups);
	cr_assert_eq(rc, 0, "instance create %s: %s", s->id, out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert(j, "instance create printed no JSON: %s", out);
	snprintf(s->ip, sizeof(s->ip), "%s", json_string_value(json_object_get(j, "ip")));
	snprintf(s->netns, sizeof(s->netns), "%s", json_string_value(json_object_get(j, "netns")));
	snprintf(s->port, sizeof(s->port), "%s", json_string_value(json_object_get(j, "port")));
	json_decref(j);
}

/* The kernel matches the store, for the test's VPCs (tests/invariants.c). */
static inline void assert_invariants(struct topo *t, const char *what)
{
	static char rep[65536];
	char tag[24];
	snprintf(tag, sizeof(tag), "%s-", t->tag);  /* "t12-": not "t123-..." of another test */
	int bad = invariants_check(t->state_dir, t->host, tag, rep, sizeof(rep));
	cr_assert_eq(bad, 0, "%s: %d invariant(s) broken:\n%s", what, bad, rep);
}

/* The router namespace of VPC <tag>-<suffix>. */
static inline const char *router_ns(struct topo *t, const char *suffix, char *buf, size_t n)
{
	snprintf(buf, n, "/run/netns/vpcnet-vpc-%s-%s", t->tag, suffix);
	return buf;
}

#endif
