/* SPDX-License-Identifier: MIT */
/* The table builders are pure: build the batches, serialise, parse back, compare. */
#include <criterion/criterion.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

#include "nat/tables.h"
#include "nft/nft.h"

Test(tables, a_member_is_two_elements)
{
	struct nft_batch *b = nftb_new();
	router_member_elems(b, NFT_MSG_NEWSETELEM, "port7", 0x0a000004);
	cr_assert(nftb_ok(b));
	cr_assert_eq(nftb_count(b), 2, "one element in @ports, one in @port_src");
	nftb_free(b);
}

Test(tables, router_table_is_fixed_size)
{
	struct nft_batch *b = nftb_new();
	router_table_build(b, 0x0a000001, true, "transit");
	unsigned with_nat = nftb_count(b);
	nftb_free(b);
	b = nftb_new();
	router_table_build(b, 0x0a000001, false, "transit");
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
