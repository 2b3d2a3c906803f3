/* HTTP/1.1: response parser, request writer and the non-blocking client
 * state machine (see http.h). */
#include "http.h"
#include "addr.h"
#include "hex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "b64.h"
#include "cur.h"
#include "log.h"
#include "tls.h"

#ifndef D42_VERSION
#define D42_VERSION "dev"
#endif

/* ---------------------------------------------------------------- parser */

enum pstate {
	PS_HEAD,		/* status line and header lines */
	PS_BODY_LEN,		/* Content-Length bytes */
	PS_BODY_CLOSE,		/* until the peer closes */
	PS_CHUNK_SIZE,		/* hex digits of a chunk-size line */
	PS_CHUNK_WS,		/* blanks after the digits */
	PS_CHUNK_EXT,		/* ";ext..." skipped */
	PS_CHUNK_LF,		/* CR seen on the size line */
	PS_CHUNK_DATA,
	PS_CHUNK_DATA_CR,	/* CRLF after the chunk data */
	PS_CHUNK_DATA_LF,
	PS_TRAILER,		/* trailer lines, skipped */
	PS_DONE,
	PS_ERROR
};

struct http_parser {
	enum pstate st;
	int err;		/* sticky once st == PS_ERROR */
	unsigned flags, interim;
	size_t hlen;		/* bytes in hbuf */
	size_t line_start;	/* first byte of the line being received */
	int saw_status;
	uint64_t remaining;	/* of Content-Length, or of the chunk */
	uint64_t chunk_size;
	size_t line_len;	/* chunk-size line / trailer line so far */
	size_t trailer_bytes;
	uint8_t *body;
	size_t body_cap, body_len;
	struct http_response resp;
	char hbuf[HTTP_MAX_HEADER_BYTES + 1];
};

static int is_tchar(uint8_t ch)
{
	if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= 'A' && ch <= 'Z'))
		return 1;
	return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Field values and reason phrases: VCHAR, obs-text, SP, HTAB. */
static int is_vchar_ws(uint8_t ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static int is_ows(uint8_t ch)
{
	return ch == ' ' || ch == '\t';
}

struct http_parser *http_parser_new(size_t max_body)
{
	struct http_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->body = malloc(max_body + 1);
	if (!p->body) {
		free(p);
		return NULL;
	}
	p->body_cap = max_body;
	http_parser_reset(p, 0);
	return p;
}

void http_parser_free(struct http_parser *p)
{
	if (!p)
		return;
	free(p->body);
	free(p);
}

static void reset_head(struct http_parser *p)
{
	p->hlen = 0;
	p->line_start = 0;
	p->saw_status = 0;
	p->hbuf[0] = '\0';
	memset(&p->resp, 0, sizeof(p->resp));
	p->resp.reason = "";
	p->resp.body = p->body;
}

void http_parser_reset(struct http_parser *p, unsigned flags)
{
	p->st = PS_HEAD;
	p->err = 0;
	p->flags = flags;
	p->interim = 0;
	p->remaining = 0;
	p->chunk_size = 0;
	p->line_len = 0;
	p->trailer_bytes = 0;
	p->body_len = 0;
	p->body[0] = '\0';
	reset_head(p);
}

static int fail(struct http_parser *p, int err)
{
	p->st = PS_ERROR;
	p->err = err;
	return err;
}

/* Strict decimal: digits only, no sign or blanks, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* "HTTP/1.1 200 OK": line is NUL-terminated in hbuf, len bytes. */
static int parse_status_line(struct http_parser *p, char *line, size_t len)
{
	struct cur c;
	const uint8_t *v;
	uint8_t ch;
	int i, status = 0;

	cur_init(&c, (const uint8_t *)line, len);
	v = cur_getptr(&c, 8);
	if (!v || memcmp(v, "HTTP/", 5) != 0)
		return HTTP_ERR_STATUS_LINE;
	if (v[5] != '1' || v[6] != '.' || (v[7] != '0' && v[7] != '1'))
		return HTTP_ERR_VERSION;
	p->resp.minor = v[7] - '0';
	if (cur_u8(&c, &ch) < 0 || ch != ' ')
		return HTTP_ERR_STATUS_LINE;
	for (i = 0; i < 3; i++) {
		if (cur_u8(&c, &ch) < 0 || ch < '0' || ch > '9')
			return HTTP_ERR_STATUS;
		status = status * 10 + (ch - '0');
	}
	if (status < 100 || status > 599)
		return HTTP_ERR_STATUS;
	p->resp.status = status;
	/* "HTTP/1.1 200" without a reason is common enough to accept. */
	if (cur_left(&c) == 0) {
		p->resp.reason = line + len;
		return 0;
	}
	if (cur_u8(&c, &ch) < 0 || ch != ' ')
		return HTTP_ERR_STATUS;
	p->resp.reason = line + c.off;
	while (cur_u8(&c, &ch) == 0)
		if (!is_vchar_ws(ch))
			return HTTP_ERR_STATUS_LINE;
	return 0;
}

static int parse_header_line(struct http_parser *p, char *line, size_t len)
{
	struct cur c;
	uint8_t ch = 0;	/* len > 0 here, but the compiler cannot know */
	size_t name_end, vstart, vend;

	cur_init(&c, (const uint8_t *)line, len);
	if (is_ows((uint8_t)line[0]))
		return HTTP_ERR_FOLDING;
	while (cur_u8(&c, &ch) == 0 && ch != ':')
		if (!is_tchar(ch))
			return HTTP_ERR_HEADER;
	if (ch != ':' || c.off == 1)
		return HTTP_ERR_HEADER;		/* no colon, or empty name */
	name_end = c.off - 1;
	while (cur_peek(&c, 1) && is_ows(*cur_peek(&c, 1)))
		(void)cur_skip(&c, 1);
	vstart = vend = c.off;
	while (cur_u8(&c, &ch) == 0) {
		if (!is_vchar_ws(ch))
			return HTTP_ERR_HEADER;
		if (!is_ows(ch))
			vend = c.off;
	}
	if (p->resp.nheaders >= HTTP_MAX_HEADERS)
		return HTTP_ERR_HEADER_COUNT;
	line[name_end] = '\0';
	line[vend] = '\0';
	p->resp.name[p->resp.nheaders] = line;
	p->resp.value[p->resp.nheaders] = line + vstart;
	p->resp.nheaders++;
	return 0;
}

/* Comma-separated tokens of a Connection header. */
static void parse_connection(const char *v, int *close_, int *keep)
{
	while (*v) {
		size_t n;

		while (*v == ',' || is_ows((uint8_t)*v))
			v++;
		n = strcspn(v, ", \t");
		if (n == 5 && strncasecmp(v, "close", 5) == 0)
			*close_ = 1;
		else if (n == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			*keep = 1;
		v += n;
	}
}

/* Blank line seen: decide framing. */
static int end_of_head(struct http_parser *p)
{
	struct http_response *r = &p->resp;
	int have_cl = 0, te = 0, conn_close = 0, conn_keep = 0;
	uint64_t cl = 0, v;
	unsigned i;

	for (i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->name[i], "content-length") == 0) {
			if (parse_u64(r->value[i], &v) < 0)
				return HTTP_ERR_CONTENT_LENGTH;
			if (have_cl && v != cl)
				return HTTP_ERR_CL_CONFLICT;
			have_cl = 1;
			cl = v;
		} else if (strcasecmp(r->name[i], "transfer-encoding") == 0) {
			/* Only a single, plain "chunked" is supported. */
			if (te || strcasecmp(r->value[i], "chunked") != 0)
				return HTTP_ERR_TRANSFER_ENCODING;
			te = 1;
		} else if (strcasecmp(r->name[i], "connection") == 0) {
			parse_connection(r->value[i], &conn_close, &conn_keep);
		}
	}
	if (have_cl && te)
		return HTTP_ERR_CL_AND_TE;
	if (te && r->minor == 0)
		return HTTP_ERR_TRANSFER_ENCODING;	/* RFC 9112 6.1 */

	if (r->status < 200) {
		/* 101 would switch protocols, which we never ask for. */
		if (r->status == 101 || ++p->interim > HTTP_MAX_INTERIM)
			return HTTP_ERR_INTERIM;
		reset_head(p);
		return 0;
	}
	r->keep_alive = r->minor == 1 ? !conn_close : (conn_keep && !conn_close);
	if ((p->flags & HTTP_PF_HEAD) || r->status == 204 || r->status == 304 ||
	    ((p->flags & HTTP_PF_CONNECT) && r->status < 300)) {
		p->st = PS_DONE;
	} else if (te) {
		p->st = PS_CHUNK_SIZE;
		p->chunk_size = 0;
		p->line_len = 0;
	} else if (have_cl) {
		if (cl > p->body_cap)
			return HTTP_ERR_BODY_TOO_LARGE;
		p->remaining = cl;
		p->st = cl ? PS_BODY_LEN : PS_DONE;
	} else {
		p->st = PS_BODY_CLOSE;
		r->keep_alive = 0;
	}
	return 0;
}

/* A complete line is hbuf[line_start, hlen) ending in LF. */
static int head_line(struct http_parser *p)
{
	char *line = p->hbuf + p->line_start;
	size_t len = p->hlen - p->line_start - 1;	/* without LF */
	int r;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	if (!p->saw_status) {
		r = parse_status_line(p, line, len);
		p->saw_status = 1;
	} else if (len == 0) {
		r = end_of_head(p);
	} else {
		r = parse_header_line(p, line, len);
	}
	p->line_start = p->hlen;
	return r;
}

static void store_body(struct http_parser *p, const uint8_t *b, size_t n)
{
	memcpy(p->body + p->body_len, b, n);
	p->body_len += n;
}

static int feed_head(struct http_parser *p, struct cur *c)
{
	size_t left = cur_left(c), n;
	const uint8_t *b = cur_peek(c, left), *lf;

	lf = memchr(b, '\n', left);
	n = lf ? (size_t)(lf - b) + 1 : left;
	if (n > HTTP_MAX_HEADER_BYTES - p->hlen)
		return HTTP_ERR_HEADER_BYTES;
	memcpy(p->hbuf + p->hlen, b, n);
	p->hlen += n;
	(void)cur_skip(c, n);
	return lf ? head_line(p) : 0;
}

static int feed_chunk_byte(struct http_parser *p, uint8_t ch)
{
	int d;

	if (++p->line_len > HTTP_MAX_CHUNK_LINE)
		return HTTP_ERR_CHUNK_SIZE;
	switch (p->st) {
	case PS_CHUNK_SIZE:
		d = hex_digit(ch);
		if (d >= 0) {
			if (p->chunk_size > (UINT64_MAX >> 4))
				return HTTP_ERR_CHUNK_SIZE;
			p->chunk_size = p->chunk_size << 4 | (uint64_t)d;
			return 0;
		}
		if (p->line_len == 1)
			return HTTP_ERR_CHUNK_SIZE;	/* no digit */
		if (is_ows(ch)) {
			p->st = PS_CHUNK_WS;
			return 0;
		}
		/* fall through: ';', CR, LF are handled like after blanks */
		/* FALLTHROUGH */
	case PS_CHUNK_WS:
		if (is_ows(ch))
			return 0;
		if (ch == ';') {
			p->st = PS_CHUNK_EXT;
			return 0;
		}
		break;
	case PS_CHUNK_EXT:
		if (ch == '\t' || (ch >= 0x20 && ch != 0x7f) )
			return 0;
		break;
	case PS_CHUNK_LF:
		if (ch != '\n')
			return HTTP_ERR_CHUNK_SIZE;
		goto line_done;
	default:
		return HTTP_ERR_CHUNK_SIZE;
	}
	if (ch == '\r') {
		p->st = PS_CHUNK_LF;
		return 0;
	}
	if (ch != '\n')
		return HTTP_ERR_CHUNK_SIZE;
line_done:
	p->line_len = 0;
	if (p->chunk_size == 0) {
		p->st = PS_TRAILER;
		return 0;
	}
	if (p->chunk_size > p->body_cap - p->body_len)
		return HTTP_ERR_BODY_TOO_LARGE;
	p->remaining = p->chunk_size;
	p->st = PS_CHUNK_DATA;
	return 0;
}

static int feed_trailer_byte(struct http_parser *p, uint8_t ch)
{
	if (++p->trailer_bytes > HTTP_MAX_HEADER_BYTES)
		return HTTP_ERR_TRAILER;
	if (ch == '\n') {
		if (p->line_len == 0)
			p->st = PS_DONE;
		p->line_len = 0;
	} else if (ch != '\r') {
		if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
			return HTTP_ERR_TRAILER;
		p->line_len++;
	}
	return 0;
}

int http_parser_feed(struct http_parser *p, const uint8_t *buf, size_t len,
		     size_t *used)
{
	struct cur c;
	uint8_t ch = 0;
	int r = 0;

	cur_init(&c, buf, len);
	while (cur_left(&c) > 0 && p->st != PS_DONE && p->st != PS_ERROR) {
		size_t n;
		const uint8_t *b;

		switch (p->st) {
		case PS_HEAD:
			r = feed_head(p, &c);
			break;
		case PS_BODY_LEN:
		case PS_CHUNK_DATA:
			n = cur_left(&c);
			if (n > p->remaining)
				n = (size_t)p->remaining;
			b = cur_getptr(&c, n);
			store_body(p, b, n);
			p->remaining -= n;
			if (p->remaining == 0)
				p->st = p->st == PS_BODY_LEN ? PS_DONE : PS_CHUNK_DATA_CR;
			break;
		case PS_BODY_CLOSE:
			n = cur_left(&c);
			if (n > p->body_cap - p->body_len) {
				r = HTTP_ERR_BODY_TOO_LARGE;
				break;
			}
			store_body(p, cur_getptr(&c, n), n);
			break;
		case PS_CHUNK_DATA_CR:
		case PS_CHUNK_DATA_LF:
			(void)cur_u8(&c, &ch);
			if (ch == '\r' && p->st == PS_CHUNK_DATA_CR)
				p->st = PS_CHUNK_DATA_LF;
			else if (ch == '\n')
				p->st = PS_CHUNK_SIZE;
			else
				r = HTTP_ERR_CHUNK;
			p->chunk_size = 0;
			p->line_len = 0;
			break;
		case PS_TRAILER:
			(void)cur_u8(&c, &ch);
			r = feed_trailer_byte(p, ch);
			break;
		default:	/* chunk-size line */
			(void)cur_u8(&c, &ch);
			r = feed_chunk_byte(p, ch);
			break;
		}
		if (r < 0) {
			*used = c.off;
			return fail(p, r);
		}
	}
	*used = c.off;
	if (p->st == PS_ERROR)
		return p->err;
	if (p->st != PS_DONE)
		return HTTP_PARSE_MORE;
	p->body[p->body_len] = '\0';
	p->resp.body = p->body;
	p->resp.body_len = p->body_len;
	return HTTP_PARSE_DONE;
}

int http_parser_eof(struct http_parser *p, int clean)
{
	if (p->st == PS_ERROR)
		return p->err;
	/* A body only the close ends is whole only if the close is: a TLS
	 * connection cut without close_notify may have lost its end (RFC
	 * 9112, 9.8). */
	if (p->st == PS_BODY_CLOSE && !clean)
		return fail(p, HTTP_ERR_TRUNCATED);
	if (p->st == PS_BODY_CLOSE) {
		p->st = PS_DONE;
		p->body[p->body_len] = '\0';
		p->resp.body = p->body;
		p->resp.body_len = p->body_len;
	}
	if (p->st == PS_DONE)
		return HTTP_PARSE_DONE;
	if (p->st == PS_HEAD && p->hlen == 0 && p->interim == 0)
		return fail(p, HTTP_ERR_EMPTY);
	return fail(p, HTTP_ERR_TRUNCATED);
}

const struct http_response *http_parser_response(const struct http_parser *p)
{
	return &p->resp;
}

const char *http_response_header(const struct http_response *r, const char *name)
{
	unsigned i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->name[i], name) == 0)
			return r->value[i];
	return NULL;
}

const char *http_strerror(int err)
{
	switch (err) {
	case HTTP_ERR_STATUS_LINE: return "malformed status line";
	case HTTP_ERR_VERSION: return "unsupported HTTP version (need HTTP/1.0 or 1.1)";
	case HTTP_ERR_STATUS: return "invalid status code";
	case HTTP_ERR_HEADER: return "malformed header line";
	case HTTP_ERR_FOLDING: return "obsolete header line folding";
	case HTTP_ERR_HEADER_BYTES: return "response headers too large";
	case HTTP_ERR_HEADER_COUNT: return "too many response headers";
	case HTTP_ERR_CONTENT_LENGTH: return "invalid Content-Length";
	case HTTP_ERR_CL_CONFLICT: return "conflicting Content-Length headers";
	case HTTP_ERR_CL_AND_TE: return "both Content-Length and Transfer-Encoding";
	case HTTP_ERR_TRANSFER_ENCODING: return "unsupported Transfer-Encoding";
	case HTTP_ERR_CHUNK_SIZE: return "invalid chunk size line";
	case HTTP_ERR_CHUNK: return "missing CRLF after chunk data";
	case HTTP_ERR_TRAILER: return "invalid or too large trailer";
	case HTTP_ERR_BODY_TOO_LARGE: return "response body too large";
	case HTTP_ERR_TRUNCATED: return "connection closed in the middle of the response";
	case HTTP_ERR_EMPTY: return "connection closed without a response";
	case HTTP_ERR_INTERIM: return "unexpected 1xx responses";
	default: return "HTTP parse error";
	}
}

/* -------------------------------------------------------- request writer */

static int valid_chars(const char *s, int allow_space)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch >= 0x7f || (ch == ' ' && !allow_space))
			return 0;
	}
	return 1;
}

static int method_has_body(const char *m)
{
	return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 &&
	       strcmp(m, "DELETE") != 0 && strcmp(m, "OPTIONS") != 0;
}

int http_format_request(char *out, size_t outsz, const struct url *u,
			const char *auth_b64, const struct http_request *req)
{
	char host[URL_MAX_HOST + 16];
	size_t i;
	int n;

	if (!req->method || !*req->method || !req->path || req->path[0] != '/' ||
	    !valid_chars(req->path, 0) ||
	    (req->content_type && !valid_chars(req->content_type, 1)) ||
	    url_authority(u, 0, host, sizeof(host)) < 0)
		return -1;
	for (i = 0; req->method[i]; i++)
		if (req->method[i] < 'A' || req->method[i] > 'Z')
			return -1;
	n = snprintf(out, outsz,
		     "%s %s%s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "User-Agent: d42pcap/" D42_VERSION "\r\n"
		     "%s%s%s"
		     "Accept: application/json\r\n"
		     "%s%s%s",
		     req->method, u->path, req->path, host,
		     auth_b64 ? "Authorization: Basic " : "",
		     auth_b64 ? auth_b64 : "", auth_b64 ? "\r\n" : "",
		     req->content_type ? "Content-Type: " : "",
		     req->content_type ? req->content_type : "",
		     req->content_type ? "\r\n" : "");
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	if (req->body_len > 0 || method_has_body(req->method)) {
		int m = snprintf(out + n, outsz - (size_t)n,
				 "Content-Length: %llu\r\n",
				 (unsigned long long)req->body_len);

		if (m < 0 || (size_t)m >= outsz - (size_t)n)
			return -1;
		n += m;
	}
	if ((size_t)n + 2 >= outsz)
		return -1;
	memcpy(out + n, "\r\n", 3);
	return n + 2;
}

/* ---------------------------------------------------------------- client */

#define HTTP_IO_BUF         16384	/* send staging and receive buffer */
#define HTTP_MAX_ADDRS      8		/* addresses kept from one lookup */
#define HTTP_MAX_READS      64		/* reads per step before yielding */
#define HTTP_MAX_CRED       (2 * 256 + 2)	/* "user:password" */
#define HTTP_AUTH_B64       (B64_ENCODED_LEN(HTTP_MAX_CRED) + 1)
#define HTTP_PROXY_HEAD     1024	/* CONNECT request */
#define HTTP_ADDR_TEXT      64		/* printable address + port */

enum cstate {
	CS_IDLE, CS_CONNECT, CS_PROXY_SEND, CS_PROXY_RECV, CS_HANDSHAKE,
	CS_SEND, CS_RECV, CS_RESULT
};

struct http_client {
	enum cstate st;
	int too_large;		/* the last response failed HTTP_ERR_BODY_TOO_LARGE */
	struct url url, proxy;
	int use_proxy;
	char authority[URL_MAX_HOST + 16];	/* host:port for CONNECT */
	char auth[HTTP_AUTH_B64];		/* "" when no user */
	uint32_t connect_ms, handshake_ms, io_ms, total_ms;

	/* where to connect: the proxy or the server */
	const struct url *peer;
	struct sockaddr_storage addrs[HTTP_MAX_ADDRS];
	socklen_t addrlens[HTTP_MAX_ADDRS];
	unsigned naddrs, addr_idx;
	int addrs_stale;

	/* the connection */
	int fd;
	int tls_on;		/* TLS records on fd (after handshake start) */
	int reusable;		/* kept alive after the previous response */
	unsigned long nconns;
	struct tls *tls;
	const char *tls_ver;	/* of the last handshake */
	short want;		/* events the transport waits for */

	/* the request */
	struct http_request req;
	char *head;		/* HTTP_MAX_REQ_HEAD bytes */
	size_t head_len;
	uint64_t send_pos, send_total;
	uint8_t *sbuf;		/* HTTP_IO_BUF */
	size_t s_off, s_len;
	uint8_t *rbuf;		/* HTTP_IO_BUF */
	uint64_t rx_bytes;	/* response bytes received on this attempt */
	int reused, retried, again;
	int send_cut;		/* sending failed: reading what was answered */
	uint64_t deadline, total_deadline;
	const char *phase;	/* for timeout messages */
	uint32_t phase_ms;

	struct http_parser *parser;
	int result;
	int have_response;
	char err[HTTP_MAX_ERR];
};

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

/* Not getnameinfo(): with its lookup code it cost the static builds
 * several KiB, for a number. */
static void addr_text(const struct sockaddr_storage *ss, char *out, size_t n)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;
	char h[ADDR_STR_MAX];

	if (ss->ss_family == AF_INET)
		snprintf(out, n, "%s:%u", addr_fmt(4, (const uint8_t *)&s4->sin_addr, h, sizeof(h)),
			 ntohs(s4->sin_port));
	else if (ss->ss_family == AF_INET6)
		snprintf(out, n, "[%s]:%u", addr_fmt(6, s6->sin6_addr.s6_addr, h, sizeof(h)),
			 ntohs(s6->sin6_port));
	else
		snprintf(out, n, "?");
}

/* Fills the address cache for c->peer. Numeric hosts never use DNS. */
static int resolve(struct http_client *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)c->peer->port);
	r = getaddrinfo(c->peer->host, port, &hints, &res);
	if (r == EAI_NONAME) {
		hints.ai_flags = AI_NUMERICSERV;
		r = getaddrinfo(c->peer->host, port, &hints, &res);
	}
	if (r != 0) {
		snprintf(c->err, sizeof(c->err), "cannot resolve %s: %s",
			 c->peer->host, gai_strerror(r));
		c->naddrs = 0;
		return -1;
	}
	c->naddrs = 0;
	for (ai = res; ai && c->naddrs < HTTP_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->addrs[0]))
			continue;
		memcpy(&c->addrs[c->naddrs], ai->ai_addr, ai->ai_addrlen);
		c->addrlens[c->naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	c->addr_idx = 0;
	c->addrs_stale = 0;
	if (c->naddrs == 0) {
		snprintf(c->err, sizeof(c->err), "cannot resolve %s: no address",
			 c->peer->host);
		return -1;
	}
	return 0;
}

struct http_client *http_client_new(const struct http_client_cfg *cfg,
				    char *err, size_t errsz)
{
	struct http_client *c = calloc(1, sizeof(*c));
	struct tls_cfg tc;
	int r;

	if (!c) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	c->fd = -1;
	r = url_parse(cfg->url ? cfg->url : "", &c->url);
	if (r < 0) {
		snprintf(err, errsz, "device42.Host \"%.200s\": %s",
			 cfg->url ? cfg->url : "", url_strerror(r));
		goto fail;
	}
	if (cfg->proxy && cfg->proxy[0]) {
		r = url_parse(cfg->proxy, &c->proxy);
		if (r == 0 && (strncasecmp(cfg->proxy, "http://", 7) != 0 ||
			       c->proxy.path[0]))
			r = URL_ERR_SCHEME;
		if (r < 0) {
			snprintf(err, errsz, "proxy \"%.200s\": %s (expected "
				 "http://host:port)", cfg->proxy, url_strerror(r));
			goto fail;
		}
		c->use_proxy = 1;
	}
	c->peer = c->use_proxy ? &c->proxy : &c->url;
	(void)url_authority(&c->url, 1, c->authority, sizeof(c->authority));

	if (cfg->user && cfg->user[0]) {
		char cred[HTTP_MAX_CRED + 1];
		const char *pw = cfg->password ? cfg->password : "";
		int n;

		/* RFC 7617: a user-id containing ':' cannot be expressed. */
		if (strchr(cfg->user, ':')) {
			snprintf(err, errsz, "device42.User must not contain ':'");
			goto fail;
		}
		n = snprintf(cred, sizeof(cred), "%s:%s", cfg->user, pw);
		if (n < 0 || (size_t)n >= sizeof(cred) ||
		    b64_encode(cred, (size_t)n, c->auth, sizeof(c->auth)) < 0) {
			wipe(cred, sizeof(cred));
			snprintf(err, errsz, "device42.User/Password too long");
			goto fail;
		}
		wipe(cred, sizeof(cred));
		/* Basic auth is only encoded: over plain http anyone on the
		 * path reads the password. Allowed (a lab appliance), said. */
		if (c->url.scheme == URL_HTTP)
			log_warn("device42.Host is http://: device42.User's password "
				 "goes to %s unencrypted; use https://", c->authority);
	}

	c->connect_ms = cfg->connect_ms ? cfg->connect_ms : HTTP_DEF_CONNECT_MS;
	c->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : HTTP_DEF_HANDSHAKE_MS;
	c->io_ms = cfg->io_ms ? cfg->io_ms : HTTP_DEF_IO_MS;
	c->total_ms = cfg->total_ms ? cfg->total_ms : HTTP_DEF_TOTAL_MS;

	if (c->url.scheme == URL_HTTPS) {
		memset(&tc, 0, sizeof(tc));
		tc.ca_file = cfg->ca_file;
		tc.verify = cfg->verify_tls;
		if (cfg->tls_fingerprint && cfg->tls_fingerprint[0]) {
			if (tls_parse_fingerprint(cfg->tls_fingerprint, tc.pin) < 0) {
				snprintf(err, errsz, "device42.tls-fingerprint: expected "
					 "a SHA-256 as 64 hex digits (AB:CD:... accepted)");
				goto fail;
			}
			tc.pinned = 1;
		}
		c->tls = tls_new(&tc, err, errsz);
		if (!c->tls)
			goto fail;
	}
	c->head = malloc(HTTP_MAX_REQ_HEAD);
	c->sbuf = malloc(HTTP_IO_BUF);
	c->rbuf = malloc(HTTP_IO_BUF);
	c->parser = http_parser_new(cfg->max_body ? cfg->max_body : HTTP_MAX_BODY_BYTES);
	if (!c->head || !c->sbuf || !c->rbuf || !c->parser) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	/* Start-up lookup; a failure here is retried at the first request. */
	if (resolve(c) < 0) {
		log_warn("%s; will retry at the first request", c->err);
		c->addrs_stale = 1;
	}
	c->err[0] = '\0';
	return c;
fail:
	http_client_free(c);
	return NULL;
}

static void conn_close(struct http_client *c)
{
	if (c->fd >= 0) {
		if (c->tls_on)
			tls_close(c->tls);
		close(c->fd);
	}
	c->fd = -1;
	c->tls_on = 0;
	c->reusable = 0;
}

void http_client_close(struct http_client *c)
{
	if (c->st == CS_IDLE || c->st == CS_RESULT)
		conn_close(c);
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	conn_close(c);
	tls_free(c->tls);
	http_parser_free(c->parser);
	free(c->head);
	free(c->sbuf);
	free(c->rbuf);
	wipe(c->auth, sizeof(c->auth));
	free(c);
}

static void set_phase(struct http_client *c, enum cstate st, const char *phase,
		      uint32_t ms, uint64_t now)
{
	c->st = st;
	c->phase = phase;
	c->phase_ms = ms;
	c->deadline = now + ms;
}

static int finish(struct http_client *c, int result)
{
	c->st = CS_RESULT;
	c->result = result;
	c->again = 0;
	if (result == HTTP_FAILED && !c->reusable)
		conn_close(c);
	return HTTP_BUSY;	/* reported by the next step (timeout 0) */
}

static int failf(struct http_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int failf(struct http_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->reusable = 0;
	return finish(c, HTTP_FAILED);
}

/* Start a non-blocking connect to the current address. */
static int start_connect(struct http_client *c, uint64_t now)
{
	const struct sockaddr *sa;
	char at[HTTP_ADDR_TEXT];
	int one = 1, err;

	conn_close(c);
	c->want = POLLOUT;
	c->reused = 0;
	for (; c->addr_idx < c->naddrs; c->addr_idx++) {
		sa = (const struct sockaddr *)&c->addrs[c->addr_idx];
		c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			snprintf(c->err, sizeof(c->err), "socket: %s", strerror(errno));
			continue;
		}
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->nconns++;
		if (connect(c->fd, sa, c->addrlens[c->addr_idx]) == 0 ||
		    errno == EINPROGRESS) {
			set_phase(c, CS_CONNECT, "connecting", c->connect_ms, now);
			return 0;
		}
		err = errno;	/* addr_text() may change it */
		addr_text(&c->addrs[c->addr_idx], at, sizeof(at));
		snprintf(c->err, sizeof(c->err), "connect to %s%s (%s): %s",
			 c->use_proxy ? "proxy " : "", c->peer->host, at,
			 strerror(err));
		close(c->fd);
		c->fd = -1;
	}
	c->addrs_stale = 1;	/* every address failed: look up again next time */
	return -1;
}

static void begin_send(struct http_client *c, uint64_t now)
{
	c->send_pos = 0;
	c->send_total = c->head_len + c->req.body_len;
	c->s_off = c->s_len = 0;
	c->rx_bytes = 0;
	c->reusable = 0;	/* only a complete keep-alive response sets it */
	c->want = POLLOUT;
	http_parser_reset(c->parser, strcmp(c->req.method, "HEAD") == 0 ? HTTP_PF_HEAD : 0);
	set_phase(c, CS_SEND, "sending the request", c->io_ms, now);
}

/* Tunnel ready (or no proxy): TLS handshake, or straight to the request. */
static void after_proxy(struct http_client *c, uint64_t now)
{
	if (!c->tls) {
		begin_send(c, now);
		return;
	}
	if (tls_start(c->tls, c->fd, c->url.host) < 0) {
		failf(c, "%s", tls_error(c->tls));
		return;
	}
	c->tls_on = 1;
	c->want = POLLOUT;
	set_phase(c, CS_HANDSHAKE, "in the TLS handshake", c->handshake_ms, now);
}

/* TCP connected: CONNECT through the proxy first, if there is one. */
static void connected(struct http_client *c, uint64_t now)
{
	int n;

	if (!c->use_proxy) {
		after_proxy(c, now);
		return;
	}
	n = snprintf((char *)c->sbuf, HTTP_PROXY_HEAD,
		     "CONNECT %s HTTP/1.1\r\nHost: %s\r\n"
		     "User-Agent: d42pcap/" D42_VERSION "\r\n\r\n",
		     c->authority, c->authority);
	c->s_off = 0;
	c->s_len = n > 0 && n < HTTP_PROXY_HEAD ? (size_t)n : 0;
	c->want = POLLOUT;
	set_phase(c, CS_PROXY_SEND, "sending CONNECT", c->io_ms, now);
}

static int in_proxy_phase(const struct http_client *c)
{
	return c->use_proxy && (c->st == CS_CONNECT || c->st == CS_PROXY_SEND ||
				c->st == CS_PROXY_RECV);
}

/* Who the socket currently talks to, for messages. */
static const char *peer_host(const struct http_client *c)
{
	return in_proxy_phase(c) ? c->proxy.host : c->url.host;
}

#define XP_AGAIN (-2)
#define XP_ERR   (-1)
#define XP_CUT   (-3)	/* closed without TLS close_notify */

static int xp_write(struct http_client *c, const void *b, size_t n)
{
	ssize_t w;

	if (c->tls_on) {
		int r = tls_write(c->tls, b, n);

		if (r > 0)
			return r;
		if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
			c->want = r == TLS_WANT_READ ? POLLIN : POLLOUT;
			return XP_AGAIN;
		}
		snprintf(c->err, sizeof(c->err), "%s", tls_error(c->tls));
		return XP_ERR;
	}
	w = send(c->fd, b, n, MSG_NOSIGNAL);
	if (w >= 0)
		return (int)w;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		c->want = POLLOUT;
		return XP_AGAIN;
	}
	snprintf(c->err, sizeof(c->err), "send to %s%s: %s",
		 in_proxy_phase(c) ? "proxy " : "", peer_host(c), strerror(errno));
	return XP_ERR;
}

/* > 0 bytes, 0 closed, XP_AGAIN, XP_ERR */
static int xp_read(struct http_client *c, void *b, size_t n)
{
	ssize_t r;

	if (c->tls_on) {
		int t = tls_read(c->tls, b, n);

		if (t >= 0)
			return t;
		if (t == TLS_EOF_CUT)
			return XP_CUT;
		if (t == TLS_WANT_READ || t == TLS_WANT_WRITE) {
			c->want = t == TLS_WANT_READ ? POLLIN : POLLOUT;
			return XP_AGAIN;
		}
		snprintf(c->err, sizeof(c->err), "%s", tls_error(c->tls));
		return XP_ERR;
	}
	r = recv(c->fd, b, n, 0);
	if (r >= 0)
		return (int)r;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
		c->want = POLLIN;
		return XP_AGAIN;
	}
	snprintf(c->err, sizeof(c->err), "receive from %s%s: %s",
		 in_proxy_phase(c) ? "proxy " : "", peer_host(c), strerror(errno));
	return XP_ERR;
}

/* Refill sbuf from the head, then the body (memory or file). */
static int fill_sbuf(struct http_client *c)
{
	size_t n = 0;

	while (n < HTTP_IO_BUF && c->send_pos + n < c->send_total) {
		uint64_t pos = c->send_pos + n;
		size_t room = HTTP_IO_BUF - n, k;

		if (pos < c->head_len) {
			k = c->head_len - (size_t)pos;
			if (k > room)
				k = room;
			memcpy(c->sbuf + n, c->head + pos, k);
		} else {
			uint64_t boff = pos - c->head_len, bleft = c->req.body_len - boff;

			k = bleft < room ? (size_t)bleft : room;
			if (c->req.body) {
				memcpy(c->sbuf + n, (const uint8_t *)c->req.body + boff, k);
			} else if (c->req.body_read) {
				/* the caller's reader (the spool): offsets only grow,
				 * and start at 0 again on a retry */
				int r = c->req.body_read(c->req.body_ctx, boff, c->sbuf + n, k);

				if (r <= 0 || (size_t)r > k) {
					snprintf(c->err, sizeof(c->err),
						 "reading the request body: %s", r < 0 ?
						 "its source failed" : "source shorter than its length");
					return -1;
				}
				k = (size_t)r;
			} else {
				ssize_t r = pread(c->req.body_fd, c->sbuf + n, k, (off_t)boff);

				if (r <= 0) {
					snprintf(c->err, sizeof(c->err),
						 "reading the request body: %s",
						 r < 0 ? strerror(errno) : "file shorter than its length");
					return -1;
				}
				k = (size_t)r;
			}
		}
		n += k;
	}
	c->s_off = 0;
	c->s_len = n;
	return 0;
}

/* Is the kept-alive connection still open and quiet? */
static int conn_alive(struct http_client *c)
{
	uint8_t b;
	ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int http_client_start(struct http_client *c, const struct http_request *req,
		      uint64_t now_ms)
{
	int n;

	if (c->st != CS_IDLE && c->st != CS_RESULT) {
		snprintf(c->err, sizeof(c->err), "a request is already in flight");
		return -1;
	}
	if (!req->body && req->body_len > 0 && req->body_fd < 0 && !req->body_read) {
		snprintf(c->err, sizeof(c->err), "request body has no source");
		return -1;
	}
	n = http_format_request(c->head, HTTP_MAX_REQ_HEAD, &c->url,
				c->auth[0] ? c->auth : NULL, req);
	if (n < 0) {
		snprintf(c->err, sizeof(c->err), "invalid or too long request for %.200s",
			 req->path ? req->path : "(null)");
		return -1;
	}
	c->req = *req;
	c->head_len = (size_t)n;
	c->err[0] = '\0';
	c->have_response = 0;
	c->too_large = 0;
	c->retried = c->send_cut = 0;
	c->again = 0;
	c->total_deadline = now_ms + c->total_ms;

	if (c->fd >= 0 && c->reusable && conn_alive(c)) {
		c->reused = 1;
		begin_send(c, now_ms);
		return 0;
	}
	conn_close(c);
	if ((c->addrs_stale || c->naddrs == 0) && resolve(c) < 0) {
		finish(c, HTTP_FAILED);
		return 0;
	}
	c->addr_idx = 0;
	if (start_connect(c, now_ms) < 0)
		finish(c, HTTP_FAILED);
	return 0;
}

int http_client_pollfd(const struct http_client *c, struct pollfd *pfd)
{
	pfd->revents = 0;
	if (c->st == CS_IDLE || c->st == CS_RESULT || c->fd < 0) {
		pfd->fd = -1;
		pfd->events = 0;
		return 0;
	}
	pfd->fd = c->fd;
	pfd->events = c->want;
	return 1;
}

int http_client_timeout_ms(const struct http_client *c, uint64_t now_ms)
{
	uint64_t d;

	if (c->st == CS_IDLE)
		return -1;
	if (c->st == CS_RESULT || c->again)
		return 0;
	d = c->deadline < c->total_deadline ? c->deadline : c->total_deadline;
	if (d <= now_ms)
		return 0;
	return d - now_ms > INT32_MAX ? INT32_MAX : (int)(d - now_ms);
}

/* A reused connection died before any response byte: once, fresh. 1
 * retrying, 0 no retry due, -1 the retry could not start (no socket, every
 * connect() refused at once): c->err says why, and that is the error to
 * report, not how the reused connection ended. */
static int maybe_retry(struct http_client *c, uint64_t now)
{
	if (!c->reused || c->retried || c->rx_bytes > 0)
		return 0;
	c->retried = 1;
	conn_close(c);
	c->addr_idx = 0;
	if (start_connect(c, now) < 0)
		return -1;
	return 1;
}

static int step_connect(struct http_client *c, uint64_t now)
{
	struct pollfd p = { .fd = c->fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	char at[HTTP_ADDR_TEXT];

	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr == 0) {
		connected(c, now);
		return 1;
	}
	addr_text(&c->addrs[c->addr_idx], at, sizeof(at));
	snprintf(c->err, sizeof(c->err), "connect to %s%s (%s): %s",
		 c->use_proxy ? "proxy " : "", c->peer->host, at, strerror(soerr));
	c->addr_idx++;
	if (start_connect(c, now) < 0)
		return finish(c, HTTP_FAILED), 1;
	return 1;
}

static int step_send(struct http_client *c, uint64_t now, int proxy)
{
	int w;

	for (;;) {
		if (c->s_off == c->s_len) {
			if (proxy) {
				http_parser_reset(c->parser, HTTP_PF_CONNECT);
				c->want = POLLIN;
				set_phase(c, CS_PROXY_RECV, "waiting for the proxy",
					  c->io_ms, now);
				return 1;
			}
			if (c->send_pos == c->send_total) {
				c->want = POLLIN;
				set_phase(c, CS_RECV, "waiting for the response",
					  c->io_ms, now);
				return 1;
			}
			if (fill_sbuf(c) < 0) {
				c->reusable = 0;
				return finish(c, HTTP_FAILED), 1;
			}
		}
		w = xp_write(c, c->sbuf + c->s_off, c->s_len - c->s_off);
		if (w == XP_AGAIN)
			return 0;
		if (w == XP_ERR) {
			if (proxy)
				return finish(c, HTTP_FAILED), 1;
			w = maybe_retry(c, now);
			if (w > 0)
				return 1;
			if (w < 0)	/* the retry could not connect: c->err */
				return finish(c, HTTP_FAILED), 1;
			/* A server may answer early and close without reading
			 * the rest (413 for a body too large, 401): what it
			 * said counts, not the send error it caused. */
			c->send_cut = 1;
			c->s_off = c->s_len;
			c->send_pos = c->send_total;
			continue;
		}
		c->s_off += (size_t)w;
		if (!proxy)
			c->send_pos += (uint64_t)w;
		c->deadline = now + c->io_ms;	/* idle timeout: progress */
	}
}

static int response_done(struct http_client *c, size_t leftover)
{
	const struct http_response *r = http_parser_response(c->parser);
	const char *loc;

	c->have_response = 1;
	c->reusable = r->keep_alive && leftover == 0 && !c->send_cut;
	if (!c->reusable)
		conn_close(c);
	if (r->status >= 300 && r->status < 400) {
		loc = http_response_header(r, "Location");
		snprintf(c->err, sizeof(c->err),
			 "HTTP %d from %.100s: redirect not followed (Location: %.300s)",
			 r->status, c->url.host, loc ? loc : "none");
		return finish(c, HTTP_FAILED), 1;
	}
	return finish(c, HTTP_DONE), 1;
}

static int proxy_done(struct http_client *c, size_t leftover, uint64_t now)
{
	const struct http_response *r = http_parser_response(c->parser);

	if (r->status < 200 || r->status >= 300) {
		failf(c, "proxy %s refused CONNECT to %s: %d %.100s", c->proxy.host,
		      c->authority, r->status, r->reason);
		return 1;
	}
	if (leftover) {
		failf(c, "proxy %s sent data after its CONNECT reply", c->proxy.host);
		return 1;
	}
	after_proxy(c, now);
	return 1;
}

static int step_recv(struct http_client *c, uint64_t now, int proxy)
{
	int i, n, r;
	size_t used;

	for (i = 0; i < HTTP_MAX_READS; i++) {
		n = xp_read(c, c->rbuf, HTTP_IO_BUF);
		if (n == XP_AGAIN) {
			c->again = 0;
			return 0;
		}
		if (n == XP_ERR || n == 0 || n == XP_CUT) {
			r = proxy ? 0 : maybe_retry(c, now);
			if (r > 0)
				return 1;
			if (r < 0 || n == XP_ERR)	/* r < 0: c->err */
				return finish(c, HTTP_FAILED), 1;
			r = http_parser_eof(c->parser, n == 0);
			if (r == HTTP_PARSE_DONE)
				return proxy ? proxy_done(c, 0, now) : response_done(c, 0);
			c->too_large = r == HTTP_ERR_BODY_TOO_LARGE;
			return failf(c, "%s%s: %s", proxy ? "proxy " : "",
				     peer_host(c), http_strerror(r)), 1;
		}
		c->rx_bytes += (uint64_t)n;
		c->deadline = now + c->io_ms;
		r = http_parser_feed(c->parser, c->rbuf, (size_t)n, &used);
		c->too_large = r == HTTP_ERR_BODY_TOO_LARGE;
		if (r < 0)
			return failf(c, "%s%s: %s", proxy ? "proxy " : "",
				     peer_host(c), http_strerror(r)), 1;
		if (r == HTTP_PARSE_DONE)
			return proxy ? proxy_done(c, (size_t)n - used, now)
				     : response_done(c, (size_t)n - used);
	}
	c->again = 1;	/* more may be buffered (TLS): come back at once */
	return 0;
}

static int step_handshake(struct http_client *c, uint64_t now)
{
	int r = tls_handshake(c->tls);

	if (r == TLS_WANT_READ || r == TLS_WANT_WRITE) {
		c->want = r == TLS_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	if (r != TLS_OK)
		return failf(c, "%s", tls_error(c->tls)), 1;
	c->tls_ver = tls_version(c->tls);
	begin_send(c, now);
	return 1;
}

int http_client_step(struct http_client *c, short revents, uint64_t now_ms)
{
	int progressed = 1;

	(void)revents;	/* every state probes its own readiness */
	while (progressed) {
		switch (c->st) {
		case CS_IDLE:
			return HTTP_IDLE;
		case CS_RESULT:
			c->st = CS_IDLE;
			return c->result;
		default:
			break;
		}
		/* No address answered: the name may point elsewhere now (only
		 * a failed connect() marked that before). */
		if (c->st == CS_CONNECT && (now_ms >= c->total_deadline ||
					    (now_ms >= c->deadline && c->addr_idx + 1 >= c->naddrs)))
			c->addrs_stale = 1;
		if (now_ms >= c->total_deadline) {
			failf(c, "request to %s timed out after %u ms (total, while %s)",
			      c->url.host, c->total_ms, c->phase);
			continue;
		}
		if (now_ms >= c->deadline) {
			snprintf(c->err, sizeof(c->err),
				 "timed out after %u ms %s (%s%s)", c->phase_ms,
				 c->phase, in_proxy_phase(c) ? "proxy " : "",
				 peer_host(c));
			/* a silent address: try the next one, if any */
			if (c->st == CS_CONNECT && c->addr_idx + 1 < c->naddrs) {
				c->addr_idx++;
				if (start_connect(c, now_ms) == 0)
					continue;
			}
			c->reusable = 0;
			finish(c, HTTP_FAILED);
			continue;
		}
		switch (c->st) {
		case CS_CONNECT:
			progressed = step_connect(c, now_ms);
			break;
		case CS_PROXY_SEND:
			progressed = step_send(c, now_ms, 1);
			break;
		case CS_PROXY_RECV:
			progressed = step_recv(c, now_ms, 1);
			break;
		case CS_HANDSHAKE:
			progressed = step_handshake(c, now_ms);
			break;
		case CS_SEND:
			progressed = step_send(c, now_ms, 0);
			break;
		case CS_RECV:
			progressed = step_recv(c, now_ms, 0);
			break;
		default:
			progressed = 0;
			break;
		}
	}
	return HTTP_BUSY;
}

const struct http_response *http_client_response(const struct http_client *c)
{
	return c->have_response ? http_parser_response(c->parser) : NULL;
}

const struct http_response *http_client_too_large(const struct http_client *c)
{
	/* The head was read whole before the body overran; body_len is 0
	 * (set only once a body is complete). */
	return c->too_large ? http_parser_response(c->parser) : NULL;
}

const char *http_client_error(const struct http_client *c)
{
	return c->err[0] ? c->err : "no error";
}

unsigned long http_client_connections(const struct http_client *c)
{
	return c->nconns;
}

const char *http_client_tls_version(const struct http_client *c)
{
	return c->tls_ver ? c->tls_ver : "";
}
