/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/error.h"
#include "secgroups/rule.h"

static int cmp_group(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void sg_groups_sort(int64_t *g, size_t n)
{
	qsort(g, n, sizeof(*g), cmp_group);
}

int valid_sg_name(const char *name, struct vpcnet_error *err)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n > 0 && n <= SG_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '-' || c == '_' || c == '.';
	}
	if (!ok)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "group name '%s': must be 1-%d of [A-Za-z0-9_.-]", name ? name : "",
			      SG_NAME_MAX);
	return 0;
}

const char *sg_dir_str(enum sg_dir d)
{
	return d == SG_EGRESS ? "egress" : "ingress";
}

int sg_parse_dir(const char *s, enum sg_dir *dir, struct vpcnet_error *err)
{
	if (s && !strcmp(s, "egress"))
		*dir = SG_EGRESS;
	else if (s && !strcmp(s, "ingress"))
		*dir = SG_INGRESS;
	else
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "direction '%s': must be egress or ingress", s ? s : "");
	return 0;
}

static int parse_port(const char *s, const char *all, long *out, struct vpcnet_error *err)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno)  /* strtol would take " 8" and "+8" */
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "ports in '%s': '%s' is not a number",
			      all, s);
	if (v < 1 || v > 65535)
		return vinput(err, VPCNET_BAD_INPUT, ERANGE,
			      "ports in '%s': %ld is out of range (1-65535)", all, v);
	*out = v;
	return 0;
}

int sg_parse_rule(const char *proto_ports, const char *target, struct sg_rule *r,
		  struct vpcnet_error *err)
{
	char proto[16];
	const char *colon = proto_ports ? strchr(proto_ports, ':') : NULL;
	size_t plen = colon ? (size_t)(colon - proto_ports) : (proto_ports ? strlen(proto_ports) : 0);
	if (!proto_ports || plen == 0 || plen >= sizeof(proto))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "protocol '%s': must be tcp, udp, icmp or all",
			      proto_ports ? proto_ports : "");
	memcpy(proto, proto_ports, plen);
	proto[plen] = '\0';
	if (!strcmp(proto, "tcp"))
		r->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		r->proto = IPPROTO_UDP;
	else if (!strcmp(proto, "icmp"))
		r->proto = IPPROTO_ICMP;
	else if (!strcmp(proto, "all"))
		r->proto = 0;
	else
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "protocol '%s': must be tcp, udp, icmp or all", proto);
	r->port_lo = 0;  /* no ports given: every port (and any protocol's port field) */
	r->port_hi = 65535;
	if (colon) {
		if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
			return vinput(err, VPCNET_BAD_INPUT, EINVAL,
				      "'%s': ports go with tcp and udp only", proto_ports);
		char ports[32];
		if (strlen(colon + 1) >= sizeof(ports))  /* cut, its tail would go unread */
			return vinput(err, VPCNET_BAD_INPUT, EINVAL,
				      "ports in '%s': not N or N-M", proto_ports);
		snprintf(ports, sizeof(ports), "%s", colon + 1);
		char *dash = strchr(ports, '-');
		long lo, hi;
		if (dash)
			*dash = '\0';
		int ret = parse_port(ports, proto_ports, &lo, err);
		if (ret)
			return ret;
		hi = lo;
		if (dash && (ret = parse_port(dash + 1, proto_ports, &hi, err)))
			return ret;
		if (hi < lo)
			return vinput(err, VPCNET_BAD_INPUT, EINVAL,
				      "ports in '%s': the range is reversed", proto_ports);
		r->port_lo = lo;
		r->port_hi = hi;
	}
	if (!target || !*target)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "a rule needs a target (CIDR or sg:NAME)");
	if (!strncmp(target, "sg:", 3)) {
		int ret = valid_sg_name(target + 3, err);
		if (ret)
			return verr_wrap(err, "target '%s'", target);
		r->to_group = true;
		snprintf(r->group, sizeof(r->group), "%s", target + 3);
		return 0;
	}
	r->to_group = false;
	r->group[0] = '\0';
	if (!strchr(target, '/')) {
		if (parse_ipv4(target, &r->net))
			return vinput(err, VPCNET_BAD_INPUT, EINVAL,
				      "target '%s': not an IPv4 address, CIDR or sg:NAME", target);
		r->len = 32;
		return 0;
	}
	return parse_cidr(target, 0, 32, "target", &r->net, &r->len, err);
}

void sg_rule_str(const struct sg_rule *r, char *buf, size_t n)
{
	char ports[16] = "", a[16];
	const char *p = r->proto == IPPROTO_TCP ? "tcp" : r->proto == IPPROTO_UDP ? "udp"
			: r->proto == IPPROTO_ICMP ? "icmp" : "all";
	if ((r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP) &&
	    !(r->port_lo == 0 && r->port_hi == 65535)) {
		if (r->port_lo == r->port_hi)
			snprintf(ports, sizeof(ports), ":%u", r->port_lo);
		else
			snprintf(ports, sizeof(ports), ":%u-%u", r->port_lo, r->port_hi);
	}
	if (r->to_group)
		snprintf(buf, n, "%s%s sg:%s", p, ports, r->group);
	else
		snprintf(buf, n, "%s%s %s/%u", p, ports, ipv4_str(r->net, a), r->len);
}
