/* HTTP/1.1 client for the appliance, driven by the caller's poll() loop;
 * one request in flight; keep-alive; http:// or https:// (tls.h); optional
 * proxy via HTTP CONNECT (also for http://; no proxy authentication).
 *
 * Driving it (all calls non-blocking except DNS, see below):
 *   c = http_client_new(&cfg, err, sizeof err);     start-up: allocates all
 *   http_client_start(c, &req, now_ms);             when idle, a request due
 *   every loop turn:
 *     struct pollfd pfd; http_client_pollfd(c, &pfd);   add if pfd.fd >= 0
 *     t = http_client_timeout_ms(c, now_ms);            poll at most t (-1 none)
 *     after poll, if pfd.revents or t reached (calling more often is fine):
 *       switch (http_client_step(c, pfd.revents, now_ms))
 *       HTTP_DONE:   http_client_response(c)->status / body
 *       HTTP_FAILED: http_client_error(c) (network, TLS, protocol, timeout,
 *                    3xx "redirect not followed (Location: ...)")
 * DNS: getaddrinfo() blocks (bounded by resolv.conf timeouts); it runs in
 * http_client_new() and again in http_client_start() only after every
 * cached address failed. IP-literal hosts never touch DNS.
 * Memory: all buffers are allocated by http_client_new(); afterwards only
 * getaddrinfo() and mbedTLS (per handshake, its own calloc) allocate.
 * Timeouts: connect and TLS handshake per attempt, io = idle time while
 * sending or waiting for bytes, total = the whole request. A reused
 * connection that fails before any response byte is retried once fresh. */
#ifndef D42_HTTP_H
#define D42_HTTP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "url.h"

#define HTTP_MAX_HEADER_BYTES 16384	/* status line + headers; also trailers */
#define HTTP_MAX_HEADERS      64	/* header lines in one response */
#define HTTP_MAX_BODY_BYTES   (4u << 20)	/* default response body limit */
#define HTTP_MAX_CHUNK_LINE   1024	/* chunk-size line incl. extensions */
#define HTTP_MAX_INTERIM      8		/* 1xx responses before the final one */
#define HTTP_MAX_REQ_HEAD     4096	/* request line + headers sent */
#define HTTP_MAX_ERR          512	/* http_client_error() text */
#define HTTP_DEF_CONNECT_MS   10000
#define HTTP_DEF_HANDSHAKE_MS 15000
#define HTTP_DEF_IO_MS        30000
#define HTTP_DEF_TOTAL_MS     120000

/* Response parser errors (http_parser_feed/eof). */
enum http_err {
	HTTP_ERR_STATUS_LINE = -1, HTTP_ERR_VERSION = -2, HTTP_ERR_STATUS = -3,
	HTTP_ERR_HEADER = -4, HTTP_ERR_FOLDING = -5, HTTP_ERR_HEADER_BYTES = -6,
	HTTP_ERR_HEADER_COUNT = -7, HTTP_ERR_CONTENT_LENGTH = -8,
	HTTP_ERR_CL_CONFLICT = -9, HTTP_ERR_CL_AND_TE = -10,
	HTTP_ERR_TRANSFER_ENCODING = -11, HTTP_ERR_CHUNK_SIZE = -12,
	HTTP_ERR_CHUNK = -13, HTTP_ERR_TRAILER = -14, HTTP_ERR_BODY_TOO_LARGE = -15,
	HTTP_ERR_TRUNCATED = -16, HTTP_ERR_EMPTY = -17, HTTP_ERR_INTERIM = -18
};
#define HTTP_PARSE_MORE 0	/* feed more bytes */
#define HTTP_PARSE_DONE 1	/* one complete final response */
#define HTTP_PF_HEAD    1u	/* reset flag: response to HEAD, no body */
#define HTTP_PF_CONNECT 2u	/* reset flag: to CONNECT, a 2xx has no body */

struct http_response {
	int status;		/* 100..599 (never 1xx once done) */
	int minor;		/* HTTP/1.<minor>, 0 or 1 */
	int keep_alive;		/* the connection may carry another request */
	const char *reason;
	unsigned nheaders;
	const char *name[HTTP_MAX_HEADERS], *value[HTTP_MAX_HEADERS];
	const uint8_t *body;	/* body_len bytes, then a NUL */
	size_t body_len;
};

struct http_parser;
struct http_parser *http_parser_new(size_t max_body);	/* NULL: no memory */
void http_parser_free(struct http_parser *p);
void http_parser_reset(struct http_parser *p, unsigned flags);
/* Consumes up to len bytes (*used says how many; bytes after a complete
 * response are not consumed). HTTP_PARSE_MORE, _DONE or enum http_err. */
int http_parser_feed(struct http_parser *p, const uint8_t *buf, size_t len,
		     size_t *used);
/* Peer closed (clean: a TLS close_notify, or plain TCP): DONE or error. */
int http_parser_eof(struct http_parser *p, int clean);
const struct http_response *http_parser_response(const struct http_parser *p);
const char *http_response_header(const struct http_response *r, const char *name);
const char *http_strerror(int err);

struct http_request {
	const char *method;		/* "GET", "POST", ... */
	const char *path;		/* "/api/..." + query; after the URL prefix */
	const char *content_type;	/* NULL: no Content-Type */
	uint64_t body_len;		/* bytes, from the first source set: */
	const void *body;		/* memory; else */
	int (*body_read)(void *ctx, uint64_t off, void *buf, size_t cap);
	void *body_ctx;			/* a reader returning > 0 bytes or -1, at
					 * sequential offsets (0 again on a retry);
					 * else */
	int body_fd;			/* pread() from offset 0 (a plain file) */
};	/* everything it points to must stay valid until DONE/FAILED */

/* Request head (line + headers + blank line) into out: length, or -1 if
 * it does not fit or method/path/content_type hold forbidden characters.
 * auth_b64 NULL: no Authorization. */
int http_format_request(char *out, size_t outsz, const struct url *u,
			const char *auth_b64, const struct http_request *req);

struct http_client_cfg {
	const char *url;		/* base URL, see url.h */
	const char *proxy;		/* NULL/"": none, else http://host:port */
	const char *user, *password;	/* Basic auth if user is not empty */
	const char *ca_file;		/* NULL/"": the system CA bundle */
	const char *tls_fingerprint;	/* NULL/"": none; SHA-256 hex (tls.h) */
	int verify_tls;			/* 0: explicit opt-out, warned */
	uint32_t connect_ms, handshake_ms, io_ms, total_ms;	/* 0: default */
	size_t max_body;		/* 0: HTTP_MAX_BODY_BYTES */
};

enum http_result { HTTP_FAILED = -1, HTTP_BUSY = 0, HTTP_DONE = 1, HTTP_IDLE = 2 };

struct http_client;
struct http_client *http_client_new(const struct http_client_cfg *cfg,
				    char *err, size_t errsz);
void http_client_free(struct http_client *c);	/* closes, wipes credentials */
/* 0, or -1 if busy or the request is invalid (http_client_error). */
int http_client_start(struct http_client *c, const struct http_request *req,
		      uint64_t now_ms);
int http_client_pollfd(const struct http_client *c, struct pollfd *pfd);
int http_client_timeout_ms(const struct http_client *c, uint64_t now_ms);
int http_client_step(struct http_client *c, short revents, uint64_t now_ms);
const struct http_response *http_client_response(const struct http_client *c);
const char *http_client_error(const struct http_client *c);
/* If the last request failed on a response body over max_body: that
 * response's status and headers, without the body (body_len 0); else NULL. */
const struct http_response *http_client_too_large(const struct http_client *c);
void http_client_close(struct http_client *c);	/* drop a kept connection */
unsigned long http_client_connections(const struct http_client *c); /* opened */
const char *http_client_tls_version(const struct http_client *c); /* last, or "" */

#endif
