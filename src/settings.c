/* Capture filter installation and SIGHUP reload. A reload never leaves the
 * agent half-configured: the file is loaded into a scratch struct, and only
 * settings that can change under a running capture are copied over, each
 * group only once it took effect. Everything else (memory sizes, files and
 * connections held for the whole run, privileges) is reported as needing a
 * restart. */
#include "settings.h"
#include "agent.h"
#include "capture.h"
#include "decode.h"
#include "filter.h"
#include "log.h"
#include "priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define SETTINGS_MSG_MAX  1024
#define SETTINGS_LIST_MAX 512	/* "applied: a, b, ..." in the reload message */

struct field {
	const char *key;
	size_t off, size;
};

#define FIELD(k, m) { k, offsetof(struct config, m), sizeof(((struct config *)0)->m) }

/* Sized memory, files and connections opened once, privileges. */
static const struct field restart_fields[] = {
	FIELD("device42.Host", host),
	FIELD("device42.User", user),
	FIELD("device42.Password", password),
	FIELD("device42.password-file", password_file),
	FIELD("device42.ca-file", ca_file),
	FIELD("device42.tls-fingerprint", tls_fingerprint),
	FIELD("device42.verify-tls", verify_tls),
	FIELD("device42.proxy", proxy),
	FIELD("device42.upload-mode", upload_mode),
	FIELD("device42.sample-path", sample_path),
	FIELD("device42.timeout", timeout),
	FIELD("common.output", output),
	FIELD("common.output-max-bytes", output_max_bytes),
	FIELD("common.max-flows", max_flows),
	FIELD("common.max-listeners", max_listeners),
	FIELD("common.listener-ttl", listener_ttl),
	FIELD("common.spool-dir", spool_dir),
	FIELD("common.spool-max-bytes", spool_max_bytes),
	FIELD("common.spool-max-files", spool_max_files),
	FIELD("common.user", user_name),
	FIELD("common.chroot", chroot),
	FIELD("pcap.promiscuous-mode", promisc),
	FIELD("pcap.sniff-timeout", sniff_timeout_ns),
	FIELD("pcap.snap-length", snap_len),
	FIELD("pcap.buffer-size", buffer_size),
};

/* Read at every packet or report: copying them is enough. */
static const struct field flag_fields[] = {
	FIELD("capture.live-entries", live_entries),
	FIELD("capture.live-entries-ok", live_ok),
	FIELD("capture.live-entries-nok", live_nok),
	FIELD("capture.print-data", print_data),
	FIELD("capture.unprocessed-packets", unprocessed_packets),
	FIELD("capture.only-stats", only_stats),
	FIELD("common.pretty", pretty),
	/* accepted for compatibility, no effect */
	FIELD("capture.pass-to", pass_to),
	FIELD("capture.default-protocol", default_protocol),
	FIELD("capture.report-any-ip", report_any_ip),
	FIELD("capture.report-src-ip", report_src_ip),
	FIELD("capture.report-dst-ip", report_dst_ip),
};

/* The inputs of filter_build(): applied together by recompiling. */
static const struct field filter_fields[] = {
	FIELD("pcap.include-source-tcp-ports", inc_src_tcp_ports),
	FIELD("pcap.include-destination-tcp-ports", inc_dst_tcp_ports),
	FIELD("pcap.include-source-udp-ports", inc_src_udp_ports),
	FIELD("pcap.include-destination-udp-ports", inc_dst_udp_ports),
	FIELD("pcap.include-source-tcp-ips", inc_src_tcp_ips),
	FIELD("pcap.include-dest-tcp-ips", inc_dst_tcp_ips),
	FIELD("pcap.include-source-udp-ips", inc_src_udp_ips),
	FIELD("pcap.include-dest-udp-ips", inc_dst_udp_ips),
	FIELD("pcap.ignore-tcp", ignore_tcp),
	FIELD("pcap.ignore-udp", ignore_udp),
	FIELD("capture.ignore-ips", ignore_ips),
	FIELD("capture.ignore-ports", ignore_ports),
	FIELD("pcap.kernel-filter-max", kernel_filter_max),
};

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* Static: a struct config is tens of KiB, and reloads run one at a time
 * from the main loop. */
static struct config scratch;
static char scratch_expr[FILTER_MAX_EXPR];

static int filter_install(struct capture *cap, const struct config *c, int dump,
			  char *expr, size_t exprsz, char *err, size_t errsz)
{
	/* Ethernet gets the VLAN-aware form, cooked captures theirs; other
	 * link types (or a libpcap that refuses those) the plain one. */
	enum filter_link link = cap->linktype == DLT_EN10MB ? FILTER_LINK_ETHER :
				cap->linktype == DLT_LINUX_SLL ||
				cap->linktype == DLT_LINUX_SLL2 ? FILTER_LINK_COOKED :
				FILTER_LINK_PLAIN;

	int rc;

	if (filter_build(c, link, expr, exprsz) < 0) {
		snprintf(err, errsz, SETTINGS_FILTER_BAD);
		return -1;
	}
	rc = capture_set_filter(cap, expr, dump);
	if (rc == CAPTURE_FILTER_TOO_LONG) {
		/* filter_match() checks the lists after decoding anyway. */
		log_warn("%s: the include/ignore lists are matched after decoding instead "
			 "(lower pcap.kernel-filter-max to save compiling it)", cap->err);
		if (filter_build_short(c, link, expr, exprsz) < 0) {
			snprintf(err, errsz, SETTINGS_FILTER_BAD);
			return -1;
		}
		rc = capture_set_filter(cap, expr, dump);
	}
	if (rc == 0)
		return 0;
	if (link != FILTER_LINK_PLAIN) {
		log_debug("%s; retrying without VLAN matching", cap->err);
		if (filter_build(c, FILTER_LINK_PLAIN, expr, exprsz) == 0 &&
		    capture_set_filter(cap, expr, dump) == 0)
			return 0;
	}
	snprintf(err, errsz, "cannot install the capture filter: %s", cap->err);
	return -1;
}

int settings_filter(struct capture *cap, const struct config *c, int dump,
		    char *expr, size_t exprsz, char *err, size_t errsz)
{
	if (filter_install(cap, c, dump, expr, exprsz, err, errsz) == 0)
		return 0;
	return decode_link_supported(cap->linktype) ? -1 : SETTINGS_FILTER_UNFILTERED;
}

static const void *fptr(const struct config *c, const struct field *f)
{
	return (const char *)c + f->off;
}

static int differs(const struct config *a, const struct config *b, const struct field *f)
{
	return memcmp(fptr(a, f), fptr(b, f), f->size) != 0;
}

static void copy(struct config *to, const struct config *from, const struct field *f)
{
	memcpy((char *)to + f->off, fptr(from, f), f->size);
}

/* Appends ", key" to the applied list (truncated with "..." if long). */
static void note(char *list, const char *key)
{
	size_t len = strlen(list);

	if (len + strlen(key) + 8 >= SETTINGS_LIST_MAX) {
		if (len + 4 < SETTINGS_LIST_MAX && (len < 3 || strcmp(list + len - 3, "...")))
			memcpy(list + len, "...", 4);
		return;
	}
	snprintf(list + len, SETTINGS_LIST_MAX - len, "%s%s", len ? ", " : "", key);
}

static int filters_differ(const struct config *a, const struct config *b)
{
	unsigned i;

	for (i = 0; i < NFIELDS(filter_fields); i++)
		if (differs(a, b, &filter_fields[i]))
			return 1;
	return 0;
}

/* -1 if the new lists cannot make a filter (as start-up would refuse
 * them): then nothing of the file is applied. */
static int apply_filters(const struct settings_env *e, const struct config *n, char *list)
{
	char err[SETTINGS_MSG_MAX];
	unsigned i;
	int rc;

	if (!filters_differ(e->cfg, n))
		return 0;
	rc = settings_filter(e->cap, n, log_enabled(LOG_LVL_DEBUG), scratch_expr,
			     sizeof(scratch_expr), err, sizeof(err));
	if (rc < 0) {
		log_err("SIGHUP: %s: %s; keeping the current settings", e->path, err);
		return -1;
	}
	if (rc == SETTINGS_FILTER_UNFILTERED)
		log_warn("SIGHUP: %s: %s; counting its packets unfiltered", e->path, err);
	snprintf(e->filter_expr, e->filter_sz, "%s", scratch_expr);
	for (i = 0; i < NFIELDS(filter_fields); i++)
		if (differs(e->cfg, n, &filter_fields[i])) {
			copy(e->cfg, n, &filter_fields[i]);
			note(list, filter_fields[i].key);
		}
	agent_set_filters(e->agent);
	return 0;
}

/* dir is the running spool's directory (the spool-dir running, not the
 * file's: a change of it needs a restart). */
static int spool_holds(const struct settings_env *e, const char *dir)
{
	char spool[CFG_MAX_PATH + CFG_MAX_STR];

	if (!e->cfg->host[0] && !e->cfg->spool_dir[0])
		return 0;
	config_spool_path(e->cfg, e->path, spool, sizeof(spool));
	return config_same_dir(dir, spool);
}

static void apply_log(const struct settings_env *e, const struct config *n, char *list)
{
	struct config *c = e->cfg;

	if (strcmp(c->logs_dir, n->logs_dir)) {
		if (!n->logs_dir[0]) {
			log_close();
			memcpy(c->logs_dir, n->logs_dir, sizeof(c->logs_dir));
			note(list, "common.logs-dir");
		} else if (log_open(n->logs_dir, 0) < 0) {
			log_warn("SIGHUP: cannot open the log in %s; keeping the current one",
				 n->logs_dir);
		} else {
			memcpy(c->logs_dir, n->logs_dir, sizeof(c->logs_dir));
			note(list, "common.logs-dir");
		}
	}
	if (c->log_max_bytes != n->log_max_bytes || c->log_max_files != n->log_max_files) {
		log_set_rotation(n->log_max_bytes, n->log_max_files);
		if (c->log_max_bytes != n->log_max_bytes)
			note(list, "common.log-max-bytes");
		if (c->log_max_files != n->log_max_files)
			note(list, "common.log-max-files");
		c->log_max_bytes = n->log_max_bytes;
		c->log_max_files = n->log_max_files;
	}
	if (c->syslog != n->syslog) {
		log_set_syslog(n->syslog);
		c->syslog = n->syslog;
		note(list, "common.syslog");
	}
}

void settings_reload(const struct settings_env *e)
{
	struct config *c = e->cfg, *n = &scratch;
	struct cfg_error err;
	char msg[SETTINGS_MSG_MAX], list[SETTINGS_LIST_MAX] = "";
	unsigned i, restart = 0;

	/* First, so that what follows lands in the new file (logrotate). */
	if (log_reopen() < 0)
		log_warn("SIGHUP: cannot reopen the log file: %s", strerror(errno));
	if (e->chrooted) {
		log_warn("SIGHUP: the settings cannot be reloaded inside the chroot; "
			 "keeping the current ones (restart d42pcap to change them)");
		return;
	}
	if (config_reload_file(n, e->path, &err) < 0) {
		config_format_error(&err, e->path, msg, sizeof(msg));
		log_err("SIGHUP: %s; keeping the current settings", msg);
		return;
	}
	if (n->password_unread)	/* not a change: unknown, and warned about */
		memcpy(n->password, c->password, sizeof(n->password));
	if (n->world_readable_password)
		log_warn("%s holds a password and is readable by other users; "
			 "chmod 600 it or use device42.password-file", e->path);
	/* The command line's values stand over the file's, as at start-up:
	 * unchanged, so nothing below applies or warns about them. */
	if (e->cli_set & SETTINGS_CLI_DEVICE)
		memcpy(n->device, c->device, sizeof(n->device));
	if (e->cli_set & SETTINGS_CLI_LOGS_DIR)
		memcpy(n->logs_dir, c->logs_dir, sizeof(n->logs_dir));
	if (e->cli_set & SETTINGS_CLI_USER)
		memcpy(n->user_name, c->user_name, sizeof(n->user_name));

	/* What start-up refuses refuses the whole file, before any of it
	 * is applied: a reload never leaves the agent half-configured. */
	if (n->logs_dir[0] && strcmp(c->logs_dir, n->logs_dir) &&
	    spool_holds(e, n->logs_dir)) {
		log_err("SIGHUP: %s: common.logs-dir %s is the spool directory, which needs a "
			"directory of its own; keeping the current settings", e->path, n->logs_dir);
		return;
	}
	/* As start-up (main.c): a file it would refuse must not be taken
	 * now and then stop the restart it asks for. -user was checked
	 * there, and is not the file's to refuse. */
	if (!(e->cli_set & SETTINGS_CLI_USER) && n->user_name[0] &&
	    priv_check_user(n->user_name, msg, sizeof(msg)) < 0) {
		log_err("SIGHUP: %s: common.user: %s; keeping the current settings",
			e->path, msg);
		return;
	}
	if (n->chroot && !n->user_name[0]) {
		log_err("SIGHUP: %s: common.chroot needs a user to switch to (common.user "
			"or -user); keeping the current settings", e->path);
		return;
	}
	if (apply_filters(e, n, list) < 0)
		return;
	for (i = 0; i < NFIELDS(restart_fields); i++)
		if (differs(c, n, &restart_fields[i])) {
			log_warn("SIGHUP: %s changed; restart d42pcap to apply it",
				 restart_fields[i].key);
			restart++;
		}
	if (strcmp(c->device, n->device)) {
		log_warn("SIGHUP: pcap.Device changed; restart d42pcap to apply it");
		restart++;
	}
	if (c->interval != n->interval) {
		if (e->agent->offline) {
			log_warn("SIGHUP: common.Interval cannot change while reading a file");
			restart++;
		} else {
			agent_set_interval(e->agent, n->interval);
			c->interval = n->interval;
			note(list, "common.Interval");
		}
	}
	for (i = 0; i < NFIELDS(flag_fields); i++)
		if (differs(c, n, &flag_fields[i])) {
			copy(c, n, &flag_fields[i]);
			note(list, flag_fields[i].key);
		}
	apply_log(e, n, list);
	agent_drain(e->agent);	/* per-packet output may have been switched */
	log_info("SIGHUP: reloaded %s; applied: %s%s", e->path, list[0] ? list : "nothing",
		 restart ? "; some changes need a restart (see above)" : "");
}
