/*
 * Image files and pixel formats: real JPEG, PNG and PGM photos decode with
 * the right sizes and content; corrupt and truncated bytes give errors, not
 * crashes; every camera format converts to RGB24 honouring its stride.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

#include "harness.h"
#include "visid/image.h"
#include "visid/log.h"

static const char *need_faces(void)
{
	if (!visid_test_have_shared("data/faces/MANIFEST.tsv"))
		return "../shared/data/faces is absent (real photos needed)";
	return NULL;
}

static int load_shared(const char *relative, struct visid_image *img)
{
	char path[512];

	return visid_image_load(visid_test_shared(relative, path, sizeof(path)), img);
}

static uint8_t *read_shared(const char *relative, size_t *len)
{
	char path[512];
	uint8_t *bytes;
	FILE *f = fopen(visid_test_shared(relative, path, sizeof(path)), "rb");
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	bytes = malloc(n);
	if (bytes && fread(bytes, 1, n, f) != (size_t)n) {
		free(bytes);
		bytes = NULL;
	}
	fclose(f);
	*len = n;
	return bytes;
}

/* Mean and spread of the green channel: a decoded photo is neither flat nor empty. */
static void channel_stats(const struct visid_image *img, double *mean, double *range)
{
	int lo = 255, hi = 0;
	double sum = 0;

	for (int y = 0; y < img->height; y++)
		for (int x = 0; x < img->width; x++) {
			int g = img->data[(size_t)y * img->stride + 3 * x + 1];

			sum += g;
			lo = g < lo ? g : lo;
			hi = g > hi ? g : hi;
		}
	*mean = sum / ((double)img->width * img->height);
	*range = hi - lo;
}

static void check_photo(const char *relative, int width, int height, int grey)
{
	struct visid_image img;
	double mean, range;
	int ret = load_shared(relative, &img), grey_ok = 1;

	VT_CHECK(ret == 0, "%s: load returned %d", relative, ret);
	if (ret)
		return;
	VT_CHECK(img.width == width && img.height == height && img.format == VISID_FMT_RGB24,
		 "%s: decoded %dx%d %s, expected %dx%d RGB24", relative, img.width, img.height,
		 visid_pixel_format_name(img.format), width, height);
	channel_stats(&img, &mean, &range);
	VT_CHECK(mean > 20 && mean < 235 && range > 100,
		 "%s: implausible content, mean %.1f range %.0f", relative, mean, range);
	for (int y = 0; y < img.height && grey; y++)
		for (int x = 0; x < img.width; x++) {
			const uint8_t *p = img.data + (size_t)y * img.stride + 3 * x;

			if (p[0] != p[1] || p[1] != p[2])
				grey_ok = 0;
		}
	VT_CHECK(grey_ok, "%s: a grey image did not decode to equal R, G and B", relative);
	visid_image_free(&img);
}

static void test_real_files(void)
{
	check_photo("data/faces/identity/orl/s11/07.pgm", 92, 112, 1);
	check_photo("data/faces/pose/pointing04/person01/s1_front.jpg", 384, 288, 0);
	/* progressive JPEG */
	check_photo("data/faces/pose/aws_headpose_sample/img_1232_front.jpg", 640, 480, 0);
	/* PNG: RGBA, grey, RGB */
	check_photo("data/faces/identity/face_recognition/alex_lacamoire/alex-lacamoire.png", 424,
		    394, 0);
	check_photo("data/faces/identity/faceapi_bbt/raj/raj1.png", 150, 150, 1);
	check_photo("data/faces/identity/insightface/tom_hanks/Tom_Hanks_54745.png", 112, 112, 0);
}

static int errors_seen;

static void count_errors(enum visid_log_level level, const char *msg, void *data)
{
	if (level == VISID_LOG_ERROR) {
		errors_seen++;
		if (data && !strstr(msg, (const char *)data))
			errors_seen += 1000;	/* message does not name the object */
	}
}

/* Decoding must fail with -EINVAL and one logged error that names `what`. */
static void expect_reject(const uint8_t *bytes, size_t len, const char *what, const char *case_)
{
	struct visid_image img;
	int ret;

	errors_seen = 0;
	visid_log_set_handler(count_errors, (void *)what);
	ret = visid_image_decode(bytes, len, what, &img);
	visid_log_set_handler(NULL, NULL);
	VT_CHECK(ret == -EINVAL && img.data == NULL, "%s: decode returned %d (data %p)", case_,
		 ret, (void *)img.data);
	VT_CHECK(errors_seen >= 1 && errors_seen < 1000,
		 "%s: expected an error naming '%s', saw %d", case_, what, errors_seen);
}

static void test_corrupt_bytes(void)
{
	static const char *files[] = {
		"data/faces/pose/pointing04/person01/s1_front.jpg",
		"data/faces/pose/aws_headpose_sample/img_1232_front.jpg",
		"data/faces/identity/face_recognition/alex_lacamoire/alex-lacamoire.png",
		"data/faces/identity/orl/s11/07.pgm",
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		uint8_t *bytes = read_shared(files[i], &len);
		char what[64];

		VT_CHECK(bytes != NULL, "%s unreadable", files[i]);
		if (!bytes)
			continue;
		snprintf(what, sizeof(what), "case%zu.img", i);
		expect_reject(bytes, len / 2, what, "first half of a real file");
		expect_reject(bytes, 40, what, "header only");
		/* Garbage after an intact header. */
		memset(bytes + 24, 0x5a, len - 24);
		if (i != 3)	/* PGM has no checksums: random samples are valid samples */
			expect_reject(bytes, len, what, "garbage after the header");
		free(bytes);
	}
	expect_reject((const uint8_t *)"hello, not an image", 19, "text.bin", "plain text");
	expect_reject((const uint8_t *)"P5\n-3 4\n255\n1234567890123", 25, "neg.pgm",
		      "PGM with a negative width");
	expect_reject((const uint8_t *)"P5\n99999 99999\n255\n12345678", 28, "huge.pgm",
		      "PGM with a huge size");
	expect_reject((const uint8_t *)"P5\n2 2\n70000\n12345678", 22, "maxval.pgm",
		      "PGM with maxval above 16 bits");
	expect_reject(NULL, 0, "empty.img", "no bytes at all");
}

static void test_missing_file(void)
{
	struct visid_image img;
	int ret;

	errors_seen = 0;
	visid_log_set_handler(count_errors, (void *)"/nonexistent/visid/photo.jpg");
	ret = visid_image_load("/nonexistent/visid/photo.jpg", &img);
	visid_log_set_handler(NULL, NULL);
	VT_CHECK(ret == -ENOENT, "loading a missing file returned %d", ret);
	VT_CHECK(errors_seen == 1, "missing file: %d errors naming the path", errors_seen);
}

struct png_buffer {
	uint8_t *data;
	size_t len, cap;
};

static void png_buffer_write(png_structp png, png_bytep data, png_size_t len)
{
	struct png_buffer *buf = png_get_io_ptr(png);

	if (buf->len + len > buf->cap) {
		buf->cap = (buf->len + len) * 2;
		buf->data = realloc(buf->data, buf->cap);
	}
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
}

static void png_buffer_flush(png_structp png)
{
}

/* A 16-bit RGB PNG of img through libpng's classic writer (the simplified one assumes linear). */
static uint8_t *write_png16(const struct visid_image *img, png_alloc_size_t *len)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	struct png_buffer buf = { 0 };
	uint8_t *row = malloc(6 * (size_t)img->width);

	if (!info || !row || setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		free(row);
		free(buf.data);
		return NULL;
	}
	png_set_write_fn(png, &buf, png_buffer_write, png_buffer_flush);
	png_set_IHDR(png, info, img->width, img->height, 16, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < img->height; y++) {
		for (int x = 0; x < 3 * img->width; x++) {
			int v = img->data[(size_t)y * img->stride + x] * 257;

			row[2 * x] = v >> 8;
			row[2 * x + 1] = v & 0xff;
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	*len = buf.len;
	return buf.data;
}

/* PNG variants the corpus lacks (16-bit, palette) are written from a real photo. */
static void test_png_variants(void)
{
	struct visid_image src, back;
	png_image png;
	uint8_t *bytes, *enc;
	size_t enc_len;
	png_alloc_size_t len = 0;
	int worst = 0, ret;

	if (load_shared("data/faces/pose/pointing04/person01/s1_front.jpg", &src))
		return;

	/* our own encoder, then back: lossless */
	ret = visid_image_encode_png(&src, &enc, &enc_len);
	VT_CHECK(ret == 0 && enc_len > 1000, "encode_png returned %d (%zu bytes)", ret, enc_len);
	if (!ret && !visid_image_decode(enc, enc_len, "encoded.png", &back)) {
		int same = back.width == src.width && back.height == src.height;

		for (int y = 0; y < src.height && same; y++)
			same = !memcmp(src.data + (size_t)y * src.stride,
				       back.data + (size_t)y * back.stride, 3 * src.width);
		VT_CHECK(same, "PNG round trip changed pixels");
		visid_image_free(&back);
	}
	free(enc);

	/* 16-bit RGB without gamma chunks, as scanners write it: v * 257 must give v back */
	bytes = write_png16(&src, &len);
	ret = bytes != NULL;
	VT_CHECK(ret && bytes[24] == 16, "could not write a 16-bit PNG (depth %d)",
		 ret ? bytes[24] : -1);
	if (!ret) {
		visid_image_free(&src);
		return;
	}
	ret = visid_image_decode(bytes, len, "wide.png", &back);
	VT_CHECK(ret == 0, "16-bit PNG decode returned %d", ret);
	if (!ret) {
		for (int y = 0; y < src.height; y++)
			for (int x = 0; x < 3 * src.width; x++) {
				int d = abs(src.data[(size_t)y * src.stride + x] -
					    back.data[(size_t)y * back.stride + x]);

				worst = d > worst ? d : worst;
			}
		VT_CHECK(worst <= 1, "16-bit PNG differs from the photo by up to %d levels", worst);
		visid_image_free(&back);
	}
	free(bytes);

	/* palette: libpng quantises to 256 colours; the decode must match that map */
	memset(&png, 0, sizeof(png));
	png.version = PNG_IMAGE_VERSION;
	png.width = src.width;
	png.height = src.height;
	png.format = PNG_FORMAT_RGB_COLORMAP;
	png.colormap_entries = 256;
	{
		uint8_t *index = malloc(src.width * src.height), cmap[256 * 3];

		for (int i = 0; i < 256; i++)
			cmap[3 * i] = cmap[3 * i + 1] = cmap[3 * i + 2] = (uint8_t)i;
		for (int y = 0; y < src.height; y++)
			for (int x = 0; x < src.width; x++)
				index[y * src.width + x] =
				    src.data[(size_t)y * src.stride + 3 * x + 1];
		len = 0;
		png_image_write_to_memory(&png, NULL, &len, 0, index, 0, cmap);
		bytes = malloc(len);
		ret = png_image_write_to_memory(&png, bytes, &len, 0, index, 0, cmap);
		free(index);
	}
	VT_CHECK(ret && bytes[25] == 3, "could not write a palette PNG (colour type %d)",
		 ret ? bytes[25] : -1);
	ret = visid_image_decode(bytes, len, "palette.png", &back);
	VT_CHECK(ret == 0, "palette PNG decode returned %d", ret);
	if (!ret) {
		worst = 0;
		for (int y = 0; y < src.height; y++)
			for (int x = 0; x < src.width; x++) {
				const uint8_t *p = back.data + (size_t)y * back.stride + 3 * x;
				int d = abs(p[0] - src.data[(size_t)y * src.stride + 3 * x + 1]);

				worst = d > worst ? d : worst;
			}
		VT_CHECK(worst == 0, "palette PNG pixels differ by %d levels", worst);
		visid_image_free(&back);
	}
	free(bytes);
	visid_image_free(&src);
}

/* Writes img (RGB24) into a frame of `format` with a padded stride. */
static void pack_frame(const struct visid_image *rgb, enum visid_pixel_format format, int pad,
		       struct visid_image *frame, uint8_t **block)
{
	int w = rgb->width & ~1, h = rgb->height & ~1;
	int bpp = format == VISID_FMT_XRGB8888				 ? 4
		  : format == VISID_FMT_GREY || format == VISID_FMT_NV12 ? 1
		  : format == VISID_FMT_YUYV				 ? 2
									 : 3;
	int stride = w * bpp + pad;

	memset(frame, 0, sizeof(*frame));
	*block = calloc(1, (size_t)stride * h * 2 + 64);
	frame->width = w;
	frame->height = h;
	frame->format = format;
	frame->stride = stride;
	frame->data = *block;
	if (format == VISID_FMT_NV12) {
		frame->uv_stride = w + pad + 3;
		frame->uv = *block + (size_t)stride * h;
	}
	for (int y = 0; y < h; y++) {
		const uint8_t *s = rgb->data + (size_t)y * rgb->stride;
		uint8_t *d = frame->data + (size_t)y * stride;

		for (int x = 0; x < w; x++) {
			const uint8_t *p = s + 3 * x;
			/* BT.601 limited range, the inverse of what the converter implements */
			int Y = (int)(16.5 + 0.257 * p[0] + 0.504 * p[1] + 0.098 * p[2]);
			int U = (int)(128.5 - 0.148 * p[0] - 0.291 * p[1] + 0.439 * p[2]);
			int V = (int)(128.5 + 0.439 * p[0] - 0.368 * p[1] - 0.071 * p[2]);

			switch (format) {
			case VISID_FMT_BGR24:
				d[3 * x] = p[2], d[3 * x + 1] = p[1], d[3 * x + 2] = p[0];
				break;
			case VISID_FMT_XRGB8888:
				d[4 * x] = p[2], d[4 * x + 1] = p[1], d[4 * x + 2] = p[0];
				d[4 * x + 3] = 0xee;
				break;
			case VISID_FMT_GREY:
				d[x] = p[1];
				break;
			case VISID_FMT_YUYV:
				d[2 * x] = Y;
				d[2 * x + 1] = (x & 1) ? V : U;
				break;
			case VISID_FMT_NV12:
				d[x] = Y;
				if (!(y & 1)) {
					frame->uv[(y / 2) * frame->uv_stride + (x & ~1)] = U;
					frame->uv[(y / 2) * frame->uv_stride + (x | 1)] = V;
				}
				break;
			default:
				memcpy(d + 3 * x, p, 3);
			}
		}
	}
}

static void test_conversions(void)
{
	static const enum visid_pixel_format formats[] = {
		VISID_FMT_RGB24, VISID_FMT_BGR24, VISID_FMT_XRGB8888,
		VISID_FMT_GREY,	 VISID_FMT_YUYV,  VISID_FMT_NV12,
	};
	struct visid_image src;

	if (load_shared("data/faces/pose/pointing04/person01/s1_front.jpg", &src))
		return;
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		struct visid_image frame, rgb;
		uint8_t *block;
		int exact = formats[f] <= VISID_FMT_XRGB8888 || formats[f] == VISID_FMT_GREY;
		double err = 0;
		int worst = 0, ret;

		/* odd padding: rows start at unaligned addresses */
		pack_frame(&src, formats[f], 13, &frame, &block);
		ret = visid_image_to_rgb24(&frame, &rgb);
		VT_CHECK(ret == 0, "%s to RGB24 returned %d", visid_pixel_format_name(formats[f]),
			 ret);
		if (ret) {
			free(block);
			continue;
		}
		for (int y = 0; y < frame.height; y++)
			for (int x = 0; x < frame.width; x++)
				for (int c = 0; c < 3; c++) {
					int want = src.data[(size_t)y * src.stride + 3 * x +
							    (formats[f] == VISID_FMT_GREY ? 1 : c)];
					int d = abs(rgb.data[(size_t)y * rgb.stride + 3 * x + c] -
						    want);

					worst = d > worst ? d : worst;
					err += d;
				}
		err /= 3.0 * frame.width * frame.height;
		if (exact)
			VT_CHECK(worst == 0, "%s: converted pixels differ by up to %d",
				 visid_pixel_format_name(formats[f]), worst);
		else	/* chroma is subsampled: edges differ, the average must stay close */
			VT_CHECK(err < 4.0, "%s: mean error %.2f levels (worst %d)",
				 visid_pixel_format_name(formats[f]), err, worst);
		visid_image_free(&rgb);
		free(block);
	}
	visid_image_free(&src);
}

/* Reference colours of BT.601 limited range: black, white, saturated red. */
static void test_yuv_levels(void)
{
	static const struct {
		uint8_t y, u, v, r, g, b;
	} cases[] = {
		{ 16, 128, 128, 0, 0, 0 },
		{ 235, 128, 128, 255, 255, 255 },
		{ 81, 90, 240, 255, 0, 0 },
		{ 145, 54, 34, 0, 255, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t yuyv[4] = { cases[i].y, cases[i].u, cases[i].y, cases[i].v };
		struct visid_image frame = { .width = 2, .height = 1, .format = VISID_FMT_YUYV,
					     .stride = 4, .data = yuyv };
		struct visid_image rgb;

		if (visid_image_to_rgb24(&frame, &rgb))
			continue;
		VT_CHECK(abs(rgb.data[0] - cases[i].r) <= 2 && abs(rgb.data[1] - cases[i].g) <= 2 &&
			     abs(rgb.data[2] - cases[i].b) <= 2,
			 "YUV %d,%d,%d gave RGB %d,%d,%d, expected %d,%d,%d", cases[i].y,
			 cases[i].u, cases[i].v, rgb.data[0], rgb.data[1], rgb.data[2], cases[i].r,
			 cases[i].g, cases[i].b);
		visid_image_free(&rgb);
	}
}

static void test_invalid_frames(void)
{
	uint8_t pixels[64] = { 0 };
	struct visid_image bad = { .width = 8, .height = 2, .format = VISID_FMT_RGB24,
				   .stride = 16, .data = pixels };
	struct visid_image out;
	int ret;

	visid_log_set_handler(count_errors, NULL);
	ret = visid_image_to_rgb24(&bad, &out);
	VT_CHECK(ret == -EINVAL, "a stride shorter than a row was accepted (%d)", ret);
	bad.format = VISID_FMT_NV12;
	bad.stride = 8;
	ret = visid_image_to_rgb24(&bad, &out);
	VT_CHECK(ret == -EINVAL, "NV12 without a chroma plane was accepted (%d)", ret);
	ret = visid_image_alloc(&out, 0, 5, VISID_FMT_RGB24);
	VT_CHECK(ret == -EINVAL, "a zero-width allocation was accepted (%d)", ret);
	visid_log_set_handler(NULL, NULL);
	ret = visid_image_alloc(&out, 5, 3, VISID_FMT_RGB24);
	VT_CHECK(ret == 0 && out.stride == 16 && out.owned, "5x3 RGB24: ret %d stride %d", ret,
		 out.stride);
	visid_image_free(&out);
	VT_CHECK(out.data == NULL, "free left a data pointer");
}

VISID_SUITE(image, "image", NULL, NULL, need_faces, VISID_TEST(test_real_files),
	    VISID_TEST(test_corrupt_bytes), VISID_TEST(test_missing_file),
	    VISID_TEST(test_png_variants), VISID_TEST(test_conversions),
	    VISID_TEST(test_yuv_levels), VISID_TEST(test_invalid_frames))
