/* LD_PRELOAD allocation counter for tests/t_nomalloc.sh.
 *
 * Interposes the heap entry points (malloc, calloc, realloc, reallocarray,
 * free, posix_memalign, aligned_alloc, memalign, valloc, pvalloc) and two
 * libpcap calls that mark the phases of a capture program's life:
 *   - the first pcap_dispatch() ends start-up: allocations from then on are
 *     counted as "after" (those inside libpcap's own reading included);
 *   - pcap_close() starts tear-down: nothing is counted after it.
 * At exit, one line goes to the file named by $MALLOC_COUNT_OUT:
 *   startup_allocs=N after_allocs=N after_frees=N after_bytes=N
 *   dispatch_calls=N closed=0|1
 * then, for each of the first MC_MAX_SITES allocations after start-up,
 * "site N" and its call stack, one "  ADDR OBJECT SYMBOL+OFF" per frame.
 *
 * dlsym() may itself allocate before the real functions are known; those
 * requests are served from a static bootstrap arena and never freed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <malloc.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MC_BOOT_BYTES   65536	/* arena for dlsym's own allocations */
#define MC_ALIGN        16	/* malloc's alignment on x86-64/aarch64 */
#define MC_MAX_SITES    8	/* allocations after start-up traced */
#define MC_MAX_FRAMES   10	/* frames kept per traced allocation */
#define MC_LINE_MAX     512

static _Alignas(MC_ALIGN) unsigned char boot[MC_BOOT_BYTES];
static size_t boot_used;
static int resolving;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_reallocarray)(void *, size_t, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static int (*real_pcap_dispatch)(pcap_t *, int, pcap_handler, u_char *);
static void (*real_pcap_close)(pcap_t *);

static int armed, closed;
static unsigned long long startup_allocs, after_allocs, after_frees, after_bytes;
static unsigned long long dispatch_calls;
static void *sites[MC_MAX_SITES][MC_MAX_FRAMES];
static int nframes[MC_MAX_SITES];
static unsigned nsites;
static int tracing;	/* backtrace() may allocate: don't trace that */

/* Assign a dlsym() result to a function pointer without the ISO C warning
 * about object-to-function pointer conversion. */
#define RESOLVE(var, name) do { void *s_ = dlsym(RTLD_NEXT, name); \
	memcpy(&(var), &s_, sizeof(var)); } while (0)

static void resolve(void)
{
	if (real_free || resolving)
		return;
	resolving = 1;
	RESOLVE(real_malloc, "malloc");
	RESOLVE(real_calloc, "calloc");
	RESOLVE(real_realloc, "realloc");
	RESOLVE(real_reallocarray, "reallocarray");
	RESOLVE(real_posix_memalign, "posix_memalign");
	RESOLVE(real_aligned_alloc, "aligned_alloc");
	RESOLVE(real_memalign, "memalign");
	RESOLVE(real_valloc, "valloc");
	RESOLVE(real_pvalloc, "pvalloc");
	RESOLVE(real_free, "free");	/* last: it marks "resolved" */
	resolving = 0;
}

static int in_boot(const void *p)
{
	return (const unsigned char *)p >= boot &&
	       (const unsigned char *)p < boot + sizeof(boot);
}

/* Zeroed (the arena is static), never freed. */
static void *boot_alloc(size_t n)
{
	size_t at = (boot_used + MC_ALIGN - 1) & ~(size_t)(MC_ALIGN - 1);

	if (n > sizeof(boot) - at)
		return NULL;
	boot_used = at + n;
	return boot + at;
}

static void note(size_t n, void *caller)
{
	if (closed || tracing)
		return;
	if (!armed) {
		startup_allocs++;
		return;
	}
	after_allocs++;
	after_bytes += n;
	if (nsites < MC_MAX_SITES) {
		tracing = 1;
		nframes[nsites] = backtrace(sites[nsites], MC_MAX_FRAMES);
		tracing = 0;
		if (nframes[nsites] <= 0) {
			sites[nsites][0] = caller;
			nframes[nsites] = 1;
		}
		nsites++;
	}
}

/* The first backtrace() loads the unwinder (and allocates): do it during
 * start-up, not at the first allocation we want to trace. */
__attribute__((constructor))
static void mc_init(void)
{
	void *f[1];

	tracing = 1;
	backtrace(f, 1);
	tracing = 0;
}

void *malloc(size_t n)
{
	resolve();
	if (!real_malloc)
		return boot_alloc(n);
	note(n, __builtin_return_address(0));
	return real_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	resolve();
	if (!real_calloc) {
		if (n && k > SIZE_MAX / n)
			return NULL;
		return boot_alloc(k * n);
	}
	note(k * n, __builtin_return_address(0));
	return real_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	void *q;

	resolve();
	if (in_boot(p) || !real_realloc) {
		/* old size unknown: copy what the arena can hold */
		q = real_malloc ? real_malloc(n) : boot_alloc(n);
		if (q && p)
			memcpy(q, p, n < (size_t)(boot + sizeof(boot) - (unsigned char *)p)
			       ? n : (size_t)(boot + sizeof(boot) - (unsigned char *)p));
		note(n, __builtin_return_address(0));
		return q;
	}
	note(n, __builtin_return_address(0));
	return real_realloc(p, n);
}

void *reallocarray(void *p, size_t k, size_t n)
{
	resolve();
	if (in_boot(p) || !real_reallocarray) {
		if (n && k > SIZE_MAX / n) {
			errno = ENOMEM;
			return NULL;
		}
		return realloc(p, k * n);
	}
	note(k * n, __builtin_return_address(0));
	return real_reallocarray(p, k, n);
}

void free(void *p)
{
	if (!p || in_boot(p))
		return;
	resolve();
	if (armed && !closed)
		after_frees++;
	if (real_free)
		real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	resolve();
	note(n, __builtin_return_address(0));
	return real_posix_memalign ? real_posix_memalign(out, align, n) : ENOMEM;
}

void *aligned_alloc(size_t align, size_t n)
{
	resolve();
	note(n, __builtin_return_address(0));
	return real_aligned_alloc ? real_aligned_alloc(align, n) : NULL;
}

void *memalign(size_t align, size_t n)
{
	resolve();
	note(n, __builtin_return_address(0));
	return real_memalign ? real_memalign(align, n) : NULL;
}

void *valloc(size_t n)
{
	resolve();
	note(n, __builtin_return_address(0));
	return real_valloc ? real_valloc(n) : NULL;
}

void *pvalloc(size_t n)
{
	resolve();
	note(n, __builtin_return_address(0));
	return real_pvalloc ? real_pvalloc(n) : NULL;
}

int pcap_dispatch(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	if (!real_pcap_dispatch)
		RESOLVE(real_pcap_dispatch, "pcap_dispatch");
	if (!closed)
		armed = 1;
	dispatch_calls++;
	return real_pcap_dispatch ? real_pcap_dispatch(p, cnt, cb, user) : PCAP_ERROR;
}

void pcap_close(pcap_t *p)
{
	if (!real_pcap_close)
		RESOLVE(real_pcap_close, "pcap_close");
	closed = 1;
	if (real_pcap_close)
		real_pcap_close(p);
}

/* Report without stdio (no allocation of its own). */
__attribute__((destructor))
static void mc_report(void)
{
	const char *path = getenv("MALLOC_COUNT_OUT");
	char line[MC_LINE_MAX];
	Dl_info di;
	unsigned i;
	int fd, n, j;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "startup_allocs=%llu after_allocs=%llu "
		     "after_frees=%llu after_bytes=%llu dispatch_calls=%llu closed=%d\n",
		     startup_allocs, after_allocs, after_frees, after_bytes,
		     dispatch_calls, closed);
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		n = -1;
	for (i = 0; i < nsites && n > 0; i++) {
		n = snprintf(line, sizeof(line), "site %u\n", i);
		if (n > 0 && write(fd, line, (size_t)n) < 0)
			n = -1;
		for (j = 0; j < nframes[i] && n > 0; j++) {
			void *a = sites[i][j];

			memset(&di, 0, sizeof(di));
			if (dladdr(a, &di) && di.dli_fname)
				n = snprintf(line, sizeof(line), "  %p %s %s+0x%lx\n", a,
					     di.dli_fname, di.dli_sname ? di.dli_sname : "?",
					     (unsigned long)((uintptr_t)a - (uintptr_t)
						(di.dli_sname ? di.dli_saddr : di.dli_fbase)));
			else
				n = snprintf(line, sizeof(line), "  %p\n", a);
			if (n > 0 && write(fd, line, (size_t)n) < 0)
				n = -1;
		}
	}
	close(fd);
}
