/* SPDX-License-Identifier: MIT */
/* What the fuzz targets share (fuzz/common.c).  Harness code, not library code: statics
 * and aborts are fine here. */
#ifndef VPCNET_FUZZ_H
#define VPCNET_FUZZ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vpcnet.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness's own check: says what broke and aborts (libFuzzer then saves the input). */
#define FUZZ_CHECK(cond, ...)                                                             \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "fuzz check failed: %s: ", #cond);                \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* The input cut at NUL bytes into at most @max fields (C strings), the last of which
 * keeps the rest whole (@rest, @rest_len: raw bytes, NULs and all).  Fields the input has
 * no NUL for are NULL.  fuzz_fields_free() releases it. */
#define FUZZ_FIELDS_MAX 64
struct fuzz_fields {
	char *buf;
	char *f[FUZZ_FIELDS_MAX];
	size_t n;
	const char *rest;
	size_t rest_len;
};
void fuzz_fields(struct fuzz_fields *in, const uint8_t *data, size_t size, size_t max);
void fuzz_fields_free(struct fuzz_fields *in);

/* stdout to /dev/null (the commands' results are not what is looked at). */
void fuzz_quiet(void);
/* Makes fd 0 (and stdin) read @len bytes of @data from the start. */
void fuzz_stdin(const void *data, size_t len);

/* vpcnet_open() as the targets that run commands see it (ld --wrap).  With
 * fuzz_open_must_fail set, every call must carry the harness's state dir and absent host
 * namespace, and must fail on the namespace: no command may get past it, so none can touch
 * the kernel (the argv, cni and oci targets).  fuzz_open_calls counts the calls. */
extern bool fuzz_open_must_fail;
extern const char *fuzz_state_dir, *fuzz_absent_netns;
extern unsigned long fuzz_open_calls;
/* Aborts unless fuzz_state_dir is still empty: no command made a store. */
void fuzz_check_state_dir(void);
/* A fresh directory under /tmp, removed at exit, and a namespace name that does not exist. */
const char *fuzz_tmpdir(const char *tag);
const char *fuzz_absent_netns_name(void);

/* Called with each JSON document the CLI prints (before it is printed), when set. */
extern void (*fuzz_json_hook)(json_t *j);

#endif
