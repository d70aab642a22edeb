/*
 * V4L2 capture: format negotiation, streaming I/O with buffers that can be
 * handed on as dmabufs, and recovery from the ways cameras fail in the
 * field (a stream that stalls, a device that is unplugged).
 *
 * Raw NV12 or YUYV is preferred because it can go to the GPU without a
 * copy; MJPEG, decoded by libv4lconvert, is taken only when no raw format
 * gives the wanted rate at the wanted size (many USB cameras give 30 fps
 * only as MJPEG). The ioctls go to the device directly rather than through
 * libv4l2's emulation layer, which would hide the buffers being exported.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/videodev2.h>
#include <sys/mman.h>
#include <libv4lconvert.h>

#include "hal_priv.h"
#include "visid/log.h"

#define MAX_BUFFERS	      16
#define MAX_PLANES	      2
#define MIN_BUFFERS	      3
#define DEFAULT_BUFFERS	      4
#define DEFAULT_STALL_MS      2000
#define DEFAULT_REOPEN_MAX_MS 5000
#define FIRST_BACKOFF_MS      100
#define NS_PER_MS	      1000000ull
/* A waiting frame older than this many frame intervals is passed over for the next. */
#define STALE_FRAMES	      3

struct cam_buffer {
	void *map[MAX_PLANES];
	size_t length[MAX_PLANES];
	int dmabuf[MAX_PLANES];	     /* exported or imported; -1 when none */
	int owns_dmabuf[MAX_PLANES]; /* close it on teardown */
	int queued;
};

struct visid_v4l2 {
	char path[64];
	int fd;
	struct visid_source_options opt;
	enum v4l2_buf_type type;
	int mplane;
	uint32_t fourcc;
	int width, height;
	int mem_planes;
	uint32_t bytesperline[MAX_PLANES];
	uint32_t sizeimage[MAX_PLANES];
	enum v4l2_memory memory;
	struct cam_buffer bufs[MAX_BUFFERS];
	int n_buffers;
	int held; /* buffer given with the last frame, -1 if none */
	int streaming;
	int gone; /* the device vanished; reopen at retry_ns */
	uint64_t last_frame_ns;
	uint64_t retry_ns;
	int backoff_ms;
	struct v4lconvert_data *convert;
	struct visid_image rgb; /* MJPEG frames decoded */
	struct visid_v4l2_stats stats;
};

static uint32_t buf_type(const struct visid_v4l2 *cam)
{
	return cam->mplane ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
}

static const char *fourcc_str(uint32_t fourcc, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		char c = fourcc >> (8 * i);

		buf[i] = c >= 32 && c < 127 ? c : '.';
	}
	buf[4] = 0;
	return buf;
}

/* ---- format negotiation ---------------------------------------------- */

static int device_offers(struct visid_v4l2 *cam, uint32_t fourcc)
{
	struct v4l2_fmtdesc desc = {.type = buf_type(cam)};

	for (desc.index = 0; !hal_ioctl(cam->fd, VIDIOC_ENUM_FMT, &desc); desc.index++)
		if (desc.pixelformat == fourcc)
			return 1;
	return 0;
}

static float interval_fps(const struct v4l2_fract *f)
{
	return f->numerator ? (float)f->denominator / f->numerator : 0;
}

/* Highest rate at a size; 0 when the driver does not say. */
static float max_fps_at(int fd, uint32_t fourcc, uint32_t w, uint32_t h)
{
	struct v4l2_frmivalenum ival = {.pixel_format = fourcc, .width = w, .height = h};
	float best = 0;

	for (ival.index = 0; !hal_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival); ival.index++) {
		float fps = interval_fps(
		    ival.type == V4L2_FRMIVAL_TYPE_DISCRETE ? &ival.discrete : &ival.stepwise.min);

		if (fps > best)
			best = fps;
		if (ival.type != V4L2_FRMIVAL_TYPE_DISCRETE)
			break;
	}
	return best;
}

/*
 * Whether the device lists the size for a format, and the rate it reaches
 * there. A driver that does not enumerate sizes is taken at its word at
 * S_FMT time, with the rate unknown (0).
 */
static int size_listed(int fd, uint32_t fourcc, uint32_t w, uint32_t h, float *fps)
{
	struct v4l2_frmsizeenum size = {.pixel_format = fourcc};

	*fps = 0;
	for (size.index = 0; !hal_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size); size.index++) {
		if (size.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
			if (size.discrete.width != w || size.discrete.height != h)
				continue;
		} else {
			const struct v4l2_frmsize_stepwise *s = &size.stepwise;

			if (w < s->min_width || w > s->max_width || h < s->min_height ||
			    h > s->max_height)
				return 0;
		}
		*fps = max_fps_at(fd, fourcc, w, h);
		return 1;
	}
	return size.index == 0;
}

struct format_choice {
	uint32_t fourcc;
	float fps;
};

/*
 * The raw formats in order of preference, then MJPEG: the first raw one
 * that reaches the wanted rate wins; MJPEG only if it is faster than every
 * raw one.
 */
static int choose_format(struct visid_v4l2 *cam, uint32_t *fourcc)
{
	uint32_t order[4] = {0}, fps_want = cam->opt.fps > 0 ? cam->opt.fps : 30;
	struct format_choice best = {0}, mjpeg = {0};
	char s[5];
	int n = 0;

	if (cam->opt.fourcc) {
		if (!device_offers(cam, cam->opt.fourcc)) {
			visid_err("v4l2 %s: does not offer the pixel format %s", cam->path,
				  fourcc_str(cam->opt.fourcc, s));
			return -EINVAL;
		}
		*fourcc = cam->opt.fourcc;
		return 0;
	}
	if (cam->opt.format == VISID_FMT_YUYV)
		order[n++] = V4L2_PIX_FMT_YUYV;
	order[n++] = V4L2_PIX_FMT_NV12;
	order[n++] = V4L2_PIX_FMT_NV12M;
	if (cam->opt.format != VISID_FMT_YUYV)
		order[n++] = V4L2_PIX_FMT_YUYV;

	for (int i = 0; i < n; i++) {
		float fps;

		if (!device_offers(cam, order[i]) ||
		    !size_listed(cam->fd, order[i], cam->width, cam->height, &fps))
			continue;
		if (fps == 0 || fps >= 0.9f * fps_want) {
			*fourcc = order[i];
			return 0;
		}
		if (fps > best.fps)
			best = (struct format_choice){order[i], fps};
	}
	if (device_offers(cam, V4L2_PIX_FMT_MJPEG) &&
	    size_listed(cam->fd, V4L2_PIX_FMT_MJPEG, cam->width, cam->height, &mjpeg.fps) &&
	    (!best.fourcc || mjpeg.fps == 0 || mjpeg.fps > best.fps)) {
		visid_info("v4l2 %s: MJPEG, raw formats reach only %.1f fps at %dx%d", cam->path,
			   best.fps, cam->width, cam->height);
		*fourcc = V4L2_PIX_FMT_MJPEG;
		return 0;
	}
	if (best.fourcc) {
		visid_warn("v4l2 %s: %s reaches only %.1f of %u fps at %dx%d", cam->path,
			   fourcc_str(best.fourcc, s), best.fps, fps_want, cam->width, cam->height);
		*fourcc = best.fourcc;
		return 0;
	}
	visid_err("v4l2 %s: offers none of NV12, NV12M, YUYV or MJPEG at %dx%d", cam->path,
		  cam->width, cam->height);
	return -ENOTSUP;
}

static int min_bytesperline(uint32_t fourcc, int width)
{
	return fourcc == V4L2_PIX_FMT_YUYV ? 2 * width : fourcc == V4L2_PIX_FMT_MJPEG ? 0 : width;
}

static void fill_request(struct visid_v4l2 *cam, struct v4l2_format *fmt, uint32_t fourcc)
{
	memset(fmt, 0, sizeof(*fmt));
	fmt->type = buf_type(cam);
	if (cam->mplane) {
		struct v4l2_pix_format_mplane *mp = &fmt->fmt.pix_mp;

		mp->width = cam->width;
		mp->height = cam->height;
		mp->pixelformat = fourcc;
		mp->field = V4L2_FIELD_NONE;
		mp->num_planes = fourcc == V4L2_PIX_FMT_NV12M ? 2 : 1;
		for (int p = 0; p < mp->num_planes; p++)
			mp->plane_fmt[p].bytesperline = cam->opt.bytesperline;
	} else {
		fmt->fmt.pix.width = cam->width;
		fmt->fmt.pix.height = cam->height;
		fmt->fmt.pix.pixelformat = fourcc;
		fmt->fmt.pix.field = V4L2_FIELD_NONE;
		fmt->fmt.pix.bytesperline = cam->opt.bytesperline;
	}
}

/* Takes what the driver set, which may differ from what was asked. */
static int accept_format(struct visid_v4l2 *cam, const struct v4l2_format *fmt, uint32_t want)
{
	uint32_t got;
	char a[5], b[5];

	if (cam->mplane) {
		const struct v4l2_pix_format_mplane *mp = &fmt->fmt.pix_mp;

		got = mp->pixelformat;
		cam->width = mp->width;
		cam->height = mp->height;
		cam->mem_planes = mp->num_planes;
		for (int p = 0; p < mp->num_planes && p < MAX_PLANES; p++) {
			cam->bytesperline[p] = mp->plane_fmt[p].bytesperline;
			cam->sizeimage[p] = mp->plane_fmt[p].sizeimage;
		}
	} else {
		got = fmt->fmt.pix.pixelformat;
		cam->width = fmt->fmt.pix.width;
		cam->height = fmt->fmt.pix.height;
		cam->mem_planes = 1;
		cam->bytesperline[0] = fmt->fmt.pix.bytesperline;
		cam->sizeimage[0] = fmt->fmt.pix.sizeimage;
	}
	if (got != want) {
		visid_err("v4l2 %s: asked for %s, the driver set %s", cam->path,
			  fourcc_str(want, a), fourcc_str(got, b));
		return -ENOTSUP;
	}
	if (cam->mem_planes < 1 || cam->mem_planes > MAX_PLANES ||
	    (int)cam->bytesperline[0] < min_bytesperline(got, cam->width)) {
		visid_err("v4l2 %s: unusable format: %d planes, %u bytes per row for %d pixels",
			  cam->path, cam->mem_planes, cam->bytesperline[0], cam->width);
		return -EINVAL;
	}
	cam->fourcc = got;
	return 0;
}

static void set_rate(struct visid_v4l2 *cam)
{
	struct v4l2_streamparm parm = {.type = buf_type(cam)};
	int fps = cam->opt.fps > 0 ? cam->opt.fps : 30;

	if (hal_ioctl(cam->fd, VIDIOC_G_PARM, &parm) ||
	    !(parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME))
		return;
	parm.parm.capture.timeperframe = (struct v4l2_fract){1, fps};
	if (hal_ioctl(cam->fd, VIDIOC_S_PARM, &parm))
		visid_dbg("v4l2 %s: the rate cannot be set to %d fps", cam->path, fps);
}

/*
 * The decoded MJPEG picture the caller had. The camera's own buffers are
 * the kernel's, written over by the next capture, and are left alone.
 */
static void wipe_rgb(struct visid_v4l2 *cam)
{
	visid_image_wipe(&cam->rgb);
}

static int negotiate(struct visid_v4l2 *cam)
{
	struct v4l2_format fmt;
	uint32_t fourcc;
	char s[5];
	int ret;

	cam->width = cam->opt.width > 0 ? cam->opt.width : 640;
	cam->height = cam->opt.height > 0 ? cam->opt.height : 480;
	ret = choose_format(cam, &fourcc);
	if (ret)
		return ret;
	fill_request(cam, &fmt, fourcc);
	ret = hal_ioctl(cam->fd, VIDIOC_S_FMT, &fmt);
	if (ret) {
		visid_err("v4l2 %s: cannot set %s %dx%d: %s", cam->path, fourcc_str(fourcc, s),
			  cam->width, cam->height, strerror(-ret));
		return ret;
	}
	ret = accept_format(cam, &fmt, fourcc);
	if (ret)
		return ret;
	set_rate(cam);
	if (cam->fourcc == V4L2_PIX_FMT_MJPEG) {
		cam->convert = v4lconvert_create(cam->fd);
		if (!cam->convert)
			return -ENOMEM;
		wipe_rgb(cam);
		visid_image_free(&cam->rgb);
		ret = visid_image_alloc(&cam->rgb, cam->width, cam->height, VISID_FMT_RGB24);
		if (ret)
			return ret;
	}
	visid_info("v4l2 %s: %s %dx%d, %u bytes per row, %d plane(s), %s API", cam->path,
		   fourcc_str(cam->fourcc, s), cam->width, cam->height, cam->bytesperline[0],
		   cam->mem_planes, cam->mplane ? "multi-planar" : "single-planar");
	return 0;
}

/* ---- buffers ---------------------------------------------------------- */

static void init_buffers(struct visid_v4l2 *cam)
{
	for (int i = 0; i < MAX_BUFFERS; i++) {
		memset(&cam->bufs[i], 0, sizeof(cam->bufs[i]));
		for (int p = 0; p < MAX_PLANES; p++) {
			cam->bufs[i].map[p] = MAP_FAILED;
			cam->bufs[i].dmabuf[p] = -1;
		}
	}
}

static void free_buffers(struct visid_v4l2 *cam)
{
	struct v4l2_requestbuffers req = {.type = buf_type(cam), .memory = cam->memory};

	for (int i = 0; i < cam->n_buffers; i++)
		for (int p = 0; p < MAX_PLANES; p++) {
			struct cam_buffer *b = &cam->bufs[i];

			if (b->map[p] != MAP_FAILED)
				munmap(b->map[p], b->length[p]);
			if (b->owns_dmabuf[p] && b->dmabuf[p] >= 0)
				close(b->dmabuf[p]);
		}
	if (cam->n_buffers && cam->fd >= 0)
		hal_ioctl(cam->fd, VIDIOC_REQBUFS, &req);
	cam->n_buffers = 0;
	init_buffers(cam);
}

static int request_buffers(struct visid_v4l2 *cam, int count)
{
	struct v4l2_requestbuffers req = {
	    .count = count,
	    .type = buf_type(cam),
	    .memory = cam->memory,
	};
	int ret = hal_ioctl(cam->fd, VIDIOC_REQBUFS, &req);

	if (ret) {
		visid_err("v4l2 %s: cannot get %d %s buffers: %s", cam->path, count,
			  cam->memory == V4L2_MEMORY_MMAP ? "mmap" : "dmabuf", strerror(-ret));
		return ret;
	}
	if (req.count < 2) {
		visid_err("v4l2 %s: the driver gave %u buffers, at least 2 are needed", cam->path,
			  req.count);
		return -ENOMEM;
	}
	if (req.count < MIN_BUFFERS)
		visid_warn("v4l2 %s: only %u buffers, frames may be dropped", cam->path, req.count);
	cam->n_buffers = req.count < MAX_BUFFERS ? req.count : MAX_BUFFERS;
	return 0;
}

/* Exports a driver buffer's plane as a dmabuf, so it can go to Vulkan or KMS. */
static int export_plane(struct visid_v4l2 *cam, int index, int plane)
{
	struct v4l2_exportbuffer exp = {
	    .type = buf_type(cam),
	    .index = index,
	    .plane = plane,
	    .flags = O_CLOEXEC | O_RDWR,
	};
	int ret = hal_ioctl(cam->fd, VIDIOC_EXPBUF, &exp);

	if (ret)
		return ret;
	cam->bufs[index].dmabuf[plane] = exp.fd;
	cam->bufs[index].owns_dmabuf[plane] = 1;
	return 0;
}

static int map_mmap_buffer(struct visid_v4l2 *cam, int index, int *exported)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer buf = {
	    .type = buf_type(cam),
	    .memory = V4L2_MEMORY_MMAP,
	    .index = index,
	};
	struct cam_buffer *b = &cam->bufs[index];
	int ret;

	if (cam->mplane) {
		buf.m.planes = planes;
		buf.length = VIDEO_MAX_PLANES;
	}
	ret = hal_ioctl(cam->fd, VIDIOC_QUERYBUF, &buf);
	if (ret) {
		visid_err("v4l2 %s: cannot query buffer %d: %s", cam->path, index, strerror(-ret));
		return ret;
	}
	for (int p = 0; p < cam->mem_planes; p++) {
		off_t offset = cam->mplane ? planes[p].m.mem_offset : buf.m.offset;

		b->length[p] = cam->mplane ? planes[p].length : buf.length;
		b->map[p] =
		    mmap(NULL, b->length[p], PROT_READ | PROT_WRITE, MAP_SHARED, cam->fd, offset);
		if (b->map[p] == MAP_FAILED) {
			ret = -errno;
			visid_err("v4l2 %s: cannot map buffer %d plane %d: %s", cam->path, index, p,
				  strerror(errno));
			return ret;
		}
		if (*exported && export_plane(cam, index, p))
			*exported = 0;
	}
	return 0;
}

static int dmabuf_size(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);

	return size < 0 ? -errno : (int)size;
}

static int map_import_buffer(struct visid_v4l2 *cam, int index)
{
	struct cam_buffer *b = &cam->bufs[index];

	for (int p = 0; p < cam->mem_planes; p++) {
		int given = cam->opt.dmabuf_fds && index < cam->opt.n_dmabuf_fds;
		int fd = given ? cam->opt.dmabuf_fds[index]
			       : hal_dmabuf_alloc(cam->sizeimage[p], cam->path);
		int size;

		if (fd < 0)
			return fd;
		b->dmabuf[p] = fd;
		b->owns_dmabuf[p] = !given;
		size = dmabuf_size(fd);
		if (size < (int)cam->sizeimage[p]) {
			visid_err(
			    "v4l2 %s: dmabuf %d for buffer %d holds %d bytes, a frame needs %u",
			    cam->path, fd, index, size, cam->sizeimage[p]);
			return -EINVAL;
		}
		b->length[p] = cam->sizeimage[p];
		b->map[p] = mmap(NULL, b->length[p], PROT_READ, MAP_SHARED, fd, 0);
		if (b->map[p] == MAP_FAILED) {
			int ret = -errno;

			visid_err("v4l2 %s: cannot map dmabuf %d of buffer %d: %s", cam->path, fd,
				  index, strerror(errno));
			return ret;
		}
	}
	return 0;
}

static int setup_buffers(struct visid_v4l2 *cam)
{
	int want = cam->opt.buffers > 0 ? cam->opt.buffers : DEFAULT_BUFFERS;
	int exported = 1, ret;

	if (want < MIN_BUFFERS)
		want = MIN_BUFFERS;
	cam->memory = cam->opt.io == VISID_V4L2_IO_DMABUF ? V4L2_MEMORY_DMABUF : V4L2_MEMORY_MMAP;
	if (cam->memory == V4L2_MEMORY_DMABUF) {
		if (cam->opt.dmabuf_fds && cam->mem_planes > 1) {
			visid_err(
			    "v4l2 %s: caller dmabufs hold one plane, %d-plane formats need more",
			    cam->path, cam->mem_planes);
			return -EINVAL;
		}
		if (cam->opt.dmabuf_fds)
			want = cam->opt.n_dmabuf_fds;
	}
	ret = request_buffers(cam, want);
	if (ret)
		return ret;
	for (int i = 0; i < cam->n_buffers; i++) {
		ret = cam->memory == V4L2_MEMORY_MMAP ? map_mmap_buffer(cam, i, &exported)
						      : map_import_buffer(cam, i);
		if (ret)
			return ret;
	}
	cam->stats.exported = cam->memory == V4L2_MEMORY_DMABUF || exported;
	if (!cam->stats.exported)
		visid_info("v4l2 %s: buffers cannot be exported as dmabufs, frames will be copied",
			   cam->path);
	return 0;
}

/* ---- streaming -------------------------------------------------------- */

static int queue_buffer(struct visid_v4l2 *cam, int index)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer buf = {.type = buf_type(cam), .memory = cam->memory, .index = index};
	struct cam_buffer *b = &cam->bufs[index];
	int ret;

	memset(planes, 0, sizeof(planes));
	if (cam->mplane) {
		buf.m.planes = planes;
		buf.length = cam->mem_planes;
	}
	if (cam->memory == V4L2_MEMORY_DMABUF) {
		for (int p = 0; p < cam->mem_planes; p++) {
			hal_dmabuf_sync(b->dmabuf[p], 0);
			planes[p].m.fd = b->dmabuf[p];
			planes[p].length = b->length[p];
		}
		if (!cam->mplane) {
			buf.m.fd = b->dmabuf[0];
			buf.length = b->length[0];
		}
	}
	ret = hal_ioctl(cam->fd, VIDIOC_QBUF, &buf);
	if (!ret)
		b->queued = 1;
	return ret;
}

static void stop_stream(struct visid_v4l2 *cam)
{
	uint32_t type = buf_type(cam);

	/* Also when not streaming: it takes back buffers queued before a failed start. */
	if (cam->fd >= 0)
		hal_ioctl(cam->fd, VIDIOC_STREAMOFF, &type);
	cam->streaming = 0;
	cam->held = -1;
	for (int i = 0; i < cam->n_buffers; i++)
		cam->bufs[i].queued = 0;
}

static int start_stream(struct visid_v4l2 *cam)
{
	uint32_t type = buf_type(cam);
	int ret;

	for (int i = 0; i < cam->n_buffers; i++) {
		ret = queue_buffer(cam, i);
		if (ret) {
			visid_err("v4l2 %s: cannot queue buffer %d: %s", cam->path, i,
				  strerror(-ret));
			return ret;
		}
	}
	ret = hal_ioctl(cam->fd, VIDIOC_STREAMON, &type);
	if (ret) {
		visid_err("v4l2 %s: cannot start streaming: %s", cam->path, strerror(-ret));
		stop_stream(cam);
		return ret;
	}
	cam->streaming = 1;
	cam->last_frame_ns = hal_now_ns();
	return 0;
}

static int open_device(struct visid_v4l2 *cam)
{
	struct v4l2_capability cap;
	uint32_t caps;
	int ret;

	cam->fd = open(cam->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (cam->fd < 0) {
		ret = -errno;
		if (!cam->gone)
			visid_err("v4l2 %s: cannot open: %s", cam->path, strerror(errno));
		return ret;
	}
	ret = hal_ioctl(cam->fd, VIDIOC_QUERYCAP, &cap);
	if (ret) {
		visid_err("v4l2 %s: not a V4L2 device: %s", cam->path, strerror(-ret));
		return ret;
	}
	caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
	if (!(caps & V4L2_CAP_STREAMING) ||
	    !(caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE))) {
		visid_err("v4l2 %s (%s): not a streaming video capture device", cam->path,
			  (const char *)cap.card);
		return -ENODEV;
	}
	cam->mplane = !(caps & V4L2_CAP_VIDEO_CAPTURE);
	return 0;
}

static void teardown(struct visid_v4l2 *cam)
{
	stop_stream(cam);
	free_buffers(cam);
	if (cam->convert)
		v4lconvert_destroy(cam->convert);
	cam->convert = NULL;
	if (cam->fd >= 0)
		close(cam->fd);
	cam->fd = -1;
}

static int bring_up(struct visid_v4l2 *cam)
{
	int ret = open_device(cam);

	if (!ret)
		ret = negotiate(cam);
	if (!ret)
		ret = setup_buffers(cam);
	if (!ret)
		ret = start_stream(cam);
	if (ret)
		teardown(cam);
	return ret;
}

/* ---- recovery --------------------------------------------------------- */

static void mark_gone(struct visid_v4l2 *cam)
{
	if (!cam->gone)
		visid_warn("v4l2 %s: the device vanished, reopening it", cam->path);
	/* Closing releases vivid and USB devices so they can come back. */
	teardown(cam);
	cam->gone = 1;
	cam->backoff_ms = FIRST_BACKOFF_MS;
	cam->retry_ns = hal_now_ns() + cam->backoff_ms * NS_PER_MS;
}

static void try_reopen(struct visid_v4l2 *cam)
{
	int max = cam->opt.reopen_max_ms > 0 ? cam->opt.reopen_max_ms : DEFAULT_REOPEN_MAX_MS;
	int ret = bring_up(cam);

	if (!ret) {
		visid_warn("v4l2 %s: reopened", cam->path);
		cam->gone = 0;
		cam->stats.reopens++;
		return;
	}
	cam->backoff_ms = cam->backoff_ms * 2 < max ? cam->backoff_ms * 2 : max;
	cam->retry_ns = hal_now_ns() + cam->backoff_ms * NS_PER_MS;
	visid_dbg("v4l2 %s: still gone (%s), next try in %d ms", cam->path, strerror(-ret),
		  cam->backoff_ms);
}

/* Restarts a stream that stalled or failed; a vanished device is reopened instead. */
static void restart_stream(struct visid_v4l2 *cam, const char *why)
{
	int ret;

	visid_warn("v4l2 %s: %s, restarting the stream", cam->path, why);
	stop_stream(cam);
	cam->stats.restarts++;
	ret = start_stream(cam);
	if (ret == -ENODEV)
		mark_gone(cam);
	else if (ret)
		cam->last_frame_ns = hal_now_ns();
}

/* ---- frames ----------------------------------------------------------- */

static size_t plane_need(const struct visid_v4l2 *cam, int plane)
{
	size_t luma = (size_t)cam->bytesperline[plane] * cam->height;

	if (cam->fourcc == V4L2_PIX_FMT_NV12)
		return luma + luma / 2;
	if (cam->fourcc == V4L2_PIX_FMT_NV12M && plane == 1)
		return (size_t)cam->bytesperline[1] * ((cam->height + 1) / 2);
	if (cam->fourcc == V4L2_PIX_FMT_MJPEG)
		return 1;
	return luma;
}

static uint64_t buffer_time_ns(const struct v4l2_buffer *buf)
{
	if ((buf->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) != V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
		return hal_now_ns();
	return (uint64_t)buf->timestamp.tv_sec * 1000000000u + buf->timestamp.tv_usec * 1000u;
}

static int decode_mjpeg(struct visid_v4l2 *cam, const uint8_t *jpeg, size_t len)
{
	struct v4l2_format src = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct v4l2_format dst = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	int ret;

	src.fmt.pix.width = dst.fmt.pix.width = cam->width;
	src.fmt.pix.height = dst.fmt.pix.height = cam->height;
	src.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
	src.fmt.pix.sizeimage = cam->sizeimage[0];
	dst.fmt.pix.pixelformat = V4L2_PIX_FMT_RGB24;
	dst.fmt.pix.bytesperline = cam->rgb.stride;
	dst.fmt.pix.sizeimage = (uint32_t)cam->rgb.stride * cam->height;
	ret = v4lconvert_convert(cam->convert, &src, &dst, (unsigned char *)jpeg, len,
				 cam->rgb.data, dst.fmt.pix.sizeimage);
	if (ret < 0) {
		visid_warn("v4l2 %s: a JPEG frame does not decode: %s", cam->path,
			   v4lconvert_get_error_message(cam->convert));
		return -EINVAL;
	}
	return 0;
}

static int fill_frame(struct visid_v4l2 *cam, const struct v4l2_buffer *buf,
		      const struct v4l2_plane *planes, struct visid_frame *frame)
{
	struct cam_buffer *b = &cam->bufs[buf->index];
	struct visid_image *img = &frame->image;
	uint8_t *data[MAX_PLANES] = {0};
	uint32_t offset[MAX_PLANES] = {0};

	memset(frame, 0, sizeof(*frame));
	for (int p = 0; p < cam->mem_planes; p++) {
		uint32_t used = cam->mplane ? planes[p].bytesused : buf->bytesused;

		offset[p] = cam->mplane ? planes[p].data_offset : 0;
		if (used && used < offset[p] + plane_need(cam, p))
			return -EBADMSG;
		data[p] = (uint8_t *)b->map[p] + offset[p];
		if (cam->memory == V4L2_MEMORY_DMABUF)
			hal_dmabuf_sync(b->dmabuf[p], 1);
	}
	frame->timestamp_ns = buffer_time_ns(buf);
	frame->dmabuf_fd[0] = frame->dmabuf_fd[1] = -1;
	if (cam->fourcc == V4L2_PIX_FMT_MJPEG) {
		size_t len = cam->mplane ? planes[0].bytesused : buf->bytesused;

		if (decode_mjpeg(cam, data[0], len - offset[0]))
			return -EBADMSG;
		*img = cam->rgb;
		img->owned = NULL;
		return 0;
	}

	img->width = cam->width;
	img->height = cam->height;
	img->stride = cam->bytesperline[0];
	img->data = data[0];
	img->format = cam->fourcc == V4L2_PIX_FMT_YUYV ? VISID_FMT_YUYV : VISID_FMT_NV12;
	frame->dmabuf_fd[0] = b->dmabuf[0];
	frame->dmabuf_offset[0] = offset[0];
	if (cam->fourcc == V4L2_PIX_FMT_NV12) {
		/* One plane in memory: chroma follows the luma rows at the same stride. */
		img->uv_stride = img->stride;
		img->uv = img->data + (size_t)img->stride * cam->height;
		frame->dmabuf_fd[1] = b->dmabuf[0];
		frame->dmabuf_offset[1] = offset[0] + img->stride * cam->height;
	} else if (cam->fourcc == V4L2_PIX_FMT_NV12M) {
		img->uv_stride = cam->bytesperline[1];
		img->uv = data[1];
		frame->dmabuf_fd[1] = b->dmabuf[1];
		frame->dmabuf_offset[1] = offset[1];
	}
	return 0;
}

/* The time between frames at the wanted rate. */
static uint64_t frame_interval_ns(const struct visid_v4l2 *cam)
{
	return 1000000000u / (uint64_t)(cam->opt.fps > 0 ? cam->opt.fps : 30);
}

/* Takes one filled buffer off the queue: 0, -EAGAIN when none is ready, other -errno. */
static int dequeue_one(struct visid_v4l2 *cam, struct v4l2_buffer *buf,
		       struct v4l2_plane planes[VIDEO_MAX_PLANES])
{
	int ret;

	*buf = (struct v4l2_buffer){.type = buf_type(cam), .memory = cam->memory};
	if (cam->mplane) {
		memset(planes, 0, sizeof(*planes) * VIDEO_MAX_PLANES);
		buf->m.planes = planes;
		buf->length = VIDEO_MAX_PLANES;
	}
	ret = hal_ioctl(cam->fd, VIDIOC_DQBUF, buf);
	if (ret)
		return ret;
	if (buf->index >= (uint32_t)cam->n_buffers)
		return -EINVAL;
	cam->bufs[buf->index].queued = 0;
	cam->last_frame_ns = hal_now_ns();
	return 0;
}

/* 0 with a frame, -EAGAIN when none is ready, other -errno on failure. */
static int dequeue(struct visid_v4l2 *cam, struct visid_frame *frame)
{
	struct v4l2_plane planes[2][VIDEO_MAX_PLANES];
	struct v4l2_buffer bufs[2], *buf;
	int cur = 0, passed = 0, ret;

	ret = dequeue_one(cam, &bufs[0], planes[0]);
	if (ret)
		return ret;
	/*
	 * Latest frame wins: frames that queued up while the caller was busy
	 * are older than what the camera sees now; they go back unseen.
	 */
	while (!cam->opt.every_frame && !dequeue_one(cam, &bufs[!cur], planes[!cur])) {
		if (bufs[cur].flags & V4L2_BUF_FLAG_ERROR)
			cam->stats.dropped++;
		else
			cam->stats.stale++;
		ret = queue_buffer(cam, bufs[cur].index);
		if (ret)
			return ret;
		cur = !cur;
		passed++;
	}
	buf = &bufs[cur];
	/*
	 * When frames were waiting, even the newest may be old: the queue stops
	 * filling once every buffer waits. Then the next capture, at most a
	 * frame away, is fresher (and is taken: nothing waits before it).
	 */
	if (passed && !(buf->flags & V4L2_BUF_FLAG_ERROR) &&
	    (int64_t)(hal_now_ns() - buffer_time_ns(buf)) >
		    (int64_t)(STALE_FRAMES * frame_interval_ns(cam))) {
		cam->stats.stale++;
		ret = queue_buffer(cam, buf->index);
		return ret ? ret : -EAGAIN;
	}
	if (buf->flags & V4L2_BUF_FLAG_ERROR || fill_frame(cam, buf, planes[cur], frame)) {
		cam->stats.dropped++;
		ret = queue_buffer(cam, buf->index);
		return ret ? ret : -EAGAIN;
	}
	cam->held = buf->index;
	return 0;
}

static int requeue_held(struct visid_v4l2 *cam)
{
	int index = cam->held, ret;

	if (index < 0 || !cam->streaming)
		return 0;
	cam->held = -1;
	ret = queue_buffer(cam, index);
	if (ret && ret != -ENODEV)
		visid_warn("v4l2 %s: cannot requeue buffer %d: %s", cam->path, index,
			   strerror(-ret));
	return ret;
}

static int stall_ms(const struct visid_v4l2 *cam)
{
	return cam->opt.stall_ms ? cam->opt.stall_ms : DEFAULT_STALL_MS;
}

/*
 * When the watchdog acts next: a vanished device at its reopen time, a
 * stopped stream after a short pause, a running one when it has been silent
 * for the stall limit.
 */
static uint64_t watchdog_due(const struct visid_v4l2 *cam)
{
	if (cam->gone)
		return cam->retry_ns;
	if (!cam->streaming)
		return cam->last_frame_ns + FIRST_BACKOFF_MS * NS_PER_MS;
	if (stall_ms(cam) > 0)
		return cam->last_frame_ns + stall_ms(cam) * NS_PER_MS;
	return UINT64_MAX;
}

/* Milliseconds to wait: until the deadline or the watchdog, whichever is first. */
static int wait_ms(const struct visid_v4l2 *cam, uint64_t now, uint64_t deadline)
{
	uint64_t until = watchdog_due(cam) < deadline ? watchdog_due(cam) : deadline;

	if (until <= now)
		return 0;
	if (until - now > 60000 * NS_PER_MS)
		return 60000;
	return (int)((until - now + NS_PER_MS - 1) / NS_PER_MS);
}

static void check_watchdog(struct visid_v4l2 *cam, uint64_t now)
{
	if (now < watchdog_due(cam))
		return;
	if (cam->gone)
		try_reopen(cam);
	else
		restart_stream(cam, cam->streaming ? "no frame within the stall limit"
						   : "the stream stopped");
}

static int handle_error(struct visid_v4l2 *cam, int ret)
{
	if (ret == -ENODEV || ret == -ENXIO) {
		mark_gone(cam);
		return 0;
	}
	if (ret == -EIO || ret == -EPIPE) {
		/* The watchdog restarts it after a pause, so a broken queue cannot spin. */
		visid_warn("v4l2 %s: the driver reports %s, stopping the stream", cam->path,
			   strerror(-ret));
		stop_stream(cam);
		cam->last_frame_ns = hal_now_ns();
		return 0;
	}
	visid_err("v4l2 %s: capture failed: %s", cam->path, strerror(-ret));
	return ret;
}

static int cam_next(struct visid_v4l2 *cam, struct visid_frame *frame, int timeout_ms)
{
	uint64_t now = hal_now_ns();
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now + timeout_ms * NS_PER_MS;
	int ret = requeue_held(cam);

	/* The previous frame was valid until this call. */
	wipe_rgb(cam);
	if (ret)
		handle_error(cam, ret);
	for (;;) {
		struct pollfd pfd = {.fd = cam->fd, .events = POLLIN};

		now = hal_now_ns();
		check_watchdog(cam, now);
		if (!cam->gone && cam->streaming) {
			ret = dequeue(cam, frame);
			if (!ret) {
				cam->stats.frames++;
				return 0;
			}
			if (ret != -EAGAIN) {
				ret = handle_error(cam, ret);
				if (ret)
					return ret;
				continue;
			}
		}
		if (now >= deadline)
			return -EAGAIN;
		if (cam->gone || !cam->streaming) {
			int ms = wait_ms(cam, now, deadline);
			struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
			continue;
		}
		ret = poll(&pfd, 1, wait_ms(cam, now, deadline));
		if (ret < 0 && errno != EINTR) {
			visid_err("v4l2 %s: poll failed: %s", cam->path, strerror(errno));
			return -errno;
		}
	}
}

/* ---- the source ------------------------------------------------------- */

static int v4l2_next(struct visid_source *src, struct visid_frame *frame, int timeout_ms)
{
	return cam_next(src->priv, frame, timeout_ms);
}

static void v4l2_close(struct visid_source *src)
{
	struct visid_v4l2 *cam = src->priv;

	teardown(cam);
	wipe_rgb(cam);
	visid_image_free(&cam->rgb);
	free(cam);
}

static const struct source_ops v4l2_ops = {v4l2_next, v4l2_close};

int source_v4l2_open(struct visid_source *src, const char *path)
{
	struct visid_v4l2 *cam = calloc(1, sizeof(*cam));
	int ret;

	if (!cam)
		return -ENOMEM;
	if (snprintf(cam->path, sizeof(cam->path), "%s", path) >= (int)sizeof(cam->path)) {
		visid_err("v4l2 %s: path too long", path);
		free(cam);
		return -ENAMETOOLONG;
	}
	cam->fd = -1;
	cam->held = -1;
	cam->opt = src->opt;
	init_buffers(cam);
	ret = bring_up(cam);
	if (ret) {
		wipe_rgb(cam);
		visid_image_free(&cam->rgb);
		free(cam);
		return ret;
	}
	src->priv = cam;
	src->ops = &v4l2_ops;
	return 0;
}

struct visid_v4l2 *visid_source_camera(struct visid_source *src)
{
	return src && src->kind == VISID_SOURCE_V4L2 ? src->priv : NULL;
}

int visid_v4l2_get_stats(const struct visid_v4l2 *cam, struct visid_v4l2_stats *stats)
{
	*stats = cam->stats;
	stats->fourcc = cam->fourcc;
	stats->width = cam->width;
	stats->height = cam->height;
	stats->bytesperline = cam->bytesperline[0];
	stats->multiplanar = cam->mplane;
	stats->n_buffers = cam->n_buffers;
	stats->io = cam->memory == V4L2_MEMORY_DMABUF ? VISID_V4L2_IO_DMABUF : VISID_V4L2_IO_MMAP;
	return 0;
}

int hal_v4l2_fd(const struct visid_v4l2 *cam)
{
	return cam->fd;
}

const char *hal_v4l2_path(const struct visid_v4l2 *cam)
{
	return cam->path;
}
