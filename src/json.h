/* Bounded JSON: a strict RFC 8259 tokenizer over caller-owned token storage,
 * and a streaming emitter over a caller-owned buffer. No allocation.
 * The tokenizer accepts exactly one value surrounded by optional whitespace;
 * a UTF-8 byte order mark is rejected (JSON_ERR_SYNTAX at offset 0).
 * Duplicate object keys are passed through; the caller decides. */
#ifndef D42_JSON_H
#define D42_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- tokenizer ---- */

enum json_type {
	JSON_OBJECT = 1, JSON_ARRAY, JSON_STRING, JSON_NUMBER,
	JSON_TRUE, JSON_FALSE, JSON_NULL
};

enum json_err {
	JSON_OK = 0,
	JSON_ERR_TOKENS = -1,	/* more tokens than the caller's array holds */
	JSON_ERR_DEPTH = -2,	/* nesting deeper than limits.max_depth */
	JSON_ERR_SIZE = -3,	/* input longer than limits.max_input */
	JSON_ERR_SYNTAX = -4,	/* unexpected character or end of input */
	JSON_ERR_STRING = -5,	/* bad escape, control char, invalid UTF-8 */
	JSON_ERR_NUMBER = -6,	/* malformed number */
	JSON_ERR_TRAILING = -7,	/* data after the top-level value */
	JSON_ERR_EMPTY = -8,	/* no value at all */
	JSON_ERR_BUFFER = -9	/* json_str_decode: output buffer too small */
};

/* A value. start/end are byte offsets, end exclusive. Strings: start/end
 * exclude the quotes, still escaped. Objects/arrays: from the bracket to just
 * past the closing one. Objects: size = number of members; members follow as
 * key (a JSON_STRING token, size 0) then the value's subtree. Arrays: size =
 * number of elements. Scalars and keys: size 0, next = own index + 1.
 * next = index of the first token after this token's whole subtree. */
struct json_tok {
	uint8_t type;
	uint32_t start, end;
	uint32_t size;
	uint32_t next;
};

struct json_limits {
	size_t max_input;	/* bytes (inputs over 4 GiB are always refused) */
	unsigned max_depth;	/* nesting of objects/arrays; 0: scalars only */
};

struct json_pos {
	size_t off;		/* byte offset of the error */
	unsigned line, col;	/* 1-based; col counts bytes, lines end at \n */
};

/* Returns the number of tokens (>= 1), or a negative enum json_err with
 * *err_pos (may be NULL) set to where the problem is; token contents are
 * then unspecified. Token 0 is the top-level value. lim must not be NULL. */
int json_parse(const char *buf, size_t len, const struct json_limits *lim,
	       struct json_tok *toks, unsigned max_toks, struct json_pos *err_pos);
const char *json_strerror(int err);

/* 1-based line and column of byte offset off (clamped to len). */
void json_position(const char *buf, size_t len, size_t off, struct json_pos *pos);

/* Unescape a JSON_STRING token of buf (as parsed by json_parse) into out,
 * NUL-terminated, \u escapes as UTF-8. Returns the length or JSON_ERR_BUFFER /
 * JSON_ERR_STRING. \u0000 is rejected (JSON_ERR_STRING). The result is never
 * longer than the escaped text, so outsz = end - start + 1 always suffices. */
int json_str_decode(const char *buf, const struct json_tok *t, char *out, size_t outsz);

/* ---- emitter ---- */

#define JSON_OUT_MAX_DEPTH 16	/* open objects/arrays */

/* Called to drain the buffer when it is full and at json_out_finish();
 * returns 0 or -1. With no sink, running out of space sets the error. */
typedef int (*json_sink_fn)(void *ctx, const char *data, size_t len);

enum json_out_err {
	JSON_OUT_OK = 0,
	JSON_OUT_ERR_OVERFLOW,	/* no sink and the buffer is full */
	JSON_OUT_ERR_SINK,	/* the sink returned -1 */
	JSON_OUT_ERR_MISUSE	/* bad nesting, key where none belongs, ... */
};

struct json_out {
	char *buf;
	size_t cap, len;
	json_sink_fn sink;
	void *ctx;
	int error;		/* sticky enum json_out_err */
	int pretty;		/* set after init: indent two spaces per level */
	unsigned depth;		/* open containers */
	uint8_t lvl[JSON_OUT_MAX_DEPTH + 1];	/* private, per depth */
	uint64_t total;		/* bytes produced so far (drained or not) */
};

/* Without a sink the document is left in buf[0..len) and must fit. */
void json_out_init(struct json_out *o, char *buf, size_t cap,
		   json_sink_fn sink, void *ctx);
/* key is the member name inside an object, NULL inside an array/top level.
 * Strings may hold any bytes: invalid UTF-8 is written as U+FFFD, control
 * characters escaped; a NULL string is written as null. */
void json_obj_begin(struct json_out *o, const char *key);
void json_obj_end(struct json_out *o);
void json_arr_begin(struct json_out *o, const char *key);
void json_arr_end(struct json_out *o);
void json_str(struct json_out *o, const char *key, const char *s);
void json_strn(struct json_out *o, const char *key, const char *s, size_t n);
void json_u64(struct json_out *o, const char *key, uint64_t v);
void json_i64(struct json_out *o, const char *key, int64_t v);
void json_bool(struct json_out *o, const char *key, int v);
void json_null(struct json_out *o, const char *key);
/* Checks that exactly one complete value was written, appends a newline and
 * drains to the sink; 0, or -1 if any error occurred (then nothing drains). */
int json_out_finish(struct json_out *o);

/* ---- pre-formatted values ----
 * For a writer of many objects of one shape (the report's records): it
 * formats each one itself, between pieces of text computed once with
 * json_prefix(), and hands it over whole with json_raw(). */

#define JSON_U64_MAX 20		/* decimal digits of UINT64_MAX */
/* Longest json_prefix() for a key of k bytes that needs no escaping:
 * comma, newline, indentation at JSON_OUT_MAX_DEPTH, quotes, ": ". */
#define JSON_PREFIX_MAX(k) (2 + 2 * JSON_OUT_MAX_DEPTH + (k) + 4)

/* Writes to buf what the emitter writes before a value `rel` levels below
 * its current nesting (in containers the caller writes itself): a comma
 * unless first, in pretty mode a newline and indentation, then "key": (key
 * NULL: an array element). With first and key NULL, it is also what goes
 * before the closing bracket of a non-empty container whose members are
 * rel + 1 levels below, unless that bracket closes the top-level value.
 * Returns the length, or -1 if it does not fit in sz or would nest deeper
 * than JSON_OUT_MAX_DEPTH. */
int json_prefix(const struct json_out *o, unsigned rel, int first,
		const char *key, char *buf, size_t sz);
/* Writes text[0..n), valid JSON laid out as the emitter would, as a value. */
void json_raw(struct json_out *o, const char *key, const char *text, size_t n);
/* Writes v's decimal digits at p, which has JSON_U64_MAX bytes of room (the
 * bytes after the digits are left unspecified); returns the end of the
 * digits. */
char *json_fmt_u64(char *p, uint64_t v);
/* "00".."99", for json_fmt_2() and json_fmt_u64(). */
#define JSON_DIGITS2_LEN 200
extern const char json_digits2[JSON_DIGITS2_LEN];

/* v % 100 as exactly two digits at p; returns the end. Inline: a call
 * costs what it saves. */
static inline char *json_fmt_2(char *p, unsigned v)
{
	memcpy(p, &json_digits2[2 * (v % 100)], 2);
	return p + 2;
}

#endif
