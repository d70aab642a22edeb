/*
 * Order statistics of repeated timings, for visid-bench and its test.
 * Percentiles interpolate linearly between the two nearest ranks, so the
 * 50th of an even count is the mean of the middle two, the 0th is the
 * minimum and the 100th the maximum.
 */
#ifndef VISID_BENCH_STATS_H
#define VISID_BENCH_STATS_H

#include <stdlib.h>

struct bench_stats {
	int n;
	double min, p10, p50, p90, p99, max, mean;
};

static inline int bench_compare_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return a < b ? -1 : a > b;
}

/* p in [0, 100] of n >= 1 values sorted ascending. */
static inline double bench_percentile(const double *sorted, int n, double p)
{
	double pos = p / 100.0 * (n - 1);
	int lo = (int)pos;

	if (lo >= n - 1)
		return sorted[n - 1];
	return sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]);
}

/* Sorts values in place; all zero when n < 1. */
static inline void bench_stats_compute(double *values, int n, struct bench_stats *s)
{
	double sum = 0;

	*s = (struct bench_stats){.n = n > 0 ? n : 0};
	if (n < 1)
		return;
	qsort(values, n, sizeof(*values), bench_compare_double);
	for (int i = 0; i < n; i++)
		sum += values[i];
	s->min = values[0];
	s->max = values[n - 1];
	s->mean = sum / n;
	s->p10 = bench_percentile(values, n, 10);
	s->p50 = bench_percentile(values, n, 50);
	s->p90 = bench_percentile(values, n, 90);
	s->p99 = bench_percentile(values, n, 99);
}

#endif
