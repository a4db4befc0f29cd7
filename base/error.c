/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

static int vset(struct vpcnet_error *err, enum vpcnet_status status, int errnum, bool with_errno,
		const char *fmt, va_list ap)
{
	if (errnum < 0)
		errnum = -errnum;
	if (!err)
		return errnum ? -errnum : -EINVAL;
	err->status = status;
	err->errnum = errnum ? errnum : EINVAL;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (with_errno && errnum && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	return -err->errnum;
}

int verr(struct vpcnet_error *err, enum vpcnet_status status, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = vset(err, status, errnum, true, fmt, ap);
	va_end(ap);
	return ret;
}

int vinput(struct vpcnet_error *err, enum vpcnet_status status, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = vset(err, status, errnum, false, fmt, ap);
	va_end(ap);
	return ret;
}

int verr_wrap(struct vpcnet_error *err, const char *fmt, ...)
{
	if (!err)
		return -EINVAL;
	char prefix[VPCNET_ERRMSG_MAX], old[VPCNET_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -(err->errnum ? err->errnum : EINVAL);
}

enum vpcnet_status vstatus_of(int errnum)
{
	switch (errnum < 0 ? -errnum : errnum) {
	case EEXIST:
	case EADDRINUSE:
	case ENOTEMPTY:
		return VPCNET_EXISTS;
	default:
		return VPCNET_FAILED;
	}
}
