# vpcnet — build, test, demo, bench, install.  `make V=1` shows the commands.

PREFIX  ?= /usr/local
DESTDIR ?=
CNIDIR  ?= /opt/cni/bin
CC      ?= cc
PKGS    := libnl-3.0 libnl-route-3.0 libmnl libnftnl sqlite3 jansson

# Debian packages the build, the tests and the demo need (installed by `make deps`).
DEB_BUILD := build-essential pkg-config libnl-3-dev libnl-route-3-dev libmnl-dev \
             libnftnl-dev libsqlite3-dev libjansson-dev libcriterion-dev
DEB_RUN   := iproute2 nftables conntrack curl busybox-static runc podman \
             containernetworking-plugins
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
TEST_SUPPORT := tests/topo.c

B  := build
BT := build/test
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TLIB_OBJ := $(LIB_SRC:%.c=$(BT)/%.o)
TCLI_OBJ := $(CLI_SRC:%.c=$(BT)/%.o)

.PHONY: all test test-run unit demo bench bench-quick install uninstall clean deps tidy

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

# test, demo and bench first install what is missing, then build in a fresh make (so that
# pkg-config sees the packages that `deps` just installed).
CRITERION_FLAGS ?= --color=never
test: deps
	$(Q)$(MAKE) --no-print-directory test-run

test-run: $(BT)/unit $(BT)/nstest $(BT)/attack $(BT)/vpcnet all
	@tests/run.sh $(BT) $(CRITERION_FLAGS)

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

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vpcnet $(DESTDIR)$(PREFIX)/lib/libvpcnet.so* \
		$(DESTDIR)$(PREFIX)/lib/libvpcnet.a $(DESTDIR)$(PREFIX)/include/vpcnet.h \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/vpcnet.pc $(DESTDIR)$(CNIDIR)/vpcnet

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
