/*
 * Evaluation: all-pairs scoring of labelled face vectors, error rates at the
 * operating points the product cares about, per-group rates at one global
 * threshold, margins, and an SVG of the curves.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "visid/eval.h"
#include "visid/log.h"
#include "visid/match.h"

#define DIM VISID_EMBED_DIM
#define NO_GROUP -1
#define CROSS_GROUP -2
#define ALL_PAIRS -3	/* for selecting scores: every pair, grouped or not */

static const double far_targets[VISID_EVAL_POINTS] = { 1e-2, 1e-3 };

struct sample {
	float vec[DIM];
	int label, group;
};

struct names {
	char **name;
	int count, cap;
};

struct scores {
	float *score;
	int *group;	/* group of the pair: both images' group, else NO_GROUP or CROSS_GROUP */
	size_t count, cap;
};

struct visid_eval {
	struct sample *sample;
	size_t count, cap;
	struct names labels, groups;
	struct scores genuine, impostor;
	struct visid_eval_group *group_report;
	struct visid_eval_report report;
	int computed;
};

static int cmp_float_up(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static float *sorted_copy(const float *v, size_t n)
{
	float *copy = malloc((n ? n : 1) * sizeof(*copy));

	if (copy) {
		memcpy(copy, v, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), cmp_float_up);
	}
	return copy;
}

/* Number of entries of an ascending array below t. */
static size_t count_below(const float *up, size_t n, float t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (up[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

double visid_eval_accept_rate(const float *scores, size_t n, float threshold)
{
	size_t accepted = 0;

	for (size_t i = 0; i < n; i++)
		accepted += scores[i] >= threshold;
	return n ? (double)accepted / n : 0;
}

static float threshold_sorted(const float *up, size_t n, double far)
{
	size_t allowed = (size_t)floor(far * n + 1e-9);

	if (allowed >= n)
		return up[0];
	return nextafterf(up[n - 1 - allowed], INFINITY);
}

float visid_eval_threshold_at_far(const float *impostor, size_t n, double far)
{
	float *up, t;

	if (!n)
		return -INFINITY;
	up = sorted_copy(impostor, n);
	if (!up)
		return NAN;
	t = threshold_sorted(up, n, far);
	free(up);
	return t;
}

/*
 * The EER is read at the score threshold (every score is a candidate) where
 * FAR and FRR are closest, as their mean; the lowest such threshold wins ties.
 */
static void equal_error(const float *gen, size_t ng, const float *imp, size_t ni,
			struct visid_eval_rates *out)
{
	double best_gap = INFINITY;
	size_t a = 0, b = 0;

	while (a < ng || b < ni) {
		float t = b >= ni || (a < ng && gen[a] <= imp[b]) ? gen[a] : imp[b];
		double frr = (double)count_below(gen, ng, t) / ng;
		double far = (double)(ni - count_below(imp, ni, t)) / ni;

		if (fabs(far - frr) < best_gap) {
			best_gap = fabs(far - frr);
			out->eer = (far + frr) / 2;
			out->eer_threshold = t;
		}
		while (a < ng && gen[a] == t)
			a++;
		while (b < ni && imp[b] == t)
			b++;
	}
}

int visid_eval_rates(const float *genuine, size_t ng, const float *impostor, size_t ni,
		     struct visid_eval_rates *out)
{
	float *gen, *imp;
	int ret = 0;

	if (!ng || !ni)
		return -EINVAL;
	for (size_t i = 0; i < ng; i++)
		if (isnan(genuine[i]))
			return -EINVAL;
	for (size_t i = 0; i < ni; i++)
		if (isnan(impostor[i]))
			return -EINVAL;
	gen = sorted_copy(genuine, ng);
	imp = sorted_copy(impostor, ni);
	if (!gen || !imp) {
		ret = -ENOMEM;
		goto out_free;
	}

	memset(out, 0, sizeof(*out));
	out->genuine = ng;
	out->impostor = ni;
	equal_error(gen, ng, imp, ni, out);
	for (int p = 0; p < VISID_EVAL_POINTS; p++) {
		struct visid_eval_point *pt = &out->at_far[p];

		pt->far_target = far_targets[p];
		pt->threshold = threshold_sorted(imp, ni, pt->far_target);
		pt->far = (double)(ni - count_below(imp, ni, pt->threshold)) / ni;
		pt->tar = (double)(ng - count_below(gen, ng, pt->threshold)) / ng;
		pt->resolved = ni * pt->far_target >= 1;
	}
out_free:
	free(gen);
	free(imp);
	return ret;
}

int visid_eval_create(struct visid_eval **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out) {
		visid_err("eval: no memory");
		return -ENOMEM;
	}
	return 0;
}

static void free_names(struct names *n)
{
	for (int i = 0; i < n->count; i++)
		free(n->name[i]);
	free(n->name);
}

void visid_eval_destroy(struct visid_eval *ev)
{
	if (!ev)
		return;
	if (ev->sample)
		explicit_bzero(ev->sample, ev->count * sizeof(*ev->sample));
	free(ev->sample);
	free_names(&ev->labels);
	free_names(&ev->groups);
	free(ev->genuine.score);
	free(ev->genuine.group);
	free(ev->impostor.score);
	free(ev->impostor.group);
	free(ev->group_report);
	free(ev);
}

static int intern(struct names *n, const char *name)
{
	char **grown;

	for (int i = 0; i < n->count; i++)
		if (!strcmp(n->name[i], name))
			return i;
	if (n->count == n->cap) {
		grown = realloc(n->name, (n->cap ? 2 * n->cap : 16) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		n->name = grown;
		n->cap = n->cap ? 2 * n->cap : 16;
	}
	n->name[n->count] = strdup(name);
	if (!n->name[n->count])
		return -ENOMEM;
	return n->count++;
}

int visid_eval_add(struct visid_eval *ev, const char *label, const char *group,
		   const float vec[DIM])
{
	struct sample *s;
	double norm = 0;

	for (int j = 0; j < DIM; j++)
		norm += (double)vec[j] * vec[j];
	if (!(norm > 0) || !isfinite(norm)) {
		visid_err("eval: vector of an image of '%s' is zero, NaN or infinite", label);
		return -EINVAL;
	}
	if (ev->count == ev->cap) {
		size_t cap = ev->cap ? 2 * ev->cap : 64;
		struct sample *grown = calloc(cap, sizeof(*grown));

		if (!grown)
			goto err_nomem;
		if (ev->sample) {
			memcpy(grown, ev->sample, ev->count * sizeof(*grown));
			explicit_bzero(ev->sample, ev->count * sizeof(*ev->sample));
		}
		free(ev->sample);
		ev->sample = grown;
		ev->cap = cap;
	}
	s = &ev->sample[ev->count];
	s->label = intern(&ev->labels, label);
	s->group = group && *group ? intern(&ev->groups, group) : NO_GROUP;
	if (s->label < 0 || s->group == -ENOMEM)
		goto err_nomem;
	norm = 1 / sqrt(norm);
	for (int j = 0; j < DIM; j++)
		s->vec[j] = (float)(vec[j] * norm);
	ev->count++;
	return 0;

err_nomem:
	visid_err("eval: no memory for image %zu ('%s')", ev->count + 1, label);
	return -ENOMEM;
}

static int push_score(struct scores *s, float score, int group)
{
	if (s->count == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		float *score_grown = realloc(s->score, cap * sizeof(*score_grown));
		int *group_grown;

		if (!score_grown)
			return -ENOMEM;
		s->score = score_grown;
		group_grown = realloc(s->group, cap * sizeof(*group_grown));
		if (!group_grown)
			return -ENOMEM;
		s->group = group_grown;
		s->cap = cap;
	}
	s->score[s->count] = score;
	s->group[s->count++] = group;
	return 0;
}

/* Keeps the highest impostor scores, highest first. */
static void note_confusion(struct visid_eval *ev, const struct sample *a, const struct sample *b,
			   float score)
{
	struct visid_eval_report *r = &ev->report;
	int at = r->closest_count;

	while (at > 0 && r->closest[at - 1].score < score)
		at--;
	if (at >= VISID_EVAL_CLOSEST)
		return;
	if (r->closest_count < VISID_EVAL_CLOSEST)
		r->closest_count++;
	memmove(&r->closest[at + 1], &r->closest[at],
		(r->closest_count - 1 - at) * sizeof(r->closest[0]));
	r->closest[at] = (struct visid_eval_confusion){ .label_a = ev->labels.name[a->label],
							.label_b = ev->labels.name[b->label],
							.score = score };
}

static int pair_group(const struct sample *a, const struct sample *b)
{
	if (a->group == NO_GROUP || b->group == NO_GROUP)
		return NO_GROUP;
	return a->group == b->group ? a->group : CROSS_GROUP;
}

/* All pairs; best[2 * i] and best[2 * i + 1] get image i's best genuine and impostor score. */
static int score_pairs(struct visid_eval *ev, float *best)
{
	for (size_t i = 0; i < 2 * ev->count; i++)
		best[i] = -INFINITY;
	for (size_t i = 0; i < ev->count; i++) {
		for (size_t j = i + 1; j < ev->count; j++) {
			const struct sample *a = &ev->sample[i], *b = &ev->sample[j];
			float s = visid_cosine_exact(a->vec, b->vec);
			int genuine = a->label == b->label;
			struct scores *set = genuine ? &ev->genuine : &ev->impostor;

			if (push_score(set, s, pair_group(a, b)))
				return -ENOMEM;
			if (!genuine)
				note_confusion(ev, a, b, s);
			best[2 * i + !genuine] = fmaxf(best[2 * i + !genuine], s);
			best[2 * j + !genuine] = fmaxf(best[2 * j + !genuine], s);
		}
	}
	return 0;
}

static void margin_stats(struct visid_eval *ev, float *best)
{
	struct visid_eval_margins *m = &ev->report.margins;
	float *margin = best;	/* reuses the front of the array, which is read ahead */
	double sum = 0;
	size_t n = 0;

	for (size_t i = 0; i < ev->count; i++) {
		if (isinf(best[2 * i]) || isinf(best[2 * i + 1]))
			continue;
		margin[n] = best[2 * i] - best[2 * i + 1];
		sum += margin[n++];
	}
	memset(m, 0, sizeof(*m));
	if (!n)
		return;
	qsort(margin, n, sizeof(*margin), cmp_float_up);
	m->probes = n;
	m->min = margin[0];
	m->p05 = margin[(size_t)(0.05 * (n - 1))];
	m->median = n % 2 ? margin[n / 2] : (margin[n / 2 - 1] + margin[n / 2]) / 2.0;
	m->mean = sum / n;
	for (size_t i = 0; i < n; i++)
		m->negative += margin[i] < 0;
}

static int cmp_group_name(const void *a, const void *b)
{
	return strcmp(((const struct visid_eval_group *)a)->name,
		      ((const struct visid_eval_group *)b)->name);
}

static int group_stats(struct visid_eval *ev)
{
	struct visid_eval_report *r = &ev->report;
	float t = r->threshold;
	struct visid_eval_group *g;

	free(ev->group_report);
	ev->group_report = calloc(ev->groups.count ? ev->groups.count : 1, sizeof(*g));
	if (!ev->group_report)
		return -ENOMEM;
	g = ev->group_report;
	for (int k = 0; k < ev->groups.count; k++)
		g[k].name = ev->groups.name[k];
	for (size_t i = 0; i < ev->count; i++)
		if (ev->sample[i].group >= 0)
			g[ev->sample[i].group].images++;
	for (size_t i = 0; i < ev->genuine.count; i++) {
		int k = ev->genuine.group[i];

		if (k >= 0) {
			g[k].genuine++;
			g[k].false_non_matches += ev->genuine.score[i] < t;
		}
	}
	for (size_t i = 0; i < ev->impostor.count; i++) {
		int k = ev->impostor.group[i];
		int accepted = ev->impostor.score[i] >= t;

		if (k >= 0) {
			g[k].impostor++;
			g[k].false_matches += accepted;
		} else if (k == CROSS_GROUP) {
			r->cross_group_impostor++;
			r->cross_group_false_matches += accepted;
		}
	}
	for (int k = 0; k < ev->groups.count; k++) {
		g[k].fnmr = g[k].genuine ? (double)g[k].false_non_matches / g[k].genuine : 0;
		g[k].fmr = g[k].impostor ? (double)g[k].false_matches / g[k].impostor : 0;
	}
	r->cross_group_fmr = r->cross_group_impostor
				 ? (double)r->cross_group_false_matches / r->cross_group_impostor
				 : 0;
	qsort(g, ev->groups.count, sizeof(*g), cmp_group_name);
	r->groups = g;
	r->group_count = ev->groups.count;
	return 0;
}

int visid_eval_compute(struct visid_eval *ev, struct visid_eval_report *out)
{
	struct visid_eval_report *r = &ev->report;
	float *best = calloc(2 * (ev->count ? ev->count : 1), sizeof(*best));
	int ret;

	ev->computed = 0;
	ev->genuine.count = ev->impostor.count = 0;
	memset(r, 0, sizeof(*r));
	if (!best)
		goto err_nomem;
	if (score_pairs(ev, best))
		goto err_nomem;
	r->images = ev->count;
	r->labels = ev->labels.count;
	ret = visid_eval_rates(ev->genuine.score, ev->genuine.count, ev->impostor.score,
			       ev->impostor.count, &r->rates);
	if (ret) {
		visid_err("eval: %zu images of %d labels give %zu genuine and %zu impostor pairs; "
			  "both are needed", ev->count, ev->labels.count, ev->genuine.count,
			  ev->impostor.count);
		free(best);
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	r->threshold = r->rates.at_far[VISID_EVAL_POINTS - 1].threshold;
	for (int i = 0; i < r->closest_count; i++)
		r->closest[i].below_threshold = r->threshold - r->closest[i].score;
	margin_stats(ev, best);
	free(best);
	best = NULL;
	if (group_stats(ev))
		goto err_nomem;
	ev->computed = 1;
	*out = *r;
	return 0;

err_nomem:
	free(best);
	visid_err("eval: no memory for the pairs of %zu images", ev->count);
	return -ENOMEM;
}

/* The SVG: fixed layout, every number drawn from the scores kept by compute. */

#define PANEL_W 420
#define PANEL_H 300
#define MARGIN 56
#define HIST_LO -0.5f
#define HIST_HI 1.0f
#define HIST_BINS 60
#define FAR_DECADES 4	/* ROC from FAR 1e-4 to 1 */

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
				       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22" };

static void svg_text(FILE *f, double x, double y, const char *anchor, const char *text)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
	for (const char *c = text; *c; c++) {
		if (*c == '<')
			fputs("&lt;", f);
		else if (*c == '>')
			fputs("&gt;", f);
		else if (*c == '&')
			fputs("&amp;", f);
		else
			fputc(*c, f);
	}
	fputs("</text>\n", f);
}

static void svg_frame(FILE *f, double x, double y, const char *title, const char *xlabel,
		      const char *ylabel)
{
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"none\" "
		   "stroke=\"#333\"/>\n", x, y, PANEL_W, PANEL_H);
	svg_text(f, x + PANEL_W / 2.0, y - 8, "middle", title);
	svg_text(f, x + PANEL_W / 2.0, y + PANEL_H + 34, "middle", xlabel);
	fprintf(f, "<g transform=\"translate(%.1f %.1f) rotate(-90)\">", x - 40,
		y + PANEL_H / 2.0);
	svg_text(f, 0, 0, "middle", ylabel);
	fputs("</g>\n", f);
}

/* Scores of one group (or all for ALL_PAIRS) into a fresh ascending array. */
static float *select_scores(const struct scores *s, int group, size_t *n)
{
	float *out = malloc((s->count ? s->count : 1) * sizeof(*out));

	*n = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < s->count; i++)
		if (group == ALL_PAIRS || s->group[i] == group)
			out[(*n)++] = s->score[i];
	qsort(out, *n, sizeof(*out), cmp_float_up);
	return out;
}

/* TAR where the curve starts (no impostor accepted): the lowest it reaches. */
static double lowest_tar(const struct visid_eval *ev, int group)
{
	size_t ng, ni;
	float *gen = select_scores(&ev->genuine, group, &ng);
	float *imp = select_scores(&ev->impostor, group, &ni);
	double tar = 1;

	if (gen && imp && ng && ni)
		tar = (double)(ng - count_below(gen, ng, nextafterf(imp[ni - 1], INFINITY))) / ng;
	free(gen);
	free(imp);
	return tar;
}

static void roc_curve(FILE *f, double x0, double y0, double y_lo, const struct visid_eval *ev,
		      int group, const char *colour)
{
	size_t ng, ni;
	float *gen = select_scores(&ev->genuine, group, &ng);
	float *imp = select_scores(&ev->impostor, group, &ni);
	double last_x = -1, last_y = -1;

	if (!gen || !imp || !ng || !ni)
		goto out_free;
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", colour);
	/* Thresholds from the highest impostor score down: FAR rises one pair at a time. */
	for (size_t k = ni + 1; k-- > 0;) {
		float t = k == ni ? nextafterf(imp[ni - 1], INFINITY) : imp[k];
		double far = (double)(ni - count_below(imp, ni, t)) / ni;
		double tar = (double)(ng - count_below(gen, ng, t)) / ng;
		double lx = far > 0 ? log10(far) : -FAR_DECADES;
		double x = x0 + PANEL_W * (fmax(lx, -FAR_DECADES) + FAR_DECADES) / FAR_DECADES;
		double y = y0 + PANEL_H * (1 - tar) / (1 - y_lo);

		if (k && fabs(x - last_x) < 0.5 && fabs(y - last_y) < 0.5)
			continue;
		fprintf(f, "%.1f,%.1f ", x, y);
		last_x = x;
		last_y = y;
	}
	fputs("\"/>\n", f);
out_free:
	free(gen);
	free(imp);
}

static int group_index(const struct visid_eval *ev, const char *name)
{
	for (int i = 0; i < ev->groups.count; i++)
		if (!strcmp(ev->groups.name[i], name))
			return i;
	return NO_GROUP;
}

/* The TAR axis starts at a multiple of 0.05 just below the lowest curve, so close curves part. */
static double roc_floor(const struct visid_eval *ev)
{
	double lowest = lowest_tar(ev, ALL_PAIRS);

	for (int g = 0; g < ev->report.group_count; g++)
		lowest = fmin(lowest, lowest_tar(ev, group_index(ev, ev->report.groups[g].name)));
	return fmin(0.95, fmax(0, floor(lowest * 20 - 0.5) / 20));
}

static void roc_panel(FILE *f, double x0, double y0, const struct visid_eval *ev)
{
	double y_lo = roc_floor(ev);
	char label[96];

	svg_frame(f, x0, y0, "ROC", "false accept rate (log)", "true accept rate");
	for (int d = 0; d <= FAR_DECADES; d++) {
		double x = x0 + PANEL_W * d / (double)FAR_DECADES;

		snprintf(label, sizeof(label), "1e-%d", FAR_DECADES - d);
		svg_text(f, x, y0 + PANEL_H + 16, "middle", d == FAR_DECADES ? "1" : label);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			   "stroke=\"#ddd\"/>\n", x, y0, x, y0 + PANEL_H);
	}
	for (int k = 0; k <= 4; k++) {
		snprintf(label, sizeof(label), "%.3g", y_lo + (1 - y_lo) * k / 4.0);
		svg_text(f, x0 - 4, y0 + PANEL_H * (1 - k / 4.0) + 4, "end", label);
	}
	roc_curve(f, x0, y0, y_lo, ev, ALL_PAIRS, "#000");
	svg_text(f, x0 + PANEL_W - 6, y0 + PANEL_H - 8, "end", "all pairs (black)");
	for (int g = 0; g < ev->report.group_count; g++) {
		roc_curve(f, x0, y0, y_lo, ev, group_index(ev, ev->report.groups[g].name),
			  palette[g % 8]);
		snprintf(label, sizeof(label), "group %s", ev->report.groups[g].name);
		fprintf(f, "<g fill=\"%s\">", palette[g % 8]);
		svg_text(f, x0 + PANEL_W - 6, y0 + PANEL_H - 24 - 14 * g, "end", label);
		fputs("</g>\n", f);
	}
}

static void hist_bars(FILE *f, double x0, double y0, const float *s, size_t n, double peak,
		      const char *colour)
{
	size_t bins[HIST_BINS] = { 0 };
	double w = PANEL_W / (double)HIST_BINS;

	for (size_t i = 0; i < n; i++) {
		int b = (int)((s[i] - HIST_LO) / (HIST_HI - HIST_LO) * HIST_BINS);

		bins[b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b]++;
	}
	for (int b = 0; b < HIST_BINS; b++) {
		double h = n ? PANEL_H * bins[b] / (double)n / peak : 0;

		if (h > 0)
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				   "fill=\"%s\" fill-opacity=\"0.5\"/>\n",
				x0 + b * w, y0 + PANEL_H - h, w, h, colour);
	}
}

static double hist_peak(const float *s, size_t n)
{
	size_t bins[HIST_BINS] = { 0 }, top = 0;

	for (size_t i = 0; i < n; i++) {
		int b = (int)((s[i] - HIST_LO) / (HIST_HI - HIST_LO) * HIST_BINS);

		b = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
		if (++bins[b] > top)
			top = bins[b];
	}
	return n ? (double)top / n : 1;
}

static void hist_panel(FILE *f, double x0, double y0, const struct visid_eval *ev, int group,
		       const char *title)
{
	size_t ng, ni;
	float *gen = select_scores(&ev->genuine, group, &ng);
	float *imp = select_scores(&ev->impostor, group, &ni);
	double peak, tx;
	char label[64];

	svg_frame(f, x0, y0, title, "cosine score", "fraction of pairs");
	if (!gen || !imp)
		goto out_free;
	peak = fmax(hist_peak(gen, ng), hist_peak(imp, ni));
	hist_bars(f, x0, y0, imp, ni, peak, "#d62728");
	hist_bars(f, x0, y0, gen, ng, peak, "#2ca02c");
	for (int k = 0; k <= 6; k++) {
		snprintf(label, sizeof(label), "%.2f", HIST_LO + k * 0.25);
		svg_text(f, x0 + PANEL_W * k / 6.0, y0 + PANEL_H + 16, "middle", label);
	}
	tx = x0 + PANEL_W * (ev->report.threshold - HIST_LO) / (HIST_HI - HIST_LO);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" "
		   "stroke-dasharray=\"4 3\"/>\n", tx, y0, tx, y0 + PANEL_H);
	snprintf(label, sizeof(label), "genuine %zu (green), impostor %zu (red)", ng, ni);
	svg_text(f, x0 + 6, y0 + 16, "start", label);
	snprintf(label, sizeof(label), "threshold @FAR 1e-3: %.3f", ev->report.threshold);
	svg_text(f, x0 + 6, y0 + 32, "start", label);
out_free:
	free(gen);
	free(imp);
}

int visid_eval_write_svg(const struct visid_eval *ev, const char *path)
{
	int groups = ev->computed ? ev->report.group_count : 0;
	int rows = 1 + (groups + 1) / 2, width = 2 * (PANEL_W + 2 * MARGIN);
	int height = rows * (PANEL_H + 2 * MARGIN) + 20;
	FILE *f;

	if (!ev->computed) {
		visid_err("eval plot %s: nothing computed yet", path);
		return -EINVAL;
	}
	f = fopen(path, "w");
	if (!f) {
		int err = errno;

		visid_err("eval plot %s: %s", path, strerror(err));
		return -err;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n", width, height);
	roc_panel(f, MARGIN, MARGIN, ev);
	hist_panel(f, 3 * MARGIN + PANEL_W, MARGIN, ev, ALL_PAIRS, "scores, all pairs");
	for (int g = 0; g < groups; g++) {
		char title[96];
		int k = group_index(ev, ev->report.groups[g].name);

		snprintf(title, sizeof(title), "scores, group %s", ev->report.groups[g].name);
		hist_panel(f, MARGIN + (g % 2) * (PANEL_W + 2 * MARGIN),
			   MARGIN + (1 + g / 2) * (PANEL_H + 2 * MARGIN), ev, k, title);
	}
	fputs("</svg>\n", f);
	if (fclose(f)) {
		int err = errno;

		visid_err("eval plot %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}
