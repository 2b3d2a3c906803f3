# cross/static.mk: fully static, size-budgeted builds of d42pcap against musl,
# libpcap and mbedTLS built from the pinned sources in third_party/.
# Included by the top Makefile (uses its SRCS, UNIT_SRCS, D42FLAGS, WARNFLAGS).
# See docs/STATIC.md. Everything for target T lives in build/T/:
#   src/       unpacked musl, libpcap, mbedTLS (built in place)
#   sysroot/   musl + libpcap + mbedTLS installed; bin/d42-cc is the compiler
#   stamp/     one stamp per library, plus the flags it was built with
#   obj/ tests/ d42pcap (stripped), d42pcap.full (symbols), d42pcap.map
#
#   make static TARGET=T    build/T/d42pcap         make static-all
#   make size               per-target size report  make size-check (budget)
#   make cross-check        unit tests + capture comparison under qemu-user
#   make static-clean TARGET=T

STATIC_TARGETS := $(sort $(basename $(notdir $(filter-out cross/static.mk,$(wildcard cross/*.mk)))))
TARGET ?= x86_64
# Budget for each stripped static binary, TLS included (issue 4).
STATIC_BUDGET_KIB ?= 512
# Debian packages the static builds and cross-check need on the build host,
# besides each target's T_DEBPKG.
STATIC_DEBPKGS := make gcc bison flex m4 patch xz-utils bzip2 qemu-user python3

include third_party/versions.env
-include cross/$(TARGET).mk

ST       := build/$(TARGET)
# Absolute: musl-gcc has the sysroot path baked in.
ST_SYS   := $(CURDIR)/$(ST)/sysroot
ST_STAMP := $(ST)/stamp
ST_SRC   := $(ST)/src
ST_LOG   := $(CURDIR)/$(ST)/log

ST_TRIPLET := $(patsubst %-,%,$(T_CROSS))
ST_GCC   := $(T_CROSS)gcc
ST_AR    := $(T_CROSS)ar
ST_STRIP := $(T_CROSS)strip
# musl's musl-gcc wrapper, plus -static -no-pie: Debian's gcc links PIE by
# default, which configure's link tests would otherwise try.
ST_CC    := $(ST_SYS)/bin/d42-cc
# Run target programs natively when the host is that CPU, else under qemu.
ST_RUN   := $(if $(filter $(T_UNAME),$(shell uname -m)),,$(T_QEMU))

# Size first: -Os, one section per function/object for --gc-sections, no
# unwind tables (C only, no exceptions), no PIE (smaller, esp. on MIPS).
ST_OPT     := -Os -pipe -ffunction-sections -fdata-sections \
              -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-pie
# T_CFLAGS apply to everything, T_CODEFLAGS to all but musl (e.g. MIPS16,
# which musl's inline assembly cannot be built as).
ST_MUSLCFLAGS := $(ST_OPT) $(T_CFLAGS)
ST_LIBCFLAGS := $(ST_OPT) $(T_CFLAGS) $(T_CODEFLAGS)
# d42pcap's own code (not the libraries) also with link-time optimisation:
# 3 KiB less on aarch64 (2026-11-29), where the budget is tightest. Its
# modules are then mixed in the link map: `make size ST_LTO=` breaks the
# size down by module (docs/STATIC.md).
ST_LTO     ?= -flto
ST_CFLAGS  := $(ST_OPT) $(T_CFLAGS) $(T_CODEFLAGS) $(ST_LTO)
ST_LDFLAGS := -static -no-pie -Wl,--gc-sections -Wl,-z,noseparate-code \
              -Wl,-z,norelro -Wl,-z,common-page-size=64 -Wl,--build-id=none $(T_LDFLAGS)
ST_LIBS    := -lpcap -lmbedtls -lmbedx509 -lmbedcrypto

# Capture on Linux network interfaces and read files, nothing else (no
# NFLOG/NFQUEUE either: the cache variable is configure's only switch for it).
ST_PCAP_CONF := --disable-shared --with-pcap=linux --disable-usb \
	--disable-netmap --disable-bluetooth --disable-dbus --disable-rdma \
	--disable-remote --without-libnl --without-dpdk --without-dag \
	--without-septel --without-snf --without-turbocap \
	ac_cv_netfilter_can_compile=no

ST_OBJS     := $(patsubst src/%.c,$(ST)/obj/%.o,$(SRCS))
ST_LIBOBJS  := $(filter-out $(ST)/obj/main.o,$(ST_OBJS))
ST_UNITS    := $(patsubst tests/unit/%.c,$(ST)/tests/%,$(UNIT_SRCS))
ST_LIBSTAMPS := $(ST_STAMP)/musl $(ST_STAMP)/libpcap $(ST_STAMP)/mbedtls

# Quiet sub-builds: output goes to build/T/log/NAME.log, shown if it fails.
st_log = >$(ST_LOG)/$(1).log 2>&1 || { tail -n 40 $(ST_LOG)/$(1).log; \
	echo "static: $(1) failed, full log: $(ST_LOG)/$(1).log"; exit 1; }

# $(call st_patch,NAME,DIR): apply third_party/patches/NAME-*.patch in DIR.
st_patch = set -e; for p in $(sort $(wildcard third_party/patches/$(1)-*.patch)); do \
	echo "patch $$p"; patch -s -p1 -d $(2) <$$p; done

# Command-line variables of the top make (CC=, CFLAGS=...) must not leak
# into the third-party builds: each sub-make gets its own explicitly.
ST_SUBMAKE = $(MAKE) CPPFLAGS= LDFLAGS=

.PHONY: static static-all static-libs static-units static-clean size \
	size-check cross-check static-check-target st-force

static-check-target:
	@test -f cross/$(TARGET).mk || { echo "static: unknown TARGET '$(TARGET)'; \
	one of: $(STATIC_TARGETS)" >&2; exit 1; }
	@command -v $(ST_GCC) >/dev/null || { echo "static: $(ST_GCC) not found; \
	on Debian: apt-get install $(T_DEBPKG)" >&2; exit 1; }

static: $(ST)/d42pcap
	@ls -l $(ST)/d42pcap

static-libs: $(ST_LIBSTAMPS)

static-units: $(ST_UNITS)

static-all:
	@sh third_party/fetch.sh
	@set -e; for t in $(STATIC_TARGETS); do \
		echo "== static $$t"; $(MAKE) --no-print-directory static TARGET=$$t; done

static-clean:
	rm -rf $(ST)

# Install (as root) or name the Debian packages every target needs.
static-deps:
	@sh tests/deps.sh $(STATIC_DEBPKGS) $$(for t in $(STATIC_TARGETS); do \
		$(MAKE) -s --no-print-directory st-print-debpkg TARGET=$$t; done)

.PHONY: static-deps st-print-debpkg
st-print-debpkg:
	@echo $(T_DEBPKG)

# --- Flags files: rewritten only when their text changes, so a change of
# compiler, flags or configure options rebuilds what depends on them.
define st_flags
$(ST_STAMP)/$(1).flags: st-force | static-check-target
	@mkdir -p $(ST_STAMP)
	@printf '%s\n' '$(2)' | cmp -s - $$@ || printf '%s\n' '$(2)' >$$@
endef
st-force: ;
$(eval $(call st_flags,musl,$(MUSL_VERSION) $(ST_GCC) $(T_CROSS) $(ST_MUSLCFLAGS)))
$(eval $(call st_flags,libpcap,$(LIBPCAP_VERSION) $(ST_LIBCFLAGS) $(ST_PCAP_CONF)))
$(eval $(call st_flags,mbedtls,$(MBEDTLS_VERSION) $(ST_LIBCFLAGS)))
$(eval $(call st_flags,d42,$(ST_CFLAGS) $(ST_LDFLAGS)))

# --- musl: the C library and the compiler wrapper around the cross gcc.
# Kernel UAPI headers (linux/, asm/, asm-generic/) are linked in from the
# cross toolchain's own copy: libpcap needs them.
$(ST_STAMP)/musl: $(ST_STAMP)/musl.flags third_party/versions.env \
		$(wildcard third_party/dl/$(MUSL_TARBALL)) \
		$(wildcard third_party/patches/musl-*.patch) | static-check-target
	sh third_party/fetch.sh musl
	rm -rf $(ST_SRC)/musl-$(MUSL_VERSION) $(ST_SYS)
	@mkdir -p $(ST_SRC) $(ST_LOG)
	tar -xzf third_party/dl/$(MUSL_TARBALL) -C $(ST_SRC)
	@$(call st_patch,musl,$(ST_SRC)/musl-$(MUSL_VERSION))
	cd $(ST_SRC)/musl-$(MUSL_VERSION) && ./configure --prefix=$(ST_SYS) \
		--target=$(ST_TRIPLET) CROSS_COMPILE=$(T_CROSS) CC=$(ST_GCC) \
		CFLAGS="$(ST_MUSLCFLAGS)" --disable-shared --enable-wrapper=gcc \
		$(call st_log,musl-configure)
	+$(ST_SUBMAKE) -C $(ST_SRC)/musl-$(MUSL_VERSION) CC=$(ST_GCC) \
		CFLAGS="$(ST_MUSLCFLAGS)" install $(call st_log,musl-make)
	@set -e; for h in linux asm asm-generic; do \
		p=$$(printf '#include <%s/types.h>\n' $$h | \
		     $(ST_GCC) $(T_CFLAGS) -E -M -x c - | tr ' \\' '\n\n' | \
		     grep "/$$h/types.h$$" | head -n 1); \
		test -n "$$p" || { echo "static: no kernel headers ($$h/) for $(ST_GCC); on Debian: apt-get install $(T_DEBPKG)" >&2; exit 1; }; \
		ln -sfn "$${p%/types.h}" $(ST_SYS)/include/$$h; \
	done
	printf '#!/bin/sh\nexec "%s" "$$@" -static -no-pie\n' $(ST_SYS)/bin/musl-gcc >$(ST_CC)
	chmod +x $(ST_CC)
	touch $@

# --- libpcap (needs bison and flex on the build host).
$(ST_STAMP)/libpcap: $(ST_STAMP)/musl $(ST_STAMP)/libpcap.flags \
		third_party/versions.env $(wildcard third_party/dl/$(LIBPCAP_TARBALL)) \
		$(wildcard third_party/patches/libpcap-*.patch)
	sh third_party/fetch.sh libpcap
	rm -rf $(ST_SRC)/libpcap-$(LIBPCAP_VERSION)
	tar -xJf third_party/dl/$(LIBPCAP_TARBALL) -C $(ST_SRC)
	@$(call st_patch,libpcap,$(ST_SRC)/libpcap-$(LIBPCAP_VERSION))
	cd $(ST_SRC)/libpcap-$(LIBPCAP_VERSION) && ./configure \
		--host=$(ST_TRIPLET) --prefix=$(ST_SYS) CC=$(ST_CC) AR=$(ST_AR) \
		CFLAGS="$(ST_LIBCFLAGS)" $(ST_PCAP_CONF) $(call st_log,libpcap-configure)
	+$(ST_SUBMAKE) -C $(ST_SRC)/libpcap-$(LIBPCAP_VERSION) CC=$(ST_CC) \
		CFLAGS="$(ST_LIBCFLAGS)" libpcap.a $(call st_log,libpcap-make)
	@mkdir -p $(ST_SYS)/include/pcap $(ST_SYS)/lib
	cd $(ST_SRC)/libpcap-$(LIBPCAP_VERSION) && \
		cp pcap.h pcap-bpf.h pcap-namedb.h $(ST_SYS)/include/ && \
		cp pcap/*.h $(ST_SYS)/include/pcap/ && cp libpcap.a $(ST_SYS)/lib/
	touch $@

# --- mbedTLS: library/ only, with our configuration (see third_party/
# mbedtls_config.h) copied over the default one. scripts/ and framework/ are
# unpacked only because the pre-generated sources name them as (order-only)
# prerequisites; nothing is regenerated.
$(ST_STAMP)/mbedtls: $(ST_STAMP)/musl $(ST_STAMP)/mbedtls.flags \
		third_party/versions.env third_party/mbedtls_config.h \
		$(wildcard third_party/dl/$(MBEDTLS_TARBALL)) \
		$(wildcard third_party/patches/mbedtls-*.patch)
	sh third_party/fetch.sh mbedtls
	rm -rf $(ST_SRC)/mbedtls-$(MBEDTLS_VERSION)
	tar -xjf third_party/dl/$(MBEDTLS_TARBALL) -C $(ST_SRC) \
		mbedtls-$(MBEDTLS_VERSION)/library mbedtls-$(MBEDTLS_VERSION)/include \
		mbedtls-$(MBEDTLS_VERSION)/3rdparty mbedtls-$(MBEDTLS_VERSION)/scripts \
		mbedtls-$(MBEDTLS_VERSION)/framework
	@$(call st_patch,mbedtls,$(ST_SRC)/mbedtls-$(MBEDTLS_VERSION))
	cp third_party/mbedtls_config.h \
		$(ST_SRC)/mbedtls-$(MBEDTLS_VERSION)/include/mbedtls/mbedtls_config.h
	+$(ST_SUBMAKE) -C $(ST_SRC)/mbedtls-$(MBEDTLS_VERSION)/library CC=$(ST_CC) \
		AR=$(ST_AR) CFLAGS="$(ST_LIBCFLAGS)" \
		libmbedcrypto.a libmbedx509.a libmbedtls.a $(call st_log,mbedtls-make)
	@mkdir -p $(ST_SYS)/include $(ST_SYS)/lib
	rm -rf $(ST_SYS)/include/mbedtls $(ST_SYS)/include/psa
	cp -R $(ST_SRC)/mbedtls-$(MBEDTLS_VERSION)/include/mbedtls \
		$(ST_SRC)/mbedtls-$(MBEDTLS_VERSION)/include/psa $(ST_SYS)/include/
	cp $(ST_SRC)/mbedtls-$(MBEDTLS_VERSION)/library/libmbed*.a $(ST_SYS)/lib/
	touch $@

# --- d42pcap and its unit tests, linked statically.
$(ST)/obj/%.o: src/%.c $(ST_LIBSTAMPS) $(ST_STAMP)/d42.flags
	@mkdir -p $(dir $@)
	$(ST_CC) $(D42FLAGS) $(WARNFLAGS) $(ST_CFLAGS) -c -o $@ $<

$(ST)/d42pcap.full: $(ST_OBJS) $(ST_STAMP)/d42.flags
	$(ST_CC) $(ST_CFLAGS) $(ST_LDFLAGS) -Wl,-Map=$(ST)/d42pcap.map \
		-o $@ $(ST_OBJS) $(ST_LIBS)

$(ST)/d42pcap: $(ST)/d42pcap.full
	$(ST_STRIP) --strip-all -R .comment -o $@ $<

$(ST)/tests/%: tests/unit/%.c $(ST_LIBOBJS) $(ST_STAMP)/d42.flags
	@mkdir -p $(dir $@)
	$(ST_CC) $(D42FLAGS) $(WARNFLAGS) $(ST_CFLAGS) -Itests/unit $(ST_LDFLAGS) \
		-o $@ $< $(ST_LIBOBJS) $(ST_LIBS)

-include $(ST_OBJS:.o=.d) $(ST_UNITS:=.d)

# --- Size report and budget. The breakdown sums the linker map's input
# sections per object (our modules) and per archive (libraries).
size:
	@for t in $(STATIC_TARGETS); do \
		$(MAKE) --no-print-directory static TARGET=$$t >/dev/null || exit 1; \
		$(MAKE) --no-print-directory st-size-one TARGET=$$t || exit 1; done

size-check:
	@fail=0; for t in $(STATIC_TARGETS); do \
		$(MAKE) --no-print-directory static TARGET=$$t >/dev/null || exit 1; \
		$(MAKE) --no-print-directory st-size-one TARGET=$$t || fail=1; done; \
	[ $$fail -eq 0 ] || { echo "size-check: over budget" >&2; exit 1; }

.PHONY: st-size-one
st-size-one:
	@awk -v target=$(TARGET) -v objdir=$(ST)/obj/ \
		-v stripped=$$(wc -c <$(ST)/d42pcap) -v budget=$(STATIC_BUDGET_KIB) \
		-f third_party/mapsize.awk $(ST)/d42pcap.map

# --- Cross check: for each target, the unit tests, then `d42pcap -r` over
# tests/data, the tests/gen_pcap.py suite and a sample of the corpus,
# compared (tests/cross_compare.sh) with a reference run. The reference for
# CROSS_REF_TARGET (x86_64) is the native build, on the curated captures only
# (the native build links Debian's libpcap, whose verdicts on some malformed
# corpus files differ); every other target is compared with the static
# CROSS_REF_TARGET build, same libraries, so any difference is the CPU's.
CROSS_REF_TARGET := x86_64
# sample (every 10th corpus capture), all or none; default: T_CORPUS or sample
CROSS_CORPUS ?=
ST_CORPUS := $(or $(CROSS_CORPUS),$(T_CORPUS),sample)

cross-check:
	@$(MAKE) --no-print-directory build/native/d42pcap
	@set -e; for t in $(STATIC_TARGETS); do \
		$(MAKE) --no-print-directory static static-units TARGET=$$t; done
	@mkdir -p build/cross && cp build/native/d42pcap build/cross/native-d42pcap
	@rm -rf build/cross/suite; if command -v python3 >/dev/null; then \
		python3 tests/gen_pcap.py suite build/cross/suite >/dev/null; fi
	@ref=$$($(MAKE) -s --no-print-directory st-print-run TARGET=$(CROSS_REF_TARGET)); \
	fail=0; pass=0; for t in $(STATIC_TARGETS); do \
		start=$$(date +%s); \
		$(MAKE) --no-print-directory st-cross-one TARGET=$$t CROSS_REF="$$ref" \
			>build/cross/$$t.log 2>&1; rc=$$?; \
		p=$$(grep -c '^\[.*\] ok ' build/cross/$$t.log); \
		f=$$(grep -c '^\[.*\] FAIL ' build/cross/$$t.log); \
		grep -v '^\[.*\] ok ' build/cross/$$t.log; \
		[ $$rc -eq 0 ] || [ $$f -gt 0 ] || f=1; \
		echo "cross-check $$t: $$p passed, $$f failed ($$(( $$(date +%s) - start )) s, log build/cross/$$t.log)"; \
		pass=$$((pass + p)); fail=$$((fail + f)); \
	done; echo "cross-check: $$pass passed, $$fail failed"; [ $$fail -eq 0 ]

# Unit tests run with D42_EMULATOR set to the emulator command ("" when
# native): a test of something qemu-user does not emulate faithfully (it
# passes SO_ERROR values untranslated, so errno numbers differ on MIPS) can
# SKIP that check.
.PHONY: st-print-run st-cross-one
st-print-run:
	@echo $(ST_RUN) $(CURDIR)/$(ST)/d42pcap

st-cross-one:
	@command -v $(firstword $(ST_RUN) sh) >/dev/null || { \
		echo "[$(TARGET)] FAIL qemu: $(T_QEMU) not found (apt-get install qemu-user)"; exit 1; }
	@for u in $(ST_UNITS); do \
		n=$$(basename $$u); \
		out=$$(D42_EMULATOR="$(ST_RUN)" timeout 600 $(ST_RUN) $$u 2>&1); rc=$$?; \
		printf '%s\n' "$$out" | grep -E '^(ok|FAIL|SKIP) ' | sed "s|^|[$(TARGET) $$n] |"; \
		if [ $$rc -ne 0 ] && ! printf '%s\n' "$$out" | grep -q '^FAIL '; then \
			printf '%s\n' "$$out" | tail -n 20; \
			echo "[$(TARGET) $$n] FAIL $$n: exited with status $$rc"; fi; \
	done
	@CROSS_SUITE_DIR=$(CURDIR)/build/cross/suite \
	CROSS_CORPUS=$(if $(filter $(CROSS_REF_TARGET),$(TARGET)),none,$(ST_CORPUS)) \
	sh tests/cross_compare.sh -t $(TARGET) \
		"$(if $(filter $(CROSS_REF_TARGET),$(TARGET)),$(CURDIR)/build/cross/native-d42pcap,$(CROSS_REF))" \
		"$(ST_RUN) $(CURDIR)/$(ST)/d42pcap"
