/*
 * Video files (MP4, Matroska, WebM, AVI...) as a frame source, decoded with
 * FFmpeg's libraries. Frames come out as the decoder makes them where visid
 * has the layout: 4:2:0 BT.601 limited-range pictures, what cameras and most
 * small videos carry, only have their chroma planes interleaved into NV12;
 * anything else goes through swscale to RGB24 with the stream's own colour
 * matrix and range, so no picture is shown with the wrong colours.
 *
 * FFmpeg is optional at build time (the Makefile defines VISID_HAVE_FFMPEG
 * when pkg-config finds it); without it opening a video says so.
 */
#include <errno.h>
#include <string.h>

#include "hal_priv.h"
#include "visid/log.h"

#ifdef VISID_HAVE_FFMPEG

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Packets or frames in a row that fail before the stream is given up. */
#define VIDEO_MAX_BAD_IN_ROW 32
/* Beyond this height a stream without a colour matrix tag is HD, i.e. BT.709. */
#define VIDEO_SD_MAX_HEIGHT 576

struct video_source {
	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	int stream;
	int draining;	      /* the end of the file was sent to the decoder */
	uint64_t pass_frames; /* decoded since the start or the last rewind */
	uint64_t total_frames;
	int bad_in_row;

	/* swscale state, rebuilt when the decoded pictures change */
	struct SwsContext *sws;
	int sws_format, sws_colorspace, sws_full_range;

	struct visid_image img; /* what the frames show; one buffer for the source's life */
};

/*
 * FFmpeg's own messages go to the debug level: every failure is reported
 * once, by this file, naming the video. The last error-level line of the
 * calling thread is kept, since it often says more than the error code
 * ("moov atom not found" behind "Invalid data found").
 */
static __thread char last_av_error[200];
static pthread_once_t av_log_hook_once = PTHREAD_ONCE_INIT;

static void forward_av_log(void *avcl, int level, const char *fmt, va_list ap)
{
	char line[512];
	int prefix = 1;
	size_t len;

	if (level > AV_LOG_ERROR && visid_log_get_level() < VISID_LOG_DEBUG)
		return;
	if (level > AV_LOG_VERBOSE)
		return;
	av_log_format_line2(avcl, level, fmt, ap, line, sizeof(line), &prefix);
	len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = 0;
	if (!len)
		return;
	if (level <= AV_LOG_ERROR) {
		const char *text = line;

		/* Drop the "[mov,mp4,... @ 0x55...] " context: the caller names the file. */
		if (text[0] == '[' && strstr(text, "] "))
			text = strstr(text, "] ") + 2;
		snprintf(last_av_error, sizeof(last_av_error), "%s", text);
	}
	visid_dbg("ffmpeg: %s", line);
}

static void install_av_log(void)
{
	av_log_set_callback(forward_av_log);
}

/* The cause of an FFmpeg error in words, with FFmpeg's last complaint when it has one. */
static const char *av_cause(int averr, char *buf, size_t len)
{
	char text[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(averr, text, sizeof(text));
	if (last_av_error[0] && !strstr(text, last_av_error))
		snprintf(buf, len, "%s (%s)", text, last_av_error);
	else
		snprintf(buf, len, "%s", text);
	last_av_error[0] = 0;
	return buf;
}

/* FFmpeg's error codes as the -errno values the HAL returns. */
static int av_to_errno(int averr)
{
	if (averr == AVERROR_EOF)
		return -ENODATA;
	if (averr == AVERROR_INVALIDDATA || averr == AVERROR_STREAM_NOT_FOUND)
		return -EINVAL;
	if (averr == AVERROR_DECODER_NOT_FOUND || averr == AVERROR_PATCHWELCOME)
		return -ENOTSUP;
	/* On POSIX systems AVERROR(e) is plain -e. */
	if (averr < 0 && averr > -4096)
		return averr;
	return -EIO;
}

/* ---- opening ------------------------------------------------------------ */

static int find_video_stream(struct video_source *s, const char *path, const AVCodec **codec)
{
	char cause[300];
	int ret;

	ret = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, codec, 0);
	if (ret == AVERROR_STREAM_NOT_FOUND) {
		visid_err("video source %s: no video stream in it (%s container, %u stream(s))",
			  path, s->fmt->iformat->name, s->fmt->nb_streams);
		return -EINVAL;
	}
	if (ret == AVERROR_DECODER_NOT_FOUND) {
		int index = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
		enum AVCodecID id =
		    index >= 0 ? s->fmt->streams[index]->codecpar->codec_id : AV_CODEC_ID_NONE;

		visid_err("video source %s: no decoder for its %s video in this FFmpeg", path,
			  avcodec_get_name(id));
		return -ENOTSUP;
	}
	if (ret < 0) {
		visid_err("video source %s: cannot pick a video stream: %s", path,
			  av_cause(ret, cause, sizeof(cause)));
		return av_to_errno(ret);
	}
	s->stream = ret;
	/* The demuxer can skip audio, subtitles and the rest outright. */
	for (unsigned i = 0; i < s->fmt->nb_streams; i++)
		if ((int)i != s->stream)
			s->fmt->streams[i]->discard = AVDISCARD_ALL;
	return 0;
}

static int open_decoder(struct video_source *s, const char *path, const AVCodec *codec)
{
	const AVStream *st = s->fmt->streams[s->stream];
	char cause[300];
	int ret;

	s->dec = avcodec_alloc_context3(codec);
	if (!s->dec)
		return -ENOMEM;
	ret = avcodec_parameters_to_context(s->dec, st->codecpar);
	if (ret < 0) {
		visid_err("video source %s: bad %s stream parameters: %s", path, codec->name,
			  av_cause(ret, cause, sizeof(cause)));
		return av_to_errno(ret);
	}
	s->dec->pkt_timebase = st->time_base;
	s->dec->thread_count = 0; /* as many as there are cores */
	ret = avcodec_open2(s->dec, codec, NULL);
	if (ret < 0) {
		visid_err("video source %s: cannot open the %s decoder: %s", path, codec->name,
			  av_cause(ret, cause, sizeof(cause)));
		return av_to_errno(ret);
	}
	return 0;
}

static int open_container(struct video_source *s, const char *path)
{
	char cause[300];
	int ret;

	last_av_error[0] = 0;
	ret = avformat_open_input(&s->fmt, path, NULL, NULL);
	if (ret < 0) {
		visid_err("video source %s: cannot open: %s", path,
			  av_cause(ret, cause, sizeof(cause)));
		return av_to_errno(ret);
	}
	ret = avformat_find_stream_info(s->fmt, NULL);
	if (ret < 0) {
		visid_err("video source %s: cannot read its streams: %s", path,
			  av_cause(ret, cause, sizeof(cause)));
		return av_to_errno(ret);
	}
	return 0;
}

static void video_free(struct video_source *s)
{
	sws_freeContext(s->sws);
	av_frame_free(&s->frame);
	av_packet_free(&s->pkt);
	avcodec_free_context(&s->dec);
	avformat_close_input(&s->fmt);
	visid_image_wipe(&s->img);
	visid_image_free(&s->img);
	free(s);
}

/* ---- decoding ----------------------------------------------------------- */

/*
 * A damaged packet or picture is skipped (the decoder recovers at the next
 * key frame); only a long run of them ends the source.
 */
static int bad_data(struct visid_source *src, struct video_source *s, int averr, const char *what)
{
	char cause[300];

	av_cause(averr, cause, sizeof(cause));
	if (++s->bad_in_row >= VIDEO_MAX_BAD_IN_ROW) {
		visid_err("video source %s: %d %ss in a row do not decode, giving up: %s",
			  src->name, s->bad_in_row, what, cause);
		return -EIO;
	}
	visid_warn("video source %s: skipping a %s after frame %llu: %s", src->name, what,
		   (unsigned long long)s->pass_frames, cause);
	return 0;
}

/* Feeds the decoder one packet of the video stream, or the end of the file. */
static int feed_decoder(struct visid_source *src, struct video_source *s)
{
	char cause[300];
	int ret;

	do {
		av_packet_unref(s->pkt);
		ret = av_read_frame(s->fmt, s->pkt);
	} while (ret >= 0 && s->pkt->stream_index != s->stream);

	if (ret == AVERROR_EOF) {
		s->draining = 1;
		return avcodec_send_packet(s->dec, NULL) < 0 ? -EIO : 0;
	}
	if (ret < 0) {
		visid_err("video source %s: cannot read after frame %llu: %s", src->name,
			  (unsigned long long)s->pass_frames, av_cause(ret, cause, sizeof(cause)));
		return av_to_errno(ret) == -ENODATA ? -EIO : av_to_errno(ret);
	}
	ret = avcodec_send_packet(s->dec, s->pkt);
	av_packet_unref(s->pkt);
	if (ret < 0 && ret != AVERROR(EAGAIN))
		return bad_data(src, s, ret, "packet");
	return 0;
}

/* Decodes the next picture into s->frame; -ENODATA at the end of the file. */
static int decode_frame(struct visid_source *src, struct video_source *s)
{
	for (;;) {
		int ret = avcodec_receive_frame(s->dec, s->frame);

		if (ret >= 0) {
			s->bad_in_row = 0;
			s->pass_frames++;
			s->total_frames++;
			return 0;
		}
		if (ret == AVERROR_EOF)
			return -ENODATA;
		if (ret != AVERROR(EAGAIN)) {
			ret = bad_data(src, s, ret, "picture");
			if (ret)
				return ret;
			continue;
		}
		if (s->draining)
			return -ENODATA;
		ret = feed_decoder(src, s);
		if (ret)
			return ret;
	}
}

/* Back to the first frame for another pass. */
static int rewind_video(struct visid_source *src, struct video_source *s)
{
	const AVStream *st = s->fmt->streams[s->stream];
	int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
	char cause[300];
	int ret;

	ret = av_seek_frame(s->fmt, s->stream, start, AVSEEK_FLAG_BACKWARD);
	if (ret < 0) {
		visid_err("video source %s: cannot seek back to the start: %s", src->name,
			  av_cause(ret, cause, sizeof(cause)));
		return av_to_errno(ret) == -ENODATA ? -EIO : av_to_errno(ret);
	}
	avcodec_flush_buffers(s->dec);
	s->draining = 0;
	s->pass_frames = 0;
	s->bad_in_row = 0;
	return 0;
}

/* ---- pictures into visid images ----------------------------------------- */

static int is_bt601(const AVFrame *f)
{
	switch (f->colorspace) {
	case AVCOL_SPC_BT470BG:
	case AVCOL_SPC_SMPTE170M:
		return 1;
	case AVCOL_SPC_UNSPECIFIED:
		return f->height <= VIDEO_SD_MAX_HEIGHT;
	default:
		return 0;
	}
}

/* The pictures NV12 can carry as they are: what visid's YUV conversions assume. */
static int nv12_as_is(const AVFrame *f)
{
	return f->format == AV_PIX_FMT_YUV420P && f->color_range != AVCOL_RANGE_JPEG && is_bt601(f);
}

static int output_image(struct visid_source *src, struct video_source *s, int width, int height,
			enum visid_pixel_format format)
{
	int ret;

	if (s->img.data && s->img.width == width && s->img.height == height &&
	    s->img.format == format)
		return 0;
	if (s->img.data)
		visid_info("video source %s: pictures now %dx%d, given as %s", src->name, width,
			   height, visid_pixel_format_name(format));
	visid_image_wipe(&s->img);
	visid_image_free(&s->img);
	ret = visid_image_alloc(&s->img, width, height, format);
	if (ret)
		visid_err("video source %s: no room for %dx%d frames", src->name, width, height);
	return ret;
}

static void yuv420p_to_nv12(const AVFrame *f, struct visid_image *img)
{
	int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;

	for (int y = 0; y < f->height; y++)
		memcpy(img->data + (size_t)y * img->stride,
		       f->data[0] + (ptrdiff_t)y * f->linesize[0], f->width);
	for (int y = 0; y < ch; y++) {
		const uint8_t *u = f->data[1] + (ptrdiff_t)y * f->linesize[1];
		const uint8_t *v = f->data[2] + (ptrdiff_t)y * f->linesize[2];
		uint8_t *uv = img->uv + (size_t)y * img->uv_stride;

		for (int x = 0; x < cw; x++) {
			uv[2 * x] = u[x];
			uv[2 * x + 1] = v[x];
		}
	}
}

static int full_range(const AVFrame *f)
{
	const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f->format);

	/* The YUVJ formats are full range whatever the tag says. */
	return f->color_range == AVCOL_RANGE_JPEG || (d && !strncmp(d->name, "yuvj", 4));
}

static int scale_to_rgb24(struct visid_source *src, struct video_source *s, const AVFrame *f)
{
	const int flags = SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT;
	int colorspace = f->colorspace, range = full_range(f);
	uint8_t *dst[4] = {s->img.data};
	int dst_stride[4] = {s->img.stride};
	struct SwsContext *sws;

	if (colorspace == AVCOL_SPC_UNSPECIFIED)
		colorspace = is_bt601(f) ? AVCOL_SPC_SMPTE170M : AVCOL_SPC_BT709;
	sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, f->width, f->height,
				   AV_PIX_FMT_RGB24, flags, NULL, NULL, NULL);
	if (!sws) {
		visid_err("video source %s: swscale cannot convert %s pictures to RGB24", src->name,
			  av_get_pix_fmt_name(f->format));
		return -ENOTSUP;
	}
	if (sws != s->sws || s->sws_format != f->format || s->sws_colorspace != colorspace ||
	    s->sws_full_range != range) {
		/* SWS_CS_* share AVColorSpace's numbers; unknown ones fall back to BT.601. */
		sws_setColorspaceDetails(sws, sws_getCoefficients(colorspace), range,
					 sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16,
					 1 << 16);
		s->sws = sws;
		s->sws_format = f->format;
		s->sws_colorspace = colorspace;
		s->sws_full_range = range;
	}
	sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
	return 0;
}

static int convert_frame(struct visid_source *src, struct video_source *s)
{
	const AVFrame *f = s->frame;
	int direct = nv12_as_is(f);
	int ret;

	ret = output_image(src, s, f->width, f->height, direct ? VISID_FMT_NV12 : VISID_FMT_RGB24);
	if (ret)
		return ret;
	if (direct) {
		yuv420p_to_nv12(f, &s->img);
		return 0;
	}
	return scale_to_rgb24(src, s, f);
}

/* ---- the source --------------------------------------------------------- */

static int video_next(struct visid_source *src, struct visid_frame *frame, int timeout_ms)
{
	struct video_source *s = src->priv;
	int ret;

	/* The previous frame was valid until this call. */
	visid_image_wipe(&s->img);
	ret = decode_frame(src, s);
	if (ret == -ENODATA && !s->total_frames) {
		visid_err("video source %s: not one frame of its video stream decodes", src->name);
		return -EIO;
	}
	if (ret == -ENODATA && src->opt.loop && s->pass_frames) {
		ret = rewind_video(src, s);
		if (!ret)
			ret = decode_frame(src, s);
	}
	if (ret)
		return ret;
	ret = convert_frame(src, s);
	av_frame_unref(s->frame);
	if (ret)
		return ret;

	memset(frame, 0, sizeof(*frame));
	frame->image = s->img;
	frame->image.owned = NULL; /* the source keeps it */
	frame->dmabuf_fd[0] = frame->dmabuf_fd[1] = -1;
	frame->timestamp_ns = hal_now_ns();
	return 0;
}

static void video_close(struct visid_source *src)
{
	video_free(src->priv);
}

static const struct source_ops video_ops = {video_next, video_close};

int source_video_open(struct visid_source *src, const char *path)
{
	struct video_source *s = calloc(1, sizeof(*s));
	const AVCodec *codec = NULL;
	const AVStream *st;
	const char *pixels;
	int ret;

	if (!s)
		return -ENOMEM;
	pthread_once(&av_log_hook_once, install_av_log);
	ret = open_container(s, path);
	if (ret)
		goto out_free_video;
	ret = find_video_stream(s, path, &codec);
	if (ret)
		goto out_free_video;
	ret = open_decoder(s, path, codec);
	if (ret)
		goto out_free_video;
	s->pkt = av_packet_alloc();
	s->frame = av_frame_alloc();
	if (!s->pkt || !s->frame) {
		ret = -ENOMEM;
		goto out_free_video;
	}

	st = s->fmt->streams[s->stream];
	pixels = av_get_pix_fmt_name(st->codecpar->format);
	visid_info("video source %s: %s %dx%d %s at %d/%d fps", path, codec->name,
		   st->codecpar->width, st->codecpar->height, pixels ? pixels : "(pixels unknown)",
		   st->avg_frame_rate.num, st->avg_frame_rate.den);
	src->priv = s;
	src->ops = &video_ops;
	return 0;

out_free_video:
	video_free(s);
	return ret;
}

#else /* !VISID_HAVE_FFMPEG */

int source_video_open(struct visid_source *src, const char *path)
{
	visid_err("video source %s: built without FFmpeg: video files are not supported "
		  "(install libavformat-dev libavcodec-dev libswscale-dev libavutil-dev and "
		  "rebuild)",
		  path);
	return -ENOTSUP;
}

#endif
