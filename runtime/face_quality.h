/*
 * Head pose and image quality of one detected face, from its keypoints and
 * its pixels. The thresholds are calibrated on real photos; docs/POSE.md and
 * docs/QUALITY.md say on which and how.
 */
#ifndef VISID_FACE_QUALITY_H
#define VISID_FACE_QUALITY_H

#include "visid/face.h"

/* Side of the square the face box is resampled to for brightness and sharpness. */
#define VISID_QUALITY_SIZE 64

/*
 * yaw: nose offset from the eye midpoint along the eye line, in eye
 * distances (positive: nose towards the image right); pitch: where the nose
 * tip sits between the eye line (0) and the mouth (1); roll: eye line angle
 * in degrees. Measured in the face's own frame, so roll does not leak into
 * yaw and pitch. Returns -EINVAL for degenerate keypoints.
 */
int visid_pose_measure(const float kp[6][2], float *yaw, float *pitch, float *roll);
enum visid_pose visid_pose_classify(float yaw, float pitch, float roll);

/* Fills face->brightness and face->sharpness from the pixels in face->box. */
int visid_quality_measure(const struct visid_image *img, struct visid_face *face);
/* The issue bits of one face alone: light, sharpness and size. */
unsigned visid_quality_issues(const struct visid_face *face);

#endif
