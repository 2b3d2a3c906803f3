/* libpcap wrapper. Live captures are activated with pcap_create() so every
 * knob (snap length, promiscuous mode, timeout, buffer) is applied before the
 * ring is mapped, then put in non-blocking mode for the poll() loop. */
#include "capture.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define NS_PER_MS   1000000ULL
#define NS_PER_US   1000ULL
#define NS_PER_SEC  1000000000ULL
#define CAPTURE_MIN_TIMEOUT_MS 1

static void capture_reset(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

int capture_open_live(struct capture *c, const char *dev, const struct capture_opts *o)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	uint64_t ms = o->timeout_ns / NS_PER_MS;
	int rc;

	capture_reset(c);
	snprintf(c->name, sizeof(c->name), "%s", dev);
	c->p = pcap_create(dev, eb);
	if (!c->p) {
		snprintf(c->err, sizeof(c->err), "%s: %s", dev, eb);
		return -1;
	}
	if (ms < CAPTURE_MIN_TIMEOUT_MS)
		ms = CAPTURE_MIN_TIMEOUT_MS;
	if (ms > INT32_MAX)
		ms = INT32_MAX;
	pcap_set_snaplen(c->p, (int)o->snap_len);
	pcap_set_promisc(c->p, o->promisc);
	pcap_set_timeout(c->p, (int)ms);
	if (o->buffer_size)
		pcap_set_buffer_size(c->p, (int)o->buffer_size);
	/* Nanosecond stamps where the platform has them; µs otherwise. */
	if (pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_NANO) == 0)
		c->nsec = 1;

	rc = pcap_activate(c->p);
	if (rc < 0) {
		snprintf(c->err, sizeof(c->err), "%s: %s", dev,
			 rc == PCAP_ERROR ? pcap_geterr(c->p) : pcap_statustostr(rc));
		goto fail;
	}
	if (rc > 0)
		log_warn("%s: %s", dev, rc == PCAP_WARNING ? pcap_geterr(c->p)
			 : pcap_statustostr(rc));
	c->nsec = pcap_get_tstamp_precision(c->p) == PCAP_TSTAMP_PRECISION_NANO;
	if (pcap_setnonblock(c->p, 1, eb) < 0) {
		snprintf(c->err, sizeof(c->err), "%s: non-blocking mode: %s", dev, eb);
		goto fail;
	}
	c->fd = pcap_get_selectable_fd(c->p);
	if (c->fd < 0) {
		snprintf(c->err, sizeof(c->err), "%s: no selectable descriptor", dev);
		goto fail;
	}
	c->linktype = pcap_datalink(c->p);
	return 0;
fail:
	pcap_close(c->p);
	c->p = NULL;
	return -1;
}

int capture_open_file(struct capture *c, const char *path)
{
	char eb[PCAP_ERRBUF_SIZE] = "";

	capture_reset(c);
	c->offline = 1;
	snprintf(c->name, sizeof(c->name), "%s", path);
	c->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!c->p) {
		snprintf(c->err, sizeof(c->err), "%s: %s", path, eb);
		return -1;
	}
	c->nsec = 1;
	c->linktype = pcap_datalink(c->p);
	return 0;
}

int capture_set_filter(struct capture *c, const char *expr, int dump)
{
	struct bpf_program prog;
	int i;

	if (!expr || !*expr)
		return 0;
	/* Netmask unknown is fine: we never use "broadcast" primitives. */
	if (pcap_compile(c->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(c->err, sizeof(c->err), "filter \"%s\": %s", expr, pcap_geterr(c->p));
		return -1;
	}
	if (dump) {
		log_debug("capture filter: %s", expr);
		for (i = 0; i < (int)prog.bf_len; i++)
			log_debug("  %s", bpf_image(&prog.bf_insns[i], i));
	}
	if (pcap_setfilter(c->p, &prog) < 0) {
		snprintf(c->err, sizeof(c->err), "install filter: %s", pcap_geterr(c->p));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

struct capture_cb {
	capture_fn fn;
	void *user;
	int nsec;
};

static void capture_handler(u_char *u, const struct pcap_pkthdr *h, const u_char *data)
{
	const struct capture_cb *cb = (const struct capture_cb *)u;
	uint64_t sub = (uint64_t)(uint32_t)h->ts.tv_usec;
	uint64_t ts;

	/* Hostile files can carry negative seconds or sub-second fields out
	 * of range; clamp rather than wrap. */
	ts = h->ts.tv_sec < 0 ? 0 : (uint64_t)h->ts.tv_sec * NS_PER_SEC;
	ts += cb->nsec ? sub : sub * NS_PER_US;
	cb->fn(cb->user, ts, data, h->caplen, h->len);
}

int capture_dispatch(struct capture *c, capture_fn fn, void *user)
{
	struct capture_cb cb = { fn, user, c->nsec };
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

void capture_drops(struct capture *c, uint64_t *kernel, uint64_t *iface)
{
	struct pcap_stat ps;

	*kernel = *iface = 0;
	if (c->offline || !c->p || pcap_stats(c->p, &ps) < 0)
		return;
	/* Counters are 32-bit and cumulative; unsigned subtraction survives
	 * one wrap between two calls. */
	*kernel = (uint32_t)(ps.ps_drop - c->last_drop);
	*iface = (uint32_t)(ps.ps_ifdrop - c->last_ifdrop);
	c->last_recv = ps.ps_recv;
	c->last_drop = ps.ps_drop;
	c->last_ifdrop = ps.ps_ifdrop;
}

void capture_close(struct capture *c)
{
	if (c->p)
		pcap_close(c->p);
	c->p = NULL;
	c->fd = -1;
}

static void capture_print_addr(FILE *out, const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN];

	if (!sa)
		return;
	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		      buf, sizeof(buf)))
		fprintf(out, " %s", buf);
	else if (sa->sa_family == AF_INET6 &&
		 inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			   buf, sizeof(buf)))
		fprintf(out, " %s", buf);
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
