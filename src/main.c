/* d42pcap: set up, run one poll() loop, tear down. */
#include "agent.h"
#include "capture.h"
#include "cli.h"
#include "config.h"
#include "d42.h"
#include "filter.h"
#include "log.h"
#include "output.h"
#include "priv.h"
#include "settings.h"
#include "sig.h"
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mbedtls/version.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define EXIT_UNDELIVERED 3	/* -r with an appliance: reports left in the spool or lost,
				 * or refused and set aside */
#define DEFAULT_SETTINGS_NAME "d42pcap.json"
#define NS_PER_SEC 1000000000ULL
#define NS_PER_MS  1000000ULL

enum { PFD_SIG, PFD_CAP, PFD_HTTP, PFD_COUNT };

static struct config cfg;
static struct agent agent;
static struct spool *spool;	/* with an appliance: where reports wait */
static char filter_expr[FILTER_MAX_EXPR];
static char settings_file[PATH_MAX + CFG_MAX_STR];
static unsigned cli_set;	/* SETTINGS_CLI_*: the fields the command line set */

static uint64_t now_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

/* The shorter of two poll timeouts, -1 meaning none. */
static int min_timeout(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

static uint64_t random_seed(void)
{
	uint64_t s = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &s, sizeof(s)) != (ssize_t)sizeof(s))
			s = 0;
		close(fd);
	}
	/* Without /dev/urandom (tiny chroots) fall back to weaker entropy. */
	return s ? s : now_realtime_ns() ^ ((uint64_t)getpid() << 32);
}

/* The settings file: -settings-dir/-settings-name, else d42pcap.json in the
 * directory of the executable, as the original does. */
static void settings_path(const struct cli *o, const char *argv0, char *out, size_t sz)
{
	char exe[PATH_MAX];
	const char *dir = o->settings_dir;
	const char *name = o->settings_name ? o->settings_name : DEFAULT_SETTINGS_NAME;
	ssize_t n;
	char *slash;

	if (!dir) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0) {
			snprintf(exe, sizeof(exe), "%s", argv0);
			n = (ssize_t)strlen(exe);
		}
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(exe, sizeof(exe), ".");
		dir = exe;
	}
	snprintf(out, sz, "%s/%s", dir, name);
}

static void load_settings(const struct cli *o, const char *argv0)
{
	char *path = settings_file, msg[1024];
	struct cfg_error err;
	int explicit_path = o->settings_dir || o->settings_name;

	settings_path(o, argv0, path, sizeof(settings_file));
	config_defaults(&cfg);
	if (!explicit_path && o->read_file && access(path, F_OK) < 0) {
		log_info("no %s: reading %s with default settings", path, o->read_file);
		return;
	}
	if (config_load_file(&cfg, path, &err) < 0) {
		config_format_error(&err, path, msg, sizeof(msg));
		fatal(EXIT_USAGE, "%s", msg);
	}
	if (cfg.world_readable_password)
		log_warn("%s holds a password and is readable by other users; "
			 "chmod 600 it or use device42.password-file", path);
}

/* Once the capture is open, and its link type known: 0, or -1 with err. */
static int capture_ready(struct capture *cap, char *err, size_t errsz)
{
	int rc;

	if (!decode_link_supported(cap->linktype))
		log_warn("%s: link type %s (%d) is not decoded; packets are only counted",
			 cap->name, pcap_datalink_val_to_name(cap->linktype)
			 ? pcap_datalink_val_to_name(cap->linktype) : "?", cap->linktype);
	rc = settings_filter(cap, &cfg, log_enabled(LOG_LVL_DEBUG), filter_expr,
			     sizeof(filter_expr), err, errsz);
	if (rc == SETTINGS_FILTER_UNFILTERED)
		log_warn("%s: %s; counting its packets unfiltered", cap->name, err);
	return rc < 0 ? -1 : 0;
}

static void log_stop(void)
{
	const char *name;
	long pid;

	sig_stop_from(&name, &pid);
	if (pid > 0)
		log_info("stopping on %s from pid %ld", name, pid);
	else
		log_info("stopping on %s", name);
}

/* The command line's -i, -logs-dir and -user replace the file's values
 * once, so that the run and -check-config (which printed the file's until
 * 2026-11-29) read cfg alone; a reload keeps them (settings.c). One that
 * does not fit its field is refused. */
static void apply_overrides(const struct cli *o)
{
	const struct { const char *v, *flag; char *dst; size_t sz; unsigned bit; } ov[] = {
		{ o->iface, "-i", cfg.device, sizeof(cfg.device), SETTINGS_CLI_DEVICE },
		{ o->logs_dir, "-logs-dir", cfg.logs_dir, sizeof(cfg.logs_dir),
		  SETTINGS_CLI_LOGS_DIR },
		{ o->user, "-user", cfg.user_name, sizeof(cfg.user_name), SETTINGS_CLI_USER },
	};
	size_t i;

	for (i = 0; i < sizeof(ov) / sizeof(ov[0]); i++) {
		if (!ov[i].v)
			continue;
		if ((size_t)snprintf(ov[i].dst, ov[i].sz, "%s", ov[i].v) >= ov[i].sz)
			fatal(EXIT_USAGE, "%s: longer than %zu bytes", ov[i].flag, ov[i].sz - 1);
		cli_set |= ov[i].bit;
	}
}

static void open_capture(struct capture *cap, const struct cli *o)
{
	char err[CAPTURE_ERR_SIZE];
	struct capture_opts co = { cfg.snap_len, cfg.promisc, cfg.sniff_timeout_ns,
				   cfg.buffer_size };
	int rc;

	if (o->read_file) {
		/* A FIFO without a writer yet blocks in open(), which SIGTERM
		 * interrupts: a clean stop, not a failure to read. */
		if (capture_open_file(cap, o->read_file) < 0) {
			if (sig_stopping()) {
				log_stop();
				log_info("stopped before %s was opened", o->read_file);
				exit(0);
			}
			fatal(EXIT_RUNTIME, "cannot read capture %s", cap->err);
		}
	} else {
		if (!cfg.device[0])
			fatal(EXIT_USAGE, "no capture interface: set pcap.Device in the "
			      "settings or use -i (see -list-devices)");
		rc = capture_open_live(cap, cfg.device, &co);
		if (rc < 0)
			fatal(EXIT_RUNTIME, "cannot capture on %s", cap->err);
		if (rc > 0) {
			log_warn("cannot capture on %s yet; opening it once it is there "
				 "(see -list-devices)", cap->err);
			return;
		}
	}
	if (capture_ready(cap, err, sizeof(err)) < 0)
		fatal(EXIT_USAGE, "%s", err);
}

/* The log file (rotated by size) and syslog, both opened while still root. */
static void open_log(void)
{
	log_set_rotation(cfg.log_max_bytes, cfg.log_max_files);
	log_set_syslog(cfg.syslog);
	if (log_open(cfg.logs_dir, 1) < 0)
		log_warn("cannot open the log in %s: %s; logging to stderr", cfg.logs_dir,
			 strerror(errno));
}

/* An unknown user is a settings error (exit 2, so that a supervisor does
 * not restart in vain), and -check-config says so too. */
static void check_user(void)
{
	char err[PRIV_ERR_MAX];

	if (cfg.user_name[0] && priv_check_user(cfg.user_name, err, sizeof(err)) < 0)
		fatal(EXIT_USAGE, "%s: %s", cli_set & SETTINGS_CLI_USER ? "-user" : "common.user",
		      err);
}

/* The appliance's client (the CA file parsed, say); sp NULL for
 * -check-config, which opens no spool. */
static struct d42 *new_appliance(struct spool *sp)
{
	char err[CAPTURE_ERR_SIZE];
	struct d42 *d = d42_new(&cfg, sp, err, sizeof(err));

	if (!d)
		fatal(EXIT_USAGE, "device42.Host \"%s\": %s", cfg.host, err);
	return d;
}

/* The spool moves aside every file it did not write: the log must not be
 * one of them, whatever the two directories are called. */
static void check_spool_apart(void)
{
	char dir[PATH_MAX + CFG_MAX_STR];

	if (!cfg.host[0] && !cfg.spool_dir[0])
		return;		/* no spool */
	config_spool_path(&cfg, settings_file, dir, sizeof(dir));
	if (cfg.logs_dir[0] && config_same_dir(cfg.logs_dir, dir))
		fatal(EXIT_USAGE, "the spool directory %s is also the log directory%s; the "
		      "spool needs a directory of its own", dir,
		      cli_set & SETTINGS_CLI_LOGS_DIR ? " (-logs-dir)" : "");
}

/* A report the spool cannot hold is lost whole: say so at start-up (and
 * -check-config), not when the table first fills. */
static void check_spool_size(void)
{
	/* pretty applies to the spooled reports too */
	uint64_t full = (uint64_t)cfg.max_flows *
			(cfg.pretty ? REPORT_REC_PRETTY_BYTES : REPORT_REC_BYTES);
	/* the smallest spool-max-bytes is 64 KiB: not "0 MiB" */
	int kib = cfg.spool_max_bytes < (1u << 20);

	if (cfg.host[0] && full > cfg.spool_max_bytes)
		log_warn("a full table (common.max-flows %u) makes a report of about %llu %s, "
			 "more than common.spool-max-bytes (%llu %s) holds: such a report "
			 "would be lost", cfg.max_flows,
			 (unsigned long long)(full >> (kib ? 10 : 20)), kib ? "KiB" : "MiB",
			 (unsigned long long)(cfg.spool_max_bytes >> (kib ? 10 : 20)),
			 kib ? "KiB" : "MiB");
}

/* With an appliance configured, reports go to the spool and d42 delivers
 * them; otherwise straight to the local output. */
static struct d42 *open_delivery(const struct cli *o, struct spool **sp, struct output *out,
				 struct agent_output *ao)
{
	char dir[PATH_MAX + CFG_MAX_STR];
	/* -output is the default; a common.output the user set wins */
	const char *path = cfg.output[0] || !o->output ? cfg.output : o->output;
	struct d42 *d;

	if (!cfg.host[0]) {
		if (output_open(out, path, cfg.output_max_bytes) < 0)
			fatal(EXIT_RUNTIME, "cannot open output %s: %s", path, strerror(errno));
		output_bind(out, ao);
		return NULL;
	}
	config_spool_path(&cfg, settings_file, dir, sizeof(dir));
	*sp = spool_open(dir, cfg.spool_max_bytes, cfg.spool_max_files);
	if (!*sp)
		fatal(EXIT_RUNTIME, "cannot open the spool in %s: %s", dir, strerror(errno));
	d = new_appliance(*sp);
	output_bind_spool(*sp, ao);
	return d;
}

/* The log and the spool go on being written after the switch. */
static void give_files(uid_t uid, gid_t gid, const char *user)
{
	if (log_chown(uid, gid) < 0)
		log_warn("cannot give the log file to %s: %s; SIGHUP will not reopen it",
			 user, strerror(errno));
	if (spool && spool_chown(spool, uid, gid) < 0)
		log_warn("cannot give the spool to %s: %s; reports it cannot write are lost",
			 user, strerror(errno));
}

/* -user / common.user, optionally chrooted to the spool directory. Returns
 * whether the process is now chrooted. */
static int drop_privileges(const struct capture *cap)
{
	char dir[PATH_MAX + CFG_MAX_STR], err[PRIV_ERR_MAX];
	struct priv_opts po = { cfg.user_name, NULL, !cap->offline, give_files };

	if (cfg.chroot) {
		config_spool_path(&cfg, settings_file, dir, sizeof(dir));
		po.chroot_dir = dir;
	}
	if (priv_drop(&po, err, sizeof(err)) < 0)
		fatal(EXIT_RUNTIME, "cannot drop privileges: %s", err);
	if (po.user[0])
		log_check_dir();
	return po.chroot_dir != NULL;
}

int main(int argc, char **argv)
{
	struct cli opt;
	struct capture cap;
	struct output out;
	struct agent_output ao;
	struct pollfd pfd[PFD_COUNT] = { { 0 } };
	struct d42 *d42 = NULL;
	struct d42_stats ds;
	struct spool_stats ss;
	uint64_t lost_before = 0;	/* reports the spool had dropped at start */
	struct settings_env env;
	char err[CLI_ERR_MAX];
	unsigned sigs, i;
	int timeout, n, rc = 0, capturing = 1, paused = 0;

	/* ---- set up ---- */
	/* Started with 0-2 closed (by a careless supervisor), the signal pipe
	 * would take their numbers and receive the reports: hold them. */
	while ((n = open("/dev/null", O_RDWR)) >= 0 && n <= STDERR_FILENO)
		;
	if (n > STDERR_FILENO)
		close(n);
	if (cli_parse(argc, argv, &opt, err, sizeof(err)) < 0) {
		fprintf(stderr, "d42pcap: %s\n", err);
		cli_usage(stderr);
		return EXIT_USAGE;
	}
	if (opt.help) {
		cli_usage(stdout);
		return 0;
	}
	if (opt.version) {
		printf("d42pcap %s (%s; mbed TLS %s)\n", D42_VERSION, pcap_lib_version(),
		       MBEDTLS_VERSION_STRING);
		return 0;
	}
	if (opt.win_service) {
		fprintf(stderr, "d42pcap: -install-win-service and -remove-win-service are "
			"Windows only; on Linux use the systemd unit or init script (see "
			"README.md)\n");
		return EXIT_USAGE;
	}
	if (opt.debug)
		log_set_level(LOG_LVL_DEBUG);
	/* libc loads the time zone, allocating, at its first time conversion:
	 * at start-up, not in the first report. */
	tzset();
	if (opt.list_devices)
		return capture_list_devices(stdout) < 0 ? EXIT_RUNTIME : 0;

	/* First: a SIGHUP (reload, logrotate) during a slow start-up (resolving,
	 * compiling a long filter) must not kill us; it waits for the loop. */
	if (sig_init() < 0)
		fatal(EXIT_RUNTIME, "cannot set up signal handling: %s", strerror(errno));
	load_settings(&opt, argv[0]);
	apply_overrides(&opt);
	/* What the settings file alone cannot tell, before -check-config
	 * says it is fine (-user, never empty: cli.c, is in cfg now). */
	if (cfg.chroot && !cfg.user_name[0])
		fatal(EXIT_USAGE, "common.chroot needs a user to switch to (common.user or "
		      "-user): root can leave a chroot");
	check_user();
	check_spool_apart();
	check_spool_size();
	if (filter_build(&cfg, FILTER_LINK_ETHER, filter_expr, sizeof(filter_expr)) < 0)
		fatal(EXIT_USAGE, "%s", SETTINGS_FILTER_BAD);
	if (opt.check_config) {
		if (cfg.host[0])
			d42_free(new_appliance(NULL));
		return config_print(stdout, &cfg) < 0 ? EXIT_RUNTIME : 0;
	}
	open_log();

	open_capture(&cap, &opt);
	d42 = open_delivery(&opt, &spool, &out, &ao);
	if (spool) {
		spool_stats(spool, &ss);
		lost_before = ss.dropped;
	}
	if (agent_init(&agent, &cfg, &ao, cap.name, cap.linktype, cap.offline,
		       random_seed()) < 0)
		fatal(EXIT_RUNTIME, "cannot allocate tables for %u flows and %u listeners",
		      cfg.max_flows, cfg.max_listeners);
	if (!cap.offline)
		agent.cap = &cap;
	else if (d42)
		agent.file = &cap;
	env = (struct settings_env){ &cfg, settings_file, cli_set, &cap, &agent, filter_expr,
				     sizeof(filter_expr), 0 };
	env.chrooted = drop_privileges(&cap);
	log_info("d42pcap %s capturing on %s (interval %us, %s)", D42_VERSION, cap.name,
		 cfg.interval, d42 ? "reporting to the appliance" : "reporting locally");
	if (!cap.offline)
		agent_start_live(&agent, now_realtime_ns());

	/* ---- loop ---- */
	pfd[PFD_SIG].fd = sig_fd();
	pfd[PFD_SIG].events = POLLIN;
	pfd[PFD_CAP].events = POLLIN;
	while (capturing || (d42 && !d42_idle(d42))) {
		/* A file is read as fast as possible, but no further while the
		 * report of the open interval, grown by the next batch, might
		 * push out one not yet delivered; live, sleep until a packet, a
		 * signal, the end of the interval or an HTTP deadline. */
		paused = capturing && agent.file &&
			 !spool_room_for(spool, agent_report_max_bytes(&agent, CAPTURE_BATCH));
		pfd[PFD_CAP].fd = capturing && !cap.offline ? cap.fd : -1;
		timeout = !capturing || paused ? -1 : cap.offline ? 0 :
			  min_timeout(agent_tick(&agent, now_realtime_ns()), capture_timeout_ms(&cap));
		pfd[PFD_HTTP].fd = -1;
		if (d42) {
			d42_pollfd(d42, &pfd[PFD_HTTP]);
			timeout = min_timeout(timeout, d42_timeout_ms(d42, now_mono_ms()));
		}
		for (i = 0; i < PFD_COUNT; i++)
			pfd[i].revents = 0;	/* stale after EINTR */
		if (poll(pfd, PFD_COUNT, timeout) < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			rc = EXIT_RUNTIME;
			break;
		}
		sigs = sig_take();
		if (sigs & SIG_STOP) {
			/* Said, with the sender: an -r run stopped with reports
			 * left exits 3, as one whose delivery gave up does. */
			log_stop();
			/* What the kernel handed over before the signal is the
			 * last interval's (until 2026-11-29 it was left unread). */
			if (capturing && !cap.offline)
				capture_drain(&cap, agent_packet, &agent);
			break;
		}
		if (sigs & SIG_STATS)
			agent_log_stats(&agent);
		if (sigs & SIG_RELOAD)
			settings_reload(&env);
		if (capturing && !cap.offline) {
			/* Live: a lost interface is reopened in there, never fatal. */
			capture_live_step(&cap, pfd[PFD_CAP].revents, agent_packet, &agent);
			/* First opened now (it was not there at start-up): decode
			 * its link type, filter it before the first read. */
			if (cap.p && agent.linktype != cap.linktype) {
				agent.linktype = cap.linktype;
				if (capture_ready(&cap, err, sizeof(err)) < 0)
					log_err("%s", err);
			}
		} else if (capturing && !paused) {
			n = capture_dispatch(&cap, agent_packet, &agent);
			/* A pipe's read interrupted by SIGTERM (no SA_RESTART:
			 * see sig.c) is the stop, not a read error. */
			if (n < 0 && n != -2 && !sig_stopping()) {
				log_err("capture: %s", cap.err);
				rc = EXIT_RUNTIME;
			}
			if (n < 0) {
				/* End of file (or a read error): report the rest,
				 * then only delivery remains. */
				capturing = 0;
				agent_flush(&agent, agent_after_last(&agent));
			}
		}
		agent_drain(&agent);	/* no packet waits past its batch */
		if (d42) {
			d42_step(d42, pfd[PFD_HTTP].revents, now_mono_ms());
			if ((!capturing || paused) && d42_stuck(d42))
				break;
		}
	}

	/* ---- tear down ---- */
	/* A file's reports must all have been written; live, the last one
	 * (a disk full for a while meanwhile was logged). Reading a file
	 * stopped while it waited for delivery: its open interval holds only
	 * the packet that began it, and writing it would push out a report
	 * not yet delivered. */
	if (paused)
		log_err("stopped reading %s before its end, while a report waited for "
			"the appliance: the rest of the file was not read",
			cap.name);
	else if (agent_stop(&agent, now_realtime_ns()) < 0 && !rc)
		rc = EXIT_RUNTIME;
	if (cap.offline && agent.report_errors && !rc)
		rc = EXIT_RUNTIME;
	log_info("stopped after %llu reports", (unsigned long long)agent.reports);
	if (d42) {
		d42_get_stats(d42, &ds);
		log_info("device42: %llu reports delivered, %llu records accepted, %llu for "
			 "unknown servers, %u listeners waiting for the appliance to know them",
			 (unsigned long long)ds.reports_sent, (unsigned long long)ds.records_ok,
			 (unsigned long long)ds.records_nok, ds.pending);
		if (ds.reports_refused)
			log_err("device42: %llu reports refused by the appliance were set aside "
				"(spool/corrupt/; without a spool directory, discarded)",
				(unsigned long long)ds.reports_refused);
		/* Offline, everything must have been delivered; live, the spool
		 * keeps the rest for the next start. Reading waited whenever
		 * the next report might push one out, so none should have
		 * been; if one was lost anyway, the file was not delivered. */
		spool_stats(spool, &ss);
		if (cap.offline && !rc && ss.dropped > lost_before) {
			log_err("device42: %llu reports were lost from the spool before delivery",
				(unsigned long long)(ss.dropped - lost_before));
			rc = EXIT_UNDELIVERED;
		}
		if (cap.offline && !rc && (!d42_idle(d42) || ds.reports_refused)) {
			if (!d42_idle(d42))
				log_err("device42: not every report was delivered; the rest is in "
					"the spool");
			rc = EXIT_UNDELIVERED;
		}
		d42_free(d42);
		spool_close(spool);
	} else {
		output_close(&out);
	}
	agent_free(&agent);
	capture_close(&cap);
	log_close();
	return rc;
}
