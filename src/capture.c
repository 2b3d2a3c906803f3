/* libpcap wrapper. Live captures are activated with pcap_create() so every
 * knob (snap length, promiscuous mode, timeout, buffer) is applied before the
 * ring is mapped, then put in non-blocking mode for the poll() loop. A lost
 * live capture is reopened with the same knobs and the compiled filter. */
#include "capture.h"
#include "addr.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

/* Captures read with -r run to many GiB: a 32-bit glibc build without
 * _FILE_OFFSET_BITS=64 (the Makefile sets it) could not open them. */
_Static_assert(sizeof(off_t) >= 8, "build with -D_FILE_OFFSET_BITS=64");

#define NS_PER_MS   1000000ULL
#define NS_PER_US   1000ULL
#define NS_PER_SEC  1000000000ULL
#define CAPTURE_MIN_TIMEOUT_MS 1
/* Latest packet time taken as it is (year 2508): later ones are taken as
 * then, so that an interval above it still fits 64-bit nanoseconds. */
#define CAPTURE_MAX_SEC 17000000000ULL
#define PCAPNG_VERSION_MAJOR 1	/* pcap_major_version() of a pcapng file (pcap: 2) */

static void capture_reset(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

__attribute__((format(printf, 2, 3)))
static void cap_err(struct capture *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* SIOCGIFFLAGS of c->name: 0 with *flags, or -1 with errno set. */
static int iface_flags(const struct capture *c, short *flags)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (c->fd < 0 || strlen(c->name) >= sizeof(ifr.ifr_name)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(ifr.ifr_name, c->name, strlen(c->name));
	if (ioctl(c->fd, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	*flags = ifr.ifr_flags;
	return 0;
}

/* 0 only if the interface is known to be administratively down, or gone.
 * Failing to ask otherwise ("any" and libpcap's other pseudo-devices are
 * no network interfaces) counts as up. Gone matters: deleting an interface
 * takes it down first, and the one error event the socket gets may come
 * while it still exists (libpcap shrugs that off) and be read once it is
 * gone; asking then is the only way to see the loss. */
static int iface_up(const struct capture *c)
{
	short flags;

	if (iface_flags(c, &flags) == 0)
		return (flags & IFF_UP) != 0;
	return !(c->netdev && (errno == ENODEV || errno == ENXIO));
}

/* Creates and activates the handle for c->name with c->opts: 0, or
 * pcap_activate()'s error status, or -1. */
static int live_activate(struct capture *c)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	uint64_t ms = c->opts.timeout_ns / NS_PER_MS;
	const char *dev = c->name;
	short flags;
	int rc;

	c->p = pcap_create(dev, eb);
	if (!c->p) {
		cap_err(c, "%s: %s", dev, eb);
		return -1;
	}
	if (ms < CAPTURE_MIN_TIMEOUT_MS)
		ms = CAPTURE_MIN_TIMEOUT_MS;
	if (ms > INT32_MAX)
		ms = INT32_MAX;
	pcap_set_snaplen(c->p, (int)c->opts.snap_len);
	pcap_set_promisc(c->p, c->opts.promisc);
	pcap_set_timeout(c->p, (int)ms);
	if (c->opts.buffer_size)
		pcap_set_buffer_size(c->p, (int)c->opts.buffer_size);
	/* Nanosecond stamps where the platform has them; µs otherwise. */
	pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO);

	rc = pcap_activate(c->p);
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "%s: %s", dev,
			 rc == PCAP_ERROR ? pcap_geterr(c->p) : pcap_statustostr(rc));
		pcap_close(c->p);
		c->p = NULL;
		return rc;
	}
	if (rc > 0)
		log_warn("%s: %s", dev, rc == PCAP_WARNING ? pcap_geterr(c->p)
			 : pcap_statustostr(rc));
	c->nsec = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	if (pcap_setnonblock(c->p, 1, eb) < 0) {
		cap_err(c, "%s: non-blocking mode: %s", dev, eb);
		goto fail;
	}
	c->fd = pcap_get_selectable_fd(c->p);
	if (c->fd < 0) {
		snprintf(c->err, sizeof(c->err), "%s: no selectable descriptor", dev);
		goto fail;
	}
	c->linktype = pcap_datalink(c->p);
	c->netdev = iface_flags(c, &flags) == 0;
	return 0;
fail:
	pcap_close(c->p);
	c->p = NULL;
	c->fd = -1;
	return -1;
}

/* Down from now on: count the downtime, schedule the first reopen. */
static void capture_down(struct capture *c)
{
	c->fd = -1;
	c->last_recv = c->last_drop = c->last_ifdrop = 0;
	c->tries = 0;
	c->down_since_ns = real_ns();
	c->backoff_ms = CAPTURE_RETRY_MIN_MS;
	c->lost_at_ms = mono_ms();
	c->retry_at_ms = c->lost_at_ms + c->backoff_ms;
}

int capture_open_live(struct capture *c, const char *dev, const struct capture_opts *o)
{
	int rc;

	capture_reset(c);
	snprintf(c->name, sizeof(c->name), "%s", dev);
	c->opts = *o;
	c->linktype = CAPTURE_LINK_UNKNOWN;
	rc = live_activate(c);
	/* Not there yet (PPP, VPN or bridge interfaces at boot): waited for
	 * as for a lost one. */
	if (rc == PCAP_ERROR_IFACE_NOT_UP || rc == PCAP_ERROR_NO_SUCH_DEVICE) {
		capture_down(c);
		return 1;
	}
	if (rc < 0)
		return -1;
	if (!iface_up(c))
		log_warn("%s is down; capturing once it is up", c->name);
	return 0;
}

static void stats_sample(struct capture *c);

/* The live handle failed (c->err says why): close it and go down. */
static void capture_lose(struct capture *c)
{
	/* The dying handle's drops since the last report: kept for the next
	 * one (the next handle's counters start from zero). */
	stats_sample(c);
	pcap_close(c->p);
	c->p = NULL;
	c->lost++;
	capture_down(c);
	log_warn("capture lost: %s; reopening in %u s (then backing off to %u s)", c->err,
		 (unsigned)(CAPTURE_RETRY_MIN_MS / 1000), (unsigned)(CAPTURE_RETRY_MAX_MS / 1000));
}

static void capture_reopen(struct capture *c)
{
	int old_linktype = c->linktype;
	uint64_t now, ms;

	if (live_activate(c) == 0) {
		if (old_linktype != CAPTURE_LINK_UNKNOWN && c->linktype != old_linktype)
			snprintf(c->err, sizeof(c->err), "%s: the link type changed from %d to %d; "
				 "restart d42pcap to capture on it", c->name, old_linktype,
				 c->linktype);
		else if (c->has_prog && pcap_setfilter(c->p, &c->prog) < 0)
			snprintf(c->err, sizeof(c->err), "%s: install filter: %s", c->name,
				 pcap_geterr(c->p));
		else if (!iface_up(c))
			snprintf(c->err, sizeof(c->err), "%s: the interface is down", c->name);
		else
			goto up;
		pcap_close(c->p);
		c->p = NULL;
		c->fd = -1;
		c->linktype = old_linktype;
	}
	/* Each new reason is told: the first is usually "No such device" of
	 * an interface being replaced, and what the new one lacks (a link
	 * type, a filter) would otherwise show only with -debug. */
	if (c->tries++ == 0 || strcmp(c->err, c->err_told) != 0) {
		log_warn("cannot reopen the capture: %s; retrying", c->err);
		snprintf(c->err_told, sizeof(c->err_told), "%s", c->err);
	} else {
		log_debug("cannot reopen the capture (attempt %u): %s", c->tries, c->err);
	}
	c->backoff_ms = c->backoff_ms * 2 > CAPTURE_RETRY_MAX_MS ? CAPTURE_RETRY_MAX_MS
		: c->backoff_ms * 2;
	c->retry_at_ms = mono_ms() + c->backoff_ms;
	return;
up:
	now = real_ns();
	ms = mono_ms() - c->lost_at_ms;
	log_info("capture on %s resumed after %llu.%03u s", c->name,
		 (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
	if (now > c->down_since_ns)
		c->down_ns += now - c->down_since_ns;
	c->down_since_ns = 0;
	c->tries = 0;
}

int capture_live_step(struct capture *c, short revents, capture_fn fn, void *user)
{
	int n;

	if (!c->p) {
		if (mono_ms() >= c->retry_at_ms)
			capture_reopen(c);
		return 0;
	}
	if (mono_ms() >= c->stats_at_ms)
		stats_sample(c);
	if (!(revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)))
		return 0;
	n = capture_dispatch(c, fn, user);
	if (n < 0) {
		capture_lose(c);
		return 0;
	}
	/* libpcap shrugs off ENETDOWN while the interface still exists; an
	 * error event on an interface that is no longer up is a loss too. */
	if ((revents & (POLLERR | POLLHUP | POLLNVAL)) && !iface_up(c)) {
		/* What the kernel buffered before the loss was traffic. */
		n += capture_drain(c, fn, user);
		snprintf(c->err, sizeof(c->err), "%s: the interface went down", c->name);
		capture_lose(c);
	}
	return n;
}

int capture_timeout_ms(const struct capture *c)
{
	uint64_t now;

	if (c->offline || c->p)
		return -1;
	now = mono_ms();
	if (now >= c->retry_at_ms)
		return 0;
	return c->retry_at_ms - now > INT32_MAX ? INT32_MAX : (int)(c->retry_at_ms - now);
}

uint64_t capture_down_ns(struct capture *c, uint64_t now_ns)
{
	uint64_t t = c->down_ns;

	c->down_ns = 0;
	if (c->down_since_ns) {
		if (now_ns > c->down_since_ns)
			t += now_ns - c->down_since_ns;
		/* from now on, also after the clock was set back: else
		 * nothing would count until it caught up again */
		c->down_since_ns = now_ns;
	}
	return t;
}

int capture_open_file(struct capture *c, const char *path)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	int std = strcmp(path, "-") == 0;	/* as pcap_open_offline() */
	FILE *f;

	capture_reset(c);
	c->offline = 1;
	snprintf(c->name, sizeof(c->name), "%s", path);
	f = std ? stdin : fopen(path, "rb");
	if (!f) {
		snprintf(c->err, sizeof(c->err), "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Our own buffer: musl's setvbuf() ignores a size without one. Not
	 * for stdin, which outlives the handle (and may have been read). Without
	 * memory for it the default buffer does, only slower. */
	c->filebuf = std ? NULL : malloc(CAPTURE_FILE_BUFFER);
	if (c->filebuf && setvbuf(f, c->filebuf, _IOFBF, CAPTURE_FILE_BUFFER) != 0) {
		free(c->filebuf);
		c->filebuf = NULL;
	}
	/* libpcap closes the file with the handle, but never stdin. */
	c->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!c->p) {
		snprintf(c->err, sizeof(c->err), "%s: %s", path, eb);
		if (!std)
			fclose(f);
		goto fail;
	}
	c->nsec = 1;
	c->pcapng = pcap_major_version(c->p) == PCAPNG_VERSION_MAJOR;
	c->linktype = pcap_datalink(c->p);
	return 0;
fail:
	free(c->filebuf);
	c->filebuf = NULL;
	return -1;
}

int capture_set_filter(struct capture *c, const char *expr, int dump)
{
	uint64_t t0;
	struct bpf_program prog;
	pcap_t *p = c->p, *dead = NULL;
	int i, rc = -1;

	/* No filter and none installed: nothing to do. With one installed,
	 * "" compiles to accept-all and replaces it. */
	if (!expr)
		expr = "";
	/* Never open yet: no link type to compile for; the caller installs
	 * the filter once it is open. */
	if ((!*expr && !c->has_prog) || (!p && c->linktype == CAPTURE_LINK_UNKNOWN))
		return 0;
	if (!p) {
		/* Down: compile against the link type we will reopen with. */
		dead = pcap_open_dead_with_tstamp_precision(c->linktype, (int)c->opts.snap_len,
							     PCAP_TSTAMP_PRECISION_NANO);
		if (!dead) {
			snprintf(c->err, sizeof(c->err), "filter: out of memory");
			return -1;
		}
		p = dead;
	}
	/* Netmask unknown is fine: we never use "broadcast" primitives. */
	t0 = mono_ms();
	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(c->err, sizeof(c->err), "filter \"%s\": %s", expr, pcap_geterr(p));
		goto out;
	}
	/* libpcap's optimiser is superlinear: hundreds of listed ports or
	 * addresses (three times over in the VLAN-aware form) take seconds,
	 * at every start and reload. Say so rather than seem hung. */
	t0 = mono_ms() - t0;
	if (t0 >= CAPTURE_SLOW_FILTER_MS)
		log_warn("compiling the capture filter took %llu ms (%zu bytes, %u "
			 "instructions): lower pcap.kernel-filter-max or shorten the "
			 "include/ignore lists", (unsigned long long)t0, strlen(expr),
			 prog.bf_len);
	if (dump) {
		/* The instructions as `tcpdump -dd` prints them: libpcap's
		 * mnemonic printer (bpf_image) costs 2.7 KiB of a static build. */
		log_debug("capture filter: %s", expr);
		for (i = 0; i < (int)prog.bf_len; i++)
			log_debug("  { 0x%x, %u, %u, 0x%08x },", prog.bf_insns[i].code,
				  prog.bf_insns[i].jt, prog.bf_insns[i].jf, prog.bf_insns[i].k);
	}
	if (prog.bf_len > CAPTURE_FILTER_MAX_INSNS) {
		snprintf(c->err, sizeof(c->err), "the capture filter is %u instructions, more "
			 "than the kernel's %u", prog.bf_len, CAPTURE_FILTER_MAX_INSNS);
		pcap_freecode(&prog);
		rc = CAPTURE_FILTER_TOO_LONG;
		goto out;
	}
	if (c->p && pcap_setfilter(c->p, &prog) < 0) {
		snprintf(c->err, sizeof(c->err), "install filter: %s", pcap_geterr(c->p));
		pcap_freecode(&prog);
		goto out;
	}
	if (c->has_prog)
		pcap_freecode(&c->prog);
	c->prog = prog;
	c->has_prog = 1;
	rc = 0;
out:
	if (dead)
		pcap_close(dead);
	return rc;
}

struct capture_cb {
	capture_fn fn;
	void *user;
	int nsec;
	int wide;	/* pcapng: seconds in 64 bits */
};

static void capture_handler(u_char *u, const struct pcap_pkthdr *h, const u_char *data)
{
	const struct capture_cb *cb = (const struct capture_cb *)u;
	uint64_t sub = (uint64_t)(uint32_t)h->ts.tv_usec;
	int64_t tv_sec = (int64_t)h->ts.tv_sec;	/* a 32-bit time_t too */
	uint64_t sec, ts;

	/* pcap files store seconds as an unsigned 32-bit number (valid to
	 * 2106); libpcap before 1.10.5 hands values past 2038 over as
	 * negative. pcapng's 64-bit stamps go further than nanoseconds in 64
	 * bits; past 2^63 s libpcap makes them negative too: the limit. But
	 * a pcapng interface's if_tsoffset is signed: a little before 1970
	 * (until 2026-11-29 taken for the limit, 2508, with every packet
	 * after it) is 1970's first instant. */
	if (tv_sec >= 0)
		sec = (uint64_t)tv_sec;
	else if (!cb->wide)
		sec = (uint32_t)tv_sec;
	else if (tv_sec >= -(int64_t)CAPTURE_MAX_SEC)
		sec = sub = 0;
	else
		sec = CAPTURE_MAX_SEC;
	if (sec > CAPTURE_MAX_SEC)
		sec = CAPTURE_MAX_SEC;
	ts = sec * NS_PER_SEC + (cb->nsec ? sub : sub * NS_PER_US);
	cb->fn(cb->user, ts, data, h->caplen, h->len);
}

int capture_dispatch(struct capture *c, capture_fn fn, void *user)
{
	struct capture_cb cb = { fn, user, c->nsec, c->pcapng };
	int n;

	n = pcap_dispatch(c->p, CAPTURE_BATCH, capture_handler, (u_char *)&cb);
	if (n == PCAP_ERROR) {
		snprintf(c->err, sizeof(c->err), "%s: %s", c->name, pcap_geterr(c->p));
		return -1;
	}
	if (n == PCAP_ERROR_BREAK)
		return 0;
	if (n == 0 && c->offline)
		return -2;
	return n;
}

int capture_drain(struct capture *c, capture_fn fn, void *user)
{
	unsigned batches;
	int n = 0, m;

	if (!c->p || c->offline)
		return 0;
	for (batches = 0; batches < CAPTURE_DRAIN_BATCHES; batches++) {
		m = capture_dispatch(c, fn, user);
		if (m <= 0)
			break;
		n += m;
	}
	return n;
}

void capture_break(struct capture *c)
{
	if (c->p)
		pcap_breakloop(c->p);
}

/* Counters are 32-bit and cumulative: unsigned subtraction survives one
 * wrap between two calls. One that went back is not a wrap: libpcap's
 * ps_ifdrop follows the interface's rx_missed_errors + rx_fifo_errors,
 * which a driver resets (down/up, reload) and which read as 0 once the
 * interface is gone; the difference was then reported as 4 billion drops.
 * Nothing is known of such a stretch, so it counts none. */
static uint32_t counter_delta(u_int now, u_int before)
{
	uint32_t d = (uint32_t)(now - before);

	return d > INT32_MAX ? 0 : d;
}

/* Adds the drops since the last sample to those not reported yet. */
static void stats_sample(struct capture *c)
{
	struct pcap_stat ps;

	c->stats_at_ms = mono_ms() + CAPTURE_STATS_MS;
	if (c->offline || !c->p || pcap_stats(c->p, &ps) < 0)
		return;
	c->lost_drop += counter_delta(ps.ps_drop, c->last_drop);
	c->lost_ifdrop += counter_delta(ps.ps_ifdrop, c->last_ifdrop);
	c->last_recv = ps.ps_recv;
	c->last_drop = ps.ps_drop;
	c->last_ifdrop = ps.ps_ifdrop;
}

void capture_drops(struct capture *c, uint64_t *kernel, uint64_t *iface)
{
	stats_sample(c);
	*kernel = c->lost_drop;
	*iface = c->lost_ifdrop;
	c->lost_drop = c->lost_ifdrop = 0;
}

void capture_close(struct capture *c)
{
	if (c->p)
		pcap_close(c->p);
	free(c->filebuf);	/* after the file it buffered is closed */
	c->filebuf = NULL;
	if (c->has_prog)
		pcap_freecode(&c->prog);
	c->has_prog = 0;
	c->p = NULL;
	c->fd = -1;
}

static void capture_print_addr(FILE *out, const struct sockaddr *sa)
{
	char buf[ADDR_STR_MAX];

	if (sa && sa->sa_family == AF_INET)
		fprintf(out, " %s", addr_fmt(4, (const uint8_t *)&((const struct sockaddr_in *)
				(const void *)sa)->sin_addr, buf, sizeof(buf)));
	else if (sa && sa->sa_family == AF_INET6)
		fprintf(out, " %s", addr_fmt(6, ((const struct sockaddr_in6 *)
				(const void *)sa)->sin6_addr.s6_addr, buf, sizeof(buf)));
}

int capture_list_devices(FILE *out)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	pcap_if_t *all, *d;
	pcap_addr_t *a;

	if (pcap_findalldevs(&all, eb) < 0) {
		log_err("cannot list devices: %s", eb);
		return -1;
	}
	for (d = all; d; d = d->next) {
		fprintf(out, "%s", d->name);
		if (d->flags & PCAP_IF_UP)
			fprintf(out, " [up]");
		if (d->flags & PCAP_IF_LOOPBACK)
			fprintf(out, " [loopback]");
		for (a = d->addresses; a; a = a->next)
			capture_print_addr(out, a->addr);
		if (d->description)
			fprintf(out, " (%s)", d->description);
		fputc('\n', out);
	}
	pcap_freealldevs(all);
	return 0;
}
