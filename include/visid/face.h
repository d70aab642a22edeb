/*
 * The face pipeline: detection (BlazeFace full range, fully convolutional,
 * plus one 192x192 pass), keypoint refinement (short range on each face's
 * ROI), head pose, quality checks, alignment to the 112x112 template and the
 * MobileFaceNet embedding, L2-normalised.
 */
#ifndef VISID_FACE_H
#define VISID_FACE_H

#include "visid/image.h"
#include "visid/net.h"

#define VISID_EMBED_DIM 192
#define VISID_MAX_FACES 64

enum visid_pose {
	VISID_POSE_FRONT,
	VISID_POSE_LEFT,
	VISID_POSE_RIGHT,
	VISID_POSE_UP,
	VISID_POSE_DOWN,
	VISID_POSE_COUNT,
	VISID_POSE_OTHER = VISID_POSE_COUNT,	/* none of the five (profile, tilted far) */
};

/* Quality problems, as bits; a face fit for enrollment has none. */
enum visid_quality_issue {
	VISID_Q_TOO_DARK = 1 << 0,
	VISID_Q_TOO_BRIGHT = 1 << 1,
	VISID_Q_BLURRED = 1 << 2,
	VISID_Q_TOO_SMALL = 1 << 3,
	VISID_Q_MULTIPLE_FACES = 1 << 4,
	VISID_Q_NO_FACE = 1 << 5,
	VISID_Q_WRONG_ANGLE = 1 << 6,
};

struct visid_face {
	float box[4];		/* x0, y0, x1, y1 in image pixels, clamped to the image */
	float keypoints[6][2];	/* right eye, left eye, nose, mouth, right ear, left ear */
	float score;
	enum visid_pose pose;
	float yaw, pitch, roll;	/* the keypoint ratios the pose comes from, roll in degrees */
	float brightness;	/* mean luma of the face box, 0..255 */
	float sharpness;	/* variance of the Laplacian on the face, normalised size */
	unsigned issues;	/* visid_quality_issue bits for this face alone */
};

struct visid_face_pipeline;
struct visid_frame;

struct visid_face_options {
	const char *model_dir;	/* NULL: $VISID_MODEL_DIR, else the installed models */
	enum visid_backend backend;
	struct visid_gpu *gpu;	/* for VISID_BACKEND_VULKAN */
};

int visid_face_pipeline_create(const struct visid_face_options *opt,
			       struct visid_face_pipeline **out);
void visid_face_pipeline_destroy(struct visid_face_pipeline *pipe);

/*
 * Detects faces, largest first; returns the count (<= max) or -errno. On
 * the Vulkan backend the image is copied to the device once; visid_face_embed
 * of its faces reuses that copy, so the image must not change in between.
 */
int visid_face_detect(struct visid_face_pipeline *pipe, const struct visid_image *img,
		      struct visid_face *faces, int max);
/*
 * The same on a camera frame (visid/hal.h): on Vulkan the camera buffer is
 * imported into device memory (once per buffer) instead of copied where the
 * device allows it. Embed its faces with &frame->image.
 */
int visid_face_detect_frame(struct visid_face_pipeline *pipe, const struct visid_frame *frame,
			    struct visid_face *faces, int max);

struct visid_face_stats {
	uint64_t frames;	/* detection calls */
	uint64_t frame_copies;	/* whole-frame copies made to give frames to the device */
	uint64_t frame_imports;	/* camera buffers imported into device memory */
	const char *frame_path;	/* how the last frame reached the device */
};

/* Copies per frame are frame_copies / frames. */
void visid_face_get_stats(const struct visid_face_pipeline *pipe, struct visid_face_stats *stats);

/*
 * Aligns and embeds one detected face. Returns -EINVAL, with the reason
 * logged, for a crop that cannot give a vector (empty, black, degenerate);
 * the vector is never NaN or Inf.
 */
int visid_face_embed(struct visid_face_pipeline *pipe, const struct visid_image *img,
		     const struct visid_face *face, float vec[VISID_EMBED_DIM]);

/*
 * Done with the current frame and its faces: the pipeline zeroes its own
 * copy of the frame on the device (Vulkan, where it was copied rather than
 * imported), so that nothing of it waits there for the next frame.
 */
void visid_face_release_frame(struct visid_face_pipeline *pipe);

/*
 * Enrollment check of one image: exactly one face, of a usable size, light,
 * sharpness, and (unless want is VISID_POSE_OTHER) the wanted pose. Returns
 * the issue bits (0: fit) and fills *face when one face was found.
 */
unsigned visid_face_check(struct visid_face_pipeline *pipe, const struct visid_image *img,
			  enum visid_pose want, struct visid_face *face);

const char *visid_pose_name(enum visid_pose pose);
/* The short name of the first issue bit set ("too dark"), and what to do about it. */
const char *visid_quality_reason(unsigned issues);
const char *visid_quality_advice(unsigned issues);

/* A hash of the model files, identifying the vectors they produce. */
const char *visid_face_model_id(const struct visid_face_pipeline *pipe);

#endif
