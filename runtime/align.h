/*
 * Face alignment: the least-squares similarity (rotation, uniform scale,
 * translation; never a reflection) that takes BlazeFace keypoints 0-3 to the
 * 112x112 template the embedder was trained on.
 */
#ifndef VISID_ALIGN_H
#define VISID_ALIGN_H

/*
 * Template points in the 112x112 crop: right eye (image-left), left eye,
 * nose tip, mouth centre (the mean of the two ArcFace mouth corners).
 */
extern const double visid_align_template[4][2];

/*
 * sim = (a, b, tx, ty) with u = a x - b y + tx, v = b x + a y + ty taking
 * image points to crop points. Returns -EINVAL, logged, for keypoints that
 * cannot define a face (not finite, eyes on one point, collapsed).
 */
int visid_align_similarity(const float kp[6][2], double sim[4]);

#endif
