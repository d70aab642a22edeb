/* The order statistics visid-bench reports: percentiles and their summary on known arrays. */
#include <math.h>

#include "harness.h"
#include "../tools/visid-bench/stats.h"

static int near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

static void test_percentile_interpolates(void)
{
	const double v[4] = {1, 2, 3, 4};
	const struct {
		double p, want;
	} cases[] = {{0, 1}, {10, 1.3}, {50, 2.5}, {90, 3.7}, {99, 3.97}, {100, 4}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double got = bench_percentile(v, 4, cases[i].p);

		VT_CHECK(near(got, cases[i].want), "p%g of 1,2,3,4 is %g, want %g", cases[i].p, got,
			 cases[i].want);
	}
}

static void test_stats_of_unsorted_runs(void)
{
	double v[5] = {5, 1, 4, 2, 3};
	struct bench_stats s;

	bench_stats_compute(v, 5, &s);
	VT_CHECK(s.n == 5 && s.min == 1 && s.max == 5, "n %d min %g max %g", s.n, s.min, s.max);
	VT_CHECK(near(s.p50, 3) && near(s.mean, 3), "median %g mean %g, want 3 and 3", s.p50,
		 s.mean);
	VT_CHECK(near(s.p10, 1.4) && near(s.p90, 4.6) && near(s.p99, 4.96),
		 "p10 %g p90 %g p99 %g, want 1.4 4.6 4.96", s.p10, s.p90, s.p99);
	VT_CHECK(v[0] == 1 && v[4] == 5, "values left unsorted: %g ... %g", v[0], v[4]);
}

static void test_stats_of_one_and_none(void)
{
	double one = 7.5;
	struct bench_stats s;

	bench_stats_compute(&one, 1, &s);
	VT_CHECK(s.min == 7.5 && s.p10 == 7.5 && s.p50 == 7.5 && s.p99 == 7.5 && s.max == 7.5,
		 "one run of 7.5: min %g p10 %g p50 %g p99 %g max %g", s.min, s.p10, s.p50, s.p99,
		 s.max);
	bench_stats_compute(&one, 0, &s);
	VT_CHECK(s.n == 0 && s.p50 == 0 && s.max == 0, "no runs: n %d p50 %g max %g", s.n, s.p50,
		 s.max);
}

VISID_SUITE(bench, "bench", NULL, NULL, NULL, VISID_TEST(test_percentile_interpolates),
	    VISID_TEST(test_stats_of_unsorted_runs), VISID_TEST(test_stats_of_one_and_none))
