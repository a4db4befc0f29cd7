/* SPDX-License-Identifier: MIT */
/* Unit tests (no privileges): names, addresses, the address plan, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/addr.h"
#include "base/error.h"
#include "base/names.h"

Test(names, vpc_names)
{
	struct vpcnet_error e;
	cr_assert_eq(valid_vpc_name("prod", &e), 0);
	cr_assert_eq(valid_vpc_name("a-1", &e), 0);
	cr_assert_eq(valid_vpc_name("12345678901234567890123456789012", &e), 0);
	cr_assert_neq(valid_vpc_name("123456789012345678901234567890123", &e), 0);
	cr_assert_neq(valid_vpc_name("", &e), 0);
	cr_assert_neq(valid_vpc_name("Prod", &e), 0);
	cr_assert_neq(valid_vpc_name("a_b", &e), 0);
	cr_assert_neq(valid_vpc_name("a/b", &e), 0);
	cr_assert_eq(e.status, VPCNET_BAD_INPUT);
	cr_assert(strstr(e.msg, "a/b"), "the message names the bad part: %s", e.msg);
}

Test(names, sandbox_ids)
{
	struct vpcnet_error e;
	char id[66];
	memset(id, 'a', 64);
	id[64] = '\0';
	cr_assert_eq(valid_sandbox_id(id, &e), 0, "64 hex chars (a CNI container id) fit");
	id[64] = 'a';
	id[65] = '\0';
	cr_assert_neq(valid_sandbox_id(id, &e), 0);
	cr_assert_eq(valid_sandbox_id("Fn_1.x-2", &e), 0);
	cr_assert_neq(valid_sandbox_id("..", &e), 0);
	cr_assert_neq(valid_sandbox_id("a b", &e), 0);
	cr_assert_neq(valid_sandbox_id("a/b", &e), 0);
}

Test(names, interface_names_fit_the_kernel)
{
	struct vpcnet_error e;
	cr_assert_eq(valid_ifname("eth0", "--ifname", &e), 0);
	cr_assert_eq(valid_ifname("123456789012345", "--ifname", &e), 0);
	cr_assert_neq(valid_ifname("1234567890123456", "--ifname", &e), 0);
	cr_assert(strstr(e.msg, "--ifname") && strstr(e.msg, "15"), "%s", e.msg);
	cr_assert_neq(valid_ifname("a:b", "--ifname", &e), 0);
	cr_assert_neq(valid_ifname("a b", "--ifname", &e), 0);
	cr_assert_neq(valid_ifname("", "--ifname", &e), 0);
}

Test(names, derived_kernel_names_round_trip)
{
	char buf[16];
	port_name(buf, 42);
	cr_assert_str_eq(buf, "port42");
	cr_assert_eq(port_id(buf), 42);
	port_name(buf, 99999999999);
	cr_assert_leq(strlen(buf), 15);
	cr_assert_eq(port_id(buf), 99999999999);
	transit_name(buf, 7);
	cr_assert_eq(transit_id(buf), 7);
	cr_assert_eq(port_id("port"), -1);
	cr_assert_eq(port_id("port01"), -1);
	cr_assert_eq(port_id("portx"), -1);
	cr_assert_eq(port_id("eth0"), -1);
}

Test(addr, cidrs)
{
	struct vpcnet_error e;
	uint32_t net;
	unsigned len;
	cr_assert_eq(parse_cidr("10.0.0.0/16", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_eq(net, 0x0a000000);
	cr_assert_eq(len, 16);
	cr_assert_eq(parse_cidr("192.168.7.16/28", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_eq(parse_cidr("10.0.0.0/8", 16, 28, "--cidr", &net, &len, &e), -ERANGE);
	cr_assert(strstr(e.msg, "10.0.0.0/8"), "%s", e.msg);
	cr_assert_neq(parse_cidr("10.0.0.0/30", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_neq(parse_cidr("10.0.0.1/16", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert(strstr(e.msg, "host bits"), "%s", e.msg);
	cr_assert_neq(parse_cidr("10.0.0.0", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_neq(parse_cidr("10.0.0/16", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_neq(parse_cidr("10.0.0.0/1x", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_neq(parse_cidr("10.0.0.0/", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_neq(parse_cidr("300.0.0.0/16", 16, 28, "--cidr", &net, &len, &e), 0);
	cr_assert_eq(e.status, VPCNET_BAD_INPUT);
}

Test(addr, the_address_plan)
{
	uint32_t net = 0x0a000000;
	cr_assert_eq(subnet_gateway(net), 0x0a000001);
	cr_assert_eq(subnet_first(net), 0x0a000004);
	cr_assert_eq(subnet_last(net, 16), 0x0a00fffe);
	cr_assert_eq(subnet_last(0xc0a80710, 28), 0xc0a8071e);
	struct vpcnet_error e;
	cr_assert_eq(subnet_check_lease(net, 16, 0x0a000104, &e), 0);
	cr_assert_neq(subnet_check_lease(net, 16, 0x0a010004, &e), 0);
	cr_assert(strstr(e.msg, "10.1.0.4") && strstr(e.msg, "outside"), "%s", e.msg);
	cr_assert_neq(subnet_check_lease(net, 16, 0x0a000001, &e), 0);
	cr_assert_neq(subnet_check_lease(net, 16, 0x0a00ffff, &e), 0);
	cr_assert_eq(transit_host(3), 0xc6120006);
	cr_assert_eq(transit_router(3), 0xc6120007);
	uint8_t mac[6];
	member_mac(0x0a000104, mac);
	cr_assert(mac[0] == 0x02 && mac[2] == 10 && mac[5] == 4, "locally administered, from the IP");
}

Test(error, context_is_prefixed_and_errno_kept)
{
	struct vpcnet_error e;
	int ret = verr(&e, VPCNET_FAILED, EEXIST, "veth %s", "port7");
	cr_assert_eq(ret, -EEXIST);
	verr_wrap(&e, "sandbox %s", "fn-1");
	cr_assert_str_eq(e.msg, "sandbox fn-1: veth port7: File exists");
	cr_assert_eq(e.errnum, EEXIST);
	cr_assert_eq(vstatus_of(EEXIST), VPCNET_EXISTS);
}
