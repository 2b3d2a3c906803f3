/* Spool of interval reports awaiting delivery (see spool.h).
 *
 * File format, all integers big-endian, SPOOL_HDR_SIZE bytes of header then
 * the payload (the JSON report):
 *    0  magic "D42SPOOL"       8  version u16      10  flags u16 (0)
 *   12  payload CRC-32 u32    16  payload length u64
 *   24  sequence number u64   32  interval start i64   40  interval end i64
 *   48  CRC-32 of bytes 0..47 u32
 * The header CRC catches a damaged length or interval before the payload is
 * read; the payload CRC catches bit rot and torn writes.
 *
 * The index is a ring of `cap` slots sorted by sequence number, oldest at
 * `head`. A removed entry that is not the oldest stays as a tombstone (live
 * = 0) until it reaches the head, so removal never shifts the ring and, in
 * memory mode, ring bytes stay contiguous from the oldest slot. */
#include "spool.h"

#include "cur.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_MAGIC_LEN     8
#define HDR_CRC_OFF       48	/* header CRC covers bytes before this */
#define SEQ_DIGITS        16	/* hex digits of a sequence number in names */
/* Numbers in names from here on are not ours (2^62 reports would take
 * longer than the sun has): refused, so that a planted name cannot bring
 * the numbering near its wrap, where new reports would sort first. */
#define SEQ_LIMIT         ((uint64_t)1 << 62)
/* Entries other than reports give their numbers to the count only below
 * this: counting could not reach one above it anyway. */
#define SEQ_TAKEN_MAX     (SEQ_LIMIT / 2)
#define EXT_DATA          ".d42"
#define EXT_TMP           ".tmp"
#define NAME_MAX_LEN      32	/* "%016x.d42" and "%016x.tmp" fit */
#define CORRUPT_DIR       "corrupt"
#define PROBE_NAME        ".probe" EXT_TMP	/* removed at start-up if left */
#define QNAME_MAX         96	/* corrupt/ names: seq '-' original */
#define QORIG_MAX         64	/* bytes of the original name kept */
#define LOGNAME_MAX       80	/* a file name as printed in a log line */
#define DIR_LOG_MAX       256	/* the directory as printed in log lines */
#define PATH_MAX_LEN      1024	/* longest spool directory path */
#define IO_BUF_SIZE       (64 * 1024)
#define DIR_MODE          0700
#define FILE_MODE         0600
#define CRC_POLY          0xEDB88320u	/* IEEE 802.3, reflected (zlib) */
#define CRC_FINAL_XOR     0xFFFFFFFFu

struct ent {
	uint64_t seq;
	uint64_t plen;		/* payload bytes */
	uint64_t size;		/* bytes accounted: file or ring payload */
	uint64_t off;		/* memory mode: payload offset in the ring */
	int64_t start, end;
	uint32_t crc;
	uint8_t live;		/* 0: tombstone */
};

/* Drops made by one operation, logged as one warning. */
struct drops {
	unsigned n;
	uint64_t first, last;
};

struct spool {
	int dfd;		/* spool directory, -1 in memory mode */
	int cfd;		/* DIR/corrupt, -1 until needed */
	int mem;
	uint64_t max_bytes;
	uint32_t cap;		/* index slots = max_files */
	struct ent *e;
	uint32_t head, n, live;	/* n counts tombstones too */
	uint64_t bytes;		/* live bytes */
	uint64_t next_seq;
	uint64_t dropped, quarantined;

	uint8_t *ring;		/* memory mode */
	uint64_t ring_cap, ring_head, ring_used;	/* used incl. tombstones */

	struct {
		int active, failed, fd;
		int fb;		/* going to fb, not to a file */
		uint64_t seq, plen, off;
		uint64_t freed;	/* bytes of older reports dropped for it */
		uint32_t crc;
		int64_t start, end;
	} w;
	struct {
		int active, fd;
		int fb;		/* reading from fb */
		uint64_t seq, left, pos;
		uint32_t crc, want;
	} r;

	/* Directory mode: reports the directory would not take (not
	 * writable, removed for good, a full disk with nothing left to
	 * drop, an I/O error) wait here, numbered in the directory's
	 * sequence, until it takes them again; until 2026-11-29 each was
	 * lost. Only ever newer than every report on disk: while it holds
	 * any, new reports join it. NULL in memory mode. */
	struct spool *fb;
	int fb_err;		/* why reports went there; 0: said it is over */
	char qname[SPOOL_MAX_CORRUPT][QNAME_MAX];	/* oldest first */
	unsigned nq;
	uint64_t qseq;
	char dir[DIR_LOG_MAX];
	char path[PATH_MAX_LEN];	/* the directory in full, to make it again */
	uint8_t iobuf[IO_BUF_SIZE];
};

static int fb_flush(struct spool *s);

/* ---- CRC-32 ---- */

static uint32_t crc_tab[256];
static int crc_ready;

uint32_t spool_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c;
	size_t i;

	if (!crc_ready) {
		for (uint32_t n = 0; n < 256; n++) {
			c = n;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? CRC_POLY ^ (c >> 1) : c >> 1;
			crc_tab[n] = c;
		}
		crc_ready = 1;
	}
	c = crc ^ CRC_FINAL_XOR;
	for (i = 0; i < len; i++)
		c = crc_tab[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ CRC_FINAL_XOR;
}

/* ---- header ---- */

static void put_be(uint8_t *p, uint64_t v, int nbytes)
{
	for (int i = nbytes - 1; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

void spool_hdr_encode(const struct spool_hdr *h, uint8_t out[SPOOL_HDR_SIZE])
{
	memcpy(out, SPOOL_MAGIC, HDR_MAGIC_LEN);
	put_be(out + 8, SPOOL_VERSION, 2);
	put_be(out + 10, 0, 2);
	put_be(out + 12, h->crc, 4);
	put_be(out + 16, h->payload_len, 8);
	put_be(out + 24, h->seq, 8);
	put_be(out + 32, (uint64_t)h->start, 8);
	put_be(out + 40, (uint64_t)h->end, 8);
	put_be(out + 48, spool_crc32(0, out, HDR_CRC_OFF), 4);
}

static int cur_be64(struct cur *c, uint64_t *v)
{
	uint32_t hi, lo;

	if (c->len - c->off < 8 || cur_be32(c, &hi) || cur_be32(c, &lo))
		return -1;
	*v = ((uint64_t)hi << 32) | lo;
	return 0;
}

/* Header only: 0 or a negative enum spool_err. */
static int hdr_decode(const uint8_t *buf, size_t len, struct spool_hdr *h)
{
	struct cur c;
	const uint8_t *magic;
	uint16_t ver, flags;
	uint32_t crc, hcrc;
	uint64_t plen, seq, start, end;
	size_t mlen = len < HDR_MAGIC_LEN ? len : HDR_MAGIC_LEN;

	if (len == 0)
		return SPOOL_ERR_TRUNCATED;
	cur_init(&c, buf, len);
	magic = cur_peek(&c, mlen);
	if (!magic || memcmp(magic, SPOOL_MAGIC, mlen) != 0)
		return SPOOL_ERR_MAGIC;
	if (len < SPOOL_HDR_SIZE)
		return SPOOL_ERR_TRUNCATED;
	if (cur_skip(&c, HDR_MAGIC_LEN) || cur_be16(&c, &ver) ||
	    cur_be16(&c, &flags) || cur_be32(&c, &crc) ||
	    cur_be64(&c, &plen) || cur_be64(&c, &seq) ||
	    cur_be64(&c, &start) || cur_be64(&c, &end) || cur_be32(&c, &hcrc))
		return SPOOL_ERR_TRUNCATED;
	if (ver != SPOOL_VERSION)
		return SPOOL_ERR_VERSION;
	if (hcrc != spool_crc32(0, buf, HDR_CRC_OFF) || flags != 0)
		return SPOOL_ERR_HEADER;
	if (plen == 0 || plen > SPOOL_MAX_PAYLOAD)
		return SPOOL_ERR_LENGTH;
	h->payload_len = plen;
	h->crc = crc;
	h->seq = seq;
	/* two's complement, as encoded */
	h->start = start > INT64_MAX ? -(int64_t)(~start) - 1 : (int64_t)start;
	h->end = end > INT64_MAX ? -(int64_t)(~end) - 1 : (int64_t)end;
	return 0;
}

int spool_check(const uint8_t *buf, size_t len, struct spool_hdr *out)
{
	struct spool_hdr h;
	int rc = hdr_decode(buf, len, &h);
	size_t avail;

	if (rc < 0)
		return rc;
	if (out)
		*out = h;
	avail = len - SPOOL_HDR_SIZE;
	if (avail < h.payload_len)
		return SPOOL_ERR_TRUNCATED;
	if (avail > h.payload_len)
		return SPOOL_ERR_LENGTH;
	if (spool_crc32(0, buf + SPOOL_HDR_SIZE, avail) != h.crc)
		return SPOOL_ERR_CRC;
	return 0;
}

const char *spool_strerror(int err)
{
	switch (err) {
	case SPOOL_OK: return "ok";
	case SPOOL_ERR_MAGIC: return "not a spool file (bad magic)";
	case SPOOL_ERR_VERSION: return "unknown spool format version";
	case SPOOL_ERR_TRUNCATED: return "truncated";
	case SPOOL_ERR_LENGTH: return "length mismatch";
	case SPOOL_ERR_CRC: return "payload CRC mismatch";
	case SPOOL_ERR_HEADER: return "damaged header";
	case SPOOL_ERR_IO: return "read error";
	case SPOOL_ERR_GONE: return "entry no longer in the spool";
	case SPOOL_ERR_AGAIN: return "out of descriptors or memory";
	default: return "unknown spool error";
	}
}

/* ---- small helpers ---- */

/* errno as a spool error: out of descriptors or memory says nothing about
 * a file, which may open later. */
static int io_error(void)
{
	int e = errno;

	return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS || e == EAGAIN ?
	       SPOOL_ERR_AGAIN : SPOOL_ERR_IO;
}

static void seq_name(char *out, size_t outsz, uint64_t seq, const char *ext)
{
	snprintf(out, outsz, "%0*" PRIx64 "%s", SEQ_DIGITS, seq, ext);
}

/* Strict "<16 lowercase hex digits><tail>"; tail NULL: anything may follow. */
static int parse_seq_name(const char *name, const char *tail, uint64_t *seq)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < SEQ_DIGITS; i++) {
		char ch = name[i];

		if (ch >= '0' && ch <= '9')
			v = (v << 4) | (uint64_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = (v << 4) | (uint64_t)(ch - 'a' + 10);
		else
			return -1;
	}
	if (v >= SEQ_LIMIT || (tail && strcmp(name + SEQ_DIGITS, tail) != 0))
		return -1;
	*seq = v;
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Printable copy of a name for logs and corrupt/ names: a hostile file
 * name must not inject log lines. */
static void safe_name(char *out, size_t outsz, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < outsz && name[i]; i++) {
		unsigned char ch = (unsigned char)name[i];

		out[i] = (ch > 0x20 && ch < 0x7f && ch != '/') ? (char)ch : '?';
	}
	out[i] = '\0';
}

/* Reads exactly len bytes unless EOF comes first: bytes read, or -1. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t k = read(fd, p + got, len - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static struct ent *slot(struct spool *s, uint32_t i)
{
	return &s->e[(s->head + i) % s->cap];
}

/* Logical index of the live entry seq, or -1. */
static long find(struct spool *s, uint64_t seq)
{
	uint32_t lo = 0, hi = s->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct ent *e = slot(s, mid);

		if (e->seq == seq)
			return e->live ? (long)mid : -1;
		if (e->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void unlink_entry(struct spool *s, uint64_t seq)
{
	char name[NAME_MAX_LEN];

	if (s->mem)
		return;
	seq_name(name, sizeof(name), seq, EXT_DATA);
	if (unlinkat(s->dfd, name, 0) < 0 && errno != ENOENT)
		log_warn("spool %s: cannot remove %s: %s", s->dir, name,
			 strerror(errno));
}

/* A live report is dropped, recorded in d; its slot stays, a tombstone. */
static void drop_live(struct spool *s, struct ent *e, struct drops *d)
{
	e->live = 0;
	s->live--;
	s->bytes -= e->size;
	s->dropped++;
	unlink_entry(s, e->seq);
	if (d->n++ == 0)
		d->first = e->seq;
	d->last = e->seq;
}

/* Removes the oldest slot; a live one is a drop, recorded in d. */
static void pop_slot(struct spool *s, struct drops *d)
{
	struct ent *e = slot(s, 0);

	if (e->live)
		drop_live(s, e, d);
	if (s->mem) {
		s->ring_head = (s->ring_head + e->size) % s->ring_cap;
		s->ring_used -= e->size;
	}
	s->head = (s->head + 1) % s->cap;
	s->n--;
}

/* Tombstones at the head hold nothing worth keeping; removing them keeps
 * the oldest slot live, which spool_peek relies on. */
static void trim_head(struct spool *s)
{
	struct drops none = { 0, 0, 0 };

	while (s->n > 0 && !slot(s, 0)->live)
		pop_slot(s, &none);
}

static void pop_head(struct spool *s, struct drops *d)
{
	pop_slot(s, d);
	trim_head(s);
}

static void log_drops(struct spool *s, const struct drops *d, const char *why)
{
	if (d->n == 0)
		return;
	log_warn("spool %s: %s: dropped %u oldest report(s) (seq %" PRIu64
		 "..%" PRIu64 "), %" PRIu64 " dropped so far",
		 s->dir, why, d->n, d->first, d->last, s->dropped);
}

/* ---- corrupt files ---- */

static int corrupt_dir(struct spool *s)
{
	if (s->cfd >= 0)
		return 0;
	if (mkdirat(s->dfd, CORRUPT_DIR, DIR_MODE) < 0 && errno != EEXIST)
		return -1;
	s->cfd = openat(s->dfd, CORRUPT_DIR,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return s->cfd >= 0 ? 0 : -1;
}

/* A file set aside falls off the bound: said, as its setting aside was
 * (until 2026-11-29 it went silently). */
static void corrupt_drop(struct spool *s, const char *qn)
{
	if (unlinkat(s->cfd, qn, 0) == 0)
		log_info("spool %s: %s/%s deleted: %s keeps the %u newest files",
			 s->dir, CORRUPT_DIR, qn, CORRUPT_DIR, SPOOL_MAX_CORRUPT);
	else if (errno != ENOENT)
		log_warn("spool %s: cannot delete %s/%s: %s", s->dir, CORRUPT_DIR, qn,
			 strerror(errno));
}

/* Keeps qname sorted oldest first and at most SPOOL_MAX_CORRUPT long,
 * deleting whatever falls off. */
static void corrupt_add(struct spool *s, const char *qn, uint64_t qseq)
{
	unsigned i = s->nq, k;
	uint64_t v;

	while (i > 0 && parse_seq_name(s->qname[i - 1], NULL, &v) == 0 &&
	       v > qseq)
		i--;
	if (s->nq == SPOOL_MAX_CORRUPT) {
		if (i == 0) {	/* older than everything kept */
			corrupt_drop(s, qn);
			return;
		}
		corrupt_drop(s, s->qname[0]);
		memmove(s->qname[0], s->qname[1], (size_t)(i - 1) * QNAME_MAX);
		i--;
	} else {
		memmove(s->qname[i + 1], s->qname[i],
			(size_t)(s->nq - i) * QNAME_MAX);
		s->nq++;
	}
	for (k = 0; qn[k] && k + 1 < QNAME_MAX; k++)
		s->qname[i][k] = qn[k];
	s->qname[i][k] = '\0';
}

/* Moves DIR/name aside into DIR/corrupt/, or deletes it if it cannot: 0.
 * Out of descriptors or memory it does neither (that says nothing about
 * the file): SPOOL_ERR_AGAIN, errno set. */
static int quarantine_file(struct spool *s, const char *name, const char *why)
{
	char safe[QORIG_MAX + 1], qn[QNAME_MAX];
	uint64_t qseq = s->qseq++;
	struct stat st;
	int e, again;

	safe_name(safe, sizeof(safe), name);
	snprintf(qn, sizeof(qn), "%0*" PRIx64 "-%s", SEQ_DIGITS, qseq, safe);
	if (s->cfd >= 0 && fstat(s->cfd, &st) == 0 && st.st_nlink == 0) {
		/* corrupt/ was removed (an operator tidying up): make it
		 * again rather than delete the report for want of it */
		close(s->cfd);
		s->cfd = -1;
		s->nq = 0;
	}
	if (corrupt_dir(s) == 0 && renameat(s->dfd, name, s->cfd, qn) == 0) {
		s->quarantined++;
		log_warn("spool %s: %s: %s; moved to %s/%s", s->dir, safe, why,
			 CORRUPT_DIR, qn);
		corrupt_add(s, qn, qseq);
		return 0;
	}
	e = errno;
	again = io_error() == SPOOL_ERR_AGAIN;
	log_warn("spool %s: %s: %s; cannot move it aside (%s), %s", s->dir, safe, why,
		 strerror(e), again ? "leaving it" : "deleting it");
	if (again) {
		errno = e;
		return SPOOL_ERR_AGAIN;
	}
	s->quarantined++;
	if (unlinkat(s->dfd, name, 0) < 0 && errno != ENOENT)
		log_warn("spool %s: cannot delete %s either: %s", s->dir, safe,
			 strerror(errno));
	return 0;
}

/* Start-up: learn what DIR/corrupt holds (our names only) and trim it. */
static void scan_corrupt(struct spool *s)
{
	DIR *d;
	struct dirent *de;
	int fd;
	uint64_t v;

	s->cfd = openat(s->dfd, CORRUPT_DIR,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->cfd < 0)
		return;
	fd = dup(s->cfd);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) >= QNAME_MAX ||
		    parse_seq_name(de->d_name, NULL, &v) < 0 ||
		    de->d_name[SEQ_DIGITS] != '-')
			continue;
		if (v >= s->qseq)
			s->qseq = v + 1;
		corrupt_add(s, de->d_name, v);
	}
	closedir(d);
}

/* ---- start-up scan ---- */

/* Whole-file validation of DIR/name, whose name says seq. */
static int check_file(struct spool *s, const char *name, uint64_t seq,
		      struct spool_hdr *h, uint64_t *fsize)
{
	struct stat st;
	uint8_t hb[SPOOL_HDR_SIZE];
	uint64_t left;
	uint32_t crc = 0;
	ssize_t k;
	int rc, fd;

	fd = openat(s->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return io_error();
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return SPOOL_ERR_IO;
	}
	k = read_full(fd, hb, sizeof(hb));
	rc = k < 0 ? io_error() : hdr_decode(hb, (size_t)k, h);
	if (rc == 0 && h->seq != seq)
		rc = SPOOL_ERR_HEADER;
	if (rc == 0 && (uint64_t)st.st_size < SPOOL_HDR_SIZE + h->payload_len)
		rc = SPOOL_ERR_TRUNCATED;
	if (rc == 0 && (uint64_t)st.st_size > SPOOL_HDR_SIZE + h->payload_len)
		rc = SPOOL_ERR_LENGTH;
	for (left = rc == 0 ? h->payload_len : 0; left > 0; left -= (uint64_t)k) {
		size_t want = left < sizeof(s->iobuf) ? (size_t)left : sizeof(s->iobuf);

		k = read_full(fd, s->iobuf, want);
		if (k <= 0) {
			rc = k < 0 ? io_error() : SPOOL_ERR_TRUNCATED;
			break;
		}
		crc = spool_crc32(crc, s->iobuf, (size_t)k);
	}
	if (rc == 0 && crc != h->crc)
		rc = SPOOL_ERR_CRC;
	close(fd);
	if (rc == 0)
		*fsize = SPOOL_HDR_SIZE + h->payload_len;
	return rc;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Adds a valid file found at start-up; with the index full, the oldest of
 * index + newcomer is dropped. The index is unsorted until the scan ends. */
static void scan_add(struct spool *s, const struct spool_hdr *h, uint64_t fsize,
		     struct drops *d)
{
	struct ent *e;
	uint64_t victim;
	uint32_t i, min = 0;

	if (s->n == s->cap) {
		for (i = 1; i < s->n; i++)
			if (s->e[i].seq < s->e[min].seq)
				min = i;
		victim = h->seq < s->e[min].seq ? h->seq : s->e[min].seq;
		s->dropped++;
		unlink_entry(s, victim);
		if (d->n++ == 0 || victim < d->first)
			d->first = victim;
		if (d->n == 1 || victim > d->last)
			d->last = victim;
		if (victim == h->seq)
			return;
		s->bytes -= s->e[min].size;
		s->live--;
		e = &s->e[min];
	} else {
		e = &s->e[s->n++];
	}
	memset(e, 0, sizeof(*e));
	e->seq = h->seq;
	e->plen = h->payload_len;
	e->size = fsize;
	e->start = h->start;
	e->end = h->end;
	e->crc = h->crc;
	e->live = 1;
	s->live++;
	s->bytes += fsize;
}

/* 0, or -1 (errno set) if the directory cannot be read now: then nothing
 * may be decided about its reports, nor any sequence number handed out. */
static int scan_dir(struct spool *s)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	struct spool_hdr h;
	struct drops drops = { 0, 0, 0 };
	uint64_t seq, fsize = 0, max_seq = 0;
	char safe[LOGNAME_MAX];
	int fd, rc;

	fd = dup(s->dfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (;;) {
		const char *name;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)	/* not the end: a listing cut short */
				goto fail;
			break;
		}
		name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (fstatat(s->dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;	/* vanished meanwhile */
			goto fail;	/* its number is unknown */
		}
		safe_name(safe, sizeof(safe), name);
		/* Any entry's number is taken (one a directory holds could
		 * not be written to when it came round again), if counting
		 * could get there at all: one stray name near SEQ_LIMIT
		 * numbered the reports after it past it, and the next start
		 * set them all aside (until 2026-11-29). A report's number
		 * is taken whatever it is (below): the queue's order. */
		if (parse_seq_name(name, NULL, &seq) == 0 && seq < SEQ_TAKEN_MAX &&
		    seq > max_seq)
			max_seq = seq;
		if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
			if (strcmp(name, CORRUPT_DIR) != 0)
				log_warn("spool %s: ignoring %s: not a file",
					 s->dir, safe);
			continue;
		}
		if (S_ISREG(st.st_mode) && ends_with(name, EXT_TMP)) {
			if (unlinkat(s->dfd, name, 0) == 0)
				log_info("spool %s: removed unfinished %s",
					 s->dir, safe);
			continue;
		}
		if (S_ISLNK(st.st_mode) ||
		    parse_seq_name(name, EXT_DATA, &seq) < 0) {
			if (quarantine_file(s, name, S_ISLNK(st.st_mode) ?
					    "symbolic link" : "not a spool file name") < 0)
				goto fail;
			continue;
		}
		rc = check_file(s, name, seq, &h, &fsize);
		if (rc == SPOOL_ERR_AGAIN)	/* says nothing about the file */
			goto fail;
		if (rc < 0) {
			if (quarantine_file(s, name, spool_strerror(rc)) < 0)
				goto fail;
			continue;
		}
		scan_add(s, &h, fsize, &drops);
		if (h.seq > max_seq)
			max_seq = h.seq;
	}
	closedir(d);
	qsort(s->e, s->n, sizeof(*s->e), ent_cmp);
	while (s->n > 0 && s->bytes > s->max_bytes)
		pop_head(s, &drops);
	log_drops(s, &drops, "over its bounds at start-up");
	s->next_seq = max_seq + 1;	/* below SEQ_LIMIT: never wraps */
	if (s->next_seq >= SEQ_TAKEN_MAX)
		log_warn("spool %s: report numbers near their limit (%016" PRIx64
			 "): a report there was not written by d42pcap", s->dir, max_seq);
	if (s->live)
		log_info("spool %s: %u report(s), %" PRIu64 " bytes to deliver",
			 s->dir, s->live, s->bytes);
	return 0;
fail:
	rc = errno;
	closedir(d);
	errno = rc;
	return -1;
}

/* A directory just made is found after a crash only if its entry in the
 * parent reached the disk too: the reports fsynced inside it would be lost
 * with it. path: the new directory; its parent's fd is synced. */
static void sync_parent(const struct spool *s, char *path)
{
	char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (slash == path) {
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		*slash = '\0';
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
	}
	/* some file systems refuse fsync on a directory: nothing to do then */
	if (fd < 0 || (fsync(fd) < 0 && errno != EINVAL))
		log_warn("spool %s: cannot sync the directory holding %s: %s", s->dir, path,
			 strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* mkdir -p with DIR_MODE; returns an open, locked directory fd or -1. */
static int open_dir(struct spool *s, const char *dir)
{
	char path[PATH_MAX_LEN];
	struct stat st;
	size_t len = strlen(dir), i;
	int fd;

	if (len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		/* an existing parent may refuse mkdir with EACCES */
		if (mkdir(path, DIR_MODE) == 0) {
			sync_parent(s, path);
		} else if (errno != EEXIST) {
			int saved = errno;

			if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
				errno = saved;	/* why mkdir failed, not stat */
				return -1;
			}
		}
		path[i] = dir[i];
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;

		if (saved == EWOULDBLOCK) {
			close(fd);
			errno = saved;
			return -2;
		}
		/* e.g. a file system without locks: carry on unprotected */
		log_warn("spool %s: cannot lock it: %s", s->dir, strerror(saved));
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		log_warn("spool %s: readable by other users (mode %03o)",
			 s->dir, (unsigned)(st.st_mode & 0777));
	return fd;
}

/* A new file of ours: whatever has the name goes first, and O_EXCL opens
 * nothing else. A FIFO planted there (the directory is common.user's)
 * would block open() until a reader came, signals and all. */
static int create_new(int dfd, const char *name)
{
	(void)unlinkat(dfd, name, 0);
	/* read too: a report the disk fails part-way goes to memory whole */
	return openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      FILE_MODE);
}

static int probe_writable(int dfd)
{
	int fd = create_new(dfd, PROBE_NAME);

	if (fd < 0)
		return -1;
	close(fd);
	return unlinkat(dfd, PROBE_NAME, 0);
}

/* Copies the report being read, from its open file, into the new
 * directory: 0, or -1 (logged; it is still read from the old file). */
static int copy_reading(struct spool *s, int dfd)
{
	char tmp[NAME_MAX_LEN], name[NAME_MAX_LEN];
	off_t off = 0;
	ssize_t k;
	int fd, ok;

	seq_name(tmp, sizeof(tmp), s->r.seq, EXT_TMP);
	seq_name(name, sizeof(name), s->r.seq, EXT_DATA);
	fd = create_new(dfd, tmp);
	ok = fd >= 0;
	while (ok) {
		k = pread(s->r.fd, s->iobuf, sizeof(s->iobuf), off);
		if (k == 0)
			break;
		if (k < 0 && errno == EINTR)
			continue;
		errno = 0;
		if (k > 0 && write(fd, s->iobuf, (size_t)k) == k) {
			off += k;
			continue;
		}
		if (errno == 0)
			errno = EIO;	/* a short write */
		ok = 0;
	}
	ok = ok && fsync(fd) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = 0;
	if (!ok || renameat(dfd, tmp, dfd, name) < 0) {
		log_warn("spool %s: cannot copy %s, being delivered, into it: %s",
			 s->dir, name, strerror(errno));
		unlinkat(dfd, tmp, 0);
		return -1;
	}
	(void)fsync(dfd);
	return 0;
}

/* The directory was removed while open (a tmpfs cleaner, an operator):
 * its reports went with it, bar the one being read, whose open descriptor
 * still reads it. Those are counted as dropped and the index keeps only
 * that one, also when the directory cannot be made again. Made again by
 * its path, later reports are kept there, and the one being read is
 * copied there. 0 when made again, -1 if it was not removed or cannot be
 * made again now (tried again at the next report or read). */
static int reopen_dir(struct spool *s)
{
	struct drops d = { 0, 0, 0 };
	struct ent keep = { 0 };
	struct stat st;
	uint32_t i;
	int fd, kept = 0;

	if (fstat(s->dfd, &st) < 0 || st.st_nlink > 0)
		return -1;
	fd = open_dir(s, s->path);
	if (fd < 0)
		log_warn("spool %s: removed while in use and cannot be made "
			 "again (%s): reports are lost until it can", s->dir,
			 fd == -2 ? "in use by another process" : strerror(errno));
	for (i = 0; i < s->n; i++) {
		struct ent *e = slot(s, i);

		if (!e->live)
			continue;
		if (s->r.active && e->seq == s->r.seq) {
			if (fd >= 0)
				(void)copy_reading(s, fd);
			keep = *e;
			kept = 1;
			continue;
		}
		s->dropped++;
		if (d.n++ == 0)
			d.first = e->seq;
		d.last = e->seq;
	}
	s->head = 0;
	s->n = s->live = kept;
	s->bytes = kept ? keep.size : 0;
	if (kept)
		*slot(s, 0) = keep;
	if (fd >= 0) {
		close(s->dfd);
		s->dfd = fd;
		if (s->cfd >= 0)
			close(s->cfd);
		s->cfd = -1;
		s->nq = 0;
		log_warn("spool %s: removed while in use; made it again", s->dir);
	}
	log_drops(s, &d, "removed with the directory");
	return fd >= 0 ? 0 : -1;
}

/* An empty spool, not yet on a directory or in memory. */
static struct spool *spool_alloc(uint64_t max_bytes, uint32_t max_files)
{
	struct spool *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->e = calloc(max_files, sizeof(*s->e));
	if (!s->e) {
		free(s);
		return NULL;
	}
	s->cap = max_files;
	s->max_bytes = max_bytes;
	s->dfd = s->cfd = s->w.fd = s->r.fd = -1;
	s->next_seq = 1;
	return s;
}

/* Memory mode: the ring is allocated now (not touched until used). */
static int mem_init(struct spool *s)
{
	s->mem = 1;
	snprintf(s->dir, sizeof(s->dir), "(memory)");
	s->ring_cap = s->max_bytes < SPOOL_MEM_MAX_BYTES ? s->max_bytes : SPOOL_MEM_MAX_BYTES;
	s->ring = malloc((size_t)s->ring_cap);
	return s->ring ? 0 : -1;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes, uint32_t max_files)
{
	struct spool *s;
	int fd = -1;

	if (max_bytes < SPOOL_HDR_SIZE + 1 || max_files < 1 ||
	    max_files > SPOOL_MAX_FILES) {
		log_err("spool: invalid bounds (%" PRIu64 " bytes, %u files)",
			max_bytes, max_files);
		return NULL;
	}
	s = spool_alloc(max_bytes, max_files);
	if (!s)
		return NULL;
	snprintf(s->dir, sizeof(s->dir), "%s", dir ? dir : "");
	snprintf(s->path, sizeof(s->path), "%s", dir ? dir : "");

	if (dir && *dir) {
		fd = open_dir(s, dir);
		if (fd == -2) {
			log_err("spool %s: in use by another process", s->dir);
			spool_close(s);
			errno = EBUSY;
			return NULL;
		}
		/* Full (no room for even a name: ENOSPC also means no free
		 * inode): the reports in it are still to deliver, and each
		 * delivered one makes room. */
		if (fd >= 0 && probe_writable(fd) < 0) {
			int saved = errno;

			if (saved == ENOSPC || saved == EDQUOT) {
				log_warn("spool %s: disk full (%s): new reports are "
					 "stored once delivery or dropping makes room",
					 s->dir, strerror(saved));
			} else {
				close(fd);
				fd = -1;
				errno = saved;
			}
		}
		/* The reports in it are fine: say so, not "memory only"
		 * (which would leave them behind unsaid). */
		if (fd < 0 && io_error() == SPOOL_ERR_AGAIN)
			goto fail;
		if (fd < 0)
			log_warn("spool %s: not usable (%s): keeping reports in "
				 "memory only, they will not survive a restart",
				 s->dir, strerror(errno));
	} else {
		log_warn("spool: no spool directory: keeping reports in memory "
			 "only, they will not survive a restart");
	}
	if (fd >= 0) {
		s->dfd = fd;
		/* Without the memory for it the spool still works, as before
		 * the queue existed: a small device must not fail to start. */
		s->fb = spool_alloc(max_bytes, max_files);
		if (s->fb && mem_init(s->fb) < 0) {
			spool_close(s->fb);
			s->fb = NULL;
		}
		if (!s->fb)
			log_warn("spool %s: no memory to keep reports it does not take: "
				 "such reports will be lost", dir);
		scan_corrupt(s);
		if (scan_dir(s) == 0)
			return s;
		goto fail;
	}
	if (mem_init(s) < 0) {
		spool_close(s);
		return NULL;
	}
	return s;
fail:	/* the caller says why (errno) */
	fd = errno;
	spool_close(s);
	errno = fd;
	return NULL;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	spool_abort(s);
	spool_reader_close(s);
	if (s->fb && s->fb->live > 0 && fb_flush(s) < 0)
		log_warn("spool %s: %u report(s) kept in memory are lost at exit: "
			 "the directory still takes none", s->dir, s->fb->live);
	spool_close(s->fb);
	if (s->cfd >= 0)
		close(s->cfd);
	if (s->dfd >= 0)
		close(s->dfd);	/* releases the lock */
	free(s->ring);
	free(s->e);
	free(s);
}

int spool_chown(struct spool *s, uid_t uid, gid_t gid)
{
	char name[NAME_MAX_LEN];
	uint32_t i;
	int rc = 0;

	if (s->mem)
		return 0;
	/* What the start-up scan found may have been written by root. The
	 * directory last: root without CAP_DAC_OVERRIDE (the systemd unit's
	 * bounding set) may no longer look into a 0700 one it gave away. */
	for (i = 0; i < s->n; i++) {
		seq_name(name, sizeof(name), slot(s, i)->seq, EXT_DATA);
		if (slot(s, i)->live &&
		    fchownat(s->dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			rc = -1;
	}
	if (fchownat(s->dfd, CORRUPT_DIR, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno != ENOENT)
		rc = -1;
	if (fchown(s->dfd, uid, gid) < 0)
		rc = -1;
	return rc;
}

void spool_stats(const struct spool *s, struct spool_stats *st)
{
	st->entries = s->live;
	st->bytes = s->bytes;
	st->dropped = s->dropped;
	st->quarantined = s->quarantined;
	st->in_memory = s->mem;
	if (s->fb) {	/* reports waiting in memory for the directory */
		st->entries += s->fb->live;
		st->bytes += s->fb->bytes;
		st->dropped += s->fb->dropped;
		st->quarantined += s->fb->quarantined;
	}
}

/* ---- writer ---- */

static int create_tmp(struct spool *s, const char *name)
{
	return create_new(s->dfd, name);
}

/* The disk (or a quota) is full: dropping the oldest report makes room for
 * the newest, as the spool's own bounds do. Once reports as large as this
 * one (need: its bytes so far) were dropped in vain, something else takes
 * the space: the rest is kept. 1 if one was dropped. */
static int disk_full_drop(struct spool *s, uint64_t need, struct drops *d)
{
	int err = errno;
	struct ent *e = NULL;
	uint32_t i;

	if ((err != ENOSPC && err != EDQUOT) || s->w.freed > need) {
		errno = err;	/* for the caller's message */
		return 0;
	}
	/* The report delivery has open frees nothing while it is open: the
	 * next oldest goes instead (until 2026-11-29 none did, and every new
	 * report was lost for as long as the appliance took to answer). */
	for (i = 0; i < s->n; i++) {
		e = slot(s, i);
		if (e->live && !(s->r.active && e->seq == s->r.seq))
			break;
	}
	if (i == s->n) {
		errno = err;
		return 0;
	}
	s->w.freed += e->size;
	drop_live(s, e, d);
	trim_head(s);
	return 1;
}

/* Appends a stored report to the index, the oldest dropped first where the
 * bounds want it. */
static void index_add(struct spool *s, const struct ent *in)
{
	struct drops d = { 0, 0, 0 };
	struct ent *e;

	while (s->n > 0 && (s->n == s->cap ||
			    (!s->mem && s->bytes + in->size > s->max_bytes)))
		pop_head(s, &d);
	log_drops(s, &d, "full");
	e = slot(s, s->n);
	*e = *in;
	e->live = 1;
	s->n++;
	s->live++;
	s->bytes += e->size;
	if (s->mem)
		s->ring_used += e->size;
}

static int write_all(int fd, const uint8_t *p, uint64_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, p, len > IO_BUF_SIZE ? IO_BUF_SIZE : (size_t)len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		p += k;
		len -= (uint64_t)k;
	}
	return 0;
}

/* Writes the oldest report waiting in memory to its file: 0, or -1 (errno
 * set; it stays in memory). */
static int fb_store(struct spool *s, const struct ent *e)
{
	struct spool *m = s->fb;
	struct spool_hdr h = { e->plen, e->crc, e->seq, e->start, e->end };
	uint8_t hb[SPOOL_HDR_SIZE];
	char tmp[NAME_MAX_LEN], name[NAME_MAX_LEN];
	uint64_t first = m->ring_cap - e->off < e->plen ? m->ring_cap - e->off : e->plen;
	struct ent in = *e;
	int fd, ok, saved;

	seq_name(tmp, sizeof(tmp), e->seq, EXT_TMP);
	seq_name(name, sizeof(name), e->seq, EXT_DATA);
	fd = create_new(s->dfd, tmp);
	if (fd < 0)
		return -1;
	spool_hdr_encode(&h, hb);
	ok = write_all(fd, hb, sizeof(hb)) == 0 &&
	     write_all(fd, m->ring + e->off, first) == 0 &&
	     write_all(fd, m->ring, e->plen - first) == 0 && fsync(fd) == 0;
	saved = errno;
	if (close(fd) < 0 && ok) {
		ok = 0;
		saved = errno;
	}
	if (ok && renameat(s->dfd, tmp, s->dfd, name) < 0) {
		ok = 0;
		saved = errno;
	}
	if (!ok) {
		unlinkat(s->dfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (fsync(s->dfd) < 0 && errno != EINVAL)
		log_warn("spool %s: fsync: %s", s->dir, strerror(errno));
	in.off = 0;
	in.size = SPOOL_HDR_SIZE + e->plen;
	index_add(s, &in);
	return 0;
}

/* Moves the reports waiting in memory to the directory, oldest first, up
 * to the one delivery is reading (moved once it is done): 0 once none
 * wait, -1 while some do. A removed directory is made again first. */
static int fb_flush(struct spool *s)
{
	struct spool *m = s->fb;
	unsigned moved = 0;
	int rc = 0;

	while (m && m->live > 0) {
		struct ent e = *slot(m, 0);	/* trim_head: the head is live */

		if (s->r.active && s->r.fb && s->r.seq == e.seq) {
			rc = -1;
			break;
		}
		if (fb_store(s, &e) < 0 &&
		    (errno != ENOENT || reopen_dir(s) < 0 || fb_store(s, &e) < 0)) {
			rc = -1;
			break;
		}
		spool_remove(m, e.seq);
		moved++;
	}
	if (moved)
		log_info("spool %s: %u report(s) kept in memory stored in it", s->dir, moved);
	return rc;
}

/* Sends the report being written to the memory queue (once the directory
 * failed it: err), with the bytes already in its file (fd, or -1 for
 * none). 0, or -1 if it cannot go there either: lost then. */
static int to_memory(struct spool *s, int fd, int err)
{
	struct spool *m = s->fb;
	uint64_t off = 0;
	ssize_t k;

	if (!m)
		return -1;
	m->next_seq = s->w.seq;	/* the directory's order, for fb_flush */
	if (spool_begin(m, s->w.start, s->w.end) < 0)
		return -1;
	while (off < s->w.plen) {
		uint64_t want = s->w.plen - off;

		k = pread(fd, s->iobuf, want < sizeof(s->iobuf) ? (size_t)want : sizeof(s->iobuf),
			  (off_t)(SPOOL_HDR_SIZE + off));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || spool_write(m, (const char *)s->iobuf, (size_t)k) < 0) {
			spool_abort(m);
			return -1;
		}
		off += (uint64_t)k;
	}
	/* Said once until the directory takes reports again, not at every
	 * interval: the state, not each report, is news. */
	if (!s->fb_err)
		log_warn("spool %s: cannot store reports in it (%s): keeping them in "
			 "memory (at most %" PRIu64 " bytes, lost at exit) until it can",
			 s->dir, strerror(err), m->ring_cap);
	s->fb_err = err;
	s->w.fb = 1;
	s->w.failed = 0;
	return 0;
}

int spool_begin(struct spool *s, int64_t start, int64_t end)
{
	struct drops d = { 0, 0, 0 };
	char name[NAME_MAX_LEN];
	int saved;

	if (s->w.active)
		return -1;
	memset(&s->w, 0, sizeof(s->w));
	s->w.active = 1;
	s->w.fd = -1;
	s->w.seq = s->next_seq++;
	s->w.start = start;
	s->w.end = end;
	if (s->mem) {
		s->w.off = (s->ring_head + s->ring_used) % s->ring_cap;
		return 0;
	}
	if (s->w.seq >= SEQ_LIMIT) {	/* the next start would set it aside */
		log_err("spool %s: report numbers used up (a report numbered "
			"near %016" PRIx64 " is in the spool): report not stored",
			s->dir, SEQ_LIMIT);
		s->w.failed = 1;
		return 0;
	}
	/* Older reports still in memory: this one joins them, so that the
	 * directory gets them in order (and delivery with it). */
	if (s->fb && s->fb->live > 0 && fb_flush(s) < 0) {
		if (to_memory(s, -1, s->fb_err ? s->fb_err : EAGAIN) < 0)
			s->w.failed = 1;
		return 0;
	}
	seq_name(name, sizeof(name), s->w.seq, EXT_TMP);
	s->w.fd = create_tmp(s, name);
	if (s->w.fd < 0 && errno == ENOENT) {
		saved = errno;
		if (reopen_dir(s) == 0)
			s->w.fd = create_tmp(s, name);
		else
			errno = saved;
	}
	/* No room for the name (ENOSPC: no free inode, or a directory that
	 * needs a block): the oldest goes, as for the report's bytes. */
	while (s->w.fd < 0 && disk_full_drop(s, SPOOL_HDR_SIZE, &d))
		s->w.fd = create_tmp(s, name);
	log_drops(s, &d, "disk full");
	/* the header is written last, once length and CRC are known */
	if (s->w.fd >= 0 && lseek(s->w.fd, SPOOL_HDR_SIZE, SEEK_SET) < 0) {
		saved = errno;
		close(s->w.fd);
		unlinkat(s->dfd, name, 0);
		s->w.fd = -1;
		errno = saved;
	}
	if (s->w.fd < 0) {
		saved = errno;
		if (to_memory(s, -1, saved) == 0)
			return 0;
		log_warn("spool %s: cannot create %s: %s", s->dir, name, strerror(saved));
		s->w.failed = 1;
		return 0;
	}
	if (s->fb_err) {
		log_info("spool %s: storing reports in it again", s->dir);
		s->fb_err = 0;
	}
	return 0;
}

static int mem_write(struct spool *s, const char *data, size_t len)
{
	struct drops d = { 0, 0, 0 };
	uint64_t pos;
	size_t first;

	while (s->ring_used + s->w.plen + len > s->ring_cap && s->n > 0)
		pop_head(s, &d);
	log_drops(s, &d, "memory queue full");
	if (s->ring_used + s->w.plen + len > s->ring_cap)
		return -1;
	pos = (s->w.off + s->w.plen) % s->ring_cap;
	first = s->ring_cap - pos < len ? (size_t)(s->ring_cap - pos) : len;
	memcpy(s->ring + pos, data, first);
	memcpy(s->ring, data + first, len - first);
	return 0;
}

static int disk_write(struct spool *s, const char *data, size_t len)
{
	struct drops d = { 0, 0, 0 };
	int rc = 0, err;

	while (len > 0) {
		ssize_t k = write(s->w.fd, data, len);

		if (k > 0) {
			data += k;
			len -= (size_t)k;
		} else if (k < 0 && (errno == EINTR ||
				     disk_full_drop(s, SPOOL_HDR_SIZE + s->w.plen + len, &d))) {
			continue;
		} else {
			if (k == 0)
				errno = EIO;
			rc = -1;
			break;
		}
	}
	err = errno;
	log_drops(s, &d, "disk full");
	errno = err;
	return rc;
}

int spool_write(struct spool *s, const char *data, size_t len)
{
	uint64_t limit;

	if (s->w.active && s->w.fb)
		return spool_write(s->fb, data, len);
	if (!s->w.active || s->w.failed)
		return -1;
	if (len == 0)
		return 0;
	limit = s->mem ? s->ring_cap : s->max_bytes - SPOOL_HDR_SIZE;
	if (limit > SPOOL_MAX_PAYLOAD)
		limit = SPOOL_MAX_PAYLOAD;
	if (len > limit || s->w.plen > limit - len) {
		log_warn("spool %s: report larger than the spool bound (%" PRIu64
			 " bytes)", s->dir, limit);
		s->w.failed = 1;
		return -1;
	}
	if (s->mem ? mem_write(s, data, len) < 0 : disk_write(s, data, len) < 0) {
		int fd = s->w.fd, err = errno;
		char tmp[NAME_MAX_LEN];

		/* the disk failed it: memory takes it, with what it had */
		if (!s->mem && to_memory(s, fd, err) == 0) {
			close(fd);
			seq_name(tmp, sizeof(tmp), s->w.seq, EXT_TMP);
			unlinkat(s->dfd, tmp, 0);
			s->w.fd = -1;
			return spool_write(s->fb, data, len);
		}
		if (!s->mem)
			log_warn("spool %s: write failed: %s", s->dir, strerror(err));
		s->w.failed = 1;
		return -1;
	}
	s->w.crc = spool_crc32(s->w.crc, data, len);
	s->w.plen += len;
	return 0;
}

int spool_sink(void *ctx, const char *data, size_t len)
{
	return spool_write(ctx, data, len);
}

void spool_abort(struct spool *s)
{
	char name[NAME_MAX_LEN];

	if (!s->w.active)
		return;
	if (s->w.fb)
		spool_abort(s->fb);
	s->w.fb = 0;
	if (s->w.fd >= 0) {
		close(s->w.fd);
		seq_name(name, sizeof(name), s->w.seq, EXT_TMP);
		unlinkat(s->dfd, name, 0);
	}
	s->w.fd = -1;
	s->w.active = 0;
}

int spool_pending(const struct spool *s)
{
	return s->live > 0 || (s->fb && s->fb->live > 0);
}

/* The bounds spool_commit() and mem_write() enforce, by dropping the oldest.
 * Not "past half the byte bound", as until 2026-11-29: a report larger
 * than the room left pushed out the one before it, when reports grew from
 * one interval to the next. */
int spool_room_for(const struct spool *s, uint64_t bytes)
{
	if (s->fb && s->fb->live > 0)
		return spool_room_for(s->fb, bytes);
	if (s->live == 0)
		return 1;
	if (s->n >= s->cap)
		return 0;
	if (s->mem)	/* the ring holds tombstones too until trimmed */
		return s->ring_used + bytes <= s->ring_cap;
	return s->bytes + SPOOL_HDR_SIZE + bytes <= s->max_bytes;
}

/* What produced the report failed (its own write, or the JSON writer
 * before it): the report is lost like one that could not be stored. */
void spool_lose(struct spool *s)
{
	if (!s->w.active)
		return;
	if (s->w.fb) {
		spool_lose(s->fb);
		s->w.fb = s->w.active = 0;
		return;
	}
	s->w.failed = 1;
	(void)spool_commit(s, NULL);
}

/* Header, fsync, rename, fsync of the directory: the report exists whole
 * under its final name or not at all. */
static int disk_commit(struct spool *s)
{
	struct drops d = { 0, 0, 0 };
	struct spool_hdr h;
	uint8_t hb[SPOOL_HDR_SIZE];
	char tmp[NAME_MAX_LEN], name[NAME_MAX_LEN];
	ssize_t k;
	int fd = s->w.fd, ok, saved;

	h.payload_len = s->w.plen;
	h.crc = s->w.crc;
	h.seq = s->w.seq;
	h.start = s->w.start;
	h.end = s->w.end;
	spool_hdr_encode(&h, hb);
	/* the header fills a hole left at the start: that can need a block */
	do
		k = pwrite(fd, hb, sizeof(hb), 0);
	while (k < 0 && (errno == EINTR || disk_full_drop(s, SPOOL_HDR_SIZE + s->w.plen, &d)));
	log_drops(s, &d, "disk full");
	s->w.fd = -1;
	seq_name(tmp, sizeof(tmp), s->w.seq, EXT_TMP);
	seq_name(name, sizeof(name), s->w.seq, EXT_DATA);
	ok = k == (ssize_t)sizeof(hb) && fsync(fd) == 0;
	saved = k >= 0 && k != (ssize_t)sizeof(hb) ? EIO : errno;
	if (ok && renameat(s->dfd, tmp, s->dfd, name) < 0) {
		ok = 0;
		saved = errno;
	}
	if (!ok) {
		/* memory takes it, read back from the file while it is open */
		int kept = to_memory(s, fd, saved) == 0 && spool_commit(s->fb, NULL) == 0;

		if (!kept)
			log_warn("spool %s: cannot store %s: %s", s->dir, name,
				 k >= 0 && k != (ssize_t)sizeof(hb) ? "short write" :
				 strerror(saved));
		close(fd);
		unlinkat(s->dfd, tmp, 0);
		s->w.fb = 0;
		return kept ? 1 : -1;
	}
	/* fsynced and named: a late error says nothing more about the data */
	(void)close(fd);
	/* some file systems refuse fsync on a directory: nothing to do then */
	if (fsync(s->dfd) < 0 && errno != EINVAL)
		log_warn("spool %s: fsync: %s", s->dir, strerror(errno));
	return 0;
}

int spool_commit(struct spool *s, uint64_t *seq)
{
	struct drops d = { 0, 0, 0 };
	struct ent *e;
	uint64_t size;

	int rc;

	if (!s->w.active)
		return -1;
	if (s->w.fb) {
		s->w.fb = s->w.active = 0;
		return spool_commit(s->fb, seq);
	}
	if (!s->w.failed && s->w.plen == 0) {
		log_warn("spool %s: empty report not spooled", s->dir);
		spool_abort(s);
		return -1;
	}
	rc = s->w.failed || s->mem ? 0 : disk_commit(s);
	if (rc > 0) {	/* kept in memory */
		s->w.active = 0;
		if (seq)
			*seq = s->w.seq;
		return 0;
	}
	if (s->w.failed || rc < 0) {
		spool_abort(s);
		s->dropped++;
		log_warn("spool %s: report for interval %" PRId64 "-%" PRId64
			 " lost, %" PRIu64 " dropped so far", s->dir,
			 s->w.start, s->w.end, s->dropped);
		return -1;
	}
	size = s->mem ? s->w.plen : SPOOL_HDR_SIZE + s->w.plen;
	/* after the rename: a crash in between leaves too much, not too little */
	while (s->n > 0 && (s->n == s->cap ||
			    (!s->mem && s->bytes + size > s->max_bytes)))
		pop_head(s, &d);
	log_drops(s, &d, "full");
	e = slot(s, s->n);
	memset(e, 0, sizeof(*e));
	e->seq = s->w.seq;
	e->plen = s->w.plen;
	e->size = size;
	e->off = s->w.off;
	e->start = s->w.start;
	e->end = s->w.end;
	e->crc = s->w.crc;
	e->live = 1;
	s->n++;
	s->live++;
	s->bytes += size;
	if (s->mem)
		s->ring_used += size;
	s->w.active = 0;
	if (seq)
		*seq = e->seq;
	return 0;
}

/* ---- reader and removal ---- */

int spool_peek(const struct spool *s, struct spool_hdr *out)
{
	const struct ent *e;

	if (s->n == 0)	/* those in memory are newer than any on disk */
		return s->fb ? spool_peek(s->fb, out) : -1;
	e = &s->e[s->head];	/* trim_head keeps the oldest slot live */
	out->payload_len = e->plen;
	out->crc = e->crc;
	out->seq = e->seq;
	out->start = e->start;
	out->end = e->end;
	return 0;
}

int spool_reader_open(struct spool *s, uint64_t seq)
{
	char name[NAME_MAX_LEN];
	uint8_t hb[SPOOL_HDR_SIZE];
	struct spool_hdr h;
	struct stat st;
	long i;
	ssize_t k;
	int rc;

	spool_reader_close(s);
	i = find(s, seq);
	if (i < 0 && s->fb && find(s->fb, seq) >= 0) {
		rc = spool_reader_open(s->fb, seq);
		if (rc == 0) {
			s->r.active = s->r.fb = 1;
			s->r.seq = seq;
		}
		return rc;
	}
	if (i < 0)
		return SPOOL_ERR_GONE;
	memset(&s->r, 0, sizeof(s->r));
	s->r.fd = -1;
	s->r.seq = seq;
	s->r.left = slot(s, (uint32_t)i)->plen;
	s->r.want = slot(s, (uint32_t)i)->crc;
	if (!s->mem) {
		seq_name(name, sizeof(name), seq, EXT_DATA);
		/* O_NONBLOCK: a FIFO swapped in must not block the open */
		s->r.fd = openat(s->dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (s->r.fd < 0 && errno == ENOENT) {
			/* the directory removed? then the others went too */
			(void)reopen_dir(s);
			return SPOOL_ERR_GONE;
		}
		if (s->r.fd < 0)
			return io_error();
		if (fstat(s->r.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			rc = SPOOL_ERR_IO;
		} else {
			k = read_full(s->r.fd, hb, sizeof(hb));
			rc = k < 0 ? io_error() : hdr_decode(hb, (size_t)k, &h);
		}
		if (rc == 0 && h.seq != seq)
			rc = SPOOL_ERR_HEADER;
		if (rc == 0 && (uint64_t)st.st_size < SPOOL_HDR_SIZE + h.payload_len)
			rc = SPOOL_ERR_TRUNCATED;
		if (rc == 0 && (uint64_t)st.st_size > SPOOL_HDR_SIZE + h.payload_len)
			rc = SPOOL_ERR_LENGTH;
		if (rc < 0) {
			int saved = errno;	/* for SPOOL_ERR_AGAIN's caller */

			close(s->r.fd);
			s->r.fd = -1;
			errno = saved;
			return rc;
		}
		/* the file is the authority: it may differ from the index */
		s->r.left = h.payload_len;
		s->r.want = h.crc;
	}
	s->r.active = 1;
	return 0;
}

ssize_t spool_read(struct spool *s, void *buf, size_t cap)
{
	size_t n;
	ssize_t k;
	long i;

	if (!s->r.active)
		return SPOOL_ERR_GONE;
	if (s->r.fb)
		return spool_read(s->fb, buf, cap);
	if (cap == 0)
		return SPOOL_ERR_IO;	/* 0 would mean the end */
	if (s->r.left == 0)
		return s->r.crc == s->r.want ? 0 : SPOOL_ERR_CRC;
	n = s->r.left < cap ? (size_t)s->r.left : cap;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	if (s->mem) {
		struct ent *e;
		uint64_t pos;
		size_t first;

		i = find(s, s->r.seq);
		if (i < 0)
			return SPOOL_ERR_GONE;
		e = slot(s, (uint32_t)i);
		pos = (e->off + s->r.pos) % s->ring_cap;
		first = s->ring_cap - pos < n ? (size_t)(s->ring_cap - pos) : n;
		memcpy(buf, s->ring + pos, first);
		memcpy((char *)buf + first, s->ring, n - first);
		k = (ssize_t)n;
	} else {
		do
			k = read(s->r.fd, buf, n);
		while (k < 0 && errno == EINTR);
		if (k < 0)
			return io_error();
		if (k == 0)
			return SPOOL_ERR_TRUNCATED;
	}
	s->r.crc = spool_crc32(s->r.crc, buf, (size_t)k);
	s->r.left -= (uint64_t)k;
	s->r.pos += (uint64_t)k;
	/* Checked with the last bytes, not only at the call after them: a
	 * reader that stops at the length it was promised (the HTTP body)
	 * never makes that call. */
	if (s->r.left == 0 && s->r.crc != s->r.want)
		return SPOOL_ERR_CRC;
	return k;
}

void spool_reader_close(struct spool *s)
{
	if (s->r.fb)
		spool_reader_close(s->fb);
	s->r.fb = 0;
	if (s->r.fd >= 0)
		close(s->r.fd);
	s->r.fd = -1;
	s->r.active = 0;
}

static int take_out(struct spool *s, uint64_t seq, struct ent **out)
{
	long i = find(s, seq);

	if (i < 0)
		return -1;
	*out = slot(s, (uint32_t)i);
	(*out)->live = 0;
	s->live--;
	s->bytes -= (*out)->size;
	return 0;
}

int spool_remove(struct spool *s, uint64_t seq)
{
	struct ent *e;

	if (take_out(s, seq, &e) < 0)
		return s->fb ? spool_remove(s->fb, seq) : -1;
	unlink_entry(s, seq);
	trim_head(s);
	return 0;
}

int spool_quarantine(struct spool *s, uint64_t seq, const char *why)
{
	char name[NAME_MAX_LEN];
	struct ent *e;

	if (find(s, seq) < 0)
		return s->fb ? spool_quarantine(s->fb, seq, why) : -1;
	if (!s->mem) {
		seq_name(name, sizeof(name), seq, EXT_DATA);
		if (quarantine_file(s, name, why) < 0)
			return SPOOL_ERR_AGAIN;	/* still there, still queued */
	}
	take_out(s, seq, &e);
	if (s->mem) {
		s->quarantined++;
		log_warn("spool %s: report %" PRIu64 " %s, discarded",
			 s->dir, seq, why);
	}
	trim_head(s);
	return 0;
}
