/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/error.h"
#include "netns/tap.h"

int tap_create(const char *name, struct vpcnet_error *err)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return verr(err, VPCNET_FAILED, errno, "tap %s: open /dev/net/tun", name);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	/* IFF_TUN_EXCL: never attach to a device that someone else made */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL;
	int ret = 0;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno == EBUSY ? EEXIST : errno;
		ret = e == EEXIST ? vinput(err, VPCNET_EXISTS, e, "tap %s: already exists", name)
				  : verr(err, VPCNET_FAILED, e, "tap %s", name);
	} else if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		ret = verr(err, VPCNET_FAILED, errno, "tap %s: make persistent", name);
	}
	close(fd);  /* persistent: the device stays, for the VMM to open */
	return ret;
}
