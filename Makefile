# vpcnet — build, test, demo, bench, install.  `make V=1` shows the commands.

PREFIX  ?= /usr/local
DESTDIR ?=
CNIDIR  ?= /opt/cni/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
CC      ?= cc
PKGS    := libnl-3.0 libnl-route-3.0 libmnl libnftnl sqlite3 jansson

# Debian packages the build, the tests and the demo need (installed by `make deps`).
DEB_BUILD := build-essential pkg-config libnl-3-dev libnl-route-3-dev libmnl-dev \
             libnftnl-dev libsqlite3-dev libjansson-dev libcriterion-dev
DEB_RUN   := iproute2 nftables conntrack curl busybox-static runc podman \
             containernetworking-plugins procps
# ... and what the benchmarks compare with and measure by (installed by `make bench`).
DEB_BENCH := containernetworking-plugins iptables iperf3 jq time util-linux

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter -Wno-format-truncation
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIC
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(HARDEN) -Iinclude -I. $(PKG_CFLAGS) \
              -fvisibility=hidden -MMD -MP
LDFLAGS  += -Wl,-z,relro,-z,now
LIBS     := $(PKG_LIBS) -lpthread
# The vpcnet binary links the libraries Debian ships as archives statically: it starts on
# every sandbox create, and resolving ~2,000 symbols of five shared libraries at start-up
# (-z now) cost ~0.3 ms of a ~4 ms create.  libmnl has no archive in Debian.
STATIC_LIBS := -Wl,-Bstatic -lnl-route-3 -lnl-3 -lnftnl -lsqlite3 -ljansson -Wl,-Bdynamic \
               -lmnl -lpthread -lm -ldl

LIB_SRC := $(wildcard lib/*.c netns/*.c nft/*.c nat/*.c secgroups/*.c)
CLI_SRC := $(wildcard cli/*.c)
UNIT_SRC := $(wildcard tests/unit_*.c)
NS_SRC  := $(wildcard tests/ns_*.c)
ATTACK_SRC := $(wildcard tests/attack/*.c)
TEST_SUPPORT := tests/topo.c tests/invariants.c

B  := build
BT := build/test
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TLIB_OBJ := $(LIB_SRC:%.c=$(BT)/%.o)
TCLI_OBJ := $(CLI_SRC:%.c=$(BT)/%.o)

.PHONY: all test test-run unit demo bench bench-quick bench-scale install uninstall clean deps tidy

all: $(B)/vpcnet $(B)/libvpcnet.so $(B)/libvpcnet.a $(B)/vpcnet.pc

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BT)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [t]  $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -DVPCNET_FAILPOINTS -O1 -c -o $@ $<

$(B)/libvpcnet.a: $(LIB_OBJ)
	$(Q)ar rcs $@ $^

$(B)/libvpcnet.so: $(LIB_OBJ) lib/libvpcnet.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libvpcnet.so.0 -Wl,--version-script=lib/libvpcnet.map \
		$(LDFLAGS) -o $@ $(LIB_OBJ) $(LIBS)

$(B)/vpcnet: $(CLI_OBJ) $(B)/libvpcnet.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libvpcnet.a $(STATIC_LIBS)

$(B)/vpcnet.pc: lib/vpcnet.pc.in
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' $< > $@

# --- tests: everything under ASan + UBSan ------------------------------------------------
$(BT)/libvpcnet.a: $(TLIB_OBJ)
	$(Q)ar rcs $@ $^

$(BT)/vpcnet: $(TCLI_OBJ) $(BT)/libvpcnet.a
	$(Q)$(CC) $(SAN) -o $@ $(TCLI_OBJ) $(BT)/libvpcnet.a $(LIBS)

$(BT)/unit: $(UNIT_SRC:%.c=$(BT)/%.o) $(BT)/libvpcnet.a
	$(Q)$(CC) $(SAN) -o $@ $^ $(LIBS) -lcriterion

$(BT)/nstest: $(NS_SRC:%.c=$(BT)/%.o) $(TEST_SUPPORT:%.c=$(BT)/%.o) $(BT)/libvpcnet.a
	$(Q)$(CC) $(SAN) -o $@ $^ $(LIBS) -lcriterion

$(BT)/attack: $(ATTACK_SRC:%.c=$(BT)/%.o) $(TEST_SUPPORT:%.c=$(BT)/%.o) $(BT)/libvpcnet.a
	$(Q)$(CC) $(SAN) -o $@ $^ $(LIBS) -lcriterion

# --- soak: 8 workers of random operations, SIGKILLs and gc, then the invariants ---------
# `make soak` (root) runs tests/soak/soak.c for SOAK_SECONDS against $(BT)/vpcnet and prints
# one summary line; it exits 1 on a leak, a failed final gc or a sanitizer report.
SOAK_SECONDS ?= 180
TEST_SOAK_SECONDS ?= 30
SOAK_SRC := $(wildcard tests/soak/*.c)

.PHONY: soak soak-run

$(BT)/soak: $(SOAK_SRC:%.c=$(BT)/%.o) $(TEST_SUPPORT:%.c=$(BT)/%.o)
	$(Q)$(CC) $(SAN) -o $@ $^ $(LIBS) -lcriterion

soak: deps
	$(Q)$(MAKE) --no-print-directory soak-run

soak-run: $(BT)/soak $(BT)/vpcnet
	@VPCNET_BIN=$(BT)/vpcnet SOAK_SECONDS=$(SOAK_SECONDS) \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		LSAN_OPTIONS=suppressions=tests/lsan-nstest.supp $(BT)/soak

# test, demo and bench first install what is missing, then build in a fresh make (so that
# pkg-config sees the packages that `deps` just installed).
CRITERION_FLAGS ?= --color=never
test: deps
	$(Q)$(MAKE) --no-print-directory test-run

# The unit, namespace and attack tests, then a short soak.
test-run: $(BT)/unit $(BT)/nstest $(BT)/attack $(BT)/vpcnet $(BT)/soak all
	@SOAK_SECONDS=$(TEST_SOAK_SECONDS) tests/run.sh $(BT) $(CRITERION_FLAGS)

unit: $(BT)/unit
	$(BT)/unit $(CRITERION_FLAGS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	@examples/demo.sh $(B)/vpcnet

bench: deps
	$(Q)$(MAKE) --no-print-directory DEB_RUN="$(DEB_BENCH)" deps
	$(Q)$(MAKE) --no-print-directory all $(B)/bench/connect $(B)/bench/libcreate
	@bench/run.sh $(BENCH_FLAGS) $(B)/vpcnet

bench-quick:
	$(Q)$(MAKE) --no-print-directory bench BENCH_FLAGS=--quick

# 10,000 sandboxes on one host: create at N vs at 1, kernel memory per sandbox, gc and restore
# (N=, INSTANCES=, REPS= change the sizes; about 15 minutes at the defaults).
bench-scale: deps
	$(Q)$(MAKE) --no-print-directory all
	@bench/scale.sh $(B)/vpcnet

$(B)/bench/connect: bench/connect.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/bench/libcreate: bench/libcreate.c $(B)/libvpcnet.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libvpcnet.a $(STATIC_LIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(B)/vpcnet $(DESTDIR)$(PREFIX)/bin/vpcnet
	install -m 0755 $(B)/libvpcnet.so $(DESTDIR)$(PREFIX)/lib/libvpcnet.so.0
	ln -sf libvpcnet.so.0 $(DESTDIR)$(PREFIX)/lib/libvpcnet.so
	install -m 0644 $(B)/libvpcnet.a $(DESTDIR)$(PREFIX)/lib/libvpcnet.a
	install -m 0644 include/vpcnet.h $(DESTDIR)$(PREFIX)/include/vpcnet.h
	sed -e 's|@PREFIX@|$(PREFIX)|' lib/vpcnet.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vpcnet.pc
	install -d $(DESTDIR)$(CNIDIR)
	install -m 0755 $(B)/vpcnet $(DESTDIR)$(CNIDIR)/vpcnet
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|@BINDIR@|$(PREFIX)/bin|' dist/systemd/vpcnet-restore.service.in \
		> $(DESTDIR)$(UNITDIR)/vpcnet-restore.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vpcnet-restore.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vpcnet $(DESTDIR)$(PREFIX)/lib/libvpcnet.so* \
		$(DESTDIR)$(PREFIX)/lib/libvpcnet.a $(DESTDIR)$(PREFIX)/include/vpcnet.h \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/vpcnet.pc $(DESTDIR)$(CNIDIR)/vpcnet \
		$(DESTDIR)$(UNITDIR)/vpcnet-restore.service

# Installs the Debian packages that are missing (needs root); quiet when all are there.
deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_RUN); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

tidy:
	clang-tidy $(LIB_SRC) $(CLI_SRC) -- -std=gnu11 -Iinclude -I. $(PKG_CFLAGS)

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
