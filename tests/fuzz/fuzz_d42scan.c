/* libFuzzer target for the streaming report-record scanner of src/d42.c
 * (d42_scan_init / d42_scan_feed). Input: one seed byte for the piece
 * sizes, then the report text. The text is fed whole and in pseudo-random
 * pieces; both runs must hand out the same records and end the same way.
 * Always checked: return codes, *used, s->len <= D42_MAX_RECORD, every
 * record is "{...}". When the whole text is valid JSON, the records must be
 * exactly the objects whose parent is an array at depth 2 (found here from
 * json_parse's tokens), each one json_parse-able and byte-identical to the
 * text, and the only error allowed is D42_SCAN_ERR_TOO_BIG for a record
 * longer than D42_MAX_RECORD. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d42.h"
#include "json.h"

#define FUZZ_MAX_INPUT  (64 * 1024)
#define FUZZ_MAX_TOKS   16384
#define FUZZ_MAX_RECS   4096
#define FUZZ_MAX_PIECE  97
#define SCAN_MAX_DEPTH  31	/* d42_scan_feed refuses to open a 32nd level */
#define REC_DEPTH       3	/* records: objects at depth 3 ... */
#define REC_PARENT      2	/* ... directly inside an array at depth 2 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Say which invariant failed: replay logs have no stack trace. */
#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

struct run {
	int result;		/* last return: MORE at the end, or an error */
	size_t nrec;
	size_t end[FUZZ_MAX_RECS];	/* offset just past each record */
	size_t len[FUZZ_MAX_RECS];
	uint8_t same[FUZZ_MAX_RECS];	/* record == the input bytes before end */
};

static struct d42_scan scan;
static struct run whole, pieces;
static struct json_tok toks[FUZZ_MAX_TOKS];
static struct json_tok rtoks[D42_MAX_RECORD];
static size_t want_start[FUZZ_MAX_RECS], want_end[FUZZ_MAX_RECS];
static size_t nwant;

static void run_scan(const char *d, size_t n, uint32_t seed, struct run *r)
{
	size_t off = 0, used, piece;
	int rc;

	d42_scan_init(&scan);
	r->nrec = 0;
	r->result = D42_SCAN_MORE;
	while (off < n) {
		piece = n - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % FUZZ_MAX_PIECE;
			if (piece > n - off)
				piece = n - off;
		}
		used = (size_t)-1;
		rc = d42_scan_feed(&scan, d + off, piece, &used);
		CHECK(rc == D42_SCAN_MORE || rc == D42_SCAN_RECORD ||
		      rc == D42_SCAN_ERR_SYNTAX || rc == D42_SCAN_ERR_TOO_BIG);
		CHECK(used <= piece);
		CHECK(scan.len <= D42_MAX_RECORD);
		CHECK(scan.depth <= SCAN_MAX_DEPTH);
		off += used;
		if (rc < 0) {
			r->result = rc;
			return;
		}
		if (rc == D42_SCAN_MORE) {
			CHECK(used == piece);
			continue;
		}
		CHECK(used >= 1);
		CHECK(scan.len >= 2 && scan.rec[0] == '{' &&
		      scan.rec[scan.len - 1] == '}');
		CHECK(r->nrec < FUZZ_MAX_RECS);	/* bounded by the input size */
		r->end[r->nrec] = off;
		r->len[r->nrec] = scan.len;
		r->same[r->nrec] = scan.len <= off &&
			memcmp(scan.rec, d + off - scan.len, scan.len) == 0;
		r->nrec++;
	}
}

/* Depth-first walk collecting the records a correct scanner returns. */
static uint32_t walk(uint32_t i, unsigned depth, int parent_array)
{
	const struct json_tok *t = &toks[i];
	uint32_t j, m;

	if (t->type == JSON_OBJECT && depth == REC_DEPTH && parent_array) {
		want_start[nwant] = t->start;
		want_end[nwant] = t->end;
		nwant++;
	}
	if (t->type != JSON_OBJECT && t->type != JSON_ARRAY)
		return t->next;
	for (j = i + 1, m = 0; m < t->size; m++) {
		if (t->type == JSON_OBJECT)
			j++;	/* the key */
		j = walk(j, depth + 1,
			 t->type == JSON_ARRAY && depth == REC_PARENT);
	}
	return t->next;
}

static void check_valid(const char *d)
{
	struct json_limits rl = { D42_MAX_RECORD, SCAN_MAX_DEPTH };
	size_t k, len;

	nwant = 0;
	walk(0, 1, 0);
	for (k = 0; k < whole.nrec; k++) {
		CHECK(k < nwant);
		len = want_end[k] - want_start[k];
		CHECK(whole.end[k] == want_end[k] && whole.len[k] == len);
		CHECK(whole.same[k] && pieces.same[k]);
	}
	if (whole.result == D42_SCAN_MORE) {
		CHECK(whole.nrec == nwant);
	} else {
		/* Only a record over the limit may stop a valid report. */
		CHECK(whole.result == D42_SCAN_ERR_TOO_BIG);
		CHECK(k < nwant && want_end[k] - want_start[k] > D42_MAX_RECORD);
	}
	/* The records are the input bytes (checked above): each must parse. */
	for (k = 0; k < whole.nrec; k++) {
		len = want_end[k] - want_start[k];
		CHECK(json_parse(d + want_start[k], len, &rl, rtoks,
				 D42_MAX_RECORD, NULL) >= 1);
		CHECK(rtoks[0].type == JSON_OBJECT);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_limits lim = { FUZZ_MAX_INPUT, SCAN_MAX_DEPTH };
	const char *d;
	size_t n, k;
	int ntok;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	d = (const char *)data + 1;
	n = size - 1;
	run_scan(d, n, 0, &whole);
	run_scan(d, n, (uint32_t)data[0] | 1u, &pieces);

	/* Where a record ends does not depend on how the text was split. */
	CHECK(whole.result == pieces.result);
	CHECK(whole.nrec == pieces.nrec);
	for (k = 0; k < whole.nrec; k++)
		CHECK(whole.end[k] == pieces.end[k] && whole.len[k] == pieces.len[k] &&
		      whole.same[k] == pieces.same[k]);

	ntok = json_parse(d, n, &lim, toks, FUZZ_MAX_TOKS, NULL);
	if (ntok > 0)
		check_valid(d);
	return 0;
}
