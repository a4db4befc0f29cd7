/* SPDX-License-Identifier: MIT */
/* Errors: one type (struct vpcnet_error) carries a status class, an errno and a message up
 * the stack; each layer may prefix its context.  Helpers return the negative errno so that
 * a failure is one line: `return verr(err, VPCNET_FAILED, errno, "veth %s", name);` */
#ifndef VPCNET_ERROR_H
#define VPCNET_ERROR_H

#include <stdarg.h>
#include "vpcnet.h"

/* Sets @err; when @errnum is non-zero its strerror is appended ("...: File exists").
 * Returns -@errnum, or -EINVAL when @errnum is 0. */
int verr(struct vpcnet_error *err, enum vpcnet_status status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Like verr() but appends no strerror, for input errors whose message says it all. */
int vinput(struct vpcnet_error *err, enum vpcnet_status status, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prefixes context: "ctx: previous message".  Returns -err->errnum. */
int verr_wrap(struct vpcnet_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The status class an errno from the kernel or the system most likely means. */
enum vpcnet_status vstatus_of(int errnum);

#define cleanup(fn) __attribute__((cleanup(fn)))

#endif
