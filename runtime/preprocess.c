/*
 * Network input resampling on the CPU: any pixel format and stride in, NHWC
 * float out. This is the reference the preprocessing shaders are tested
 * against, so it follows the documented convention exactly (see
 * preprocess.h), including the integer-factor area pre-shrink before
 * bilinear sampling of large downscales.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "visid/log.h"
#include "preprocess.h"

/* Letterboxes above 2 source pixels per tensor pixel are pre-shrunk (as the reference). */
#define DET_SHRINK_ABOVE 2.0f
/*
 * The embedder's reference crops were warped without pre-shrinking, and
 * faces up to 3x the crop keep that; only much larger faces are averaged.
 */
#define EMB_SHRINK_ABOVE 3.0f

/* RGB24 pixels of a region of the (possibly area-shrunk) source. */
struct rgb_view {
	const uint8_t *data;
	size_t stride;
	int x0, y0, x1, y1;	/* region, end exclusive */
	int full_w, full_h;	/* extent of the source: outside it pixels are 0 */
	uint8_t *owned;	/* converted or shrunk pixels, wiped when freed */
	size_t owned_size;
};

static void map_point(const double m[6], double u, double v, double *x, double *y)
{
	*x = m[0] * u + m[1] * v + m[2];
	*y = m[3] * u + m[4] * v + m[5];
}

/*
 * The source pixels the bilinear taps of all output pixels can touch, with
 * one pixel of margin against rounding; an affine map keeps the samples
 * inside the hull of the four corner samples.
 */
static void sample_region(const struct visid_resample *rs, struct visid_pre_plan *plan)
{
	double xs[4], ys[4], lo_x = INFINITY, hi_x = -INFINITY, lo_y = INFINITY, hi_y = -INFINITY;
	const double *m = plan->m;

	map_point(m, 0.5, 0.5, &xs[0], &ys[0]);
	map_point(m, rs->out_w - 0.5, 0.5, &xs[1], &ys[1]);
	map_point(m, 0.5, rs->out_h - 0.5, &xs[2], &ys[2]);
	map_point(m, rs->out_w - 0.5, rs->out_h - 0.5, &xs[3], &ys[3]);
	for (int i = 0; i < 4; i++) {
		lo_x = fmin(lo_x, xs[i]);
		hi_x = fmax(hi_x, xs[i]);
		lo_y = fmin(lo_y, ys[i]);
		hi_y = fmax(hi_y, ys[i]);
	}
	plan->x0 = (int)fmax(0, fmin(plan->src_w, floor(lo_x - 0.5) - 1));
	plan->x1 = (int)fmax(0, fmin(plan->src_w, floor(hi_x - 0.5) + 3));
	plan->y0 = (int)fmax(0, fmin(plan->src_h, floor(lo_y - 0.5) - 1));
	plan->y1 = (int)fmax(0, fmin(plan->src_h, floor(hi_y - 0.5) + 3));
}

/* The region converted to RGB24, or the image itself when it already is. */
static int convert_region(const struct visid_image *img, struct rgb_view *view)
{
	int w = view->x1 - view->x0;

	if (img->format == VISID_FMT_RGB24) {
		view->data = img->data + (size_t)view->y0 * img->stride + 3 * (size_t)view->x0;
		view->stride = img->stride;
		return 0;
	}
	view->stride = 3 * (size_t)w;
	view->owned_size = view->stride * (view->y1 - view->y0) + 1;
	view->owned = malloc(view->owned_size);
	if (!view->owned)
		return -ENOMEM;
	for (int y = view->y0; y < view->y1; y++)
		visid_image_row_rgb(img, y, view->x0, view->x1,
				    view->owned + (y - view->y0) * view->stride);
	view->data = view->owned;
	return 0;
}

/*
 * Area average of the region on a grid of full_w x full_h cells, cell X
 * covering source columns [X sx, (X + 1) sx): every source pixel weighs by
 * the part of it inside the cell. Rounded to bytes like an image.
 */
static int shrink_region(const struct visid_image *img, double sx, double sy,
			 struct rgb_view *view)
{
	int w = view->x1 - view->x0, src_x0, src_x1;
	double *acc, *wsum;
	size_t row_size;
	uint8_t *row;
	int ret = -ENOMEM;

	src_x0 = (int)floor(view->x0 * sx);
	src_x1 = (int)fmin(img->width, ceil(view->x1 * sx));
	row_size = 3 * (size_t)(src_x1 - src_x0) + 1;
	view->stride = 3 * (size_t)w;
	view->owned_size = view->stride * (view->y1 - view->y0) + 1;
	view->owned = malloc(view->owned_size);
	acc = malloc(sizeof(double) * 4 * w);
	row = malloc(row_size);
	if (!view->owned || !acc || !row)
		goto out_free;
	wsum = acc + 3 * w;

	for (int cy = view->y0; cy < view->y1; cy++) {
		double y_lo = cy * sy, y_hi = (cy + 1) * sy;
		uint8_t *dst = view->owned + (cy - view->y0) * view->stride;

		memset(acc, 0, sizeof(double) * 4 * w);
		for (int yy = (int)floor(y_lo); yy < (int)ceil(y_hi) && yy < img->height; yy++) {
			double wy = fmin(yy + 1, y_hi) - fmax(yy, y_lo);

			if (wy <= 0)
				continue;
			visid_image_row_rgb(img, yy, src_x0, src_x1, row);
			for (int cx = view->x0; cx < view->x1; cx++) {
				double x_lo = cx * sx, x_hi = (cx + 1) * sx;
				double *a = acc + 3 * (cx - view->x0);

				for (int xx = (int)floor(x_lo); xx < (int)ceil(x_hi) && xx < src_x1;
				     xx++) {
					double wx = fmin(xx + 1, x_hi) - fmax(xx, x_lo), wt;
					const uint8_t *p = row + 3 * (xx - src_x0);

					if (wx <= 0)
						continue;
					wt = wx * wy;
					a[0] += wt * p[0];
					a[1] += wt * p[1];
					a[2] += wt * p[2];
					wsum[cx - view->x0] += wt;
				}
			}
		}
		for (int i = 0; i < w; i++)
			for (int c = 0; c < 3; c++)
				dst[3 * i + c] = wsum[i] > 0 ?
					(uint8_t)floor(acc[3 * i + c] / wsum[i] + 0.5) : 0;
	}
	view->data = view->owned;
	ret = 0;

out_free:
	/* Sums and a row of the frame's pixels; the shrunk pixels are wiped by the caller. */
	if (row)
		explicit_bzero(row, row_size);
	if (acc)
		explicit_bzero(acc, sizeof(double) * 4 * w);
	free(row);
	free(acc);
	return ret;
}

/* The frame's pixels in the view are no longer needed: nothing of them stays in the heap. */
static void release_view(struct rgb_view *view)
{
	if (view->owned)
		explicit_bzero(view->owned, view->owned_size);
	free(view->owned);
	view->owned = NULL;
}

static inline double tap(const struct rgb_view *v, int x, int y, int c)
{
	if (x < v->x0 || y < v->y0 || x >= v->x1 || y >= v->y1)
		return 0.0;
	return v->data[(size_t)(y - v->y0) * v->stride + 3 * (size_t)(x - v->x0) + c];
}

static void sample_all(const struct rgb_view *view, const struct visid_resample *rs,
		       const double m[6], float *out)
{
	for (int v = 0; v < rs->out_h; v++) {
		for (int u = 0; u < rs->out_w; u++, out += 3) {
			double x, y, fx, fy, ax, ay;
			int x0, y0;

			map_point(m, u + 0.5, v + 0.5, &x, &y);
			fx = x - 0.5;
			fy = y - 0.5;
			x0 = (int)floor(fx);
			y0 = (int)floor(fy);
			ax = fx - x0;
			ay = fy - y0;
			for (int c = 0; c < 3; c++) {
				double top = (1 - ax) * tap(view, x0, y0, c) +
					     ax * tap(view, x0 + 1, y0, c);
				double bottom = (1 - ax) * tap(view, x0, y0 + 1, c) +
						ax * tap(view, x0 + 1, y0 + 1, c);
				float value = (float)((1 - ay) * top + ay * bottom);

				out[c] = (float)((value - (double)rs->mean) / rs->std);
			}
		}
	}
}

int visid_pre_plan(int width, int height, const struct visid_resample *rs,
		   struct visid_pre_plan *plan)
{
	double step;

	memset(plan, 0, sizeof(*plan));
	if (width <= 0 || height <= 0 || rs->out_w <= 0 || rs->out_h <= 0 || rs->std == 0) {
		visid_err("preprocess: invalid image %dx%d or output size %dx%d", width, height,
			  rs->out_w, rs->out_h);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++) {
		if (!isfinite(rs->m[i])) {
			visid_err("preprocess: non-finite sampling matrix");
			return -EINVAL;
		}
		plan->m[i] = rs->m[i];
	}
	plan->shrink = 1;
	plan->src_w = width;
	plan->src_h = height;
	plan->sx = plan->sy = 1.0;
	step = sqrt(fabs(plan->m[0] * plan->m[4] - plan->m[1] * plan->m[3]));
	if (rs->shrink_above > 0 && step > rs->shrink_above)
		plan->shrink = (int)floor(step / 1.5);
	if (plan->shrink > 1) {
		plan->src_w = (int)fmax(1, floor((double)width / plan->shrink + 0.5));
		plan->src_h = (int)fmax(1, floor((double)height / plan->shrink + 0.5));
		plan->sx = (double)width / plan->src_w;
		plan->sy = (double)height / plan->src_h;
		for (int i = 0; i < 3; i++) {
			plan->m[i] /= plan->sx;
			plan->m[3 + i] /= plan->sy;
		}
	}
	sample_region(rs, plan);
	return 0;
}

int visid_pre_resample(const struct visid_image *img, const struct visid_resample *rs,
		       float *out)
{
	struct rgb_view view = { 0 };
	struct visid_pre_plan plan;
	int ret = 0;

	if (!visid_image_valid(img)) {
		visid_err("preprocess: invalid image");
		return -EINVAL;
	}
	ret = visid_pre_plan(img->width, img->height, rs, &plan);
	if (ret)
		return ret;
	view.full_w = plan.src_w;
	view.full_h = plan.src_h;
	view.x0 = plan.x0;
	view.x1 = plan.x1;
	view.y0 = plan.y0;
	view.y1 = plan.y1;
	if (view.x0 < view.x1 && view.y0 < view.y1)
		ret = plan.shrink > 1 ? shrink_region(img, plan.sx, plan.sy, &view)
				      : convert_region(img, &view);
	if (ret) {
		visid_err("preprocess: out of memory for a %dx%d region",
			  view.x1 - view.x0, view.y1 - view.y0);
		release_view(&view);
		return ret;
	}
	sample_all(&view, rs, plan.m, out);
	release_view(&view);
	return 0;
}

int visid_pre_detector_map(int width, int height, const float rect[4], int out_w, int out_h,
			   int centred, struct visid_resample *rs)
{
	double rx = 0, ry = 0, rw = width, rh = height, scale, ox, oy;

	memset(rs, 0, sizeof(*rs));
	if (width <= 0 || height <= 0 || out_w <= 0 || out_h <= 0)
		return -EINVAL;
	if (rect) {
		rx = rect[0];
		ry = rect[1];
		rw = rect[2];
		rh = rect[3];
	}
	if (!(rw > 0 && rh > 0)) {
		visid_err("preprocess: empty source rectangle %gx%g", rw, rh);
		return -EINVAL;
	}
	scale = fmax(rw / out_w, rh / out_h);
	ox = centred ? rx + rw / 2 - out_w * scale / 2 : rx;
	oy = centred ? ry + rh / 2 - out_h * scale / 2 : ry;
	rs->out_w = out_w;
	rs->out_h = out_h;
	rs->mean = VISID_DET_MEAN;
	rs->std = VISID_DET_STD;
	rs->shrink_above = DET_SHRINK_ABOVE;
	rs->m[0] = scale;
	rs->m[1] = 0;
	rs->m[2] = ox;
	rs->m[3] = 0;
	rs->m[4] = scale;
	rs->m[5] = oy;
	return 0;
}

int visid_pre_detector(const struct visid_image *img, const float rect[4], int out_w, int out_h,
		       int centred, float *out, double m[6])
{
	struct visid_resample rs;
	int ret;

	if (!visid_image_valid(img))
		return -EINVAL;
	ret = visid_pre_detector_map(img->width, img->height, rect, out_w, out_h, centred, &rs);
	if (ret)
		return ret;
	memcpy(m, rs.m, sizeof(rs.m));
	return visid_pre_resample(img, &rs, out);
}

void visid_pre_roi_rect(const float box[4], float rect[4])
{
	float side = VISID_ROI_SCALE * (box[2] - box[0]);
	float cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;

	rect[0] = cx - side / 2;
	rect[1] = cy - side / 2;
	rect[2] = side;
	rect[3] = side;
}

int visid_pre_embedder_map(const double sim[4], struct visid_resample *rs)
{
	double a = sim[0], b = sim[1], tx = sim[2], ty = sim[3];
	double d = a * a + b * b, ia, ib;

	memset(rs, 0, sizeof(*rs));
	if (!(d > 1e-12) || !isfinite(d)) {
		visid_err("preprocess: degenerate alignment transform");
		return -EINVAL;
	}
	rs->out_w = VISID_EMB_SIZE;
	rs->out_h = VISID_EMB_SIZE;
	rs->mean = VISID_EMB_MEAN;
	rs->std = VISID_EMB_STD;
	rs->shrink_above = EMB_SHRINK_ABOVE;
	/* The crop-to-image map is the inverse rotation-scale and translation. */
	ia = a / d;
	ib = -b / d;
	rs->m[0] = ia;
	rs->m[1] = -ib;
	rs->m[2] = -(ia * tx - ib * ty);
	rs->m[3] = ib;
	rs->m[4] = ia;
	rs->m[5] = -(ib * tx + ia * ty);
	return 0;
}

int visid_pre_embedder(const struct visid_image *img, const double sim[4], float *out)
{
	struct visid_resample rs;
	int ret = visid_pre_embedder_map(sim, &rs);

	if (ret)
		return ret;
	return visid_pre_resample(img, &rs, out);
}
