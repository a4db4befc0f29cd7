/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "nat/conntrack.h"
#include "nft/nft.h"

#define DUMP_BUFSIZE 32768

struct tuples {
	const uint32_t *ips;  /* network order, sorted: keep the flows whose original or reply
			       * tuple has one */
	unsigned nips;
	char *buf;   /* CTA_TUPLE_ORIG and CTA_ZONE attributes, back to back, per entry */
	size_t len, cap;
	size_t *off; /* start of each entry in buf */
	unsigned n, nmax;
	bool oom;
};

static int put_bytes(struct tuples *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap < t->len + n)
			cap *= 2;
		char *nb = realloc(t->buf, cap);
		if (!nb)
			return -1;
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Does tuple @orig have one of @t's addresses as its source or its destination? */
static bool has_ip(const struct nlattr *orig, const struct tuples *t)
{
	const struct nlattr *a, *b;
	mnl_attr_for_each_nested(a, orig) {
		if (mnl_attr_get_type(a) != CTA_TUPLE_IP || mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			continue;
		mnl_attr_for_each_nested(b, a) {
			int type = mnl_attr_get_type(b);
			if ((type == CTA_IP_V4_SRC || type == CTA_IP_V4_DST) &&
			    mnl_attr_validate(b, MNL_TYPE_U32) >= 0) {
				uint32_t ip = mnl_attr_get_u32(b);
				if (bsearch(&ip, t->ips, t->nips, sizeof(ip), cmp_u32))
					return true;
			}
		}
	}
	return false;
}

static int collect(const struct nlmsghdr *nlh, void *arg)
{
	struct tuples *t = arg;
	const struct nlattr *orig = NULL, *reply = NULL, *zone = NULL, *a;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG && mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
			orig = a;
		else if (mnl_attr_get_type(a) == CTA_TUPLE_REPLY &&
			 mnl_attr_validate(a, MNL_TYPE_NESTED) >= 0)
			reply = a;
		else if (mnl_attr_get_type(a) == CTA_ZONE && mnl_attr_validate(a, MNL_TYPE_U16) >= 0)
			zone = a;
	}
	/* the reply tuple too: a control-port flow was sent to @ip by DNAT, so only its
	 * reply tuple names it */
	if (!orig || !(has_ip(orig, t) || (reply && has_ip(reply, t))))
		return MNL_CB_OK;
	if (t->n == t->nmax) {
		unsigned nmax = t->nmax ? t->nmax * 2 : 16;
		size_t *no = realloc(t->off, (nmax + 1) * sizeof(*no));
		if (!no) {
			t->oom = true;
			return MNL_CB_ERROR;
		}
		t->off = no;
		t->nmax = nmax;
	}
	t->off[t->n] = t->len;
	if (put_bytes(t, orig, NLA_ALIGN(orig->nla_len)) ||
	    (zone && put_bytes(t, zone, NLA_ALIGN(zone->nla_len)))) {
		t->oom = true;
		return MNL_CB_ERROR;
	}
	t->off[++t->n] = t->len;
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_header(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_INET;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return nlh;
}

/* Sends @nlh and runs @cb over the replies until the ack or the end of the dump. */
static int talk(struct nf_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* Dump replies come in datagrams as large as the biggest read this socket has done
	 * (nft_commit reads 16 KiB): read them whole. */
	char *buf = malloc(DUMP_BUFSIZE);
	if (!buf)
		return -ENOMEM;
	uint32_t seq = nlh->nlmsg_seq;
	int ret;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, buf, DUMP_BUFSIZE);
		if (n < 0) {
			ret = -errno;
			break;
		}
		int rc = mnl_cb_run(buf, n, seq, s->portid, cb, arg);
		if (rc == MNL_CB_STOP) {
			ret = 0;
			break;
		}
		if (rc < 0) {
			ret = -errno;
			break;
		}
	}
	free(buf);
	return ret;
}

/* One dump of the namespace's table (the kernel walks the whole hash either way; a
 * filtered dump per direction walked it twice), matched here. */
static int dump_flows(struct nf_sock *s, struct tuples *t)
{
	char buf[512];
	struct nlmsghdr *nlh = ct_header(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, ++s->seq);
	int ret = talk(s, nlh, collect, t);
	return t->oom ? -ENOMEM : ret;
}

int conntrack_flush_addrs(struct nf_sock *s, const uint32_t *ips, unsigned n, unsigned *removed,
			  struct vpcnet_error *err)
{
	uint32_t *be = n ? calloc(n, sizeof(*be)) : NULL;
	struct tuples t = { .ips = be, .nips = n };
	unsigned gone = 0;
	char ipbuf[16];
	int ret = 0;
	if (n && !be)
		return verr(err, VPCNET_FAILED, ENOMEM, "conntrack");
	for (unsigned i = 0; i < n; i++)
		be[i] = htonl(ips[i]);
	qsort(be, n, sizeof(*be), cmp_u32);
	/* one address names itself in a message; several, the first */
	inet_ntop(AF_INET, n ? &be[0] : &(uint32_t){ 0 }, ipbuf, sizeof(ipbuf));
	const char *more = n > 1 ? " and others" : "";
	if (n && (ret = dump_flows(s, &t))) {
		ret = verr(err, VPCNET_FAILED, -ret, "conntrack: list flows of %s%s", ipbuf, more);
		goto out;
	}
	for (unsigned i = 0; i < t.n; i++) {
		char buf[1024];
		size_t len = t.off[i + 1] - t.off[i];
		if (len > sizeof(buf) - 64)
			continue;
		struct nlmsghdr *nlh = ct_header(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++s->seq);
		memcpy((char *)nlh + nlh->nlmsg_len, t.buf + t.off[i], len);
		nlh->nlmsg_len += len;
		int rc = talk(s, nlh, NULL, NULL);
		if (rc == -ENOENT)  /* expired meanwhile */
			continue;
		if (rc) {
			ret = verr(err, VPCNET_FAILED, -rc, "conntrack: delete a flow of %s%s", ipbuf,
				   more);
			goto out;
		}
		gone++;
	}
	if (removed)
		*removed = gone;
out:
	free(be);
	free(t.buf);
	free(t.off);
	return ret;
}

int conntrack_flush_addr(struct nf_sock *s, uint32_t ip, unsigned *removed,
			 struct vpcnet_error *err)
{
	return conntrack_flush_addrs(s, &ip, 1, removed, err);
}
