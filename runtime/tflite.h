/*
 * A TFLite model file read into plain C structures. Every offset, vtable,
 * vector and buffer of the flatbuffer is checked before it is read; the
 * constant tensors are copied out (fp16 widened to fp32), so nothing points
 * into the file once loading returns.
 */
#ifndef VISID_TFLITE_H
#define VISID_TFLITE_H

#include <stddef.h>
#include <stdint.h>

#define VISID_TFL_MAX_RANK 4

/* TensorType of the schema (only the values the loader tells apart). */
enum visid_tfl_type {
	VISID_TFL_FLOAT32 = 0,
	VISID_TFL_FLOAT16 = 1,
	VISID_TFL_INT32 = 2,
	VISID_TFL_UINT8 = 3,
	VISID_TFL_INT64 = 4,
	VISID_TFL_INT8 = 9,
};

/* BuiltinOperator codes of the ops the executor knows. */
enum visid_tfl_opcode {
	VISID_TFL_ADD = 0,
	VISID_TFL_CONCATENATION = 2,
	VISID_TFL_CONV_2D = 3,
	VISID_TFL_DEPTHWISE_CONV_2D = 4,
	VISID_TFL_DEQUANTIZE = 6,
	VISID_TFL_MAX_POOL_2D = 17,
	VISID_TFL_MUL = 18,
	VISID_TFL_RELU = 19,
	VISID_TFL_RESHAPE = 22,
	VISID_TFL_RESIZE_BILINEAR = 23,
	VISID_TFL_PAD = 34,
	VISID_TFL_SUB = 41,
	VISID_TFL_ABS = 101,
};

enum visid_tfl_padding { VISID_TFL_SAME = 0, VISID_TFL_VALID = 1 };

/* ActivationFunctionType of the schema. */
enum visid_tfl_act {
	VISID_TFL_ACT_NONE = 0,
	VISID_TFL_ACT_RELU = 1,
	VISID_TFL_ACT_RELU_N1_TO_1 = 2,
	VISID_TFL_ACT_RELU6 = 3,
	VISID_TFL_ACT_TANH = 4,
	VISID_TFL_ACT_SIGN_BIT = 5,
};

struct visid_tfl_tensor {
	char *name;
	int type;
	int rank;
	int shape[VISID_TFL_MAX_RANK];
	size_t count;  /* elements */
	float *data;   /* constant FLOAT32/FLOAT16 contents as fp32, else NULL */
	int32_t *ints; /* constant INT32 contents, else NULL */
};

/* The builtin options the executor reads; unused fields stay zero. */
struct visid_tfl_options {
	int padding;
	int stride_w, stride_h;
	int dilation_w, dilation_h;
	int depth_multiplier;
	int filter_w, filter_h;
	int act;
	int axis;
	int align_corners, half_pixel_centers;
};

struct visid_tfl_op {
	int code;	  /* BuiltinOperator */
	const char *name; /* its name in the schema, or the custom code */
	int n_inputs, n_outputs;
	int *inputs; /* tensor indices, -1 for an omitted optional input */
	int *outputs;
	struct visid_tfl_options opt;
};

struct visid_tfl_model {
	char *path;
	char *description;
	int n_tensors;
	struct visid_tfl_tensor *tensors;
	int n_ops;
	struct visid_tfl_op *ops;
	int n_inputs, n_outputs;
	int *inputs;
	int *outputs;
	/* Names of the custom ops, owned here. */
	int n_custom;
	char **custom_names;
};

/* 0 or -errno; errors are logged with the path and the problem. */
int visid_tfl_load(const char *path, struct visid_tfl_model **out);
void visid_tfl_free(struct visid_tfl_model *model);

/* Schema name of a builtin operator code, or NULL when unknown. */
const char *visid_tfl_op_name(int code);

#endif
