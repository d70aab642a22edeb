/*
 * YUV4MPEG2 files as a frame source: recorded camera streams replayed
 * without a camera. Only 4:2:0 is read; its planar U and V become the
 * interleaved chroma plane of NV12, the layout most cameras deliver.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal_priv.h"
#include "visid/log.h"

#define Y4M_MAGIC    "YUV4MPEG2"
#define Y4M_MAX_LINE 1024
#define Y4M_MAX_SIDE 16384

struct y4m_source {
	FILE *file;
	long data_start; /* offset of the first FRAME, where a loop starts again */
	int width, height;
	int fps_num, fps_den;
	size_t y_size, c_size; /* bytes of the luma plane and of one chroma plane */
	uint8_t *planar;       /* one frame as read: Y, U, V */
	uint8_t *nv12;
	int frame_index;
	struct visid_image img;
	char io[BUFSIZ];       /* stdio's buffer, ours so that the frame bytes in it are wiped */
};

/* Reads one header line without its newline; -EINVAL when too long or cut. */
static int read_line(FILE *f, char *buf, size_t len, int *at_eof)
{
	size_t n = 0;
	int c;

	*at_eof = 0;
	while ((c = fgetc(f)) != EOF && c != '\n') {
		if (n + 1 >= len)
			return -EINVAL;
		buf[n++] = c;
	}
	buf[n] = 0;
	if (c == EOF) {
		*at_eof = n == 0;
		return n == 0 ? -ENODATA : -EINVAL;
	}
	return 0;
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_ratio(const char *s, int *num, int *den)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = 0;
	return parse_int(buf, num) || parse_int(colon + 1, den) ? -EINVAL : 0;
}

static int is_420(const char *chroma)
{
	static const char *const names[] = {"420", "420jpeg", "420paldv", "420mpeg2"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(chroma, names[i]))
			return 1;
	return 0;
}

static int parse_tag(struct y4m_source *s, const char *path, const char *tag)
{
	const char *value = tag + 1;

	switch (tag[0]) {
	case 'W':
		if (parse_int(value, &s->width) || s->width > Y4M_MAX_SIDE)
			goto bad_value;
		return 0;
	case 'H':
		if (parse_int(value, &s->height) || s->height > Y4M_MAX_SIDE)
			goto bad_value;
		return 0;
	case 'F':
		if (parse_ratio(value, &s->fps_num, &s->fps_den))
			goto bad_value;
		return 0;
	case 'C':
		if (is_420(value))
			return 0;
		visid_err("y4m source %s: chroma 'C%s' is not supported, only 4:2:0 "
			  "(420, 420jpeg, 420paldv, 420mpeg2)",
			  path, value);
		return -ENOTSUP;
	case 'I': /* interlacing: fields are read as one frame */
	case 'A': /* pixel aspect */
	case 'X': /* application data */
		return 0;
	default:
		visid_err("y4m source %s: unknown header tag '%s'", path, tag);
		return -EINVAL;
	}

bad_value:
	visid_err("y4m source %s: bad header value '%s'", path, tag);
	return -EINVAL;
}

static int parse_header(struct y4m_source *s, const char *path)
{
	char line[Y4M_MAX_LINE], *save = NULL, *tag;
	int at_eof, ret;

	ret = read_line(s->file, line, sizeof(line), &at_eof);
	if (ret || strncmp(line, Y4M_MAGIC, strlen(Y4M_MAGIC)) ||
	    (line[strlen(Y4M_MAGIC)] != ' ' && line[strlen(Y4M_MAGIC)] != 0)) {
		visid_err("y4m source %s: not a YUV4MPEG2 file (no '%s' header line)", path,
			  Y4M_MAGIC);
		return -EINVAL;
	}
	for (tag = strtok_r(line + strlen(Y4M_MAGIC), " ", &save); tag;
	     tag = strtok_r(NULL, " ", &save)) {
		ret = parse_tag(s, path, tag);
		if (ret)
			return ret;
	}
	if (!s->width || !s->height) {
		visid_err("y4m source %s: header lacks the %s", path,
			  !s->width ? "width (W)" : "height (H)");
		return -EINVAL;
	}
	return 0;
}

static int alloc_frames(struct y4m_source *s)
{
	int cw = (s->width + 1) / 2, ch = (s->height + 1) / 2;

	s->y_size = (size_t)s->width * s->height;
	s->c_size = (size_t)cw * ch;
	s->planar = malloc(s->y_size + 2 * s->c_size);
	s->nv12 = malloc(s->y_size + 2 * s->c_size);
	if (!s->planar || !s->nv12)
		return -ENOMEM;

	memset(&s->img, 0, sizeof(s->img));
	s->img.width = s->width;
	s->img.height = s->height;
	s->img.format = VISID_FMT_NV12;
	s->img.stride = s->width;
	s->img.data = s->nv12;
	s->img.uv_stride = 2 * cw;
	s->img.uv = s->nv12 + s->y_size;
	return 0;
}

static void planar_to_nv12(struct y4m_source *s)
{
	const uint8_t *u = s->planar + s->y_size, *v = u + s->c_size;
	uint8_t *uv = s->nv12 + s->y_size;

	memcpy(s->nv12, s->planar, s->y_size);
	for (size_t i = 0; i < s->c_size; i++) {
		uv[2 * i] = u[i];
		uv[2 * i + 1] = v[i];
	}
}

static int y4m_next(struct visid_source *src, struct visid_frame *frame, int timeout_ms)
{
	struct y4m_source *s = src->priv;
	size_t bytes = s->y_size + 2 * s->c_size;
	char line[Y4M_MAX_LINE];
	int at_eof, ret;

	/* The previous frame was valid until this call. */
	explicit_bzero(s->nv12, bytes);
	ret = read_line(s->file, line, sizeof(line), &at_eof);
	if (at_eof && src->opt.loop && s->frame_index > 0) {
		if (fseek(s->file, s->data_start, SEEK_SET))
			return -errno;
		s->frame_index = 0;
		ret = read_line(s->file, line, sizeof(line), &at_eof);
	}
	if (at_eof)
		return -ENODATA;
	if (ret || strncmp(line, "FRAME", 5) || (line[5] != ' ' && line[5] != 0)) {
		visid_err("y4m source %s: frame %d does not start with a FRAME line", src->name,
			  s->frame_index);
		return -EINVAL;
	}
	if (fread(s->planar, 1, bytes, s->file) != bytes) {
		visid_err("y4m source %s: frame %d is cut short (%zu bytes expected)", src->name,
			  s->frame_index, bytes);
		return -EINVAL;
	}
	s->frame_index++;
	planar_to_nv12(s);
	explicit_bzero(s->planar, bytes);
	memset(frame, 0, sizeof(*frame));
	frame->image = s->img;
	frame->dmabuf_fd[0] = frame->dmabuf_fd[1] = -1;
	frame->timestamp_ns = hal_now_ns();
	return 0;
}

static void y4m_close(struct visid_source *src)
{
	struct y4m_source *s = src->priv;
	size_t bytes = s->y_size + 2 * s->c_size;

	fclose(s->file);
	explicit_bzero(s->io, sizeof(s->io));
	explicit_bzero(s->planar, bytes);
	explicit_bzero(s->nv12, bytes);
	free(s->planar);
	free(s->nv12);
	free(s);
}

static const struct source_ops y4m_ops = {y4m_next, y4m_close};

int source_y4m_open(struct visid_source *src, const char *path)
{
	struct y4m_source *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return -ENOMEM;
	s->file = fopen(path, "rb");
	if (!s->file) {
		ret = -errno;
		visid_err("y4m source %s: %s", path, strerror(errno));
		goto out_free_source;
	}
	setvbuf(s->file, s->io, _IOFBF, sizeof(s->io));
	ret = parse_header(s, path);
	if (ret)
		goto out_close_file;
	s->data_start = ftell(s->file);
	ret = alloc_frames(s);
	if (ret)
		goto out_free_frames;
	visid_info("y4m source %s: %dx%d 4:2:0 at %d/%d fps", path, s->width, s->height, s->fps_num,
		   s->fps_den);
	src->priv = s;
	src->ops = &y4m_ops;
	return 0;

out_free_frames:
	free(s->planar);
	free(s->nv12);
out_close_file:
	fclose(s->file);
out_free_source:
	free(s);
	return ret;
}
