/*
 * What V4L2 devices are there and what they can do: capture devices under
 * /dev, their formats, frame sizes, rates and controls (for the probe and
 * for choosing a camera), and setting a control on an open camera.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <linux/videodev2.h>

#include "hal_priv.h"
#include "visid/log.h"

#define MAX_SIZES    64
#define MAX_CONTROLS 256

static int node_number(const char *name)
{
	if (strncmp(name, "video", 5) || !isdigit((unsigned char)name[5]))
		return -1;
	for (const char *p = name + 5; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	return atoi(name + 5);
}

static uint32_t device_caps(int fd)
{
	struct v4l2_capability cap;

	if (hal_ioctl(fd, VIDIOC_QUERYCAP, &cap))
		return 0;
	return cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
}

static int compare_nodes(const void *a, const void *b)
{
	return node_number((const char *)a + 5) - node_number((const char *)b + 5);
}

int visid_v4l2_list(char (*paths)[64], int max)
{
	DIR *dir = opendir("/dev");
	struct dirent *de;
	int found = 0;

	if (!dir) {
		int ret = -errno;

		visid_err("v4l2: cannot list /dev: %s", strerror(errno));
		return ret;
	}
	while ((de = readdir(dir))) {
		char path[64];
		uint32_t caps;
		int fd;

		if (node_number(de->d_name) < 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%.32s", de->d_name);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		caps = device_caps(fd);
		close(fd);
		if (!(caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE)))
			continue;
		if (found < max)
			snprintf(paths[found], 64, "%s", path);
		found++;
	}
	closedir(dir);
	qsort(paths, found < max ? found : max, sizeof(*paths), compare_nodes);
	return found;
}

/* ---- formats ---------------------------------------------------------- */

static float best_fps(int fd, uint32_t fourcc, uint32_t w, uint32_t h)
{
	struct v4l2_frmivalenum ival = {.pixel_format = fourcc, .width = w, .height = h};
	float best = 0;

	for (ival.index = 0; !hal_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &ival); ival.index++) {
		const struct v4l2_fract *f =
		    ival.type == V4L2_FRMIVAL_TYPE_DISCRETE ? &ival.discrete : &ival.stepwise.min;
		float fps = f->numerator ? (float)f->denominator / f->numerator : 0;

		if (fps > best)
			best = fps;
		if (ival.type != V4L2_FRMIVAL_TYPE_DISCRETE)
			break;
	}
	return best;
}

static void add_size(struct visid_v4l2_format *f, int fd, uint32_t w, uint32_t h)
{
	struct visid_v4l2_frame_size *s;

	if (f->n_sizes >= MAX_SIZES)
		return;
	s = &f->sizes[f->n_sizes++];
	s->width = w;
	s->height = h;
	s->max_fps = best_fps(fd, f->fourcc, w, h);
}

/* Discrete sizes as listed; a stepwise range as its two ends. */
static int query_sizes(int fd, struct visid_v4l2_format *f)
{
	struct v4l2_frmsizeenum size = {.pixel_format = f->fourcc};

	f->sizes = calloc(MAX_SIZES, sizeof(*f->sizes));
	if (!f->sizes)
		return -ENOMEM;
	for (size.index = 0; !hal_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size); size.index++) {
		if (size.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
			add_size(f, fd, size.discrete.width, size.discrete.height);
			continue;
		}
		add_size(f, fd, size.stepwise.min_width, size.stepwise.min_height);
		add_size(f, fd, size.stepwise.max_width, size.stepwise.max_height);
		break;
	}
	return 0;
}

static int query_formats(int fd, uint32_t type, struct visid_v4l2_info *info)
{
	struct v4l2_fmtdesc desc = {.type = type};
	int ret;

	for (desc.index = 0; !hal_ioctl(fd, VIDIOC_ENUM_FMT, &desc); desc.index++) {
		struct visid_v4l2_format *grown, *f;

		grown = realloc(info->formats, (info->n_formats + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		info->formats = grown;
		f = &info->formats[info->n_formats++];
		memset(f, 0, sizeof(*f));
		f->fourcc = desc.pixelformat;
		f->compressed = !!(desc.flags & V4L2_FMT_FLAG_COMPRESSED);
		snprintf(f->name, sizeof(f->name), "%s", (const char *)desc.description);
		ret = query_sizes(fd, f);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- controls --------------------------------------------------------- */

static int control_value(int fd, const struct v4l2_query_ext_ctrl *q, int64_t *value)
{
	struct v4l2_ext_control ctrl = {.id = q->id};
	struct v4l2_ext_controls ctrls = {
	    .which = V4L2_CTRL_WHICH_CUR_VAL,
	    .count = 1,
	    .controls = &ctrl,
	};
	int ret = hal_ioctl(fd, VIDIOC_G_EXT_CTRLS, &ctrls);

	if (ret)
		return ret;
	*value = q->type == V4L2_CTRL_TYPE_INTEGER64 ? ctrl.value64 : ctrl.value;
	return 0;
}

static int readable(const struct v4l2_query_ext_ctrl *q)
{
	switch (q->type) {
	case V4L2_CTRL_TYPE_INTEGER:
	case V4L2_CTRL_TYPE_BOOLEAN:
	case V4L2_CTRL_TYPE_MENU:
	case V4L2_CTRL_TYPE_INTEGER_MENU:
	case V4L2_CTRL_TYPE_BITMASK:
	case V4L2_CTRL_TYPE_INTEGER64:
		return !(q->flags & V4L2_CTRL_FLAG_WRITE_ONLY) && !q->nr_of_dims;
	default:
		return 0;
	}
}

/* Calls fn for each control but class headings and disabled ones; stops at nonzero. */
static int for_each_control(int fd, int (*fn)(const struct v4l2_query_ext_ctrl *, void *),
			    void *data)
{
	struct v4l2_query_ext_ctrl q = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
	int ret;

	while (!hal_ioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q)) {
		if (q.type != V4L2_CTRL_TYPE_CTRL_CLASS && !(q.flags & V4L2_CTRL_FLAG_DISABLED)) {
			ret = fn(&q, data);
			if (ret)
				return ret;
		}
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND;
	}
	return 0;
}

struct control_list {
	int fd;
	struct visid_v4l2_info *info;
};

static int add_control(const struct v4l2_query_ext_ctrl *q, void *data)
{
	struct control_list *list = data;
	struct visid_v4l2_control *c;

	if (list->info->n_controls >= MAX_CONTROLS)
		return 1;
	c = &list->info->controls[list->info->n_controls++];
	c->id = q->id;
	c->type = q->type;
	snprintf(c->name, sizeof(c->name), "%s", q->name);
	c->minimum = q->minimum;
	c->maximum = q->maximum;
	c->step = q->step;
	c->default_value = q->default_value;
	if (!readable(q) || control_value(list->fd, q, &c->value))
		c->value = c->default_value;
	return 0;
}

int visid_v4l2_query(const char *path, struct visid_v4l2_info *info)
{
	struct control_list list = {.info = info};
	struct v4l2_capability cap;
	int fd, ret;

	memset(info, 0, sizeof(*info));
	snprintf(info->path, sizeof(info->path), "%s", path);
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		visid_err("v4l2 %s: cannot open: %s", path, strerror(errno));
		return ret;
	}
	ret = hal_ioctl(fd, VIDIOC_QUERYCAP, &cap);
	if (ret) {
		visid_err("v4l2 %s: not a V4L2 device: %s", path, strerror(-ret));
		goto out_close;
	}
	snprintf(info->driver, sizeof(info->driver), "%s", (const char *)cap.driver);
	snprintf(info->card, sizeof(info->card), "%s", (const char *)cap.card);
	snprintf(info->bus, sizeof(info->bus), "%s", (const char *)cap.bus_info);
	info->capabilities =
	    cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
	info->multiplanar = !(info->capabilities & V4L2_CAP_VIDEO_CAPTURE) &&
			    (info->capabilities & V4L2_CAP_VIDEO_CAPTURE_MPLANE);
	ret = query_formats(fd,
			    info->multiplanar ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
					      : V4L2_BUF_TYPE_VIDEO_CAPTURE,
			    info);
	if (ret)
		goto out_free_info;
	info->controls = calloc(MAX_CONTROLS, sizeof(*info->controls));
	if (!info->controls) {
		ret = -ENOMEM;
		goto out_free_info;
	}
	list.fd = fd;
	for_each_control(fd, add_control, &list);
	close(fd);
	return 0;

out_free_info:
	visid_v4l2_info_free(info);
out_close:
	close(fd);
	return ret;
}

void visid_v4l2_info_free(struct visid_v4l2_info *info)
{
	for (int i = 0; i < info->n_formats; i++)
		free(info->formats[i].sizes);
	free(info->formats);
	free(info->controls);
	info->formats = NULL;
	info->controls = NULL;
	info->n_formats = info->n_controls = 0;
}

/* ---- controls of an open camera --------------------------------------- */

struct control_search {
	const char *name;
	uint32_t id;
};

static int match_name(const struct v4l2_query_ext_ctrl *q, void *data)
{
	struct control_search *search = data;

	if (strcasecmp(q->name, search->name))
		return 0;
	search->id = q->id;
	return 1;
}

int visid_v4l2_find_control(struct visid_v4l2 *cam, const char *name, uint32_t *id)
{
	struct control_search search = {.name = name};
	int fd = hal_v4l2_fd(cam);

	if (fd < 0)
		return -ENODEV;
	if (!for_each_control(fd, match_name, &search))
		return -ENOENT;
	*id = search.id;
	return 0;
}

int visid_v4l2_set_control(struct visid_v4l2 *cam, uint32_t id, int64_t value)
{
	struct v4l2_query_ext_ctrl q = {.id = id};
	struct v4l2_ext_control ctrl = {.id = id};
	struct v4l2_ext_controls ctrls = {
	    .which = V4L2_CTRL_WHICH_CUR_VAL,
	    .count = 1,
	    .controls = &ctrl,
	};
	int fd = hal_v4l2_fd(cam), ret;

	if (fd < 0) {
		visid_err("v4l2 %s: cannot set control 0x%x: the device is not open",
			  hal_v4l2_path(cam), id);
		return -ENODEV;
	}
	ret = hal_ioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q);
	if (!ret) {
		if (q.type == V4L2_CTRL_TYPE_INTEGER64)
			ctrl.value64 = value;
		else
			ctrl.value = (int32_t)value;
		ret = hal_ioctl(fd, VIDIOC_S_EXT_CTRLS, &ctrls);
	}
	if (ret)
		visid_err("v4l2 %s: cannot set control '%s' (0x%x) to %lld: %s", hal_v4l2_path(cam),
			  ret == -EINVAL && !q.name[0] ? "?" : q.name, id, (long long)value,
			  strerror(-ret));
	return ret;
}
