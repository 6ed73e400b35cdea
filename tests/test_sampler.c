/* test_sampler.c - the system sampler: with an interval far longer than
 * the test, nothing is sampled until dlt_sampler_sample_now, which returns
 * with exactly one new sample in the ring (the end of a short run still
 * reports); a burst of CPU work shows as CPU use; stop joins the thread. */
#include <string.h>
#include <time.h>

#include "dltrain/sysmon.h"
#include "test.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(void)
{
    dlt_sampler *s = NULL;
    TEST_OK(dlt_sampler_start(0, 0, "h", 0, &s) < 0, "a zero interval is refused");
    ASSERT_EQ(dlt_sampler_start(3600, 3, "testhost", 0, &s), 0, "start with a one-hour interval");
    ASSERT_EQ(dlt_sampler_newest(s), 0, "no sample before the interval");

    /* 0.2 s of CPU time (not wall time: a loaded machine may run us
     * slowly), so the sample's CPU share cannot be 0. */
    volatile double x = 0;
    for (double t0 = cpu_s(); cpu_s() - t0 < 0.2;)
        for (int i = 0; i < 10000; i++)
            x += i * 1e-9;
    dlt_sampler_sample_now(s);
    ASSERT_EQ(dlt_sampler_newest(s), 1, "sample_now leaves one sample in the ring");
    dlt_sys_sample out[DLT_SYS_RING];
    memset(out, 0, sizeof out);
    ASSERT_EQ(dlt_sampler_since(s, 0, out), 1, "since(0) returns it");
    ASSERT_EQ(out[0].rank, 3, "it carries the rank");
    TEST_OK(strcmp(out[0].host, "testhost") == 0, "it carries the host (%s)", out[0].host);
    TEST_OK(out[0].cpu_pct > 0 && out[0].cpu_pct < 10000, "busy CPU shows (%.1f%%)", out[0].cpu_pct);
    TEST_OK(out[0].rss_bytes > 0, "resident size (%g bytes)", out[0].rss_bytes);
    TEST_OK(out[0].time > 1.6e9, "wall-clock time (%.0f)", out[0].time);

    dlt_sampler_sample_now(s);
    ASSERT_EQ(dlt_sampler_newest(s), 2, "a second request, a second sample");
    ASSERT_EQ(dlt_sampler_since(s, 1, out), 1, "since(1) returns only the new one");
    ASSERT_EQ(out[0].seq, 2, "in sequence");
    dlt_sampler_stop(s);
    dlt_sampler_sample_now(NULL); /* the training loop calls it with sampling off */
    TEST_DONE();
}
