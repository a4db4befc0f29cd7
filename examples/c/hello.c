/* SPDX-License-Identifier: MIT */
/* hello: libvpcnet from a program.  Creates a VPC with a NAT gateway and a sandbox in it,
 * connects from inside the sandbox to HOST:PORT (a child process enters the sandbox's
 * network namespace; the parent never leaves its own), prints what the far end said, and
 * deletes both again.
 *
 *   hello [-s STATE_DIR] [-n HOST_NETNS] [-u UPLINK] [-c CIDR] VPC SANDBOX IP:PORT
 *
 * STATE_DIR and HOST_NETNS default to $VPCNET_STATE_DIR and $VPCNET_HOST_NETNS, then to
 * vpcnet's defaults (/var/lib/vpcnet, the namespace hello runs in). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vpcnet.h>

/* In a child: enter @netns, connect to @ip:@port, print the answer.  Exit 0 on an answer. */
static void connect_from(const char *netns, const char *ip, unsigned port)
{
	int fd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		perror("enter the sandbox");
		_exit(1);
	}
	close(fd);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, ip, &sa.sin_addr);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		_exit(1);
	}
	char buf[256];
	struct pollfd p = { .fd = s, .events = POLLIN };
	ssize_t n = poll(&p, 1, 5000) == 1 ? read(s, buf, sizeof(buf) - 1) : -1;
	if (n < 0) {
		fprintf(stderr, "no answer from %s:%u\n", ip, port);
		_exit(1);
	}
	buf[n] = '\0';
	printf("connected to %s:%u from inside the sandbox; it said: %s\n", ip, port, buf);
	fflush(stdout);  /* _exit() does not */
	_exit(0);
}

int main(int argc, char **argv)
{
	struct vpcnet_config cfg = { .state_dir = getenv("VPCNET_STATE_DIR"),
				     .host_netns = getenv("VPCNET_HOST_NETNS") };
	const char *uplink = NULL, *cidr = "10.99.0.0/24";
	int o;
	while ((o = getopt(argc, argv, "s:n:u:c:")) != -1) {
		switch (o) {
		case 's': cfg.state_dir = optarg; break;
		case 'n': cfg.host_netns = optarg; break;
		case 'u': uplink = optarg; break;
		case 'c': cidr = optarg; break;
		default: goto usage;
		}
	}
	char ip[64];
	unsigned port;
	if (argc - optind != 3 || sscanf(argv[optind + 2], "%63[0-9.]:%u", ip, &port) != 2)
		goto usage;
	const char *vpc = argv[optind], *id = argv[optind + 1];

	struct vpcnet *vn;
	struct vpcnet_error err = { 0 };
	if (vpcnet_open(&vn, &cfg, &err)) {
		fprintf(stderr, "hello: %s\n", err.msg);
		return 1;
	}
	int rc = 1;
	struct vpcnet_vpc_spec vs = { .name = vpc, .cidr = cidr, .nat = true, .uplink = uplink };
	struct vpcnet_vpc v;
	if (vpcnet_vpc_create(vn, &vs, &v, &err)) {
		fprintf(stderr, "hello: %s\n", err.msg);
		goto out;
	}
	struct vpcnet_sandbox_spec ss = { .id = id, .vpc = vpc };
	struct vpcnet_sandbox sb;
	char addr[16];
	if (vpcnet_sandbox_create(vn, &ss, &sb, &err)) {
		fprintf(stderr, "hello: %s\n", err.msg);
		goto vpc;
	}
	printf("sandbox %s: %s/%u in VPC %s, namespace %s\n", sb.id,
	       vpcnet_addr_str(sb.addr, addr), sb.prefix, sb.vpc, sb.netns);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		connect_from(sb.netns, ip, port);
	int status;
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		rc = WEXITSTATUS(status);
	if (vpcnet_sandbox_delete(vn, id, &err)) {
		fprintf(stderr, "hello: %s\n", err.msg);
		rc = 1;
	}
vpc:
	if (vpcnet_vpc_delete(vn, vpc, false, &err)) {
		fprintf(stderr, "hello: %s\n", err.msg);
		rc = 1;
	}
	if (rc == 0)
		printf("deleted sandbox %s and VPC %s\n", id, vpc);
out:
	vpcnet_close(vn);
	return rc;
usage:
	fprintf(stderr, "usage: hello [-s STATE_DIR] [-n HOST_NETNS] [-u UPLINK] [-c CIDR]"
		" VPC SANDBOX IP:PORT\n");
	return 2;
}
