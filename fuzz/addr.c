/* SPDX-License-Identifier: MIT */
/* Addresses and prefixes as users give them (--ip, --cidr, rule targets).  Input: two
 * bytes (the prefix bounds, mod 33), then "ADDRESS\0CIDR".  An address that parses prints
 * back as it was given; a prefix that parses has no host bits, lies within the bounds and
 * parses back from its printed form; an address that subnet_check_lease() accepts is one of
 * the subnet's leasable ones (by a model in 64-bit arithmetic). */
#include <string.h>

#include "fuzz/fuzz.h"
#include "base/addr.h"

static bool digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned min = data[0] % 33, max = data[1] % 33;
	struct fuzz_fields in;
	fuzz_fields(&in, data + 2, size - 2, 2);
	const char *ip_s = in.f[0], *cidr_s = in.n > 1 ? in.f[1] : "";
	struct vpcnet_error err;
	char buf[16];

	uint32_t ip = 0;
	bool ip_ok = !parse_ipv4(ip_s, &ip);
	if (ip_ok)
		FUZZ_CHECK(!strcmp(ipv4_str(ip, buf), ip_s), "'%s' parses as %s", ip_s, buf);

	uint32_t net = 0;
	unsigned prefix = 0;
	bool cidr_ok = !parse_cidr(cidr_s, min, max, "--cidr", &net, &prefix, &err);
	if (!cidr_ok)
		FUZZ_CHECK(err.status == VPCNET_BAD_INPUT && err.msg[0], "no message");
	if (cidr_ok) {
		FUZZ_CHECK(prefix >= min && prefix <= max && prefix <= 32, "'%s': /%u", cidr_s, prefix);
		uint64_t size64 = 1ull << (32 - prefix);
		FUZZ_CHECK(net % size64 == 0, "'%s': host bits in %08x/%u", cidr_s, net, prefix);
		FUZZ_CHECK(digits(strchr(cidr_s, '/') + 1), "'%s': a prefix length that is not"
			   " digits", cidr_s);
		char text[24];
		snprintf(text, sizeof(text), "%s/%u", ipv4_str(net, buf), prefix);
		uint32_t net2;
		unsigned prefix2;
		FUZZ_CHECK(!parse_cidr(text, min, max, "--cidr", &net2, &prefix2, &err) &&
			   net2 == net && prefix2 == prefix, "'%s' prints as '%s'", cidr_s, text);
	}

	if (cidr_ok && ip_ok) {
		int64_t first = (int64_t)net + SUBNET_RESERVED_LOW;
		int64_t last = (int64_t)net + (1ll << (32 - prefix)) - 2;  /* /31, /32: none */
		bool model = ip >= first && ip <= last;
		bool ok = !subnet_check_lease(net, prefix, ip, &err);
		FUZZ_CHECK(ok == model, "lease %s in %s: %d", ip_s, cidr_s, ok);
		if (ok) {
			FUZZ_CHECK(subnet_first(net) <= ip && ip <= subnet_last(net, prefix) &&
				   ip != subnet_gateway(net), "lease %s in %s", ip_s, cidr_s);
			uint8_t mac[6];
			member_mac(ip, mac);
			FUZZ_CHECK(mac[0] == 0x02 && ((uint32_t)mac[2] << 24 | mac[3] << 16 |
						       mac[4] << 8 | mac[5]) == ip, "mac");
		}
	}
	fuzz_fields_free(&in);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}
