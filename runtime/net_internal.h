/*
 * What the tests, the benchmark and the CLI see of a network beyond
 * visid/net.h: the layers of its graph, their cost, their time in the last
 * run, and (when built with VISID_NET_KEEP_ALL) every layer's output.
 */
#ifndef VISID_NET_INTERNAL_H
#define VISID_NET_INTERNAL_H

#include <stdint.h>

#include "graph.h"
#include "tflite.h"
#include "visid/net.h"

enum {
	/* Each layer output in its own buffer, readable after a run. */
	VISID_NET_KEEP_ALL = VISID_GRAPH_KEEP_ALL,
	/* No operator fusion: every TFLite operator runs as its own kernel. */
	VISID_NET_NO_FUSE = VISID_GRAPH_NO_FUSE,
	/* Vulkan: fp16 tensors without the accuracy check at creation (tests). */
	VISID_NET_FP16 = 1 << 8,
	/* Vulkan: fp32 tensors whatever $VISID_FP16 says. */
	VISID_NET_FP32 = 1 << 9,
	/* Vulkan: GPU time of each layer (timestamps, which slow CPU devices down). */
	VISID_NET_PROFILE = 1 << 10,
};

struct visid_net_layer_info {
	const char *name;      /* output tensor name */
	const char *op;	       /* fused operators, e.g. "CONV_2D+PRELU" */
	const char *kind;      /* kernel: "conv", "add", ... */
	int first_op, last_op; /* model operator indices covered */
	int tensor;	       /* model tensor index of the output */
	int rank;
	int shape[4]; /* output shape */
	uint64_t macs;
	uint64_t bytes;
	int dispatches; /* GPU dispatches recorded for it (0 on the CPU) */
	/* last run: GPU time (Vulkan, when profiling) or wall time (CPU); <0 unknown */
	double ms;
};

int visid_net_create_flags(struct visid_model *model, const struct visid_net_options *opt,
			   int flags, struct visid_net **out);

/* Turns per-layer GPU timing on or off for the following runs (re-records them). */
int visid_net_set_profile(struct visid_net *net, int on);

int visid_net_layer_count(const struct visid_net *net);
int visid_net_layer_info(const struct visid_net *net, int index, struct visid_net_layer_info *info);
/*
 * Copies layer `index`'s output (count = product of its shape) after a run;
 * index -1 is the network's input (as the device holds it).
 */
int visid_net_layer_output(struct visid_net *net, int index, float *dst);

const struct visid_graph *visid_net_graph(const struct visid_net *net);
const struct visid_tfl_model *visid_model_tflite(const struct visid_model *model);
enum visid_backend visid_net_backend(const struct visid_net *net);

struct visid_vk_view;
/*
 * Vulkan backend: the buffer the network reads its NHWC float32 input from,
 * for producers that write it on the device (the preprocessing shaders);
 * visid_net_run_device then runs on what it holds, with no upload.
 */
int visid_net_input_view(struct visid_net *net, struct visid_vk_view *view);
int visid_net_run_device(struct visid_net *net, float *const *outputs);

#endif
