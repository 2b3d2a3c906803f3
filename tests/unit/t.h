/* Minimal unit-test harness. Each test function runs, then prints
 * "ok NAME" or "FAIL NAME"; failed checks print file:line first.
 * tests/run.sh counts these lines across every test program. */
#ifndef D42_T_H
#define D42_T_H

#include <stdio.h>
#include <string.h>

static int t_cur_failed;
static int t_npassed, t_nfailed;

#define T_CHECK(cond) do { \
	if (!(cond)) { \
		printf("  check failed %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		t_cur_failed = 1; \
	} } while (0)

#define T_EQ_INT(a, b) do { \
	long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	if (t_a_ != t_b_) { \
		printf("  check failed %s:%d: %s == %s (%lld != %lld)\n", \
		       __FILE__, __LINE__, #a, #b, t_a_, t_b_); \
		t_cur_failed = 1; \
	} } while (0)

#define T_EQ_STR(a, b) do { \
	const char *t_a_ = (a), *t_b_ = (b); \
	if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) { \
		printf("  check failed %s:%d: %s == %s (\"%s\" != \"%s\")\n", \
		       __FILE__, __LINE__, #a, #b, t_a_ ? t_a_ : "(null)", \
		       t_b_ ? t_b_ : "(null)"); \
		t_cur_failed = 1; \
	} } while (0)

#define T_RUN(fn) do { \
	t_cur_failed = 0; \
	fn(); \
	if (t_cur_failed) { t_nfailed++; printf("FAIL %s\n", #fn); } \
	else { t_npassed++; printf("ok %s\n", #fn); } \
	fflush(stdout); \
	} while (0)

#define T_DONE() (t_nfailed ? 1 : 0)

#endif
