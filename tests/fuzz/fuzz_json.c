/* libFuzzer target for src/json.c. Parses arbitrary input with small limits,
 * decodes every string token, then re-emits the document (numbers as null,
 * strings as decoded) and the raw input as one string through a tiny
 * sink-drained buffer, and checks that what was written parses back.
 * Build: clang -std=c11 -D_DEFAULT_SOURCE -Isrc -g -O1
 *        -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_json.c src/json.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FUZZ_MAX_INPUT 4096
#define FUZZ_MAX_DEPTH 8		/* below JSON_OUT_MAX_DEPTH: re-emit fits */
#define FUZZ_MAX_TOKS 512
#define FUZZ_OUT_BUF 8			/* tiny, to exercise draining */
#define FUZZ_EMIT_MAX (64 * FUZZ_MAX_INPUT)	/* escaping grows text <= 6x */
#define FUZZ_STR_MAX (FUZZ_MAX_INPUT + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct collect {
	char data[FUZZ_EMIT_MAX];
	size_t len;
};

static struct collect col;
static struct json_tok toks[FUZZ_MAX_TOKS];
static struct json_tok back[FUZZ_MAX_TOKS];
static char str[FUZZ_STR_MAX];

static int collect_fn(void *ctx, const char *p, size_t n)
{
	struct collect *c = ctx;

	if (n > sizeof(c->data) - c->len)
		abort();	/* the bound above is wrong */
	memcpy(c->data + c->len, p, n);
	c->len += n;
	return 0;
}

/* Emits token i (and its subtree, bounded by FUZZ_MAX_DEPTH) with key. */
static uint32_t emit(struct json_out *o, const char *in, uint32_t i, const char *key)
{
	const struct json_tok *t = &toks[i];
	char kbuf[FUZZ_STR_MAX];
	uint32_t j, m;
	int n;

	switch (t->type) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (t->type == JSON_OBJECT)
			json_obj_begin(o, key);
		else
			json_arr_begin(o, key);
		for (j = i + 1, m = 0; m < t->size; m++) {
			if (t->type == JSON_OBJECT) {
				n = json_str_decode(in, &toks[j], kbuf, sizeof(kbuf));
				if (n < 0)
					kbuf[0] = '\0';	/* \u0000 in a key */
				j = emit(o, in, j + 1, kbuf);
			} else {
				j = emit(o, in, j, NULL);
			}
		}
		if (j != t->next)
			abort();
		if (t->type == JSON_OBJECT)
			json_obj_end(o);
		else
			json_arr_end(o);
		return t->next;
	case JSON_STRING:
		n = json_str_decode(in, t, str, sizeof(str));
		if (n >= 0)
			json_strn(o, key, str, (size_t)n);
		else
			json_null(o, key);
		return t->next;
	case JSON_TRUE:
	case JSON_FALSE:
		json_bool(o, key, t->type == JSON_TRUE);
		return t->next;
	default:
		json_null(o, key);
		return t->next;
	}
}

static void check_decode(const char *in, const struct json_tok *t)
{
	size_t raw = t->end - t->start;
	char tiny[4];
	int n, m;

	/* decoded text is never longer than the escaped text */
	n = json_str_decode(in, t, str, raw + 1);
	if (n == JSON_ERR_BUFFER || (n >= 0 && (size_t)n > raw))
		abort();
	if (n >= 0 && (str[n] != '\0' || memchr(str, '\0', (size_t)n)))
		abort();
	/* a small buffer gives the same answer, or JSON_ERR_BUFFER */
	m = json_str_decode(in, t, tiny, sizeof(tiny));
	if (n >= 0 && (size_t)n < sizeof(tiny) && (m != n || strcmp(tiny, str)))
		abort();
	if (n >= 0 && (size_t)n >= sizeof(tiny) && m != JSON_ERR_BUFFER)
		abort();
	if (n < 0 && m != n && m != JSON_ERR_BUFFER)
		abort();
}

static void reparse(const struct json_out *o, int want_toks)
{
	struct json_limits lim = { FUZZ_EMIT_MAX, FUZZ_MAX_DEPTH };
	int n;

	n = json_parse(col.data, col.len, &lim, back, FUZZ_MAX_TOKS, NULL);
	if (n < 0 || (want_toks > 0 && n != want_toks) || o->total != col.len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct json_limits lim = { FUZZ_MAX_INPUT, FUZZ_MAX_DEPTH };
	struct json_pos pos;
	char obuf[FUZZ_OUT_BUF];
	struct json_out o;
	int n, i;

	n = json_parse(in, size, &lim, toks, FUZZ_MAX_TOKS, &pos);
	if (n < 0) {
		if (pos.off > size || pos.line < 1 || pos.col < 1)
			abort();
	} else {
		for (i = 0; i < n; i++) {
			if (toks[i].end > size || toks[i].start > toks[i].end ||
			    toks[i].next <= (uint32_t)i || toks[i].next > (uint32_t)n)
				abort();
			if (toks[i].type == JSON_STRING)
				check_decode(in, &toks[i]);
		}
		if (toks[0].next != (uint32_t)n)
			abort();
		col.len = 0;
		json_out_init(&o, obuf, sizeof(obuf), collect_fn, &col);
		o.pretty = size > 0 && (data[0] & 1);
		if (emit(&o, in, 0, NULL) != (uint32_t)n || json_out_finish(&o) != 0)
			abort();
		reparse(&o, n);
	}

	/* any bytes at all, as one string */
	col.len = 0;
	json_out_init(&o, obuf, sizeof(obuf), collect_fn, &col);
	json_strn(&o, NULL, in, size < FUZZ_MAX_INPUT ? size : FUZZ_MAX_INPUT);
	if (json_out_finish(&o) != 0)
		abort();
	reparse(&o, 1);
	return 0;
}
