/* SPDX-License-Identifier: MIT */
/* A sweep, one dimension at a time: cut dimension d at every box edge, and for each
 * elementary segment cover the boxes that span it in the remaining dimensions; equal covers
 * of adjacent segments are merged back into one.  The last dimension is a plain interval
 * union. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "secgroups/boxes.h"

struct vec {
	struct box *v;
	size_t n, cap;
};

static int push(struct vec *o, const struct box *b)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct box *nv = realloc(o->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		o->v = nv;
		o->cap = cap;
	}
	o->v[o->n++] = *b;
	return 0;
}


static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct ival {
	uint32_t lo, hi;
};

static int cmp_ival(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Union of the intervals of dimension @d of @in, appended to @o with @proto's other dims. */
static int last_dim(const struct box *const *in, size_t n, unsigned d, const struct box *proto,
		    struct vec *o)
{
	struct ival *iv = malloc(n * sizeof(*iv));
	if (!iv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		iv[i] = (struct ival){ in[i]->lo[d], in[i]->hi[d] };
	qsort(iv, n, sizeof(*iv), cmp_ival);
	int ret = 0;
	struct box b = *proto;
	for (size_t i = 0; i < n && !ret;) {
		uint32_t lo = iv[i].lo, hi = iv[i].hi;
		for (i++; i < n && (uint64_t)iv[i].lo <= (uint64_t)hi + 1; i++)
			if (iv[i].hi > hi)
				hi = iv[i].hi;
		b.lo[d] = lo;
		b.hi[d] = hi;
		ret = push(o, &b);
	}
	free(iv);
	return ret;
}

struct start {
	uint32_t lo;
	const struct box *b;
};

static int cmp_start(const void *a, const void *b)
{
	const struct start *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Do o->v[a..a+n) and o->v[b..b+n) agree in every dimension after @d? */
static int same_tail(const struct vec *o, size_t a, size_t b, size_t n, unsigned d,
		     unsigned dims)
{
	for (size_t i = 0; i < n; i++)
		for (unsigned k = d + 1; k < dims; k++)
			if (o->v[a + i].lo[k] != o->v[b + i].lo[k] ||
			    o->v[a + i].hi[k] != o->v[b + i].hi[k])
				return 0;
	return 1;
}

static int sweep(const struct box *const *in, size_t n, unsigned d, unsigned dims,
		 struct box *proto, struct vec *o)
{
	if (d == dims - 1)
		return last_dim(in, n, d, proto, o);
	uint64_t *cuts = malloc(2 * n * sizeof(*cuts));
	struct start *starts = malloc(n * sizeof(*starts));
	const struct box **act = malloc(n * sizeof(*act));
	int ret = 0;
	if (!cuts || !starts || !act) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cuts[2 * i] = in[i]->lo[d];
		cuts[2 * i + 1] = (uint64_t)in[i]->hi[d] + 1;
		starts[i] = (struct start){ in[i]->lo[d], in[i] };
	}
	qsort(cuts, 2 * n, sizeof(*cuts), cmp_u64);
	qsort(starts, n, sizeof(*starts), cmp_start);
	/* The boxes spanning each segment are kept as the sweep goes (enter at their low
	 * edge, leave past their high one): work in proportion to what the segments hold,
	 * not segments times boxes. */
	size_t nact = 0, next = 0, prev_at = 0, prev_n = 0;
	uint64_t prev_hi = 0;
	bool have_prev = false;
	for (size_t c = 0; c + 1 < 2 * n; c++) {
		if (cuts[c] == cuts[c + 1])
			continue;
		uint32_t lo = cuts[c], hi = cuts[c + 1] - 1;
		size_t m = 0;
		for (size_t i = 0; i < nact; i++)
			if (act[i]->hi[d] >= lo)
				act[m++] = act[i];
		for (; next < n && starts[next].lo <= lo; next++)
			act[m++] = starts[next].b;
		nact = m;
		if (m == 0) {
			have_prev = false;
			continue;
		}
		proto->lo[d] = lo;
		proto->hi[d] = hi;
		size_t at = o->n;
		if ((ret = sweep(act, m, d + 1, dims, proto, o)))
			goto out;
		size_t got = o->n - at;
		if (have_prev && prev_hi + 1 == lo && prev_n == got &&
		    same_tail(o, prev_at, at, got, d, dims)) {
			for (size_t i = 0; i < got; i++)
				o->v[prev_at + i].hi[d] = hi;
			o->n = at;  /* merged into the previous segment's boxes */
		} else {
			prev_at = at;
			prev_n = got;
		}
		prev_hi = hi;
		have_prev = true;
	}
out:
	free(cuts);
	free(starts);
	free(act);
	return ret;
}

int boxes_union(const struct box *in, size_t n, unsigned dims, struct box **out, size_t *nout)
{
	struct vec o = { 0 };
	*out = NULL;
	*nout = 0;
	if (n == 0 || dims == 0 || dims > BOX_DIMS_MAX)
		return 0;
	const struct box **p = malloc(n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p[i] = &in[i];
	struct box proto = { 0 };
	int ret = sweep(p, n, 0, dims, &proto, &o);
	free(p);
	if (ret) {
		free(o.v);
		return ret;
	}
	*out = o.v;
	*nout = o.n;
	return 0;
}

/* Unused dimensions are zero, so all boxes compare over every dimension. */
static int box_cmp(const void *pa, const void *pb)
{
	const struct box *a = pa, *b = pb;
	for (unsigned k = 0; k < BOX_DIMS_MAX; k++) {
		if (a->lo[k] != b->lo[k])
			return a->lo[k] < b->lo[k] ? -1 : 1;
		if (a->hi[k] != b->hi[k])
			return a->hi[k] < b->hi[k] ? -1 : 1;
	}
	return 0;
}

int boxes_minus(const struct box *a, size_t na, const struct box *b, size_t nb, unsigned dims,
		struct box **out, size_t *nout)
{
	(void)dims;
	struct vec o = { 0 };
	struct box *sa = malloc((na + 1) * sizeof(*sa)), *sb = malloc((nb + 1) * sizeof(*sb));
	int ret = 0;
	if (!sa || !sb) {
		ret = -ENOMEM;
		goto out;
	}
	if (na)
		memcpy(sa, a, na * sizeof(*sa));
	if (nb)
		memcpy(sb, b, nb * sizeof(*sb));
	qsort(sa, na, sizeof(*sa), box_cmp);
	qsort(sb, nb, sizeof(*sb), box_cmp);
	for (size_t i = 0, j = 0; i < na && !ret; i++) {
		while (j < nb && box_cmp(&sb[j], &sa[i]) < 0)
			j++;
		if (j < nb && !box_cmp(&sb[j], &sa[i]))
			continue;
		ret = push(&o, &sa[i]);
	}
out:
	free(sa);
	free(sb);
	if (ret) {
		free(o.v);
		return ret;
	}
	*out = o.v;
	*nout = o.n;
	return 0;
}
