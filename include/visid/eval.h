/*
 * Evaluation of face vectors: every pair of labelled images is scored
 * (cosine), same-label pairs as genuine and the others as impostors, and the
 * error rates follow: equal error rate, true accept rate at a false accept
 * rate of 1e-2 and 1e-3, the threshold for 1e-3, and at that one global
 * threshold the false match and false non-match rates of each group
 * (demographic or otherwise) so differences between groups show.
 *
 * A pair is accepted when its score >= threshold. Rates are fractions (0..1).
 */
#ifndef VISID_EVAL_H
#define VISID_EVAL_H

#include <stddef.h>

#include "visid/face.h"

#define VISID_EVAL_POINTS 2	/* FAR 1e-2 and 1e-3, in that order */
#define VISID_EVAL_CLOSEST 5

/* One operating point: the lowest threshold whose false accept rate is at most the target. */
struct visid_eval_point {
	double far_target;
	float threshold;
	double far;		/* reached on these impostor scores */
	double tar;
	/*
	 * 0 when fewer than 1/far_target impostor pairs exist: the threshold
	 * then only sits above every impostor score and the rate is not measured.
	 */
	int resolved;
};

struct visid_eval_rates {
	size_t genuine, impostor;
	double eer;		/* (FAR + FRR) / 2 where they are closest */
	float eer_threshold;
	struct visid_eval_point at_far[VISID_EVAL_POINTS];
};

/*
 * Rates of a set of genuine and impostor scores (neither empty; the arrays
 * are not changed). -EINVAL for empty sets or a NaN score.
 */
int visid_eval_rates(const float *genuine, size_t n_genuine, const float *impostor,
		     size_t n_impostor, struct visid_eval_rates *out);
/* Lowest threshold accepting at most floor(far * n) of the impostor scores. */
float visid_eval_threshold_at_far(const float *impostor, size_t n, double far);
/* Fraction of scores >= threshold. */
double visid_eval_accept_rate(const float *scores, size_t n, float threshold);

struct visid_eval_group {
	const char *name;
	size_t images;
	size_t genuine, impostor;	/* pairs with both images in the group */
	size_t false_non_matches, false_matches;
	double fnmr, fmr;		/* at the global threshold (FAR 1e-3) */
};

/*
 * Per-image margins: the best genuine score of an image minus its best
 * impostor score, over the images that have both. A negative margin means a
 * stranger looked more like the image than the person's own other images.
 */
struct visid_eval_margins {
	size_t probes;
	size_t negative;
	double min, p05, median, mean;
};

/* The impostor pairs that came closest, and how far below the threshold they stayed. */
struct visid_eval_confusion {
	const char *label_a, *label_b;
	float score;
	float below_threshold;	/* threshold - score; negative for a false match */
};

struct visid_eval_report {
	size_t images, labels;
	struct visid_eval_rates rates;
	float threshold;	/* the global one: rates.at_far[1].threshold */
	int group_count;
	const struct visid_eval_group *groups;	/* sorted by name */
	size_t cross_group_impostor, cross_group_false_matches;
	double cross_group_fmr;
	struct visid_eval_margins margins;
	int closest_count;
	struct visid_eval_confusion closest[VISID_EVAL_CLOSEST];
};

struct visid_eval;

int visid_eval_create(struct visid_eval **out);
/* Wipes the collected vectors before freeing them. */
void visid_eval_destroy(struct visid_eval *ev);

/*
 * Adds one image's vector (normalised on copy) under a label and an optional
 * group (NULL or "" for none). -EINVAL for a zero, NaN or infinite vector.
 */
int visid_eval_add(struct visid_eval *ev, const char *label, const char *group,
		   const float vec[VISID_EMBED_DIM]);

/*
 * Scores every pair and fills *out; its pointers stay valid until the next
 * compute or destroy. -EINVAL (logged) when there is no genuine or no
 * impostor pair.
 */
int visid_eval_compute(struct visid_eval *ev, struct visid_eval_report *out);

/*
 * After compute: an SVG with the ROC curves (overall and per group) and the
 * genuine and impostor score histograms (overall and per group).
 */
int visid_eval_write_svg(const struct visid_eval *ev, const char *path);

#endif
