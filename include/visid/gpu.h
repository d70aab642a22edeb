/*
 * The Vulkan compute device: instance and device selection, buffers,
 * pipelines from the embedded SPIR-V, dispatch recording and GPU timing.
 * Internal details are in runtime/vk.h; this is what library users see.
 */
#ifndef VISID_GPU_H
#define VISID_GPU_H

struct visid_gpu;

struct visid_gpu_options {
	/*
	 * Which physical device: a decimal index or a substring of its name.
	 * NULL: $VISID_DEVICE, else the first discrete GPU, then integrated,
	 * then a CPU implementation (lavapipe).
	 */
	const char *device;
	/* Enable VK_LAYER_KHRONOS_validation when installed (also $VISID_VALIDATION=1). */
	int validation;
};

int visid_gpu_create(const struct visid_gpu_options *opt, struct visid_gpu **out);
void visid_gpu_destroy(struct visid_gpu *gpu);
const char *visid_gpu_name(const struct visid_gpu *gpu);
/* Validation messages seen since creation (tests fail on any). */
unsigned visid_gpu_validation_errors(const struct visid_gpu *gpu);

#endif
