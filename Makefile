# d42pcap: see README.md. `make` builds ./d42pcap against the system libpcap
# and mbedTLS; `make demo` and `make check` first install what is missing.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/d42pcap
SYSCONFDIR ?= /etc
# Service files (`make install`): the systemd unit, the busybox/sysvinit
# script, and the OpenWrt procd script as a template to copy to a device.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INITDIR    ?= $(SYSCONFDIR)/init.d
DATADIR    ?= $(PREFIX)/share/d42pcap
DESTDIR    ?=
INSTALL    ?= install

CC        ?= cc
CFLAGS    ?= -O2 -g
LDFLAGS   ?=
LIBS      ?= -lpcap -lmbedtls -lmbedx509 -lmbedcrypto
WARNFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# _FILE_OFFSET_BITS: 32-bit glibc opens no file over 2 GiB without it
# (a capture read with -r); musl and 64-bit targets ignore it.
D42FLAGS  := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 \
             -DD42_VERSION='"$(VERSION)"' -Isrc -MMD -MP

# Sanitizer build: `make check SAN=1` builds into build/asan.
ifeq ($(SAN),1)
B         ?= build/asan
CFLAGS    += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
endif
B         ?= build/native

SRCS    := $(wildcard src/*.c)
OBJS    := $(patsubst src/%.c,$(B)/obj/%.o,$(SRCS))
LIBOBJS := $(filter-out $(B)/obj/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))

# Debian packages: to build, to run the test suite.
DEPS_BUILD := gcc make libc6-dev libpcap-dev libmbedtls-dev
# clang's sanitizer and libFuzzer runtimes are in libclang-rt-14-dev.
DEPS_TEST  := $(DEPS_BUILD) clang libclang-rt-14-dev python3 openssl iproute2 \
              tcpdump tshark busybox-static time valgrind util-linux strace \
              gcc-arm-linux-gnueabihf libc6-dev-armhf-cross

.PHONY: all flags deps deps-test demo check check-asan check-mbedtls3 unit clean install uninstall bench fuzz
all: d42pcap

# Copy then rename: a running ./d42pcap (tests, demo) must not make it fail.
d42pcap: $(B)/d42pcap
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/d42pcap: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(D42FLAGS) $(CPPFLAGS) $(WARNFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(D42FLAGS) $(CPPFLAGS) $(WARNFLAGS) $(CFLAGS) -Itests/unit \
		$(LDFLAGS) -o $@ $< $(LIBOBJS) $(LIBS)

-include $(OBJS:.o=.d)

# Install missing Debian packages when root; otherwise print the command.
deps:
	@sh tests/deps.sh $(DEPS_BUILD)
deps-test:
	@sh tests/deps.sh $(DEPS_TEST)

# The flags every object is compiled with (tests/t_build32.sh).
flags:
	@echo $(D42FLAGS) $(WARNFLAGS)

unit: $(UNIT_BINS)

demo: deps
	$(MAKE) d42pcap
	sh tests/demo.sh

check: deps-test
	$(MAKE) d42pcap unit $(BENCH_B)/gencap $(BENCH_B)/floor $(BENCH_B)/bound
	sh tests/run.sh $(UNIT_BINS)

check-asan: deps-test
	$(MAKE) SAN=1 CC=clang build/asan/d42pcap unit
	$(MAKE) $(BENCH_B)/gencap $(BENCH_B)/floor $(BENCH_B)/bound
	D42PCAP=$(CURDIR)/build/asan/d42pcap D42_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 \
		sh tests/run.sh $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))

# `make install [PREFIX=/usr/local] [DESTDIR=]` installs
#   SBINDIR/d42pcap                      MANDIR/man8/d42pcap.8
#   SYSCONFDIR/d42pcap/d42pcap.json      the example, only if there is none
#                                        (0600: it may hold a password)
#   SYSTEMDUNITDIR/d42pcap.service       INITDIR/d42pcap (busybox, sysvinit)
#   DATADIR/openwrt/d42pcap.procd        for /etc/init.d/d42pcap on OpenWrt
#                                        (or build cross/openwrt/d42pcap)
#   DOCDIR/                              README.md, LICENSE, docs/*.md and
#                                        d42pcap.json.example
#   SYSCONFDIR/d42pcap/spool/            the default spool (0700)
# The unit and the init script name /usr/sbin and /etc/d42pcap: rewritten
# for SBINDIR and SYSCONFDIR (the unit's ConfigurationDirectory= is always
# below /etc). `make uninstall` removes the files again but keeps
# SYSCONFDIR/d42pcap (settings, spooled reports). tests/t_install.sh checks
# both.
INSTALL_DOCS = README.md LICENSE $(wildcard docs/*.md) d42pcap.json.example
INSTALL_PATHS = sed -e 's|/usr/sbin/d42pcap|$(SBINDIR)/d42pcap|g' \
		    -e 's|/etc/d42pcap|$(SYSCONFDIR)/d42pcap|g'

# The same integration tests against the static x86_64 build: mbedTLS 3.6
# and libpcap 1.10.5 from third_party/ (the system build has 2.28 / 1.10.3).
check-mbedtls3: deps-test
	$(MAKE) static TARGET=x86_64
	$(MAKE) $(BENCH_B)/gencap
	D42PCAP=$(CURDIR)/build/x86_64/d42pcap \
		TESTS="t_delivery.sh t_delivery_live.sh t_golden.sh t_filters.sh" sh tests/run.sh

install: d42pcap
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(INITDIR) $(DESTDIR)$(DATADIR)/openwrt
	@# 0700 when made; an existing one keeps the mode its admin gave it
	@for d in $(DESTDIR)$(SYSCONFDIR)/d42pcap $(DESTDIR)$(SYSCONFDIR)/d42pcap/spool; do \
		[ -d "$$d" ] || $(INSTALL) -d -m 0700 "$$d" || exit 1; \
	done
	$(INSTALL) -m 0755 d42pcap $(DESTDIR)$(SBINDIR)/d42pcap
	$(INSTALL) -m 0644 docs/d42pcap.8 $(DESTDIR)$(MANDIR)/man8/d42pcap.8
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/d42pcap/d42pcap.json ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/d42pcap/d42pcap.json"; \
	else \
		echo "$(INSTALL) -m 0600 d42pcap.json.example $(DESTDIR)$(SYSCONFDIR)/d42pcap/d42pcap.json"; \
		$(INSTALL) -m 0600 d42pcap.json.example $(DESTDIR)$(SYSCONFDIR)/d42pcap/d42pcap.json; \
	fi
	$(INSTALL_PATHS) init/d42pcap.service >$(DESTDIR)$(SYSTEMDUNITDIR)/d42pcap.service.tmp
	$(INSTALL) -m 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/d42pcap.service.tmp \
		$(DESTDIR)$(SYSTEMDUNITDIR)/d42pcap.service
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/d42pcap.service.tmp
	$(INSTALL_PATHS) init/d42pcap.init >$(DESTDIR)$(INITDIR)/d42pcap.tmp
	$(INSTALL) -m 0755 $(DESTDIR)$(INITDIR)/d42pcap.tmp $(DESTDIR)$(INITDIR)/d42pcap
	rm -f $(DESTDIR)$(INITDIR)/d42pcap.tmp
	$(INSTALL) -m 0755 init/d42pcap.procd $(DESTDIR)$(DATADIR)/openwrt/d42pcap.procd
	$(INSTALL) -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/d42pcap $(DESTDIR)$(MANDIR)/man8/d42pcap.8 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/d42pcap.service $(DESTDIR)$(INITDIR)/d42pcap \
		$(DESTDIR)$(DATADIR)/openwrt/d42pcap.procd \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALL_DOCS)))
	-rmdir $(DESTDIR)$(DATADIR)/openwrt $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR) 2>/dev/null
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/d42pcap (settings and spooled reports)"

clean:
	rm -rf build d42pcap

-include cross/static.mk
-include tests/extra.mk
-include tests/fuzz/fuzz.mk
