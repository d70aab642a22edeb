/*
 * The image readers (JPEG through libjpeg-turbo, PNG through libpng, binary
 * PGM): any bytes decode to a valid RGB24 image or fail with a logged error.
 * A decoded image is converted and re-encoded, as enrollment does with a
 * photo, so its stride and size are used the way the rest of visid uses them.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "visid/image.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct visid_image img, rgb, again;
	volatile unsigned sum = 0;
	uint8_t *png;
	size_t len;

	if (visid_image_decode(data, size, "fuzz input", &img))
		return 0;
	if (img.format != VISID_FMT_RGB24 || img.width <= 0 || img.height <= 0 ||
	    img.stride < img.width * 3)
		__builtin_trap();
	/* Read every row: a short allocation shows up under ASan here. */
	for (int y = 0; y < img.height; y++)
		sum += img.data[(size_t)y * img.stride + (size_t)img.width * 3 - 1];
	(void)sum;
	if ((size_t)img.width * img.height <= 64 * 64 && !visid_image_to_rgb24(&img, &rgb)) {
		if (!visid_image_encode_png(&rgb, &png, &len)) {
			if (visid_image_decode(png, len, "re-encoded", &again))
				__builtin_trap();
			if (again.width != img.width || again.height != img.height)
				__builtin_trap();
			visid_image_free(&again);
			free(png);
		}
		visid_image_free(&rgb);
	}
	visid_image_free(&img);
	return 0;
}
