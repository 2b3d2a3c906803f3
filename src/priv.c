/* Privilege drop. Order matters: look the user up while /etc is still
 * visible, chroot while still root, set the groups and gid while still
 * allowed to, then the uid; keep CAP_NET_RAW across setuid() only because
 * reopening a capture after its interface came back needs it (the open
 * capture socket can already send raw frames, so this grants nothing new).
 * Every step is then checked from the outside: ids, groups, capabilities,
 * and that root cannot be regained. */
#include "priv.h"
#include "log.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PRIV_NAME_MAX 256

struct ident {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[PRIV_MAX_GROUPS];
	char name[PRIV_NAME_MAX];
};

__attribute__((format(printf, 3, 4)))
static int priv_fail(char *err, size_t sz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, sz, fmt, ap);
	va_end(ap);
	return -1;
}

static int lookup(const char *user, struct ident *id, char *err, size_t sz)
{
	struct passwd *pw;
	int n = PRIV_MAX_GROUPS;

	if (strlen(user) >= sizeof(id->name))
		return priv_fail(err, sz, "user name too long");
	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return priv_fail(err, sz, "unknown user \"%s\"%s%s", user, errno ? ": " : "",
				 errno ? strerror(errno) : "");
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	snprintf(id->name, sizeof(id->name), "%s", user);
	if (getgrouplist(id->name, id->gid, id->groups, &n) < 0)
		return priv_fail(err, sz, "user %s is in more than %d groups", user,
				 PRIV_MAX_GROUPS);
	id->ngroups = n;
	return 0;
}

int priv_check_user(const char *user, char *err, size_t errsz)
{
	struct ident id;

	return lookup(user, &id, err, errsz);
}

/* Effective and permitted: CAP_NET_RAW or nothing; inheritable: nothing. */
static void caps_want(struct __user_cap_data_struct *d, int keep_net_raw)
{
	memset(d, 0, sizeof(*d) * _LINUX_CAPABILITY_U32S_3);
	if (keep_net_raw) {
		d[CAP_TO_INDEX(CAP_NET_RAW)].effective = CAP_TO_MASK(CAP_NET_RAW);
		d[CAP_TO_INDEX(CAP_NET_RAW)].permitted = CAP_TO_MASK(CAP_NET_RAW);
	}
}

static int caps_set(int keep_net_raw)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	caps_want(d, keep_net_raw);
	return (int)syscall(SYS_capset, &h, d);
}

static int caps_check(int keep_net_raw)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3], w[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	caps_want(w, keep_net_raw);
	return memcmp(d, w, sizeof(d)) == 0 ? 0 : -1;
}

/* The supplementary groups now in force are exactly id's (in any order). */
static int groups_check(const struct ident *id)
{
	gid_t now[PRIV_MAX_GROUPS];
	int n, i, j;

	n = getgroups(PRIV_MAX_GROUPS, now);
	if (n != id->ngroups)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < id->ngroups && id->groups[j] != now[i]; j++)
			;
		if (j == id->ngroups)
			return -1;
	}
	return 0;
}

static int verify(const struct ident *id, int keep_net_raw, char *err, size_t sz)
{
	if (getuid() != id->uid || geteuid() != id->uid)
		return priv_fail(err, sz, "uid is %ld/%ld after setuid(%ld)", (long)getuid(),
				 (long)geteuid(), (long)id->uid);
	if (getgid() != id->gid || getegid() != id->gid)
		return priv_fail(err, sz, "gid is %ld/%ld after setgid(%ld)", (long)getgid(),
				 (long)getegid(), (long)id->gid);
	if (groups_check(id) < 0)
		return priv_fail(err, sz, "supplementary groups differ from %s's", id->name);
	/* A saved set-user-ID of 0 or a kept CAP_SETUID would let these work. */
	if (id->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return priv_fail(err, sz, "root could be regained after switching to %s",
				 id->name);
	if (id->gid != 0 && id->uid != 0 && (setgid(0) == 0 || setegid(0) == 0))
		return priv_fail(err, sz, "group 0 could be regained after switching to %s",
				 id->name);
	if (caps_check(keep_net_raw) < 0)
		return priv_fail(err, sz, "capabilities other than %s remain",
				 keep_net_raw ? "CAP_NET_RAW" : "none");
	return 0;
}

int priv_drop(const struct priv_opts *o, char *err, size_t sz)
{
	const char *dir = o->chroot_dir && *o->chroot_dir ? o->chroot_dir : NULL;
	struct ident id;

	if (!o->user || !*o->user) {
		if (dir)
			return priv_fail(err, sz, "common.chroot needs a user to switch to "
					 "(common.user or -user): root can leave a chroot");
		return 0;
	}
	if (lookup(o->user, &id, err, sz) < 0)
		return -1;
	if (geteuid() != 0) {
		if (getuid() == id.uid && geteuid() == id.uid && !dir) {
			log_info("already running as %s", id.name);
			return 0;
		}
		return priv_fail(err, sz, "cannot switch to user %s%s: not running as root",
				 id.name, dir ? " in a chroot" : "");
	}
	/* Local times for syslog need the zone file, gone after the chroot. */
	tzset();
	if (dir && (chdir(dir) < 0 || chroot(".") < 0 || chdir("/") < 0))
		return priv_fail(err, sz, "chroot to %s: %s", dir, strerror(errno));
	if (o->give)
		o->give(id.uid, id.gid, id.name);
	if (setgroups((size_t)id.ngroups, id.groups) < 0)
		return priv_fail(err, sz, "setgroups for %s: %s", id.name, strerror(errno));
	if (setgid(id.gid) < 0)
		return priv_fail(err, sz, "setgid(%ld): %s", (long)id.gid, strerror(errno));
	if (o->keep_net_raw && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return priv_fail(err, sz, "keeping capabilities: %s", strerror(errno));
	if (setuid(id.uid) < 0)
		return priv_fail(err, sz, "setuid(%ld): %s", (long)id.uid, strerror(errno));
	if (o->keep_net_raw && prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		return priv_fail(err, sz, "clearing keep-capabilities: %s", strerror(errno));
	if (caps_set(o->keep_net_raw) < 0)
		return priv_fail(err, sz, "capset: %s", strerror(errno));
	/* No exec is ever done; this only makes sure one could not gain. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0 && errno != EINVAL)
		return priv_fail(err, sz, "no_new_privs: %s", strerror(errno));
	if (verify(&id, o->keep_net_raw, err, sz) < 0)
		return -1;
	log_info("running as %s (uid %ld, gid %ld, %d groups)%s%s%s", id.name, (long)id.uid,
		 (long)id.gid, id.ngroups, o->keep_net_raw ? " with CAP_NET_RAW only" : "",
		 dir ? ", chrooted to " : "", dir ? dir : "");
	return 0;
}
