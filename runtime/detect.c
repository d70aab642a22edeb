/*
 * BlazeFace decoding. The anchor layout and option values are those of
 * MediaPipe's face detection graphs (SSD anchors with fixed size 1, offsets
 * 0.5); the fully convolutional use of the full-range model extends its
 * 48x48 grid to any input whose sides are multiples of 4.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visid/log.h"
#include "visid/track.h"
#include "detect.h"

static float *put_grid(float *a, int cells_x, int cells_y, int per_cell)
{
	for (int y = 0; y < cells_y; y++)
		for (int x = 0; x < cells_x; x++)
			for (int k = 0; k < per_cell; k++, a += 4) {
				a[0] = (x + 0.5f) / cells_x;
				a[1] = (y + 0.5f) / cells_y;
				a[2] = 1.0f;
				a[3] = 1.0f;
			}
	return a;
}

int visid_anchors_full_range(int in_w, int in_h, float *anchors)
{
	if (in_w <= 0 || in_h <= 0 || in_w % 4 || in_h % 4)
		return -EINVAL;
	if (anchors)
		put_grid(anchors, in_w / 4, in_h / 4, 1);
	return (in_w / 4) * (in_h / 4);
}

int visid_anchors_short_range(float *anchors)
{
	/* Stride 8: one layer, 2 anchors; stride 16: three layers of 2 share cells. */
	if (anchors)
		put_grid(put_grid(anchors, 16, 16, 2), 8, 8, 6);
	return VISID_SHORT_RANGE_ANCHORS;
}

static float sigmoid_clamped(float logit)
{
	if (!(logit > -100.0f))
		logit = -100.0f;	/* also NaN: a broken output never detects */
	if (logit > 100.0f)
		logit = 100.0f;
	return 1.0f / (1.0f + expf(-logit));
}

static void decode_one(const float *r, const float *a, float inv_w, float inv_h,
		       struct visid_detection *d)
{
	float cx = r[0] * inv_w * a[2] + a[0], cy = r[1] * inv_h * a[3] + a[1];
	float w = r[2] * inv_w * a[2], h = r[3] * inv_h * a[3];

	d->box[0] = cx - w / 2;
	d->box[1] = cy - h / 2;
	d->box[2] = cx + w / 2;
	d->box[3] = cy + h / 2;
	for (int k = 0; k < 6; k++) {
		d->kp[k][0] = r[4 + 2 * k] * inv_w * a[2] + a[0];
		d->kp[k][1] = r[5 + 2 * k] * inv_h * a[3] + a[1];
	}
}

int visid_detect_decode(const float *regressors, const float *logits, const float *anchors,
			int count, int in_w, int in_h, float min_score,
			struct visid_detection *out, int max)
{
	float inv_w = 1.0f / in_w, inv_h = 1.0f / in_h;
	int n = 0;

	for (int i = 0; i < count; i++) {
		float score = sigmoid_clamped(logits[i]);
		int slot = n;

		if (score < min_score)
			continue;
		if (n == max) {
			/* Full: the new one replaces the weakest, if it is better. */
			slot = -1;
			for (int j = 0; j < n; j++)
				if (out[j].score < score &&
				    (slot < 0 || out[j].score < out[slot].score))
					slot = j;
			if (slot < 0)
				continue;
		} else {
			n++;
		}
		out[slot].score = score;
		out[slot].anchor = i;
		decode_one(regressors + 16 * (size_t)i, anchors + 4 * (size_t)i, inv_w, inv_h,
			   &out[slot]);
	}
	return n;
}

/* Best score first; equal scores keep anchor order so results are deterministic. */
static int by_score(const void *pa, const void *pb)
{
	const struct visid_detection *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->anchor - b->anchor;
}

int visid_detect_nms(struct visid_detection *dets, int count, float iou)
{
	char *taken;
	int kept = 0;

	if (count <= 0)
		return 0;
	taken = calloc(count, 1);
	if (!taken) {
		visid_err("detect: out of memory for NMS of %d detections", count);
		return -ENOMEM;
	}
	qsort(dets, count, sizeof(*dets), by_score);
	for (int i = 0; i < count; i++) {
		struct visid_detection merged = {.score = dets[i].score, .anchor = dets[i].anchor};
		float total = 0;

		if (taken[i])
			continue;
		for (int j = i; j < count; j++) {
			if (taken[j] || visid_box_iou(dets[i].box, dets[j].box) <= iou)
				continue;
			taken[j] = 1;
			total += dets[j].score;
		}
		/* taken now marks this group too; weights are score / total */
		for (int j = i; j < count; j++) {
			float w;

			if (taken[j] != 1)
				continue;
			taken[j] = 2;
			w = dets[j].score / total;
			for (int c = 0; c < 4; c++)
				merged.box[c] += dets[j].box[c] * w;
			for (int k = 0; k < 6; k++) {
				merged.kp[k][0] += dets[j].kp[k][0] * w;
				merged.kp[k][1] += dets[j].kp[k][1] * w;
			}
		}
		dets[kept++] = merged;
	}
	free(taken);
	return kept;
}

void visid_detection_map(struct visid_detection *det, int in_w, int in_h, const double m[6])
{
	float *pts[8];
	int n = 0;

	pts[n++] = &det->box[0];
	pts[n++] = &det->box[2];
	for (int k = 0; k < 6; k++)
		pts[n++] = det->kp[k];
	for (int i = 0; i < n; i++) {
		double u = pts[i][0] * (double)in_w, v = pts[i][1] * (double)in_h;

		pts[i][0] = (float)(m[0] * u + m[1] * v + m[2]);
		pts[i][1] = (float)(m[3] * u + m[4] * v + m[5]);
	}
}

void visid_detection_clamp(struct visid_detection *det, int width, int height)
{
	for (int c = 0; c < 4; c++) {
		float limit = (c & 1) ? height : width;

		det->box[c] = fminf(fmaxf(det->box[c], 0.0f), limit);
	}
}
