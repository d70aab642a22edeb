/*
 * Images in memory and image files: JPEG (libjpeg-turbo), PNG (libpng's
 * simplified API), binary PGM, and the conversion of camera formats to RGB24.
 * Decoders never trust a header: dimensions are bounded before allocating, and
 * a corrupt or truncated file is an error that names the file, never an exit.
 */
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "visid/image.h"
#include "visid/log.h"
#include "preprocess.h"

/* Larger than any camera or photo we handle; a header claiming more is corrupt. */
#define MAX_SIDE 16384
#define MAX_PIXELS (64L * 1024 * 1024)
#define MAX_FILE_BYTES (256L * 1024 * 1024)

static const char *const format_names[] = {
    [VISID_FMT_RGB24] = "RGB24", [VISID_FMT_BGR24] = "BGR24", [VISID_FMT_XRGB8888] = "XRGB8888",
    [VISID_FMT_YUYV] = "YUYV",	 [VISID_FMT_NV12] = "NV12",   [VISID_FMT_GREY] = "GREY",
};

const char *visid_pixel_format_name(enum visid_pixel_format format)
{
	if ((unsigned)format >= sizeof(format_names) / sizeof(format_names[0]))
		return "unknown";
	return format_names[format];
}

/* Bytes of plane 0 per row of `width` pixels, or 0 for an unknown format. */
static size_t row_bytes(enum visid_pixel_format format, int width)
{
	switch (format) {
	case VISID_FMT_RGB24:
	case VISID_FMT_BGR24:
		return (size_t)width * 3;
	case VISID_FMT_XRGB8888:
		return (size_t)width * 4;
	case VISID_FMT_YUYV:
		return (size_t)((width + 1) & ~1) * 2;
	case VISID_FMT_NV12:
	case VISID_FMT_GREY:
		return (size_t)width;
	}
	return 0;
}

int visid_image_alloc(struct visid_image *img, int width, int height,
		      enum visid_pixel_format format)
{
	size_t row = row_bytes(format, width), stride, bytes, uv_rows = 0, uv_stride = 0;
	uint8_t *block;

	memset(img, 0, sizeof(*img));
	if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE || !row) {
		visid_err("image: cannot allocate %dx%d %s", width, height,
			  visid_pixel_format_name(format));
		return -EINVAL;
	}
	stride = (row + 3) & ~(size_t)3;
	bytes = stride * height;
	if (format == VISID_FMT_NV12) {
		uv_stride = ((size_t)((width + 1) & ~1) + 3) & ~(size_t)3;
		uv_rows = (height + 1) / 2;
		bytes += uv_stride * uv_rows;
	}
	block = calloc(1, bytes);
	if (!block) {
		visid_err("image: out of memory for %dx%d %s", width, height,
			  visid_pixel_format_name(format));
		return -ENOMEM;
	}
	img->width = width;
	img->height = height;
	img->format = format;
	img->stride = (int)stride;
	img->data = block;
	img->owned = block;
	if (format == VISID_FMT_NV12) {
		img->uv_stride = (int)uv_stride;
		img->uv = block + stride * height;
	}
	return 0;
}

void visid_image_free(struct visid_image *img)
{
	if (!img)
		return;
	free(img->owned);
	memset(img, 0, sizeof(*img));
}

void visid_image_wipe(struct visid_image *img)
{
	if (!img || !img->data || img->width <= 0 || img->height <= 0)
		return;
	explicit_bzero(img->data, (size_t)img->stride * (img->height - 1) +
				      row_bytes(img->format, img->width));
	if (img->uv)
		explicit_bzero(img->uv, (size_t)img->uv_stride * ((img->height + 1) / 2 - 1) +
					    ((img->width + 1) & ~1));
}

static int check_size(const char *what, long width, long height)
{
	if (width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE ||
	    width * height > MAX_PIXELS) {
		visid_err("%s: unsupported image size %ldx%ld", what, width, height);
		return -EINVAL;
	}
	return 0;
}

/* ---- JPEG ---- */

struct jpeg_error_state {
	struct jpeg_error_mgr mgr;
	jmp_buf escape;
	const char *what;
	int truncated;
};

static void jpeg_fail(j_common_ptr cinfo)
{
	struct jpeg_error_state *st = (struct jpeg_error_state *)cinfo->err;
	char msg[JMSG_LENGTH_MAX];

	st->mgr.format_message(cinfo, msg);
	visid_err("%s: JPEG decoding failed: %s", st->what, msg);
	longjmp(st->escape, 1);
}

/* Warnings go to the log; a premature end of data is remembered as an error. */
static void jpeg_message(j_common_ptr cinfo, int level)
{
	struct jpeg_error_state *st = (struct jpeg_error_state *)cinfo->err;
	char msg[JMSG_LENGTH_MAX];

	if (level >= 0)
		return;
	if (st->mgr.msg_code == JWRN_JPEG_EOF)
		st->truncated = 1;
	st->mgr.num_warnings++;
	st->mgr.format_message(cinfo, msg);
	visid_dbg("%s: JPEG warning: %s", st->what, msg);
}

static int decode_jpeg(const uint8_t *bytes, size_t len, const char *what,
		       struct visid_image *out)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_error_state err;
	/* volatile: they change between setjmp and a possible longjmp */
	struct visid_image *volatile img = NULL;
	volatile int ret = -EINVAL;

	memset(&err, 0, sizeof(err));
	cinfo.err = jpeg_std_error(&err.mgr);
	err.mgr.error_exit = jpeg_fail;
	err.mgr.emit_message = jpeg_message;
	err.what = what;
	if (setjmp(err.escape))
		goto out_destroy;

	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, bytes, len);
	jpeg_read_header(&cinfo, TRUE);
	if (check_size(what, cinfo.image_width, cinfo.image_height))
		goto out_destroy;
	if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
		visid_err("%s: CMYK JPEG is not supported", what);
		goto out_destroy;
	}
	cinfo.out_color_space = JCS_RGB;
	jpeg_start_decompress(&cinfo);
	ret = visid_image_alloc(out, cinfo.output_width, cinfo.output_height, VISID_FMT_RGB24);
	if (ret)
		goto out_destroy;
	img = out;
	ret = -EINVAL;
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = out->data + (size_t)cinfo.output_scanline * out->stride;

		jpeg_read_scanlines(&cinfo, &row, 1);
		if (err.truncated)
			break;
	}
	if (err.truncated) {
		visid_err("%s: JPEG data is truncated (%zu bytes)", what, len);
		goto out_destroy;
	}
	jpeg_finish_decompress(&cinfo);
	ret = 0;

out_destroy:
	jpeg_destroy_decompress(&cinfo);
	if (ret && img)
		visid_image_free(img);
	return ret;
}

/* ---- PNG ---- */

static int decode_png(const uint8_t *bytes, size_t len, const char *what,
		      struct visid_image *out)
{
	png_image png;
	int ret;

	memset(&png, 0, sizeof(png));
	png.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&png, bytes, len)) {
		visid_err("%s: PNG header unreadable: %s", what, png.message);
		return -EINVAL;
	}
	ret = check_size(what, png.width, png.height);
	if (ret)
		goto out_free_png;
	/*
	 * Grey, palette, 16-bit and alpha all come out as 8-bit sRGB RGB. A
	 * 16-bit file without gamma chunks holds sRGB values like an 8-bit one
	 * (scanners, editors), not the linear light libpng would assume.
	 */
	png.format = PNG_FORMAT_RGB;
	png.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
	ret = visid_image_alloc(out, png.width, png.height, VISID_FMT_RGB24);
	if (ret)
		goto out_free_png;
	if (!png_image_finish_read(&png, NULL, out->data, out->stride, NULL)) {
		visid_err("%s: PNG decoding failed: %s", what, png.message);
		visid_image_free(out);
		ret = -EINVAL;
		goto out_free_png;
	}
	if (png.warning_or_error)
		visid_dbg("%s: PNG warning: %s", what, png.message);
	return 0;

out_free_png:
	png_image_free(&png);
	return ret;
}

/* ---- PGM (binary P5) ---- */

/* Reads one header number, skipping whitespace and # comments. */
static int pgm_number(const uint8_t *p, size_t len, size_t *pos, long *value)
{
	long v = 0;
	int digits = 0;

	for (;;) {
		while (*pos < len && strchr(" \t\r\n", p[*pos]))
			(*pos)++;
		if (*pos < len && p[*pos] == '#') {
			while (*pos < len && p[*pos] != '\n')
				(*pos)++;
			continue;
		}
		break;
	}
	while (*pos < len && p[*pos] >= '0' && p[*pos] <= '9' && digits < 9) {
		v = v * 10 + (p[*pos] - '0');
		(*pos)++;
		digits++;
	}
	if (!digits || (*pos < len && p[*pos] >= '0' && p[*pos] <= '9'))
		return -EINVAL;
	*value = v;
	return 0;
}

static int decode_pgm(const uint8_t *p, size_t len, const char *what, struct visid_image *out)
{
	long width, height, maxval;
	size_t pos = 2, sample, need;
	int ret;

	if (pgm_number(p, len, &pos, &width) || pgm_number(p, len, &pos, &height) ||
	    pgm_number(p, len, &pos, &maxval) || pos >= len || !strchr(" \t\r\n", p[pos])) {
		visid_err("%s: malformed PGM header", what);
		return -EINVAL;
	}
	pos++;
	if (maxval < 1 || maxval > 65535) {
		visid_err("%s: PGM maxval %ld out of range", what, maxval);
		return -EINVAL;
	}
	ret = check_size(what, width, height);
	if (ret)
		return ret;
	sample = maxval > 255 ? 2 : 1;
	need = (size_t)width * height * sample;
	if (len - pos < need) {
		visid_err("%s: PGM data is truncated (%zu of %zu bytes)", what, len - pos, need);
		return -EINVAL;
	}
	ret = visid_image_alloc(out, width, height, VISID_FMT_RGB24);
	if (ret)
		return ret;
	for (long y = 0; y < height; y++) {
		const uint8_t *src = p + pos + (size_t)y * width * sample;
		uint8_t *dst = out->data + (size_t)y * out->stride;

		for (long x = 0; x < width; x++) {
			long v = sample == 2 ? (src[2 * x] << 8 | src[2 * x + 1]) : src[x];

			if (v > maxval)
				v = maxval;
			v = (v * 255 + maxval / 2) / maxval;
			dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = (uint8_t)v;
		}
	}
	return 0;
}

int visid_image_decode(const uint8_t *bytes, size_t len, const char *what,
		       struct visid_image *out)
{
	memset(out, 0, sizeof(*out));
	if (!what)
		what = "image";
	if (!bytes || len < 8) {
		visid_err("%s: too short to be an image (%zu bytes)", what, len);
		return -EINVAL;
	}
	if (bytes[0] == 0xff && bytes[1] == 0xd8)
		return decode_jpeg(bytes, len, what, out);
	if (!png_sig_cmp(bytes, 0, 8))
		return decode_png(bytes, len, what, out);
	if (bytes[0] == 'P' && bytes[1] == '5')
		return decode_pgm(bytes, len, what, out);
	visid_err("%s: not a JPEG, PNG or binary PGM file", what);
	return -EINVAL;
}

int visid_image_load(const char *path, struct visid_image *out)
{
	struct stat st;
	uint8_t *bytes;
	FILE *f;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	/* O_NONBLOCK: a FIFO must not block the open before it is refused below. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	f = fd >= 0 ? fdopen(fd, "rb") : NULL;
	if (!f) {
		ret = -errno;
		visid_err("%s: cannot open: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES) {
		visid_err("%s: not a regular file of a sane size", path);
		ret = -EINVAL;
		goto out_close;
	}
	bytes = malloc(st.st_size ? st.st_size : 1);
	if (!bytes) {
		visid_err("%s: out of memory for %lld bytes", path, (long long)st.st_size);
		ret = -ENOMEM;
		goto out_close;
	}
	if (fread(bytes, 1, st.st_size, f) != (size_t)st.st_size) {
		visid_err("%s: read failed", path);
		ret = -EIO;
		goto out_free_bytes;
	}
	ret = visid_image_decode(bytes, st.st_size, path, out);

out_free_bytes:
	free(bytes);
out_close:
	fclose(f);
	return ret;
}

/* ---- conversion ---- */

static inline uint8_t clamp_u8(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* BT.601 limited range, 16.16 fixed point. */
static inline void yuv_to_rgb(int y, int u, int v, uint8_t *rgb)
{
	int c = (y - 16) * 76284, d = u - 128, e = v - 128;

	rgb[0] = clamp_u8((c + 104595 * e + 32768) >> 16);
	rgb[1] = clamp_u8((c - 25624 * d - 53281 * e + 32768) >> 16);
	rgb[2] = clamp_u8((c + 132251 * d + 32768) >> 16);
}

int visid_image_valid(const struct visid_image *img)
{
	size_t row;

	if (!img || !img->data || img->width <= 0 || img->height <= 0 ||
	    img->width > MAX_SIDE || img->height > MAX_SIDE)
		return 0;
	row = row_bytes(img->format, img->width);
	if (!row || img->stride < 0 || (size_t)img->stride < row)
		return 0;
	if (img->format == VISID_FMT_NV12 &&
	    (!img->uv || img->uv_stride < ((img->width + 1) & ~1)))
		return 0;
	return 1;
}

void visid_image_row_rgb(const struct visid_image *img, int y, int x0, int x1, uint8_t *rgb)
{
	const uint8_t *row = img->data + (size_t)y * img->stride;
	const uint8_t *uv;

	switch (img->format) {
	case VISID_FMT_RGB24:
		memcpy(rgb, row + 3 * x0, 3 * (size_t)(x1 - x0));
		break;
	case VISID_FMT_BGR24:
		for (int x = x0; x < x1; x++, rgb += 3) {
			rgb[0] = row[3 * x + 2];
			rgb[1] = row[3 * x + 1];
			rgb[2] = row[3 * x];
		}
		break;
	case VISID_FMT_XRGB8888:
		for (int x = x0; x < x1; x++, rgb += 3) {
			rgb[0] = row[4 * x + 2];
			rgb[1] = row[4 * x + 1];
			rgb[2] = row[4 * x];
		}
		break;
	case VISID_FMT_YUYV:
		for (int x = x0; x < x1; x++, rgb += 3) {
			const uint8_t *pair = row + 4 * (x >> 1);

			yuv_to_rgb(pair[(x & 1) * 2], pair[1], pair[3], rgb);
		}
		break;
	case VISID_FMT_NV12:
		uv = img->uv + (size_t)(y >> 1) * img->uv_stride;
		for (int x = x0; x < x1; x++, rgb += 3)
			yuv_to_rgb(row[x], uv[x & ~1], uv[(x & ~1) + 1], rgb);
		break;
	case VISID_FMT_GREY:
		for (int x = x0; x < x1; x++, rgb += 3)
			rgb[0] = rgb[1] = rgb[2] = row[x];
		break;
	}
}

int visid_image_to_rgb24(const struct visid_image *src, struct visid_image *dst)
{
	int ret;

	memset(dst, 0, sizeof(*dst));
	if (!visid_image_valid(src)) {
		visid_err("image: cannot convert an invalid %s image (%dx%d, stride %d)",
			  src ? visid_pixel_format_name(src->format) : "NULL",
			  src ? src->width : 0, src ? src->height : 0, src ? src->stride : 0);
		return -EINVAL;
	}
	ret = visid_image_alloc(dst, src->width, src->height, VISID_FMT_RGB24);
	if (ret)
		return ret;
	for (int y = 0; y < src->height; y++)
		visid_image_row_rgb(src, y, 0, src->width, dst->data + (size_t)y * dst->stride);
	return 0;
}

/* ---- PNG writing ---- */

/* PNG wants tightly described rows: RGB24 and GREY go as they are, the rest via RGB24. */
static int png_source(const struct visid_image *img, struct visid_image *tmp,
		      const struct visid_image **use, png_image *png)
{
	int ret;

	memset(tmp, 0, sizeof(*tmp));
	memset(png, 0, sizeof(*png));
	png->version = PNG_IMAGE_VERSION;
	png->width = img->width;
	png->height = img->height;
	if (img->format == VISID_FMT_GREY) {
		png->format = PNG_FORMAT_GRAY;
		*use = img;
		return 0;
	}
	png->format = PNG_FORMAT_RGB;
	if (img->format == VISID_FMT_RGB24) {
		*use = img;
		return 0;
	}
	ret = visid_image_to_rgb24(img, tmp);
	*use = tmp;
	return ret;
}

int visid_image_save_png(const struct visid_image *img, const char *path)
{
	const struct visid_image *use;
	struct visid_image tmp;
	png_image png;
	FILE *f;
	int fd, ret;

	if (!visid_image_valid(img)) {
		visid_err("%s: cannot save an invalid image", path);
		return -EINVAL;
	}
	ret = png_source(img, &tmp, &use, &png);
	if (ret)
		return ret;
	/* Pictures may show faces: readable by the owner only. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (!f) {
		ret = -errno;
		visid_err("%s: cannot write PNG: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	} else {
		if (!png_image_write_to_stdio(&png, f, 0, use->data, use->stride, NULL)) {
			visid_err("%s: cannot write PNG: %s", path, png.message);
			ret = -EIO;
		}
		if (fclose(f) && !ret) {
			ret = -errno;
			visid_err("%s: cannot write PNG: %s", path, strerror(errno));
		}
	}
	/* The RGB copy of a picture that may show a face. */
	visid_image_wipe(&tmp);
	visid_image_free(&tmp);
	return ret;
}

int visid_image_encode_png(const struct visid_image *img, uint8_t **bytes, size_t *len)
{
	const struct visid_image *use;
	struct visid_image tmp;
	png_alloc_size_t size = 0;
	png_image png;
	int ret;

	*bytes = NULL;
	*len = 0;
	if (!visid_image_valid(img)) {
		visid_err("image: cannot encode an invalid image as PNG");
		return -EINVAL;
	}
	ret = png_source(img, &tmp, &use, &png);
	if (ret)
		return ret;
	/* The first call measures, the second writes. */
	if (!png_image_write_to_memory(&png, NULL, &size, 0, use->data, use->stride, NULL)) {
		visid_err("image: PNG encoding failed: %s", png.message);
		ret = -EINVAL;
		goto out_free_tmp;
	}
	*bytes = malloc(size);
	if (!*bytes) {
		ret = -ENOMEM;
		goto out_free_tmp;
	}
	if (!png_image_write_to_memory(&png, *bytes, &size, 0, use->data, use->stride, NULL)) {
		visid_err("image: PNG encoding failed: %s", png.message);
		explicit_bzero(*bytes, size);
		free(*bytes);
		*bytes = NULL;
		ret = -EINVAL;
		goto out_free_tmp;
	}
	*len = size;

out_free_tmp:
	visid_image_wipe(&tmp);
	visid_image_free(&tmp);
	return ret;
}
