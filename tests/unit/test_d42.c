/* d42.c: the spool report scanner (records come out whole and unchanged
 * whatever the split points, nested objects elsewhere are not records, and
 * malformed or oversized input is refused), and a sample upload whose
 * report the spool drops meanwhile. */
#include "t.h"
#include "d42.h"
#include "config.h"
#include "spool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char doc[] =
	"{\"agent\":{\"name\":\"d42pcap\"},\"stats\":{\"undecoded\":{\"not_ip\":1}},"
	"\"communications\":[{\"client\":\"10.0.0.2\",\"server\":\"10.0.0.1\",\"port\":80,"
	"\"protocol\":\"tcp\",\"client_ports\":[1,2],\"note\":\"a}b\\\"{\"},\n"
	"{\"client\":\"::1\",\"server\":\"::2\",\"port\":53,\"protocol\":\"udp\"}]}\n";

static const char rec1[] =
	"{\"client\":\"10.0.0.2\",\"server\":\"10.0.0.1\",\"port\":80,"
	"\"protocol\":\"tcp\",\"client_ports\":[1,2],\"note\":\"a}b\\\"{\"}";
static const char rec2[] = "{\"client\":\"::1\",\"server\":\"::2\",\"port\":53,\"protocol\":\"udp\"}";

/* Feed buf in pieces of `step` bytes; collect records into out. */
static int scan_all(const char *buf, size_t len, size_t step, char out[][256], int max)
{
	static struct d42_scan s;
	size_t off = 0, used, n;
	int r, k = 0;

	d42_scan_init(&s);
	while (off < len) {
		n = len - off < step ? len - off : step;
		r = d42_scan_feed(&s, buf + off, n, &used);
		off += used;
		if (r < 0)
			return r;
		if (r == D42_SCAN_RECORD && k < max) {
			memcpy(out[k], s.rec, s.len);
			out[k][s.len] = '\0';
			k++;
			s.len = 0;
		}
	}
	return s.depth ? -100 : k;
}

static void test_d42_scan_records(void)
{
	char out[4][256];

	T_EQ_INT(scan_all(doc, sizeof(doc) - 1, sizeof(doc), out, 4), 2);
	T_EQ_STR(out[0], rec1);
	T_EQ_STR(out[1], rec2);
}

static void test_d42_scan_every_split(void)
{
	char out[4][256];
	size_t step;
	int bad = 0;

	for (step = 1; step < sizeof(doc); step++) {
		if (scan_all(doc, sizeof(doc) - 1, step, out, 4) != 2 ||
		    strcmp(out[0], rec1) || strcmp(out[1], rec2))
			bad++;
	}
	T_EQ_INT(bad, 0);
}

static void test_d42_scan_no_records(void)
{
	static const char d[] = "{\"stats\":{\"a\":{\"b\":{}}},\"communications\":[]}";
	char out[1][256];

	T_EQ_INT(scan_all(d, sizeof(d) - 1, 3, out, 1), 0);
}

/* A string holding braces, directly in the records' array, is no record. */
static void test_d42_scan_brace_in_string(void)
{
	static const char d[] = "{\"communications\":[\"{{{\",{\"client\":\"1\"},\"}\"]}";
	char out[2][256];

	T_EQ_INT(scan_all(d, sizeof(d) - 1, 2, out, 2), 1);
	T_EQ_STR(out[0], "{\"client\":\"1\"}");
}

/* Nor is an array in that array, however long. */
static void test_d42_scan_array_in_array(void)
{
	static char d[D42_MAX_RECORD * 3];
	char out[2][256];
	size_t n, i;

	n = (size_t)snprintf(d, sizeof(d), "{\"communications\":[[");
	for (i = 0; i < D42_MAX_RECORD; i++)
		d[n++] = i % 2 ? ',' : '1';
	d[n - 1] = ']';
	n += (size_t)snprintf(d + n, sizeof(d) - n, ",{\"client\":\"1\"}]}");
	T_EQ_INT(scan_all(d, n, 7, out, 2), 1);
	T_EQ_STR(out[0], "{\"client\":\"1\"}");
}

static void test_d42_scan_malformed(void)
{
	static const char mismatched[] = "{\"communications\":[{\"a\":1]]}";
	static const char extra_close[] = "}}";
	char out[1][256];
	static char big[D42_MAX_RECORD * 2];
	size_t n;

	T_EQ_INT(scan_all(mismatched, sizeof(mismatched) - 1, 4, out, 1), D42_SCAN_ERR_SYNTAX);
	T_EQ_INT(scan_all(extra_close, sizeof(extra_close) - 1, 1, out, 1), D42_SCAN_ERR_SYNTAX);
	n = (size_t)snprintf(big, sizeof(big), "{\"communications\":[{\"x\":\"");
	memset(big + n, 'a', D42_MAX_RECORD);
	n += D42_MAX_RECORD;
	memcpy(big + n, "\"}]}", 4);
	n += 4;
	T_EQ_INT(scan_all(big, n, 512, out, 1), D42_SCAN_ERR_TOO_BIG);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void drive(struct d42 *d, unsigned ms)
{
	uint64_t end = mono_ms() + ms;

	while (mono_ms() < end) {
		struct pollfd pfd;
		int to = d42_timeout_ms(d, mono_ms());

		d42_pollfd(d, &pfd);
		if (to < 0 || to > 20)
			to = 20;
		pfd.revents = 0;
		(void)poll(&pfd, pfd.fd >= 0 ? 1 : 0, to);
		d42_step(d, pfd.revents, mono_ms());
	}
}

#define BIG_SAMPLE (7u << 20)	/* over the client's send buffer (4 MiB) */

/* The collector: the first connection is left unread for a second (the
 * upload stalls mid-body), then drained; every request is answered 200. */
static void sample_server(int lfd)
{
	static char buf[65536];
	int conn;

	alarm(30);
	for (conn = 0; conn < 4; conn++) {
		int fd = accept(lfd, NULL, NULL);
		size_t have = 0, need = 0;
		char *end;
		ssize_t k;

		if (fd < 0)
			_exit(1);
		if (conn == 0)
			usleep(1000 * 1000);
		while ((k = read(fd, buf + (have < 4096 ? have : 4096),
				 sizeof(buf) - 4097)) > 0) {
			if (have < 4096) {
				buf[have + (size_t)k < 8192 ? have + (size_t)k : 8191] = '\0';
				end = strstr(buf, "\r\n\r\n");
				if (end && !need)
					need = (size_t)(end + 4 - buf) +
					       strtoul(strstr(buf, "Content-Length:") + 15, NULL, 10);
			}
			have += (size_t)k;
			if (need && have >= need)
				break;
		}
		if (need && have >= need)
			(void)!write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 38);
		close(fd);
	}
	_exit(0);
}

/* Sample mode, reports in memory, one kept: the next report pushes out the
 * one being uploaded. That is the spool's drop (counted there), not a
 * damaged report nor a failed attempt: the next report goes at once. */
static void test_d42_sample_dropped_in_upload(void)
{
	static struct config cfg;
	static char big[BIG_SAMPLE];
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct d42_stats st;
	struct spool_stats ss;
	struct spool *sp;
	struct d42 *d;
	char err[256];
	int lfd, small = 4096, ws;
	pid_t pid;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	T_CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
		listen(lfd, 4) == 0 && getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		sample_server(lfd);
	close(lfd);

	config_defaults(&cfg);
	snprintf(cfg.host, sizeof(cfg.host), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	snprintf(cfg.upload_mode, sizeof(cfg.upload_mode), "sample");
	cfg.timeout = 5;
	sp = spool_open(NULL, 8u << 20, 1);
	T_CHECK(sp != NULL);
	d = sp ? d42_new(&cfg, sp, err, sizeof(err)) : NULL;
	T_CHECK(d != NULL);
	if (!d) {
		kill(pid, SIGKILL);
		waitpid(pid, &ws, 0);
		return;
	}
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	T_EQ_INT(spool_begin(sp, 0, 60), 0);
	T_EQ_INT(spool_write(sp, big, sizeof(big)), 0);
	T_EQ_INT(spool_commit(sp, NULL), 0);
	drive(d, 300);		/* the upload has begun and stalls */
	T_EQ_INT(spool_begin(sp, 60, 120), 0);
	T_EQ_INT(spool_write(sp, "{}", 2), 0);
	T_EQ_INT(spool_commit(sp, NULL), 0);
	drive(d, 2500);
	d42_get_stats(d, &st);
	spool_stats(sp, &ss);
	T_EQ_INT(ss.dropped, 1);
	T_EQ_INT(st.failures, 0);
	T_EQ_INT(st.reports_sent, 1);
	T_CHECK(d42_idle(d));
	d42_free(d);
	spool_close(sp);
	kill(pid, SIGKILL);
	waitpid(pid, &ws, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	T_RUN(test_d42_scan_records);
	T_RUN(test_d42_scan_every_split);
	T_RUN(test_d42_scan_no_records);
	T_RUN(test_d42_scan_brace_in_string);
	T_RUN(test_d42_scan_array_in_array);
	T_RUN(test_d42_scan_malformed);
	T_RUN(test_d42_sample_dropped_in_upload);
	return T_DONE();
}
