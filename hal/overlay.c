/*
 * Composing what the screen shows: the camera picture scaled to fit, the
 * face boxes on it, and in the upper right the recognised member's avatar
 * and greeting. Text goes through FreeType so names in any script that the
 * font covers come out right.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ft2build.h>
#include FT_FREETYPE_H

#include "visid/hal.h"
#include "visid/log.h"

#define DEFAULT_FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

struct visid_overlay {
	FT_Library library;
	FT_Face face;
	int px;			/* size the face is set to, to skip redundant resizes */
	struct visid_image rgb; /* scratch for converting a frame before scaling */
};

/* ---- pixels ----------------------------------------------------------- */

static int bytes_per_pixel(enum visid_pixel_format format)
{
	switch (format) {
	case VISID_FMT_XRGB8888:
		return 4;
	case VISID_FMT_RGB24:
	case VISID_FMT_BGR24:
		return 3;
	default:
		return 0;
	}
}

static void put_pixel(struct visid_image *c, int x, int y, uint32_t rgb)
{
	uint8_t *p = c->data + (size_t)y * c->stride + (size_t)x * bytes_per_pixel(c->format);
	uint8_t r = rgb >> 16, g = rgb >> 8, b = rgb;

	switch (c->format) {
	case VISID_FMT_XRGB8888:
		p[0] = b, p[1] = g, p[2] = r, p[3] = 0xff;
		break;
	case VISID_FMT_RGB24:
		p[0] = r, p[1] = g, p[2] = b;
		break;
	case VISID_FMT_BGR24:
		p[0] = b, p[1] = g, p[2] = r;
		break;
	default:
		break;
	}
}

/* Mixes rgb over the pixel with coverage alpha (0..255). */
static void blend_pixel(struct visid_image *c, int x, int y, uint32_t rgb, int alpha)
{
	uint8_t *p = c->data + (size_t)y * c->stride + (size_t)x * bytes_per_pixel(c->format);
	int src[3] = {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff};
	int order[3];

	if (c->format == VISID_FMT_RGB24)
		order[0] = 0, order[1] = 1, order[2] = 2;
	else
		order[0] = 2, order[1] = 1, order[2] = 0;
	for (int i = 0; i < 3; i++)
		p[order[i]] = (src[i] * alpha + p[order[i]] * (255 - alpha) + 127) / 255;
}

static int canvas_ok(const struct visid_image *c)
{
	if (c && c->data && bytes_per_pixel(c->format))
		return 1;
	visid_err("overlay: canvas must be XRGB8888, RGB24 or BGR24, not %s",
		  c ? visid_pixel_format_name(c->format) : "missing");
	return 0;
}

/* Clips a rectangle to the canvas; 0 when nothing is left. */
static int clip(const struct visid_image *c, int *x, int *y, int *w, int *h)
{
	int x1 = *x + *w, y1 = *y + *h;

	if (*x < 0)
		*x = 0;
	if (*y < 0)
		*y = 0;
	if (x1 > c->width)
		x1 = c->width;
	if (y1 > c->height)
		y1 = c->height;
	*w = x1 - *x;
	*h = y1 - *y;
	return *w > 0 && *h > 0;
}

void visid_draw_fill(struct visid_image *canvas, int x, int y, int w, int h, uint32_t rgb)
{
	if (!canvas_ok(canvas) || !clip(canvas, &x, &y, &w, &h))
		return;
	for (int j = y; j < y + h; j++)
		for (int i = x; i < x + w; i++)
			put_pixel(canvas, i, j, rgb);
}

static void shade(struct visid_image *canvas, int x, int y, int w, int h, uint32_t rgb, int alpha)
{
	if (!clip(canvas, &x, &y, &w, &h))
		return;
	for (int j = y; j < y + h; j++)
		for (int i = x; i < x + w; i++)
			blend_pixel(canvas, i, j, rgb, alpha);
}

void visid_draw_rect(struct visid_image *canvas, int x, int y, int w, int h, int thickness,
		     uint32_t rgb)
{
	int t = thickness > 0 ? thickness : 1;

	if (w <= 0 || h <= 0)
		return;
	if (t > w / 2 || t > h / 2) {
		visid_draw_fill(canvas, x, y, w, h, rgb);
		return;
	}
	visid_draw_fill(canvas, x, y, w, t, rgb);
	visid_draw_fill(canvas, x, y + h - t, w, t, rgb);
	visid_draw_fill(canvas, x, y + t, t, h - 2 * t, rgb);
	visid_draw_fill(canvas, x + w - t, y + t, t, h - 2 * t, rgb);
}

/* ---- scaling ---------------------------------------------------------- */

/*
 * Source coordinate of each destination column or row in 16.16 fixed point,
 * sampling at pixel centres so a 2x downscale averages pixel pairs.
 */
static void sample_positions(int *pos, int dst_len, int src_len)
{
	for (int i = 0; i < dst_len; i++) {
		long long p = ((2LL * i + 1) * src_len * 65536) / (2LL * dst_len) - 32768;

		if (p < 0)
			p = 0;
		if (p > (long long)(src_len - 1) * 65536)
			p = (long long)(src_len - 1) * 65536;
		pos[i] = p;
	}
}

static void scale_rgb24(struct visid_image *canvas, const struct visid_image *src, int x, int y,
			int w, int h, int cx, int cy, int cw, int ch)
{
	int *xs = malloc(sizeof(int) * w), *ys = malloc(sizeof(int) * h);

	if (!xs || !ys)
		goto out_free;
	sample_positions(xs, w, src->width);
	sample_positions(ys, h, src->height);
	for (int j = cy; j < cy + ch; j++) {
		int sy = ys[j - y], y0 = sy >> 16, fy = sy & 0xffff;
		int y1 = y0 + 1 < src->height ? y0 + 1 : y0;
		const uint8_t *r0 = src->data + (size_t)y0 * src->stride;
		const uint8_t *r1 = src->data + (size_t)y1 * src->stride;

		for (int i = cx; i < cx + cw; i++) {
			int sx = xs[i - x], x0 = sx >> 16, fx = sx & 0xffff;
			int x1 = x0 + 1 < src->width ? x0 + 1 : x0;
			uint32_t rgb = 0;

			for (int k = 0; k < 3; k++) {
				long long top =
				    r0[3 * x0 + k] * (65536LL - fx) + r0[3 * x1 + k] * fx;
				long long bot =
				    r1[3 * x0 + k] * (65536LL - fx) + r1[3 * x1 + k] * fx;
				long long v = (top * (65536 - fy) + bot * fy + (1LL << 31)) >> 32;

				rgb = rgb << 8 | (uint32_t)v;
			}
			put_pixel(canvas, i, j, rgb);
		}
	}
out_free:
	free(xs);
	free(ys);
}

static void release_scratch(struct visid_image *scratch)
{
	visid_image_wipe(scratch);
	visid_image_free(scratch);
}

static int draw_scaled(struct visid_image *canvas, const struct visid_image *src, int x, int y,
		       int w, int h, struct visid_image *scratch)
{
	const struct visid_image *rgb = src;
	int cx = x, cy = y, cw = w, ch = h, ret;

	if (!canvas_ok(canvas))
		return -EINVAL;
	if (!src || !src->data || src->width <= 0 || src->height <= 0) {
		visid_err("overlay: empty image to draw");
		return -EINVAL;
	}
	if (!clip(canvas, &cx, &cy, &cw, &ch))
		return 0;
	if (src->format != VISID_FMT_RGB24) {
		release_scratch(scratch);
		ret = visid_image_to_rgb24(src, scratch);
		if (ret) {
			visid_err("overlay: cannot convert a %dx%d %s image to RGB: %s", src->width,
				  src->height, visid_pixel_format_name(src->format),
				  strerror(-ret));
			return ret;
		}
		rgb = scratch;
	}
	scale_rgb24(canvas, rgb, x, y, w, h, cx, cy, cw, ch);
	/* A converted camera frame is not kept past the picture it went into. */
	release_scratch(scratch);
	return 0;
}

int visid_draw_image(struct visid_image *canvas, const struct visid_image *src, int x, int y, int w,
		     int h)
{
	struct visid_image scratch = {0};
	int ret = draw_scaled(canvas, src, x, y, w, h, &scratch);

	release_scratch(&scratch);
	return ret;
}

/* ---- text ------------------------------------------------------------- */

/* Next code point of a UTF-8 string; malformed bytes read as U+FFFD. */
static uint32_t next_codepoint(const char **s)
{
	const uint8_t *p = (const uint8_t *)*s;
	uint32_t cp;
	int extra;

	if (p[0] < 0x80) {
		*s += 1;
		return p[0];
	}
	if ((p[0] & 0xe0) == 0xc0)
		cp = p[0] & 0x1f, extra = 1;
	else if ((p[0] & 0xf0) == 0xe0)
		cp = p[0] & 0x0f, extra = 2;
	else if ((p[0] & 0xf8) == 0xf0)
		cp = p[0] & 0x07, extra = 3;
	else
		goto malformed;
	for (int i = 1; i <= extra; i++) {
		if ((p[i] & 0xc0) != 0x80)
			goto malformed;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	*s += extra + 1;
	return cp;

malformed:
	*s += 1;
	return 0xfffd;
}

static int set_size(struct visid_overlay *ov, int px)
{
	FT_Error err;

	if (px <= 0 || px > 1024) {
		visid_err("overlay: text size %d px is out of range", px);
		return -EINVAL;
	}
	if (ov->px == px)
		return 0;
	err = FT_Set_Pixel_Sizes(ov->face, 0, px);
	if (err) {
		visid_err("overlay: font cannot be set to %d px (FreeType error %d)", px, err);
		return -EINVAL;
	}
	ov->px = px;
	return 0;
}

/*
 * Lays out a line glyph by glyph; draws it when canvas is not NULL.
 * Returns the advance width.
 */
static int layout_text(struct visid_overlay *ov, struct visid_image *canvas, int x, int y,
		       const char *utf8, uint32_t rgb)
{
	FT_UInt previous = 0;
	long pen = 0; /* 26.6 fixed point */

	while (*utf8) {
		FT_UInt glyph = FT_Get_Char_Index(ov->face, next_codepoint(&utf8));
		FT_GlyphSlot slot = ov->face->glyph;

		if (previous && glyph && FT_HAS_KERNING(ov->face)) {
			FT_Vector kern;

			if (!FT_Get_Kerning(ov->face, previous, glyph, FT_KERNING_DEFAULT, &kern))
				pen += kern.x;
		}
		if (FT_Load_Glyph(ov->face, glyph, canvas ? FT_LOAD_RENDER : FT_LOAD_DEFAULT))
			continue;
		if (canvas) {
			const FT_Bitmap *bm = &slot->bitmap;
			int gx = x + (int)(pen >> 6) + slot->bitmap_left;
			int gy = y - slot->bitmap_top;

			for (unsigned r = 0; r < bm->rows; r++)
				for (unsigned c = 0; c < bm->width; c++) {
					int px = gx + c, py = gy + r;
					int a = bm->buffer[r * bm->pitch + c];

					if (a && px >= 0 && py >= 0 && px < canvas->width &&
					    py < canvas->height)
						blend_pixel(canvas, px, py, rgb, a);
				}
		}
		pen += slot->advance.x;
		previous = glyph;
	}
	return (int)((pen + 63) >> 6);
}

int visid_draw_text(struct visid_overlay *ov, struct visid_image *canvas, int x, int y, int px,
		    const char *utf8, uint32_t rgb)
{
	int ret;

	if (!canvas_ok(canvas) || !utf8)
		return -EINVAL;
	ret = set_size(ov, px);
	if (ret)
		return ret;
	return layout_text(ov, canvas, x, y, utf8, rgb);
}

int visid_text_extent(struct visid_overlay *ov, const char *utf8, int px, int *width, int *height)
{
	int ret = set_size(ov, px);

	if (ret)
		return ret;
	*width = layout_text(ov, NULL, 0, 0, utf8 ? utf8 : "", 0);
	*height =
	    (int)((ov->face->size->metrics.ascender - ov->face->size->metrics.descender + 63) >> 6);
	return 0;
}

static int text_ascent(struct visid_overlay *ov)
{
	return (int)((ov->face->size->metrics.ascender + 63) >> 6);
}

/* ---- the scene -------------------------------------------------------- */

int visid_overlay_create(const char *font, struct visid_overlay **out)
{
	struct visid_overlay *ov = calloc(1, sizeof(*ov));
	FT_Error err;

	*out = NULL;
	if (!ov)
		return -ENOMEM;
	if (!font)
		font = getenv("VISID_FONT");
	if (!font || !*font)
		font = DEFAULT_FONT;
	err = FT_Init_FreeType(&ov->library);
	if (err) {
		visid_err("overlay: FreeType does not start (error %d)", err);
		goto out_free_overlay;
	}
	err = FT_New_Face(ov->library, font, 0, &ov->face);
	if (err) {
		visid_err("overlay: font %s cannot be loaded (FreeType error %d%s)", font, err,
			  err == FT_Err_Cannot_Open_Resource ? ": cannot open the file" : "");
		goto out_done_library;
	}
	*out = ov;
	return 0;

out_done_library:
	FT_Done_FreeType(ov->library);
out_free_overlay:
	free(ov);
	return -ENOENT;
}

void visid_overlay_destroy(struct visid_overlay *ov)
{
	if (!ov)
		return;
	FT_Done_Face(ov->face);
	FT_Done_FreeType(ov->library);
	release_scratch(&ov->rgb);
	free(ov);
}

/* Where the frame lands: scaled to fit the canvas, aspect kept, centred. */
struct placement {
	int x, y, w, h;
	double scale;
};

static struct placement fit(const struct visid_image *frame, int cw, int ch)
{
	struct placement p;
	double sx = (double)cw / frame->width, sy = (double)ch / frame->height;

	p.scale = sx < sy ? sx : sy;
	p.w = (int)(frame->width * p.scale + 0.5);
	p.h = (int)(frame->height * p.scale + 0.5);
	p.x = (cw - p.w) / 2;
	p.y = (ch - p.h) / 2;
	return p;
}

static void draw_faces(struct visid_overlay *ov, struct visid_image *canvas,
		       const struct visid_overlay_scene *scene, const struct placement *p)
{
	int thickness = canvas->height / 240 + 2, px = canvas->height / 36 + 8;

	for (int i = 0; i < scene->n_faces; i++) {
		const struct visid_overlay_face *f = &scene->faces[i];
		uint32_t color = f->color ? f->color : 0x30e030;
		int x0 = p->x + (int)(f->box[0] * p->scale),
		    y0 = p->y + (int)(f->box[1] * p->scale);
		int x1 = p->x + (int)(f->box[2] * p->scale),
		    y1 = p->y + (int)(f->box[3] * p->scale);

		visid_draw_rect(canvas, x0, y0, x1 - x0, y1 - y0, thickness, color);
		if (f->label && *f->label && !set_size(ov, px))
			layout_text(ov, canvas, x0, y1 + thickness + text_ascent(ov), f->label,
				    color);
	}
}

/* Avatar at the right edge, the text left of it, both on a dark panel. */
static int draw_greeting(struct visid_overlay *ov, struct visid_image *canvas,
			 const struct visid_overlay_scene *scene)
{
	int margin = canvas->height / 48 + 4, side = canvas->height / 5;
	int px = canvas->height / 24 + 8, tw = 0, th = 0, aw = 0, ah = 0, ret;
	int panel_w, panel_h, x, y;

	if (scene->text && *scene->text) {
		ret = visid_text_extent(ov, scene->text, px, &tw, &th);
		if (ret)
			return ret;
	}
	if (scene->avatar && scene->avatar->width > 0 && scene->avatar->height > 0) {
		struct placement a = fit(scene->avatar, side, side);

		aw = a.w;
		ah = a.h;
	}
	if (!tw && !aw)
		return 0;
	panel_w = margin + tw + (tw && aw ? margin : 0) + aw + margin;
	panel_h = 2 * margin + (ah > th ? ah : th);
	x = canvas->width - margin - panel_w;
	y = margin;
	shade(canvas, x, y, panel_w, panel_h, 0x101010, 180);
	if (aw) {
		ret = draw_scaled(canvas, scene->avatar, x + panel_w - margin - aw,
				  y + (panel_h - ah) / 2, aw, ah, &ov->rgb);
		if (ret)
			return ret;
	}
	if (tw) {
		ret = set_size(ov, px);
		if (ret)
			return ret;
		layout_text(ov, canvas, x + margin, y + (panel_h - th) / 2 + text_ascent(ov),
			    scene->text, 0xffffff);
	}
	return 0;
}

int visid_overlay_draw(struct visid_overlay *ov, const struct visid_overlay_scene *scene,
		       struct visid_image *canvas)
{
	struct placement p;
	int ret;

	if (!canvas_ok(canvas))
		return -EINVAL;
	visid_draw_fill(canvas, 0, 0, canvas->width, canvas->height, 0x000000);
	if (scene->frame && scene->frame->width > 0 && scene->frame->height > 0) {
		p = fit(scene->frame, canvas->width, canvas->height);
		ret = draw_scaled(canvas, scene->frame, p.x, p.y, p.w, p.h, &ov->rgb);
		if (ret)
			return ret;
		draw_faces(ov, canvas, scene, &p);
	}
	return draw_greeting(ov, canvas, scene);
}
