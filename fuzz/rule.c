/* SPDX-License-Identifier: MIT */
/* Security-group rules as `sg rule add` takes them.  Input: "DIR\0PROTO[:PORTS]\0TARGET".
 * A rule that parses is well formed (ports ordered, no host bits, a valid group name), its
 * ports were written as digits, it prints (as `sg show` does) to text that parses back to
 * the same rule and prints the same again, and the compiler turns it into a cover. */
#include <netinet/in.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "base/addr.h"
#include "secgroups/compile.h"
#include "secgroups/rule.h"

/* N or N-M, decimal digits */
static bool port_text(const char *s)
{
	size_t n = strspn(s, "0123456789");
	if (!n)
		return false;
	if (!s[n])
		return true;
	return s[n] == '-' && s[n + 1] && strspn(s + n + 1, "0123456789") == strlen(s + n + 1);
}

static bool same(const struct sg_rule *a, const struct sg_rule *b)
{
	return a->proto == b->proto && a->port_lo == b->port_lo && a->port_hi == b->port_hi &&
	       a->to_group == b->to_group && a->net == b->net && a->len == b->len &&
	       !strcmp(a->group, b->group);
}

static void cover(const struct sg_rule *r)
{
	int64_t ref_of[1] = { r->to_group ? 7 : 0 };
	struct box *out = NULL;
	size_t n = 0;
	FUZZ_CHECK(!sg_cover(r, ref_of, 1, r->dir, r->to_group ? 7 : 0, &out, &n) && n >= 1,
		   "sg_cover: %zu boxes", n);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields in;
	fuzz_fields(&in, data, size, 3);
	struct vpcnet_error err;
	struct sg_rule r = { 0 }, r2 = { 0 };
	const char *dir = in.f[0];
	const char *pp = in.n > 1 ? in.f[1] : NULL, *target = in.n > 2 ? in.f[2] : NULL;

	bool dir_ok = !sg_parse_dir(dir, &r.dir, &err);
	FUZZ_CHECK(dir_ok == (!strcmp(dir, "egress") || !strcmp(dir, "ingress")), "dir '%s'", dir);
	if (dir_ok)
		FUZZ_CHECK(!strcmp(sg_dir_str(r.dir), dir), "dir '%s' prints as '%s'", dir,
			   sg_dir_str(r.dir));

	if (sg_parse_rule(pp, target, &r, &err)) {
		FUZZ_CHECK(err.status == VPCNET_BAD_INPUT && err.msg[0], "no message");
		fuzz_fields_free(&in);
		return 0;
	}
	FUZZ_CHECK(r.proto == 0 || r.proto == IPPROTO_ICMP || r.proto == IPPROTO_TCP ||
		   r.proto == IPPROTO_UDP, "proto %u", r.proto);
	FUZZ_CHECK(r.port_lo <= r.port_hi, "ports %u-%u", r.port_lo, r.port_hi);
	const char *colon = strchr(pp, ':');
	if (colon)
		FUZZ_CHECK(port_text(colon + 1) && r.port_lo >= 1, "'%s': ports %u-%u", pp,
			   r.port_lo, r.port_hi);
	else
		FUZZ_CHECK(r.port_lo == 0 && r.port_hi == 65535, "no ports: %u-%u", r.port_lo,
			   r.port_hi);
	if (r.to_group) {
		FUZZ_CHECK(!valid_sg_name(r.group, &err) && !strcmp(r.group, target + 3),
			   "group '%s' of '%s'", r.group, target);
	} else {
		FUZZ_CHECK(r.len <= 32 && !(r.net & ~prefix_mask(r.len)), "%08x/%u", r.net, r.len);
	}

	/* the round trip, through the buffer lib/sg.c prints rules into */
	char text[96], text2[96];
	sg_rule_str(&r, text, sizeof(text));
	FUZZ_CHECK(strlen(text) < sizeof(text) - 1, "'%s' may be cut", text);
	char *space = strchr(text, ' ');
	FUZZ_CHECK(space, "'%s': no space", text);
	char a[96];
	snprintf(a, sizeof(a), "%.*s", (int)(space - text), text);
	r2.dir = r.dir;
	FUZZ_CHECK(!sg_parse_rule(a, space + 1, &r2, &err), "'%s' does not parse: %s", text,
		   err.msg);
	FUZZ_CHECK(same(&r, &r2), "'%s %s' prints as '%s', which parses to another rule", pp,
		   target, text);
	sg_rule_str(&r2, text2, sizeof(text2));
	FUZZ_CHECK(!strcmp(text, text2), "'%s' then '%s'", text, text2);

	cover(&r);
	fuzz_fields_free(&in);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}
