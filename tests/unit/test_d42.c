/* The spool report scanner of d42.c: records come out whole and unchanged
 * whatever the split points, nested objects elsewhere are not records, and
 * malformed or oversized input is refused. */
#include "t.h"
#include "d42.h"

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

int main(void)
{
	T_RUN(test_d42_scan_records);
	T_RUN(test_d42_scan_every_split);
	T_RUN(test_d42_scan_no_records);
	T_RUN(test_d42_scan_brace_in_string);
	T_RUN(test_d42_scan_array_in_array);
	T_RUN(test_d42_scan_malformed);
	return T_DONE();
}
