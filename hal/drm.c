/*
 * DRM/KMS display: a connected connector in its preferred mode, two dumb
 * buffers scanned out in turn with page flips (atomic commits where the
 * driver has them, the legacy ioctls otherwise), and on close the CRTC put
 * back as it was found, so a console or another program gets its screen back.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <drm_fourcc.h>
#include <xf86drm.h>
#include <xf86drmMode.h>

#include "hal_priv.h"
#include "visid/log.h"

#define MAX_CARDS	16
#define FLIP_TIMEOUT_MS 1000

struct drm_fb {
	uint32_t handle, fb_id, pitch;
	uint64_t size;
	uint8_t *map;
};

struct drm_screen {
	char path[64];
	char connector_name[32];
	int fd;
	uint32_t connector_id, crtc_id, plane_id;
	drmModeModeInfo mode;
	drmModeCrtcPtr saved;
	struct drm_fb fbs[2];
	int front; /* the buffer being scanned out */
	int flip_pending;
	int atomic;
	uint32_t mode_blob;
};

/* ---- choosing a card, connector, mode and CRTC ------------------------ */

static const char *connector_type_name(uint32_t type)
{
	const char *name = drmModeGetConnectorTypeName(type);

	return name ? name : "Unknown";
}

/* Preferred mode, else the first listed (drivers list the best first). */
static const drmModeModeInfo *pick_mode(const drmModeConnector *conn)
{
	for (int i = 0; i < conn->count_modes; i++)
		if (conn->modes[i].type & DRM_MODE_TYPE_PREFERRED)
			return &conn->modes[i];
	return conn->count_modes ? &conn->modes[0] : NULL;
}

static int crtc_for_connector(int fd, const drmModeRes *res, const drmModeConnector *conn,
			      uint32_t *crtc_id)
{
	drmModeEncoderPtr enc;

	if (conn->encoder_id) {
		enc = drmModeGetEncoder(fd, conn->encoder_id);
		if (enc && enc->crtc_id) {
			*crtc_id = enc->crtc_id;
			drmModeFreeEncoder(enc);
			return 0;
		}
		drmModeFreeEncoder(enc);
	}
	for (int e = 0; e < conn->count_encoders; e++) {
		enc = drmModeGetEncoder(fd, conn->encoders[e]);
		if (!enc)
			continue;
		for (int c = 0; c < res->count_crtcs; c++)
			if (enc->possible_crtcs & (1u << c)) {
				*crtc_id = res->crtcs[c];
				drmModeFreeEncoder(enc);
				return 0;
			}
		drmModeFreeEncoder(enc);
	}
	return -ENOENT;
}

/*
 * Finds a connected connector with modes on an open card. Returns 0, or a
 * negative code with why written to why (for the message naming the card).
 */
static int find_output(struct drm_screen *s, char *why, size_t len)
{
	drmModeRes *res = drmModeGetResources(s->fd);
	int ret = -ENODEV, connected = 0;

	if (!res || !res->count_connectors) {
		snprintf(why, len, "no connectors (a render-only GPU?)");
		drmModeFreeResources(res);
		return -ENODEV;
	}
	snprintf(why, len, "no connector is connected");
	for (int i = 0; i < res->count_connectors && ret; i++) {
		drmModeConnectorPtr conn = drmModeGetConnector(s->fd, res->connectors[i]);
		const drmModeModeInfo *mode;

		if (!conn)
			continue;
		if (conn->connection == DRM_MODE_CONNECTED) {
			connected++;
			snprintf(s->connector_name, sizeof(s->connector_name), "%s-%u",
				 connector_type_name(conn->connector_type),
				 conn->connector_type_id);
			mode = pick_mode(conn);
			if (!mode) {
				snprintf(why, len, "%s is connected but lists no modes",
					 s->connector_name);
			} else if (crtc_for_connector(s->fd, res, conn, &s->crtc_id)) {
				snprintf(why, len, "no CRTC can drive %s", s->connector_name);
			} else {
				s->connector_id = conn->connector_id;
				s->mode = *mode;
				ret = 0;
			}
		}
		drmModeFreeConnector(conn);
	}
	drmModeFreeResources(res);
	return ret;
}

static int open_card(struct drm_screen *s, const char *path, char *why, size_t len)
{
	int ret;

	snprintf(s->path, sizeof(s->path), "%s", path);
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0) {
		snprintf(why, len, "cannot open: %s", strerror(errno));
		return -errno;
	}
	ret = find_output(s, why, len);
	if (ret) {
		close(s->fd);
		s->fd = -1;
	}
	return ret;
}

/* The first card that can show something: /dev/dri/card0 may be a render-only GPU. */
static int pick_card(struct drm_screen *s, const char *card)
{
	char why[160], reasons[600] = "";
	int ret = -ENODEV;

	if (card) {
		ret = open_card(s, card, why, sizeof(why));
		if (ret)
			visid_err("drm screen %s: %s", card, why);
		return ret;
	}
	for (int i = 0; i < MAX_CARDS && ret; i++) {
		char path[64];
		size_t used = strlen(reasons);

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		if (access(path, F_OK))
			continue;
		ret = open_card(s, path, why, sizeof(why));
		if (ret)
			snprintf(reasons + used, sizeof(reasons) - used, "%s%s: %s",
				 used ? "; " : "", path, why);
	}
	if (ret)
		visid_err("drm screen: no card with a connected display%s%s",
			  reasons[0] ? ": " : " (no /dev/dri/card*)", reasons);
	return ret;
}

/* ---- buffers ---------------------------------------------------------- */

static int create_fb(struct drm_screen *s, struct drm_fb *fb)
{
	uint32_t handles[4] = {0}, pitches[4] = {0}, offsets[4] = {0};
	uint64_t offset;
	int ret;

	ret = drmModeCreateDumbBuffer(s->fd, s->mode.hdisplay, s->mode.vdisplay, 32, 0, &fb->handle,
				      &fb->pitch, &fb->size);
	if (ret) {
		visid_err("drm screen %s: cannot create a %ux%u dumb buffer: %s", s->path,
			  s->mode.hdisplay, s->mode.vdisplay, strerror(-ret));
		return ret;
	}
	handles[0] = fb->handle;
	pitches[0] = fb->pitch;
	ret = drmModeAddFB2(s->fd, s->mode.hdisplay, s->mode.vdisplay, DRM_FORMAT_XRGB8888, handles,
			    pitches, offsets, &fb->fb_id, 0);
	if (ret) {
		ret = -errno;
		visid_err("drm screen %s: cannot add an XRGB8888 framebuffer: %s", s->path,
			  strerror(errno));
		return ret;
	}
	ret = drmModeMapDumbBuffer(s->fd, fb->handle, &offset);
	if (!ret) {
		fb->map = mmap(NULL, fb->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, offset);
		if (fb->map == MAP_FAILED) {
			fb->map = NULL;
			ret = -errno;
		}
	}
	if (ret) {
		visid_err("drm screen %s: cannot map a dumb buffer: %s", s->path, strerror(-ret));
		return ret;
	}
	memset(fb->map, 0, fb->size);
	return 0;
}

static void destroy_fb(struct drm_screen *s, struct drm_fb *fb)
{
	if (fb->map)
		munmap(fb->map, fb->size);
	if (fb->fb_id)
		drmModeRmFB(s->fd, fb->fb_id);
	if (fb->handle)
		drmModeDestroyDumbBuffer(s->fd, fb->handle);
	memset(fb, 0, sizeof(*fb));
}

/* ---- atomic ----------------------------------------------------------- */

static uint32_t property_id(int fd, uint32_t object, uint32_t type, const char *name)
{
	drmModeObjectPropertiesPtr props = drmModeObjectGetProperties(fd, object, type);
	uint32_t id = 0;

	for (uint32_t i = 0; props && i < props->count_props && !id; i++) {
		drmModePropertyPtr p = drmModeGetProperty(fd, props->props[i]);

		if (p && !strcmp(p->name, name))
			id = p->prop_id;
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return id;
}

static uint64_t property_value(int fd, uint32_t object, uint32_t type, const char *name)
{
	drmModeObjectPropertiesPtr props = drmModeObjectGetProperties(fd, object, type);
	uint64_t value = 0;

	for (uint32_t i = 0; props && i < props->count_props; i++) {
		drmModePropertyPtr p = drmModeGetProperty(fd, props->props[i]);

		if (p && !strcmp(p->name, name))
			value = props->prop_values[i];
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return value;
}

static int crtc_index(int fd, uint32_t crtc_id)
{
	drmModeRes *res = drmModeGetResources(fd);
	int index = -1;

	for (int i = 0; res && i < res->count_crtcs; i++)
		if (res->crtcs[i] == crtc_id)
			index = i;
	drmModeFreeResources(res);
	return index;
}

static uint32_t primary_plane(int fd, uint32_t crtc_id)
{
	drmModePlaneResPtr planes = drmModeGetPlaneResources(fd);
	int index = crtc_index(fd, crtc_id);
	uint32_t found = 0;

	for (uint32_t i = 0; planes && index >= 0 && i < planes->count_planes && !found; i++) {
		drmModePlanePtr plane = drmModeGetPlane(fd, planes->planes[i]);

		if (plane && plane->possible_crtcs & (1u << index) &&
		    property_value(fd, plane->plane_id, DRM_MODE_OBJECT_PLANE, "type") ==
			DRM_PLANE_TYPE_PRIMARY)
			found = plane->plane_id;
		drmModeFreePlane(plane);
	}
	drmModeFreePlaneResources(planes);
	return found;
}

static int add_property(drmModeAtomicReqPtr req, int fd, uint32_t object, uint32_t type,
			const char *name, uint64_t value)
{
	uint32_t id = property_id(fd, object, type, name);

	if (!id)
		return -ENOENT;
	return drmModeAtomicAddProperty(req, object, id, value) < 0 ? -EINVAL : 0;
}

static int atomic_plane(drmModeAtomicReqPtr req, struct drm_screen *s, uint32_t fb_id)
{
	int w = s->mode.hdisplay, h = s->mode.vdisplay, ret = 0;
	const struct {
		const char *name;
		uint64_t value;
	} props[] = {
	    {"FB_ID", fb_id},
	    {"CRTC_ID", s->crtc_id},
	    {"SRC_X", 0},
	    {"SRC_Y", 0},
	    {"SRC_W", (uint64_t)w << 16},
	    {"SRC_H", (uint64_t)h << 16},
	    {"CRTC_X", 0},
	    {"CRTC_Y", 0},
	    {"CRTC_W", w},
	    {"CRTC_H", h},
	};

	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]) && !ret; i++)
		ret = add_property(req, s->fd, s->plane_id, DRM_MODE_OBJECT_PLANE, props[i].name,
				   props[i].value);
	return ret;
}

static int atomic_modeset(struct drm_screen *s, uint32_t fb_id)
{
	drmModeAtomicReqPtr req = drmModeAtomicAlloc();
	int ret;

	if (!req)
		return -ENOMEM;
	ret = drmModeCreatePropertyBlob(s->fd, &s->mode, sizeof(s->mode), &s->mode_blob);
	if (!ret)
		ret = add_property(req, s->fd, s->connector_id, DRM_MODE_OBJECT_CONNECTOR,
				   "CRTC_ID", s->crtc_id);
	if (!ret)
		ret = add_property(req, s->fd, s->crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID",
				   s->mode_blob);
	if (!ret)
		ret = add_property(req, s->fd, s->crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE", 1);
	if (!ret)
		ret = atomic_plane(req, s, fb_id);
	if (!ret && drmModeAtomicCommit(s->fd, req, DRM_MODE_ATOMIC_ALLOW_MODESET, NULL))
		ret = -errno;
	drmModeAtomicFree(req);
	return ret;
}

static int atomic_flip(struct drm_screen *s, uint32_t fb_id)
{
	drmModeAtomicReqPtr req = drmModeAtomicAlloc();
	int ret;

	if (!req)
		return -ENOMEM;
	ret = add_property(req, s->fd, s->plane_id, DRM_MODE_OBJECT_PLANE, "FB_ID", fb_id);
	if (!ret &&
	    drmModeAtomicCommit(s->fd, req, DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_ATOMIC_NONBLOCK, s))
		ret = -errno;
	drmModeAtomicFree(req);
	return ret;
}

/* ---- scanout ---------------------------------------------------------- */

static int modeset(struct drm_screen *s, int legacy)
{
	uint32_t fb_id = s->fbs[s->front].fb_id;
	int ret;

	if (!legacy && !drmSetClientCap(s->fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) &&
	    !drmSetClientCap(s->fd, DRM_CLIENT_CAP_ATOMIC, 1)) {
		s->plane_id = primary_plane(s->fd, s->crtc_id);
		if (s->plane_id && !atomic_modeset(s, fb_id)) {
			s->atomic = 1;
			return 0;
		}
		visid_info("drm screen %s: atomic modeset failed, using the legacy ioctls",
			   s->path);
		drmSetClientCap(s->fd, DRM_CLIENT_CAP_ATOMIC, 0);
	}
	ret = drmModeSetCrtc(s->fd, s->crtc_id, fb_id, 0, 0, &s->connector_id, 1, &s->mode);
	if (ret) {
		ret = -errno;
		visid_err("drm screen %s: cannot set mode %s on %s: %s", s->path, s->mode.name,
			  s->connector_name, strerror(errno));
	}
	return ret;
}

static void flip_done(int fd, unsigned frame, unsigned sec, unsigned usec, void *data)
{
	struct drm_screen *s = data;

	s->flip_pending = 0;
}

static void flip_done_crtc(int fd, unsigned frame, unsigned sec, unsigned usec, unsigned crtc_id,
			   void *data)
{
	flip_done(fd, frame, sec, usec, data);
}

static int wait_flip(const struct visid_screen *scr, struct drm_screen *s)
{
	drmEventContext ctx = {
	    .version = 3,
	    .page_flip_handler = flip_done,
	    .page_flip_handler2 = flip_done_crtc,
	};

	while (s->flip_pending) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
		int ret = poll(&pfd, 1, FLIP_TIMEOUT_MS);

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			screen_fail(scr,
				    "drm screen %s: a page flip did not complete within %d ms%s%s",
				    s->path, FLIP_TIMEOUT_MS, ret ? ": " : "",
				    ret ? strerror(errno) : "");
			s->flip_pending = 0;
			return ret ? -errno : -ETIMEDOUT;
		}
		if (drmHandleEvent(s->fd, &ctx)) {
			screen_fail(scr, "drm screen %s: cannot read DRM events: %s", s->path,
				    strerror(errno));
			s->flip_pending = 0;
			return -EIO;
		}
	}
	return 0;
}

static int drm_canvas(struct visid_screen *scr, struct visid_image *canvas)
{
	struct drm_screen *s = scr->priv;
	struct drm_fb *back = &s->fbs[!s->front];
	int ret = wait_flip(scr, s); /* the back buffer was on screen until the flip ended */

	if (ret)
		return ret;
	memset(canvas, 0, sizeof(*canvas));
	canvas->width = s->mode.hdisplay;
	canvas->height = s->mode.vdisplay;
	canvas->format = VISID_FMT_XRGB8888;
	canvas->stride = back->pitch;
	canvas->data = back->map;
	return 0;
}

static int drm_present(struct visid_screen *scr)
{
	struct drm_screen *s = scr->priv;
	int back = !s->front, ret;

	ret = wait_flip(scr, s);
	if (ret)
		return ret;
	if (s->atomic)
		ret = atomic_flip(s, s->fbs[back].fb_id);
	else if (drmModePageFlip(s->fd, s->crtc_id, s->fbs[back].fb_id, DRM_MODE_PAGE_FLIP_EVENT,
				 s))
		ret = -errno;
	if (ret) {
		screen_fail(scr, "drm screen %s: page flip on %s failed: %s", s->path,
			    s->connector_name, strerror(-ret));
		return ret;
	}
	s->flip_pending = 1;
	s->front = back;
	return 0;
}

static void restore_crtc(struct drm_screen *s)
{
	drmModeCrtcPtr c = s->saved;
	int ret;

	if (s->atomic)
		drmSetClientCap(s->fd, DRM_CLIENT_CAP_ATOMIC, 0);
	if (c && c->mode_valid && c->buffer_id)
		ret = drmModeSetCrtc(s->fd, c->crtc_id, c->buffer_id, c->x, c->y, &s->connector_id,
				     1, &c->mode);
	else
		ret = drmModeSetCrtc(s->fd, s->crtc_id, 0, 0, 0, NULL, 0, NULL);
	if (ret)
		visid_warn("drm screen %s: cannot restore what %s showed before: %s", s->path,
			   s->connector_name, strerror(errno));
}

static void drm_close(struct visid_screen *scr)
{
	struct drm_screen *s = scr->priv;

	wait_flip(scr, s);
	restore_crtc(s);
	for (int i = 0; i < 2; i++)
		destroy_fb(s, &s->fbs[i]);
	if (s->mode_blob)
		drmModeDestroyPropertyBlob(s->fd, s->mode_blob);
	drmModeFreeCrtc(s->saved);
	close(s->fd);
	free(s);
}

static void drm_info(const struct visid_screen *scr, struct visid_screen_info *info)
{
	const struct drm_screen *s = scr->priv;

	snprintf(info->device, sizeof(info->device), "%s", s->path);
	snprintf(info->connector, sizeof(info->connector), "%s", s->connector_name);
	info->refresh_hz = s->mode.vrefresh;
	info->atomic = s->atomic;
}

static const struct screen_ops drm_ops = {drm_canvas, drm_present, drm_close, drm_info};

int screen_drm_open(struct visid_screen *scr, const char *card)
{
	struct drm_screen *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->fd = -1;
	ret = pick_card(s, card);
	if (ret)
		goto out_free_screen;
	if (!drmIsMaster(s->fd)) {
		visid_err("drm screen %s: not DRM master: another program (a compositor or X) "
			  "drives the display",
			  s->path);
		ret = -EBUSY;
		goto out_close_card;
	}
	s->saved = drmModeGetCrtc(s->fd, s->crtc_id);
	for (int i = 0; i < 2; i++) {
		ret = create_fb(s, &s->fbs[i]);
		if (ret)
			goto out_destroy_fbs;
	}
	ret = modeset(s, scr->opt.legacy_kms);
	if (ret)
		goto out_destroy_fbs;
	scr->width = s->mode.hdisplay;
	scr->height = s->mode.vdisplay;
	scr->priv = s;
	scr->ops = &drm_ops;
	visid_info("drm screen %s: %s %s at %u Hz, %s commits", s->path, s->connector_name,
		   s->mode.name, s->mode.vrefresh, s->atomic ? "atomic" : "legacy");
	return 0;

out_destroy_fbs:
	for (int i = 0; i < 2; i++)
		destroy_fb(s, &s->fbs[i]);
	drmModeFreeCrtc(s->saved);
out_close_card:
	close(s->fd);
out_free_screen:
	free(s);
	return ret;
}

int visid_drm_list(char (*paths)[64], int max)
{
	int found = 0;

	for (int i = 0; i < MAX_CARDS; i++) {
		char path[64];
		drmModeRes *res;
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		res = drmModeGetResources(fd);
		if (res && res->count_connectors) {
			if (found < max)
				snprintf(paths[found], 64, "%s", path);
			found++;
		}
		drmModeFreeResources(res);
		close(fd);
	}
	return found;
}
