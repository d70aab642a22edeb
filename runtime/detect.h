/*
 * BlazeFace output decoding on the CPU: SSD anchors, box and keypoint
 * decoding, and MediaPipe's weighted non-maximum suppression.
 */
#ifndef VISID_DETECT_H
#define VISID_DETECT_H

#define VISID_FULL_RANGE_SIZE 192
#define VISID_SHORT_RANGE_SIZE 128
#define VISID_SHORT_RANGE_ANCHORS 896
#define VISID_FULL_RANGE_MIN_SCORE 0.6f
#define VISID_SHORT_RANGE_MIN_SCORE 0.5f
#define VISID_NMS_IOU 0.3f

/* One detection: coordinates normalised to the input tensor, or image pixels once mapped. */
struct visid_detection {
	float score;
	float box[4];		/* x0, y0, x1, y1 */
	float kp[6][2];
	int anchor;
};

/*
 * Full-range anchors for an in_w x in_h input (multiples of 4): one per 4x4
 * input pixels, (x_centre, y_centre, w, h) normalised, row-major. anchors
 * may be NULL to count. Returns the count or -EINVAL.
 */
int visid_anchors_full_range(int in_w, int in_h, float *anchors);
/* The 896 short-range anchors: 16x16 cells x 2, then 8x8 cells x 6. */
int visid_anchors_short_range(float *anchors);

/*
 * Decodes the anchors whose score (sigmoid of the clamped logit) reaches
 * min_score. Regressors are 16 floats per anchor in input pixels; x values
 * are divided by in_w and y values by in_h. Returns the number written
 * (at most max; the best-scoring ones when there are more).
 */
int visid_detect_decode(const float *regressors, const float *logits, const float *anchors,
			int count, int in_w, int in_h, float min_score,
			struct visid_detection *out, int max);

/*
 * Weighted NMS in place (overlap by visid_box_iou of visid/track.h): the best detection and every
 * one overlapping it by more than iou become their score-weighted mean (the best one's score).
 * Returns the number left, best first.
 */
int visid_detect_nms(struct visid_detection *dets, int count, float iou);

/* Maps normalised tensor coordinates to image pixels by the tensor-to-image affine m. */
void visid_detection_map(struct visid_detection *det, int in_w, int in_h, const double m[6]);
/* Clamps the box to [0, width] x [0, height]. */
void visid_detection_clamp(struct visid_detection *det, int width, int height);

#endif
