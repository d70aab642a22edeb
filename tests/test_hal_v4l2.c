/*
 * V4L2 capture on a real kernel driver: vivid, the kernel's virtual video
 * device, whose colour bars are known, whose buffers export as dmabufs, and
 * whose error-injection controls stall and unplug the stream. The suite runs
 * wherever vivid is loaded; tests/vm/run loads it in a VM and runs it there.
 *
 * vivid is expected as two instances: one single-planar and one
 * multi-planar (modprobe vivid n_devs=2 multiplanar=1,2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-heap.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "harness.h"
#include "visid/hal.h"
#include "visid/log.h"

#define WIDTH		 640
#define HEIGHT		 360
#define PAD		 64 /* extra bytes asked for per row, so stride != width x bpp */
#define FRAME_TIMEOUT_MS 5000

static char single_path[64], multi_path[64];
static char skip_reason[160];

static const char *v4l2_skip(void)
{
	char paths[16][64];
	int n = visid_v4l2_list(paths, 16);

	if (n <= 0)
		return "no V4L2 capture device (/dev/video*) on this machine; "
		       "tests/vm/run runs this suite on vivid in a VM";
	for (int i = 0; i < n && i < 16; i++) {
		struct visid_v4l2_info info;

		if (visid_v4l2_query(paths[i], &info))
			continue;
		if (!strcmp(info.driver, "vivid")) {
			char *slot = info.multiplanar ? multi_path : single_path;

			if (!slot[0])
				snprintf(slot, 64, "%.63s", paths[i]);
		}
		visid_v4l2_info_free(&info);
	}
	if (!single_path[0] || !multi_path[0]) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "%d capture device(s) but not vivid single- and multi-planar "
			 "(modprobe vivid n_devs=2 multiplanar=1,2)",
			 n);
		return skip_reason;
	}
	return NULL;
}

static int open_camera(const char *path, struct visid_source_options *opt,
		       struct visid_source **src)
{
	char spec[80];
	int ret;

	snprintf(spec, sizeof(spec), "v4l2:%s", path);
	ret = visid_source_open(spec, opt, src);
	VT_CHECK(ret == 0, "%s did not open: %s", path, strerror(-ret));
	return ret;
}

static void base_options(struct visid_source_options *opt, uint32_t fourcc, int bytesperline)
{
	visid_source_options_init(opt);
	opt->width = WIDTH;
	opt->height = HEIGHT;
	opt->fps = 30;
	opt->fourcc = fourcc;
	opt->bytesperline = bytesperline;
}

/*
 * vivid's default pattern is 75% colour bars: white, yellow, cyan, green,
 * magenta, red, blue, black, each 1/8 of the width. A frame whose stride or
 * chroma plane were misread shows sheared or discoloured bars.
 */
static int bars_wrong(const struct visid_image *frame, char *why, size_t len)
{
	static const uint8_t bars[8][3] = {
	    {191, 191, 191}, {191, 191, 0}, {0, 191, 191}, {0, 191, 0},
	    {191, 0, 191},   {191, 0, 0},   {0, 0, 191},   {0, 0, 0},
	};
	struct visid_image rgb = {0};
	int ret = visid_image_to_rgb24(frame, &rgb);

	if (ret) {
		snprintf(why, len, "conversion to RGB failed: %d", ret);
		return 1;
	}
	for (int row = 0; row < 3 && !ret; row++) {
		/* The lower half: vivid writes its text over the upper one. */
		int y = rgb.height / 2 + row * rgb.height / 5;

		for (int bar = 0; bar < 8 && !ret; bar++) {
			int x = rgb.width * (2 * bar + 1) / 16;
			const uint8_t *p = rgb.data + (size_t)y * rgb.stride + 3 * x;

			for (int k = 0; k < 3; k++)
				if (abs(p[k] - bars[bar][k]) > 16) {
					snprintf(why, len,
						 "bar %d at (%d,%d) is %d,%d,%d, expected %d,%d,%d",
						 bar, x, y, p[0], p[1], p[2], bars[bar][0],
						 bars[bar][1], bars[bar][2]);
					ret = 1;
					break;
				}
		}
	}
	visid_image_free(&rgb);
	return ret;
}

static void capture_and_check(const char *path, uint32_t fourcc, int bytesperline,
			      enum visid_pixel_format want_format, int want_mplane)
{
	struct visid_source_options opt;
	struct visid_v4l2_stats st;
	struct visid_source *src;
	struct visid_frame frame;
	char why[160], name[5] = {0};
	int ret, frames = 0;

	memcpy(name, &fourcc, 4);
	base_options(&opt, fourcc, bytesperline);
	if (open_camera(path, &opt, &src))
		return;
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(st.fourcc == fourcc && st.width == WIDTH && st.height == HEIGHT,
		 "%s: negotiated %.4s %dx%d, asked %s %dx%d", path, (char *)&st.fourcc, st.width,
		 st.height, name, WIDTH, HEIGHT);
	VT_CHECK(st.bytesperline == bytesperline, "%s %s: %d bytes per row, asked %d", path, name,
		 st.bytesperline, bytesperline);
	VT_CHECK(st.multiplanar == want_mplane && st.n_buffers >= 3,
		 "%s: multiplanar %d (want %d), %d buffers", path, st.multiplanar, want_mplane,
		 st.n_buffers);
	for (int i = 0; i < 5; i++) {
		ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
		VT_CHECK(ret == 0, "%s %s: frame %d: %s", path, name, i, strerror(-ret));
		if (ret)
			break;
		frames++;
		VT_CHECK(frame.image.format == want_format && frame.image.stride == bytesperline,
			 "%s: frame is %s stride %d", name,
			 visid_pixel_format_name(frame.image.format), frame.image.stride);
		if (want_format == VISID_FMT_NV12)
			VT_CHECK(frame.image.uv_stride == bytesperline,
				 "%s: chroma stride %d, expected %d", name, frame.image.uv_stride,
				 bytesperline);
	}
	if (frames)
		VT_CHECK(!bars_wrong(&frame.image, why, sizeof(why)), "%s %s: %s", path, name, why);
	printf("\n    %s %s %dx%d stride %d: %d frames, colour bars checked", path, name, st.width,
	       st.height, st.bytesperline, frames);
	visid_source_close(src);
}

static void test_capture_yuyv_padded(void)
{
	capture_and_check(single_path, V4L2_PIX_FMT_YUYV, 2 * WIDTH + PAD, VISID_FMT_YUYV, 0);
}

static void test_capture_nv12_padded(void)
{
	capture_and_check(single_path, V4L2_PIX_FMT_NV12, WIDTH + PAD, VISID_FMT_NV12, 0);
}

static void test_capture_nv12m_multiplanar(void)
{
	capture_and_check(multi_path, V4L2_PIX_FMT_NV12M, WIDTH + PAD, VISID_FMT_NV12, 1);
}

static void test_negotiation_prefers_raw_nv12(void)
{
	struct visid_source_options opt;
	struct visid_v4l2_stats st;
	struct visid_source *src;
	int ret;

	base_options(&opt, 0, 0);
	if (open_camera(single_path, &opt, &src))
		return;
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(st.fourcc == V4L2_PIX_FMT_NV12 && st.bytesperline >= WIDTH,
		 "chose %.4s with %d bytes per row", (char *)&st.fourcc, st.bytesperline);
	visid_source_close(src);

	opt.format = VISID_FMT_YUYV;
	if (open_camera(single_path, &opt, &src))
		return;
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(st.fourcc == V4L2_PIX_FMT_YUYV, "YUYV preferred, chose %.4s", (char *)&st.fourcc);
	visid_source_close(src);

	/* vivid has no MJPEG: asking for it exactly must fail, naming the device. */
	base_options(&opt, V4L2_PIX_FMT_MJPEG, 0);
	ret = visid_source_open(single_path, &opt, &src);
	VT_CHECK(ret < 0, "MJPEG accepted from a device without it");
}

static void test_query_lists_formats_and_controls(void)
{
	struct visid_v4l2_info info;
	int yuyv = 0, nv12 = 0, size_ok = 0, disconnect = 0, ret;

	ret = visid_v4l2_query(single_path, &info);
	VT_CHECK(ret == 0, "query %s: %d", single_path, ret);
	if (ret)
		return;
	for (int i = 0; i < info.n_formats; i++) {
		const struct visid_v4l2_format *f = &info.formats[i];

		yuyv |= f->fourcc == V4L2_PIX_FMT_YUYV;
		nv12 |= f->fourcc == V4L2_PIX_FMT_NV12;
		for (int s = 0; s < f->n_sizes; s++)
			size_ok |= f->fourcc == V4L2_PIX_FMT_YUYV && f->sizes[s].width == WIDTH &&
				   f->sizes[s].height == HEIGHT && f->sizes[s].max_fps >= 30;
	}
	for (int i = 0; i < info.n_controls; i++)
		disconnect |= !strcmp(info.controls[i].name, "Disconnect");
	VT_CHECK(yuyv && nv12, "%s formats: YUYV %d, NV12 %d of %d", single_path, yuyv, nv12,
		 info.n_formats);
	VT_CHECK(size_ok, "%s does not list YUYV %dx%d at >= 30 fps", single_path, WIDTH, HEIGHT);
	VT_CHECK(disconnect && info.n_controls > 10, "%d controls, Disconnect %s", info.n_controls,
		 disconnect ? "found" : "missing");
	VT_CHECK(!info.multiplanar && !strcmp(info.driver, "vivid"), "driver %s, multiplanar %d",
		 info.driver, info.multiplanar);
	visid_v4l2_info_free(&info);
}

/* The exported dmabuf holds the same bytes the frame shows. */
static void test_expbuf_aliases_the_frame(void)
{
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	struct visid_v4l2_stats st;
	size_t len;
	uint8_t *map;
	int ret;

	base_options(&opt, V4L2_PIX_FMT_NV12, WIDTH + PAD);
	if (open_camera(single_path, &opt, &src))
		return;
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(st.exported && st.io == VISID_V4L2_IO_MMAP, "exported %d io %d", st.exported,
		 st.io);
	ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	VT_CHECK(ret == 0 && frame.dmabuf_fd[0] >= 0, "frame %d, dmabuf %d", ret,
		 frame.dmabuf_fd[0]);
	if (ret || frame.dmabuf_fd[0] < 0)
		goto out_close;
	VT_CHECK(frame.dmabuf_fd[1] == frame.dmabuf_fd[0] &&
		     frame.dmabuf_offset[1] == (uint32_t)(frame.image.stride * HEIGHT),
		 "NV12 chroma at fd %d offset %u, expected fd %d offset %d", frame.dmabuf_fd[1],
		 frame.dmabuf_offset[1], frame.dmabuf_fd[0], frame.image.stride * HEIGHT);
	len = (size_t)frame.image.stride * HEIGHT * 3 / 2;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, frame.dmabuf_fd[0], 0);
	VT_CHECK(map != MAP_FAILED, "the exported dmabuf does not map: %s", strerror(errno));
	if (map != MAP_FAILED) {
		VT_CHECK(!memcmp(map, frame.image.data, len),
			 "the dmabuf's bytes differ from the frame's");
		munmap(map, len);
	}
out_close:
	visid_source_close(src);
}

static int heap_alloc(size_t len)
{
	struct dma_heap_allocation_data data = {.len = len, .fd_flags = O_RDWR | O_CLOEXEC};
	int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC), ret;

	if (heap < 0)
		return -errno;
	ret = ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data);
	close(heap);
	return ret < 0 ? -errno : (int)data.fd;
}

static void test_dmabuf_import(void)
{
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	struct visid_v4l2_stats st;
	int fds[4], ret, ours = 0;
	char why[160];

	/* Buffers allocated by the library itself. */
	base_options(&opt, V4L2_PIX_FMT_YUYV, 2 * WIDTH + PAD);
	opt.io = VISID_V4L2_IO_DMABUF;
	if (open_camera(single_path, &opt, &src))
		return;
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(st.io == VISID_V4L2_IO_DMABUF, "io %d, expected dmabuf import", st.io);
	ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	VT_CHECK(ret == 0, "no frame into allocated dmabufs: %s", strerror(-ret));
	if (!ret)
		VT_CHECK(!bars_wrong(&frame.image, why, sizeof(why)), "allocated dmabufs: %s", why);
	visid_source_close(src);

	/* Buffers the caller brings, as a display would. */
	for (int i = 0; i < 4; i++) {
		fds[i] = heap_alloc((size_t)(2 * WIDTH + PAD) * HEIGHT);
		VT_CHECK(fds[i] >= 0, "dma-heap allocation: %s", strerror(-fds[i]));
		if (fds[i] < 0)
			return;
	}
	opt.dmabuf_fds = fds;
	opt.n_dmabuf_fds = 4;
	if (open_camera(single_path, &opt, &src))
		goto out_close_fds;
	for (int i = 0; i < 6; i++) {
		ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
		VT_CHECK(ret == 0, "no frame %d into the caller's dmabufs: %s", i, strerror(-ret));
		if (ret)
			break;
		for (int k = 0; k < 4; k++)
			ours += frame.dmabuf_fd[0] == fds[k];
	}
	VT_CHECK(ours == 6, "%d of 6 frames came in the caller's dmabufs", ours);
	if (!ret)
		VT_CHECK(!bars_wrong(&frame.image, why, sizeof(why)), "caller dmabufs: %s", why);
	visid_source_close(src);
out_close_fds:
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

static int find_control(struct visid_source *src, const char *name, uint32_t *id)
{
	int ret = visid_v4l2_find_control(visid_source_camera(src), name, id);

	VT_CHECK(ret == 0, "vivid control '%s' not found: %d", name, ret);
	return ret;
}

static void test_stall_restarted_by_watchdog(void)
{
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	struct visid_v4l2_stats st;
	uint32_t dropped_id, flag_error_id, fatal_id;
	int ret;

	base_options(&opt, V4L2_PIX_FMT_YUYV, 0);
	opt.stall_ms = 300;
	if (open_camera(single_path, &opt, &src))
		return;
	if (find_control(src, "Percentage of Dropped Buffers", &dropped_id) ||
	    find_control(src, "Inject V4L2_BUF_FLAG_ERROR", &flag_error_id) ||
	    find_control(src, "Inject Fatal Streaming Error", &fatal_id))
		goto out_close;
	ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	VT_CHECK(ret == 0, "no first frame: %d", ret);

	/* Every buffer dropped: the stream stalls, the watchdog restarts it. */
	visid_v4l2_set_control(visid_source_camera(src), dropped_id, 100);
	for (int i = 0; i < 16 && !ret; i++)
		ret = visid_source_next(src, &frame, 100); /* filled before the control */
	ret = visid_source_next(src, &frame, 1000);
	VT_CHECK(ret == -EAGAIN, "a stalled stream gave %d, expected -EAGAIN", ret);
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(st.restarts >= 2, "%u restarts in 1 s with a 300 ms stall limit", st.restarts);
	visid_v4l2_set_control(visid_source_camera(src), dropped_id, 0);
	ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	VT_CHECK(ret == 0, "no frame after the stall ended: %d", ret);

	/* A buffer flagged bad is skipped, not given. */
	visid_v4l2_set_control(visid_source_camera(src), flag_error_id, 0);
	for (int i = 0; i < 4 && !ret; i++)
		ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(ret == 0 && st.dropped >= 1, "after an error flag: %d, %llu dropped", ret,
		 (unsigned long long)st.dropped);

	/* A fatal queue error: stopped, restarted, frames again. */
	unsigned restarts = st.restarts;

	visid_v4l2_set_control(visid_source_camera(src), fatal_id, 0);
	for (int i = 0; i < 4 && !ret; i++)
		ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(ret == 0 && st.restarts > restarts, "after a fatal error: %d, restarts %u -> %u",
		 ret, restarts, st.restarts);
	printf("\n    stall, error flag, fatal error: %u restarts, %llu dropped, frames resumed",
	       st.restarts, (unsigned long long)st.dropped);
out_close:
	visid_source_close(src);
}

static void test_disconnect_reopened(void)
{
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	struct visid_v4l2_stats st;
	uint32_t id;
	char why[160];
	int ret;

	base_options(&opt, V4L2_PIX_FMT_NV12, WIDTH + PAD);
	opt.reopen_max_ms = 400;
	if (open_camera(single_path, &opt, &src))
		return;
	if (find_control(src, "Disconnect", &id))
		goto out_close;
	ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	VT_CHECK(ret == 0, "no first frame: %d", ret);
	visid_v4l2_set_control(visid_source_camera(src), id, 0);
	ret = -EAGAIN;
	for (int tries = 0; tries < 20 && ret == -EAGAIN; tries++)
		ret = visid_source_next(src, &frame, 500);
	visid_v4l2_get_stats(visid_source_camera(src), &st);
	VT_CHECK(ret == 0 && st.reopens == 1, "after a disconnect: %d, %u reopens", ret,
		 st.reopens);
	VT_CHECK(st.fourcc == V4L2_PIX_FMT_NV12 && st.bytesperline == WIDTH + PAD,
		 "reopened as %.4s stride %d", (char *)&st.fourcc, st.bytesperline);
	if (!ret)
		VT_CHECK(!bars_wrong(&frame.image, why, sizeof(why)), "after reopen: %s", why);
	printf("\n    disconnect: reopened %u time(s), frames resumed", st.reopens);
out_close:
	visid_source_close(src);
}

/*
 * A consumer slower than the camera: after 600 ms of work the next frame
 * is one the camera took just now, not the oldest of those that waited
 * (which every_frame gives, in order). The age is in ms, -1e9 on failure.
 */
static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static double age_after_busy(int every_frame, struct visid_v4l2_stats *st)
{
	struct visid_source_options opt;
	struct timespec busy = {0, 600000000L};
	struct visid_source *src;
	struct visid_frame frame;
	double age = -1e9;
	int ret;

	base_options(&opt, V4L2_PIX_FMT_YUYV, 0);
	opt.every_frame = every_frame;
	if (open_camera(single_path, &opt, &src))
		return -1;
	ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	VT_CHECK(ret == 0, "no first frame: %d", ret);
	nanosleep(&busy, NULL);
	ret = visid_source_next(src, &frame, FRAME_TIMEOUT_MS);
	VT_CHECK(ret == 0, "no frame after the pause: %d", ret);
	if (!ret)
		age = (double)(int64_t)(monotonic_ns() - frame.timestamp_ns) / 1e6;
	visid_v4l2_get_stats(visid_source_camera(src), st);
	visid_source_close(src);
	return age;
}

static void test_slow_consumer_gets_new_frames(void)
{
	struct visid_v4l2_stats newest, every;
	double fresh = age_after_busy(0, &newest), old = age_after_busy(1, &every);

	/* vivid stamps a frame with its nominal time, which may be a little ahead. */
	VT_CHECK(fresh > -1e8 && old > -1e8, "frames missing");
	VT_CHECK(newest.stale >= 2 && every.stale == 0,
		 "%llu frames passed over by default, %llu with every_frame",
		 (unsigned long long)newest.stale, (unsigned long long)every.stale);
	VT_CHECK(fresh < 200 && fresh < old / 2,
		 "after 600 ms away the frame given is %.0f ms old (%.0f ms with every_frame)",
		 fresh, old);
	printf("\n    after 600 ms away: the frame given is %.0f ms old (%llu passed over); "
	       "every_frame: %.0f ms old", fresh, (unsigned long long)newest.stale, old);
}

VISID_SUITE(hal_v4l2, "hal_v4l2", NULL, NULL, v4l2_skip,
	    VISID_TEST(test_query_lists_formats_and_controls),
	    VISID_TEST(test_negotiation_prefers_raw_nv12), VISID_TEST(test_capture_yuyv_padded),
	    VISID_TEST(test_capture_nv12_padded), VISID_TEST(test_capture_nv12m_multiplanar),
	    VISID_TEST(test_expbuf_aliases_the_frame), VISID_TEST(test_dmabuf_import),
	    VISID_TEST(test_stall_restarted_by_watchdog), VISID_TEST(test_disconnect_reopened),
	    VISID_TEST(test_slow_consumer_gets_new_frames))
