# Fuzzing (docs/FUZZING.md). Included by the top Makefile; also works alone
# (`make -f tests/fuzz/fuzz.mk ...`), which is how tests/t_fuzz_replay.sh
# builds, so a broken top-level include cannot hide a replay failure.
#
#   make fuzz                  every tests/fuzz/fuzz_*.c with libFuzzer (clang),
#                              FUZZ_SECONDS each, one after the other
#   make fuzz FUZZ_TARGETS="url config" FUZZ_SECONDS=600
#   make fuzz-replay           every saved input of every target, no libFuzzer
#                              (any CC; sanitizers when the compiler has them)
#
# make fuzz seeds each target with tests/fuzz/corpus/NAME/ (committed, small)
# plus build/fuzz/seeds/NAME/ (made by tests/fuzz/mkseeds.py from the test
# data and, when present, the shared capture corpus, read in place); new
# inputs go to build/fuzz/new/NAME/ (never committed). A crash, leak, timeout
# or out-of-memory input is copied into tests/fuzz/corpus/NAME/ as a
# regression input and the target fails.

# Fallbacks for standalone use; the top Makefile's definitions win.
SRCS      ?= $(wildcard src/*.c)
WARNFLAGS ?= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
D42FLAGS  ?= -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 \
             -DD42_VERSION='"fuzz"' -Isrc -MMD -MP
LIBS      ?= -lpcap -lmbedtls -lmbedx509 -lmbedcrypto

FUZZ_CC       ?= clang
FUZZ_B        := build/fuzz
FUZZ_SECONDS  ?= 60
FUZZ_TIMEOUT  ?= 10		# seconds for one input before it is a hang
FUZZ_RSS_MB   ?= 1024
FUZZ_OPTS     ?=		# more libFuzzer flags, e.g. -runs=1000000
FUZZ_SHARED   ?= $(or $(D42_SHARED),$(CURDIR)/../shared)
FUZZ_CORPUS   := $(FUZZ_SHARED)/corpus
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN)

FUZZ_ALL      := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS  ?= $(FUZZ_ALL)
FUZZ_LIBSRCS  := $(filter-out src/main.c,$(SRCS))
FUZZ_OBJS     := $(patsubst src/%.c,$(FUZZ_B)/obj/%.o,$(FUZZ_LIBSRCS))

# Longest input per target (-max_len): what the parser meets in practice,
# with room past its limits.
FUZZ_MAXLEN_decode   := 2048	# link byte + one packet (snap-length 1600)
FUZZ_MAXLEN_json     := 4096
FUZZ_MAXLEN_config   := 8192
FUZZ_MAXLEN_http     := 8192
FUZZ_MAXLEN_spool    := 4096
FUZZ_MAXLEN_url      := 1100	# URL_MAX_INPUT is 1024
FUZZ_MAXLEN_d42scan  := 12288	# a 4096-byte record, twice, plus framing
FUZZ_MAXLEN_pcapfile := 8192
fuzz_maxlen = $(or $(strip $(FUZZ_MAXLEN_$(1))),4096)
fuzz_dict   = $(if $(wildcard tests/fuzz/$(1).dict),-dict=tests/fuzz/$(1).dict)
fuzz_seeds  = $(wildcard $(FUZZ_B)/seeds/$(1))

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-replay fuzz-replay-bins fuzz-clean

fuzz: fuzz-build fuzz-seeds
	@fail=""; for t in $(FUZZ_TARGETS); do \
		$(MAKE) -s -f $(firstword $(MAKEFILE_LIST)) fuzz-run-$$t || fail="$$fail $$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: FAILED:$$fail"; exit 1; fi; \
	echo "fuzz: all targets ran clean"

fuzz-build: $(addprefix $(FUZZ_B)/fuzz_,$(FUZZ_TARGETS))

$(FUZZ_B)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(D42FLAGS) $(WARNFLAGS) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(D42FLAGS) $(WARNFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer \
		-o $@ $< $(FUZZ_OBJS) $(LIBS)

-include $(FUZZ_OBJS:.o=.d)

# Seeds made from files in place (rebuilt each run; never committed).
fuzz-seeds:
	@python3 tests/fuzz/mkseeds.py $(FUZZ_B)/seeds "$(FUZZ_CORPUS)"

# One target: $(FUZZ_B)/log/NAME.log has libFuzzer's output.
fuzz-run-%: $(FUZZ_B)/fuzz_%
	@mkdir -p $(FUZZ_B)/new/$* $(FUZZ_B)/art/$* $(FUZZ_B)/log tests/fuzz/corpus/$*
	@rm -f $(FUZZ_B)/art/$*/*
	@echo "fuzz $*: $(FUZZ_SECONDS) s, -max_len=$(call fuzz_maxlen,$*)"
	@rc=0; $< -max_total_time=$(FUZZ_SECONDS) -max_len=$(call fuzz_maxlen,$*) \
		-timeout=$(strip $(FUZZ_TIMEOUT)) -rss_limit_mb=$(strip $(FUZZ_RSS_MB)) \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_B)/art/$*/ \
		$(call fuzz_dict,$*) $(FUZZ_OPTS) $(FUZZ_B)/new/$* tests/fuzz/corpus/$* \
		$(call fuzz_seeds,$*) </dev/null >$(FUZZ_B)/log/$*.log 2>&1 || rc=$$?; \
	grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|^stat::number_of_executed_units' \
		$(FUZZ_B)/log/$*.log | sed 's/^/  /'; \
	for f in $(FUZZ_B)/art/$*/crash-* $(FUZZ_B)/art/$*/leak-* \
		 $(FUZZ_B)/art/$*/timeout-* $(FUZZ_B)/art/$*/oom-*; do \
		[ -f "$$f" ] || continue; \
		cp "$$f" tests/fuzz/corpus/$*/ && \
		echo "  saved regression input tests/fuzz/corpus/$*/$${f##*/}"; rc=1; \
	done; \
	if [ $$rc -ne 0 ]; then echo "fuzz $*: FAIL (see $(FUZZ_B)/log/$*.log)"; \
		grep -m1 -E 'ERROR: |SUMMARY: ' $(FUZZ_B)/log/$*.log | sed 's/^/  /'; \
	else echo "fuzz $*: ok"; fi; \
	exit $$rc

# Replay without libFuzzer. The script picks the compiler and sanitizers and
# builds through fuzz-replay-bins below.
fuzz-replay:
	@CC="$(CC)" sh tests/t_fuzz_replay.sh

FUZZ_REPLAY_CC    ?= $(CC)
FUZZ_REPLAY_SAN   ?=
FUZZ_REPLAY_B     := build/fuzz-replay/$(notdir $(firstword $(FUZZ_REPLAY_CC)))$(if $(strip $(FUZZ_REPLAY_SAN)),-san)
FUZZ_REPLAY_OBJS  := $(patsubst src/%.c,$(FUZZ_REPLAY_B)/obj/%.o,$(FUZZ_LIBSRCS))
FUZZ_REPLAY_FLAGS := -g -O1 -fno-omit-frame-pointer $(FUZZ_REPLAY_SAN)

fuzz-replay-bins: $(addprefix $(FUZZ_REPLAY_B)/fuzz_,$(FUZZ_ALL))

$(FUZZ_REPLAY_B)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_REPLAY_CC) $(D42FLAGS) $(WARNFLAGS) $(FUZZ_REPLAY_FLAGS) -c -o $@ $<

$(FUZZ_REPLAY_B)/obj/replay_main.o: tests/fuzz/replay_main.c
	@mkdir -p $(@D)
	$(FUZZ_REPLAY_CC) $(D42FLAGS) $(WARNFLAGS) $(FUZZ_REPLAY_FLAGS) -c -o $@ $<

$(FUZZ_REPLAY_B)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_REPLAY_B)/obj/replay_main.o $(FUZZ_REPLAY_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_REPLAY_CC) $(D42FLAGS) $(WARNFLAGS) $(FUZZ_REPLAY_FLAGS) -o $@ $< \
		$(FUZZ_REPLAY_B)/obj/replay_main.o $(FUZZ_REPLAY_OBJS) $(LIBS)

-include $(FUZZ_REPLAY_OBJS:.o=.d)

fuzz-clean:
	rm -rf $(FUZZ_B) build/fuzz-replay
