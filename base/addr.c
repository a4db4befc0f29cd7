/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/error.h"

int parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

int parse_cidr(const char *s, unsigned min, unsigned max, const char *what, uint32_t *net,
	       unsigned *prefix, struct vpcnet_error *err)
{
	char buf[32];
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "%s '%s': not an IPv4 prefix like 10.0.0.0/16", what, s ? s : "");
	memcpy(buf, s, slash - s);
	buf[slash - s] = '\0';
	uint32_t addr;
	if (parse_ipv4(buf, &addr))
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "%s '%s': '%s' is not an IPv4 address",
			      what, s, buf);
	char *end;
	errno = 0;
	long len = strtol(slash + 1, &end, 10);
	/* digits only: strtol would also take " 8", "+8" and "-0" */
	if (errno || slash[1] < '0' || slash[1] > '9' || *end || len > 32)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "%s '%s': bad prefix length '%s'",
			      what, s, slash + 1);
	if ((unsigned)len < min || (unsigned)len > max)
		return vinput(err, VPCNET_BAD_INPUT, ERANGE,
			      "%s '%s': prefix length must be from /%u to /%u", what, s, min, max);
	if (addr & ~prefix_mask(len)) {
		char ok[16];
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "%s '%s': host bits set (did you mean %s/%ld?)", what, s,
			      ipv4_str(addr & prefix_mask(len), ok), len);
	}
	*net = addr;
	*prefix = len;
	return 0;
}

int subnet_check_lease(uint32_t net, unsigned prefix, uint32_t ip, struct vpcnet_error *err)
{
	char a[16], n[16];
	if ((ip & prefix_mask(prefix)) != net)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL, "address %s is outside the subnet %s/%u",
			      ipv4_str(ip, a), ipv4_str(net, n), prefix);
	/* in 64 bits: net + 4 wraps past 255.255.255.255 for the last /30, /31 and /32 */
	int64_t first = (int64_t)net + SUBNET_RESERVED_LOW;
	int64_t last = (int64_t)(net | ~prefix_mask(prefix)) - 1;
	if (ip < first || ip > last)
		return vinput(err, VPCNET_BAD_INPUT, EINVAL,
			      "address %s is reserved in %s/%u (the first %d and the last address)",
			      ipv4_str(ip, a), ipv4_str(net, n), prefix, SUBNET_RESERVED_LOW);
	return 0;
}

void member_mac(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x76;
	mac[2] = ip >> 24;
	mac[3] = ip >> 16;
	mac[4] = ip >> 8;
	mac[5] = ip;
}

struct in_addr to_in_addr(uint32_t host_order)
{
	return (struct in_addr){ .s_addr = htonl(host_order) };
}

const char *ipv4_str(uint32_t host_order, char buf[16])
{
	struct in_addr a = to_in_addr(host_order);
	return inet_ntop(AF_INET, &a, buf, 16) ? buf : "?";
}

VPCNET_API const char *vpcnet_addr_str(struct in_addr a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, 16) ? buf : "?";
}
