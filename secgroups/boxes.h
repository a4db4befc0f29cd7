/* SPDX-License-Identifier: MIT */
/* The union of boxes (products of closed intervals) as disjoint boxes.  The kernel refuses
 * overlapping elements in an interval set, and a group's rules overlap as they please, so
 * each group's rules become the disjoint cover of their union before they reach nftables.
 * Deterministic: the same union always gives the same boxes, so a rule change becomes the
 * difference of two covers — a few elements. */
#ifndef VPCNET_SG_BOXES_H
#define VPCNET_SG_BOXES_H

#include <stddef.h>
#include <stdint.h>

#define BOX_DIMS_MAX 3

struct box {
	uint32_t lo[BOX_DIMS_MAX], hi[BOX_DIMS_MAX];
};

/* Writes the disjoint cover of the union of @in[0..n) (@dims dimensions) to a malloc'd
 * array *@out of *@nout boxes, sorted.  Returns 0 or -ENOMEM. */
int boxes_union(const struct box *in, size_t n, unsigned dims, struct box **out, size_t *nout);

/* Boxes in @a missing from @b (both sorted as boxes_union() leaves them), to *@out. */
int boxes_minus(const struct box *a, size_t na, const struct box *b, size_t nb, unsigned dims,
		struct box **out, size_t *nout);

#endif
