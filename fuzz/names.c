/* SPDX-License-Identifier: MIT */
/* Names from the command line, CNI and OCI: VPC names, sandbox ids, interface names,
 * namespace names, group names, and the kernel names vpcnet derives from store ids.  The
 * input is one name.  Each validator is held to a plain model of what it promises, and a
 * port/transit name parses back to the id it was made from, and only then. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "base/names.h"
#include "secgroups/rule.h"

static bool only(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGITS "0123456789"

static void derived(int64_t (*parse)(const char *), void (*make)(char *, int64_t),
		    const char *s, const char *what)
{
	char buf[VPCNET_IFNAME_MAX + 1];
	int64_t id = parse(s);
	FUZZ_CHECK(id == -1 || id > 0, "%s_id('%s') = %lld", what, s, (long long)id);
	if (id > 0) {
		make(buf, id);
		FUZZ_CHECK(!strcmp(buf, s), "%s_id('%s') = %lld, which is named '%s'", what, s,
			   (long long)id, buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields in;
	fuzz_fields(&in, data, size, 1);
	const char *s = in.f[0];
	size_t n = strlen(s);
	struct vpcnet_error err;
	bool dots = !strcmp(s, ".") || !strcmp(s, "..");

	bool ok = !valid_vpc_name(s, &err);
	FUZZ_CHECK(ok == (n >= 1 && n <= VPCNET_NAME_MAX && only(s, LOWER DIGITS "-")),
		   "valid_vpc_name('%s') = %d", s, ok);
	if (ok) {
		char path[VPCNET_PATH_MAX];
		router_netns_path(path, s);
		FUZZ_CHECK(strlen(path) + 1 < sizeof(path), "router path truncated");
	}

	ok = !valid_sandbox_id(s, &err);
	FUZZ_CHECK(ok == (n >= 1 && n <= VPCNET_ID_MAX && !dots &&
			  only(s, LOWER UPPER DIGITS "_.-")),
		   "valid_sandbox_id('%s') = %d", s, ok);
	if (ok) {
		char path[VPCNET_PATH_MAX];
		sandbox_netns_path(path, s);
		FUZZ_CHECK(strlen(path) + 1 < sizeof(path), "sandbox path truncated");
		instance_netns_path(path, s);
		FUZZ_CHECK(strlen(path) + 1 < sizeof(path), "instance path truncated");
	}

	/* Interface names: what the kernel takes (dev_valid_name), in printable ASCII. */
	ok = !valid_ifname(s, "--ifname", &err);
	bool model = n >= 1 && n <= VPCNET_IFNAME_MAX && !dots && !strpbrk(s, "/:");
	for (const char *p = s; model && *p; p++)
		model = (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f;
	FUZZ_CHECK(ok == model, "valid_ifname('%s') = %d", s, ok);

	ok = !valid_netns_name(s, "--host-netns", &err);
	FUZZ_CHECK(ok == (n >= 1 && n <= 200 && !dots && !strchr(s, '/')),
		   "valid_netns_name('%s') = %d", s, ok);

	ok = !valid_sg_name(s, &err);
	FUZZ_CHECK(ok == (n >= 1 && n <= SG_NAME_MAX && only(s, LOWER UPPER DIGITS "_.-")),
		   "valid_sg_name('%s') = %d", s, ok);

	if (n <= VPCNET_IFNAME_MAX) {  /* the names of links that gc reads from the kernel */
		derived(port_id, port_name, s, "port");
		derived(transit_id, transit_name, s, "transit");
	}

	/* And the other way: every id's name parses back to it. */
	if (size >= 8) {
		int64_t id;
		memcpy(&id, data, sizeof(id));
		char buf[VPCNET_IFNAME_MAX + 1];
		if (id > 0 && id < 100000000000LL) {  /* "port" + 11 digits fits IFNAMSIZ */
			port_name(buf, id);
			FUZZ_CHECK(port_id(buf) == id, "port_id(port_name(%lld))", (long long)id);
			transit_name(buf, id);
			FUZZ_CHECK(transit_id(buf) == id, "transit_id(transit_name(%lld))",
				   (long long)id);
		}
	}
	fuzz_fields_free(&in);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}
