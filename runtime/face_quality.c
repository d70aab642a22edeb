/*
 * Head pose from BlazeFace keypoints, and the light, sharpness and size of a
 * face. All thresholds below come from the calibration runs described in
 * docs/POSE.md and docs/QUALITY.md; change them only with a new run.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visid/log.h"
#include "face_quality.h"
#include "preprocess.h"

/* Pose bins (docs/POSE.md). */
#define POSE_YAW_TURNED 0.18f	/* |yaw| above: turned left or right */
#define POSE_PITCH_UP 0.43f	/* pitch below: chin raised */
#define POSE_PITCH_DOWN 0.55f	/* pitch above: chin lowered */
#define POSE_ROLL_MAX 35.0f	/* head tilted further: none of the five */

/* Quality limits (docs/QUALITY.md). */
#define QUALITY_DARK 60.0f	/* mean face luma below */
#define QUALITY_BRIGHT 220.0f	/* mean face luma above */
#define QUALITY_BLURRED 0.04f	/* second-difference variance over luma variance below */
#define QUALITY_MIN_WIDTH 64.0f	/* face box narrower, in pixels */

int visid_pose_measure(const float kp[6][2], float *yaw, float *pitch, float *roll)
{
	float ex = kp[1][0] - kp[0][0], ey = kp[1][1] - kp[0][1];
	float iod = hypotf(ex, ey), mx, my, nose_x, nose_y, mouth_y;

	if (!(iod > 1e-3f))
		return -EINVAL;
	ex /= iod;
	ey /= iod;
	mx = (kp[0][0] + kp[1][0]) / 2;
	my = (kp[0][1] + kp[1][1]) / 2;
	/* (ex, ey) along the eyes, (-ey, ex) down the face */
	nose_x = (kp[2][0] - mx) * ex + (kp[2][1] - my) * ey;
	nose_y = -(kp[2][0] - mx) * ey + (kp[2][1] - my) * ex;
	mouth_y = -(kp[3][0] - mx) * ey + (kp[3][1] - my) * ex;
	*yaw = nose_x / iod;
	*pitch = mouth_y > 1e-3f ? nose_y / mouth_y : NAN;
	*roll = atan2f(ey, ex) * (180.0f / (float)M_PI);
	return isfinite(*pitch) ? 0 : -EINVAL;
}

enum visid_pose visid_pose_classify(float yaw, float pitch, float roll)
{
	if (!isfinite(yaw) || !isfinite(pitch) || fabsf(roll) > POSE_ROLL_MAX)
		return VISID_POSE_OTHER;
	/* nose towards the image right: the subject turned to their own left */
	if (yaw > POSE_YAW_TURNED)
		return VISID_POSE_LEFT;
	if (yaw < -POSE_YAW_TURNED)
		return VISID_POSE_RIGHT;
	if (pitch < POSE_PITCH_UP)
		return VISID_POSE_UP;
	if (pitch > POSE_PITCH_DOWN)
		return VISID_POSE_DOWN;
	return VISID_POSE_FRONT;
}

/* Variance of a running sum and sum of squares over n values. */
static double variance(double sum, double sum2, int n)
{
	return fmax(0.0, sum2 / n - (sum / n) * (sum / n));
}

/*
 * Brightness is the mean luma of the face box. Sharpness is the variance of
 * the Laplacian's two parts, the second differences along x and along y, of
 * the box resampled to a fixed size, taking the smaller one (motion blur
 * flattens one direction only), divided by the luma variance so that a dim
 * or low-contrast face is not mistaken for a blurred one.
 */
int visid_quality_measure(const struct visid_image *img, struct visid_face *face)
{
	const int n = VISID_QUALITY_SIZE;
	float w = face->box[2] - face->box[0], h = face->box[3] - face->box[1];
	struct visid_resample rs = {
		.out_w = n, .out_h = n, .mean = 0, .std = 1, .shrink_above = 2.0f,
		.m = { w / n, 0, face->box[0], 0, h / n, face->box[1] },
	};
	double sum = 0, sum2 = 0, dx = 0, dx2 = 0, dy = 0, dy2 = 0, var;
	float *rgb, *luma;
	int ret, count = (n - 2) * (n - 2);

	face->brightness = 0;
	face->sharpness = 0;
	if (!(w >= 1 && h >= 1))
		return -EINVAL;
	rgb = malloc(sizeof(float) * 4 * n * n);
	if (!rgb)
		return -ENOMEM;
	luma = rgb + 3 * n * n;
	ret = visid_pre_resample(img, &rs, rgb);
	if (ret)
		goto out_free;
	for (int i = 0; i < n * n; i++) {
		luma[i] = 0.299f * rgb[3 * i] + 0.587f * rgb[3 * i + 1] + 0.114f * rgb[3 * i + 2];
		sum += luma[i];
		sum2 += (double)luma[i] * luma[i];
	}
	for (int y = 1; y < n - 1; y++)
		for (int x = 1; x < n - 1; x++) {
			const float *p = luma + y * n + x;
			double ddx = p[-1] + p[1] - 2 * p[0], ddy = p[-n] + p[n] - 2 * p[0];

			dx += ddx;
			dx2 += ddx * ddx;
			dy += ddy;
			dy2 += ddy * ddy;
		}
	face->brightness = (float)(sum / (n * n));
	var = variance(sum, sum2, n * n);
	if (var > 1.0)
		face->sharpness = (float)(fmin(variance(dx, dx2, count), variance(dy, dy2, count)) /
					  var);

out_free:
	/* A resampled patch of the face: nothing of it outlives the measurement. */
	explicit_bzero(rgb, sizeof(float) * 4 * n * n);
	free(rgb);
	return ret;
}

unsigned visid_quality_issues(const struct visid_face *face)
{
	unsigned issues = 0;

	if (face->brightness < QUALITY_DARK)
		issues |= VISID_Q_TOO_DARK;
	else if (face->brightness > QUALITY_BRIGHT)
		issues |= VISID_Q_TOO_BRIGHT;
	if (face->sharpness < QUALITY_BLURRED)
		issues |= VISID_Q_BLURRED;
	if (face->box[2] - face->box[0] < QUALITY_MIN_WIDTH)
		issues |= VISID_Q_TOO_SMALL;
	return issues;
}
