/* Unit tests for src/json.c: tokenizer, error positions, limits, string
 * decoding and the streaming emitter. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "t.h"

#define MAX_TOKS 256
#define DEEP 100000		/* nesting for the no-recursion test */

static struct json_tok toks[MAX_TOKS];
static struct json_pos pos;
static const struct json_limits lim = { 4096, 32 };

static int parse_n(const char *s, size_t n)
{
	memset(&pos, 0, sizeof(pos));
	return json_parse(s, n, &lim, toks, MAX_TOKS, &pos);
}

static int parse(const char *s)
{
	return parse_n(s, strlen(s));
}

#define TOK(i, ty, st, en, sz, nx) do { \
	T_EQ_INT(toks[i].type, ty); T_EQ_INT(toks[i].start, st); \
	T_EQ_INT(toks[i].end, en); T_EQ_INT(toks[i].size, sz); \
	T_EQ_INT(toks[i].next, nx); } while (0)

#define POS(o, l, c) do { \
	T_EQ_INT(pos.off, o); T_EQ_INT(pos.line, l); T_EQ_INT(pos.col, c); \
	} while (0)

/* An input that must fail with err at offset off, line:col. */
struct bad_case {
	const char *in;
	int err;
	size_t off;
	unsigned line, col;
};

static void check_bad(const struct bad_case *cases, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = parse(cases[i].in);
		if (rc != cases[i].err || pos.off != cases[i].off ||
		    pos.line != cases[i].line || pos.col != cases[i].col) {
			printf("  case %zu %s: got %d at %zu %u:%u\n", i,
			       cases[i].in, rc, pos.off, pos.line, pos.col);
			t_cur_failed = 1;
		}
	}
}

/* ---- tokenizer: valid documents ---- */

static void test_scalars(void)
{
	T_EQ_INT(parse("true"), 1);
	TOK(0, JSON_TRUE, 0, 4, 0, 1);
	T_EQ_INT(parse("false"), 1);
	TOK(0, JSON_FALSE, 0, 5, 0, 1);
	T_EQ_INT(parse("null"), 1);
	TOK(0, JSON_NULL, 0, 4, 0, 1);
	T_EQ_INT(parse("-1.5e+3"), 1);
	TOK(0, JSON_NUMBER, 0, 7, 0, 1);
	T_EQ_INT(parse("\"hi\""), 1);
	TOK(0, JSON_STRING, 1, 3, 0, 1);
	T_EQ_INT(parse("\"\""), 1);
	TOK(0, JSON_STRING, 1, 1, 0, 1);
}

static void test_whitespace_around(void)
{
	T_EQ_INT(parse(" \t\r\n 12 \n\t"), 1);
	TOK(0, JSON_NUMBER, 5, 7, 0, 1);
	T_EQ_INT(parse("[ 1 , 2 ]"), 3);
	TOK(0, JSON_ARRAY, 0, 9, 2, 3);
	TOK(1, JSON_NUMBER, 2, 3, 0, 2);
	TOK(2, JSON_NUMBER, 6, 7, 0, 3);
	T_EQ_INT(parse("{ \"k\" :\n\"v\" }"), 3);
	TOK(0, JSON_OBJECT, 0, 13, 1, 3);
	TOK(1, JSON_STRING, 3, 4, 0, 2);
	TOK(2, JSON_STRING, 9, 10, 0, 3);
}

static void test_empty_containers(void)
{
	T_EQ_INT(parse("{}"), 1);
	TOK(0, JSON_OBJECT, 0, 2, 0, 1);
	T_EQ_INT(parse("[]"), 1);
	TOK(0, JSON_ARRAY, 0, 2, 0, 1);
	T_EQ_INT(parse("[ \n ]"), 1);
	TOK(0, JSON_ARRAY, 0, 5, 0, 1);
	T_EQ_INT(parse("{\"a\":{},\"b\":[]}"), 5);
	TOK(0, JSON_OBJECT, 0, 15, 2, 5);
	TOK(1, JSON_STRING, 2, 3, 0, 2);
	TOK(2, JSON_OBJECT, 5, 7, 0, 3);
	TOK(3, JSON_STRING, 9, 10, 0, 4);
	TOK(4, JSON_ARRAY, 12, 14, 0, 5);
}

static void test_nested_structure(void)
{
	/*          0123456789012345678901234567890 */
	T_EQ_INT(parse("{\"a\":[1,{\"b\":null}],\"c\":\"x\"}"), 9);
	TOK(0, JSON_OBJECT, 0, 28, 2, 9);
	TOK(1, JSON_STRING, 2, 3, 0, 2);
	TOK(2, JSON_ARRAY, 5, 19, 2, 7);
	TOK(3, JSON_NUMBER, 6, 7, 0, 4);
	TOK(4, JSON_OBJECT, 8, 18, 1, 7);
	TOK(5, JSON_STRING, 10, 11, 0, 6);
	TOK(6, JSON_NULL, 13, 17, 0, 7);
	TOK(7, JSON_STRING, 21, 22, 0, 8);
	TOK(8, JSON_STRING, 25, 26, 0, 9);
}

static void test_arrays_of_arrays(void)
{
	T_EQ_INT(parse("[[],[[]],3]"), 5);
	TOK(0, JSON_ARRAY, 0, 11, 3, 5);
	TOK(1, JSON_ARRAY, 1, 3, 0, 2);
	TOK(2, JSON_ARRAY, 4, 8, 1, 4);
	TOK(3, JSON_ARRAY, 5, 7, 0, 4);
	TOK(4, JSON_NUMBER, 9, 10, 0, 5);
}

static void test_object_walk(void)
{
	const char *s = "{\"x\":[1,2,[3]],\"y\":{\"z\":{}},\"w\":false}";
	const char *keys[3] = { "x", "y", "w" };
	uint8_t types[3] = { JSON_ARRAY, JSON_OBJECT, JSON_FALSE };
	char k[8];
	uint32_t i, m = 0;
	int n = parse(s);

	T_EQ_INT(n, 13);
	T_EQ_INT(toks[0].size, 3);
	for (i = 1; i < (uint32_t)n && m < 3; i = toks[i + 1].next, m++) {
		T_EQ_INT(json_str_decode(s, &toks[i], k, sizeof(k)), 1);
		T_EQ_STR(k, keys[m]);
		T_EQ_INT(toks[i].next, i + 1);
		T_EQ_INT(toks[i + 1].type, types[m]);
	}
	T_EQ_INT(m, 3);
	T_EQ_INT(i, 13);
}

static void test_duplicate_keys(void)
{
	T_EQ_INT(parse("{\"a\":1,\"a\":2}"), 5);
	TOK(0, JSON_OBJECT, 0, 13, 2, 5);
	TOK(3, JSON_STRING, 8, 9, 0, 4);
}

/* ---- tokenizer: errors ---- */

static void test_err_empty(void)
{
	static const struct bad_case c[] = {
		{ "", JSON_ERR_EMPTY, 0, 1, 1 },
		{ "  \n ", JSON_ERR_EMPTY, 4, 2, 2 },
		{ "\t\r\n\n", JSON_ERR_EMPTY, 4, 3, 1 },
	};
	check_bad(c, sizeof(c) / sizeof(c[0]));
}

static void test_err_syntax(void)
{
	static const struct bad_case c[] = {
		{ "[1,]", JSON_ERR_SYNTAX, 3, 1, 4 },
		{ "{,}", JSON_ERR_SYNTAX, 1, 1, 2 },
		{ "{\"a\" 1}", JSON_ERR_SYNTAX, 5, 1, 6 },
		{ "{1:2}", JSON_ERR_SYNTAX, 1, 1, 2 },
		{ "{\"a\":1,}", JSON_ERR_SYNTAX, 7, 1, 8 },
		{ "[1 2]", JSON_ERR_SYNTAX, 3, 1, 4 },
		{ "[1:2]", JSON_ERR_SYNTAX, 2, 1, 3 },
		{ "{\"a\":1]", JSON_ERR_SYNTAX, 6, 1, 7 },
		{ "[1}", JSON_ERR_SYNTAX, 2, 1, 3 },
		{ "tru", JSON_ERR_SYNTAX, 3, 1, 4 },
		{ "trUe", JSON_ERR_SYNTAX, 2, 1, 3 },
		{ "nul", JSON_ERR_SYNTAX, 3, 1, 4 },
		{ "NaN", JSON_ERR_SYNTAX, 0, 1, 1 },
		{ "[", JSON_ERR_SYNTAX, 1, 1, 2 },
		{ "[1", JSON_ERR_SYNTAX, 2, 1, 3 },
		{ "{\"a\":", JSON_ERR_SYNTAX, 5, 1, 6 },
		{ "{\"a\"", JSON_ERR_SYNTAX, 4, 1, 5 },
		{ "\"abc", JSON_ERR_SYNTAX, 4, 1, 5 },
		{ "[\"a\\\"]", JSON_ERR_SYNTAX, 6, 1, 7 },
		{ "@", JSON_ERR_SYNTAX, 0, 1, 1 },
		{ "]", JSON_ERR_SYNTAX, 0, 1, 1 },
		{ "'a'", JSON_ERR_SYNTAX, 0, 1, 1 },
		{ "\xEF\xBB\xBF{}", JSON_ERR_SYNTAX, 0, 1, 1 },	/* BOM */
		{ "{\n  \"a\": 1,\n  \"b\": x\n}", JSON_ERR_SYNTAX, 19, 3, 8 },
		{ "[\n\n   ,]", JSON_ERR_SYNTAX, 6, 3, 4 },
	};
	check_bad(c, sizeof(c) / sizeof(c[0]));
}

static void test_err_trailing(void)
{
	static const struct bad_case c[] = {
		{ "1 2", JSON_ERR_TRAILING, 2, 1, 3 },
		{ "{} x", JSON_ERR_TRAILING, 3, 1, 4 },
		{ "true false", JSON_ERR_TRAILING, 5, 1, 6 },
		{ "\"a\"\"b\"", JSON_ERR_TRAILING, 3, 1, 4 },
		{ "[]]", JSON_ERR_TRAILING, 2, 1, 3 },
		{ "null\n\n,", JSON_ERR_TRAILING, 6, 3, 1 },
		{ "truex", JSON_ERR_TRAILING, 4, 1, 5 },
	};
	check_bad(c, sizeof(c) / sizeof(c[0]));
	T_EQ_INT(parse_n("1\0", 2), JSON_ERR_TRAILING);
	POS(1, 1, 2);
}

static void test_err_string_escapes(void)
{
	static const struct bad_case c[] = {
		{ "\"a\tb\"", JSON_ERR_STRING, 2, 1, 3 },
		{ "\"\n\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\x1f\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"ab\\x\"", JSON_ERR_STRING, 3, 1, 4 },
		{ "\"\\'\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\u12G4\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\u12\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\U0041\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"x\\ud800\"", JSON_ERR_STRING, 2, 1, 3 },
		{ "\"\\ud800x\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\ud800\\n\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\ud800\\u0041\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\ud800\\ud800\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\udc00\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\\udfff\\ud800\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "[\"ok\",\n \"\\q\"]", JSON_ERR_STRING, 9, 2, 3 },
	};
	check_bad(c, sizeof(c) / sizeof(c[0]));
	T_EQ_INT(parse_n("\"a\0\"", 4), JSON_ERR_STRING);
	POS(2, 1, 3);
}

static void test_valid_escapes_and_surrogates(void)
{
	T_EQ_INT(parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), 1);
	T_EQ_INT(parse("\"\\u0000\\u001F\\u00e9\\uFFFF\""), 1);
	T_EQ_INT(parse("\"\\ud83d\\ude00\\uDBFF\\uDFFF\""), 1);
	TOK(0, JSON_STRING, 1, 25, 0, 1);
	T_EQ_INT(parse("\"\x7f\""), 1);	/* DEL need not be escaped */
}

static void test_utf8_valid(void)
{
	T_EQ_INT(parse("\"\xC2\x80\xDF\xBF\""), 1);		/* U+0080, U+07FF */
	T_EQ_INT(parse("\"\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\""), 1);
	T_EQ_INT(parse("\"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\""), 1);	/* U+10000, U+10FFFF */
	T_EQ_INT(parse("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\""), 1);
	TOK(0, JSON_STRING, 1, 15, 0, 1);
}

static void test_utf8_invalid(void)
{
	static const struct bad_case c[] = {
		{ "\"\x80\"", JSON_ERR_STRING, 1, 1, 2 },		/* lone continuation */
		{ "\"a\xBF\"", JSON_ERR_STRING, 2, 1, 3 },
		{ "\"\xC0\x80\"", JSON_ERR_STRING, 1, 1, 2 },		/* overlong NUL */
		{ "\"\xC1\xBF\"", JSON_ERR_STRING, 1, 1, 2 },		/* overlong 2-byte */
		{ "\"\xE0\x80\x80\"", JSON_ERR_STRING, 1, 1, 2 },	/* overlong 3-byte */
		{ "\"\xE0\x9F\xBF\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\xF0\x80\x80\x80\"", JSON_ERR_STRING, 1, 1, 2 },	/* overlong 4-byte */
		{ "\"\xF0\x8F\xBF\xBF\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\xED\xA0\x80\"", JSON_ERR_STRING, 1, 1, 2 },	/* U+D800 */
		{ "\"\xED\xBF\xBF\"", JSON_ERR_STRING, 1, 1, 2 },	/* U+DFFF */
		{ "\"\xF4\x90\x80\x80\"", JSON_ERR_STRING, 1, 1, 2 },	/* > U+10FFFF */
		{ "\"\xF5\x80\x80\x80\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\xF8\x88\x80\x80\x80\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\xFE\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"\xFF\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "\"ab\xE2\x82\"", JSON_ERR_STRING, 3, 1, 4 },	/* truncated */
		{ "\"\xE2\x82", JSON_ERR_STRING, 1, 1, 2 },		/* cut by the end */
		{ "\"\xC3\x28\"", JSON_ERR_STRING, 1, 1, 2 },		/* bad continuation */
		{ "\"\xF0\x9F\x98\"", JSON_ERR_STRING, 1, 1, 2 },
		{ "{\"k\xFF\":1}", JSON_ERR_STRING, 3, 1, 4 },		/* in a key */
	};
	check_bad(c, sizeof(c) / sizeof(c[0]));
}

static void test_numbers_valid(void)
{
	static const char *const ok[] = {
		"0", "-0", "7", "-7", "1234567890", "0.5", "-0.5", "10.25",
		"1e5", "1E5", "1e+5", "1e-5", "1.5E-07", "0e0", "-0.0e-0",
		"123456789012345678901234567890",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (parse(ok[i]) != 1 || toks[0].type != JSON_NUMBER ||
		    toks[0].start != 0 || toks[0].end != strlen(ok[i])) {
			printf("  case %s\n", ok[i]);
			t_cur_failed = 1;
		}
	}
	T_EQ_INT(parse("[-1,0.5e3]"), 3);
	TOK(1, JSON_NUMBER, 1, 3, 0, 2);
	TOK(2, JSON_NUMBER, 4, 9, 0, 3);
}

static void test_numbers_invalid(void)
{
	static const struct bad_case c[] = {
		{ "01", JSON_ERR_NUMBER, 1, 1, 2 },
		{ "-01", JSON_ERR_NUMBER, 2, 1, 3 },
		{ "00", JSON_ERR_NUMBER, 1, 1, 2 },
		{ "+1", JSON_ERR_NUMBER, 0, 1, 1 },
		{ ".5", JSON_ERR_NUMBER, 0, 1, 1 },
		{ "1.", JSON_ERR_NUMBER, 2, 1, 3 },
		{ "1.e5", JSON_ERR_NUMBER, 2, 1, 3 },
		{ "-", JSON_ERR_NUMBER, 1, 1, 2 },
		{ "-a", JSON_ERR_NUMBER, 1, 1, 2 },
		{ "--1", JSON_ERR_NUMBER, 1, 1, 2 },
		{ "-Infinity", JSON_ERR_NUMBER, 1, 1, 2 },
		{ "1e", JSON_ERR_NUMBER, 2, 1, 3 },
		{ "1e+", JSON_ERR_NUMBER, 3, 1, 4 },
		{ "1E-x", JSON_ERR_NUMBER, 3, 1, 4 },
		{ "1.2.3", JSON_ERR_NUMBER, 3, 1, 4 },
		{ "1e5e5", JSON_ERR_NUMBER, 3, 1, 4 },
		{ "1-2", JSON_ERR_NUMBER, 1, 1, 2 },
		{ "[1,\n 0x10]", JSON_ERR_SYNTAX, 6, 2, 3 },	/* "0" then 'x' */
		{ "[1,\n 012]", JSON_ERR_NUMBER, 6, 2, 3 },
	};
	check_bad(c, sizeof(c) / sizeof(c[0]));
}

/* ---- tokenizer: limits ---- */

static void test_limit_depth(void)
{
	struct json_limits l = { 4096, 3 };
	const char *deep = "[{\"a\":[[1]]}]";

	T_EQ_INT(json_parse("[[[1]]]", 7, &l, toks, MAX_TOKS, &pos), 4);
	T_EQ_INT(json_parse("[[[[1]]]]", 9, &l, toks, MAX_TOKS, &pos), JSON_ERR_DEPTH);
	POS(3, 1, 4);
	T_EQ_INT(json_parse(deep, strlen(deep), &l, toks, MAX_TOKS, &pos), JSON_ERR_DEPTH);
	POS(7, 1, 8);
	l.max_depth = 4;
	T_EQ_INT(json_parse(deep, strlen(deep), &l, toks, MAX_TOKS, &pos), 6);
	/* siblings do not add depth */
	l.max_depth = 1;
	T_EQ_INT(json_parse("[1,2]", 5, &l, toks, MAX_TOKS, &pos), 3);
	T_EQ_INT(json_parse("[1,[]]", 6, &l, toks, MAX_TOKS, &pos), JSON_ERR_DEPTH);
	POS(3, 1, 4);
	l.max_depth = 0;
	T_EQ_INT(json_parse("\"s\"", 3, &l, toks, MAX_TOKS, &pos), 1);
	T_EQ_INT(json_parse(" {}", 3, &l, toks, MAX_TOKS, &pos), JSON_ERR_DEPTH);
	POS(1, 1, 2);
}

static void test_limit_deep_iterative(void)
{
	static char doc[2 * DEEP];
	static struct json_tok big[DEEP];
	struct json_limits l = { sizeof(doc), DEEP };

	memset(doc, '[', DEEP);
	memset(doc + DEEP, ']', DEEP);
	T_EQ_INT(json_parse(doc, sizeof(doc), &l, big, DEEP, &pos), DEEP);
	T_EQ_INT(big[0].next, DEEP);
	T_EQ_INT(big[0].end, 2 * DEEP);
	T_EQ_INT(big[DEEP - 1].start, DEEP - 1);
	T_EQ_INT(big[DEEP - 1].end, DEEP + 1);
	T_EQ_INT(big[DEEP - 2].size, 1);
	T_EQ_INT(json_parse(doc, DEEP, &l, big, DEEP, &pos), JSON_ERR_SYNTAX);
	POS(DEEP, 1, DEEP + 1);
	T_EQ_INT(json_parse(doc, sizeof(doc), &l, big, DEEP - 1, &pos), JSON_ERR_TOKENS);
	POS(DEEP - 1, 1, DEEP);
}

static void test_limit_tokens(void)
{
	T_EQ_INT(json_parse("[1,2,3]", 7, &lim, toks, 4, &pos), 4);
	T_EQ_INT(json_parse("[1,2,3]", 7, &lim, toks, 3, &pos), JSON_ERR_TOKENS);
	POS(5, 1, 6);
	T_EQ_INT(json_parse("{\"a\":1}", 7, &lim, toks, 3, &pos), 3);
	T_EQ_INT(json_parse("{\"a\":1}", 7, &lim, toks, 2, &pos), JSON_ERR_TOKENS);
	POS(5, 1, 6);
	T_EQ_INT(json_parse("{\"a\":1}", 7, &lim, toks, 1, &pos), JSON_ERR_TOKENS);
	POS(1, 1, 2);	/* the key's opening quote */
	T_EQ_INT(json_parse("[]", 2, &lim, toks, 0, &pos), JSON_ERR_TOKENS);
	POS(0, 1, 1);
	T_EQ_INT(json_parse("1", 1, &lim, NULL, 5, &pos), JSON_ERR_TOKENS);
}

static void test_limit_size(void)
{
	struct json_limits l = { 7, 8 };

	T_EQ_INT(json_parse("[1,2,3]", 7, &l, toks, MAX_TOKS, &pos), 4);
	T_EQ_INT(json_parse("[1,2,3] ", 8, &l, toks, MAX_TOKS, &pos), JSON_ERR_SIZE);
	POS(7, 1, 8);
	l.max_input = 0;
	T_EQ_INT(json_parse("1", 1, &l, toks, MAX_TOKS, &pos), JSON_ERR_SIZE);
	POS(0, 1, 1);
	T_EQ_INT(json_parse("", 0, &l, toks, MAX_TOKS, &pos), JSON_ERR_EMPTY);
	T_EQ_INT(json_parse("1", 1, &l, toks, MAX_TOKS, NULL), JSON_ERR_SIZE);
}

/* ---- string decoding, positions, messages ---- */

static void test_str_decode_escapes(void)
{
	const char *s = "\"a\\\"\\\\\\/\\b\\f\\n\\r\\tz\"";
	char out[64];

	T_EQ_INT(parse(s), 1);
	T_EQ_INT(json_str_decode(s, &toks[0], out, sizeof(out)), 10);
	T_EQ_STR(out, "a\"\\/\b\f\n\r\tz");
}

static void test_str_decode_unicode(void)
{
	const char *s = "\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u001f\\uDBFF\\uDFFF\"";
	char out[64];

	T_EQ_INT(parse(s), 1);
	T_EQ_INT(json_str_decode(s, &toks[0], out, sizeof(out)), 15);
	T_EQ_STR(out, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x1f\xF4\x8F\xBF\xBF");
}

static void test_str_decode_raw_utf8(void)
{
	const char *s = "[\"caf\xC3\xA9\",\"\"]";
	char out[16];

	T_EQ_INT(parse(s), 3);
	T_EQ_INT(json_str_decode(s, &toks[1], out, sizeof(out)), 5);
	T_EQ_STR(out, "caf\xC3\xA9");
	T_EQ_INT(json_str_decode(s, &toks[2], out, sizeof(out)), 0);
	T_EQ_STR(out, "");
}

static void test_str_decode_nul_rejected(void)
{
	const char *s = "\"ab\\u0000cd\"";
	char out[16];

	T_EQ_INT(parse(s), 1);
	T_EQ_INT(json_str_decode(s, &toks[0], out, sizeof(out)), JSON_ERR_STRING);
}

static void test_str_decode_buffer(void)
{
	const char *s = "\"hello\\n\"";
	char out[8];

	T_EQ_INT(parse(s), 1);
	T_EQ_INT(json_str_decode(s, &toks[0], out, 7), 6);	/* exact fit */
	T_EQ_STR(out, "hello\n");
	T_EQ_INT(json_str_decode(s, &toks[0], out, 6), JSON_ERR_BUFFER);
	T_EQ_INT(json_str_decode(s, &toks[0], out, 1), JSON_ERR_BUFFER);
	T_EQ_INT(json_str_decode(s, &toks[0], out, 0), JSON_ERR_BUFFER);
	T_EQ_INT(json_str_decode(s, &toks[0], NULL, 8), JSON_ERR_BUFFER);
	/* a multi-byte escape never partly fits */
	s = "\"\\u20ac\"";
	T_EQ_INT(parse(s), 1);
	T_EQ_INT(json_str_decode(s, &toks[0], out, 3), JSON_ERR_BUFFER);
	T_EQ_INT(json_str_decode(s, &toks[0], out, 4), 3);
}

static void test_str_decode_wrong_token(void)
{
	const char *s = "[1]";
	char out[8];

	T_EQ_INT(parse(s), 2);
	T_EQ_INT(json_str_decode(s, &toks[1], out, sizeof(out)), JSON_ERR_STRING);
	T_EQ_STR(out, "");
}

static void test_position(void)
{
	const char *s = "ab\ncd\r\n\nx";
	size_t n = strlen(s);

	json_position(s, n, 0, &pos);
	POS(0, 1, 1);
	json_position(s, n, 2, &pos);
	POS(2, 1, 3);
	json_position(s, n, 3, &pos);
	POS(3, 2, 1);
	json_position(s, n, 6, &pos);
	POS(6, 2, 4);
	json_position(s, n, 8, &pos);
	POS(8, 4, 1);
	json_position(s, n, 1000, &pos);
	POS(9, 4, 2);
	json_position(NULL, 0, 0, &pos);
	POS(0, 1, 1);
}

static void test_strerror(void)
{
	int e, f;

	for (e = JSON_OK; e >= JSON_ERR_BUFFER; e--) {
		T_CHECK(json_strerror(e) != NULL);
		T_CHECK(strcmp(json_strerror(e), "unknown error") != 0);
		for (f = e - 1; f >= JSON_ERR_BUFFER; f--)
			T_CHECK(strcmp(json_strerror(e), json_strerror(f)) != 0);
	}
	T_EQ_STR(json_strerror(JSON_ERR_DEPTH), "nested too deeply");
	T_EQ_STR(json_strerror(-100), "unknown error");
}

/* ---- emitter ---- */

#define SINK_CAP (1 << 16)

struct sink {
	char data[SINK_CAP];
	size_t len;
	unsigned calls;
	int fail_at;		/* call number that fails; 0: never */
	uint64_t bytes;		/* counted even past data[] */
};

static int sink_fn(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->fail_at && s->calls == (unsigned)s->fail_at)
		return -1;
	if (len <= sizeof(s->data) - s->len) {
		memcpy(s->data + s->len, data, len);
		s->len += len;
	}
	s->bytes += len;
	return 0;
}

static struct sink snk;

static void sink_reset(void)
{
	memset(&snk, 0, sizeof(snk));
}

/* Writes a document exercising every call. */
static void emit_sample(struct json_out *o)
{
	json_obj_begin(o, NULL);
	json_str(o, "name", "x");
	json_u64(o, "n", 42);
	json_i64(o, "neg", -7);
	json_bool(o, "ok", 1);
	json_bool(o, "no", 0);
	json_null(o, "nil");
	json_arr_begin(o, "list");
	json_u64(o, NULL, 1);
	json_str(o, NULL, "two");
	json_obj_begin(o, NULL);
	json_obj_end(o);
	json_arr_end(o);
	json_arr_begin(o, "empty");
	json_arr_end(o);
	json_obj_begin(o, "obj");
	json_strn(o, "s", "abc", 2);
	json_obj_end(o);
	json_obj_end(o);
}

static const char sample_compact[] =
	"{\"name\":\"x\",\"n\":42,\"neg\":-7,\"ok\":true,\"no\":false,"
	"\"nil\":null,\"list\":[1,\"two\",{}],\"empty\":[],\"obj\":{\"s\":\"ab\"}}\n";

static const char sample_pretty[] =
	"{\n"
	"  \"name\": \"x\",\n"
	"  \"n\": 42,\n"
	"  \"neg\": -7,\n"
	"  \"ok\": true,\n"
	"  \"no\": false,\n"
	"  \"nil\": null,\n"
	"  \"list\": [\n"
	"    1,\n"
	"    \"two\",\n"
	"    {}\n"
	"  ],\n"
	"  \"empty\": [],\n"
	"  \"obj\": {\n"
	"    \"s\": \"ab\"\n"
	"  }\n"
	"}\n";

static void test_emit_compact(void)
{
	char buf[512];
	struct json_out o;

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	emit_sample(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.error, JSON_OUT_OK);
	T_EQ_INT(o.len, strlen(sample_compact));
	T_EQ_INT(o.total, strlen(sample_compact));
	T_CHECK(memcmp(buf, sample_compact, o.len) == 0);
}

static void test_emit_pretty(void)
{
	char buf[512];
	struct json_out o;

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	o.pretty = 1;
	emit_sample(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.len, strlen(sample_pretty));
	T_CHECK(o.len == strlen(sample_pretty) &&
		memcmp(buf, sample_pretty, o.len) == 0);
}

static void test_emit_scalar_top_level(void)
{
	char buf[32];
	struct json_out o;

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	json_str(&o, NULL, NULL);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.len, 5);
	T_CHECK(memcmp(buf, "null\n", 5) == 0);
	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	json_arr_begin(&o, NULL);
	json_strn(&o, NULL, NULL, 0);
	json_i64(&o, NULL, 0);
	json_arr_end(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.len, 9);
	T_CHECK(memcmp(buf, "[null,0]\n", 9) == 0);
}

/* Emits one string (n bytes) and compares the whole output. */
static int emit_one(const char *s, size_t n, const char *want)
{
	char buf[256];
	struct json_out o;

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	json_strn(&o, NULL, s, n);
	if (json_out_finish(&o) != 0 || o.len != strlen(want) ||
	    memcmp(buf, want, o.len) != 0) {
		printf("  got \"%.*s\" want \"%s\"\n", (int)o.len, buf, want);
		return 0;
	}
	return 1;
}

static void test_emit_escaping(void)
{
	T_CHECK(emit_one("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"\n"));
	T_CHECK(emit_one("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"\n"));
	T_CHECK(emit_one("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"\n"));
	T_CHECK(emit_one("a\0b", 3, "\"a\\u0000b\"\n"));
	T_CHECK(emit_one("caf\xC3\xA9 \xF0\x9F\x98\x80", 10,
			 "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"\n"));
	T_CHECK(emit_one("", 0, "\"\"\n"));
}

static void test_emit_invalid_utf8(void)
{
#define FFFD "\xEF\xBF\xBD"
	T_CHECK(emit_one("\xFF", 1, "\"" FFFD "\"\n"));
	T_CHECK(emit_one("a\xC3", 2, "\"a" FFFD "\"\n"));
	T_CHECK(emit_one("\xC0\xAF", 2, "\"" FFFD FFFD "\"\n"));	/* overlong */
	T_CHECK(emit_one("\xED\xA0\x80", 3, "\"" FFFD FFFD FFFD "\"\n"));
	T_CHECK(emit_one("\xF4\x90\x80\x80z", 5, "\"" FFFD FFFD FFFD FFFD "z\"\n"));
	T_CHECK(emit_one("x\xE2\x82\"", 4, "\"x" FFFD FFFD "\\\"\"\n"));
	T_CHECK(emit_one("\xE2\x82\xAC\x80", 4, "\"\xE2\x82\xAC" FFFD "\"\n"));
#undef FFFD
}

static void test_emit_key_escaping(void)
{
	char buf[64];
	struct json_out o;
	const char *want = "{\"a\\\"b\\n\":1}\n";

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	json_obj_begin(&o, NULL);
	json_u64(&o, "a\"b\n", 1);
	json_obj_end(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.len, strlen(want));
	T_CHECK(memcmp(buf, want, strlen(want)) == 0);
}

static void test_emit_integer_limits(void)
{
	char buf[128];
	struct json_out o;
	const char *want = "[18446744073709551615,0,-9223372036854775808,"
			   "9223372036854775807]\n";

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	json_arr_begin(&o, NULL);
	json_u64(&o, NULL, UINT64_MAX);
	json_u64(&o, NULL, 0);
	json_i64(&o, NULL, INT64_MIN);
	json_i64(&o, NULL, INT64_MAX);
	json_arr_end(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.len, strlen(want));
	T_CHECK(memcmp(buf, want, strlen(want)) == 0);
}

static void test_emit_sink_tiny_buffer(void)
{
	char buf[8];
	struct json_out o;
	int pretty;

	for (pretty = 0; pretty <= 1; pretty++) {
		const char *want = pretty ? sample_pretty : sample_compact;

		sink_reset();
		json_out_init(&o, buf, sizeof(buf), sink_fn, &snk);
		o.pretty = pretty;
		emit_sample(&o);
		T_EQ_INT(json_out_finish(&o), 0);
		T_EQ_INT(o.len, 0);
		T_EQ_INT(o.total, strlen(want));
		T_EQ_INT(snk.len, strlen(want));
		T_CHECK(memcmp(snk.data, want, strlen(want)) == 0);
		T_EQ_INT(snk.calls, (strlen(want) + sizeof(buf) - 1) / sizeof(buf));
	}
}

static void test_emit_sink_one_byte_buffer(void)
{
	char buf[1];
	struct json_out o;

	sink_reset();
	json_out_init(&o, buf, sizeof(buf), sink_fn, &snk);
	emit_sample(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(snk.calls, strlen(sample_compact));
	T_CHECK(snk.len == strlen(sample_compact) &&
		memcmp(snk.data, sample_compact, snk.len) == 0);
}

/* A 64 KiB buffer streams a ~30 MB report. */
static void test_emit_large_report(void)
{
	static char buf[1 << 16];
	struct json_out o;
	unsigned i;
	const unsigned flows = 400000;
	/* {"flows":[ ... ]}\n, each flow {"ip":"10.0.0.1","port":443,"n":i} */
	uint64_t want = strlen("{\"flows\":[]}\n") + (flows - 1);

	sink_reset();
	json_out_init(&o, buf, sizeof(buf), sink_fn, &snk);
	json_obj_begin(&o, NULL);
	json_arr_begin(&o, "flows");
	for (i = 0; i < flows; i++) {
		char n[16];

		json_obj_begin(&o, NULL);
		json_str(&o, "client", "10.123.234.111");
		json_str(&o, "server", "192.168.200.201");
		json_u64(&o, "port", 443);
		json_str(&o, "proto", "tcp");
		json_u64(&o, "n", 1000000 + i);
		json_obj_end(&o);
		snprintf(n, sizeof(n), "%u", 1000000 + i);
		want += strlen("{\"client\":\"10.123.234.111\",\"server\":"
			       "\"192.168.200.201\",\"port\":443,\"proto\":"
			       "\"tcp\",\"n\":}") + strlen(n);
	}
	json_arr_end(&o);
	json_obj_end(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_CHECK(want > 30000000);
	T_EQ_INT(o.total, want);
	T_EQ_INT(snk.bytes, want);
	T_EQ_INT(snk.calls, (want + sizeof(buf) - 1) / sizeof(buf));
}

static void test_emit_overflow_without_sink(void)
{
	char buf[16];
	struct json_out o;

	memset(buf, '#', sizeof(buf));
	json_out_init(&o, buf, 10, NULL, NULL);
	json_arr_begin(&o, NULL);
	json_str(&o, NULL, "abcdef");
	T_EQ_INT(o.error, JSON_OUT_OK);
	T_EQ_INT(o.len, 9);
	json_u64(&o, NULL, 12);	/* ",12" does not fit */
	T_EQ_INT(o.error, JSON_OUT_ERR_OVERFLOW);
	json_arr_end(&o);
	T_EQ_INT(json_out_finish(&o), -1);
	T_EQ_INT(o.error, JSON_OUT_ERR_OVERFLOW);
	T_CHECK(o.len <= 10);
	T_CHECK(memcmp(buf + 10, "######", 6) == 0);
}

static void test_emit_exact_fit_without_sink(void)
{
	char buf[8];
	struct json_out o;

	json_out_init(&o, buf, 8, NULL, NULL);	/* ["abc"]\n is 8 bytes */
	json_arr_begin(&o, NULL);
	json_str(&o, NULL, "abc");
	json_arr_end(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.len, 8);
	T_CHECK(memcmp(buf, "[\"abc\"]\n", 8) == 0);
	/* one byte less: only the newline is missing, still an error */
	json_out_init(&o, buf, 7, NULL, NULL);
	json_arr_begin(&o, NULL);
	json_str(&o, NULL, "abc");
	json_arr_end(&o);
	T_EQ_INT(o.error, JSON_OUT_OK);
	T_EQ_INT(json_out_finish(&o), -1);
	T_EQ_INT(o.error, JSON_OUT_ERR_OVERFLOW);
	json_out_init(&o, NULL, 0, NULL, NULL);
	json_null(&o, NULL);
	T_EQ_INT(json_out_finish(&o), -1);
}

static void test_emit_sink_failure(void)
{
	char buf[8];
	struct json_out o;

	sink_reset();
	snk.fail_at = 2;
	json_out_init(&o, buf, sizeof(buf), sink_fn, &snk);
	emit_sample(&o);
	T_EQ_INT(o.error, JSON_OUT_ERR_SINK);
	T_EQ_INT(json_out_finish(&o), -1);
	T_EQ_INT(snk.calls, 2);	/* nothing more after the failure */
	T_EQ_INT(snk.len, 8);
	/* failure on the final drain */
	sink_reset();
	snk.fail_at = 1;
	json_out_init(&o, buf, sizeof(buf), sink_fn, &snk);
	json_u64(&o, NULL, 5);
	T_EQ_INT(json_out_finish(&o), -1);
	T_EQ_INT(o.error, JSON_OUT_ERR_SINK);
}

/* Pre-formatted values: an object built from json_prefix() pieces and
 * handed over with json_raw() is byte for byte what the emitter writes. */
static void emit_nested(struct json_out *o, int i)
{
	json_obj_begin(o, NULL);
	json_u64(o, "k", (uint64_t)i);
	json_str(o, "q\"k", "v");
	json_arr_begin(o, "arr");
	json_u64(o, NULL, 1);
	json_u64(o, NULL, 2);
	json_arr_end(o);
	json_arr_begin(o, "none");
	json_arr_end(o);
	json_obj_end(o);
}

/* Appends json_prefix(o, rel, first, key) to *p; 0 or -1. */
static int put_prefix(const struct json_out *o, unsigned rel, int first,
		      const char *key, char **p, const char *end)
{
	int n = json_prefix(o, rel, first, key, *p, (size_t)(end - *p));

	if (n < 0)
		return -1;
	*p += n;
	return 0;
}

static int raw_nested(struct json_out *o, int i)
{
	char text[512], *p = text, *end = text + sizeof(text);
	int rc = 0;

	*p++ = '{';
	rc |= put_prefix(o, 1, 1, "k", &p, end);
	p = json_fmt_u64(p, (uint64_t)i);
	rc |= put_prefix(o, 1, 0, "q\"k", &p, end);
	memcpy(p, "\"v\"", 3);
	p += 3;
	rc |= put_prefix(o, 1, 0, "arr", &p, end);
	*p++ = '[';
	rc |= put_prefix(o, 2, 1, NULL, &p, end);
	*p++ = '1';
	rc |= put_prefix(o, 2, 0, NULL, &p, end);
	*p++ = '2';
	rc |= put_prefix(o, 1, 1, NULL, &p, end);	/* before "]" */
	*p++ = ']';
	rc |= put_prefix(o, 1, 0, "none", &p, end);
	memcpy(p, "[]", 2);
	p += 2;
	rc |= put_prefix(o, 0, 1, NULL, &p, end);	/* before "}" */
	*p++ = '}';
	json_raw(o, NULL, text, (size_t)(p - text));
	return rc;
}

static void test_emit_prefix_raw(void)
{
	char a[1024], b[1024];
	struct json_out oa, ob;
	int pretty, i;

	for (pretty = 0; pretty <= 1; pretty++) {
		json_out_init(&oa, a, sizeof(a), NULL, NULL);
		json_out_init(&ob, b, sizeof(b), NULL, NULL);
		oa.pretty = ob.pretty = pretty;
		json_obj_begin(&oa, NULL);
		json_obj_begin(&ob, NULL);
		json_arr_begin(&oa, "a");
		json_arr_begin(&ob, "a");
		for (i = 0; i < 3; i++) {
			emit_nested(&oa, i);
			T_EQ_INT(raw_nested(&ob, i), 0);
		}
		json_arr_end(&oa);
		json_arr_end(&ob);
		json_arr_begin(&oa, "r");
		json_u64(&oa, NULL, 7);
		json_arr_end(&oa);
		json_raw(&ob, "r", pretty ? "[\n    7\n  ]" : "[7]", pretty ? 11 : 3);
		json_obj_end(&oa);
		json_obj_end(&ob);
		T_EQ_INT(json_out_finish(&oa), 0);
		T_EQ_INT(json_out_finish(&ob), 0);
		T_EQ_INT(ob.len, oa.len);
		T_CHECK(oa.len == ob.len && memcmp(a, b, oa.len) == 0);
		T_EQ_INT(parse_n(b, ob.len), 1 + 2 + 3 * 11 + 3);
	}
}

static void test_emit_prefix_limits(void)
{
	char out[1024], buf[256];
	struct json_out o;
	size_t len;
	int i, n;

	json_out_init(&o, out, sizeof(out), NULL, NULL);
	o.pretty = 1;
	for (i = 0; i < JSON_OUT_MAX_DEPTH - 1; i++)
		json_arr_begin(&o, NULL);
	json_obj_begin(&o, NULL);
	len = o.len;
	n = json_prefix(&o, 0, 0, "key", buf, sizeof(buf));	/* deepest */
	T_EQ_INT(n, JSON_PREFIX_MAX(3));
	T_CHECK(n > 0 && buf[0] == ',' && buf[1] == '\n' &&
		memcmp(buf + n - 7, "\"key\": ", 7) == 0);
	T_EQ_INT(json_prefix(&o, 0, 0, "key", buf, (size_t)n), n);	/* exact */
	T_EQ_INT(json_prefix(&o, 0, 0, "key", buf, (size_t)n - 1), -1);
	T_EQ_INT(json_prefix(&o, 1, 1, NULL, buf, sizeof(buf)), -1);	/* too deep */
	n = json_prefix(&o, 0, 1, NULL, buf, sizeof(buf));	/* before a bracket */
	T_EQ_INT(n, 1 + 2 * JSON_OUT_MAX_DEPTH);
	T_CHECK(n > 0 && buf[0] == '\n' && buf[n - 1] == ' ');
	T_EQ_INT(o.error, JSON_OUT_OK);	/* o itself is untouched */
	T_EQ_INT(o.len, len);
	json_out_init(&o, out, sizeof(out), NULL, NULL);
	json_arr_begin(&o, NULL);
	T_EQ_INT(json_prefix(&o, 0, 1, NULL, buf, sizeof(buf)), 0);	/* compact */
	T_EQ_INT(json_prefix(&o, 0, 0, NULL, buf, sizeof(buf)), 1);
	T_EQ_INT(buf[0], ',');
}

static void test_emit_raw_errors(void)
{
	char buf[64];
	struct json_out o;

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	json_arr_begin(&o, NULL);
	json_raw(&o, "k", "1", 1);	/* a key inside an array */
	T_EQ_INT(o.error, JSON_OUT_ERR_MISUSE);
	json_raw(&o, NULL, "2", 1);	/* nothing after an error */
	T_EQ_INT(o.len, 1);
	json_out_init(&o, buf, 4, NULL, NULL);
	json_raw(&o, NULL, "12345", 5);
	T_EQ_INT(o.error, JSON_OUT_ERR_OVERFLOW);
	T_EQ_INT(json_out_finish(&o), -1);
}

static void test_fmt_u64(void)
{
	static const uint64_t v[] = { 0, 7, 9, 10, 99, 100, 65535, 4294967296ULL,
				      10000000000000000000ULL, UINT64_MAX };
	static const char *const want[] = { "0", "7", "9", "10", "99", "100", "65535",
					    "4294967296", "10000000000000000000",
					    "18446744073709551615" };
	char buf[JSON_U64_MAX + 4], *end;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(buf, '#', sizeof(buf));
		end = json_fmt_u64(buf, v[i]);
		T_EQ_INT(end - buf, strlen(want[i]));
		T_CHECK(memcmp(buf, want[i], strlen(want[i])) == 0);
		T_CHECK(memcmp(buf + JSON_U64_MAX, "####", 4) == 0);	/* room kept */
	}
	/* Every digit count, both ends of each, and a run of small values
	 * (odd and even lengths), against printf. */
	for (i = 0; i < 2 * JSON_U64_MAX + 20000; i++) {
		char ref[JSON_U64_MAX + 1];
		uint64_t x = 1, u;
		size_t k;

		if (i < 2 * JSON_U64_MAX) {
			for (k = 0; k < i / 2; k++)
				x *= 10;
			u = i % 2 ? x - 1 : x;	/* 10^k - 1 or 10^k */
		} else {
			u = i - 2 * JSON_U64_MAX;
		}
		snprintf(ref, sizeof(ref), "%llu", (unsigned long long)u);
		end = json_fmt_u64(buf, u);
		if (end - buf != (long)strlen(ref) || memcmp(buf, ref, strlen(ref)) != 0) {
			T_CHECK(!"json_fmt_u64 differs from printf");
			printf("  %s: got %.*s\n", ref, (int)(end - buf), buf);
			break;
		}
	}
}

/* Runs f on a fresh emitter; returns the finish result. */
static int misuse(void (*f)(struct json_out *))
{
	char buf[256];
	struct json_out o;

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	f(&o);
	return json_out_finish(&o) == -1 && o.error == JSON_OUT_ERR_MISUSE;
}

static void m_end_at_top(struct json_out *o) { json_obj_end(o); }
static void m_nothing(struct json_out *o) { (void)o; }
static void m_unclosed(struct json_out *o) { json_arr_begin(o, NULL); }
static void m_two_values(struct json_out *o)
{
	json_null(o, NULL);
	json_null(o, NULL);
}
static void m_wrong_end(struct json_out *o)
{
	json_obj_begin(o, NULL);
	json_arr_end(o);
}
static void m_wrong_end2(struct json_out *o)
{
	json_arr_begin(o, NULL);
	json_obj_end(o);
}
static void m_key_in_array(struct json_out *o)
{
	json_arr_begin(o, NULL);
	json_u64(o, "k", 1);
	json_arr_end(o);
}
static void m_no_key_in_object(struct json_out *o)
{
	json_obj_begin(o, NULL);
	json_u64(o, NULL, 1);
	json_obj_end(o);
}
static void m_key_at_top(struct json_out *o) { json_bool(o, "k", 1); }
static void m_too_deep(struct json_out *o)
{
	int i;

	for (i = 0; i <= JSON_OUT_MAX_DEPTH; i++)
		json_arr_begin(o, NULL);
	for (i = 0; i <= JSON_OUT_MAX_DEPTH; i++)
		json_arr_end(o);
}

static void test_emit_misuse(void)
{
	T_CHECK(misuse(m_end_at_top));
	T_CHECK(misuse(m_nothing));
	T_CHECK(misuse(m_unclosed));
	T_CHECK(misuse(m_two_values));
	T_CHECK(misuse(m_wrong_end));
	T_CHECK(misuse(m_wrong_end2));
	T_CHECK(misuse(m_key_in_array));
	T_CHECK(misuse(m_no_key_in_object));
	T_CHECK(misuse(m_key_at_top));
	T_CHECK(misuse(m_too_deep));
}

static void test_emit_max_depth(void)
{
	char buf[256];
	struct json_out o;
	int i;

	json_out_init(&o, buf, sizeof(buf), NULL, NULL);
	for (i = 0; i < JSON_OUT_MAX_DEPTH; i++)
		json_arr_begin(&o, NULL);
	T_EQ_INT(o.depth, JSON_OUT_MAX_DEPTH);
	for (i = 0; i < JSON_OUT_MAX_DEPTH; i++)
		json_arr_end(&o);
	T_EQ_INT(json_out_finish(&o), 0);
	T_EQ_INT(o.len, 2 * JSON_OUT_MAX_DEPTH + 1);
	T_EQ_INT(parse_n(buf, o.len), JSON_OUT_MAX_DEPTH);
}

static void test_roundtrip(void)
{
	static const char *const strs[] = {
		"plain", "", "q\"b\\s/", "ctl\x01\x02\n\t\x1f", "caf\xC3\xA9",
		"\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF", "bad\xFF\xC0\xAFz",
	};
	static const char *const want[] = {
		"plain", "", "q\"b\\s/", "ctl\x01\x02\n\t\x1f", "caf\xC3\xA9",
		"\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF",
		"bad\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz",
	};
	const size_t n = sizeof(strs) / sizeof(strs[0]);
	char buf[1024], out[64];
	struct json_out o;
	size_t i;
	int pretty;

	for (pretty = 0; pretty <= 1; pretty++) {
		json_out_init(&o, buf, sizeof(buf), NULL, NULL);
		o.pretty = pretty;
		json_obj_begin(&o, NULL);
		json_arr_begin(&o, "s");
		for (i = 0; i < n; i++)
			json_str(&o, NULL, strs[i]);
		json_arr_end(&o);
		json_i64(&o, "k\xFF", -12);
		json_obj_end(&o);
		T_EQ_INT(json_out_finish(&o), 0);
		T_EQ_INT(parse_n(buf, o.len), (int)n + 5);
		T_EQ_INT(toks[0].size, 2);
		T_EQ_INT(toks[2].size, n);
		for (i = 0; i < n; i++) {
			T_EQ_INT(json_str_decode(buf, &toks[3 + i], out, sizeof(out)),
				 strlen(want[i]));
			T_EQ_STR(out, want[i]);
		}
		T_EQ_INT(json_str_decode(buf, &toks[3 + n], out, sizeof(out)), 4);
		T_EQ_STR(out, "k\xEF\xBF\xBD");
		T_EQ_INT(toks[4 + n].type, JSON_NUMBER);
		T_EQ_INT(toks[4 + n].end - toks[4 + n].start, 3);
	}
}

int main(void)
{
	T_RUN(test_scalars);
	T_RUN(test_whitespace_around);
	T_RUN(test_empty_containers);
	T_RUN(test_nested_structure);
	T_RUN(test_arrays_of_arrays);
	T_RUN(test_object_walk);
	T_RUN(test_duplicate_keys);
	T_RUN(test_err_empty);
	T_RUN(test_err_syntax);
	T_RUN(test_err_trailing);
	T_RUN(test_err_string_escapes);
	T_RUN(test_valid_escapes_and_surrogates);
	T_RUN(test_utf8_valid);
	T_RUN(test_utf8_invalid);
	T_RUN(test_numbers_valid);
	T_RUN(test_numbers_invalid);
	T_RUN(test_limit_depth);
	T_RUN(test_limit_deep_iterative);
	T_RUN(test_limit_tokens);
	T_RUN(test_limit_size);
	T_RUN(test_str_decode_escapes);
	T_RUN(test_str_decode_unicode);
	T_RUN(test_str_decode_raw_utf8);
	T_RUN(test_str_decode_nul_rejected);
	T_RUN(test_str_decode_buffer);
	T_RUN(test_str_decode_wrong_token);
	T_RUN(test_position);
	T_RUN(test_strerror);
	T_RUN(test_emit_compact);
	T_RUN(test_emit_pretty);
	T_RUN(test_emit_scalar_top_level);
	T_RUN(test_emit_escaping);
	T_RUN(test_emit_invalid_utf8);
	T_RUN(test_emit_key_escaping);
	T_RUN(test_emit_integer_limits);
	T_RUN(test_emit_sink_tiny_buffer);
	T_RUN(test_emit_sink_one_byte_buffer);
	T_RUN(test_emit_large_report);
	T_RUN(test_emit_overflow_without_sink);
	T_RUN(test_emit_exact_fit_without_sink);
	T_RUN(test_emit_sink_failure);
	T_RUN(test_emit_misuse);
	T_RUN(test_emit_max_depth);
	T_RUN(test_emit_prefix_raw);
	T_RUN(test_emit_prefix_limits);
	T_RUN(test_emit_raw_errors);
	T_RUN(test_fmt_u64);
	T_RUN(test_roundtrip);
	return T_DONE();
}
