/* SPDX-License-Identifier: MIT */
/* nftables plumbing shared by the table builders: a batch of libnftnl objects sent as one
 * transaction (begin + generation id ... end), every message acked and any error mapped
 * back to the message that caused it; and small builders for rule expressions and sets.
 * Building is pure: no socket is touched until nft_commit(). */
#ifndef VPCNET_NFT_H
#define VPCNET_NFT_H

#include <stdbool.h>
#include <stdint.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include "vpcnet.h"

/* nft's datatype ids (nftables include/datatype.h), for set key types that `nft list`
 * can print; concatenations shift each earlier type left by 6 bits. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_ETHERADDR 9
#define NFT_TYPE_INET_PROTOCOL 12
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_DEVGROUP 35
#define NFT_TYPE_IFNAME 41
#define NFT_CONCAT2(a, b) (((a) << 6) | (b))
#define NFT_CONCAT3(a, b, c) (((((a) << 6) | (b)) << 6) | (c))
#define NFT_ETHER_LEN 8  /* 6 bytes, padded to a register's 4-byte unit in a concatenation */
#define NFT_IFNAME_LEN 16
/* nft's byte orders (nftables include/expression.h), as set userdata records them. */
#define NFT_BYTEORDER_HOST 1
#define NFT_BYTEORDER_BIG 2

struct mnl_socket;

struct nf_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	unsigned rand_seed;  /* back-off jitter, per socket (no global rand() state) */
	bool no_destroy;     /* the kernel has no NFT_MSG_DESTROYSETELEM (before 6.3) */
	bool freed;          /* a batch it sent deleted something: closing the socket waits
			        for the kernel to free it (an RCU grace period) */
};

int nf_open(struct nf_sock *s, struct vpcnet_error *err);
void nf_close(struct nf_sock *s);

struct nft_batch;

struct nft_batch *nftb_new(void);
void nftb_free(struct nft_batch *b);
/* Appends one message; the object is serialised at once (the caller still owns it).
 * @what names it in error messages ("set ports"). */
void nftb_table(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_table *t);
void nftb_chain(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_chain *c);
void nftb_rule(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_rule *r);
void nftb_set(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_set *s);
void nftb_elems(struct nft_batch *b, uint16_t type, uint16_t flags, struct nftnl_set *s);
/* Removes every element of set (or map) @set. */
void nftb_flush_set(struct nft_batch *b, uint32_t family, const char *table, const char *set);
/* Number of messages between begin and end (what the batch changes). */
unsigned nftb_count(const struct nft_batch *b);
/* Message @i as serialised (NULL past the end), for inspection. */
struct nlmsghdr;
const struct nlmsghdr *nftb_msg(const struct nft_batch *b, unsigned i);
/* False when building ran out of memory (nft_commit() then fails with ENOMEM). */
bool nftb_ok(const struct nft_batch *b);

/* Sends @b as one transaction tied to the current generation id, re-reading the id and
 * retrying when another writer committed first (ERESTART).  With @gone_ok, element deletes
 * succeed when the element is already gone: sent as NFT_MSG_DESTROYSETELEM where the
 * kernel has it (6.3), else messages that fail with ENOENT are dropped and the rest resent
 * (slower: the kernel aborts the transaction first), so deletes are idempotent on any
 * kernel. */
int nft_commit(struct nf_sock *s, struct nft_batch *b, bool gone_ok, struct vpcnet_error *err);

/* --- builders ------------------------------------------------------------------------- */
struct nftnl_table *nft_table_new(uint32_t family, const char *name);
struct nftnl_chain *nft_chain_new(uint32_t family, const char *table, const char *name);
/* A base chain: @type "filter" or "nat"; @policy NF_ACCEPT or NF_DROP. */
struct nftnl_chain *nft_base_chain_new(uint32_t family, const char *table, const char *name,
				       const char *type, uint32_t hook, int32_t prio,
				       uint32_t policy);
/* A set of @key_len bytes of type @key_type (NFT_TYPE_*), with the userdata nft prints by. */
struct nftnl_set *nft_set_new(uint32_t family, const char *table, const char *name,
			      uint32_t key_type, uint32_t key_len, uint32_t flags, uint32_t id);
/* An element holding @len bytes of @key (for element add/delete batches). */
void nft_set_add_key(struct nftnl_set *s, const void *key, uint32_t len);
/* A concatenation of intervals: @nfields fields of @field_len bytes each. */
void nft_set_concat_interval(struct nftnl_set *s, const uint8_t *field_len, unsigned nfields);
/* A verdict map (key -> verdict). */
void nft_set_verdict_map(struct nftnl_set *s);
/* An interval element [@key, @key_end]. */
void nft_set_add_range(struct nftnl_set *s, const void *key, const void *key_end, uint32_t len);
/* A verdict-map element: @key -> jump @chain. */
void nft_set_add_jump(struct nftnl_set *s, const void *key, uint32_t len, const char *chain);
/* A data map (key -> @data_len bytes of nft type @data_type), e.g. a DNAT target. */
void nft_set_data_map(struct nftnl_set *s, uint32_t data_type, uint32_t data_len);
/* A data-map element: @key -> @data. */
void nft_set_add_mapping(struct nftnl_set *s, const void *key, uint32_t klen, const void *data,
			 uint32_t dlen);
/* A set that rules add elements to (flags dynamic), of at most @size elements. */
void nft_set_dynamic(struct nftnl_set *s, uint32_t size);
/* An empty set object naming an existing set, for element batches. */
struct nftnl_set *nft_set_ref(uint32_t family, const char *table, const char *name);
struct nftnl_rule *nft_rule_new(uint32_t family, const char *table, const char *chain);

/* Expression builders; each appends to @r.  Registers are NFT_REG_* / NFT_REG32_*. */
void x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
void x_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
	       uint32_t dreg);
void x_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len);
void x_cmp_u8(struct nftnl_rule *r, uint32_t sreg, uint32_t op, uint8_t v);
void x_cmp_u32(struct nftnl_rule *r, uint32_t sreg, uint32_t op, uint32_t v);
void x_cmp_ifname(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const char *name);
void x_bitwise(struct nftnl_rule *r, uint32_t reg, const void *mask, uint32_t len);
void x_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t set_id, bool invert);
void x_counter(struct nftnl_rule *r);
void x_verdict(struct nftnl_rule *r, int verdict, const char *chain);
void x_reject(struct nftnl_rule *r, uint32_t type, uint8_t code);
void x_masq(struct nftnl_rule *r);
void x_byteorder_hton(struct nftnl_rule *r, uint32_t reg, uint32_t size, uint32_t len);
/* A lookup whose result is a verdict (a verdict map). */
void x_vmap(struct nftnl_rule *r, uint32_t sreg, const char *set);

/* A lookup in data map @set whose result lands in @dreg (and the registers after it). */
void x_map(struct nftnl_rule *r, uint32_t sreg, const char *set, uint32_t dreg);
/* dnat ip to the address in @reg_addr and the port in @reg_port. */
void x_dnat4(struct nftnl_rule *r, uint32_t reg_addr, uint32_t reg_port);

/* A dynset (@op NFT_DYNSET_OP_ADD / _UPDATE) of the key in @sreg_key into @set, with a
 * stateful expression per element (@inner: e_counter(), e_connlimit_over(); owned). */
void x_dynset(struct nftnl_rule *r, uint32_t op, const char *set, uint32_t sreg_key,
	      struct nftnl_expr *inner);
struct nftnl_expr *e_counter(void);
struct nftnl_expr *e_connlimit_over(uint32_t count);  /* ct count over @count */

/* Reads the packet counter(s) of the element @key of @set (0 when it has none). */
int nft_elem_packets(struct nf_sock *s, uint32_t family, const char *table, const char *set,
		     const void *key, uint32_t len, uint64_t *packets, struct vpcnet_error *err);

/* Whether @set holds the element @key (a get of that one element, not a dump). */
int nft_elem_exists(struct nf_sock *s, uint32_t family, const char *table, const char *set,
		    const void *key, uint32_t len, bool *found, struct vpcnet_error *err);

/* Whether table @table of @family exists. */
int nft_table_exists(struct nf_sock *s, uint32_t family, const char *table, bool *found,
		     struct vpcnet_error *err);

/* Calls @fn with the family and chain of every rule of table @table (a dump; a table that is
 * gone has none); stops at @fn's first non-zero. */
int nft_rules_each(struct nf_sock *s, uint32_t family, const char *table,
		   int (*fn)(uint32_t family, const char *chain, void *arg), void *arg,
		   struct vpcnet_error *err);

/* Calls @fn with the name of every set (and map) of table @table (a dump); stops at @fn's
 * first non-zero. */
int nft_set_names(struct nf_sock *s, uint32_t family, const char *table,
		  int (*fn)(const char *name, void *arg), void *arg, struct vpcnet_error *err);

/* Calls @fn with the key of every element of @set (a dump); stops at @fn's first non-zero. */
int nft_set_keys(struct nf_sock *s, uint32_t family, const char *table, const char *set,
		 int (*fn)(const void *key, uint32_t len, void *arg), void *arg,
		 struct vpcnet_error *err);

/* Composite matches, as nft writes them. */
void m_ct_state(struct nftnl_rule *r, uint32_t states);    /* ct state & states != 0 */
void m_ct_status(struct nftnl_rule *r, uint32_t bits);     /* ct status & bits != 0 */
void m_nfproto(struct nftnl_rule *r, uint32_t op, uint8_t proto);
void m_l4proto(struct nftnl_rule *r, uint8_t proto);
void m_ip_daddr(struct nftnl_rule *r, uint32_t addr, unsigned prefix); /* host order */
void m_ip_saddr(struct nftnl_rule *r, uint32_t addr, unsigned prefix); /* host order */
void m_iifname_in(struct nftnl_rule *r, const char *set);

#endif
