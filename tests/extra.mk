# Extra targets, included by the top Makefile: `make bench`, `make bench-live` (docs/PERFORMANCE.md).
# The helpers are built with fixed flags (never the sanitizer build's).
BENCH_B      := build/bench
BENCH_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 -O2 -g \
                $(WARNFLAGS) -Werror
BENCH_HELPERS := $(BENCH_B)/gencap $(BENCH_B)/floor $(BENCH_B)/bound $(BENCH_B)/runstat

$(BENCH_B)/gencap: tests/bench/gencap.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_B)/runstat: tests/bench/runstat.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_B)/floor: tests/bench/floor.c src/capture.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -Isrc -o $@ $< -lpcap

$(BENCH_B)/bound: tests/bench/bound.c src/capture.h
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -Isrc -o $@ $< -lpcap

bench: d42pcap $(BENCH_HELPERS)
	sh tests/bench/run.sh

# make bench-live: live kernel drops against tcpdump on a veth replay (root).
.PHONY: bench-live
bench-live: d42pcap $(BENCH_B)/gencap
	sh tests/bench/live.sh
