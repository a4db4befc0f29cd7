/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/names.h"

static int valid_chars(const char *s, const char *extra, bool upper)
{
	for (; *s; s++) {
		char c = *s;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c) ||
		    (upper && c >= 'A' && c <= 'Z'))
			continue;
		return 0;
	}
	return 1;
}

int valid_vpc_name(const char *name, struct vpcnet_error *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > VPCNET_NAME_MAX || !valid_chars(name, "-", false))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "VPC name '%s': must be 1-%d of [a-z0-9-]", name ? name : "",
			      VPCNET_NAME_MAX);
	return 0;
}

int valid_sandbox_id(const char *id, struct vpcnet_error *err)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > VPCNET_ID_MAX || !valid_chars(id, "_.-", true) || !strcmp(id, ".") ||
	    !strcmp(id, ".."))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "sandbox id '%s': must be 1-%d of [A-Za-z0-9_.-]", id ? id : "",
			      VPCNET_ID_MAX);
	return 0;
}

int valid_ifname(const char *name, const char *what, struct vpcnet_error *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "%s: empty interface name", what);
	if (n > VPCNET_IFNAME_MAX)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "%s '%s': interface names are at most %d bytes", what, name,
			      VPCNET_IFNAME_MAX);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "%s '%s': not an interface name",
			      what, name);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p >= 0x7f)  /* printable ASCII */
			return vinput(err, VPCNET_BAD_INPUT, EINVAL,
				      "%s '%s': interface names may not contain '/', ':' or spaces",
				      what, name);
	return 0;
}

int valid_netns_name(const char *name, const char *what, struct vpcnet_error *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 200 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "%s '%s': not a namespace name", what,
			      name ? name : "");
	return 0;
}

void router_netns_path(char buf[VPCNET_PATH_MAX], const char *vpc)
{
	snprintf(buf, VPCNET_PATH_MAX, NETNS_RUN_DIR "/" ROUTER_NETNS_PREFIX "%s", vpc);
}

void sandbox_netns_path(char buf[VPCNET_PATH_MAX], const char *id)
{
	snprintf(buf, VPCNET_PATH_MAX, NETNS_RUN_DIR "/" SANDBOX_NETNS_PREFIX "%s", id);
}

void instance_netns_path(char buf[VPCNET_PATH_MAX], const char *name)
{
	snprintf(buf, VPCNET_PATH_MAX, NETNS_RUN_DIR "/" INSTANCE_NETNS_PREFIX "%s", name);
}

void port_name(char buf[VPCNET_IFNAME_MAX + 1], int64_t member_id)
{
	snprintf(buf, VPCNET_IFNAME_MAX + 1, PORT_PREFIX "%" PRId64, member_id);
}

void transit_name(char buf[VPCNET_IFNAME_MAX + 1], int64_t vpc_id)
{
	snprintf(buf, VPCNET_IFNAME_MAX + 1, TRANSIT_PREFIX "%" PRId64, vpc_id);
}

static int64_t parse_suffix(const char *ifname, const char *prefix)
{
	size_t n = strlen(prefix);
	/* digits only: strtoll would also take "port 7", "port+7" */
	if (strncmp(ifname, prefix, n) || ifname[n] < '1' || ifname[n] > '9')
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(ifname + n, &end, 10);
	if (errno || *end || v <= 0)
		return -1;
	return v;
}

int64_t port_id(const char *ifname) { return parse_suffix(ifname, PORT_PREFIX); }
int64_t transit_id(const char *ifname) { return parse_suffix(ifname, TRANSIT_PREFIX); }
