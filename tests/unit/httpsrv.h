/* Scripted HTTP test server for test_http.c and test_tls.c: a forked child
 * on 127.0.0.1 that answers each request it receives with the next entry
 * of a script, over plain TCP or a caller-supplied transport (TLS), and
 * records every request's raw bytes (with the connection number) in a file
 * the parent reads afterwards. Everything is bounded: the child dies by
 * alarm() after SRV_LIFETIME_S, sockets time out, the parent SIGKILLs it.
 * The client side helper, srv_run_client(), drives an http_client with
 * poll() the way the agent's loop does, under a wall-clock bound. */
#ifndef D42_HTTPSRV_H
#define D42_HTTPSRV_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

#define SRV_MAX_STEPS   16
#define SRV_LIFETIME_S  30	/* the child never outlives this */
#define SRV_SOCK_TO_S   5	/* per read/write on the server side */
#define SRV_MAX_REQ     (1u << 20)
#define SRV_MAX_RECS    32

struct srv_step {
	const char *resp;	/* bytes to answer; NULL: close without answering */
	size_t resp_len;	/* 0: strlen(resp) */
	int close_after;	/* close the connection after answering */
	int delay_ms;		/* wait before answering */
	int early;		/* answer after the head, unread body, close */
};

#define SRV_ANSWER(s)         { .resp = (s) }
#define SRV_CLOSE_AFTER(s)    { .resp = (s), .close_after = 1 }
#define SRV_DELAYED(s, ms)    { .resp = (s), .delay_ms = (ms) }
#define SRV_HANG_UP           { .resp = NULL }
#define SRV_EARLY(s)          { .resp = (s), .close_after = 1, .early = 1 }

struct srv_io {		/* NULL members: plain TCP */
	void *(*open)(int fd);	/* after accept; NULL: drop the connection */
	long (*rd)(void *h, void *b, size_t n);
	long (*wr)(void *h, const void *b, size_t n);
	void (*close)(void *h);
};

struct srv {
	pid_t pid;
	uint16_t port;
	char log[64];		/* recorded requests */
};

struct srv_rec {
	int conn;
	size_t len;
	char *bytes;		/* NUL-terminated copy */
};

static long srv_plain_rd(void *h, void *b, size_t n)
{
	return (long)read((int)(intptr_t)h, b, n);
}

static long srv_plain_wr(void *h, const void *b, size_t n)
{
	return (long)send((int)(intptr_t)h, b, n, MSG_NOSIGNAL);
}

static uint64_t srv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Content-Length of a request head (0 if none). */
static size_t srv_req_body_len(const char *head)
{
	const char *p = head;

	while ((p = strchr(p, '\n')) != NULL) {
		p++;
		if (strncasecmp(p, "content-length:", 15) == 0)
			return (size_t)strtoul(p + 15, NULL, 10);
	}
	return 0;
}

static int srv_listen(uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static void srv_child(int lfd, const struct srv_step *script, int nsteps,
		      const struct srv_io *io, const char *logpath)
{
	static char req[SRV_MAX_REQ + 1];
	struct timeval tv = { SRV_SOCK_TO_S, 0 };
	int step = 0, conn = 0;
	FILE *log = fopen(logpath, "w");

	alarm(SRV_LIFETIME_S);
	if (!log)
		_exit(3);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		void *h;

		if (fd < 0)
			_exit(4);
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		h = io && io->open ? io->open(fd) : (void *)(intptr_t)fd;
		if (!h) {
			close(fd);
			conn++;
			continue;
		}
		for (;;) {	/* requests on this connection */
			size_t have = 0, need = 0;
			char *end = NULL;
			long n;
			const struct srv_step *s = step < nsteps ? &script[step] : NULL;
			int early = s && s->early;

			while (!end || (have < need && !early)) {
				if (have >= SRV_MAX_REQ)
					_exit(5);
				n = io && io->rd ? io->rd(h, req + have, SRV_MAX_REQ - have)
						 : srv_plain_rd(h, req + have, SRV_MAX_REQ - have);
				if (n <= 0)
					break;
				have += (size_t)n;
				req[have] = '\0';
				if (!end && (end = strstr(req, "\r\n\r\n")) != NULL)
					need = (size_t)(end + 4 - req) + srv_req_body_len(req);
			}
			if (!end || (have < need && !early))
				break;	/* client closed */
			fprintf(log, "%d %zu\n", conn, have);
			fwrite(req, 1, have, log);
			fputc('\n', log);
			fflush(log);
			if (step >= nsteps)
				break;
			s = &script[step++];
			if (s->delay_ms)
				usleep((useconds_t)s->delay_ms * 1000);
			if (!s->resp)
				break;
			{
				size_t len = s->resp_len ? s->resp_len : strlen(s->resp), off = 0;

				while (off < len) {
					n = io && io->wr ? io->wr(h, s->resp + off, len - off)
							 : srv_plain_wr(h, s->resp + off, len - off);
					if (n <= 0)
						break;
					off += (size_t)n;
				}
			}
			if (s->close_after)
				break;
		}
		if (io && io->close)
			io->close(h);
		close(fd);
		conn++;
	}
}

/* 0, or -1 (then nothing runs). */
static int srv_start(struct srv *sv, const struct srv_step *script, int nsteps,
		     const struct srv_io *io)
{
	int lfd = srv_listen(&sv->port);

	if (lfd < 0)
		return -1;
	snprintf(sv->log, sizeof(sv->log), "/tmp/d42srv.%ld.%u", (long)getpid(),
		 (unsigned)sv->port);
	fflush(stdout);
	sv->pid = fork();
	if (sv->pid < 0) {
		close(lfd);
		return -1;
	}
	if (sv->pid == 0) {
		srv_child(lfd, script, nsteps, io, sv->log);
		_exit(0);
	}
	close(lfd);
	return 0;
}

/* Stops the child and loads what it recorded; returns the request count. */
static int srv_stop(struct srv *sv, struct srv_rec *recs, int max)
{
	FILE *f;
	int n = 0;

	kill(sv->pid, SIGKILL);
	waitpid(sv->pid, NULL, 0);
	f = fopen(sv->log, "r");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d %zu", &recs[n].conn, &recs[n].len) == 2) {
		fgetc(f);
		recs[n].bytes = calloc(1, recs[n].len + 1);
		if (!recs[n].bytes || fread(recs[n].bytes, 1, recs[n].len, f) != recs[n].len) {
			free(recs[n].bytes);
			break;
		}
		fgetc(f);
		n++;
	}
	fclose(f);
	unlink(sv->log);
	return n;
}

static void srv_free_recs(struct srv_rec *recs, int n)
{
	while (n-- > 0)
		free(recs[n].bytes);
}

/* The last response's body and status, safe when there is none. */
static const char *resp_body(const struct http_client *c)
{
	const struct http_response *r = http_client_response(c);

	return r ? (const char *)r->body : "(no response)";
}

static int resp_status(const struct http_client *c)
{
	const struct http_response *r = http_client_response(c);

	return r ? r->status : -1;
}

/* Runs one request to completion the way the agent's poll loop does.
 * Returns HTTP_DONE / HTTP_FAILED, or HTTP_BUSY if the wall-clock bound
 * hit first (a test failure). *max_step_ms: the longest single step. */
static int srv_run_client(struct http_client *c, const struct http_request *req,
			  int bound_ms, uint64_t *max_step_ms)
{
	uint64_t start = srv_now_ms(), t0;
	int r;

	if (max_step_ms)
		*max_step_ms = 0;
	if (http_client_start(c, req, srv_now_ms()) < 0)
		return HTTP_FAILED;
	while (srv_now_ms() - start < (uint64_t)bound_ms) {
		struct pollfd pfd;
		int to;

		http_client_pollfd(c, &pfd);
		to = http_client_timeout_ms(c, srv_now_ms());
		if (to < 0 || to > 100)
			to = 100;	/* the agent's own timers */
		(void)poll(&pfd, pfd.fd >= 0 ? 1 : 0, to);
		t0 = srv_now_ms();
		r = http_client_step(c, pfd.revents, srv_now_ms());
		if (max_step_ms && srv_now_ms() - t0 > *max_step_ms)
			*max_step_ms = srv_now_ms() - t0;
		if (r == HTTP_DONE || r == HTTP_FAILED)
			return r;
	}
	return HTTP_BUSY;
}

#endif
