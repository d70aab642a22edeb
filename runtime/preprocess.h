/*
 * The C reference of the network input resamplers: the detector's letterbox
 * or fit, the square ROI crop for the keypoint refiner, and the aligned
 * 112x112 embedder crop. The GPU shaders must agree with these.
 *
 * Sampling convention: output pixel (u, v) takes the source point
 * M * (u + 0.5, v + 0.5), bilinear between source pixel centres, and source
 * pixels outside the image count as 0 (black) before normalisation.
 */
#ifndef VISID_PREPROCESS_H
#define VISID_PREPROCESS_H

#include <stdint.h>

#include "visid/image.h"

/* Detector input: (v - 127.5) / 127.5; embedder input: (v - 127.5) / 128. */
#define VISID_DET_MEAN 127.5f
#define VISID_DET_STD 127.5f
#define VISID_EMB_MEAN 127.5f
#define VISID_EMB_STD 128.0f
#define VISID_EMB_SIZE 112
#define VISID_ROI_SIZE 128
#define VISID_ROI_SCALE 2.5f

struct visid_resample {
	int out_w, out_h;
	/* source point = (m[0] u + m[1] v + m[2], m[3] u + m[4] v + m[5]) */
	double m[6];
	float mean, std;	/* out = (v - mean) / std, per RGB channel */
	/*
	 * When one output pixel spans more than this many source pixels, the
	 * source is first area-averaged by floor(step / 1.5), so that small
	 * faces are not aliased away; 0 never pre-shrinks.
	 */
	float shrink_above;
};

/*
 * How visid_pre_resample samples an image of a given size: the pre-shrink
 * factor, the map from output pixels onto the (shrunk) source, and the
 * region of that source the bilinear taps can touch. The GPU resampler
 * follows the same plan.
 */
struct visid_pre_plan {
	int shrink;		/* area pre-shrink factor; 1: none */
	int src_w, src_h;	/* the sampled source: the image, or its shrunk grid */
	double sx, sy;		/* image pixels per sampled-source pixel */
	double m[6];		/* output pixel -> sampled-source point */
	int x0, y0, x1, y1;	/* region of the sampled source, end exclusive; may be empty */
};

int visid_pre_plan(int width, int height, const struct visid_resample *rs,
		   struct visid_pre_plan *plan);

/* Whether the image's fields describe a usable buffer. */
int visid_image_valid(const struct visid_image *img);
/* Pixels [x0, x1) of row y of any format as RGB24 (implemented in image.c). */
void visid_image_row_rgb(const struct visid_image *img, int y, int x0, int x1, uint8_t *rgb);

/* Fills out (out_h x out_w x 3 floats, NHWC) from any format and stride. */
int visid_pre_resample(const struct visid_image *img, const struct visid_resample *rs,
		       float *out);

/*
 * Fits the rectangle rect (x, y, w, h in image pixels; NULL: the whole
 * image) into out_w x out_h keeping the aspect ratio, centred (letterbox) or
 * at the top-left corner, border black. m receives the tensor-to-image
 * affine: image point = (m[0] u + m[1] v + m[2], m[3] u + m[4] v + m[5])
 * for tensor pixel coordinates (u, v).
 */
int visid_pre_detector(const struct visid_image *img, const float rect[4], int out_w, int out_h,
		       int centred, float *out, double m[6]);

/* The resampling of visid_pre_detector for an image of width x height, without running it. */
int visid_pre_detector_map(int width, int height, const float rect[4], int out_w, int out_h,
			   int centred, struct visid_resample *rs);

/* The square refiner ROI: VISID_ROI_SCALE times the box width, centred on it. */
void visid_pre_roi_rect(const float box[4], float rect[4]);

/*
 * The aligned embedder crop (112 x 112 x 3 floats) for the similarity
 * sim = (a, b, tx, ty) taking image points to crop points:
 * u = a x - b y + tx, v = b x + a y + ty.
 */
int visid_pre_embedder(const struct visid_image *img, const double sim[4], float *out);
/* The resampling of visid_pre_embedder, without running it. */
int visid_pre_embedder_map(const double sim[4], struct visid_resample *rs);

#endif
