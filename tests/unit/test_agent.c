/* Interval cutting, live, with the wall clock stepped: which intervals are
 * reported, with which ends and packet counts. Driven directly, so packet
 * times and the clock agree as they would on a machine whose clock steps
 * (a live test cannot shift the kernel's packet timestamps). */
#include "t.h"
#include "agent.h"
#include "capture.h"

#include <stdint.h>

#define SEC 1000000000ULL
#define T0 (1800000000ULL * SEC)	/* a multiple of 60 s */
#define MAX_REPORTS 8

struct rep {
	uint64_t start, end;
	uint64_t packets;
	uint64_t down;		/* capture_down_ns */
};

static struct rep reps[MAX_REPORTS];
static unsigned nreps;
static struct agent a;	/* large: out of the stack */
static struct config cfg;

static int rep_begin(void *ctx, uint64_t start_ns, uint64_t end_ns)
{
	(void)ctx;
	if (nreps < MAX_REPORTS) {
		reps[nreps].start = start_ns;
		reps[nreps].end = end_ns;
		reps[nreps].packets = a.st.packets;	/* still the interval's */
		reps[nreps].down = a.st.capture_down_ns;
	}
	nreps++;
	return 0;
}

static int rep_write(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

static int rep_end(void *ctx, int ok)
{
	(void)ctx;
	(void)ok;
	return 0;
}

/* Ethernet, IPv4, UDP 127.0.0.1:12345 -> 127.0.0.1:7001. */
static const uint8_t frame[42] = {
	[12] = 0x08, [14] = 0x45, [17] = 28, [22] = 64, [23] = 17,
	[26] = 127, [29] = 1, [30] = 127, [33] = 1,
	[34] = 0x30, [35] = 0x39, [36] = 0x1b, [37] = 0x59, [39] = 8,
};

/* A fresh agent with no reports yet, live on "lo" or reading a file. */
static void start_as(int offline)
{
	static const struct agent_output out = { rep_begin, rep_write, rep_end, NULL, NULL };

	memset(reps, 0, sizeof(reps));
	nreps = 0;
	config_defaults(&cfg);
	cfg.interval = 60;
	T_EQ_INT(agent_init(&a, &cfg, &out, offline ? "file" : "lo", 1, offline, 1), 0);
}

static void start(void)
{
	start_as(0);
}

static void packet(uint64_t ts)
{
	agent_packet(&a, ts, frame, sizeof(frame), sizeof(frame));
}

/* Set back twice: the second step's interval ends at its own last packet
 * (or its start), not at a time of the interval before the first step,
 * which last_ts still held. */
static void test_clock_back_twice(void)
{
	start();
	agent_start_live(&a, T0 + 5 * SEC);
	packet(T0 + 10 * SEC);
	packet(T0 + 9 * SEC + SEC / 2);	/* older: last_ts is the newest */
	agent_tick(&a, T0 + 12 * SEC);
	agent_tick(&a, T0 - 3600 * SEC + 12 * SEC);	/* an hour back */
	T_EQ_INT(nreps, 1);
	T_EQ_INT(reps[0].start, T0 + 5 * SEC);
	T_EQ_INT(reps[0].end, T0 + 11 * SEC);	/* after its last packet, at 10.0 */
	T_EQ_INT(reps[0].packets, 2);
	agent_tick(&a, T0 - 7200 * SEC + 15 * SEC);	/* another hour back, no packet */
	T_EQ_INT(nreps, 2);
	T_EQ_INT(reps[1].start, T0 - 3600 * SEC + 12 * SEC);
	T_EQ_INT(reps[1].end, reps[1].start);	/* nothing happened in it */
	T_EQ_INT(reps[1].packets, 0);
	agent_free(&a);
}

/* poll() sleeps in monotonic time, which a wall clock set forward or a
 * suspend does not move: the sleep asked for is bounded, or an idle agent
 * reported the interval such a step ended only at its planned end (55 s
 * here; up to a day with Interval 86400). */
static void test_sleep_bounded(void)
{
	start();
	agent_start_live(&a, T0 + 5 * SEC);
	T_EQ_INT(agent_tick(&a, T0 + 5 * SEC), AGENT_MAX_SLEEP_MS);
	T_EQ_INT(agent_tick(&a, T0 + 59 * SEC + 1), 1000);	/* rounded up */
	T_EQ_INT(nreps, 0);
	T_EQ_INT(agent_tick(&a, T0 + 3600 * SEC), AGENT_MAX_SLEEP_MS);	/* set forward */
	T_EQ_INT(nreps, 1);
	agent_free(&a);
}

/* The interface down all along, the clock set back an hour: the interval
 * begun after the step is down for the whole of it. It was reported as up:
 * the downtime counted from a time of the old clock, which the new one
 * had not reached. */
static void test_down_clock_back(void)
{
	static struct capture cap;

	start();
	memset(&cap, 0, sizeof(cap));
	cap.fd = -1;
	cap.down_since_ns = T0 + 10 * SEC;
	a.cap = &cap;
	agent_start_live(&a, T0 + 5 * SEC);
	agent_tick(&a, T0 + 20 * SEC);
	agent_tick(&a, T0 - 3600 * SEC + 30 * SEC);	/* closes the first */
	T_EQ_INT(nreps, 1);
	agent_tick(&a, T0 - 3600 * SEC + 60 * SEC);
	T_EQ_INT(nreps, 2);
	T_EQ_INT(reps[1].start, T0 - 3600 * SEC + 30 * SEC);
	T_EQ_INT(reps[1].end, T0 - 3600 * SEC + 60 * SEC);
	T_EQ_INT(reps[1].down, 30 * SEC);
	agent_tick(&a, T0 - 3600 * SEC + 120 * SEC);
	T_EQ_INT(nreps, 3);
	T_EQ_INT(reps[2].down, 60 * SEC);
	a.cap = NULL;
	agent_free(&a);
	/* An outage over before the clock goes back: the interval it cuts
	 * short reports no more down than it lasted. */
	start();
	memset(&cap, 0, sizeof(cap));
	cap.fd = -1;
	cap.down_ns = 8 * SEC;
	a.cap = &cap;
	agent_start_live(&a, T0 + 5 * SEC);
	packet(T0 + 6 * SEC);
	agent_tick(&a, T0 + 15 * SEC);
	agent_tick(&a, T0 - 3600 * SEC);
	T_EQ_INT(nreps, 1);
	T_EQ_INT(reps[0].end - reps[0].start, 2 * SEC);	/* just after 6.0 */
	T_EQ_INT(reps[0].down, 2 * SEC);
	a.cap = NULL;
	agent_free(&a);
}

/* Stopped while the clock is behind the open interval's start: it ends at
 * its last packet, with its packets, not at its start (zero seconds). */
static void test_stop_clock_behind(void)
{
	start();
	agent_start_live(&a, T0 + 5 * SEC);
	packet(T0 + 7 * SEC);
	packet(T0 + 9 * SEC);
	T_EQ_INT(agent_stop(&a, T0 - 3600 * SEC), 0);
	T_EQ_INT(nreps, 1);
	T_EQ_INT(reps[0].start, T0 + 5 * SEC);
	T_EQ_INT(reps[0].end, T0 + 10 * SEC);	/* after 9.0 */
	T_EQ_INT(reps[0].packets, 2);
	agent_free(&a);
	/* the usual stop: now */
	start();
	agent_start_live(&a, T0 + 5 * SEC);
	packet(T0 + 7 * SEC);
	T_EQ_INT(agent_stop(&a, T0 + 20 * SEC), 0);
	T_EQ_INT(reps[0].end, T0 + 20 * SEC);
	agent_free(&a);
}

/* Offline, the last packet on a whole second: the interval ends at the
 * second after it, [start, end) holding it. A file of one packet at the
 * start of an interval was reported as 0 seconds long. */
static void test_last_packet_on_a_second(void)
{
	start_as(1);
	T_EQ_INT(T0 % (60 * SEC), 0);	/* T0 starts an interval */
	packet(T0);
	T_EQ_INT(agent_stop(&a, 0), 0);
	T_EQ_INT(nreps, 1);
	T_EQ_INT(reps[0].start, T0);
	T_EQ_INT(reps[0].end, T0 + SEC);
	T_EQ_INT(reps[0].packets, 1);
	agent_free(&a);
	/* within a second: rounded up as before */
	start_as(1);
	packet(T0 + 2 * SEC + SEC / 2);
	T_EQ_INT(agent_stop(&a, 0), 0);
	T_EQ_INT(reps[0].end, T0 + 3 * SEC);
	agent_free(&a);
}

int main(void)
{
	T_RUN(test_clock_back_twice);
	T_RUN(test_sleep_bounded);
	T_RUN(test_stop_clock_behind);
	T_RUN(test_down_clock_back);
	T_RUN(test_last_packet_on_a_second);
	return T_DONE();
}
