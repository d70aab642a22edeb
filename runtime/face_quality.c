/*
 * Head pose from BlazeFace keypoints, and the light, sharpness and size of a
 * face. All thresholds below come from the calibration runs described in
 * docs/POSE.md and docs/QUALITY.md; change them only with a new run.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "visid/log.h"
#include "face_quality.h"
#include "preprocess.h"

/* Pose bins (docs/POSE.md). */
#define POSE_YAW_TURNED 0.16f	/* |yaw| above: turned left or right */
#define POSE_PITCH_UP 0.40f	/* pitch below: chin raised */
#define POSE_PITCH_DOWN 0.62f	/* pitch above: chin lowered */
#define POSE_ROLL_MAX 35.0f	/* head tilted further: none of the five */

/* Quality limits (docs/QUALITY.md). */
#define QUALITY_DARK 50.0f	/* mean face luma below */
#define QUALITY_BRIGHT 215.0f	/* mean face luma above */
#define QUALITY_BLURRED 0.012f	/* Laplacian variance over luma variance below */
#define QUALITY_MIN_WIDTH 48.0f	/* face box narrower, in pixels */

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

/*
 * Brightness is the mean luma of the face box. Sharpness is the variance of
 * the 4-neighbour Laplacian of the box resampled to a fixed size, divided by
 * the luma variance, so that a dim or low-contrast face is not mistaken for
 * a blurred one.
 */
int visid_quality_measure(const struct visid_image *img, struct visid_face *face)
{
	const int n = VISID_QUALITY_SIZE;
	float w = face->box[2] - face->box[0], h = face->box[3] - face->box[1];
	struct visid_resample rs = {
		.out_w = n, .out_h = n, .mean = 0, .std = 1, .shrink_above = 2.0f,
		.m = { w / n, 0, face->box[0], 0, h / n, face->box[1] },
	};
	float *rgb, *luma;
	double sum = 0, sum2 = 0, lap = 0, lap2 = 0, var;
	int ret, count = 0;

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
			double l = p[-1] + p[1] + p[-n] + p[n] - 4 * p[0];

			lap += l;
			lap2 += l * l;
			count++;
		}
	face->brightness = (float)(sum / (n * n));
	var = sum2 / (n * n) - (sum / (n * n)) * (sum / (n * n));
	lap = lap2 / count - (lap / count) * (lap / count);
	face->sharpness = var > 1.0 ? (float)(lap / var) : 0.0f;

out_free:
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
