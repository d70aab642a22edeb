/*
 * Similarity alignment by least squares in closed form (Umeyama without the
 * reflection case): with centred source points p and target points q,
 * a = sum(p.q) / sum(|p|^2) and b = sum(p x q) / sum(|p|^2).
 */
#include <errno.h>
#include <math.h>

#include "visid/log.h"
#include "align.h"

const double visid_align_template[4][2] = {
	{ 38.2946, 51.6963 },
	{ 73.5318, 51.5014 },
	{ 56.0252, 71.7366 },
	{ (41.5493 + 70.7299) / 2, (92.3655 + 92.2041) / 2 },
};

/* Eyes closer than this many pixels carry no usable face. */
#define MIN_EYE_DISTANCE 2.0

int visid_align_similarity(const float kp[6][2], double sim[4])
{
	double mx = 0, my = 0, nx = 0, ny = 0, dot = 0, cross = 0, var = 0, eye;

	for (int i = 0; i < 4; i++) {
		if (!isfinite(kp[i][0]) || !isfinite(kp[i][1])) {
			visid_err("align: keypoint %d is not finite", i);
			return -EINVAL;
		}
		mx += kp[i][0] / 4.0;
		my += kp[i][1] / 4.0;
		nx += visid_align_template[i][0] / 4.0;
		ny += visid_align_template[i][1] / 4.0;
	}
	eye = hypot(kp[1][0] - kp[0][0], kp[1][1] - kp[0][1]);
	if (eye < MIN_EYE_DISTANCE) {
		visid_err("align: degenerate keypoints (eyes %.2f px apart)", eye);
		return -EINVAL;
	}
	for (int i = 0; i < 4; i++) {
		double x = kp[i][0] - mx, y = kp[i][1] - my;
		double u = visid_align_template[i][0] - nx, v = visid_align_template[i][1] - ny;

		dot += x * u + y * v;
		cross += x * v - y * u;
		var += x * x + y * y;
	}
	sim[0] = dot / var;
	sim[1] = cross / var;
	sim[2] = nx - (sim[0] * mx - sim[1] * my);
	sim[3] = ny - (sim[1] * mx + sim[0] * my);
	if (!isfinite(sim[0]) || !isfinite(sim[1]) || hypot(sim[0], sim[1]) < 1e-4) {
		visid_err("align: degenerate keypoints (no similarity fits)");
		return -EINVAL;
	}
	return 0;
}
