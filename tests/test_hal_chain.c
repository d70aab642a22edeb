/*
 * The whole chain on real kernel drivers, as tests/vm/run provides them: a
 * real face photo is written into vivid's video output, looped to vivid's
 * capture device ("Loop Video", HDMI in and out), captured through V4L2
 * buffers exported as dmabufs, imported into Vulkan without a copy where
 * the device allows, resampled by the preprocessing shaders, detected and
 * embedded, matched against a member enrolled from another photo of the
 * same person (a gallery in a fresh state directory), drawn with the
 * overlay and shown on a virtio-gpu display with page flips.
 *
 * Inside the emulated VM (TCG, 2 CPUs) lavapipe builds and runs the
 * networks' shaders too slowly for a test (minutes per frame), so the
 * networks run on the CPU backend there, and every captured frame is also
 * imported into Vulkan and resampled by the preprocessing shader (the
 * detector's letterbox), which must agree with the C reference on the same
 * camera bytes. $VISID_CHAIN_BACKEND=vulkan runs the networks on Vulkan as
 * well, with the frames imported by the face pipeline itself.
 *
 * Needs vivid with a video output node (tests/vm/run loads one), a virtual
 * DRM card, a Vulkan device, the models and the photos; skipped, with the
 * reason, elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/v4l2-dv-timings.h>
#include <linux/videodev2.h>
#include <xf86drm.h>

#include "frame_util.h"
#include "harness.h"
#include "visid/config.h"
#include "visid/face.h"
#include "visid/gpu.h"
#include "visid/hal.h"
#include "visid/log.h"
#include "visid/match.h"
#include "visid/store.h"
#include "preprocess.h"
#include "vk_import.h"
#include "vk_pre.h"

#define FRAMES	    3
#define OUT_BUFFERS 3
/* Frames the capture side may give before the loop shows the written picture. */
#define SETTLE_FRAMES 12
#define MEMBER	      "Angelina"
/* The shader against the C reference on identical bytes, as in the pre suite. */
#define PRE_TOL 2e-4

static const char *const enroll_photo = "data/faces/identity/deepface/angelina_jolie/img04.jpg";
static const char *const camera_photo = "data/faces/identity/deepface/angelina_jolie/img06.jpg";

static char cap_path[64], out_path[64], card[64];
static char skip_reason[200];

/* vivid's output node and the capture node of the same instance (same bus). */
static int find_vivid_pair(void)
{
	char out_bus[32] = "", cap_bus[8][32], cap_dev[8][64];
	int n_cap = 0;

	for (int i = 0; i < 32; i++) {
		struct v4l2_capability cap;
		char path[64];
		uint32_t caps;
		int fd;

		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!ioctl(fd, VIDIOC_QUERYCAP, &cap) && !strcmp((char *)cap.driver, "vivid")) {
			caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps
								       : cap.capabilities;
			if ((caps & V4L2_CAP_VIDEO_OUTPUT) && !out_path[0]) {
				snprintf(out_path, sizeof(out_path), "%s", path);
				snprintf(out_bus, sizeof(out_bus), "%s", (char *)cap.bus_info);
			}
			if ((caps & V4L2_CAP_VIDEO_CAPTURE) && n_cap < 8) {
				snprintf(cap_dev[n_cap], 64, "%s", path);
				snprintf(cap_bus[n_cap++], 32, "%s", (char *)cap.bus_info);
			}
		}
		close(fd);
	}
	for (int i = 0; i < n_cap && out_bus[0]; i++)
		if (!strcmp(cap_bus[i], out_bus))
			snprintf(cap_path, sizeof(cap_path), "%.63s", cap_dev[i]);
	return cap_path[0] ? 0 : -1;
}

static int find_virtual_card(void)
{
	char paths[16][64];
	int n = visid_drm_list(paths, 16);

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
	return card[0] ? 0 : -1;
}

static void quiet(enum visid_log_level level, const char *msg, void *data)
{
}

static const char *chain_skip(void)
{
	struct visid_gpu_options opt = {0};
	struct visid_gpu *gpu;
	char path[256];
	int ret;

	if (find_vivid_pair())
		return "no vivid instance with a video output here; tests/vm/run provides one";
	if (find_virtual_card())
		return "no virtual DRM card here; tests/vm/run provides one";
	if (!visid_test_have_shared(enroll_photo) || !visid_test_have_shared(camera_photo))
		return "../shared/data/faces is absent (real photos needed)";
	if (access(visid_test_model("MobileFaceNet.tflite", path, sizeof(path)), R_OK))
		return "models are not fetched (run scripts/fetch-models)";
	visid_log_set_handler(quiet, NULL);
	ret = visid_gpu_create(&opt, &gpu);
	visid_log_set_handler(NULL, NULL);
	if (ret) {
		snprintf(skip_reason, sizeof(skip_reason), "no Vulkan device: %s", strerror(-ret));
		return skip_reason;
	}
	visid_gpu_destroy(gpu);
	return NULL;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Selects the HDMI input or output: vivid loops only HDMI to HDMI (or S-Video). */
static int select_hdmi(int fd, int output)
{
	for (uint32_t i = 0; i < 16; i++) {
		struct v4l2_output o = {.index = i};
		struct v4l2_input in = {.index = i};
		const char *name;
		int index = (int)i;

		if (output ? ioctl(fd, VIDIOC_ENUMOUTPUT, &o) : ioctl(fd, VIDIOC_ENUMINPUT, &in))
			break;
		name = output ? (const char *)o.name : (const char *)in.name;
		if (!strstr(name, "HDMI"))
			continue;
		if (ioctl(fd, output ? VIDIOC_S_OUTPUT : VIDIOC_S_INPUT, &index))
			return -errno;
		return 0;
	}
	return -ENOENT;
}

/*
 * Connects vivid's HDMI input to its HDMI output, with no text drawn over
 * the picture. Kernels since 6.9 have an "HDMI <instance>-<n> Is Connected
 * To" menu on the capture device (an item names the output); older ones a
 * "Loop Video" switch.
 */
static int connect_loop(struct visid_source *src)
{
	struct visid_v4l2 *cam = visid_source_camera(src);
	struct v4l2_queryctrl q = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
	int fd = open(cap_path, O_RDWR | O_CLOEXEC), ret = -ENOENT;
	uint32_t id;

	if (fd < 0)
		return -errno;
	while (ret == -ENOENT && !ioctl(fd, VIDIOC_QUERYCTRL, &q)) {
		const char *name = (const char *)q.name;

		if (!strncmp(name, "HDMI", 4) && strstr(name, "Is Connected To") &&
		    q.type == V4L2_CTRL_TYPE_MENU) {
			for (int i = q.minimum; i <= q.maximum && ret == -ENOENT; i++) {
				struct v4l2_querymenu m = {.id = q.id, .index = (uint32_t)i};

				if (!ioctl(fd, VIDIOC_QUERYMENU, &m) &&
				    strstr((const char *)m.name, "HDMI"))
					ret = visid_v4l2_set_control(cam, q.id, i);
			}
		}
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	close(fd);
	if (ret == -ENOENT && !visid_v4l2_find_control(cam, "Loop Video", &id))
		ret = visid_v4l2_set_control(cam, id, 1);
	/* vivid writes its counters over the picture unless told not to (2: none). */
	if (!ret && !visid_v4l2_find_control(cam, "OSD Text Mode", &id))
		ret = visid_v4l2_set_control(cam, id, 2);
	return ret;
}

/* vivid's output side: streaming buffers that all hold the picture. */
struct output {
	int fd;
	void *map[OUT_BUFFERS];
	size_t length[OUT_BUFFERS];
	struct v4l2_format fmt;
	int streaming;
};

static int output_start(struct output *o, const struct visid_image *picture)
{
	struct v4l2_requestbuffers req = {
	    .count = OUT_BUFFERS, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP};
	int type = V4L2_BUF_TYPE_VIDEO_OUTPUT;

	o->fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	o->fmt.fmt.pix.width = picture->width;
	o->fmt.fmt.pix.height = picture->height;
	o->fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	o->fmt.fmt.pix.field = V4L2_FIELD_NONE;
	if (ioctl(o->fd, VIDIOC_S_FMT, &o->fmt) || ioctl(o->fd, VIDIOC_REQBUFS, &req) ||
	    req.count < OUT_BUFFERS)
		return -errno;
	for (int i = 0; i < OUT_BUFFERS; i++) {
		struct v4l2_buffer b = {
		    .index = i, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP};
		struct visid_image dst = *picture;

		if (ioctl(o->fd, VIDIOC_QUERYBUF, &b))
			return -errno;
		o->length[i] = b.length;
		o->map[i] =
		    mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, o->fd, b.m.offset);
		if (o->map[i] == MAP_FAILED) {
			o->map[i] = NULL;
			return -errno;
		}
		dst.data = o->map[i];
		dst.stride = (int)o->fmt.fmt.pix.bytesperline;
		dst.owned = NULL;
		for (int y = 0; y < picture->height; y++)
			memcpy(dst.data + (size_t)y * dst.stride,
			       picture->data + (size_t)y * picture->stride,
			       vt_row_bytes(VISID_FMT_YUYV, picture->width));
		b.bytesused = o->fmt.fmt.pix.sizeimage;
		if (ioctl(o->fd, VIDIOC_QBUF, &b))
			return -errno;
	}
	if (ioctl(o->fd, VIDIOC_STREAMON, &type))
		return -errno;
	o->streaming = 1;
	return 0;
}

/* Gives back to the output queue every buffer vivid has shown, so the loop never runs dry. */
static void output_requeue(struct output *o)
{
	struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP};

	while (!ioctl(o->fd, VIDIOC_DQBUF, &b)) {
		b.bytesused = o->fmt.fmt.pix.sizeimage;
		ioctl(o->fd, VIDIOC_QBUF, &b);
	}
}

static void output_stop(struct output *o)
{
	int type = V4L2_BUF_TYPE_VIDEO_OUTPUT;

	if (o->streaming)
		ioctl(o->fd, VIDIOC_STREAMOFF, &type);
	for (int i = 0; i < OUT_BUFFERS; i++)
		if (o->map[i])
			munmap(o->map[i], o->length[i]);
	if (o->fd >= 0)
		close(o->fd);
}

/* The picture vivid shows: the camera photo fitted into the capture size, as YUYV. */
static int make_picture(int width, int height, struct visid_image *yuyv)
{
	struct visid_image photo, rgb;
	char path[256];
	int ret;

	ret = visid_image_load(visid_test_shared(camera_photo, path, sizeof(path)), &photo);
	if (ret)
		return ret;
	ret = visid_image_alloc(&rgb, width, height, VISID_FMT_RGB24);
	if (!ret) {
		double s = (double)width / photo.width < (double)height / photo.height
			       ? (double)width / photo.width
			       : (double)height / photo.height;
		int w = (int)(photo.width * s), h = (int)(photo.height * s);

		visid_draw_image(&rgb, &photo, (width - w) / 2, (height - h) / 2, w, h);
		ret = visid_image_alloc(yuyv, width, height, VISID_FMT_YUYV);
	}
	if (!ret)
		vt_frame_fill(&rgb, 0, 0, yuyv);
	visid_image_free(&rgb);
	visid_image_free(&photo);
	return ret;
}

/* The member, enrolled from the other photo in a fresh state directory, as a gallery. */
static int enroll(struct visid_face_pipeline *pipe, struct visid_gallery **gallery, int64_t *member)
{
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_options sopt = {0};
	struct visid_store_gallery g;
	struct visid_store *store = NULL;
	struct visid_face face;
	struct visid_image img;
	char path[256], dir[512];
	uint8_t *bytes = NULL;
	long len = 0;
	FILE *f;
	int ret;

	visid_test_shared(enroll_photo, path, sizeof(path));
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	bytes = malloc(len > 0 ? (size_t)len : 1);
	ret = bytes && len > 0 && fread(bytes, 1, (size_t)len, f) == (size_t)len ? 0 : -EIO;
	fclose(f);
	if (!ret)
		ret = visid_image_decode(bytes, (size_t)len, path, &img);
	if (ret)
		goto out_free;
	memset(slots, 0, sizeof(slots));
	ret = visid_face_detect(pipe, &img, &face, 1) == 1 ? 0 : -ENOENT;
	if (!ret)
		ret = visid_face_embed(pipe, &img, &face, slots[VISID_POSE_FRONT].vector);
	visid_image_free(&img);
	VT_CHECK(ret == 0, "%s: no face to enroll: %d", enroll_photo, ret);
	if (ret)
		goto out_free;

	snprintf(dir, sizeof(dir), "%s/state", visid_test_tmpdir());
	sopt.dir = dir;
	sopt.flags = VISID_STORE_CREATE;
	sopt.model_id = visid_face_model_id(pipe);
	slots[VISID_POSE_FRONT].image = bytes;
	slots[VISID_POSE_FRONT].image_len = (size_t)len;
	ret = visid_store_open(&sopt, &store);
	if (!ret)
		ret = visid_store_enroll(store, MEMBER, NULL, 0, slots, member);
	if (!ret) {
		ret = visid_store_load_gallery(store, &g);
		ret = ret < 0 ? ret : 0;
	}
	VT_CHECK(ret == 0 && g.count == 1, "gallery in %.200s: %d, %d members", dir, ret,
		 ret ? 0 : g.count);
	if (!ret)
		ret =
		    visid_gallery_create(VISID_STORE_MAX_MEMBERS, VISID_MATCH_MAX_VECTORS, gallery);
	if (!ret)
		ret = visid_gallery_set(*gallery, (uint64_t)g.members[0].id,
					g.members[0].vectors[VISID_POSE_FRONT], 1);
	if (!ret)
		visid_store_gallery_wipe(&g);
	visid_store_close(store);
out_free:
	free(bytes);
	return ret;
}

struct chain {
	struct visid_gpu *gpu;
	struct visid_vk_importer *importer; /* frames into Vulkan beside a CPU pipeline */
	struct visid_vk_pre *pre;
	struct visid_vk_buffer *pre_out;
	float *pre_ref;
	struct visid_face_pipeline *pipe;
	struct visid_gallery *gallery;
	int64_t member;
	float threshold;
	struct visid_screen *scr;
	struct visid_overlay *ov;
	struct output out;
	struct visid_source *src;
	struct visid_image picture;
};

/*
 * The frame imported into Vulkan and letterboxed to the detector's input by
 * the shader, against the C reference on the same camera buffer.
 */
static void check_import(struct chain *c, const struct visid_frame *frame)
{
	const size_t n = 3 * 192 * 192;
	struct visid_resample rs;
	struct visid_vk_frame f;
	double worst = 0;
	const float *got;
	int ret;

	visid_pre_detector_map(frame->image.width, frame->image.height, NULL, 192, 192, 1, &rs);
	ret =
	    visid_vk_import(c->importer, &frame->image, frame->dmabuf_fd, frame->dmabuf_offset, &f);
	if (!ret)
		ret = visid_vk_pre_run(c->pre, &f, &rs, visid_vk_whole(c->pre_out));
	if (!ret)
		ret = visid_pre_resample(&frame->image, &rs, c->pre_ref);
	got = visid_vk_buffer_map(c->pre_out);
	VT_CHECK(ret == 0 && got, "frame %llu: import and preprocessing: %d",
		 (unsigned long long)frame->sequence, ret);
	/* A plain compare, not fmax: aarch64 gcc 12 crashes vectorising that reduction. */
	for (size_t i = 0; !ret && got && i < n; i++) {
		double d = fabs((double)got[i] - c->pre_ref[i]);

		if (d > worst)
			worst = d;
	}
	VT_CHECK(worst <= PRE_TOL, "frame %llu: the shader differs from the reference by %.3g",
		 (unsigned long long)frame->sequence, worst);
}

/* One captured frame through detection, recognition and the display; 1 when recognised. */
static int process(struct chain *c, const struct visid_frame *frame, double ms[3])
{
	struct visid_face faces[VISID_MAX_FACES];
	struct visid_overlay_face box = {.color = 0x40c040, .label = MEMBER};
	struct visid_overlay_scene scene = {.frame = &frame->image};
	struct visid_image canvas;
	float vec[VISID_EMBED_DIM];
	struct visid_match m = {.member = -1};
	double t0 = now_ms();
	int n, ret;

	if (c->importer)
		check_import(c, frame);
	t0 = now_ms();
	n = visid_face_detect_frame(c->pipe, frame, faces, VISID_MAX_FACES);
	ms[0] = now_ms() - t0;
	ret = n >= 1 ? visid_face_embed(c->pipe, &frame->image, &faces[0], vec) : -ENOENT;
	if (!ret)
		ret = visid_gallery_match(c->gallery, vec, c->threshold, &m);
	ms[1] = now_ms() - t0 - ms[0];
	VT_CHECK(ret == 0 && m.accepted && m.id == (uint64_t)c->member,
		 "frame %llu: %d faces, match %d (score %.3f, accepted %d)",
		 (unsigned long long)frame->sequence, n, ret, m.score, m.accepted);

	t0 = now_ms();
	if (n >= 1) {
		memcpy(box.box, faces[0].box, sizeof(box.box));
		scene.faces = &box;
		scene.n_faces = 1;
	}
	scene.text = !ret && m.accepted ? "Hello, " MEMBER : NULL;
	if (!visid_screen_canvas(c->scr, &canvas) && !visid_overlay_draw(c->ov, &scene, &canvas))
		VT_CHECK(visid_screen_present(c->scr) == 0, "%s: page flip of frame %llu", card,
			 (unsigned long long)frame->sequence);
	else
		VT_CHECK(0, "%s: cannot draw frame %llu", card,
			 (unsigned long long)frame->sequence);
	ms[2] = now_ms() - t0;
	printf("\n    frame %llu: %d face(s), score %.3f, detect %.0f ms, embed+match %.0f ms, "
	       "draw+flip %.0f ms",
	       (unsigned long long)frame->sequence, n, m.score, ms[0], ms[1], ms[2]);
	fflush(stdout);
	return !ret && m.accepted;
}

/* 1 when the frame holds exactly the picture written to the output. */
static int frame_is_picture(const struct visid_frame *frame, const struct visid_image *pic)
{
	const struct visid_image *img = &frame->image;

	if (img->format != VISID_FMT_YUYV || img->width != pic->width || img->height != pic->height)
		return 0;
	for (int y = 0; y < img->height; y++)
		if (memcmp(img->data + (size_t)y * img->stride, pic->data + (size_t)y * pic->stride,
			   vt_row_bytes(VISID_FMT_YUYV, img->width)))
			return 0;
	return 1;
}

/* The kernel's initializer leaves fields out, which clang -Wextra reports. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct v4l2_dv_timings cea_640x480 = V4L2_DV_BT_CEA_640X480P59_94;
#pragma GCC diagnostic pop

static int open_chain(struct chain *c)
{
	const char *backend = getenv("VISID_CHAIN_BACKEND");
	struct visid_gpu_options gopt = {0};
	struct visid_face_options fopt = {.backend = VISID_BACKEND_VULKAN};
	struct visid_source_options sopt;
	struct visid_config cfg;
	struct v4l2_format fmt = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	char dir[256], spec[80];
	int fd, ret;

	visid_config_defaults(&cfg);
	c->threshold = cfg.match_threshold;
	c->out.fd = open(out_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	fd = open(cap_path, O_RDWR | O_CLOEXEC);
	ret = c->out.fd < 0 || fd < 0 ? -errno : 0;
	if (!ret)
		ret = select_hdmi(fd, 0);
	if (!ret)
		ret = select_hdmi(c->out.fd, 1);
	/* 640x480 keeps the emulated machine's work small; the default is 720p. */
	if (!ret) {
		struct v4l2_dv_timings t = cea_640x480;

		if (ioctl(fd, VIDIOC_S_DV_TIMINGS, &t) || ioctl(c->out.fd, VIDIOC_S_DV_TIMINGS, &t))
			printf("\n    640x480 DV timings refused (%s); the default stays",
			       strerror(errno));
	}
	if (!ret && ioctl(fd, VIDIOC_G_FMT, &fmt))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	VT_CHECK(ret == 0, "%s / %s: HDMI input and output: %s", cap_path, out_path,
		 strerror(-ret));
	if (ret)
		return ret;
	printf("\n    vivid %s -> %s, HDMI %ux%u, screen %s", out_path, cap_path, fmt.fmt.pix.width,
	       fmt.fmt.pix.height, card);

	ret = make_picture((int)fmt.fmt.pix.width, (int)fmt.fmt.pix.height, &c->picture);
	if (!ret)
		ret = output_start(&c->out, &c->picture);
	VT_CHECK(ret == 0, "%s: output streaming: %s", out_path, strerror(-ret));
	if (ret)
		return ret;

	visid_source_options_init(&sopt);
	sopt.width = (int)fmt.fmt.pix.width;
	sopt.height = (int)fmt.fmt.pix.height;
	sopt.fourcc = V4L2_PIX_FMT_YUYV;
	/* Frames wait while the emulated machine works on the last one: no stall. */
	sopt.stall_ms = -1;
	snprintf(spec, sizeof(spec), "v4l2:%s", cap_path);
	ret = visid_source_open(spec, &sopt, &c->src);
	if (!ret)
		ret = connect_loop(c->src);
	VT_CHECK(ret == 0, "%s: capture looped from %s: %s", cap_path, out_path, strerror(-ret));
	if (ret)
		return ret;

	ret = visid_gpu_create(&gopt, &c->gpu);
	VT_CHECK(ret == 0, "Vulkan device: %s", strerror(-ret));
	if (!ret && backend && !strcmp(backend, "vulkan")) {
		fopt.gpu = c->gpu;
	} else if (!ret) {
		fopt.backend = VISID_BACKEND_CPU;
		ret = visid_vk_importer_create(c->gpu, VISID_VK_IMPORT_DMABUF, &c->importer);
		if (!ret)
			ret = visid_vk_pre_create(c->gpu, &c->pre);
		if (!ret)
			ret = visid_vk_buffer_create(c->gpu, 3 * 192 * 192 * sizeof(float),
						     VISID_VK_BUFFER_HOST, "chain letterbox",
						     &c->pre_out);
		c->pre_ref = malloc(3 * 192 * 192 * sizeof(float));
		if (!ret && !c->pre_ref)
			ret = -ENOMEM;
	}
	printf("\n    networks on the %s backend; import and preprocessing shader on '%s'",
	       fopt.backend == VISID_BACKEND_VULKAN ? "Vulkan" : "CPU",
	       c->gpu ? visid_gpu_name(c->gpu) : "none");
	fopt.model_dir = visid_test_model("", dir, sizeof(dir));
	if (!ret)
		ret = visid_face_pipeline_create(&fopt, &c->pipe);
	if (!ret)
		ret = enroll(c->pipe, &c->gallery, &c->member);
	snprintf(spec, sizeof(spec), "drm:%s", card);
	if (!ret)
		ret = visid_screen_open(spec, NULL, &c->scr);
	if (!ret)
		ret = visid_overlay_create(NULL, &c->ov);
	VT_CHECK(ret == 0, "pipeline, gallery, screen %s and overlay: %s", card, strerror(-ret));
	return ret;
}

static void close_chain(struct chain *c)
{
	visid_overlay_destroy(c->ov);
	if (c->scr)
		visid_screen_close(c->scr);
	visid_gallery_destroy(c->gallery);
	visid_face_pipeline_destroy(c->pipe);
	visid_vk_buffer_destroy(c->pre_out);
	visid_vk_pre_destroy(c->pre);
	visid_vk_importer_destroy(c->importer);
	free(c->pre_ref);
	visid_gpu_destroy(c->gpu);
	if (c->src)
		visid_source_close(c->src);
	output_stop(&c->out);
	visid_image_free(&c->picture);
}

/* How frames reached Vulkan: through the pipeline, or the importer beside a CPU pipeline. */
static void chain_stats(const struct chain *c, struct visid_face_stats *st)
{
	struct visid_vk_import_stats is;

	visid_face_get_stats(c->pipe, st);
	if (!c->importer)
		return;
	visid_vk_import_get_stats(c->importer, &is);
	st->frame_copies = is.copies;
	st->frame_imports = is.imports;
	st->frame_path = is.frames ? visid_vk_import_path_name(is.last) : "none yet";
}

static void test_photo_through_vivid_to_screen(void)
{
	struct chain c = {.out.fd = -1};
	struct visid_face_stats before, after;
	struct visid_frame frame;
	int seen = 0, exact = 0, recognised = 0, ret = 0;
	uint64_t flips;
	double ms[3];

	if (open_chain(&c))
		goto out_close;
	chain_stats(&c, &before);
	flips = visid_screen_presented(c.scr);
	/* The test pattern shows until the loop has the output's first buffer. */
	for (int i = 0; i < SETTLE_FRAMES + FRAMES && seen < FRAMES; i++) {
		output_requeue(&c.out);
		ret = visid_source_next(c.src, &frame, 5000);
		VT_CHECK(ret == 0, "%s: frame %d: %s", cap_path, i, strerror(-ret));
		if (ret)
			break;
		if (!frame_is_picture(&frame, &c.picture)) {
			VT_CHECK(!seen, "%s: frame %llu is not the picture after %d that were",
				 cap_path, (unsigned long long)frame.sequence, seen);
			continue;
		}
		exact++;
		seen++;
		VT_CHECK(frame.dmabuf_fd[0] >= 0, "%s: frame without a dmabuf", cap_path);
		recognised += process(&c, &frame, ms);
	}
	chain_stats(&c, &after);
	printf("\n    %d frames equal to the picture, %d recognised, %llu page flips; frames to "
	       "the device: %s, %llu copies, %llu imports ",
	       exact, recognised, (unsigned long long)(visid_screen_presented(c.scr) - flips),
	       after.frame_path, (unsigned long long)(after.frame_copies - before.frame_copies),
	       (unsigned long long)(after.frame_imports - before.frame_imports));
	VT_CHECK(exact == FRAMES && recognised == FRAMES &&
		     visid_screen_presented(c.scr) - flips == FRAMES,
		 "%d of %d frames were the picture, %d recognised, %llu flips", exact, FRAMES,
		 recognised, (unsigned long long)(visid_screen_presented(c.scr) - flips));
	if (c.gpu && visid_vk_import_path_for(c.gpu) != VISID_VK_IMPORT_COPY)
		VT_CHECK(after.frame_copies == before.frame_copies &&
			     after.frame_imports > before.frame_imports,
			 "camera frames on '%s' were copied %llu times (%s path)",
			 visid_gpu_name(c.gpu),
			 (unsigned long long)(after.frame_copies - before.frame_copies),
			 after.frame_path);
	if (c.gpu)
		VT_CHECK(visid_gpu_validation_errors(c.gpu) == 0, "%u validation messages",
			 visid_gpu_validation_errors(c.gpu));
out_close:
	close_chain(&c);
}

VISID_SUITE(hal_chain, "hal_chain", NULL, NULL, chain_skip,
	    VISID_TEST(test_photo_through_vivid_to_screen))
