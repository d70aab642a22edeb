/*
 * DRM/KMS display on a real kernel driver. Only virtual display drivers
 * (virtio-gpu, bochs, vkms) are used, so a desktop's screen is never taken
 * over; tests/vm/run boots a VM with QEMU's virtio-gpu and runs this suite.
 * The CRTC is read back through a second descriptor to see that flips land.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "harness.h"
#include "visid/hal.h"
#include "visid/log.h"

static const char *const virtual_drivers[] = {"virtio_gpu", "bochs-drm", "vkms"};

static char card[64];
static char skip_reason[160];
static char last_error[240];

static void capture_log(enum visid_log_level level, const char *msg, void *data)
{
	if (level == VISID_LOG_ERROR)
		snprintf(last_error, sizeof(last_error), "%s", msg);
}

static int is_virtual(int fd, char *name, size_t len)
{
	drmVersionPtr v = drmGetVersion(fd);
	int found = 0;

	snprintf(name, len, "%s", v ? v->name : "?");
	for (size_t i = 0; v && i < sizeof(virtual_drivers) / sizeof(virtual_drivers[0]); i++)
		found |= !strcmp(v->name, virtual_drivers[i]);
	drmFreeVersion(v);
	return found;
}

static const char *drm_skip(void)
{
	char paths[8][64], driver[32] = "";
	int n = visid_drm_list(paths, 8);

	if (n <= 0)
		return "no DRM card with connectors (/dev/dri/card*) on this machine; "
		       "tests/vm/run runs this suite on virtio-gpu in a VM";
	for (int i = 0; i < n && i < 8 && !card[0]; i++) {
		int fd = open(paths[i], O_RDWR | O_CLOEXEC);

		if (fd >= 0 && is_virtual(fd, driver, sizeof(driver)))
			snprintf(card, sizeof(card), "%.63s", paths[i]);
		if (fd >= 0)
			close(fd);
	}
	if (!card[0]) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "only real displays here (%s); the suite takes over virtual ones only",
			 driver);
		return skip_reason;
	}
	return NULL;
}

static int drm_init(void)
{
	visid_log_set_handler(capture_log, NULL);
	return 0;
}

static int drm_clean(void)
{
	visid_log_set_handler(NULL, NULL);
	return 0;
}

/* The connector's preferred mode as the kernel lists it, looked up here independently. */
static int preferred_mode(int fd, const char *connector, drmModeModeInfo *mode)
{
	drmModeRes *res = drmModeGetResources(fd);
	int found = 0;

	for (int i = 0; res && i < res->count_connectors && !found; i++) {
		drmModeConnectorPtr c = drmModeGetConnector(fd, res->connectors[i]);
		char name[48];

		if (!c)
			continue;
		snprintf(name, sizeof(name), "%s-%u",
			 drmModeGetConnectorTypeName(c->connector_type), c->connector_type_id);
		for (int m = 0; !strcmp(name, connector) && m < c->count_modes; m++)
			if (c->modes[m].type & DRM_MODE_TYPE_PREFERRED) {
				*mode = c->modes[m];
				found = 1;
			}
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	return found;
}

/* The framebuffer the card's first CRTC is scanning out, read by an observer. */
static uint32_t scanned_fb(int observer)
{
	drmModeRes *res = drmModeGetResources(observer);
	uint32_t fb = 0;

	for (int i = 0; res && i < res->count_crtcs && !fb; i++) {
		drmModeCrtcPtr c = drmModeGetCrtc(observer, res->crtcs[i]);

		if (c && c->mode_valid)
			fb = c->buffer_id;
		drmModeFreeCrtc(c);
	}
	drmModeFreeResources(res);
	return fb;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Presents frames, each a different grey, and checks each flip changed the scanout. */
static void flip_frames(int legacy, int count)
{
	struct visid_screen_options opt = {.legacy_kms = legacy};
	struct visid_screen_info info;
	struct visid_screen *scr;
	struct visid_image canvas;
	struct timespec t0;
	drmModeModeInfo mode = {0};
	uint32_t before, previous = 0;
	int observer, ret, changed = 0;
	char spec[80];

	observer = open(card, O_RDWR | O_CLOEXEC);
	VT_CHECK(observer >= 0, "cannot open %s: %s", card, strerror(errno));
	if (observer < 0)
		return;
	drmDropMaster(observer); /* the first opener becomes master; the screen must be */
	before = scanned_fb(observer);
	snprintf(spec, sizeof(spec), "drm:%s", card);
	ret = visid_screen_open(spec, &opt, &scr);
	VT_CHECK(ret == 0, "drm screen on %s did not open: %d (%.160s)", card, ret, last_error);
	if (ret)
		goto out_close_observer;
	visid_screen_get_info(scr, &info);
	VT_CHECK(info.atomic == !legacy, "%s commits, asked for %s",
		 info.atomic ? "atomic" : "legacy", legacy ? "legacy" : "atomic");
	VT_CHECK(preferred_mode(observer, info.connector, &mode) && mode.hdisplay == info.width &&
		     mode.vdisplay == info.height,
		 "screen %dx%d on %s is not the preferred mode %ux%u", info.width, info.height,
		 info.connector, mode.hdisplay, mode.vdisplay);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < count; i++) {
		uint32_t now;

		ret = visid_screen_canvas(scr, &canvas);
		if (!ret) {
			visid_draw_fill(&canvas, 0, 0, canvas.width, canvas.height,
					0x010101u * (uint32_t)(i * 4));
			ret = visid_screen_present(scr);
		}
		VT_CHECK(ret == 0, "flip %d failed: %d (%.160s)", i, ret, last_error);
		if (ret)
			break;
		/* Taking the next canvas waits for this flip to complete. */
		visid_screen_canvas(scr, &canvas);
		now = scanned_fb(observer);
		changed += now && now != previous;
		previous = now;
	}
	printf("\n    %s %s %dx%d@%d, %s: %d flips in %.2f s, %d seen on the CRTC", card,
	       info.connector, info.width, info.height, info.refresh_hz,
	       legacy ? "legacy" : "atomic", count, seconds_since(&t0), changed);
	VT_CHECK(changed == count, "the scanout changed on %d of %d flips", changed, count);
	VT_CHECK(visid_screen_presented(scr) == (uint64_t)count, "presented %llu of %d",
		 (unsigned long long)visid_screen_presented(scr), count);
	visid_screen_close(scr);
	VT_CHECK(scanned_fb(observer) == before,
		 "after close the CRTC shows fb %u, before it showed %u", scanned_fb(observer),
		 before);
out_close_observer:
	close(observer);
}

static void test_atomic_60_page_flips(void)
{
	flip_frames(0, 60);
}

static void test_legacy_page_flips(void)
{
	flip_frames(1, 20);
}

static void test_auto_pick_finds_the_card(void)
{
	struct visid_screen_info info;
	struct visid_screen *scr;
	int ret = visid_screen_open("drm", NULL, &scr);

	VT_CHECK(ret == 0, "drm screen did not open: %d (%.160s)", ret, last_error);
	if (ret)
		return;
	visid_screen_get_info(scr, &info);
	VT_CHECK(visid_screen_kind(scr) == VISID_SCREEN_DRM && info.width > 0 && info.connector[0],
		 "kind %d, %dx%d on '%s'", visid_screen_kind(scr), info.width, info.height,
		 info.connector);
	visid_screen_close(scr);
}

static void test_errors_name_the_card(void)
{
	struct visid_screen *first, *second;
	char spec[80];
	int ret;

	snprintf(spec, sizeof(spec), "drm:%s", card);
	ret = visid_screen_open(spec, NULL, &first);
	VT_CHECK(ret == 0, "drm screen did not open: %d", ret);
	if (ret)
		return;
	last_error[0] = 0;
	ret = visid_screen_open(spec, NULL, &second);
	VT_CHECK(ret == -EBUSY && strstr(last_error, card) && strstr(last_error, "not DRM master"),
		 "a second opener while the first is master: %d, '%.160s'", ret, last_error);
	if (!ret)
		visid_screen_close(second);
	visid_screen_close(first);

	last_error[0] = 0;
	ret = visid_screen_open("drm:/dev/dri/renderD128", NULL, &second);
	VT_CHECK(ret < 0 && strstr(last_error, "renderD128") && strstr(last_error, "no connectors"),
		 "a render node as screen: %d, '%.160s'", ret, last_error);
	if (!ret)
		visid_screen_close(second);
}

VISID_SUITE(hal_drm, "hal_drm", drm_init, drm_clean, drm_skip,
	    VISID_TEST(test_auto_pick_finds_the_card), VISID_TEST(test_atomic_60_page_flips),
	    VISID_TEST(test_legacy_page_flips), VISID_TEST(test_errors_name_the_card))
