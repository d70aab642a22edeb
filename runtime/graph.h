/*
 * The executable form of a TFLite model for one input size: a list of
 * layers, each one kernel of kernels.h, with operators fused where the
 * kernels allow (bias and activation into conv, the expanded PReLU into
 * conv, channel PAD and RELU into ADD, and that ADD with a shortcut
 * MAX_POOL_2D into the dense conv before it), the inputs of a
 * CONCATENATION written in place where they lie whole in its output, shapes
 * inferred for the chosen input, and intermediate tensors assigned to
 * reusable buffers by liveness.
 * Both backends run the same graph.
 */
#ifndef VISID_GRAPH_H
#define VISID_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "tflite.h"

enum visid_layer_kind {
	VISID_LAYER_CONV,
	VISID_LAYER_MAXPOOL,
	VISID_LAYER_ADD,
	VISID_LAYER_ELTWISE,
	VISID_LAYER_RESIZE,
	VISID_LAYER_PAD,
	VISID_LAYER_COPY,
};

/* Build flags. */
enum {
	/* Every tensor its own buffer, so each layer's output stays readable. */
	VISID_GRAPH_KEEP_ALL = 1 << 0,
	/* One layer per operator (besides bias and built-in activations). */
	VISID_GRAPH_NO_FUSE = 1 << 1,
};

/*
 * A run-time tensor; RESHAPE outputs alias the storage of their input, and
 * the inputs of a CONCATENATION written in place lie inside its output.
 */
struct visid_graph_value {
	int rank;
	int shape[VISID_TFL_MAX_RANK];
	size_t count;	 /* floats */
	int tensor;	 /* model tensor index */
	int storage;	 /* value that owns the memory (itself unless an alias) */
	size_t offset;	 /* elements into the storage */
	int buffer;	 /* buffer slot of the storage */
	int first, last; /* layers that write it first and read it last */
};

/* A constant operand: fp32 floats owned by the model or by the graph. */
struct visid_graph_const {
	const float *data;
	size_t count;
};

/*
 * A residual ADD fused into the dense conv before it: out = act(conv + r)
 * with r the value in[1] of the conv layer, c channels per pixel (the rest
 * zero, a fused channel PAD), max-pooled 2x2 stride 2 first when pool is
 * set (the MAX_POOL_2D on the shortcut of a strided block).
 */
struct visid_graph_residual {
	int c;
	enum visid_act act;
	int pool;
};

struct visid_graph_layer {
	enum visid_layer_kind kind;
	char op[48];	       /* operators covered, e.g. "CONV_2D+PRELU" */
	const char *name;      /* output tensor name (the last fused operator's) */
	int tensor;	       /* that output's model tensor index */
	int first_op, last_op; /* model operator indices covered */
	int in[2];	       /* value indices, -1 when absent; conv: in[1] the residual */
	int out;
	struct visid_graph_residual res; /* conv with in[1] >= 0 */
	union {
		struct visid_conv_params conv;
		struct visid_pool_params pool;
		struct visid_add_params add;
		struct visid_eltwise_params eltwise;
		struct visid_resize_params resize;
		struct visid_pad_params pad;
		struct visid_copy_params copy;
	} p;
	/* conv: weights, bias, slope; add: slope; eltwise: operand (const b). */
	struct visid_graph_const weights, bias, slope, operand;
	uint64_t macs;
	uint64_t bytes; /* activations read and written plus constants */
};

struct visid_graph {
	const struct visid_tfl_model *model;
	int n_values;
	struct visid_graph_value *values;
	int n_layers;
	struct visid_graph_layer *layers;
	int input; /* value */
	int n_outputs;
	int *outputs; /* values, in the model's output order */
	int n_buffers;
	size_t *buffer_size; /* floats */
	/* Constants the graph derived (PReLU slopes), freed with it. */
	int n_owned;
	float **owned;
};

/*
 * Builds the graph for an NHWC input of height x width (0: the model's),
 * batch 1. 0 or -errno; errors are logged with the model path, the
 * operator and the problem.
 */
int visid_graph_build(const struct visid_tfl_model *model, int height, int width, int flags,
		      struct visid_graph **out);
void visid_graph_free(struct visid_graph *graph);

/* Kind name of a layer ("conv", "add", ...). */
const char *visid_layer_kind_name(enum visid_layer_kind kind);

#endif
