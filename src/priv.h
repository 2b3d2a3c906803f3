/* Dropping root once everything that needs it is open: optionally chroot,
 * then the user's groups, gid and uid, keeping only CAP_NET_RAW (so a lost
 * capture can be reopened), and verify the result. Linux only. */
#ifndef D42_PRIV_H
#define D42_PRIV_H

#include <stddef.h>
#include <sys/types.h>

#define PRIV_MAX_GROUPS 64	/* supplementary groups of the target user */
#define PRIV_ERR_MAX    512

struct priv_opts {
	const char *user;	/* NULL or "": keep the current identity */
	const char *chroot_dir;	/* NULL or "": no chroot (needs user) */
	int keep_net_raw;	/* live capture: keep CAP_NET_RAW */
	/* Called as root just before the switch, with the user's ids: gives
	 * it what the process goes on writing (log, spool). May be NULL. */
	void (*give)(uid_t uid, gid_t gid, const char *user);
};

/* 0 if user exists (with at most PRIV_MAX_GROUPS groups), else -1 with a
 * message in err: a settings error to report before anything starts. */
int priv_check_user(const char *user, char *err, size_t errsz);

/* 0, or -1 with a message in err: the caller must then exit, as the process
 * may be half-way (never running as root by mistake: every step is
 * verified). Call after opening the capture, log, output and spool, after
 * resolving the appliance, and before the loop. */
int priv_drop(const struct priv_opts *o, char *err, size_t errsz);

#endif
