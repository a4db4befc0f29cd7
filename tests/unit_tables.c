/* SPDX-License-Identifier: MIT */
/* The table builders are pure: build the batches, serialise, parse back, compare. */
#include <criterion/criterion.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "nat/tables.h"
#include "nft/nft.h"
#include "secgroups/compile.h"

Test(tables, a_member_is_four_elements)
{
	struct nft_batch *b = nftb_new();
	router_member_elems(b, NFT_MSG_NEWSETELEM, "port7", 0x0a000004, 100);
	cr_assert(nftb_ok(b));
	cr_assert_eq(nftb_count(b), 4, "@port_src in the arp and inet tables, @climit, @ports");
	nftb_free(b);
}

/* A control port is one element of @ctl_dnat, keyed by the member's offset in its CIDR. */
Test(tables, a_control_port_is_one_element)
{
	cr_assert_eq(control_host_port(0x0a000000, 0x0a000004), 4);
	cr_assert_eq(control_host_port(0x0a000000, 0x0a00fffe), 65534, "the last of a /16");
	struct nft_batch *b = nftb_new();
	router_control_elem(b, NFT_MSG_NEWSETELEM, 0x0a000000, 0x0a000104, 7000);
	cr_assert(nftb_ok(b));
	cr_assert_eq(nftb_count(b), 1);
	router_control_elem(b, NFT_MSG_DELSETELEM, 0x0a000000, 0x0a000104, 7000);
	cr_assert_eq(nftb_count(b), 2);
	nftb_free(b);
}

Test(tables, router_table_is_fixed_size)
{
	struct nft_batch *b = nftb_new();
	router_table_build(b, 0x0a000001, true, "transit", 0xc6120001);
	unsigned with_nat = nftb_count(b);
	nftb_free(b);
	b = nftb_new();
	router_table_build(b, 0x0a000001, false, "transit", 0xc6120001);
	cr_assert_eq(nftb_count(b), with_nat - 2, "no NAT: no post chain, no masquerade rule");
	nftb_free(b);
}

Test(tables, rules_serialise_and_parse_back)
{
	struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, "vpcnet", "forward");
	m_iifname_in(r, "ports");
	m_ip_daddr(r, 0xa9fe0000, 16);
	x_verdict(r, NFT_GOTO, "deny");
	char buf[4096];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	struct nftnl_rule *back = nftnl_rule_alloc();
	cr_assert_geq(nftnl_rule_nlmsg_parse(nlh, back), 0);
	char a[2048], z[2048];
	nftnl_rule_snprintf(a, sizeof(a), r, NFTNL_OUTPUT_DEFAULT, 0);
	nftnl_rule_snprintf(z, sizeof(z), back, NFTNL_OUTPUT_DEFAULT, 0);
	cr_assert_str_eq(a, z);
	cr_assert(strstr(z, "lookup reg 1 set ports"), "%s", z);
	cr_assert(strstr(z, "0x0000fea9"), "169.254.0.0 in network order: %s", z);
	nftnl_rule_free(r);
	nftnl_rule_free(back);
}

static int count_elem(const struct nlattr *a, void *data)
{
	(*(unsigned *)data)++;
	return MNL_CB_OK;
}

static int find_list(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS) {
		cr_assert_leq(mnl_attr_get_payload_len(a), UINT16_MAX);
		mnl_attr_parse_nested(a, count_elem, data);
	}
	return MNL_CB_OK;
}

/* An element list is one attribute with a 16-bit length: a cover of thousands of boxes
 * goes out in several messages, none of them overflowing, and no element is lost. */
Test(tables, a_large_cover_is_split_into_whole_messages)
{
	enum { N = 5000 };
	struct box *v = calloc(N, sizeof(*v));
	for (unsigned i = 0; i < N; i++) {
		v[i].lo[0] = v[i].hi[0] = IPPROTO_TCP;
		v[i].lo[1] = v[i].hi[1] = 0x0a000000 + 2 * i;  /* address */
		v[i].lo[2] = v[i].hi[2] = 443;                 /* port */
	}
	struct nft_batch *b = nftb_new();
	sg_cover_elems(b, NFT_MSG_DELSETELEM, 7, SG_EGRESS, 0, v, N);
	cr_assert(nftb_ok(b));
	cr_assert_gt(nftb_count(b), 1, "5000 elements need more than one message");
	unsigned elems = 0;
	for (unsigned i = 0; i < nftb_count(b); i++) {
		const struct nlmsghdr *nlh = nftb_msg(b, i);
		cr_assert_leq(nlh->nlmsg_len, 80u << 10);
		mnl_attr_parse(nlh, sizeof(struct nfgenmsg), find_list, &elems);
	}
	cr_assert_eq(elems, N, "every element is in exactly one message: %u", elems);
	nftb_free(b);
	free(v);
}

/* A flush names the set and carries no element list (an empty list would flush nothing). */
Test(tables, a_flush_has_no_element_list)
{
	struct nft_batch *b = nftb_new();
	nftb_flush_set(b, NFPROTO_INET, "vpcnet", "out1");
	cr_assert_eq(nftb_count(b), 1);
	unsigned elems = 0;
	const struct nlmsghdr *nlh = nftb_msg(b, 0);
	cr_assert_eq(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM);
	struct nlattr *a;
	bool named = false, list = false;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
			named = !strcmp(mnl_attr_get_str(a), "out1");
		list |= mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS;
	}
	cr_assert(named && !list && elems == 0);
	nftb_free(b);
}
