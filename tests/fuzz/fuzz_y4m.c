/*
 * The YUV4MPEG2 frame source: any file opened as "y4m:PATH" gives NV12
 * frames of the size its header states, or an error; every frame is
 * converted to RGB as the face pipeline would.
 */
#include <errno.h>

#include "fuzz.h"
#include "visid/hal.h"

#define MAX_FRAMES 8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct visid_source_options opt;
	struct visid_source *src;
	struct visid_frame frame;
	char path[64], spec[80];
	int fd = fuzz_memfd(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	snprintf(spec, sizeof(spec), "y4m:%s", path);
	visid_source_options_init(&opt);
	/* The last byte picks looping, so the rewind path is fuzzed too. */
	opt.loop = size && (data[size - 1] & 1);
	if (visid_source_open(spec, &opt, &src)) {
		close(fd);
		return 0;
	}
	for (int i = 0; i < MAX_FRAMES; i++) {
		struct visid_image rgb;

		if (visid_source_next(src, &frame, 0))
			break;
		if (frame.image.format != VISID_FMT_NV12 || frame.image.width <= 0 ||
		    frame.image.height <= 0)
			__builtin_trap();
		if (frame.image.width * frame.image.height <= 256 * 256 &&
		    !visid_image_to_rgb24(&frame.image, &rgb))
			visid_image_free(&rgb);
	}
	visid_source_close(src);
	close(fd);
	return 0;
}
