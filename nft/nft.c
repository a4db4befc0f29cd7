/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "nft/nft.h"

/* Room reserved before serialising one message: an element list's 64 KiB, one element
 * beyond it (a few hundred bytes at most) and the headers. */
#define MSG_RESERVE (80 << 10)
#define MAX_RESTARTS 64         /* generation races before giving up */
#define RCVBUF (4 << 20)
#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30  /* Linux 6.3: delete, and succeed when already gone */
#endif

/* --- socket ------------------------------------------------------------------------------ */

int nf_open(struct nf_sock *s, struct vpcnet_error *err)
{
	memset(s, 0, sizeof(*s));
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->nl)
		return verr(err, VPCNET_FAILED, errno, "nfnetlink socket");
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		nf_close(s);
		return verr(err, VPCNET_FAILED, e, "nfnetlink bind");
	}
	int one = 1, rcvbuf = RCVBUF;
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL) << 8;
	s->rand_seed = s->portid ^ (unsigned)time(NULL);
#ifdef VPCNET_FAILPOINTS
	const char *fp = getenv("VPCNET_FAILPOINT");
	s->no_destroy = fp && !strcmp(fp, "nft:no-destroy");  /* tests: the pre-6.3 path */
#endif
	return 0;
}

void nf_close(struct nf_sock *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	s->nl = NULL;
}

/* --- batch ------------------------------------------------------------------------------- */

struct nft_msg {
	size_t off, len;
	char what[56];
	bool dropped;
};

struct nft_batch {
	char *buf;
	size_t len, cap;
	struct nft_msg *msgs;
	unsigned n, nmax;
	bool oom;
};

struct nft_batch *nftb_new(void)
{
	return calloc(1, sizeof(struct nft_batch));
}

void nftb_free(struct nft_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->msgs);
	free(b);
}

unsigned nftb_count(const struct nft_batch *b) { return b->n; }

const struct nlmsghdr *nftb_msg(const struct nft_batch *b, unsigned i)
{
	return i < b->n ? (const struct nlmsghdr *)(b->buf + b->msgs[i].off) : NULL;
}
bool nftb_ok(const struct nft_batch *b) { return !b->oom; }

/* Reserves room for one more message and returns where to build it, or NULL. */
static struct nlmsghdr *nftb_reserve(struct nft_batch *b)
{
	if (b->oom)
		return NULL;
	if (b->cap - b->len < MSG_RESERVE) {
		size_t cap = b->cap ? b->cap * 2 : 4 * MSG_RESERVE;
		while (cap - b->len < MSG_RESERVE)
			cap *= 2;
		char *nb = realloc(b->buf, cap);
		if (!nb)
			goto oom;
		b->buf = nb;
		b->cap = cap;
	}
	if (b->n == b->nmax) {
		unsigned nmax = b->nmax ? b->nmax * 2 : 32;
		struct nft_msg *nm = realloc(b->msgs, nmax * sizeof(*nm));
		if (!nm)
			goto oom;
		b->msgs = nm;
		b->nmax = nmax;
	}
	return (struct nlmsghdr *)(b->buf + b->len);
oom:
	b->oom = true;
	return NULL;
}

static void nftb_commit_msg(struct nft_batch *b, struct nlmsghdr *nlh, const char *what,
			    const char *name)
{
	struct nft_msg *m = &b->msgs[b->n++];
	m->off = b->len;
	m->len = NLMSG_ALIGN(nlh->nlmsg_len);
	m->dropped = false;
	snprintf(m->what, sizeof(m->what), "%s %s", what, name ? name : "");
	b->len += m->len;
}

static uint16_t flags_of(uint16_t type, uint16_t flags)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_NEWRULE:
	case NFT_MSG_NEWSET:
	case NFT_MSG_NEWSETELEM:
		flags |= NLM_F_CREATE;
		break;
	}
	return flags | NLM_F_ACK;
}

void nftb_table(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_table *t)
{
	struct nlmsghdr *nlh = nftb_reserve(b);
	if (!nlh)
		return;
	nlh = nftnl_nlmsg_build_hdr((char *)nlh, type, nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY),
				    flags_of(type, flags), 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftb_commit_msg(b, nlh, "table", nftnl_table_get_str(t, NFTNL_TABLE_NAME));
}

void nftb_chain(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_chain *c)
{
	struct nlmsghdr *nlh = nftb_reserve(b);
	if (!nlh)
		return;
	nlh = nftnl_nlmsg_build_hdr((char *)nlh, type, nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY),
				    flags_of(type, flags), 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftb_commit_msg(b, nlh, "chain", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
}

void nftb_rule(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = nftb_reserve(b);
	if (!nlh)
		return;
	nlh = nftnl_nlmsg_build_hdr((char *)nlh, type, nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY),
				    flags_of(type, flags) | (type == NFT_MSG_NEWRULE ? NLM_F_APPEND : 0),
				    0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftb_commit_msg(b, nlh, type == NFT_MSG_DELRULE ? "flush chain" : "rule in chain",
			nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
}

void nftb_set(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_set *s)
{
	struct nlmsghdr *nlh = nftb_reserve(b);
	if (!nlh)
		return;
	nlh = nftnl_nlmsg_build_hdr((char *)nlh, type, nftnl_set_get_u32(s, NFTNL_SET_FAMILY),
				    flags_of(type, flags), 0);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftb_commit_msg(b, nlh, "set", nftnl_set_get_str(s, NFTNL_SET_NAME));
}

/* Elements go out in as many messages as they need: an element list is one netlink
 * attribute, whose length is 16 bits, so libnftnl's iterator stops a message before the
 * list would pass 64 KiB and the next message carries on.  Each message stays within the
 * MSG_RESERVE bytes reserved for it: the list (< 64 KiB) plus one element it took back. */
void nftb_elems(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_set *s)
{
	struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
	if (!it) {
		b->oom = true;
		return;
	}
	int more;
	do {
		struct nlmsghdr *nlh = nftb_reserve(b);
		if (!nlh)
			break;
		nlh = nftnl_nlmsg_build_hdr((char *)nlh, type, nftnl_set_get_u32(s, NFTNL_SET_FAMILY),
					    flags_of(type, flags), 0);
		more = nftnl_set_elems_nlmsg_build_payload_iter(nlh, it);
		nftb_commit_msg(b, nlh, type == NFT_MSG_NEWSETELEM ? "add to set" : "delete from set",
				nftnl_set_get_str(s, NFTNL_SET_NAME));
	} while (more > 0);
	nftnl_set_elems_iter_destroy(it);
}

void nftb_flush_set(struct nft_batch *b, uint32_t family, const char *table, const char *set)
{
	struct nlmsghdr *nlh = nftb_reserve(b);
	if (!nlh)
		return;
	/* no element list: the kernel removes every element */
	nlh = nftnl_nlmsg_build_hdr((char *)nlh, NFT_MSG_DELSETELEM, family,
				    flags_of(NFT_MSG_DELSETELEM, 0), 0);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	nftb_commit_msg(b, nlh, "flush set", set);
}

/* --- transaction ------------------------------------------------------------------------- */

/* Sends request @nlh (its seq set here) and hands each reply message to @fn until the
 * kernel's ack (plain requests ask for one) or the end of a dump (NLMSG_DONE; dumps are
 * asked without NLM_F_ACK).  Returns 0, or -errno (ENOENT included) with @err naming @what. */
static int nf_request(struct nf_sock *s, struct nlmsghdr *nlh,
		      int (*fn)(const struct nlmsghdr *, void *), void *arg, const char *what,
		      struct vpcnet_error *err)
{
	/* a dump's messages are as large as the kernel makes them (up to 32 KiB: a list of
	 * sets with their userdata): a smaller buffer truncates them (ENOSPC) */
	char buf[32768];
	uint32_t seq = nlh->nlmsg_seq = ++s->seq;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return verr(err, VPCNET_FAILED, errno, "%s", what);
	int ret = 0;
	bool intr = false;
	for (;;) {
		ssize_t got = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		if (got < 0)
			return verr(err, VPCNET_FAILED, errno, "%s", what);
		int n = got;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, n); nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			/* a dump that a commit cut across is not one picture: said (EINTR) */
			intr |= nlh->nlmsg_flags & NLM_F_DUMP_INTR;
			if (nlh->nlmsg_type == NLMSG_DONE)
				return !ret && intr ? verr(err, VPCNET_FAILED, EINTR, "%s: changed"
							   " while read", what) : ret;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				if (e->error)
					return verr(err, VPCNET_FAILED, -e->error, "%s", what);
				return ret;  /* the ack (dumps are asked without one: they end at DONE) */
			}
			if (!ret && (ret = fn(nlh, arg)))
				verr(err, VPCNET_FAILED, -ret, "%s", what);
		}
	}
}

static int genid_of(const struct nlmsghdr *nlh, void *arg)
{
	if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWGEN)
		return 0;
	struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_validate(a, MNL_TYPE_U32) >= 0) {
			*(uint64_t *)arg = ntohl(mnl_attr_get_u32(a));
			return 0;
		}
	}
	return 0;
}

static int get_genid(struct nf_sock *s, uint32_t *genid, struct vpcnet_error *err)
{
	char buf[256];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, 0);
	uint64_t got = UINT64_MAX;
	int ret = nf_request(s, nlh, genid_of, &got, "nftables generation", err);
	if (!ret && got == UINT64_MAX)
		ret = verr(err, VPCNET_FAILED, EPROTO, "nftables generation");
	*genid = (uint32_t)got;
	return ret;
}

static size_t put_marker(char *buf, uint16_t type, uint32_t seq, const uint32_t *genid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFNL_SUBSYS_NFTABLES);
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(*genid));
	return nlh->nlmsg_len;
}

/* Messages whose commit leaves the kernel objects to free after a grace period. */
static bool frees(unsigned type)
{
	switch (type) {
	case NFT_MSG_DELTABLE: case NFT_MSG_DELCHAIN: case NFT_MSG_DELRULE:
	case NFT_MSG_DELSET: case NFT_MSG_DELSETELEM: case NFT_MSG_DELOBJ:
	case NFT_MSG_DELFLOWTABLE: case NFT_MSG_DESTROYSETELEM:
		return true;
	default:
		return false;
	}
}

/* The extended ack's message, when the kernel sent one. */
static const char *extack_msg(const struct nlmsghdr *nlh)
{
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
			return mnl_attr_get_str(a);
	}
	return NULL;
}

struct outcome {
	unsigned acks;        /* acks (success or not) received for batch messages */
	int begin_err;        /* error on the begin marker (ERESTART: generation moved) */
	int first_err;        /* first error on a message */
	unsigned first_idx;
	char first_ext[128];
	unsigned gone;        /* messages that failed with ENOENT */
	unsigned failed;      /* messages that failed */
};

static void read_acks(struct nf_sock *s, struct nft_batch *b, const unsigned *idx_of_seq,
		      uint32_t base, uint32_t begin_seq, unsigned expected, struct outcome *o)
{
	char buf[16384];
	int flags = MSG_DONTWAIT;
	while (o->acks < expected && !o->begin_err) {
		ssize_t got_n = recv(mnl_socket_get_fd(s->nl), buf, sizeof(buf), flags);
		if (got_n < 0) {
			if (errno == EAGAIN && flags) {
				flags = 0;  /* all should be queued; wait (bounded by SO_RCVTIMEO) */
				continue;
			}
			if (!o->first_err)
				o->first_err = errno == EAGAIN ? ETIMEDOUT : errno;
			return;
		}
		int n = got_n;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, n);
		     nlh = mnl_nlmsg_next(nlh, &n)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_seq == begin_seq) {
				o->begin_err = -e->error;
				continue;
			}
			if (nlh->nlmsg_seq < base || nlh->nlmsg_seq >= base + expected)
				continue;
			unsigned i = idx_of_seq[nlh->nlmsg_seq - base];
			o->acks++;
			if (!e->error)
				continue;
			o->failed++;
			/* only a delete of what is gone may be dropped (gone_ok): an add that
			 * names what is gone (a chain, a set) is an error */
			const struct nlmsghdr *m = (const struct nlmsghdr *)(b->buf + b->msgs[i].off);
			if (e->error == -ENOENT && frees(m->nlmsg_type & 0xff)) {
				o->gone++;
				b->msgs[i].dropped = true;
			}
			if (!o->first_err || (o->first_err == ENOENT && e->error != -ENOENT)) {
				o->first_err = -e->error;
				o->first_idx = i;
				const char *ext = extack_msg(nlh);
				snprintf(o->first_ext, sizeof(o->first_ext), "%s", ext ? ext : "");
			}
		}
	}
}

/* A netlink message larger than the socket's send buffer is refused (EMSGSIZE), and a
 * batch is one message: grow the buffer to fit, as nft does (SO_SNDBUFFORCE needs
 * CAP_NET_ADMIN, which changing nftables needs anyway). */
static int fit_sndbuf(struct nf_sock *s, size_t len, struct vpcnet_error *err)
{
	int fd = mnl_socket_get_fd(s->nl), cur = 0;
	socklen_t sl = sizeof(cur);
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &sl) == 0 && (size_t)cur >= len + 4096)
		return 0;
	if (len > INT_MAX / 4)
		return verr(err, VPCNET_FAILED, EMSGSIZE, "nftables batch of %zu bytes", len);
	int want = (int)len + 4096;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) < 0)
		return verr(err, VPCNET_FAILED, errno, "nftables batch of %zu bytes: send buffer", len);
	return 0;
}


int nft_commit(struct nf_sock *s, struct nft_batch *b, bool gone_ok, struct vpcnet_error *err)
{
	if (b->oom)
		return verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
	if (b->n == 0)
		return 0;
	unsigned *idx = calloc(b->n, sizeof(*idx));
	struct iovec *iov = calloc(b->n + 2, sizeof(*iov));
	int ret = 0;
	if (!idx || !iov) {
		ret = verr(err, VPCNET_FAILED, ENOMEM, "nftables batch");
		goto out;
	}
	for (unsigned attempt = 0;; attempt++) {
		uint32_t genid = 0;
		if ((ret = get_genid(s, &genid, err)))
			goto out;
		char begin[128], end[64];
		uint32_t begin_seq = ++s->seq, base = s->seq + 1;
		unsigned k = 0, sent = 0;
		size_t bytes = 0;
		iov[k++] = (struct iovec){ begin, put_marker(begin, NFNL_MSG_BATCH_BEGIN, begin_seq, &genid) };
		for (unsigned i = 0; i < b->n; i++) {
			if (b->msgs[i].dropped)
				continue;
			struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf + b->msgs[i].off);
			nlh->nlmsg_seq = base + sent;
			/* Idempotent element deletes: where the kernel has "destroy", use it; the
			 * fallback below (drop what is gone, resend) aborts a transaction, which
			 * costs a grace period. */
			if (gone_ok && (nlh->nlmsg_type & 0xff) == NFT_MSG_DELSETELEM && !s->no_destroy)
				nlh->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_DESTROYSETELEM;
			if (frees(nlh->nlmsg_type & 0xff))
				s->freed = true;
			idx[sent++] = i;
			bytes += b->msgs[i].len;
			struct iovec *last = &iov[k - 1];
			if (k > 1 && (char *)last->iov_base + last->iov_len == (char *)nlh)
				last->iov_len += b->msgs[i].len;  /* adjacent: one iovec (IOV_MAX) */
			else
				iov[k++] = (struct iovec){ nlh, b->msgs[i].len };
		}
		s->seq = base + sent;
		iov[k++] = (struct iovec){ end, put_marker(end, NFNL_MSG_BATCH_END, s->seq, NULL) };
		if (sent == 0)
			goto out;  /* everything was already gone */

		if ((ret = fit_sndbuf(s, bytes + iov[0].iov_len + iov[k - 1].iov_len, err)))
			goto out;
		struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
		struct msghdr msg = { .msg_name = &snl, .msg_namelen = sizeof(snl),
				      .msg_iov = iov, .msg_iovlen = k };
		if (sendmsg(mnl_socket_get_fd(s->nl), &msg, 0) < 0) {
			ret = verr(err, VPCNET_FAILED, errno, "nftables batch");
			goto out;
		}
		struct outcome o = { 0 };
		read_acks(s, b, idx, base, begin_seq, sent, &o);
		if (o.begin_err == ERESTART && attempt < MAX_RESTARTS) {
			usleep(100 + (rand_r(&s->rand_seed) % 500));  /* another writer won: retry */
			continue;
		}
		if (o.begin_err) {
			ret = verr(err, VPCNET_FAILED, o.begin_err, "nftables batch");
			goto out;
		}
		if (!o.first_err)
			goto out;
		struct nlmsghdr *bad = (struct nlmsghdr *)(b->buf + b->msgs[o.first_idx].off);
		if ((bad->nlmsg_type & 0xff) == NFT_MSG_DESTROYSETELEM && !s->no_destroy &&
		    (o.first_err == EOPNOTSUPP || o.first_err == EINVAL) && attempt < MAX_RESTARTS) {
			s->no_destroy = true;  /* a kernel before 6.3 */
			for (unsigned i = 0; i < b->n; i++) {
				struct nlmsghdr *m = (struct nlmsghdr *)(b->buf + b->msgs[i].off);
				if ((m->nlmsg_type & 0xff) == NFT_MSG_DESTROYSETELEM)
					m->nlmsg_type = NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_DELSETELEM;
			}
			continue;
		}
		if (gone_ok && o.failed > 0 && o.failed == o.gone && attempt < MAX_RESTARTS)
			continue;  /* resend without what is already gone */
		if (o.first_ext[0])
			ret = verr(err, vstatus_of(o.first_err), o.first_err, "nftables: %s (%s)",
				   b->msgs[o.first_idx].what, o.first_ext);
		else
			ret = verr(err, vstatus_of(o.first_err), o.first_err, "nftables: %s",
				   b->msgs[o.first_idx].what);
		goto out;
	}
out:
	free(idx);
	free(iov);
	return ret;
}

/* --- builders ---------------------------------------------------------------------------- */

struct nftnl_table *nft_table_new(uint32_t family, const char *name)
{
	struct nftnl_table *t = nftnl_table_alloc();
	if (!t)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	return t;
}

struct nftnl_chain *nft_chain_new(uint32_t family, const char *table, const char *name)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	if (!c)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	return c;
}

struct nftnl_chain *nft_base_chain_new(uint32_t family, const char *table, const char *name,
				       const char *type, uint32_t hook, int32_t prio,
				       uint32_t policy)
{
	struct nftnl_chain *c = nft_chain_new(family, table, name);
	if (!c)
		return NULL;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
	return c;
}

struct nftnl_set *nft_set_new(uint32_t family, const char *table, const char *name,
			      uint32_t key_type, uint32_t key_len, uint32_t flags, uint32_t id)
{
	struct nftnl_set *s = nft_set_ref(family, table, name);
	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	if (id)
		nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	/* nft prints single-type keys by the byte order it finds in the userdata. */
	uint32_t order = key_type == NFT_TYPE_IFNAME || key_type == NFT_TYPE_DEVGROUP
				 ? NFT_BYTEORDER_HOST
			 : key_type == NFT_TYPE_IPADDR ? NFT_BYTEORDER_BIG : 0;
	struct nftnl_udata_buf *ud = order ? nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN) : NULL;
	if (ud) {
		nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, order);
		nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return s;
}

/* A new element with @key, added to @s; NULL when out of memory. */
static struct nftnl_set_elem *elem_add(struct nftnl_set *s, const void *key, uint32_t len)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
	nftnl_set_elem_add(s, e);
	return e;
}

void nft_set_add_key(struct nftnl_set *s, const void *key, uint32_t len)
{
	elem_add(s, key, len);
}

struct nftnl_rule *nft_rule_new(uint32_t family, const char *table, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	return r;
}

static struct nftnl_expr *x_new(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

void x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = x_new(r, "meta");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

void x_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = x_new(r, "payload");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

void x_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = x_new(r, "cmp");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

void x_cmp_u8(struct nftnl_rule *r, uint32_t sreg, uint32_t op, uint8_t v)
{
	x_cmp(r, sreg, op, &v, 1);
}

void x_cmp_u32(struct nftnl_rule *r, uint32_t sreg, uint32_t op, uint32_t v)
{
	x_cmp(r, sreg, op, &v, 4);
}

void x_cmp_ifname(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const char *name)
{
	char buf[NFT_IFNAME_LEN] = { 0 };
	strncpy(buf, name, sizeof(buf) - 1);
	x_cmp(r, sreg, op, buf, sizeof(buf));
}

void x_bitwise(struct nftnl_rule *r, uint32_t reg, const void *mask, uint32_t len)
{
	struct nftnl_expr *e = x_new(r, "bitwise");
	if (!e)
		return;
	uint8_t zero[16] = { 0 };
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static struct nftnl_expr *lookup_new(struct nftnl_rule *r, uint32_t sreg, const char *set)
{
	struct nftnl_expr *e = x_new(r, "lookup");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	}
	return e;
}

void x_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t set_id, bool invert)
{
	struct nftnl_expr *e = lookup_new(r, sreg, set);
	if (!e)
		return;
	if (set_id)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	if (invert)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

void x_counter(struct nftnl_rule *r)
{
	x_new(r, "counter");
}

void x_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = x_new(r, "immediate");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

void x_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = x_new(r, "reject");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
}

void x_masq(struct nftnl_rule *r)
{
	x_new(r, "masq");
}

void m_ct_state(struct nftnl_rule *r, uint32_t states)
{
	struct nftnl_expr *e = x_new(r, "ct");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	x_bitwise(r, NFT_REG_1, &states, sizeof(states));
	x_cmp_u32(r, NFT_REG_1, NFT_CMP_NEQ, 0);
}

void m_ct_status(struct nftnl_rule *r, uint32_t bits)
{
	struct nftnl_expr *e = x_new(r, "ct");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATUS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	x_bitwise(r, NFT_REG_1, &bits, sizeof(bits));
	x_cmp_u32(r, NFT_REG_1, NFT_CMP_NEQ, 0);
}

void m_nfproto(struct nftnl_rule *r, uint32_t op, uint8_t proto)
{
	x_meta(r, NFT_META_NFPROTO, NFT_REG_1);
	x_cmp_u8(r, NFT_REG_1, op, proto);
}

void m_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	x_cmp_u8(r, NFT_REG_1, NFT_CMP_EQ, proto);
}

/* ip saddr (@offset 12) or daddr (16) in @addr/@prefix */
static void m_ip_addr(struct nftnl_rule *r, uint32_t offset, uint32_t addr, unsigned prefix)
{
	m_nfproto(r, NFT_CMP_EQ, NFPROTO_IPV4);
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, 4, NFT_REG_1);
	uint32_t mask = htonl(prefix ? ~0u << (32 - prefix) : 0), be = htonl(addr);
	if (prefix < 32)
		x_bitwise(r, NFT_REG_1, &mask, 4);
	x_cmp(r, NFT_REG_1, NFT_CMP_EQ, &be, 4);
}

void m_ip_daddr(struct nftnl_rule *r, uint32_t addr, unsigned prefix)
{
	m_ip_addr(r, 16, addr, prefix);
}

void m_ip_saddr(struct nftnl_rule *r, uint32_t addr, unsigned prefix)
{
	m_ip_addr(r, 12, addr, prefix);
}

void m_iifname_in(struct nftnl_rule *r, const char *set)
{
	x_meta(r, NFT_META_IIFNAME, NFT_REG_1);
	x_lookup(r, NFT_REG_1, set, 0, false);
}

void nft_set_concat_interval(struct nftnl_set *s, const uint8_t *field_len, unsigned nfields)
{
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
	nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, field_len, nfields);
}

void nft_set_verdict_map(struct nftnl_set *s)
{
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
}

void nft_set_add_range(struct nftnl_set *s, const void *key, const void *key_end, uint32_t len)
{
	struct nftnl_set_elem *e = elem_add(s, key, len);
	if (e)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, key_end, len);
}

void nft_set_add_jump(struct nftnl_set *s, const void *key, uint32_t len, const char *chain)
{
	struct nftnl_set_elem *e = elem_add(s, key, len);
	if (e) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
	}
}

struct nftnl_set *nft_set_ref(uint32_t family, const char *table, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return NULL;
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, family);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	return s;
}

void x_byteorder_hton(struct nftnl_rule *r, uint32_t reg, uint32_t size, uint32_t len)
{
	struct nftnl_expr *e = x_new(r, "byteorder");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, size);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, len);
}

void x_vmap(struct nftnl_rule *r, uint32_t sreg, const char *set)
{
	struct nftnl_expr *e = lookup_new(r, sreg, set);
	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
}

void nft_set_data_map(struct nftnl_set *s, uint32_t data_type, uint32_t data_len)
{
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, nftnl_set_get_u32(s, NFTNL_SET_FLAGS) | NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, data_type);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, data_len);
}

void nft_set_add_mapping(struct nftnl_set *s, const void *key, uint32_t klen, const void *data,
			 uint32_t dlen)
{
	struct nftnl_set_elem *e = elem_add(s, key, klen);
	if (e)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data, dlen);
}

void x_map(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t dreg)
{
	struct nftnl_expr *e = lookup_new(r, sreg, set);
	if (e)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
}

void x_dnat4(struct nftnl_rule *r, uint32_t reg_addr, uint32_t reg_port)
{
	struct nftnl_expr *e = x_new(r, "nat");
	if (!e)
		return;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_port);
}

void nft_set_dynamic(struct nftnl_set *s, uint32_t size)
{
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, nftnl_set_get_u32(s, NFTNL_SET_FLAGS) | NFT_SET_EVAL);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
}

void x_dynset(struct nftnl_rule *r, uint32_t op, const char *set, uint32_t sreg_key,
	      struct nftnl_expr *inner)
{
	struct nftnl_expr *e = x_new(r, "dynset");
	if (!e) {
		nftnl_expr_free(inner);
		return;
	}
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, op);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg_key);
	if (inner)
		nftnl_expr_add_expr(e, NFTNL_EXPR_DYNSET_EXPRESSIONS, inner);
}

struct nftnl_expr *e_counter(void)
{
	return nftnl_expr_alloc("counter");
}

struct nftnl_expr *e_connlimit_over(uint32_t count)
{
	struct nftnl_expr *e = nftnl_expr_alloc("connlimit");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CONNLIMIT_COUNT, count);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CONNLIMIT_FLAGS, NFT_CONNLIMIT_F_INV);
	}
	return e;
}

/* --- reading one element ----------------------------------------------------------------- */

static int counter_of(struct nftnl_expr *e, void *data)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	if (name && !strcmp(name, "counter"))
		*(uint64_t *)data += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
	return 0;
}

static int elem_counter(struct nftnl_set_elem *el, void *data)
{
	return nftnl_set_elem_expr_foreach(el, counter_of, data);
}

struct elems_arg {
	int (*each)(struct nftnl_set_elem *, void *);
	void *arg;
};

/* One GETSETELEM reply: its elements to @each. */
static int elems_of(const struct nlmsghdr *nlh, void *arg)
{
	struct elems_arg *ea = arg;
	struct nftnl_set *r = nftnl_set_alloc();
	if (!r)
		return -ENOMEM;
	if (nftnl_set_elems_nlmsg_parse(nlh, r) >= 0)
		nftnl_set_elem_foreach(r, ea->each, ea->arg);
	nftnl_set_free(r);
	return 0;
}

/* Asks for element @key of @set and calls @each with it; none (-ENOENT) is no call. */
static int elem_query(struct nf_sock *s, uint32_t family, const char *table, const char *set,
		      const void *key, uint32_t len, int (*each)(struct nftnl_set_elem *, void *),
		      void *arg, struct vpcnet_error *err)
{
	char buf[1024], what[96];
	struct nftnl_set *q = nft_set_ref(family, table, set);
	if (!q)
		return verr(err, VPCNET_FAILED, ENOMEM, "set %s", set);
	nft_set_add_key(q, key, len);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_ACK, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, q);
	nftnl_set_free(q);
	snprintf(what, sizeof(what), "read set %s", set);
	struct elems_arg ea = { each, arg };
	int ret = nf_request(s, nlh, elems_of, &ea, what, err);
	return ret == -ENOENT ? 0 : ret;
}

int nft_elem_packets(struct nf_sock *s, uint32_t family, const char *table, const char *set,
		     const void *key, uint32_t len, uint64_t *packets, struct vpcnet_error *err)
{
	*packets = 0;  /* no element: it never counted anything */
	return elem_query(s, family, table, set, key, len, elem_counter, packets, err);
}

static int elem_seen(struct nftnl_set_elem *el, void *data)
{
	*(bool *)data = true;
	return 0;
}

int nft_elem_exists(struct nf_sock *s, uint32_t family, const char *table, const char *set,
		    const void *key, uint32_t len, bool *found, struct vpcnet_error *err)
{
	*found = false;
	return elem_query(s, family, table, set, key, len, elem_seen, found, err);
}

static int table_seen(const struct nlmsghdr *nlh, void *arg)
{
	*(bool *)arg = true;
	return 0;
}

int nft_table_exists(struct nf_sock *s, uint32_t family, const char *table, bool *found,
		     struct vpcnet_error *err)
{
	char buf[512], what[96];
	*found = false;
	struct nftnl_table *t = nft_table_new(family, table);
	if (!t)
		return verr(err, VPCNET_FAILED, ENOMEM, "table %s", table);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, NLM_F_ACK, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	snprintf(what, sizeof(what), "read table %s", table);
	int ret = nf_request(s, nlh, table_seen, found, what, err);
	return ret == -ENOENT ? 0 : ret;
}

struct rules_arg {
	int (*fn)(uint32_t family, const char *chain, void *arg);
	void *arg;
	int ret;
};

static int rule_seen(const struct nlmsghdr *nlh, void *data)
{
	struct rules_arg *ra = data;
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		return -ENOMEM;
	const char *chain;
	if (nftnl_rule_nlmsg_parse(nlh, r) >= 0 && !ra->ret &&
	    (chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)))
		ra->ret = ra->fn(nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), chain, ra->arg);
	nftnl_rule_free(r);
	return 0;
}

int nft_rules_each(struct nf_sock *s, uint32_t family, const char *table,
		   int (*fn)(uint32_t family, const char *chain, void *arg), void *arg,
		   struct vpcnet_error *err)
{
	char buf[512];
	struct nftnl_rule *q = nftnl_rule_alloc();
	if (!q)
		return verr(err, VPCNET_FAILED, ENOMEM, "list rules");
	nftnl_rule_set_str(q, NFTNL_RULE_TABLE, table);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, family, NLM_F_DUMP, 0);
	nftnl_rule_nlmsg_build_payload(nlh, q);
	nftnl_rule_free(q);
	struct rules_arg ra = { fn, arg, 0 };
	int ret = nf_request(s, nlh, rule_seen, &ra, "list rules", err);
	return ret ? ret : ra.ret;
}

struct names_arg {
	const char *table;
	int (*fn)(const char *name, void *arg);
	void *arg;
	int ret;
};

static int set_named(const struct nlmsghdr *nlh, void *data)
{
	struct names_arg *na = data;
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		return -ENOMEM;
	const char *table;
	if (nftnl_set_nlmsg_parse(nlh, s) >= 0 && !na->ret &&
	    (table = nftnl_set_get_str(s, NFTNL_SET_TABLE)) && !strcmp(table, na->table) &&
	    nftnl_set_get_str(s, NFTNL_SET_NAME))
		na->ret = na->fn(nftnl_set_get_str(s, NFTNL_SET_NAME), na->arg);
	nftnl_set_free(s);
	return 0;
}

int nft_set_names(struct nf_sock *s, uint32_t family, const char *table,
		  int (*fn)(const char *name, void *arg), void *arg, struct vpcnet_error *err)
{
	char buf[512];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, family, NLM_F_DUMP, 0);
	struct names_arg na = { table, fn, arg, 0 };
	int ret = nf_request(s, nlh, set_named, &na, "list sets", err);
	return ret ? ret : na.ret;
}

struct keys_arg {
	int (*fn)(const void *key, uint32_t len, void *arg);
	void *arg;
	int ret;
};

static int each_key(struct nftnl_set_elem *el, void *data)
{
	struct keys_arg *ka = data;
	uint32_t len = 0;
	const void *key = nftnl_set_elem_get(el, NFTNL_SET_ELEM_KEY, &len);
	if (key && !ka->ret)
		ka->ret = ka->fn(key, len, ka->arg);
	return 0;
}

int nft_set_keys(struct nf_sock *s, uint32_t family, const char *table, const char *set,
		 int (*fn)(const void *key, uint32_t len, void *arg), void *arg,
		 struct vpcnet_error *err)
{
	char buf[1024], what[96];
	struct nftnl_set *q = nft_set_ref(family, table, set);
	if (!q)
		return verr(err, VPCNET_FAILED, ENOMEM, "set %s", set);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_DUMP, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, q);
	nftnl_set_free(q);
	snprintf(what, sizeof(what), "list set %s", set);
	struct keys_arg ka = { fn, arg, 0 };
	struct elems_arg ea = { each_key, &ka };
	int ret = nf_request(s, nlh, elems_of, &ea, what, err);
	return ret ? ret : ka.ret;
}
