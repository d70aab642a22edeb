/*
 * Frame sources that stand in for a camera (an image, a directory, a Y4M
 * recording), the headless PNG screen, and the overlay drawing, all on real
 * photos. The Y4M files are written here from a decoded photo, so what the
 * source gives back can be compared with what went in.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "visid/hal.h"
#include "visid/log.h"

#define DIR_PHOTOS   "data/faces/identity/deepface/angelina_jolie"
#define Y4M_PHOTO    "data/faces/identity/face_recognition/alex_lacamoire/img1.jpg"
#define AVATAR_PHOTO "data/faces/identity/face_recognition/barack_obama/obama_small.jpg"

static char last_error[240], last_warning[240];
static int errors_logged;

static void capture_log(enum visid_log_level level, const char *msg, void *data)
{
	if (level == VISID_LOG_ERROR) {
		snprintf(last_error, sizeof(last_error), "%s", msg);
		errors_logged++;
	} else if (level == VISID_LOG_WARN) {
		snprintf(last_warning, sizeof(last_warning), "%s", msg);
	}
}

static const char *hal_skip(void)
{
	if (!visid_test_have_shared(DIR_PHOTOS) || !visid_test_have_shared(Y4M_PHOTO))
		return "the photos of ../shared/data/faces are absent";
	return NULL;
}

static int hal_init(void)
{
	visid_log_set_handler(capture_log, NULL);
	return 0;
}

static int hal_clean(void)
{
	visid_log_set_handler(NULL, NULL);
	return 0;
}

static int load_shared(const char *rel, struct visid_image *img)
{
	char path[512];

	return visid_image_load(visid_test_shared(rel, path, sizeof(path)), img);
}

static uint8_t pixel_channel(const struct visid_image *img, int x, int y, int c)
{
	return img->data[(size_t)y * img->stride + 3 * x + c];
}

static int images_equal(const struct visid_image *a, const struct visid_image *b)
{
	if (a->width != b->width || a->height != b->height || a->format != b->format)
		return 0;
	for (int y = 0; y < a->height; y++)
		if (memcmp(a->data + (size_t)y * a->stride, b->data + (size_t)y * b->stride,
			   (size_t)a->width * 3))
			return 0;
	return 1;
}

/* ---- directory and image sources --------------------------------------- */

static int count_images(const char *dir, char *first, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	first[0] = 0;
	while (d && (de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');

		if (de->d_name[0] == '.' || !dot || strcmp(dot, ".jpg"))
			continue;
		if (!first[0] || strcmp(de->d_name, first) < 0)
			snprintf(first, len, "%s", de->d_name);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void test_dir_source_sorted_and_loops(void)
{
	char dir[512], first_name[256], first_path[800];
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_image first = {0};
	struct visid_frame frame;
	int n, ret, given = 0;

	visid_test_shared(DIR_PHOTOS, dir, sizeof(dir));
	n = count_images(dir, first_name, sizeof(first_name));
	VT_CHECK(n >= 3, "expected at least 3 photos in %.160s, found %d", dir, n);
	snprintf(first_path, sizeof(first_path), "%s/%s", dir, first_name);
	VT_CHECK(visid_image_load(first_path, &first) == 0, "cannot decode %.160s", first_path);

	ret = visid_source_open(dir, NULL, &src);
	VT_CHECK(ret == 0, "bare directory path did not open: %d (%.160s)", ret, last_error);
	if (ret)
		goto out_free_first;
	VT_CHECK(visid_source_kind(src) == VISID_SOURCE_DIR, "kind %d is not a directory",
		 visid_source_kind(src));
	while ((ret = visid_source_next(src, &frame, 0)) == 0) {
		VT_CHECK(frame.sequence == (uint64_t)given, "sequence %llu, expected %d",
			 (unsigned long long)frame.sequence, given);
		if (given == 0)
			VT_CHECK(images_equal(&frame.image, &first),
				 "first frame is not %.160s (name order)", first_name);
		given++;
	}
	VT_CHECK(ret == -ENODATA, "end of directory gave %d, expected -ENODATA", ret);
	VT_CHECK(given == n, "directory gave %d frames, it holds %d photos", given, n);
	visid_source_close(src);

	visid_source_options_init(&opt);
	opt.loop = 1;
	snprintf(first_path, sizeof(first_path), "dir:%s", dir);
	ret = visid_source_open(first_path, &opt, &src);
	VT_CHECK(ret == 0, "dir: spec did not open: %d", ret);
	if (ret)
		goto out_free_first;
	for (int i = 0; i <= n; i++) {
		ret = visid_source_next(src, &frame, 0);
		VT_CHECK(ret == 0, "looping directory stopped at frame %d: %d", i, ret);
	}
	VT_CHECK(images_equal(&frame.image, &first),
		 "frame %d of a looping directory of %d is not the first photo again", n, n);
	visid_source_close(src);
out_free_first:
	visid_image_free(&first);
}

static void test_image_source_repeats(void)
{
	char path[512];
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	int ret, given = 0;

	visid_source_options_init(&opt);
	opt.repeat = 3;
	ret = visid_source_open(visid_test_shared(AVATAR_PHOTO, path, sizeof(path)), &opt, &src);
	VT_CHECK(ret == 0, "image source did not open: %d (%.160s)", ret, last_error);
	if (ret)
		return;
	VT_CHECK(visid_source_kind(src) == VISID_SOURCE_IMAGE, "kind %d", visid_source_kind(src));
	while (visid_source_next(src, &frame, 0) == 0) {
		VT_CHECK(frame.image.width == 320 && frame.image.height == 240 &&
			     frame.image.format == VISID_FMT_RGB24,
			 "frame is %dx%d %.160s, expected 320x240 RGB24", frame.image.width,
			 frame.image.height, visid_pixel_format_name(frame.image.format));
		VT_CHECK(frame.dmabuf_fd[0] == -1, "a file frame claims dmabuf %d",
			 frame.dmabuf_fd[0]);
		given++;
	}
	VT_CHECK(given == 3, "repeat 3 gave %d frames", given);
	visid_source_close(src);
}

static void test_missing_paths_name_the_file(void)
{
	struct visid_source *src = NULL;
	int ret;

	last_error[0] = 0;
	ret = visid_source_open("/nonexistent/visid-photo.jpg", NULL, &src);
	VT_CHECK(ret == -ENOENT && !src, "missing file gave %d", ret);
	VT_CHECK(strstr(last_error, "/nonexistent/visid-photo.jpg") != NULL,
		 "error does not name the file: '%.160s'", last_error);
	ret = visid_source_open("dir:/nonexistent-visid-dir", NULL, &src);
	VT_CHECK(ret < 0 && !src, "missing directory gave %d", ret);
	ret = visid_source_open(visid_test_tmpdir(), NULL, &src);
	VT_CHECK(ret == -ENOENT && strstr(last_error, "no .jpg"),
		 "empty directory gave %d, '%.160s'", ret, last_error);
	/* A mistyped kind is named as such, not as a missing file. */
	ret = visid_source_open("v4l:/dev/video0", NULL, &src);
	VT_CHECK(ret == -EINVAL && !src && strstr(last_error, "unknown kind 'v4l:'") &&
		     strstr(last_error, "v4l2:"),
		 "mistyped kind gave %d, '%.160s'", ret, last_error);
}

/* Camera errors need no camera: they must name the device and the cause. */
static void test_camera_errors_name_the_device(void)
{
	struct visid_source *src = NULL;
	int ret;

	last_error[0] = 0;
	ret = visid_source_open("v4l2:/dev/video-visid-none", NULL, &src);
	VT_CHECK(ret == -ENOENT && !src && strstr(last_error, "/dev/video-visid-none") &&
		     strstr(last_error, strerror(ENOENT)),
		 "missing camera gave %d, '%.160s'", ret, last_error);
	last_error[0] = 0;
	ret = visid_source_open("/dev/null", NULL, &src);
	VT_CHECK(ret < 0 && !src && strstr(last_error, "/dev/null") &&
		     strstr(last_error, "not a V4L2 device"),
		 "/dev/null as a camera gave %d, '%.160s'", ret, last_error);
}

/* ---- Y4M --------------------------------------------------------------- */

static uint8_t clamp_u8(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* BT.601 limited range, chroma averaged over each 2x2 block (edges repeat). */
static void rgb_to_i420(const struct visid_image *rgb, uint8_t *y, uint8_t *u, uint8_t *v)
{
	int w = rgb->width, h = rgb->height, cw = (w + 1) / 2, ch = (h + 1) / 2;

	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++) {
			int r = pixel_channel(rgb, i, j, 0), g = pixel_channel(rgb, i, j, 1);
			int b = pixel_channel(rgb, i, j, 2);

			y[j * w + i] = clamp_u8(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
		}
	for (int j = 0; j < ch; j++)
		for (int i = 0; i < cw; i++) {
			int r = 0, g = 0, b = 0;

			for (int k = 0; k < 4; k++) {
				int x = 2 * i + (k & 1), yy = 2 * j + (k >> 1);

				x = x < w ? x : w - 1;
				yy = yy < h ? yy : h - 1;
				r += pixel_channel(rgb, x, yy, 0);
				g += pixel_channel(rgb, x, yy, 1);
				b += pixel_channel(rgb, x, yy, 2);
			}
			r /= 4, g /= 4, b /= 4;
			u[j * cw + i] = clamp_u8(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
			v[j * cw + i] = clamp_u8(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
		}
}

static int write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -errno;
	ok = fwrite(a, 1, alen, f) == alen && (!blen || fwrite(b, 1, blen, f) == blen);
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

struct y4m_case {
	struct visid_image photo;
	uint8_t *planes; /* Y, U, V of the photo */
	size_t y_size, c_size;
};

static int y4m_case_init(struct y4m_case *c)
{
	int ret = load_shared(Y4M_PHOTO, &c->photo);

	if (ret)
		return ret;
	c->y_size = (size_t)c->photo.width * c->photo.height;
	c->c_size = (size_t)((c->photo.width + 1) / 2) * ((c->photo.height + 1) / 2);
	c->planes = malloc(c->y_size + 2 * c->c_size);
	if (!c->planes)
		return -ENOMEM;
	rgb_to_i420(&c->photo, c->planes, c->planes + c->y_size, c->planes + c->y_size + c->c_size);
	return 0;
}

static void y4m_case_free(struct y4m_case *c)
{
	visid_image_free(&c->photo);
	free(c->planes);
}

/* Writes header + frames copies of the photo; cut drops bytes from the end. */
static int write_y4m(const struct y4m_case *c, const char *path, const char *header, int frames,
		     size_t cut)
{
	size_t frame_bytes = c->y_size + 2 * c->c_size, total;
	size_t hlen = strlen(header);
	uint8_t *buf, *p;
	int ret;

	total = hlen + frames * (6 + frame_bytes);
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, header, hlen);
	p = buf + hlen;
	for (int i = 0; i < frames; i++) {
		memcpy(p, "FRAME\n", 6);
		memcpy(p + 6, c->planes, frame_bytes);
		p += 6 + frame_bytes;
	}
	ret = write_file(path, buf, total - cut, NULL, 0);
	free(buf);
	return ret;
}

static int nv12_matches(const struct visid_image *img, const struct y4m_case *c)
{
	int w = c->photo.width, h = c->photo.height, cw = (w + 1) / 2, ch = (h + 1) / 2;
	const uint8_t *u = c->planes + c->y_size, *v = u + c->c_size;

	for (int j = 0; j < h; j++)
		if (memcmp(img->data + (size_t)j * img->stride, c->planes + (size_t)j * w, w))
			return 0;
	for (int j = 0; j < ch; j++)
		for (int i = 0; i < cw; i++) {
			const uint8_t *uv = img->uv + (size_t)j * img->uv_stride + 2 * i;

			if (uv[0] != u[j * cw + i] || uv[1] != v[j * cw + i])
				return 0;
		}
	return 1;
}

/* Mean absolute difference per channel between two RGB24 images. */
static double mean_abs_diff(const struct visid_image *a, const struct visid_image *b)
{
	double sum = 0;

	for (int y = 0; y < a->height; y++)
		for (int x = 0; x < a->width; x++)
			for (int k = 0; k < 3; k++)
				sum += abs(pixel_channel(a, x, y, k) - pixel_channel(b, x, y, k));
	return sum / (3.0 * a->width * a->height);
}

static void test_y4m_gives_nv12_of_the_photo(void)
{
	struct y4m_case c = {0};
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	struct visid_image back = {0};
	char path[600], header[128];
	int ret, frames = 0;

	ret = y4m_case_init(&c);
	VT_CHECK(ret == 0, "cannot prepare %.160s: %d", Y4M_PHOTO, ret);
	if (ret)
		goto out_free_case;
	snprintf(path, sizeof(path), "%s/photo.y4m", visid_test_tmpdir());
	snprintf(header, sizeof(header),
		 "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG\n", c.photo.width,
		 c.photo.height);
	VT_CHECK(write_y4m(&c, path, header, 3, 0) == 0, "cannot write %.160s", path);

	ret = visid_source_open(path, NULL, &src);
	VT_CHECK(ret == 0, "y4m did not open: %d (%.160s)", ret, last_error);
	if (ret)
		goto out_free_case;
	VT_CHECK(visid_source_kind(src) == VISID_SOURCE_Y4M, "kind %d", visid_source_kind(src));
	while ((ret = visid_source_next(src, &frame, 0)) == 0) {
		VT_CHECK(frame.image.format == VISID_FMT_NV12 &&
			     frame.image.width == c.photo.width &&
			     frame.image.height == c.photo.height,
			 "frame %d is %dx%d %.160s, expected %dx%d NV12", frames, frame.image.width,
			 frame.image.height, visid_pixel_format_name(frame.image.format),
			 c.photo.width, c.photo.height);
		VT_CHECK(nv12_matches(&frame.image, &c),
			 "frame %d: NV12 planes differ from the I420 planes written", frames);
		frames++;
	}
	VT_CHECK(ret == -ENODATA && frames == 3, "gave %d frames then %d, expected 3 then %d",
		 frames, ret, -ENODATA);

	/* The whole way back to RGB stays close to the photo: chroma is shared by 2x2. */
	visid_source_close(src);
	visid_source_options_init(&opt);
	opt.loop = 1;
	ret = visid_source_open(path, &opt, &src);
	VT_CHECK(ret == 0, "y4m did not reopen: %d", ret);
	if (ret)
		goto out_free_case;
	for (int i = 0; i < 5 && ret == 0; i++)
		ret = visid_source_next(src, &frame, 0);
	VT_CHECK(ret == 0 && frame.sequence == 4, "looping y4m stopped: %d at %llu", ret,
		 (unsigned long long)frame.sequence);
	ret = visid_image_to_rgb24(&frame.image, &back);
	VT_CHECK(ret == 0, "NV12 frame does not convert to RGB: %d", ret);
	if (!ret) {
		double mad = mean_abs_diff(&back, &c.photo);

		VT_CHECK(mad < 6.0, "NV12 round trip differs from the photo by %.2f per channel",
			 mad);
	}
	visid_image_free(&back);
	visid_source_close(src);
out_free_case:
	y4m_case_free(&c);
}

static void test_y4m_bad_headers_rejected(void)
{
	static const struct {
		const char *header;
		int frames;
		size_t cut;
		const char *says;
		int at_open;
	} cases[] = {
	    {"YUV4MPEG W%d H%d C420\n", 1, 0, "not a YUV4MPEG2", 1},
	    {"YUV4MPEG2 W%d H%d C422\n", 1, 0, "only 4:2:0", 1},
	    {"YUV4MPEG2 W%d H%d C444\n", 1, 0, "only 4:2:0", 1},
	    {"YUV4MPEG2 W%d H%d Cmono\n", 1, 0, "only 4:2:0", 1},
	    {"YUV4MPEG2 W0 H%d\n", 1, 0, "bad header value", 1},
	    {"YUV4MPEG2 W-%d H%d\n", 1, 0, "bad header value", 1},
	    {"YUV4MPEG2 W%d\n", 1, 0, "lacks the height", 1},
	    {"YUV4MPEG2 W99999 H%d\n", 1, 0, "bad header value", 1},
	    {"YUV4MPEG2 W%d H%d F30\n", 1, 0, "bad header value", 1},
	    {"YUV4MPEG2 W%d H%d Q7\n", 1, 0, "unknown header tag", 1},
	    {"YUV4MPEG2 W%d H%d C420\n", 1, 1000, "cut short", 0},
	};
	struct y4m_case c = {0};
	const char *dir = visid_test_tmpdir();
	int ret = y4m_case_init(&c);

	VT_CHECK(ret == 0, "cannot prepare %.160s: %d", Y4M_PHOTO, ret);
	for (size_t i = 0; !ret && i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[600], header[128];
		struct visid_source *src = NULL;
		struct visid_frame frame;
		int r;

		snprintf(path, sizeof(path), "%s/bad%zu.y4m", dir, i);
		snprintf(header, sizeof(header), cases[i].header, c.photo.width, c.photo.height);
		if (write_y4m(&c, path, header, cases[i].frames, cases[i].cut))
			continue;
		last_error[0] = 0;
		r = visid_source_open(path, NULL, &src);
		if (cases[i].at_open) {
			VT_CHECK(r < 0 && !src, "header '%.*s' was accepted",
				 (int)strlen(header) - 1, header);
		} else {
			VT_CHECK(r == 0, "header '%.160s' refused: %d", header, r);
			if (!r)
				r = visid_source_next(src, &frame, 0);
			VT_CHECK(r == -EINVAL, "a cut frame gave %d", r);
			visid_source_close(src);
		}
		VT_CHECK(strstr(last_error, cases[i].says) && strstr(last_error, path),
			 "case %zu: error '%.160s' does not say '%.160s' and name the file", i,
			 last_error, cases[i].says);
	}
	y4m_case_free(&c);
}

/* ---- drawing and the PNG screen ---------------------------------------- */

static void test_draw_image_one_to_one_is_exact(void)
{
	struct visid_image photo = {0}, canvas = {0}, back = {0};
	int ret = load_shared(AVATAR_PHOTO, &photo);

	VT_CHECK(ret == 0, "cannot decode %.160s", AVATAR_PHOTO);
	if (ret)
		return;
	ret = visid_image_alloc(&canvas, photo.width, photo.height, VISID_FMT_XRGB8888);
	if (!ret)
		ret = visid_draw_image(&canvas, &photo, 0, 0, photo.width, photo.height);
	VT_CHECK(ret == 0, "drawing failed: %d", ret);
	if (!ret)
		ret = visid_image_to_rgb24(&canvas, &back);
	VT_CHECK(ret == 0 && images_equal(&back, &photo),
		 "a 1:1 draw of a photo onto XRGB8888 does not give back the photo");
	visid_image_free(&back);

	/* Halving averages 2x2 blocks: check one pixel by hand. */
	visid_draw_image(&canvas, &photo, 0, 0, photo.width / 2, photo.height / 2);
	ret = visid_image_to_rgb24(&canvas, &back);
	if (!ret) {
		int x = 37, y = 41, want = 0;

		for (int k = 0; k < 4; k++)
			want += pixel_channel(&photo, 2 * x + (k & 1), 2 * y + (k >> 1), 1);
		want = (want + 2) / 4;
		VT_CHECK(abs(pixel_channel(&back, x, y, 1) - want) <= 1,
			 "halved pixel (%d,%d) green %d, 2x2 mean %d", x, y,
			 pixel_channel(&back, x, y, 1), want);
	}
	visid_image_free(&back);
	visid_image_free(&canvas);
	visid_image_free(&photo);
}

static void test_text_extent_and_ink(void)
{
	struct visid_overlay *ov, *missing;
	struct visid_image canvas = {0};
	int w16, h16, w32, h32, ret, inside = 0, outside = 0, adv;

	ret = visid_overlay_create(NULL, &ov);
	VT_CHECK(ret == 0, "overlay cannot load the default font: %d (%.160s)", ret, last_error);
	if (ret)
		return;
	visid_text_extent(ov, "Hello, Zoë", 16, &w16, &h16);
	visid_text_extent(ov, "Hello, Zoë", 32, &w32, &h32);
	VT_CHECK(w16 > 40 && w32 > 1.8 * w16 && w32 < 2.2 * w16 && h32 > h16,
		 "extent at 16 px %dx%d, at 32 px %dx%d: not proportional", w16, h16, w32, h32);

	visid_image_alloc(&canvas, 200, 60, VISID_FMT_XRGB8888);
	adv = visid_draw_text(ov, &canvas, 10, 40, 32, "Hello, Zoë", 0xffffff);
	VT_CHECK(adv == w32, "drawn advance %d, measured %d", adv, w32);
	for (int y = 0; y < canvas.height; y++)
		for (int x = 0; x < canvas.width; x++) {
			int lit = canvas.data[y * canvas.stride + 4 * x + 1] > 128;
			int in = x >= 10 && x < 10 + w32 + 2 && y >= 40 - h32 && y < 40 + h32 / 3;

			inside += lit && in;
			outside += lit && !in;
		}
	VT_CHECK(inside > 100 && outside == 0, "text ink: %d pixels in its box, %d outside", inside,
		 outside);

	last_error[0] = 0;
	ret = visid_overlay_create("/nonexistent/font.ttf", &missing);
	VT_CHECK(ret < 0 && !missing, "a missing font was accepted: %d", ret);
	VT_CHECK(strstr(last_error, "/nonexistent/font.ttf") != NULL,
		 "font error does not name the file: '%.160s'", last_error);
	visid_image_free(&canvas);
	visid_overlay_destroy(ov);
}

/* Counts pixels whose colour is within tol of rgb in a region of an RGB24 image. */
static int count_color(const struct visid_image *img, int x0, int y0, int x1, int y1, uint32_t rgb,
		       int tol)
{
	int n = 0;

	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			n += abs(pixel_channel(img, x, y, 0) - (int)(rgb >> 16 & 255)) <= tol &&
			     abs(pixel_channel(img, x, y, 1) - (int)(rgb >> 8 & 255)) <= tol &&
			     abs(pixel_channel(img, x, y, 2) - (int)(rgb & 255)) <= tol;
	return n;
}

static void test_png_screen_shows_the_scene(void)
{
	struct visid_image frame = {0}, avatar = {0}, canvas, back = {0};
	struct visid_screen_options opt = {.width = 640, .height = 360, .every = 2};
	struct visid_overlay_face face = {{200, 150, 400, 400}, 0xff0000, "Zoë"};
	struct visid_overlay_scene scene = {&frame, &face, 1, &avatar, "Hello, Zoë"};
	struct visid_screen *scr;
	struct visid_overlay *ov;
	char dir[400], path[600];
	int ret, w, h;

	if (load_shared(Y4M_PHOTO, &frame) || load_shared(AVATAR_PHOTO, &avatar)) {
		VT_CHECK(0, "cannot decode the photos");
		goto out_free_images;
	}
	snprintf(dir, sizeof(dir), "%s/shots/run1", visid_test_tmpdir());
	ret = visid_screen_open(dir, &opt, &scr);
	VT_CHECK(ret == 0, "png screen did not open on %.160s: %d (%.160s)", dir, ret, last_error);
	if (ret)
		goto out_free_images;
	visid_screen_size(scr, &w, &h);
	VT_CHECK(w == 640 && h == 360 && visid_screen_kind(scr) == VISID_SCREEN_PNG,
		 "screen %dx%d kind %d", w, h, visid_screen_kind(scr));
	if (visid_overlay_create(NULL, &ov))
		goto out_close_screen;
	for (int i = 0; i < 3; i++) {
		visid_screen_canvas(scr, &canvas);
		ret = visid_overlay_draw(ov, &scene, &canvas);
		VT_CHECK(ret == 0, "overlay draw failed: %d", ret);
		VT_CHECK(visid_screen_present(scr) == 0, "present %d failed (%.160s)", i,
			 last_error);
	}
	VT_CHECK(visid_screen_presented(scr) == 3, "presented %llu",
		 (unsigned long long)visid_screen_presented(scr));

	/* every=2 wrote pictures 0 and 2 as files 0 and 1, and nothing else. */
	snprintf(path, sizeof(path), "%s/frame-000002.png", dir);
	VT_CHECK(access(path, F_OK) != 0, "%.160s written though every=2", path);
	snprintf(path, sizeof(path), "%s/frame-000001.png", dir);
	ret = visid_image_load(path, &back);
	VT_CHECK(ret == 0 && back.width == 640 && back.height == 360,
		 "%.160s reads back as %d, %dx%d", path, ret, back.width, back.height);
	if (!ret) {
		/* 583x800 into 640x360: scale 0.45, frame at x 189..451; box 200..400 wide. */
		double s = 360.0 / 800;
		int bx = 189 + (int)(200 * s), by = (int)(150 * s), bx1 = 189 + (int)(400 * s);

		VT_CHECK(count_color(&back, bx, by + 5, bx + 2, by + 40, 0xff0000, 8) == 2 * 35,
			 "left edge of the face box is not red at x=%d", bx);
		VT_CHECK(count_color(&back, bx1 - 2, by + 5, bx1, by + 40, 0xff0000, 8) == 2 * 35,
			 "right edge of the face box is not red at x=%d", bx1);
		VT_CHECK(count_color(&back, 0, 100, 180, 360, 0, 0) == 180 * 260,
			 "left bar beside the frame is not black");
		VT_CHECK(count_color(&back, 380, 0, 640, 100, 0xffffff, 40) > 80,
			 "no white greeting text in the upper right");
		int ly = (int)(400 * s) + 3;

		VT_CHECK(count_color(&back, bx, ly, bx + 60, ly + 22, 0xff0000, 60) > 10,
			 "no red label under the face box");
	}
	visid_image_free(&back);
	visid_overlay_destroy(ov);
out_close_screen:
	visid_screen_close(scr);
out_free_images:
	visid_image_free(&frame);
	visid_image_free(&avatar);
}

/*
 * The PNG screen's directory goes away for 25 pictures, then comes back:
 * one error for the whole run, a count at 10 (then 100, ...), a line when pictures
 * show again, and the numbering carries on from the pictures shown.
 */
static void test_png_screen_lost_then_back(void)
{
	struct visid_screen_options opt = {.width = 64, .height = 48};
	struct visid_screen *scr;
	struct visid_image canvas;
	char dir[400], path[600];
	int ret, failed = 0;

	snprintf(dir, sizeof(dir), "%s/shots/lost", visid_test_tmpdir());
	ret = visid_screen_open(dir, &opt, &scr);
	VT_CHECK(ret == 0, "png screen did not open on %.160s: %d", dir, ret);
	if (ret)
		return;
	visid_screen_canvas(scr, &canvas);
	VT_CHECK(visid_screen_present(scr) == 0, "first picture not shown: %.160s", last_error);
	VT_CHECK(rmdir(dir) == -1, "the first picture was not written");
	snprintf(path, sizeof(path), "%s/frame-000000.png", dir);
	unlink(path);
	VT_CHECK(rmdir(dir) == 0, "cannot remove %.160s: %s", dir, strerror(errno));
	errors_logged = 0;
	last_warning[0] = 0;
	for (int i = 0; i < 25; i++) {
		visid_screen_canvas(scr, &canvas);
		failed += visid_screen_present(scr) == -ENOENT;
	}
	VT_CHECK(failed == 25, "%d of 25 presents failed with ENOENT", failed);
	VT_CHECK(errors_logged == 1, "the lost directory logged %d errors, want 1",
		 errors_logged);
	VT_CHECK(strstr(last_error, "frame-000001.png") && strstr(last_error, "No such file"),
		 "the error does not name the file and the cause: %.160s", last_error);
	VT_CHECK(strstr(last_warning, "10 pictures in a row not shown"),
		 "no count at 10: '%.160s'", last_warning);
	VT_CHECK(mkdir(dir, 0700) == 0, "cannot recreate %.160s", dir);
	visid_screen_canvas(scr, &canvas);
	VT_CHECK(visid_screen_present(scr) == 0, "picture not shown once the directory is back");
	VT_CHECK(strstr(last_warning, "showing pictures again after 25 not shown"),
		 "no recovery line: '%.160s'", last_warning);
	snprintf(path, sizeof(path), "%s/frame-000001.png", dir);
	VT_CHECK(access(path, F_OK) == 0, "%.160s not written after the recovery", path);
	VT_CHECK(visid_screen_presented(scr) == 2, "presented %llu, want 2",
		 (unsigned long long)visid_screen_presented(scr));
	visid_screen_close(scr);
}

VISID_SUITE(hal_files, "hal_files", hal_init, hal_clean, hal_skip,
	    VISID_TEST(test_dir_source_sorted_and_loops), VISID_TEST(test_image_source_repeats),
	    VISID_TEST(test_missing_paths_name_the_file),
	    VISID_TEST(test_camera_errors_name_the_device),
	    VISID_TEST(test_y4m_gives_nv12_of_the_photo), VISID_TEST(test_y4m_bad_headers_rejected),
	    VISID_TEST(test_draw_image_one_to_one_is_exact), VISID_TEST(test_text_extent_and_ink),
	    VISID_TEST(test_png_screen_shows_the_scene),
	    VISID_TEST(test_png_screen_lost_then_back))
