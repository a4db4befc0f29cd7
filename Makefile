# vpcnet — build, test, demo, bench, install.  `make V=1` shows the commands.

PREFIX  ?= /usr/local
DESTDIR ?=
CNIDIR  ?= /opt/cni/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
CC      ?= cc
PKGS    := libnl-3.0 libnl-route-3.0 libmnl libnftnl sqlite3 jansson

# Debian packages the build, the tests and the demo need (installed by `make deps`).
DEB_BUILD := build-essential pkg-config libnl-3-dev libnl-route-3-dev libmnl-dev \
             libnftnl-dev libsqlite3-dev libjansson-dev libcriterion-dev clang \
             libclang-rt-dev scdoc debhelper dpkg-dev fakeroot
DEB_RUN   := iproute2 nftables conntrack curl busybox-static runc podman \
             containernetworking-plugins procps
# ... and what the checks of the shipped files use (man pages, completion, the package).
DEB_SHIP  := mandoc man-db bash-completion lintian debootstrap
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
# LINK_SHARED=1 links them as shared libraries (the Debian package, debian/rules): Debian
# forbids static copies of its libraries (lintian: embedded-library), so that a fix to
# libsqlite3 or libnftnl reaches vpcnet with the library's update; dh_shlibdeps then
# computes the Depends.  It costs start-up time on every command: 500 runs of `vpcnet
# version`, static and shared alternated three times, took 7.2 and 8.8 ms a run here.
ifeq ($(LINK_SHARED),1)
STATIC_LIBS := $(LIBS) -lm
endif

LIB_SRC := $(wildcard base/*.c lib/*.c netns/*.c nft/*.c nat/*.c secgroups/*.c)
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

# Checks of what ships beside the code (man pages, completion, the Debian package): each
# part below adds its make target to SHIP_CHECKS.
SHIP_CHECKS :=
SHIP_CHECKS += check-completion
SHIP_CHECKS += check-man
SHIP_CHECKS += check-deb

# The unit, namespace and attack tests, a short soak, the shipped files, then every fuzz
# target briefly.
test-run: $(BT)/unit $(BT)/nstest $(BT)/attack $(BT)/vpcnet $(BT)/soak all fuzz-build
	@rc=0; SOAK_SECONDS=$(TEST_SOAK_SECONDS) tests/run.sh $(BT) $(CRITERION_FLAGS) || rc=1; \
	$(if $(SHIP_CHECKS),echo "== shipped files: $(SHIP_CHECKS)"; \
	$(MAKE) --no-print-directory $(SHIP_CHECKS) || rc=1;) \
	echo "== fuzz targets, $(FUZZ_SMOKE_SECONDS) s each, and every crash input found so far"; \
	$(MAKE) --no-print-directory fuzz-smoke || rc=1; exit $$rc

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

# --- fuzzing: a libFuzzer target per parser of outside input (fuzz/README.md) -----------
# `make fuzz` runs each target for FUZZ_SECONDS; `make fuzz-smoke` replays every input under
# fuzz/regress/TARGET/ (each once), then runs each target for FUZZ_SMOKE_SECONDS.  What a run
# finds goes to $(FB)/corpus/TARGET, a crash to $(FB)/crash-TARGET-*; fuzz/corpus/ (the
# seeds) is only read.  FUZZ_FLAGS adds libFuzzer flags (e.g. -jobs=4).
FUZZ_CC            ?= clang
FUZZ_TARGETS       := names addr rule cni oci argv store
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_FLAGS         ?=
FB := $(B)/fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
# clang: no -Wformat-truncation; -Wformat-nonliteral fires on every va_list helper, and
# -Wconstant-conversion on netns/tap.c's 16-bit ifr_flags (IFF_TUN_EXCL is 0x8000).
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(filter-out -Wno-format-truncation,$(WARN)) \
               -Wno-format-nonliteral -Wno-constant-conversion -O1 -g \
               -Iinclude -I. $(PKG_CFLAGS) -fvisibility=hidden -MMD -MP $(FUZZ_SAN) \
               -fsanitize=fuzzer-no-link
# The CLI's main() is vpcnet_cli_main() here; the harnesses see every vpcnet_open() and
# every JSON document the CLI prints (fuzz/fuzz.h).
FUZZ_WRAP   := -Wl,--wrap=vpcnet_open -Wl,--wrap=cli_print_json
FUZZ_MAXLEN_names := 256
FUZZ_MAXLEN_addr  := 128
FUZZ_MAXLEN_rule  := 256
FUZZ_MAXLEN_cni   := 8192
FUZZ_MAXLEN_oci   := 4096
FUZZ_MAXLEN_argv  := 1024
FUZZ_MAXLEN_store := 4096
FUZZ_RUNS    := $(FUZZ_TARGETS:%=fuzz-run-%)
FUZZ_REGRESS := $(FUZZ_TARGETS:%=fuzz-regress-%)

FLIB_OBJ := $(LIB_SRC:%.c=$(FB)/%.o)
FCLI_OBJ := $(CLI_SRC:%.c=$(FB)/%.o)

.PHONY: fuzz fuzz-smoke fuzz-build $(FUZZ_RUNS) $(FUZZ_REGRESS)

$(FB)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC [f]  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter cli/main.c,$<),-Dmain=vpcnet_cli_main) \
		-c -o $@ $<

# kept, though only an intermediate of the pattern rule below
.SECONDARY: $(FUZZ_TARGETS:%=$(FB)/fuzz/%.o) $(FB)/fuzz/common.o

$(FB)/libvpcnet.a: $(FLIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

# An archive: a target that includes one of cli/*.c gets the others from it, not that one.
$(FB)/libcli.a: $(FCLI_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FB)/fuzz-%: $(FB)/fuzz/%.o $(FB)/fuzz/common.o $(FB)/libcli.a $(FB)/libvpcnet.a
	@$(if $(Q),echo "  LD [f]  $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $(FUZZ_WRAP) -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_TARGETS:%=$(FB)/fuzz-%)

fuzz: FUZZ_TIME = $(FUZZ_SECONDS)
fuzz: fuzz-build $(FUZZ_RUNS)

fuzz-smoke: FUZZ_TIME = $(FUZZ_SMOKE_SECONDS)
fuzz-smoke: fuzz-build $(FUZZ_REGRESS) $(FUZZ_RUNS)

# One bounded run on the seeds (and the dictionary, if any), stdout and stderr closed: the
# harnesses' own output is noise, and a crash report still shows.
$(FUZZ_RUNS): fuzz-run-%: $(FB)/fuzz-%
	@mkdir -p $(FB)/corpus/$*
	@echo "  FUZZ    $* for $(or $(FUZZ_TIME),$(FUZZ_SECONDS)) s"
	$(Q)$(FB)/fuzz-$* -max_len=$(FUZZ_MAXLEN_$*) -max_total_time=$(or $(FUZZ_TIME),$(FUZZ_SECONDS)) \
		-timeout=10 -close_fd_mask=3 -print_final_stats=1 -artifact_prefix=$(FB)/crash-$*- \
		$(if $(wildcard fuzz/dict/$*.dict),-dict=fuzz/dict/$*.dict) $(FUZZ_FLAGS) \
		$(FB)/corpus/$* fuzz/corpus/$* 2>$(FB)/fuzz-$*.log \
		|| { tail -n 60 $(FB)/fuzz-$*.log; exit 1; }
	@grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added):' \
		$(FB)/fuzz-$*.log | sed 's/^stat::/          /'

# Every crash input ever found, run once each.
$(FUZZ_REGRESS): fuzz-regress-%: $(FB)/fuzz-%
	$(if $(wildcard fuzz/regress/$*/*),@echo "  REGRESS $* ($(words $(wildcard fuzz/regress/$*/*)) inputs)")
	$(if $(wildcard fuzz/regress/$*/*),$(Q)$(FB)/fuzz-$* -close_fd_mask=3 \
		$(wildcard fuzz/regress/$*/*) 2>$(FB)/regress-$*.log \
		|| { tail -n 60 $(FB)/regress-$*.log; exit 1; })

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
	install -Dm 0644 dist/bash-completion/vpcnet \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vpcnet

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vpcnet $(DESTDIR)$(PREFIX)/lib/libvpcnet.so* \
		$(DESTDIR)$(PREFIX)/lib/libvpcnet.a $(DESTDIR)$(PREFIX)/include/vpcnet.h \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/vpcnet.pc $(DESTDIR)$(CNIDIR)/vpcnet \
		$(DESTDIR)$(UNITDIR)/vpcnet-restore.service
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/vpcnet

# --- bash completion: dist/bash-completion/vpcnet, loaded by bash-completion on first use.
# `make check-completion`: tests/completion.sh holds it to every --help and (root) to the
# names of a throw-away host namespace and state dir.
.PHONY: check-completion
check-completion: $(B)/vpcnet
	$(Q)timeout 300 tests/completion.sh $(B)

# --- the Debian package (debian/): dpkg-buildpackage in a copy of the source under $(B)/deb/
# (the files git tracks and the untracked ones it does not ignore), so that its ../ outputs
# land in $(B)/deb/ and the objects in $(B)/ are left alone.  `make check-deb` (root, network
# to deb.debian.org) then installs the .deb into a fresh bookworm chroot, uses it and purges it.
# (recursive "=": only the targets that use them run these commands)
DEB_VERSION = $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB_ARCH    = $(shell dpkg --print-architecture 2>/dev/null)
DEB_SRCDIR  = $(B)/deb/vpcnet-$(DEB_VERSION)
DEB_FILE    = $(B)/deb/vpcnet_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: deb check-deb
deb:
	$(Q)rm -rf $(DEB_SRCDIR) $(B)/deb/vpcnet_$(DEB_VERSION)* $(B)/deb/vpcnet-dbgsym_$(DEB_VERSION)*
	$(Q)mkdir -p $(DEB_SRCDIR)
	$(Q)git ls-files -co --exclude-standard -z | xargs -0 sh -c \
		'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done; exit 0' sh | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_SRCDIR)
	$(Q)cd $(DEB_SRCDIR) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc -jauto $(if $(Q),>../build.log 2>&1 || \
		{ tail -n 40 ../build.log; echo "dpkg-buildpackage failed: $(B)/deb/build.log"; exit 1; })
	@echo "  DEB     $(DEB_FILE)"

check-deb: deb
	$(Q)tests/deb.sh $(DEB_FILE)

# --- man pages: man/*.8.scd (scdoc) built into $(B)/man/, installed in section 8 ----------
# `make check-man`: mandoc's lint and man's warnings print nothing for any page, and
# tests/man.sh finds every option of every --help in its noun's page.
MAN_PAGES := $(wildcard man/*.8.scd)
MAN_OUT   := $(MAN_PAGES:man/%.scd=$(B)/man/%)
MANDIR    ?= $(PREFIX)/share/man
# scdoc puts a .P after every .SH and .SS and before every .SH and .RE; mandoc warns of each
# ("skipping paragraph macro") and no scdoc source avoids them: only those three are let by.
MANDOC_SCDOC_NOISE := -e 'skipping paragraph macro: PP empty' \
                      -e 'skipping paragraph macro: PP after SH' \
                      -e 'skipping paragraph macro: PP after SS'

.PHONY: install-man uninstall-man check-man
all: $(MAN_OUT)
install: install-man
uninstall: uninstall-man

$(B)/man/%.8: man/%.8.scd
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SCDOC   $<")
	$(Q)scdoc < $< > $@.tmp && mv $@.tmp $@

install-man: $(MAN_OUT)
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN_OUT) $(DESTDIR)$(MANDIR)/man8/

uninstall-man:
	rm -f $(MAN_PAGES:man/%.scd=$(DESTDIR)$(MANDIR)/man8/%)

check-man: $(MAN_OUT) $(B)/vpcnet
	@rc=0; for p in $(MAN_OUT); do \
		lint=$$(mandoc -T lint -W warning $$p 2>&1 | grep -v $(MANDOC_SCDOC_NOISE)); \
		[ -z "$$lint" ] || { echo "$$lint"; rc=1; }; \
		warn=$$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -l $$p 2>&1 >/dev/null); \
		[ -z "$$warn" ] || { echo "$$p: man --warnings:"; echo "$$warn"; rc=1; }; \
	done; \
	tests/man.sh $(B) || rc=1; \
	if [ $$rc = 0 ]; then echo "  MAN     $(words $(MAN_OUT)) pages: lint clean, every --help option documented"; \
	else echo "check-man: FAILED"; fi; exit $$rc

# Installs the Debian packages that are missing (needs root); quiet when all are there.
deps:
	@missing=""; for p in $(DEB_BUILD) $(DEB_RUN) $(DEB_SHIP); do \
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

-include $(shell find $(B) -path $(B)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
