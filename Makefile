# d42pcap: see README.md. `make` builds ./d42pcap against the system libpcap
# and mbedTLS; `make demo` and `make check` first install what is missing.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/d42pcap
SYSCONFDIR ?= /etc
DESTDIR    ?=

CC        ?= cc
CFLAGS    ?= -O2 -g
LDFLAGS   ?=
LIBS      ?= -lpcap -lmbedtls -lmbedx509 -lmbedcrypto
WARNFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
D42FLAGS  := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
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
DEPS_TEST  := $(DEPS_BUILD) clang python3 openssl iproute2 tcpdump valgrind

.PHONY: all deps deps-test demo check check-asan unit clean install bench fuzz
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

unit: $(UNIT_BINS)

demo: deps
	$(MAKE) d42pcap
	sh tests/demo.sh

check: deps-test
	$(MAKE) d42pcap unit
	sh tests/run.sh $(UNIT_BINS)

check-asan: deps-test
	$(MAKE) SAN=1 CC=clang build/asan/d42pcap unit
	D42PCAP=$(CURDIR)/build/asan/d42pcap ASAN_OPTIONS=detect_leaks=1 \
		sh tests/run.sh $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))

install: d42pcap
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/d42pcap $(DESTDIR)$(DOCDIR)
	install -m 0755 d42pcap $(DESTDIR)$(SBINDIR)/d42pcap
	install -m 0644 docs/d42pcap.8 $(DESTDIR)$(MANDIR)/man8/d42pcap.8
	install -m 0600 d42pcap.json.example $(DESTDIR)$(SYSCONFDIR)/d42pcap/d42pcap.json
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/

clean:
	rm -rf build d42pcap

-include cross/static.mk
-include tests/extra.mk
-include tests/fuzz/fuzz.mk
