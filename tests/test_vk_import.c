/*
 * Zero copy: camera-like buffers (memfd mappings standing in for V4L2
 * buffers, the memfd for the buffer's dmabuf) made readable by the shaders
 * through host-pointer import, in place and once per buffer, and the copy
 * path when it is forced or the frame has no buffer behind it. Every frame
 * is resampled by the shader and compared with the C reference on the same
 * bytes, so a stale or misplaced import shows as wrong pixels. Validation
 * is on.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame_util.h"
#include "preprocess.h"
#include "vk_import.h"
#include "vk_pre.h"
#include "vk_test.h"

/* As the pre suite: the shader against the reference on identical bytes. */
#define TOL    2e-4
#define WIDTH  320
#define HEIGHT 240
/* Where the frame starts in its buffer, as a V4L2 data_offset would put it. */
#define DATA_OFFSET 100

static struct visid_vk_pre *pre;
static struct visid_image photo;
static char logged[8][256];
static int logged_count;

static const char *photo_path = "data/faces/group/dlib_pascal/2008_002470.jpg";

static const char *import_skip(void)
{
	if (!visid_test_have_shared(photo_path))
		return "../shared/data/faces is absent (real photos needed)";
	return vt_skip();
}

static int import_init(void)
{
	char path[256];

	if (vt_init() ||
	    visid_image_load(visid_test_shared(photo_path, path, sizeof(path)), &photo))
		return -1;
	return visid_vk_pre_create(vt_gpu, &pre) ? -1 : 0;
}

static int import_clean(void)
{
	visid_vk_pre_destroy(pre);
	pre = NULL;
	visid_image_free(&photo);
	return vt_clean();
}

static void capture(enum visid_log_level level, const char *msg, void *data)
{
	if (logged_count < 8)
		snprintf(logged[logged_count], sizeof(logged[0]), "%s", msg);
	logged_count++;
}

static int logged_with(const char *text)
{
	int n = 0;

	for (int i = 0; i < logged_count && i < 8; i++)
		n += strstr(logged[i], text) != NULL;
	return n;
}

/* A camera buffer: a memfd, mapped; the frame's planes inside it. */
struct cam_buffer {
	int fd;
	uint8_t *map;
	size_t size;
};

static int buffer_open(struct cam_buffer *b, size_t size, void *at)
{
	b->size = size;
	b->fd = memfd_create("visid-test-camera-buffer", MFD_CLOEXEC);
	if (b->fd < 0 || ftruncate(b->fd, (off_t)size)) {
		VT_CHECK(0, "memfd of %zu bytes: %s", size, strerror(errno));
		return -1;
	}
	b->map =
	    mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), b->fd, 0);
	if (b->map == MAP_FAILED) {
		VT_CHECK(0, "mapping the memfd: %s", strerror(errno));
		close(b->fd);
		b->fd = -1;
		return -1;
	}
	return 0;
}

static void buffer_close(struct cam_buffer *b)
{
	if (b->fd < 0)
		return;
	munmap(b->map, b->size);
	close(b->fd);
	b->fd = -1;
}

/* Plane 0 at DATA_OFFSET with a padded stride; NV12 chroma after it (or in `uv_buf`). */
static void frame_in(struct cam_buffer *b, struct cam_buffer *uv_buf,
		     enum visid_pixel_format format, struct visid_image *img)
{
	memset(img, 0, sizeof(*img));
	img->width = WIDTH;
	img->height = HEIGHT;
	img->format = format;
	img->stride = (int)vt_row_bytes(format, WIDTH) + 24;
	img->data = b->map + DATA_OFFSET;
	if (format == VISID_FMT_NV12) {
		img->uv_stride = WIDTH + 8;
		img->uv = uv_buf ? uv_buf->map + 36 : img->data + (size_t)img->stride * HEIGHT;
	}
}

static size_t buffer_size(enum visid_pixel_format format)
{
	return DATA_OFFSET + (vt_row_bytes(format, WIDTH) + 24) * HEIGHT +
	       (format == VISID_FMT_NV12 ? (WIDTH + 8) * HEIGHT / 2 : 0);
}

/* The shader's letterbox of what the importer gave, against the C reference on img. */
static void check_pixels(const struct visid_image *img, const struct visid_vk_frame *f,
			 const char *what)
{
	const int n = 3 * 96 * 96;
	struct visid_vk_buffer *out = NULL;
	float ref[3 * 96 * 96], got[3 * 96 * 96];
	struct visid_resample rs;
	double worst = 0;
	int ret;

	visid_pre_detector_map(img->width, img->height, NULL, 96, 96, 1, &rs);
	ret = visid_vk_buffer_create(vt_gpu, sizeof(got), VISID_VK_BUFFER_DEVICE, "out", &out);
	if (!ret)
		ret = visid_pre_resample(img, &rs, ref);
	if (!ret)
		ret = visid_vk_pre_run(pre, f, &rs, visid_vk_whole(out));
	if (!ret)
		ret = visid_vk_download(out, 0, got, sizeof(got));
	VT_CHECK(ret == 0, "%s: resampling failed: %d", what, ret);
	/* A plain compare, not fmax: aarch64 gcc 12 crashes vectorising that reduction. */
	for (int i = 0; !ret && i < n; i++) {
		double d = fabs((double)got[i] - ref[i]);

		if (d > worst)
			worst = d;
	}
	if (!ret)
		VT_CHECK(worst <= TOL, "%s: shader and reference differ by %.3g", what, worst);
	visid_vk_buffer_destroy(out);
}

static struct visid_vk_import_stats stats_of(struct visid_vk_importer *imp)
{
	struct visid_vk_import_stats st;

	visid_vk_import_get_stats(imp, &st);
	return st;
}

/*
 * Three YUYV buffers cycled twice, as a camera's queue does, with new
 * content written in place before the second round: three imports, no
 * copy, and the shaders see each buffer's current bytes.
 */
static void test_host_import_in_place(void)
{
	struct cam_buffer bufs[3] = {{.fd = -1}, {.fd = -1}, {.fd = -1}};
	struct visid_vk_importer *imp = NULL;
	struct visid_vk_import_stats st;
	int ok = 1;

	if (visid_vk_import_path_for(vt_gpu) == VISID_VK_IMPORT_COPY) {
		printf("\n    '%s' imports no host memory: nothing to check ",
		       visid_gpu_name(vt_gpu));
		return;
	}
	VT_CHECK(visid_vk_importer_create(vt_gpu, VISID_VK_IMPORT_DMABUF, &imp) == 0, "importer");
	for (int i = 0; i < 3 && ok; i++)
		ok = !buffer_open(&bufs[i], buffer_size(VISID_FMT_YUYV), NULL);
	for (int round = 0; round < 2 && ok && imp; round++) {
		for (int i = 0; i < 3; i++) {
			int fds[2] = {bufs[i].fd, -1};
			uint32_t offs[2] = {DATA_OFFSET, 0};
			struct visid_image img;
			struct visid_vk_frame f;
			char what[64];

			frame_in(&bufs[i], NULL, VISID_FMT_YUYV, &img);
			vt_frame_fill(&photo, 40 * i + 60 * round, 30 * round, &img);
			snprintf(what, sizeof(what), "buffer %d, round %d", i, round);
			VT_CHECK(visid_vk_import(imp, &img, fds, offs, &f) == 0, "%s: import",
				 what);
			VT_CHECK(f.plane[0].buf && f.offset[0] % 4096 == DATA_OFFSET,
				 "%s: frame at offset %u of the imported pages", what, f.offset[0]);
			check_pixels(&img, &f, what);
		}
	}
	if (imp) {
		st = stats_of(imp);
		printf("\n    host-pointer path: %llu frames, %llu imports, %llu copies ",
		       (unsigned long long)st.frames, (unsigned long long)st.imports,
		       (unsigned long long)st.copies);
		VT_CHECK(st.frames == 6 && st.imports == 3 && st.copies == 0 &&
			     st.by_path[VISID_VK_IMPORT_HOST] == 6,
			 "6 frames in 3 buffers: %llu imports, %llu copies, %llu by host pointer",
			 (unsigned long long)st.imports, (unsigned long long)st.copies,
			 (unsigned long long)st.by_path[VISID_VK_IMPORT_HOST]);
	}
	visid_vk_importer_destroy(imp);
	for (int i = 0; i < 3; i++)
		buffer_close(&bufs[i]);
	VT_NO_VALIDATION_MESSAGES();
}

/*
 * NV12 with its chroma in the same buffer (one import for both planes),
 * then in a second buffer (one more import; the luma buffer's is found again).
 */
static void test_host_import_nv12(void)
{
	struct cam_buffer luma = {.fd = -1}, chroma = {.fd = -1};
	struct visid_vk_importer *imp = NULL;

	if (visid_vk_import_path_for(vt_gpu) == VISID_VK_IMPORT_COPY)
		return;
	if (visid_vk_importer_create(vt_gpu, VISID_VK_IMPORT_DMABUF, &imp) ||
	    buffer_open(&luma, buffer_size(VISID_FMT_NV12), NULL) ||
	    buffer_open(&chroma, (WIDTH + 8) * HEIGHT / 2 + 64, NULL))
		goto out_close;
	for (int planes = 1; planes <= 2; planes++) {
		int fds[2] = {luma.fd, planes == 2 ? chroma.fd : luma.fd};
		uint32_t offs[2] = {DATA_OFFSET, 0};
		struct visid_vk_import_stats before = stats_of(imp), after;
		struct visid_image img;
		struct visid_vk_frame f;

		frame_in(&luma, planes == 2 ? &chroma : NULL, VISID_FMT_NV12, &img);
		offs[1] = planes == 2 ? 36 : (uint32_t)(img.uv - luma.map);
		vt_frame_fill(&photo, 17 * planes, 9, &img);
		VT_CHECK(visid_vk_import(imp, &img, fds, offs, &f) == 0, "NV12 in %d buffers",
			 planes);
		check_pixels(&img, &f, planes == 2 ? "NV12, chroma apart" : "NV12, one buffer");
		after = stats_of(imp);
		VT_CHECK(after.copies == before.copies && after.imports - before.imports == 1,
			 "NV12 in %d buffers: %llu new imports, %llu copies", planes,
			 (unsigned long long)(after.imports - before.imports),
			 (unsigned long long)(after.copies - before.copies));
	}
out_close:
	visid_vk_importer_destroy(imp);
	buffer_close(&luma);
	buffer_close(&chroma);
	VT_NO_VALIDATION_MESSAGES();
}

/*
 * A buffer unmapped and another mapped at the same address (a camera
 * reopened): the old import is not reused, the new bytes are seen.
 */
static void test_replaced_mapping(void)
{
	struct cam_buffer a = {.fd = -1}, b = {.fd = -1};
	struct visid_vk_importer *imp = NULL;
	struct visid_image img;
	struct visid_vk_frame f;
	void *at;

	if (visid_vk_import_path_for(vt_gpu) == VISID_VK_IMPORT_COPY)
		return;
	if (visid_vk_importer_create(vt_gpu, VISID_VK_IMPORT_DMABUF, &imp) ||
	    buffer_open(&a, buffer_size(VISID_FMT_RGB24), NULL))
		goto out_close;
	frame_in(&a, NULL, VISID_FMT_RGB24, &img);
	vt_frame_fill(&photo, 0, 0, &img);
	VT_CHECK(visid_vk_import(imp, &img, (int[]){a.fd, -1}, (uint32_t[]){DATA_OFFSET, 0}, &f) ==
		     0,
		 "first buffer");
	at = a.map;
	/* The new mapping replaces the old one at the same address. */
	if (buffer_open(&b, a.size, at))
		goto out_close;
	close(a.fd);
	a.fd = -1;
	frame_in(&b, NULL, VISID_FMT_RGB24, &img);
	vt_frame_fill(&photo, 150, 80, &img);
	VT_CHECK(visid_vk_import(imp, &img, (int[]){b.fd, -1}, (uint32_t[]){DATA_OFFSET, 0}, &f) ==
		     0,
		 "second buffer at the same address");
	check_pixels(&img, &f, "buffer replaced at the same address");
	VT_CHECK(stats_of(imp).imports == 2, "%llu imports for two buffers at one address",
		 (unsigned long long)stats_of(imp).imports);
out_close:
	visid_vk_importer_destroy(imp);
	buffer_close(&a);
	buffer_close(&b);
	VT_NO_VALIDATION_MESSAGES();
}

/* Copies when forced (by the caller or $VISID_ZERO_COPY=0) and for frames without a buffer. */
static void test_copy_paths(void)
{
	static const struct {
		enum visid_vk_import_path best;
		const char *env;
		int camera;
		const char *reason;
	} cases[] = {
	    {VISID_VK_IMPORT_COPY, NULL, 1, "turned off"},
	    {VISID_VK_IMPORT_DMABUF, "0", 1, "turned off"},
	    {VISID_VK_IMPORT_DMABUF, NULL, 0, "not in camera buffers"},
	};
	struct cam_buffer buf = {.fd = -1};
	enum visid_log_level level = visid_log_get_level();

	if (buffer_open(&buf, buffer_size(VISID_FMT_XRGB8888), NULL))
		return;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct visid_vk_importer *imp = NULL;
		struct visid_vk_import_stats st;

		if (cases[c].env)
			setenv("VISID_ZERO_COPY", cases[c].env, 1);
		logged_count = 0;
		visid_log_set_handler(capture, NULL);
		visid_log_set_level(VISID_LOG_INFO);
		if (!visid_vk_importer_create(vt_gpu, cases[c].best, &imp)) {
			for (int i = 0; i < 3; i++) {
				struct visid_image img;
				struct visid_vk_frame f;

				frame_in(&buf, NULL, VISID_FMT_XRGB8888, &img);
				vt_frame_fill(&photo, 30 * i, 20, &img);
				VT_CHECK(
				    visid_vk_import(imp, &img,
						    cases[c].camera ? (int[]){buf.fd, -1} : NULL,
						    (uint32_t[]){DATA_OFFSET, 0}, &f) == 0,
				    "case %zu frame %d", c, i);
				check_pixels(&img, &f, "copied frame");
			}
			st = stats_of(imp);
			VT_CHECK(st.copies == 3 && st.imports == 0 &&
				     st.last == VISID_VK_IMPORT_COPY,
				 "case %zu: %llu copies, %llu imports for 3 frames", c,
				 (unsigned long long)st.copies, (unsigned long long)st.imports);
		}
		visid_log_set_handler(NULL, NULL);
		visid_log_set_level(level);
		unsetenv("VISID_ZERO_COPY");
		VT_CHECK(logged_with("copied") == 1 && logged_with(cases[c].reason) == 1,
			 "case %zu: %d lines say the frames are copied, %d give the reason '%s' "
			 "(first: '%s')",
			 c, logged_with("copied"), logged_with(cases[c].reason), cases[c].reason,
			 logged[0]);
		visid_vk_importer_destroy(imp);
	}
	buffer_close(&buf);
	VT_NO_VALIDATION_MESSAGES();
}

VISID_SUITE(vk_import, "vk-import", import_init, import_clean, import_skip,
	    VISID_TEST(test_host_import_in_place), VISID_TEST(test_host_import_nv12),
	    VISID_TEST(test_replaced_mapping), VISID_TEST(test_copy_paths))
