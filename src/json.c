/* Bounded JSON tokenizer (RFC 8259) and streaming emitter. See json.h.
 *
 * The tokenizer is iterative: an open container's token keeps the index of
 * its parent in its `next` field until it is closed, so nesting needs no
 * stack beyond the caller's token array. Every input byte is read through a
 * bounds-checked cursor. */
#include "json.h"
#include "hex.h"

#include <string.h>

#include "cur.h"

#define JSON_MAX_OFFSET UINT32_MAX	/* token offsets are 32-bit */
#define NO_PARENT UINT32_MAX		/* stashed `next` of a top-level container */

/* Unicode limits used by UTF-8 and \u validation. */
#define UNI_MAX 0x10FFFFu
#define SURR_HI_MIN 0xD800u
#define SURR_HI_MAX 0xDBFFu
#define SURR_LO_MIN 0xDC00u
#define SURR_LO_MAX 0xDFFFu
#define SURR_BASE 0x10000u
#define UTF8_MIN2 0x80u			/* smallest code point needing 2 bytes */
#define UTF8_MIN3 0x800u
#define UTF8_MIN4 0x10000u
#define UTF8_MAX_BYTES 4
#define CTRL_LIMIT 0x20			/* bytes below must be escaped */
#define UESC_HEX_DIGITS 4
#define UESC_LEN 6			/* \u00XX as the emitter writes it */

/* ---- shared helpers ---- */

/* Next byte without consuming it, or -1 at the end. */
static int peek(const struct cur *c)
{
	const uint8_t *p = cur_peek(c, 1);

	return p ? *p : -1;
}

static int is_ws(int b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static int is_digit(int b)
{
	return b >= '0' && b <= '9';
}

static void skip_ws(struct cur *c)
{
	while (is_ws(peek(c)))
		cur_skip(c, 1);
}

static int is_surrogate(uint32_t cp)
{
	return cp >= SURR_HI_MIN && cp <= SURR_LO_MAX;
}

/* Decodes one well-formed UTF-8 sequence (no overlongs, no surrogates, at
 * most U+10FFFF) and consumes it; -1 leaves the cursor where it was. */
static int utf8_decode(struct cur *c, uint32_t *cp)
{
	const uint8_t *s;
	int b = peek(c);
	uint32_t v, min;
	size_t n, i;

	if (b < 0)
		return -1;
	if (b < 0x80) {
		n = 1, v = (uint32_t)b, min = 0;
	} else if ((b & 0xE0) == 0xC0) {
		n = 2, v = (uint32_t)b & 0x1F, min = UTF8_MIN2;
	} else if ((b & 0xF0) == 0xE0) {
		n = 3, v = (uint32_t)b & 0x0F, min = UTF8_MIN3;
	} else if ((b & 0xF8) == 0xF0) {
		n = 4, v = (uint32_t)b & 0x07, min = UTF8_MIN4;
	} else {
		return -1;
	}
	s = cur_peek(c, n);
	if (!s)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > UNI_MAX || is_surrogate(v))
		return -1;
	cur_skip(c, n);
	*cp = v;
	return 0;
}

/* Writes cp as UTF-8 into out (UTF8_MAX_BYTES long); returns the length. */
static size_t utf8_encode(uint32_t cp, char *out)
{
	static const uint8_t lead[UTF8_MAX_BYTES + 1] = { 0, 0, 0xC0, 0xE0, 0xF0 };
	size_t n = cp < UTF8_MIN2 ? 1 : cp < UTF8_MIN3 ? 2 : cp < UTF8_MIN4 ? 3 : 4;
	size_t i;

	if (n == 1) {
		out[0] = (char)cp;
		return 1;
	}
	for (i = n - 1; i > 0; i--, cp >>= 6)
		out[i] = (char)(0x80 | (cp & 0x3F));
	out[0] = (char)(lead[n] | cp);
	return n;
}

/* Short escapes: "\\" + esc_name[i] stands for esc_byte[i]. */
static const char esc_name[] = "\"\\/bfnrt";
static const char esc_byte[] = "\"\\/\b\f\n\r\t";
#define ESC_COUNT (sizeof(esc_name) - 1)

/* Reads "XXXX" after "\u". */
static int read_hex4(struct cur *c, uint32_t *v)
{
	int i, h;

	*v = 0;
	for (i = 0; i < UESC_HEX_DIGITS; i++) {
		h = hex_digit(peek(c));
		if (h < 0)
			return -1;
		*v = (*v << 4) | (uint32_t)h;
		cur_skip(c, 1);
	}
	return 0;
}

/* Reads one escape starting at the backslash; a surrogate pair counts as one
 * escape and yields the combined code point. */
static int read_escape(struct cur *c, uint32_t *cp)
{
	const char *hit;
	uint32_t lo;
	int b;

	cur_skip(c, 1);
	b = peek(c);
	if (b < 0)
		return -1;
	cur_skip(c, 1);
	if (b != 'u') {
		hit = memchr(esc_name, b, ESC_COUNT);
		if (!hit)
			return -1;
		*cp = (uint8_t)esc_byte[hit - esc_name];
		return 0;
	}
	if (read_hex4(c, cp) < 0)
		return -1;
	if (*cp >= SURR_LO_MIN && *cp <= SURR_LO_MAX)
		return -1;	/* low surrogate without a high one */
	if (*cp < SURR_HI_MIN || *cp > SURR_HI_MAX)
		return 0;
	if (peek(c) != '\\')
		return -1;
	cur_skip(c, 1);
	if (peek(c) != 'u')
		return -1;
	cur_skip(c, 1);
	if (read_hex4(c, &lo) < 0 || lo < SURR_LO_MIN || lo > SURR_LO_MAX)
		return -1;
	*cp = SURR_BASE + ((*cp - SURR_HI_MIN) << 10) + (lo - SURR_LO_MIN);
	return 0;
}

/* Decoded string output; p == NULL only validates. Keeps room for a NUL. */
struct sout {
	char *p;
	size_t cap, len;
};

static int sout_put(struct sout *o, const void *s, size_t n)
{
	if (!o->p)
		return 0;
	if (o->len >= o->cap || n >= o->cap - o->len)
		return -1;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	return 0;
}

/* Validates (and with o->p, decodes) string content from c up to an
 * unescaped '"' or the end of c, where it stops. On error *bad is the offset
 * of the offending byte or escape. */
static int scan_str(struct cur *c, struct sout *o, int reject_nul, size_t *bad)
{
	char enc[UTF8_MAX_BYTES];
	uint32_t cp;
	size_t at;
	int b;

	for (;;) {
		at = c->off;
		*bad = at;
		b = peek(c);
		if (b < 0 || b == '"')
			return JSON_OK;
		if (b == '\\') {
			if (read_escape(c, &cp) < 0 || (reject_nul && cp == 0))
				return JSON_ERR_STRING;
			if (sout_put(o, enc, utf8_encode(cp, enc)) < 0)
				return JSON_ERR_BUFFER;
		} else if (b < CTRL_LIMIT || utf8_decode(c, &cp) < 0) {
			return JSON_ERR_STRING;
		} else if (sout_put(o, c->p + at, c->off - at) < 0) {
			return JSON_ERR_BUFFER;
		}
	}
}

/* ---- tokenizer ---- */

struct parser {
	struct cur c;
	struct json_tok *toks;
	unsigned max_toks, ntok;
	size_t bad;		/* offset of the error */
};

/* Appends a token starting at `start`; returns its index or -1. */
static int64_t new_tok(struct parser *p, uint8_t type, size_t start)
{
	struct json_tok *t;

	if (p->ntok >= p->max_toks) {
		p->bad = start;
		return -1;
	}
	t = &p->toks[p->ntok];
	t->type = type;
	t->start = t->end = (uint32_t)start;
	t->size = 0;
	t->next = p->ntok + 1;
	return p->ntok++;
}

static int parse_string(struct parser *p)
{
	size_t open = p->c.off;
	struct sout none = { NULL, 0, 0 };
	int64_t i;
	int rc;

	if (peek(&p->c) != '"') {
		p->bad = open;
		return JSON_ERR_SYNTAX;
	}
	i = new_tok(p, JSON_STRING, open + 1);
	if (i < 0) {
		p->bad = open;
		return JSON_ERR_TOKENS;
	}
	cur_skip(&p->c, 1);
	rc = scan_str(&p->c, &none, 0, &p->bad);
	if (rc < 0)
		return rc;
	if (peek(&p->c) != '"')
		return JSON_ERR_SYNTAX;	/* end of input; bad is already there */
	p->toks[i].end = (uint32_t)p->c.off;
	cur_skip(&p->c, 1);
	return JSON_OK;
}

static void skip_digits(struct cur *c)
{
	while (is_digit(peek(c)))
		cur_skip(c, 1);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and not followed by a
 * character that could continue a number (catches "01", "1.2.3"). */
static int parse_number(struct parser *p)
{
	struct cur *c = &p->c;
	size_t start = c->off;
	int64_t i;
	int b;

	if (peek(c) == '-')
		cur_skip(c, 1);
	b = peek(c);
	if (b == '0')
		cur_skip(c, 1);
	else if (is_digit(b))
		skip_digits(c);
	else
		goto bad;
	if (peek(c) == '.') {
		cur_skip(c, 1);
		if (!is_digit(peek(c)))
			goto bad;
		skip_digits(c);
	}
	b = peek(c);
	if (b == 'e' || b == 'E') {
		cur_skip(c, 1);
		b = peek(c);
		if (b == '+' || b == '-')
			cur_skip(c, 1);
		if (!is_digit(peek(c)))
			goto bad;
		skip_digits(c);
	}
	b = peek(c);
	if (is_digit(b) || b == '.' || b == 'e' || b == 'E' || b == '+' || b == '-')
		goto bad;
	i = new_tok(p, JSON_NUMBER, start);
	if (i < 0)
		return JSON_ERR_TOKENS;
	p->toks[i].end = (uint32_t)c->off;
	return JSON_OK;
bad:
	p->bad = c->off;
	return JSON_ERR_NUMBER;
}

static int parse_literal(struct parser *p, const char *word, uint8_t type)
{
	size_t start = p->c.off;
	int64_t i;

	for (; *word; word++) {
		if (peek(&p->c) != (uint8_t)*word) {
			p->bad = p->c.off;
			return JSON_ERR_SYNTAX;
		}
		cur_skip(&p->c, 1);
	}
	i = new_tok(p, type, start);
	if (i < 0)
		return JSON_ERR_TOKENS;
	p->toks[i].end = (uint32_t)p->c.off;
	return JSON_OK;
}

#define OPENED 1	/* parse_value result: a container was opened */

/* Parses a value at the cursor (no leading whitespace). Containers are only
 * opened here: the token becomes the new *parent. */
static int parse_value(struct parser *p, uint32_t *parent, unsigned *depth,
		       unsigned max_depth)
{
	size_t start = p->c.off;
	int b = peek(&p->c);
	int64_t i;

	switch (b) {
	case '{':
	case '[':
		if (*depth >= max_depth) {
			p->bad = start;
			return JSON_ERR_DEPTH;
		}
		i = new_tok(p, b == '{' ? JSON_OBJECT : JSON_ARRAY, start);
		if (i < 0)
			return JSON_ERR_TOKENS;
		p->toks[i].next = *parent;	/* stash until closed */
		*parent = (uint32_t)i;
		(*depth)++;
		cur_skip(&p->c, 1);
		return OPENED;
	case '"':
		return parse_string(p);
	case 't':
		return parse_literal(p, "true", JSON_TRUE);
	case 'f':
		return parse_literal(p, "false", JSON_FALSE);
	case 'n':
		return parse_literal(p, "null", JSON_NULL);
	case '-': case '+': case '.':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return parse_number(p);	/* '+' and '.' fail there, as numbers */
	default:
		p->bad = start;
		return JSON_ERR_SYNTAX;
	}
}

/* Counts a new member of parent; inside an object, parses `"key" :`. */
static int begin_member(struct parser *p, uint32_t parent)
{
	int rc;

	p->toks[parent].size++;
	if (p->toks[parent].type != JSON_OBJECT)
		return JSON_OK;
	rc = parse_string(p);
	if (rc < 0)
		return rc;
	skip_ws(&p->c);
	if (peek(&p->c) != ':') {
		p->bad = p->c.off;
		return JSON_ERR_SYNTAX;
	}
	cur_skip(&p->c, 1);
	skip_ws(&p->c);
	return JSON_OK;
}

static int closer(const struct parser *p, uint32_t parent)
{
	return p->toks[parent].type == JSON_OBJECT ? '}' : ']';
}

static int parse_doc(struct parser *p, unsigned max_depth)
{
	uint32_t parent = NO_PARENT, t;
	unsigned depth = 0;
	int rc, b;

	skip_ws(&p->c);
	if (cur_left(&p->c) == 0) {
		p->bad = p->c.off;
		return JSON_ERR_EMPTY;
	}
	for (;;) {
		/* A value is expected here. */
		if (parent != NO_PARENT && (rc = begin_member(p, parent)) < 0)
			return rc;
		rc = parse_value(p, &parent, &depth, max_depth);
		if (rc < 0)
			return rc;
		skip_ws(&p->c);
		if (rc == OPENED && peek(&p->c) != closer(p, parent))
			continue;	/* its first member follows */
		/* After a value (or "[" of an empty container): close
		 * containers until a ',' asks for the next member. */
		for (;;) {
			if (parent == NO_PARENT) {
				if (cur_left(&p->c) == 0)
					return JSON_OK;
				p->bad = p->c.off;
				return JSON_ERR_TRAILING;
			}
			b = peek(&p->c);
			if (b == ',') {
				cur_skip(&p->c, 1);
				skip_ws(&p->c);
				break;
			}
			if (b != closer(p, parent)) {
				p->bad = p->c.off;
				return JSON_ERR_SYNTAX;
			}
			cur_skip(&p->c, 1);
			t = parent;
			parent = p->toks[t].next;
			p->toks[t].next = p->ntok;
			p->toks[t].end = (uint32_t)p->c.off;
			depth--;
			skip_ws(&p->c);
		}
	}
}

int json_parse(const char *buf, size_t len, const struct json_limits *lim,
	       struct json_tok *toks, unsigned max_toks, struct json_pos *err_pos)
{
	struct parser p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.toks = toks;
	p.max_toks = toks ? max_toks : 0;
	if (len > lim->max_input || len > JSON_MAX_OFFSET) {
		p.bad = lim->max_input < JSON_MAX_OFFSET ? lim->max_input
							  : JSON_MAX_OFFSET;
		rc = JSON_ERR_SIZE;
	} else {
		cur_init(&p.c, (const uint8_t *)buf, len);
		rc = parse_doc(&p, lim->max_depth);
	}
	if (rc == JSON_OK)
		return (int)p.ntok;
	if (err_pos)
		json_position(buf, len, p.bad, err_pos);
	return rc;
}

const char *json_strerror(int err)
{
	static const char *const msg[] = {	/* indexed by -err */
		"ok", "too many values", "nested too deeply", "input too large",
		"syntax error", "invalid string", "invalid number",
		"data after the value", "no value", "string too long",
	};

	if (err > 0 || err < JSON_ERR_BUFFER)
		return "unknown error";
	return msg[-err];
}

void json_position(const char *buf, size_t len, size_t off, struct json_pos *pos)
{
	struct cur c;
	size_t line_start = 0;
	unsigned line = 1;

	if (off > len)
		off = len;
	cur_init(&c, (const uint8_t *)buf, off);
	while (cur_left(&c) > 0) {
		if (peek(&c) == '\n') {
			line++;
			line_start = c.off + 1;
		}
		cur_skip(&c, 1);
	}
	pos->off = off;
	pos->line = line;
	pos->col = (unsigned)(off - line_start + 1);
}

int json_str_decode(const char *buf, const struct json_tok *t, char *out, size_t outsz)
{
	struct sout o = { out, outsz, 0 };
	struct cur c;
	size_t bad;
	int rc;

	if (!out || outsz == 0)
		return JSON_ERR_BUFFER;
	out[0] = '\0';
	if (t->type != JSON_STRING || t->end < t->start)
		return JSON_ERR_STRING;
	if (t->end - t->start >= (uint32_t)INT32_MAX)
		return JSON_ERR_BUFFER;	/* the length must fit the int result */
	cur_init(&c, (const uint8_t *)buf + t->start, t->end - t->start);
	rc = scan_str(&c, &o, 1, &bad);
	if (rc < 0)
		return rc;
	if (cur_left(&c) != 0)
		return JSON_ERR_STRING;	/* a raw '"' inside: not a parsed token */
	out[o.len] = '\0';
	return (int)o.len;
}

/* ---- emitter ---- */

/* Per-depth state bits in json_out.lvl. */
#define LVL_HAS_MEMBER 1
#define LVL_OBJECT 2
#define LVL_ARRAY 4

void json_out_init(struct json_out *o, char *buf, size_t cap,
		   json_sink_fn sink, void *ctx)
{
	memset(o, 0, sizeof(*o));
	o->buf = buf;
	o->cap = cap;
	o->sink = sink;
	o->ctx = ctx;
	if (!buf || cap == 0)
		o->error = JSON_OUT_ERR_OVERFLOW;
}

/* Appends n bytes, draining full buffers to the sink. */
static void out_put(struct json_out *o, const char *s, size_t n)
{
	size_t room;

	if (o->error)
		return;
	while (n > o->cap - o->len) {
		if (!o->sink) {
			o->error = JSON_OUT_ERR_OVERFLOW;
			return;
		}
		room = o->cap - o->len;
		memcpy(o->buf + o->len, s, room);
		o->len += room;
		o->total += room;
		s += room;
		n -= room;
		if (o->sink(o->ctx, o->buf, o->len) != 0) {
			o->error = JSON_OUT_ERR_SINK;
			return;
		}
		o->len = 0;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->total += n;
}

/* A newline, then two spaces per open container (depth <= JSON_OUT_MAX_DEPTH). */
static void out_newline_indent(struct json_out *o)
{
	static const char nl[] = "\n                                ";

	_Static_assert(sizeof(nl) == 2 + 2 * JSON_OUT_MAX_DEPTH, "indentation");
	out_put(o, nl, 1 + 2 * o->depth);
}

/* Writes s[0..n) as a quoted JSON string. Runs of bytes that need no
 * escaping are copied in one piece; invalid UTF-8 bytes become U+FFFD.
 * Not on a hot path: the report's records are formatted by report.c. */
static void out_string(struct json_out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	static const char replacement[] = "\xEF\xBF\xBD";
	struct cur c;
	size_t run = 0, at;
	const char *hit;
	char esc[UESC_LEN];
	uint32_t cp;
	int b;

	cur_init(&c, (const uint8_t *)s, n);
	out_put(o, "\"", 1);
	while ((b = peek(&c)) >= 0) {
		at = c.off;
		if (b >= CTRL_LIMIT && b != '"' && b != '\\' &&
		    utf8_decode(&c, &cp) == 0)
			continue;	/* part of the current run */
		out_put(o, s + run, at - run);
		hit = memchr(esc_byte, b, ESC_COUNT);	/* '/' never gets here */
		if (hit) {
			esc[0] = '\\';
			esc[1] = esc_name[hit - esc_byte];
			out_put(o, esc, 2);
		} else if (b < CTRL_LIMIT) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[b >> 4];
			esc[5] = hex[b & 0xF];
			out_put(o, esc, UESC_LEN);
		} else {
			out_put(o, replacement, sizeof(replacement) - 1);
		}
		cur_skip(&c, 1);
		run = c.off;
	}
	out_put(o, s + run, n - run);
	out_put(o, "\"", 1);
}

/* Everything before a value: checks that key matches the container, then
 * writes the comma, indentation and key. Returns -1 on (sticky) error. */
static int out_member(struct json_out *o, const char *key)
{
	uint8_t *lvl = &o->lvl[o->depth];
	int ok;

	if (o->error)
		return -1;
	if (o->depth == 0)	/* one top-level value, no key */
		ok = !key && !(*lvl & LVL_HAS_MEMBER);
	else if (*lvl & LVL_OBJECT)
		ok = key != NULL;
	else
		ok = key == NULL;
	if (!ok) {
		o->error = JSON_OUT_ERR_MISUSE;
		return -1;
	}
	if (*lvl & LVL_HAS_MEMBER)
		out_put(o, ",", 1);
	*lvl |= LVL_HAS_MEMBER;
	if (o->pretty && o->depth > 0)
		out_newline_indent(o);
	if (key) {
		out_string(o, key, strlen(key));
		out_put(o, ": ", o->pretty ? 2 : 1);
	}
	return o->error ? -1 : 0;
}

static void out_begin(struct json_out *o, const char *key, uint8_t kind,
		      char open)
{
	if (!o->error && o->depth >= JSON_OUT_MAX_DEPTH)
		o->error = JSON_OUT_ERR_MISUSE;
	if (out_member(o, key) < 0)
		return;
	out_put(o, &open, 1);
	o->depth++;
	o->lvl[o->depth] = kind;
}

static void out_end(struct json_out *o, uint8_t kind, char close)
{
	int had_members;

	if (o->error)
		return;
	if (o->depth == 0 || !(o->lvl[o->depth] & kind)) {
		o->error = JSON_OUT_ERR_MISUSE;
		return;
	}
	had_members = o->lvl[o->depth] & LVL_HAS_MEMBER;
	o->depth--;
	if (o->pretty && had_members)
		out_newline_indent(o);
	out_put(o, &close, 1);
}

void json_obj_begin(struct json_out *o, const char *key)
{
	out_begin(o, key, LVL_OBJECT, '{');
}

void json_obj_end(struct json_out *o)
{
	out_end(o, LVL_OBJECT, '}');
}

void json_arr_begin(struct json_out *o, const char *key)
{
	out_begin(o, key, LVL_ARRAY, '[');
}

void json_arr_end(struct json_out *o)
{
	out_end(o, LVL_ARRAY, ']');
}

void json_str(struct json_out *o, const char *key, const char *s)
{
	json_strn(o, key, s, s ? strlen(s) : 0);
}

void json_strn(struct json_out *o, const char *key, const char *s, size_t n)
{
	if (!s) {
		json_null(o, key);
	} else {
		out_member(o, key);
		out_string(o, s, n);	/* nothing after an error */
	}
}

void json_raw(struct json_out *o, const char *key, const char *text, size_t n)
{
	out_member(o, key);
	out_put(o, text, n);	/* nothing after an error */
}

/* "00" to "99": two digits per division. */
#define JSON_DIGITS10(t) t "0" t "1" t "2" t "3" t "4" t "5" t "6" t "7" t "8" t "9"
const char json_digits2[JSON_DIGITS2_LEN] =
	JSON_DIGITS10("0") JSON_DIGITS10("1") JSON_DIGITS10("2") JSON_DIGITS10("3")
	JSON_DIGITS10("4") JSON_DIGITS10("5") JSON_DIGITS10("6") JSON_DIGITS10("7")
	JSON_DIGITS10("8") JSON_DIGITS10("9");
#define JSON_PAIR 100

char *json_fmt_u64(char *p, uint64_t v)
{
	uint64_t x = 10;
	char *end, *d;
	unsigned n;

	/* The length first, then the digits backwards in place: digits built
	 * in a scratch buffer and copied on made the copy wait for the stores
	 * (5% of a 1M-flow run). */
	for (n = 1; n < JSON_U64_MAX && v >= x; n++)
		x *= 10;	/* wraps only when the loop ends anyway */
	end = d = p + n;
	for (; v >= JSON_PAIR; v /= JSON_PAIR) {
		d -= 2;
		memcpy(d, &json_digits2[2 * (v % JSON_PAIR)], 2);
	}
	if (v >= 10)
		memcpy(d - 2, &json_digits2[2 * v], 2);
	else
		d[-1] = (char)('0' + v);
	return end;
}

void json_u64(struct json_out *o, const char *key, uint64_t v)
{
	char num[JSON_U64_MAX];

	json_raw(o, key, num, (size_t)(json_fmt_u64(num, v) - num));
}

void json_i64(struct json_out *o, const char *key, int64_t v)
{
	char num[1 + JSON_U64_MAX], *p = num;
	uint64_t u = (uint64_t)v;

	if (v < 0) {
		*p++ = '-';
		u = 0 - u;	/* INT64_MIN too: modulo 2^64 */
	}
	json_raw(o, key, num, (size_t)(json_fmt_u64(p, u) - num));
}

void json_bool(struct json_out *o, const char *key, int v)
{
	json_raw(o, key, v ? "true" : "false",
		 v ? sizeof("true") - 1 : sizeof("false") - 1);
}

void json_null(struct json_out *o, const char *key)
{
	json_raw(o, key, "null", sizeof("null") - 1);
}

int json_prefix(const struct json_out *o, unsigned rel, int first,
		const char *key, char *buf, size_t sz)
{
	/* The emitter itself writes it, into buf. */
	struct json_out s = { .buf = buf, .cap = sz, .pretty = o->pretty,
			      .depth = o->depth + rel };

	if (rel > JSON_OUT_MAX_DEPTH - o->depth)
		return -1;
	s.lvl[s.depth] = (uint8_t)((key ? LVL_OBJECT : LVL_ARRAY) |
				   (first ? 0 : LVL_HAS_MEMBER));
	return out_member(&s, key) < 0 ? -1 : (int)s.len;
}

int json_out_finish(struct json_out *o)
{
	if (!o->error && (o->depth != 0 || !(o->lvl[0] & LVL_HAS_MEMBER)))
		o->error = JSON_OUT_ERR_MISUSE;
	out_put(o, "\n", 1);
	if (!o->error && o->sink && o->len > 0) {
		if (o->sink(o->ctx, o->buf, o->len) != 0)
			o->error = JSON_OUT_ERR_SINK;
		else
			o->len = 0;
	}
	return o->error ? -1 : 0;
}
