/*
 * Networks: a TFLite model file loaded and validated once, then instantiated
 * for one input size on one backend and run many times.
 *
 * Errors: functions return 0 or a negative errno and log a message that names
 * the file or object and the cause.
 */
#ifndef VISID_NET_H
#define VISID_NET_H

#include <stddef.h>

struct visid_model;
struct visid_net;
struct visid_gpu;

enum visid_backend {
	VISID_BACKEND_CPU,
	VISID_BACKEND_VULKAN,
};

#define VISID_NET_MAX_OUTPUTS 8

/*
 * Reads and validates a .tflite file (mmap); fp16 weights become fp32. A
 * file listed in a manifest.tsv in its directory (as installed) must match
 * its sha256 there, else -EBADMSG.
 */
int visid_model_load(const char *path, struct visid_model **out);
void visid_model_free(struct visid_model *model);
const char *visid_model_path(const struct visid_model *model);
/* NHWC input shape stored in the file. */
void visid_model_input_shape(const struct visid_model *model, int shape[4]);

struct visid_net_options {
	enum visid_backend backend;
	struct visid_gpu *gpu;	/* required for VISID_BACKEND_VULKAN */
	int height, width;	/* 0: the model's own; else a fully convolutional size */
};

/* Batch is always 1, whatever the file fixes. */
int visid_net_create(struct visid_model *model, const struct visid_net_options *opt,
		     struct visid_net **out);
void visid_net_destroy(struct visid_net *net);

void visid_net_input_shape(const struct visid_net *net, int shape[4]);
int visid_net_output_count(const struct visid_net *net);
const char *visid_net_output_name(const struct visid_net *net, int index);
/* Shape as stored in the model, batch set to 1; rank returned. */
int visid_net_output_shape(const struct visid_net *net, int index, int shape[4]);
size_t visid_net_output_size(const struct visid_net *net, int index);	/* floats */

/* input: NHWC float32 of the input shape; outputs[i]: output_size(i) floats. */
int visid_net_run(struct visid_net *net, const float *input, float *const *outputs);
/*
 * Zeroes what the last run left in the network's memory: its input,
 * activations and outputs, on the host and on the device, so that nothing
 * of a frame outlives it. The caller wipes its own copies of the outputs.
 */
int visid_net_wipe(struct visid_net *net);

#endif
