/* Spool: file format, crash-safe writing, ordering across restarts, bounds,
 * quarantine of corrupt files, memory mode, streaming reader. */
#include "spool.h"
#include "t.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG (1ULL << 30)
#define FDS_TRIED 8	/* descriptors to spare tried at start-up */
#define MANY 1000u

static char tmpdir[256];

static const char *mkdir_tmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/d42spool.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
	return tmpdir;
}

static void rm_tmp(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("  cannot remove %s\n", tmpdir);
}

/* dir/name in one of a few rotating buffers, so calls may nest. */
static const char *path_in(const char *dir, const char *name)
{
	static char p[4][1024];
	static unsigned i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* Regular files in dir (not recursing), excluding . and directories. */
static int count_files(const char *dir_arg)
{
	char dir[512];
	DIR *d;
	struct dirent *de;
	struct stat st;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s", dir_arg);	/* may be a path_in() */
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (lstat(path_in(dir, de->d_name), &st) == 0 && !S_ISDIR(st.st_mode))
			n++;
	}
	closedir(d);
	return n;
}

static int exists(const char *dir, const char *name)
{
	struct stat st;

	return lstat(path_in(dir, name), &st) == 0;
}

/* Number of names in dir ending with suffix. */
static int count_suffix(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t lx = strlen(suffix);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l >= lx && strcmp(de->d_name + l - lx, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Bit i set when dir holds a name starting with 16-hex-digit number i and
 * '-' (quarantine numbers below 64); -1 on anything else. */
static long long corrupt_numbers(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long long bits = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		unsigned long long v;
		char *end;

		if (de->d_name[0] == '.')
			continue;
		errno = 0;
		v = strtoull(de->d_name, &end, 16);
		if (errno || end != de->d_name + 16 || *end != '-' || v >= 63) {
			bits = -1;
			break;
		}
		bits |= 1LL << v;
	}
	closedir(d);
	return bits;
}

static void write_raw(const char *dir, const char *name, const void *p, size_t n)
{
	int fd = open(path_in(dir, name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n)) {
		perror("write_raw");
		exit(1);
	}
	close(fd);
}

/* A well-formed spool file image of payload p into out; returns its size. */
static size_t make_image(uint8_t *out, uint64_t seq, const char *p,
			 int64_t start, int64_t end)
{
	struct spool_hdr h;
	size_t n = strlen(p);

	h.payload_len = n;
	h.crc = spool_crc32(0, p, n);
	h.seq = seq;
	h.start = start;
	h.end = end;
	spool_hdr_encode(&h, out);
	memcpy(out + SPOOL_HDR_SIZE, p, n);
	return SPOOL_HDR_SIZE + n;
}

static void write_image(const char *dir, uint64_t seq, const char *p)
{
	uint8_t buf[4096];
	char name[64];
	size_t n = make_image(buf, seq, p, 100, 160);

	snprintf(name, sizeof(name), "%016llx.d42", (unsigned long long)seq);
	write_raw(dir, name, buf, n);
}

/* Writes one report in pieces of `chunk` bytes; returns commit's result. */
static int put(struct spool *s, const char *p, size_t chunk, int64_t start,
	       uint64_t *seq)
{
	size_t len = strlen(p), off;

	if (spool_begin(s, start, start + 60) < 0)
		return -2;
	for (off = 0; off < len; off += chunk) {
		size_t k = len - off < chunk ? len - off : chunk;

		if (spool_write(s, p + off, k) < 0)
			break;
	}
	return spool_commit(s, seq);
}

/* Reads a whole entry into out (NUL-terminated); returns the last
 * spool_read result (0 = clean end) or the open error. */
static int get(struct spool *s, uint64_t seq, char *out, size_t outsz,
	       size_t piece)
{
	size_t used = 0;
	ssize_t k;
	int rc = spool_reader_open(s, seq);

	if (rc < 0)
		return rc;
	for (;;) {
		size_t want = piece < outsz - 1 - used ? piece : outsz - 1 - used;

		if (want == 0) {	/* full: only the end may follow */
			char extra;

			k = spool_read(s, &extra, 1);
			if (k > 0)
				return -100;
			break;
		}
		k = spool_read(s, out + used, want);
		if (k <= 0)
			break;
		used += (size_t)k;
	}
	out[used] = '\0';
	spool_reader_close(s);
	return (int)k;
}

static void test_crc32_known_values(void)
{
	T_EQ_INT(spool_crc32(0, "123456789", 9), 0xCBF43926u);
	T_EQ_INT(spool_crc32(0, "", 0), 0);
	/* chaining equals one pass */
	T_EQ_INT(spool_crc32(spool_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void test_check_valid_and_header_fields(void)
{
	uint8_t buf[256];
	struct spool_hdr h;
	size_t n = make_image(buf, 0x1234, "{\"a\":1}", -5, 1700000000);

	T_EQ_INT(n, SPOOL_HDR_SIZE + 7);
	T_EQ_INT(memcmp(buf, "D42SPOOL", 8), 0);
	memset(&h, 0, sizeof(h));
	T_EQ_INT(spool_check(buf, n, &h), SPOOL_OK);
	T_EQ_INT(h.payload_len, 7);
	T_EQ_INT(h.seq, 0x1234);
	T_EQ_INT(h.start, -5);
	T_EQ_INT(h.end, 1700000000);
	T_EQ_INT(h.crc, spool_crc32(0, "{\"a\":1}", 7));
	T_EQ_INT(spool_check(buf, n, NULL), SPOOL_OK);
}

static void test_check_errors(void)
{
	uint8_t buf[256], b2[256];
	size_t n = make_image(buf, 1, "hello", 0, 60);
	struct spool_hdr h;

	T_EQ_INT(spool_check(buf, 0, NULL), SPOOL_ERR_TRUNCATED);
	T_EQ_INT(spool_check((const uint8_t *)"D42S", 4, NULL), SPOOL_ERR_TRUNCATED);
	T_EQ_INT(spool_check((const uint8_t *)"X", 1, NULL), SPOOL_ERR_MAGIC);
	T_EQ_INT(spool_check(buf, SPOOL_HDR_SIZE - 1, NULL), SPOOL_ERR_TRUNCATED);
	T_EQ_INT(spool_check(buf, n - 1, NULL), SPOOL_ERR_TRUNCATED);
	T_EQ_INT(spool_check(buf, SPOOL_HDR_SIZE, NULL), SPOOL_ERR_TRUNCATED);

	memcpy(b2, buf, n);
	b2[n] = 'x';
	T_EQ_INT(spool_check(b2, n + 1, NULL), SPOOL_ERR_LENGTH);

	memcpy(b2, buf, n);
	b2[0] = 'd';
	T_EQ_INT(spool_check(b2, n, NULL), SPOOL_ERR_MAGIC);

	memcpy(b2, buf, n);
	b2[9] = 2;	/* version 2 */
	T_EQ_INT(spool_check(b2, n, NULL), SPOOL_ERR_VERSION);

	memcpy(b2, buf, n);
	b2[35] ^= 1;	/* interval start, covered by the header CRC */
	T_EQ_INT(spool_check(b2, n, NULL), SPOOL_ERR_HEADER);

	memcpy(b2, buf, n);
	b2[n - 1] ^= 0x20;	/* payload */
	T_EQ_INT(spool_check(b2, n, &h), SPOOL_ERR_CRC);
	T_EQ_INT(h.seq, 1);	/* header was valid, so out is filled */

	/* a valid header announcing zero or too many bytes */
	h.payload_len = 0;
	h.crc = 0;
	h.seq = 1;
	h.start = h.end = 0;
	spool_hdr_encode(&h, b2);
	T_EQ_INT(spool_check(b2, SPOOL_HDR_SIZE, NULL), SPOOL_ERR_LENGTH);
	h.payload_len = SPOOL_MAX_PAYLOAD + 1;
	spool_hdr_encode(&h, b2);
	T_EQ_INT(spool_check(b2, SPOOL_HDR_SIZE, NULL), SPOOL_ERR_LENGTH);

	/* reserved flags set and the header CRC recomputed: still refused */
	h.payload_len = 5;
	h.crc = spool_crc32(0, "hello", 5);
	spool_hdr_encode(&h, b2);
	b2[11] = 1;
	{
		uint32_t c = spool_crc32(0, b2, 48);

		b2[48] = (uint8_t)(c >> 24);
		b2[49] = (uint8_t)(c >> 16);
		b2[50] = (uint8_t)(c >> 8);
		b2[51] = (uint8_t)c;
	}
	memcpy(b2 + SPOOL_HDR_SIZE, "hello", 5);
	T_EQ_INT(spool_check(b2, SPOOL_HDR_SIZE + 5, NULL), SPOOL_ERR_HEADER);
	T_CHECK(strcmp(spool_strerror(SPOOL_ERR_CRC), "payload CRC mismatch") == 0);
}

static void test_write_commit_reopen_in_order(void)
{
	const char *dir = mkdir_tmp();
	char sub[300], out[256];
	struct spool *s;
	struct spool_hdr h;
	struct spool_stats st;
	uint64_t seq[4];

	/* a nested directory that does not exist yet is created, mode 0700 */
	snprintf(sub, sizeof(sub), "%s/a/spool", dir);
	s = spool_open(sub, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	{
		struct stat sb;

		T_EQ_INT(stat(sub, &sb), 0);
		T_EQ_INT(sb.st_mode & 0777, 0700);
	}
	T_EQ_INT(put(s, "{\"report\":1}", 3, 1000, &seq[0]), 0);
	T_EQ_INT(put(s, "{\"report\":2}", 5, 1060, &seq[1]), 0);
	T_EQ_INT(put(s, "{\"report\":3}", 100, 1120, &seq[2]), 0);
	T_CHECK(seq[0] < seq[1] && seq[1] < seq[2]);
	T_EQ_INT(exists(sub, "0000000000000001.d42"), 1);
	T_EQ_INT(count_files(sub), 3);
	spool_close(s);

	/* "restart" */
	s = spool_open(sub, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 3);
	T_EQ_INT(st.bytes, 3 * (SPOOL_HDR_SIZE + 12));
	T_EQ_INT(st.in_memory, 0);
	T_EQ_INT(st.dropped, 0);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, seq[0]);
	T_EQ_INT(h.start, 1000);
	T_EQ_INT(h.end, 1060);
	T_EQ_INT(h.payload_len, 12);
	T_EQ_INT(get(s, h.seq, out, sizeof(out), 4), 0);
	T_EQ_STR(out, "{\"report\":1}");
	T_EQ_INT(spool_remove(s, h.seq), 0);
	T_EQ_INT(spool_remove(s, h.seq), -1);	/* already gone */

	/* new reports after a restart come after the old ones */
	T_EQ_INT(put(s, "{\"report\":4}", 7, 1180, &seq[3]), 0);
	T_CHECK(seq[3] > seq[2]);
	spool_close(s);

	s = spool_open(sub, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	{
		const char *want[] = { "{\"report\":2}", "{\"report\":3}",
				       "{\"report\":4}" };
		for (int i = 0; i < 3; i++) {
			T_EQ_INT(spool_peek(s, &h), 0);
			T_EQ_INT(h.seq, seq[i + 1]);
			T_EQ_INT(get(s, h.seq, out, sizeof(out), 1), 0);
			T_EQ_STR(out, want[i]);
			T_EQ_INT(spool_remove(s, h.seq), 0);
		}
	}
	T_EQ_INT(spool_peek(s, &h), -1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 0);
	T_EQ_INT(st.bytes, 0);
	T_EQ_INT(count_files(sub), 0);
	spool_close(s);
	rm_tmp();
}

static void test_bounds_by_files_drop_oldest(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s = spool_open(dir, BIG, 3);
	struct spool_stats st;
	struct spool_hdr h;
	char p[32];
	uint64_t seq;

	T_CHECK(s != NULL);
	if (!s)
		return;
	for (int i = 1; i <= 5; i++) {
		snprintf(p, sizeof(p), "{\"n\":%d}", i);
		T_EQ_INT(put(s, p, 4, i * 60, &seq), 0);
		T_EQ_INT(seq, i);
	}
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 3);
	T_EQ_INT(st.dropped, 2);
	T_EQ_INT(count_files(dir), 3);
	T_EQ_INT(exists(dir, "0000000000000001.d42"), 0);
	T_EQ_INT(exists(dir, "0000000000000002.d42"), 0);
	T_EQ_INT(exists(dir, "0000000000000003.d42"), 1);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 3);
	spool_close(s);

	/* more files on disk than a smaller bound allows: the newest stay */
	s = spool_open(dir, BIG, 2);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 1);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 4);
	T_EQ_INT(exists(dir, "0000000000000003.d42"), 0);
	T_EQ_INT(count_files(dir), 2);
	spool_close(s);
	rm_tmp();
}

static void test_bounds_by_bytes_drop_oldest(void)
{
	const char *dir = mkdir_tmp();
	/* 10-byte payloads: room for two files, not three */
	uint64_t maxb = 2 * (SPOOL_HDR_SIZE + 10) + 5;
	struct spool *s = spool_open(dir, maxb, MANY);
	struct spool_stats st;
	struct spool_hdr h;
	uint64_t seq;
	char big[200];

	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "0123456789", 3, 0, &seq), 0);
	T_EQ_INT(put(s, "abcdefghij", 3, 60, &seq), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 0);
	T_EQ_INT(put(s, "ABCDEFGHIJ", 3, 120, &seq), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 1);
	T_EQ_INT(st.bytes, 2 * (SPOOL_HDR_SIZE + 10));
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 2);

	/* one report larger than the whole bound: lost, counted, no debris */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_EQ_INT(put(s, big, 16, 180, &seq), -1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 2);
	T_EQ_INT(count_files(dir), 2);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 2);
	spool_close(s);

	/* a smaller byte bound at start-up trims the oldest */
	s = spool_open(dir, SPOOL_HDR_SIZE + 10, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 1);
	T_EQ_INT(st.dropped, 1);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 3);
	spool_close(s);
	rm_tmp();
}

/* spool_room_for() says whether a report of k bytes fits beside the one
 * pending, exactly where storing it would push that one out: on disk
 * (headers counted) and in memory, by bytes and by files. */
static void test_room_for_matches_drops(void)
{
	static const size_t sizes[] = { 10, 15, 16, 40 };
	char text[64];
	size_t i, mem;
	struct spool *s;
	struct spool_stats st;
	uint64_t seq;
	int room;

	for (mem = 0; mem <= 1; mem++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			const char *dir = mem ? "" : mkdir_tmp();
			/* a pending report, then room for 15 bytes: on disk 10 +
			 * 15 and two headers, in memory (payloads only, and the
			 * smallest bound) 45 + 15 */
			size_t first = mem ? 45 : 10;

			s = spool_open(dir, mem ? 60 : 2 * SPOOL_HDR_SIZE + 25, MANY);
			T_CHECK(s != NULL);
			if (!s)
				return;
			T_CHECK(spool_room_for(s, 1000));	/* nothing pending */
			memset(text, 'x', first);
			text[first] = '\0';
			T_EQ_INT(put(s, text, 4, 0, &seq), 0);
			room = spool_room_for(s, sizes[i]);
			T_EQ_INT(room, sizes[i] <= 15);
			memset(text, 'y', sizes[i]);
			text[sizes[i]] = '\0';
			put(s, text, 4, 60, &seq);
			spool_stats(s, &st);
			T_EQ_INT(st.dropped, room ? 0 : 1);
			spool_close(s);
			if (!mem)
				rm_tmp();
		}
	/* by files: one allowed, one pending */
	s = spool_open(mkdir_tmp(), 1 << 20, 1);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "0123456789", 4, 0, &seq), 0);
	T_CHECK(!spool_room_for(s, 1));
	T_CHECK(spool_pending(s));
	T_EQ_INT(spool_remove(s, seq), 0);	/* delivered */
	T_CHECK(!spool_pending(s));
	T_CHECK(spool_room_for(s, 1));
	spool_close(s);
	rm_tmp();
}

static void test_corrupt_files_quarantined(void)
{
	const char *dir = mkdir_tmp();
	uint8_t img[512];
	size_t n;
	struct spool *s;
	struct spool_stats st;
	struct spool_hdr h;
	char out[64];

	write_image(dir, 2, "{\"good\":true}");
	n = make_image(img, 3, "{\"x\":1}", 0, 60);
	img[0] = 'X';
	write_raw(dir, "0000000000000003.d42", img, n);	/* bad magic */
	n = make_image(img, 4, "{\"x\":1}", 0, 60);
	write_raw(dir, "0000000000000004.d42", img, n - 2);	/* truncated */
	n = make_image(img, 5, "{\"x\":1}", 0, 60);
	img[n - 2] ^= 1;
	write_raw(dir, "0000000000000005.d42", img, n);	/* CRC mismatch */
	write_raw(dir, "0000000000000006.d42", img, 0);	/* zero length */
	n = make_image(img, 99, "{\"x\":1}", 0, 60);
	write_raw(dir, "0000000000000007.d42", img, n);	/* name != header seq */
	n = make_image(img, 8, "{\"x\":1}", 0, 60);
	write_raw(dir, "0000000000000008.D42", img, n);	/* garbage names */
	write_raw(dir, "notes.txt", "hi", 2);
	write_raw(dir, "00000000000000ag.d42", img, n);
	write_raw(dir, "bad\nname", "x", 1);
	T_EQ_INT(symlink("/etc/passwd", path_in(dir, "0000000000000009.d42")), 0);

	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 1);
	T_EQ_INT(st.quarantined, 10);
	T_EQ_INT(count_files(dir), 1);
	T_EQ_INT(exists(dir, "0000000000000002.d42"), 1);
	T_EQ_INT(count_files(path_in(dir, "corrupt")), 10);
	T_EQ_INT(count_suffix(path_in(dir, "corrupt"), "-0000000000000003.d42"), 1);
	T_EQ_INT(count_suffix(path_in(dir, "corrupt"), "-bad?name"), 1);
	T_EQ_INT(count_suffix(path_in(dir, "corrupt"), "-notes.txt"), 1);
	T_EQ_INT(corrupt_numbers(path_in(dir, "corrupt")), 0x3ff);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 2);
	T_EQ_INT(get(s, 2, out, sizeof(out), 64), 0);
	T_EQ_STR(out, "{\"good\":true}");
	/* the next sequence number passes every number seen */
	{
		uint64_t seq;

		T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
		T_EQ_INT(seq, 10);
	}
	spool_close(s);
	rm_tmp();
}

/* Names numbered near the top of the range are not ours: set aside, and
 * no help to the numbering, which would otherwise wrap past them and give
 * new reports numbers that sort before the queue (found wedged: the index
 * out of order, the head never found, the loop spinning on it). */
static void test_planted_numbers_set_aside(void)
{
	const char *dir = mkdir_tmp();
	uint8_t img[512];
	size_t n;
	struct spool *s;
	struct spool_stats st;
	struct spool_hdr h;
	uint64_t seq, want;
	char out[64];

	write_image(dir, 2, "{\"good\":true}");
	n = make_image(img, 0xfffffffffffffffeULL, "{\"x\":1}", 0, 60);
	write_raw(dir, "fffffffffffffffe.d42", img, n);	/* well-formed */
	write_raw(dir, "ffffffffffffffff-junk", "x", 1);
	write_raw(dir, "4000000000000000.tmp", "x", 1);

	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 1);
	T_EQ_INT(st.quarantined, 2);
	T_EQ_INT(count_suffix(path_in(dir, "corrupt"), "-fffffffffffffffe.d42"), 1);
	T_EQ_INT(exists(dir, "4000000000000000.tmp"), 0);
	for (want = 3; want <= 5; want++) {
		T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
		T_EQ_INT(seq, want);
	}
	for (want = 2; want <= 5; want++) {	/* in order, each found */
		T_EQ_INT(spool_peek(s, &h), 0);
		T_EQ_INT(h.seq, want);
		T_EQ_INT(get(s, h.seq, out, sizeof(out), 64), 0);
		T_EQ_INT(spool_remove(s, h.seq), 0);
	}
	T_CHECK(spool_peek(s, &h) < 0);
	spool_close(s);
	rm_tmp();
}

/* Entries that go at the scan (an unfinished file, one set aside) or that
 * counting could never reach (a directory near the limit) give the count
 * no number: one stray name near 2^62 numbered every report after it past
 * the limit, and the next start set them all aside. A well-formed report
 * there (planted: no run counts that far) keeps the queue's order; the
 * numbers past the limit are then refused, not written to be lost. */
static void test_stray_numbers_not_taken(void)
{
	const char *dir = mkdir_tmp();
	uint8_t img[512];
	size_t n;
	struct spool *s;
	struct spool_stats st;
	uint64_t seq, want;

	write_image(dir, 2, "{\"good\":true}");
	write_raw(dir, "3ffffffffffffff0.tmp", "x", 1);
	write_raw(dir, "3ffffffffffffff1.d42", "junk", 4);
	T_EQ_INT(mkdir(path_in(dir, "3ffffffffffffff8.d42"), 0700), 0);
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	for (want = 3; want <= 5; want++) {
		T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
		T_EQ_INT(seq, want);
	}
	spool_close(s);
	s = spool_open(dir, BIG, MANY);	/* all four still there */
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 4);
	T_EQ_INT(st.quarantined, 0);
	spool_close(s);
	rm_tmp();

	dir = mkdir_tmp();
	n = make_image(img, 0x3ffffffffffffffeULL, "{\"x\":1}", 0, 60);
	write_raw(dir, "3ffffffffffffffe.d42", img, n);
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
	T_CHECK(seq == 0x3fffffffffffffffULL);
	T_CHECK(put(s, "{}", 1, 0, &seq) < 0);	/* past the limit: refused */
	spool_close(s);
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.quarantined, 0);
	spool_close(s);
	rm_tmp();
}

/* corrupt/ removed while the spool is open (an operator tidying up): the
 * next report set aside goes into a new one, it is not deleted. */
static void test_corrupt_dir_removed_while_open(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s;
	struct spool_hdr h;
	uint64_t seq;

	write_raw(dir, "junk", "x", 1);	/* makes corrupt/ at start-up */
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(count_files(path_in(dir, "corrupt")), 1);
	T_EQ_INT(put(s, "{\"a\":1}", 64, 0, &seq), 0);
	T_EQ_INT(unlink(path_in(path_in(dir, "corrupt"), "0000000000000000-junk")), 0);
	T_EQ_INT(rmdir(path_in(dir, "corrupt")), 0);
	T_EQ_INT(spool_quarantine(s, seq, "test"), 0);
	T_EQ_INT(count_files(path_in(dir, "corrupt")), 1);
	T_EQ_INT(count_suffix(path_in(dir, "corrupt"), "-0000000000000001.d42"), 1);
	T_CHECK(spool_peek(s, &h) < 0);
	spool_close(s);
	rm_tmp();
}

/* The spool directory removed while open (a tmpfs cleaner, an operator):
 * the next report, or the next read, makes it again by its full path,
 * locked; the report being read is copied there from its open file, the
 * others count as dropped and leave the index. While the path cannot be a
 * directory, reports wait in memory, and go to it, in order, once it can
 * be made again (until 2026-11-29 they were lost). */
static void empty_dir(const char *d)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	T_EQ_INT(system(cmd), 0);
}

static void test_directory_removed_while_open(void)
{
	const char *dir = mkdir_tmp();
	char sub[300], out[64];
	struct spool *s;
	struct spool_hdr h;
	struct spool_stats st;
	uint64_t seq[8];
	ssize_t k;
	int fd;

	snprintf(sub, sizeof(sub), "%s/spool", dir);
	s = spool_open(sub, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "{\"report\":1}", 64, 1000, &seq[0]), 0);
	T_EQ_INT(put(s, "{\"report\":2}", 64, 1060, &seq[1]), 0);
	T_EQ_INT(put(s, "{\"report\":3}", 64, 1120, &seq[2]), 0);
	T_EQ_INT(spool_reader_open(s, seq[0]), 0);
	empty_dir(sub);

	T_EQ_INT(put(s, "{\"report\":4}", 64, 1180, &seq[3]), 0);
	T_EQ_INT(exists(sub, "0000000000000001.d42"), 1);	/* copied */
	T_EQ_INT(exists(sub, "0000000000000002.d42"), 0);
	T_EQ_INT(exists(sub, "0000000000000004.d42"), 1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);	/* the one being read, and the new one */
	T_EQ_INT(st.dropped, 2);
	T_EQ_INT(st.quarantined, 0);
	T_EQ_INT(st.bytes, 2 * (SPOOL_HDR_SIZE + 12));
	T_CHECK(spool_open(sub, BIG, MANY) == NULL && errno == EBUSY);

	k = spool_read(s, out, sizeof(out) - 1);
	T_EQ_INT(k, 12);
	out[k > 0 ? k : 0] = '\0';
	T_EQ_STR(out, "{\"report\":1}");
	spool_reader_close(s);
	/* a failed delivery reads it again: from the copy */
	T_EQ_INT(get(s, seq[0], out, sizeof(out), 64), 0);
	T_EQ_STR(out, "{\"report\":1}");
	T_EQ_INT(spool_remove(s, seq[0]), 0);
	T_EQ_INT(exists(sub, "0000000000000001.d42"), 0);	/* the copy */
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, seq[3]);

	/* removed with nothing being read: the next read notices */
	empty_dir(sub);
	T_EQ_INT(spool_reader_open(s, seq[3]), SPOOL_ERR_GONE);
	T_EQ_INT(spool_peek(s, &h), -1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 0);
	T_EQ_INT(st.bytes, 0);
	T_EQ_INT(st.dropped, 3);
	T_EQ_INT(count_files(sub), 0);

	/* removed again, and a file where it was: kept in memory until it
	 * goes, then stored before the next one */
	empty_dir(sub);
	fd = open(sub, O_WRONLY | O_CREAT | O_EXCL, 0600);
	T_CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	T_EQ_INT(put(s, "{\"report\":5}", 64, 1240, &seq[4]), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 1);
	T_EQ_INT(unlink(sub), 0);
	T_EQ_INT(put(s, "{\"report\":6}", 64, 1300, &seq[5]), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 3);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, seq[4]);
	T_EQ_INT(get(s, h.seq, out, sizeof(out), 64), 0);
	T_EQ_STR(out, "{\"report\":5}");
	T_EQ_INT(count_files(sub), 2);
	spool_close(s);
	rm_tmp();
}

/* The same with the index full (max_files reports) and a path longer
 * than the one kept for log lines: the report being read is not dropped
 * to make room, and the directory is made again where it was. */
static void test_directory_removed_full_long_path(void)
{
	const char *dir = mkdir_tmp();
	char sub[600], out[64];
	struct spool *s;
	struct spool_stats st;
	uint64_t seq[4];

	snprintf(sub, sizeof(sub), "%s/%0150d/%0150d/spool", dir, 0, 1);
	s = spool_open(sub, BIG, 3);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "{\"report\":1}", 64, 1000, &seq[0]), 0);
	T_EQ_INT(put(s, "{\"report\":2}", 64, 1060, &seq[1]), 0);
	T_EQ_INT(put(s, "{\"report\":3}", 64, 1120, &seq[2]), 0);
	T_EQ_INT(spool_reader_open(s, seq[0]), 0);
	empty_dir(sub);
	T_EQ_INT(put(s, "{\"report\":4}", 64, 1180, &seq[3]), 0);
	T_EQ_INT(exists(sub, "0000000000000001.d42"), 1);
	T_EQ_INT(exists(sub, "0000000000000004.d42"), 1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 2);
	T_EQ_INT(spool_read(s, out, sizeof(out)), 12);
	spool_reader_close(s);
	T_EQ_INT(spool_remove(s, seq[0]), 0);
	spool_close(s);
	rm_tmp();
}

/* Removed, and it cannot be made again (a file in its place): the first
 * read finds the reports gone and counts them as dropped, none is "set
 * aside"; once the path is free, the next report makes it again. */
static void test_directory_removed_not_made_again(void)
{
	const char *dir = mkdir_tmp();
	char sub[300];
	struct spool *s;
	struct spool_hdr h;
	struct spool_stats st;
	uint64_t seq[4];
	int fd, i;

	snprintf(sub, sizeof(sub), "%s/spool", dir);
	s = spool_open(sub, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	for (i = 0; i < 3; i++)
		T_EQ_INT(put(s, "{\"report\":1}", 64, 1000 + 60 * i, &seq[i]), 0);
	empty_dir(sub);
	fd = open(sub, O_WRONLY | O_CREAT | O_EXCL, 0600);
	T_CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	T_EQ_INT(spool_reader_open(s, seq[0]), SPOOL_ERR_GONE);
	T_EQ_INT(spool_peek(s, &h), -1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 0);
	T_EQ_INT(st.bytes, 0);
	T_EQ_INT(st.dropped, 3);
	T_EQ_INT(st.quarantined, 0);
	T_EQ_INT(unlink(sub), 0);
	T_EQ_INT(put(s, "{\"report\":4}", 64, 1180, &seq[3]), 0);
	T_EQ_INT(exists(sub, "0000000000000004.d42"), 1);
	spool_close(s);
	rm_tmp();
}

/* The report being read cannot be copied (here: a file size limit): it
 * stays queued and is still read from its open file, counted neither as
 * dropped nor twice. */
static void test_directory_removed_copy_fails(void)
{
	const char *dir = mkdir_tmp();
	char sub[300], big[20001], out[20100];
	struct spool *s;
	struct spool_stats st;
	struct rlimit rl, saved;
	uint64_t seq[2];
	void (*old)(int);
	size_t got = 0;
	ssize_t k;

	snprintf(sub, sizeof(sub), "%s/spool", dir);
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	s = spool_open(sub, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, big, 4096, 1000, &seq[0]), 0);
	T_EQ_INT(spool_reader_open(s, seq[0]), 0);
	empty_dir(sub);
	old = signal(SIGXFSZ, SIG_IGN);
	T_EQ_INT(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl = saved;
	rl.rlim_cur = 4096;
	T_EQ_INT(setrlimit(RLIMIT_FSIZE, &rl), 0);
	T_EQ_INT(put(s, "{\"report\":2}", 64, 1060, &seq[1]), 0);
	T_EQ_INT(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old);
	T_EQ_INT(exists(sub, "0000000000000001.d42"), 0);
	T_EQ_INT(exists(sub, "0000000000000001.tmp"), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 0);
	while ((k = spool_read(s, out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)k;
	T_EQ_INT(k, 0);
	T_EQ_INT(got, sizeof(big) - 1);
	spool_reader_close(s);
	T_EQ_INT(spool_remove(s, seq[0]), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 1);
	T_EQ_INT(st.dropped, 0);
	spool_close(s);
	rm_tmp();
}

/* Lowers the descriptor limit to `more` above the lowest free descriptor,
 * so that the (more + 1)-th open at once fails with EMFILE;
 * restore_fds() puts the old limit back. */
static struct rlimit fds_saved;

static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static int few_fds(int more)
{
	struct rlimit rl;
	int lowest = lowest_free_fd();

	if (lowest < 0 || getrlimit(RLIMIT_NOFILE, &fds_saved) < 0)
		return -1;
	rl = fds_saved;
	rl.rlim_cur = (rlim_t)(lowest + more);
	return setrlimit(RLIMIT_NOFILE, &rl);
}

static void restore_fds(void)
{
	T_EQ_INT(setrlimit(RLIMIT_NOFILE, &fds_saved), 0);
}

/* Out of descriptors says nothing about a report: none is judged, moved,
 * deleted or numbered over, at start-up or when it is due. */
/* Occurrences of needle in text. */
static int count_in(const char *text, const char *needle)
{
	int n = 0;

	while ((text = strstr(text, needle)) != NULL) {
		n++;
		text++;
	}
	return n;
}

/* The directory fails writes (here RLIMIT_FSIZE: EFBIG part-way through a
 * report, as a full disk or an I/O error would): the report, with what
 * its file had, and those after it wait in memory, said once, and go to
 * the directory in order once it takes them. Until 2026-11-29 each was
 * lost, logged at every interval. */
static void test_write_errors_keep_reports_in_memory(void)
{
	const char *dir = mkdir_tmp();
	char big[201], out[256], logs[4096], p3[32];
	struct rlimit old, lim;
	struct spool_stats st;
	struct spool_hdr h;
	struct spool *s;
	uint64_t seq[4];
	int saved_err, pfd[2], i;
	ssize_t k;

	memset(big, 'x', sizeof(big) - 1);
	big[0] = '[';
	big[sizeof(big) - 2] = ']';
	big[sizeof(big) - 1] = '\0';
	snprintf(p3, sizeof(p3), "{\"r\":3}");
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "{\"r\":1}", 64, 1000, &seq[0]), 0);
	fflush(stderr);
	saved_err = dup(STDERR_FILENO);
	/* the log into a pipe, which the file size limit leaves alone */
	T_CHECK(saved_err >= 0 && pipe(pfd) == 0);
	dup2(pfd[1], STDERR_FILENO);
	close(pfd[1]);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = SPOOL_HDR_SIZE + 64;	/* report 2 fails part-way */
	T_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
	T_EQ_INT(put(s, big, 16, 1060, &seq[1]), 0);
	T_EQ_INT(put(s, p3, 4, 1120, &seq[2]), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 3);
	T_EQ_INT(st.dropped, 0);
	T_EQ_INT(count_suffix(dir, ".d42"), 1);
	T_EQ_INT(count_suffix(dir, ".tmp"), 0);
	T_EQ_INT(get(s, seq[1], out, sizeof(out), 7), 0);	/* whole */
	T_EQ_STR(out, big);
	T_EQ_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
	T_EQ_INT(put(s, "{\"r\":4}", 64, 1180, &seq[3]), 0);
	T_EQ_INT(count_suffix(dir, ".d42"), 4);
	fflush(stderr);
	dup2(saved_err, STDERR_FILENO);
	close(saved_err);
	signal(SIGXFSZ, SIG_DFL);
	k = read(pfd[0], logs, sizeof(logs) - 1);
	close(pfd[0]);
	logs[k > 0 ? k : 0] = '\0';
	fputs(logs, stderr);
	T_EQ_INT(count_in(logs, "keeping them in memory"), 1);
	T_EQ_INT(count_in(logs, "storing reports in it again"), 1);
	T_EQ_INT(count_in(logs, "dropped so far"), 0);
	T_EQ_INT(count_in(logs, "write failed"), 0);
	spool_close(s);

	/* a restart finds them all, in the order they were made */
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	for (i = 0; i < 4; i++) {
		T_EQ_INT(spool_peek(s, &h), 0);
		T_EQ_INT(h.seq, seq[i]);
		T_EQ_INT(h.start, 1000 + 60 * i);
		T_EQ_INT(get(s, h.seq, out, sizeof(out), 64), 0);
		if (i == 1)
			T_EQ_STR(out, big);
		if (i == 2)
			T_EQ_STR(out, p3);
		T_EQ_INT(spool_remove(s, h.seq), 0);
	}
	T_EQ_INT(spool_peek(s, &h), -1);
	spool_close(s);
	rm_tmp();
}

/* RLIMIT_AS below the memory queue's ring (the test's own address space
 * plus AS_SPARE): glibc's only; a sanitizer's allocator or qemu-user
 * would not survive the limit. */
#define AS_SPARE (2u << 20)
#if defined(__SANITIZE_ADDRESS__)
#define AS_UNSAFE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define AS_UNSAFE 1
#endif
#endif

/* No memory for the queue of reports the directory does not take: the
 * spool still opens on its directory (a small device must start), and
 * says so. Until this test, spool_open() failed and start-up with it. */
static void test_no_memory_for_queue_still_opens(void)
{
#if defined(__GLIBC__) && !defined(AS_UNSAFE)
	const char *dir = mkdir_tmp();
	char out[32], logs[2048], line[128];
	struct rlimit old, lim;
	struct spool_stats st;
	struct spool *s;
	unsigned long vm_kib = 0;
	uint64_t seq;
	int saved_err, pfd[2];
	ssize_t k;
	FILE *f = fopen("/proc/self/status", "r");

	T_CHECK(f != NULL);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %lu kB", &vm_kib) == 1)
			break;
	fclose(f);
	T_CHECK(vm_kib > 0);
	fflush(stderr);
	saved_err = dup(STDERR_FILENO);
	T_CHECK(saved_err >= 0 && pipe(pfd) == 0);
	dup2(pfd[1], STDERR_FILENO);
	close(pfd[1]);
	T_EQ_INT(getrlimit(RLIMIT_AS, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)vm_kib * 1024 + AS_SPARE;
	T_EQ_INT(setrlimit(RLIMIT_AS, &lim), 0);
	s = spool_open(dir, BIG, MANY);
	T_EQ_INT(setrlimit(RLIMIT_AS, &old), 0);
	fflush(stderr);
	dup2(saved_err, STDERR_FILENO);
	close(saved_err);
	k = read(pfd[0], logs, sizeof(logs) - 1);
	close(pfd[0]);
	logs[k > 0 ? k : 0] = '\0';
	fputs(logs, stderr);
	T_CHECK(s != NULL);
	if (!s) {
		rm_tmp();
		return;
	}
	T_EQ_INT(count_in(logs, "no memory to keep reports"), 1);
	spool_stats(s, &st);
	T_EQ_INT(st.in_memory, 0);
	T_EQ_INT(put(s, "{\"n\":1}", 64, 0, &seq), 0);
	T_EQ_INT(count_suffix(dir, ".d42"), 1);
	T_EQ_INT(get(s, seq, out, sizeof(out), 64), 0);
	T_EQ_STR(out, "{\"n\":1}");
	spool_close(s);
	rm_tmp();
#else
	printf("  skipped: RLIMIT_AS needs glibc without a sanitizer\n");
#endif
}

static void test_out_of_fds_loses_nothing(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s = NULL;
	struct spool_hdr h;
	char out[64];
	int more, failed = 0;

	write_image(dir, 2, "{\"a\":1}");
	write_image(dir, 3, "{\"b\":2}");
	write_raw(dir, "notes.txt", "hi", 2);	/* to be moved aside */
	/* start-up with 0, 1, 2, ... descriptors to spare: the directory, its
	 * listing, a report, corrupt/ for notes.txt each fail in turn, until
	 * it opens; every failure leaves the reports and no descriptor open */
	for (more = 0; more < FDS_TRIED; more++) {
		int lowest = lowest_free_fd();

		T_EQ_INT(few_fds(more), 0);
		errno = 0;
		s = spool_open(dir, BIG, MANY);
		restore_fds();
		if (s)
			break;
		failed++;
		T_EQ_INT(errno, EMFILE);
		T_EQ_INT(lowest_free_fd(), lowest);
		T_EQ_INT(exists(dir, "0000000000000002.d42") + exists(dir, "0000000000000003.d42"), 2);
	}
	printf("  %d limits too low to start\n", failed);
	T_CHECK(failed >= 3);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(count_files(dir), 2);	/* the reports; notes.txt in corrupt/ */
	/* due for delivery: cannot be opened, nor moved aside, now */
	T_EQ_INT(few_fds(0), 0);
	errno = 0;
	T_EQ_INT(spool_reader_open(s, 2), SPOOL_ERR_AGAIN);
	T_EQ_INT(errno, EMFILE);
	restore_fds();
	spool_close(s);
	/* without corrupt/ (opened at start-up when there is one), moving a
	 * report aside needs a descriptor */
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s/corrupt'", dir);
		T_EQ_INT(system(cmd), 0);
	}
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(few_fds(0), 0);
	errno = 0;
	T_EQ_INT(spool_quarantine(s, 2, "damaged"), SPOOL_ERR_AGAIN);
	T_EQ_INT(errno, EMFILE);
	restore_fds();
	T_EQ_INT(exists(dir, "0000000000000002.d42"), 1);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 2);
	T_EQ_INT(get(s, 2, out, sizeof(out), 64), 0);
	T_EQ_STR(out, "{\"a\":1}");
	spool_close(s);
	rm_tmp();
}

/* stderr (the log) into a pipe until logs_end(), which returns it. */
static int logs_saved = -1, logs_pipe[2];

static void logs_begin(void)
{
	fflush(stderr);
	logs_saved = dup(STDERR_FILENO);
	T_CHECK(logs_saved >= 0 && pipe(logs_pipe) == 0);
	dup2(logs_pipe[1], STDERR_FILENO);
	close(logs_pipe[1]);
}

static void logs_end(char *buf, size_t size)
{
	ssize_t k;

	fflush(stderr);
	dup2(logs_saved, STDERR_FILENO);
	close(logs_saved);
	k = read(logs_pipe[0], buf, size - 1);
	close(logs_pipe[0]);
	buf[k > 0 ? k : 0] = '\0';
	fputs(buf, stderr);
}

static void test_corrupt_dir_is_bounded(void)
{
	const char *dir = mkdir_tmp();
	char name[64], corrupt[300], logs[8192];
	struct spool *s;
	struct spool_stats st;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "junk%02d", i);
		write_raw(dir, name, "x", 1);
	}
	logs_begin();
	s = spool_open(dir, BIG, MANY);
	logs_end(logs, sizeof(logs));
	/* what falls off the bound is said, as its setting aside was */
	T_EQ_INT(count_in(logs, "moved to corrupt/"), 20);
	T_EQ_INT(count_in(logs, "deleted: corrupt keeps the 16 newest"), 4);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.quarantined, 20);
	spool_close(s);
	snprintf(corrupt, sizeof(corrupt), "%s/corrupt", dir);
	T_EQ_INT(count_files(corrupt), SPOOL_MAX_CORRUPT);
	T_EQ_INT(count_files(dir), 0);
	/* the 4 oldest quarantine numbers (0-3) were deleted */
	T_EQ_INT(corrupt_numbers(corrupt), 0xffff0);

	/* across a restart the numbering continues and the bound holds */
	write_raw(dir, "more-junk", "x", 1);
	logs_begin();
	s = spool_open(dir, BIG, MANY);
	logs_end(logs, sizeof(logs));
	T_EQ_INT(count_in(logs, "corrupt/0000000000000004-junk"), 1);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_close(s);
	T_EQ_INT(count_files(corrupt), SPOOL_MAX_CORRUPT);
	T_EQ_INT(exists(corrupt, "0000000000000014-more-junk"), 1);
	T_EQ_INT(corrupt_numbers(corrupt), 0x1fffe0);
	rm_tmp();
}

static void test_temp_files_removed_at_startup(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s;
	struct spool_stats st;
	uint64_t seq;

	write_raw(dir, "0000000000000041.tmp", "partial", 7);
	write_raw(dir, "whatever.tmp", "x", 1);
	write_image(dir, 7, "{}");
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(exists(dir, "0000000000000041.tmp"), 0);
	T_EQ_INT(exists(dir, "whatever.tmp"), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 1);
	T_EQ_INT(st.quarantined, 0);
	/* a temporary's number is never reused */
	T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
	T_EQ_INT(seq, 0x42);
	/* an aborted write leaves nothing behind */
	T_EQ_INT(spool_begin(s, 0, 60), 0);
	T_EQ_INT(spool_begin(s, 0, 60), -1);	/* one writer at a time */
	T_EQ_INT(spool_write(s, "{\"x\"", 4), 0);
	T_EQ_INT(exists(dir, "0000000000000043.tmp"), 1);
	spool_abort(s);
	T_EQ_INT(exists(dir, "0000000000000043.tmp"), 0);
	T_EQ_INT(spool_write(s, "x", 1), -1);	/* no writer */
	T_EQ_INT(spool_commit(s, NULL), -1);
	/* an empty report is refused, not counted as a loss */
	T_EQ_INT(spool_begin(s, 0, 60), 0);
	T_EQ_INT(spool_commit(s, NULL), -1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 0);
	T_EQ_INT(count_files(dir), 2);
	/* a report whose writer failed is lost, and counted */
	T_EQ_INT(spool_begin(s, 0, 60), 0);
	T_EQ_INT(spool_write(s, "{\"x\"", 4), 0);
	spool_lose(s);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 1);
	T_EQ_INT(count_files(dir), 2);
	spool_close(s);
	rm_tmp();
}

/* Directories named like reports or temporaries (an operator's, or a
 * restore's) hold numbers too: new reports are numbered past them, not
 * written where a directory stands and lost. */
static void test_directory_names_not_reused(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s;
	struct spool_stats st;
	uint64_t seq;

	T_EQ_INT(mkdir(path_in(dir, "0000000000000002.d42"), 0700), 0);
	T_EQ_INT(mkdir(path_in(dir, "0000000000000003.tmp"), 0700), 0);
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
	T_EQ_INT(seq, 4);
	T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
	T_EQ_INT(seq, 5);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 0);
	spool_close(s);
	rm_tmp();
}

/* FIFOs where the spool creates or reads files (the directory belongs to
 * common.user: anything running as that user can make them): open() on a
 * FIFO waits for the other end, signals included, so the agent hung at
 * start-up or at its next report. Nothing may block (the alarm fails the
 * run if it does); the FIFOs are replaced or refused. */
static void test_fifo_names_never_block(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s;
	struct spool_stats st;
	struct spool_hdr h;
	uint64_t seq;

	T_EQ_INT(mkfifo(path_in(dir, ".probe.tmp"), 0600), 0);
	alarm(20);
	s = spool_open(dir, BIG, MANY);
	T_CHECK(s != NULL);
	if (!s)
		goto out;
	spool_stats(s, &st);
	T_EQ_INT(st.in_memory, 0);
	T_EQ_INT(mkfifo(path_in(dir, "0000000000000001.tmp"), 0600), 0);
	T_EQ_INT(put(s, "{\"a\":1}", 3, 0, &seq), 0);
	T_EQ_INT(seq, 1);
	/* the report swapped for a FIFO before delivery reads it */
	T_EQ_INT(unlink(path_in(dir, "0000000000000001.d42")), 0);
	T_EQ_INT(mkfifo(path_in(dir, "0000000000000001.d42"), 0600), 0);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_CHECK(spool_reader_open(s, h.seq) < 0);
	spool_close(s);
out:
	alarm(0);
	rm_tmp();
}

static void test_stream_reader_exact_payload(void)
{
	const char *dir = mkdir_tmp();
	enum { N = 300000 };
	static char payload[N + 1], back[N + 1];
	struct spool *s = spool_open(dir, BIG, MANY);
	uint64_t seq;
	size_t i;

	T_CHECK(s != NULL);
	if (!s)
		return;
	srand(42);
	for (i = 0; i < N; i++)
		payload[i] = (char)('a' + rand() % 26);
	payload[N] = '\0';
	T_EQ_INT(put(s, payload, 4093, 0, &seq), 0);
	T_EQ_INT(get(s, seq, back, sizeof(back), 1000), 0);
	T_EQ_INT(strlen(back), N);
	T_EQ_INT(memcmp(back, payload, N), 0);
	/* reading past the end keeps saying "end" */
	T_EQ_INT(spool_reader_open(s, seq), 0);
	{
		ssize_t k, total = 0;

		while ((k = spool_read(s, back, sizeof(back))) > 0)
			total += k;
		T_EQ_INT(total, N);
		T_EQ_INT(k, 0);
		T_EQ_INT(spool_read(s, back, 10), 0);
		T_EQ_INT(spool_read(s, back, 0), SPOOL_ERR_IO);
	}
	spool_reader_close(s);
	T_EQ_INT(spool_read(s, back, 10), SPOOL_ERR_GONE);
	T_EQ_INT(spool_reader_open(s, seq + 100), SPOOL_ERR_GONE);
	/* the file on disk is exactly header + payload */
	{
		struct stat st;
		char name[64];

		snprintf(name, sizeof(name), "%016llx.d42", (unsigned long long)seq);
		T_EQ_INT(stat(path_in(dir, name), &st), 0);
		T_EQ_INT(st.st_size, SPOOL_HDR_SIZE + N);
		T_EQ_INT(st.st_mode & 0777, 0600);
	}
	spool_close(s);
	rm_tmp();
}

static void test_reader_detects_crc_and_truncation(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s = spool_open(dir, BIG, MANY);
	struct spool_stats st;
	struct spool_hdr h;
	char out[64];
	uint64_t s1, s2;
	int fd;

	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "{\"first\":1}", 4, 0, &s1), 0);
	T_EQ_INT(put(s, "{\"second\":2}", 4, 60, &s2), 0);
	/* bit rot after start-up validation */
	fd = open(path_in(dir, "0000000000000001.d42"), O_WRONLY);
	T_CHECK(fd >= 0);
	T_EQ_INT(pwrite(fd, "X", 1, SPOOL_HDR_SIZE + 3), 1);
	close(fd);
	T_EQ_INT(get(s, s1, out, sizeof(out), 5), SPOOL_ERR_CRC);
	/* A reader that stops at the payload's length (the HTTP body) learns
	 * it with the last bytes. */
	T_EQ_INT(spool_reader_open(s, s1), 0);
	T_EQ_INT(spool_read(s, out, 6), 6);
	T_EQ_INT(spool_read(s, out, 5), SPOOL_ERR_CRC);
	spool_reader_close(s);
	T_EQ_INT(spool_quarantine(s, s1, "damaged"), 0);
	T_EQ_INT(spool_quarantine(s, s1, "damaged"), -1);
	T_EQ_INT(exists(dir, "0000000000000001.d42"), 0);
	T_EQ_INT(count_files(path_in(dir, "corrupt")), 1);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 1);
	T_EQ_INT(st.quarantined, 1);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, s2);

	/* truncated behind our back: refused when opened */
	T_EQ_INT(truncate(path_in(dir, "0000000000000002.d42"), SPOOL_HDR_SIZE + 2), 0);
	T_EQ_INT(spool_reader_open(s, s2), SPOOL_ERR_TRUNCATED);
	/* removed behind our back */
	T_EQ_INT(unlink(path_in(dir, "0000000000000002.d42")), 0);
	T_EQ_INT(spool_reader_open(s, s2), SPOOL_ERR_GONE);
	T_EQ_INT(spool_remove(s, s2), 0);
	spool_close(s);
	rm_tmp();
}

static void test_remove_out_of_order(void)
{
	const char *dir = mkdir_tmp();
	struct spool *s = spool_open(dir, BIG, 3);
	struct spool_stats st;
	struct spool_hdr h;
	uint64_t seq;

	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(put(s, "{1}", 9, 0, &seq), 0);
	T_EQ_INT(put(s, "{2}", 9, 0, &seq), 0);
	T_EQ_INT(put(s, "{3}", 9, 0, &seq), 0);
	T_EQ_INT(spool_remove(s, 2), 0);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 1);
	/* the index is full (3 slots, one a tombstone): the oldest live one
	 * goes, and the tombstone behind it with it */
	T_EQ_INT(put(s, "{4}", 9, 0, &seq), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 2);
	T_EQ_INT(st.dropped, 1);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.seq, 3);
	T_EQ_INT(put(s, "{5}", 9, 0, &seq), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 3);
	T_EQ_INT(st.dropped, 1);
	spool_close(s);
	rm_tmp();
}

static void test_directory_locked_by_another(void)
{
	const char *dir = mkdir_tmp();
	struct spool *a = spool_open(dir, BIG, MANY);
	struct spool *b = spool_open(dir, BIG, MANY);

	T_CHECK(a != NULL);
	T_CHECK(b == NULL);
	spool_close(a);
	spool_close(b);
	b = spool_open(dir, BIG, MANY);
	T_CHECK(b != NULL);
	spool_close(b);
	rm_tmp();
}

static void test_invalid_bounds_refused(void)
{
	T_CHECK(spool_open("", 0, 10) == NULL);
	T_CHECK(spool_open("", SPOOL_HDR_SIZE, 10) == NULL);
	T_CHECK(spool_open("", BIG, 0) == NULL);
	T_CHECK(spool_open("", BIG, SPOOL_MAX_FILES + 1) == NULL);
}

static void test_memory_mode(void)
{
	struct spool *s = spool_open("", 60, 4);
	struct spool_stats st;
	struct spool_hdr h;
	char out[80], p[80];
	uint64_t seq;

	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.in_memory, 1);
	T_EQ_INT(st.entries, 0);
	/* 16-byte reports in a 60-byte ring: three fit; writing more drops
	 * the oldest and wraps around the end of the ring */
	for (int i = 0; i < 10; i++) {
		snprintf(p, sizeof(p), "{\"n\":%010d}", i);
		T_EQ_INT(strlen(p), 16);
		T_EQ_INT(put(s, p, 5, i * 60, &seq), 0);
		T_EQ_INT(seq, i + 1);
		spool_stats(s, &st);
		T_EQ_INT(st.entries, i < 3 ? i + 1 : 3);
		T_EQ_INT(st.dropped, i < 3 ? 0 : i - 2);
	}
	T_EQ_INT(st.bytes, 48);
	for (int i = 7; i < 10; i++) {
		T_EQ_INT(spool_peek(s, &h), 0);
		T_EQ_INT(h.seq, i + 1);
		T_EQ_INT(h.start, i * 60);
		T_EQ_INT(h.payload_len, 16);
		T_EQ_INT(get(s, h.seq, out, sizeof(out), 5), 0);
		snprintf(p, sizeof(p), "{\"n\":%010d}", i);
		T_EQ_STR(out, p);
		T_EQ_INT(spool_remove(s, h.seq), 0);
	}
	T_EQ_INT(spool_peek(s, &h), -1);

	/* bound by entries (4) before bytes with small reports */
	for (int i = 0; i < 6; i++)
		T_EQ_INT(put(s, "{}", 1, 0, &seq), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 4);
	T_EQ_INT(st.dropped, 7 + 2);

	/* a reader whose entry gets dropped under it says so */
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(spool_reader_open(s, h.seq), 0);
	T_EQ_INT(spool_read(s, out, 1), 1);
	T_EQ_INT(put(s, "{\"n\":123456789012345}", 7, 0, &seq), 0);
	T_EQ_INT(spool_read(s, out, 1), SPOOL_ERR_GONE);
	spool_reader_close(s);

	/* bigger than the whole ring: lost, counted; being streamed, it has
	 * pushed out everything older before it turned out not to fit */
	spool_stats(s, &st);
	T_EQ_INT(st.entries, 4);
	{
		uint64_t before = st.dropped;

		memset(p, 'x', 61);
		p[61] = '\0';
		T_EQ_INT(put(s, p, 8, 0, &seq), -1);
		spool_stats(s, &st);
		T_EQ_INT(st.dropped, before + 4 + 1);
		T_EQ_INT(st.entries, 0);
		T_EQ_INT(st.bytes, 0);
	}
	T_EQ_INT(put(s, "{\"after\":1}", 3, 0, &seq), 0);
	T_EQ_INT(get(s, seq, out, sizeof(out), 64), 0);
	T_EQ_STR(out, "{\"after\":1}");
	/* quarantine works in memory too */
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(spool_quarantine(s, h.seq, "damaged"), 0);
	spool_stats(s, &st);
	T_EQ_INT(st.quarantined, 1);
	spool_close(s);
}

static void test_unusable_directory_falls_back_to_memory(void)
{
	const char *dir = mkdir_tmp();
	char bad[300];
	struct spool *s;
	struct spool_stats st;
	char out[32];
	uint64_t seq;

	write_raw(dir, "file", "x", 1);
	snprintf(bad, sizeof(bad), "%s/file/spool", dir);	/* parent is a file */
	s = spool_open(bad, 100, 10);
	T_CHECK(s != NULL);
	if (!s)
		return;
	spool_stats(s, &st);
	T_EQ_INT(st.in_memory, 1);
	T_EQ_INT(put(s, "{\"m\":1}", 2, 0, &seq), 0);
	T_EQ_INT(get(s, seq, out, sizeof(out), 3), 0);
	T_EQ_STR(out, "{\"m\":1}");
	spool_close(s);
	rm_tmp();
}

static void test_sink_signature_streams(void)
{
	struct spool *s = spool_open(NULL, 1000, 10);
	struct spool_hdr h;
	char out[32];
	int (*sink)(void *, const char *, size_t) = spool_sink;

	T_CHECK(s != NULL);
	if (!s)
		return;
	T_EQ_INT(spool_begin(s, -60, 0), 0);
	T_EQ_INT(sink(s, "[1,", 3), 0);
	T_EQ_INT(sink(s, "2]", 2), 0);
	T_EQ_INT(spool_commit(s, NULL), 0);
	T_EQ_INT(spool_peek(s, &h), 0);
	T_EQ_INT(h.start, -60);
	T_EQ_INT(h.crc, spool_crc32(0, "[1,2]", 5));
	T_EQ_INT(get(s, h.seq, out, sizeof(out), 100), 0);
	T_EQ_STR(out, "[1,2]");
	spool_close(s);
}

int main(void)
{
	/* first: no ring freed before, which malloc would reuse whatever
	 * the limit on address space */
	T_RUN(test_no_memory_for_queue_still_opens);
	T_RUN(test_crc32_known_values);
	T_RUN(test_check_valid_and_header_fields);
	T_RUN(test_check_errors);
	T_RUN(test_write_commit_reopen_in_order);
	T_RUN(test_bounds_by_files_drop_oldest);
	T_RUN(test_bounds_by_bytes_drop_oldest);
	T_RUN(test_room_for_matches_drops);
	T_RUN(test_corrupt_files_quarantined);
	T_RUN(test_directory_names_not_reused);
	T_RUN(test_fifo_names_never_block);
	T_RUN(test_planted_numbers_set_aside);
	T_RUN(test_stray_numbers_not_taken);
	T_RUN(test_corrupt_dir_removed_while_open);
	T_RUN(test_directory_removed_while_open);
	T_RUN(test_directory_removed_full_long_path);
	T_RUN(test_directory_removed_not_made_again);
	T_RUN(test_directory_removed_copy_fails);
	T_RUN(test_out_of_fds_loses_nothing);
	T_RUN(test_write_errors_keep_reports_in_memory);
	T_RUN(test_corrupt_dir_is_bounded);
	T_RUN(test_temp_files_removed_at_startup);
	T_RUN(test_stream_reader_exact_payload);
	T_RUN(test_reader_detects_crc_and_truncation);
	T_RUN(test_remove_out_of_order);
	T_RUN(test_directory_locked_by_another);
	T_RUN(test_invalid_bounds_refused);
	T_RUN(test_memory_mode);
	T_RUN(test_unusable_directory_falls_back_to_memory);
	T_RUN(test_sink_signature_streams);
	return T_DONE();
}
