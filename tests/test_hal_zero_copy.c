/*
 * The zero-copy direction real display drivers allow: buffers allocated by
 * the display (DRM dumb buffers exported with PRIME) handed to the camera,
 * which captures straight into them. Needs vivid and a virtual DRM card, as
 * in the VM of tests/vm/run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/videodev2.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "harness.h"
#include "visid/hal.h"

#define WIDTH	  640
#define HEIGHT	  360
#define N_BUFFERS 4

static char camera[64], card[64];

static const char *zero_copy_skip(void)
{
	char paths[16][64];
	int n = visid_v4l2_list(paths, 16);

	for (int i = 0; i < n && i < 16 && !camera[0]; i++) {
		struct visid_v4l2_info info;

		if (visid_v4l2_query(paths[i], &info))
			continue;
		if (!strcmp(info.driver, "vivid") && !info.multiplanar)
			snprintf(camera, sizeof(camera), "%.63s", paths[i]);
		visid_v4l2_info_free(&info);
	}
	if (!camera[0])
		return "no single-planar vivid camera here; tests/vm/run provides one";
	n = visid_drm_list(paths, 16);
	for (int i = 0; i < n && i < 16 && !card[0]; i++) {
		int fd = open(paths[i], O_RDWR | O_CLOEXEC);
		drmVersionPtr v = fd >= 0 ? drmGetVersion(fd) : NULL;

		if (v && (!strcmp(v->name, "virtio_gpu") || !strcmp(v->name, "vkms") ||
			  !strcmp(v->name, "bochs-drm")))
			snprintf(card, sizeof(card), "%.63s", paths[i]);
		drmFreeVersion(v);
		if (fd >= 0)
			close(fd);
	}
	if (!card[0])
		return "no virtual DRM card here; tests/vm/run provides one";
	return NULL;
}

static void test_capture_into_display_buffers(void)
{
	uint32_t handles[N_BUFFERS] = {0}, pitch;
	int fds[N_BUFFERS], drm, ret, ours = 0;
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	struct visid_image rgb = {0};
	char spec[80];
	uint64_t size;

	for (int i = 0; i < N_BUFFERS; i++)
		fds[i] = -1;
	drm = open(card, O_RDWR | O_CLOEXEC);
	VT_CHECK(drm >= 0, "cannot open %s: %s", card, strerror(errno));
	if (drm < 0)
		return;
	for (int i = 0; i < N_BUFFERS; i++) {
		ret =
		    drmModeCreateDumbBuffer(drm, WIDTH, HEIGHT, 32, 0, &handles[i], &pitch, &size);
		if (!ret)
			ret = drmPrimeHandleToFD(drm, handles[i], DRM_CLOEXEC | DRM_RDWR, &fds[i]);
		VT_CHECK(ret == 0, "%s: dumb buffer %d as a dmabuf: %d", card, i, ret);
		if (ret)
			goto out_free;
	}

	visid_source_options_init(&opt);
	opt.width = WIDTH;
	opt.height = HEIGHT;
	opt.fourcc = V4L2_PIX_FMT_YUYV;
	opt.io = VISID_V4L2_IO_DMABUF;
	opt.dmabuf_fds = fds;
	opt.n_dmabuf_fds = N_BUFFERS;
	snprintf(spec, sizeof(spec), "v4l2:%s", camera);
	ret = visid_source_open(spec, &opt, &src);
	VT_CHECK(ret == 0, "%s did not take %s's buffers: %d", camera, card, ret);
	if (ret)
		goto out_free;
	for (int i = 0; i < 6; i++) {
		ret = visid_source_next(src, &frame, 5000);
		VT_CHECK(ret == 0, "frame %d into display buffers: %s", i, strerror(-ret));
		if (ret)
			break;
		for (int k = 0; k < N_BUFFERS; k++)
			ours += frame.dmabuf_fd[0] == fds[k];
	}
	VT_CHECK(ours == 6, "%d of 6 frames landed in the display's buffers", ours);
	if (!ret && !visid_image_to_rgb24(&frame.image, &rgb)) {
		/* vivid's last colour bar is black, the first 75 % white. */
		const uint8_t *row = rgb.data + (size_t)(HEIGHT * 3 / 4) * rgb.stride;
		int white = row[3 * (WIDTH / 16)], black = row[3 * (WIDTH * 15 / 16)];

		VT_CHECK(abs(white - 191) < 16 && black < 16,
			 "colour bars in the display buffer: first %d, last %d", white, black);
		visid_image_free(&rgb);
	}
	printf("\n    %s captured into %d dumb buffers of %s: %d frames", camera, N_BUFFERS, card,
	       ours);
	visid_source_close(src);
out_free:
	for (int i = 0; i < N_BUFFERS; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (handles[i])
			drmModeDestroyDumbBuffer(drm, handles[i]);
	}
	close(drm);
}

VISID_SUITE(hal_zero_copy, "hal_zero_copy", NULL, NULL, zero_copy_skip,
	    VISID_TEST(test_capture_into_display_buffers))
