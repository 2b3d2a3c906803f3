/* Spool: each interval's report is kept, in delivery order, until the
 * appliance accepted it. On disk: one file per report, "%016llx.d42" named by
 * a sequence number (lexical order = delivery order), written to "*.tmp" then
 * fsync'ed and renamed. Without a usable directory: a byte ring in memory;
 * with one, reports it does not take wait in such a ring until it does.
 * Bounded by bytes and files; when full the oldest are dropped (counted,
 * logged). Only spool_open allocates. One writer and one reader at a time. */
#ifndef D42_SPOOL_H
#define D42_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_MAGIC         "D42SPOOL"
#define SPOOL_VERSION       1
#define SPOOL_HDR_SIZE      52		/* bytes; layout in spool.c */
#define SPOOL_MAX_PAYLOAD   (1ULL << 30)	/* one report, bytes */
#define SPOOL_MAX_FILES     (1u << 20)	/* largest max_files accepted */
#define SPOOL_MEM_MAX_BYTES (8u << 20)	/* cap of the in-memory ring */
#define SPOOL_MAX_CORRUPT   16		/* files kept in DIR/corrupt/ */

enum spool_err {
	SPOOL_OK = 0,
	SPOOL_ERR_MAGIC = -1,	  /* not a spool file */
	SPOOL_ERR_VERSION = -2,	  /* unknown format version */
	SPOOL_ERR_TRUNCATED = -3, /* shorter than the header or its length */
	SPOOL_ERR_LENGTH = -4,	  /* longer than announced, or length 0/too big */
	SPOOL_ERR_CRC = -5,	  /* payload CRC-32 mismatch */
	SPOOL_ERR_HEADER = -6,	  /* header CRC mismatch or reserved bits set */
	SPOOL_ERR_IO = -7,	  /* read error */
	SPOOL_ERR_GONE = -8,	  /* entry removed or dropped meanwhile */
	SPOOL_ERR_AGAIN = -9	  /* out of descriptors or memory (errno
				   * says which): try again later */
};

struct spool_hdr {
	uint64_t payload_len;	/* 1..SPOOL_MAX_PAYLOAD */
	uint32_t crc;		/* CRC-32 (IEEE, as zlib) of the payload */
	uint64_t seq;
	int64_t start, end;	/* the interval, Unix seconds */
};

struct spool_stats {
	uint32_t entries;	/* reports waiting */
	uint64_t bytes;		/* their size (files incl. headers, or payloads) */
	uint64_t dropped;	/* reports lost to the bounds or write errors */
	uint64_t quarantined;	/* files moved aside (corrupt/) */
	int in_memory;		/* 1: no directory, nothing survives a restart */
};

struct spool;

/* dir NULL/"" or unusable: memory mode (with a warning). max_bytes >= 1 +
 * SPOOL_HDR_SIZE, 1 <= max_files <= SPOOL_MAX_FILES. NULL on bad limits,
 * out of memory, a directory locked by another process (EBUSY), or one
 * that cannot be read now (out of descriptors or memory) or listed in full:
 * errno says which; nothing in it is judged, moved or numbered over then. */
struct spool *spool_open(const char *dir, uint64_t max_bytes, uint32_t max_files);
void spool_close(struct spool *s);	/* aborts an unfinished write */
void spool_stats(const struct spool *s, struct spool_stats *st);
/* 1 while it holds a report not yet delivered. */
int spool_pending(const struct spool *s);
/* 1 if a report of `bytes` (its text) could be stored now without pushing
 * out one not yet delivered (always, with none pending: a report larger
 * than the bounds is lost whatever the wait). Reading a file waits for
 * delivery while the next report might not have room. */
int spool_room_for(const struct spool *s, uint64_t bytes);
/* Gives the directory, its reports and corrupt/ to uid:gid (as root,
 * before switching to that user). 0, or -1 with errno set. */
int spool_chown(struct spool *s, uid_t uid, gid_t gid);

/* Writing one report: begin, write pieces, then commit or abort. A failed
 * write (too big, disk error) makes the rest fail; commit then drops it,
 * counted. spool_sink has the json_sink_fn signature (ctx = the spool). */
int spool_begin(struct spool *s, int64_t start, int64_t end);
int spool_write(struct spool *s, const char *data, size_t len);
int spool_sink(void *ctx, const char *data, size_t len);
int spool_commit(struct spool *s, uint64_t *seq);	/* seq may be NULL */
void spool_abort(struct spool *s);	/* not wanted: nothing counted */
void spool_lose(struct spool *s);	/* the writer failed: lost, counted */

/* Sending: the oldest entry (0, or -1 if empty); a streaming reader over one
 * entry's payload: spool_read returns bytes read, 0 at the end, or a
 * negative enum spool_err (SPOOL_ERR_CRC instead of the last bytes when
 * the payload does not match its CRC). */
int spool_peek(const struct spool *s, struct spool_hdr *out);
int spool_reader_open(struct spool *s, uint64_t seq);
ssize_t spool_read(struct spool *s, void *buf, size_t cap);
void spool_reader_close(struct spool *s);
int spool_remove(struct spool *s, uint64_t seq);	/* accepted: 0 or -1 */
/* Moves report seq aside (corrupt/; memory mode: discards it), logging why
 * ("damaged"). 0, -1 if there is no such report, or SPOOL_ERR_AGAIN (errno
 * set) if out of descriptors or memory: then it stays queued. */
int spool_quarantine(struct spool *s, uint64_t seq, const char *why);

/* Whole-file validation (fuzzed): 0 or a negative enum spool_err; out (may
 * be NULL) is filled once the header is valid. */
int spool_check(const uint8_t *buf, size_t len, struct spool_hdr *out);
void spool_hdr_encode(const struct spool_hdr *h, uint8_t out[SPOOL_HDR_SIZE]);
uint32_t spool_crc32(uint32_t crc, const void *buf, size_t len); /* start 0 */
const char *spool_strerror(int err);

#endif
