/*
 * TFLite flatbuffer loader. The file is mapped read-only and walked with
 * bounds-checked accessors: a table's vtable, each field, each vector and
 * string are checked against the file size before the first byte is read,
 * so a truncated or corrupted file ends in a logged error, not a fault.
 * Only subgraph 0 is read; the executor runs single-graph models.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tflite.h"
#include "visid/log.h"

/* Tensors larger than this are refused: no model of ours comes close. */
#define MAX_TENSOR_ELEMENTS (1u << 28)
#define CUSTOM_OPCODE	    32

/* clang-format off */
static const char *const builtin_names[] = {
	"ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
	"DEPTH_TO_SPACE", "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED",
	"HASHTABLE_LOOKUP", "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION",
	"LOGISTIC", "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1",
	"RELU6", "RESHAPE", "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF",
	"TANH", "CONCAT_EMBEDDINGS", "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE",
	"PAD", "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND",
	"SPACE_TO_BATCH_ND", "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE",
	"UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "BIDIRECTIONAL_SEQUENCE_RNN", "EXP",
	"TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE", "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST",
	"PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS", "NEG", "PADV2", "GREATER",
	"GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN", "TRANSPOSE_CONV",
	"SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG", "SUM", "SQRT",
	"RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX", "PACK",
	"LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",
	"FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
	"RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS",
	"SPLIT_V", "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE",
	"RANK", "ELU", "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG",
	"ROUND", "HARD_SWISH", "IF", "WHILE", "NON_MAX_SUPPRESSION_V4",
	"NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2", "DENSIFY", "SEGMENT_SUM",
	"BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM", "CALL_ONCE",
	"BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",
	"HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL",
	"CONV_3D_TRANSPOSE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE",
	"BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL", "BUCKETIZE", "RANDOM_UNIFORM",
	"MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1", "UNSORTED_SEGMENT_PROD",
	"UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2", "UNSORTED_SEGMENT_MIN",
	"SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT",
};
/* clang-format on */

const char *visid_tfl_op_name(int code)
{
	if (code < 0 || code >= (int)(sizeof(builtin_names) / sizeof(builtin_names[0])))
		return NULL;
	return builtin_names[code];
}

/* The mapped file and what is being read, for error messages. */
struct fb {
	const uint8_t *p;
	size_t size;
	const char *path;
	char ctx[96];
};

/* A table whose vtable and inline size have been checked. */
struct fb_table {
	size_t pos;
	size_t vt;
	unsigned vt_size;
	unsigned size;
};

static int fb_bad(struct fb *fb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fb_bad(struct fb *fb, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	visid_err("%s: malformed model: %s%s%s", fb->path, fb->ctx, fb->ctx[0] ? ": " : "", msg);
	return -EINVAL;
}

static void fb_context(struct fb *fb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fb_context(struct fb *fb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fb->ctx, sizeof(fb->ctx), fmt, ap);
	va_end(ap);
}

/* Raw little-endian reads; callers have checked the range. */
static uint16_t rd16(const struct fb *fb, size_t pos)
{
	return (uint16_t)(fb->p[pos] | fb->p[pos + 1] << 8);
}

static uint32_t rd32(const struct fb *fb, size_t pos)
{
	return (uint32_t)fb->p[pos] | (uint32_t)fb->p[pos + 1] << 8 |
	       (uint32_t)fb->p[pos + 2] << 16 | (uint32_t)fb->p[pos + 3] << 24;
}

static uint64_t rd64(const struct fb *fb, size_t pos)
{
	return (uint64_t)rd32(fb, pos) | (uint64_t)rd32(fb, pos + 4) << 32;
}

static int fb_in_file(const struct fb *fb, uint64_t pos, uint64_t len)
{
	return pos <= fb->size && len <= fb->size - pos;
}

static int fb_table_at(struct fb *fb, uint64_t pos, const char *what, struct fb_table *t)
{
	int64_t vt;

	if (!fb_in_file(fb, pos, 4))
		return fb_bad(fb, "%s table at %llu is outside the file (%zu bytes)", what,
			      (unsigned long long)pos, fb->size);
	vt = (int64_t)pos - (int32_t)rd32(fb, pos);
	if (vt < 0 || !fb_in_file(fb, (uint64_t)vt, 4))
		return fb_bad(fb, "%s vtable at %lld is outside the file", what, (long long)vt);
	t->pos = pos;
	t->vt = (size_t)vt;
	t->vt_size = rd16(fb, t->vt);
	t->size = rd16(fb, t->vt + 2);
	if (t->vt_size < 4 || t->vt_size % 2 || !fb_in_file(fb, t->vt, t->vt_size))
		return fb_bad(fb, "%s vtable size %u is invalid", what, t->vt_size);
	if (t->size < 4 || !fb_in_file(fb, pos, t->size))
		return fb_bad(fb, "%s table size %u runs past the end of the file", what, t->size);
	return 0;
}

/* Position of field `id` of `width` bytes, 0 when absent, -EINVAL when bad. */
static int fb_field(struct fb *fb, const struct fb_table *t, int id, unsigned width,
		    const char *what, size_t *pos)
{
	unsigned slot = 4 + 2 * (unsigned)id;
	unsigned off;

	*pos = 0;
	if (slot + 2 > t->vt_size)
		return 0;
	off = rd16(fb, t->vt + slot);
	if (!off)
		return 0;
	if (off < 4 || off + width > t->size)
		return fb_bad(fb, "field %s at offset %u overruns its table (%u bytes)", what, off,
			      t->size);
	*pos = t->pos + off;
	return 0;
}

static int fb_u8(struct fb *fb, const struct fb_table *t, int id, const char *what, int def,
		 int *out)
{
	size_t pos;
	int ret = fb_field(fb, t, id, 1, what, &pos);

	*out = ret || !pos ? def : fb->p[pos];
	return ret;
}

static int fb_i32(struct fb *fb, const struct fb_table *t, int id, const char *what, int def,
		  int *out)
{
	size_t pos;
	int ret = fb_field(fb, t, id, 4, what, &pos);

	*out = ret || !pos ? def : (int32_t)rd32(fb, pos);
	return ret;
}

static int fb_u64(struct fb *fb, const struct fb_table *t, int id, const char *what, uint64_t *out)
{
	size_t pos;
	int ret = fb_field(fb, t, id, 8, what, &pos);

	*out = ret || !pos ? 0 : rd64(fb, pos);
	return ret;
}

/* Follows the uoffset of a field; *target is 0 when the field is absent. */
static int fb_ref(struct fb *fb, const struct fb_table *t, int id, const char *what,
		  uint64_t *target)
{
	size_t pos;
	int ret = fb_field(fb, t, id, 4, what, &pos);

	*target = 0;
	if (ret || !pos)
		return ret;
	*target = (uint64_t)pos + rd32(fb, pos);
	if (*target >= fb->size)
		return fb_bad(fb, "field %s points outside the file", what);
	return 0;
}

struct fb_vec {
	size_t start;
	uint32_t len;
};

static int fb_vector_at(struct fb *fb, uint64_t target, unsigned elem, const char *what,
			struct fb_vec *v)
{
	if (!fb_in_file(fb, target, 4))
		return fb_bad(fb, "vector %s header is outside the file", what);
	v->len = rd32(fb, target);
	v->start = target + 4;
	if (!fb_in_file(fb, v->start, (uint64_t)v->len * elem))
		return fb_bad(fb, "vector %s of %u elements runs past the end of the file", what,
			      v->len);
	return 0;
}

/* An absent vector reads as empty. */
static int fb_vector(struct fb *fb, const struct fb_table *t, int id, unsigned elem,
		     const char *what, struct fb_vec *v)
{
	uint64_t target;
	int ret = fb_ref(fb, t, id, what, &target);

	v->start = 0;
	v->len = 0;
	if (ret || !target)
		return ret;
	return fb_vector_at(fb, target, elem, what, v);
}

static int fb_subtable(struct fb *fb, const struct fb_table *t, int id, const char *what,
		       struct fb_table *sub, int *present)
{
	uint64_t target;
	int ret = fb_ref(fb, t, id, what, &target);

	*present = 0;
	if (ret || !target)
		return ret;
	*present = 1;
	return fb_table_at(fb, target, what, sub);
}

/* Element k of a vector of tables. */
static int fb_vector_table(struct fb *fb, const struct fb_vec *v, uint32_t k, const char *what,
			   struct fb_table *t)
{
	size_t pos = v->start + 4 * (size_t)k;

	return fb_table_at(fb, (uint64_t)pos + rd32(fb, pos), what, t);
}

/* A copy of a string field, NUL-terminated; NULL when absent. */
static int fb_string(struct fb *fb, const struct fb_table *t, int id, const char *what, char **out)
{
	struct fb_vec v;
	int ret = fb_vector(fb, t, id, 1, what, &v);

	*out = NULL;
	if (ret || !v.start)
		return ret;
	*out = strndup((const char *)fb->p + v.start, v.len);
	return *out ? 0 : -ENOMEM;
}

/* A vector of int32 copied out; *out NULL when empty. */
static int fb_int_vector(struct fb *fb, const struct fb_table *t, int id, const char *what,
			 int **out, int *count)
{
	struct fb_vec v;
	int ret = fb_vector(fb, t, id, 4, what, &v);

	*out = NULL;
	*count = 0;
	if (ret || !v.len)
		return ret;
	*out = malloc(v.len * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (uint32_t i = 0; i < v.len; i++)
		(*out)[i] = (int32_t)rd32(fb, v.start + 4 * i);
	*count = (int)v.len;
	return 0;
}

static float half_to_float(uint16_t h)
{
	int sign = h >> 15, exp = (h >> 10) & 31, frac = h & 1023;
	float v;

	if (exp == 0)
		v = ldexpf((float)frac, -24);
	else if (exp == 31)
		v = frac ? NAN : INFINITY;
	else
		v = ldexpf((float)(frac | 1024), exp - 25);
	return sign ? -v : v;
}

struct raw_buffer {
	size_t start;
	size_t len;
};

static int read_buffers(struct fb *fb, const struct fb_table *model, struct raw_buffer **out,
			uint32_t *count)
{
	struct fb_vec v;
	struct raw_buffer *bufs;
	int ret;

	fb_context(fb, "model");
	ret = fb_vector(fb, model, 4, 4, "buffers", &v);
	if (ret)
		return ret;
	bufs = calloc(v.len ? v.len : 1, sizeof(*bufs));
	if (!bufs)
		return -ENOMEM;
	for (uint32_t i = 0; i < v.len; i++) {
		struct fb_table t;
		struct fb_vec data;
		uint64_t offset, size;

		fb_context(fb, "buffer %u", i);
		ret = fb_vector_table(fb, &v, i, "buffer", &t);
		if (!ret)
			ret = fb_vector(fb, &t, 0, 1, "data", &data);
		if (!ret)
			ret = fb_u64(fb, &t, 1, "offset", &offset);
		if (!ret)
			ret = fb_u64(fb, &t, 2, "size", &size);
		if (ret)
			goto out_free;
		bufs[i].start = data.start;
		bufs[i].len = data.len;
		/* Large models keep data after the flatbuffer, addressed by offset. */
		if (!data.len && offset > 1) {
			if (!fb_in_file(fb, offset, size)) {
				ret = fb_bad(fb, "external data [%llu, +%llu) is outside the file",
					     (unsigned long long)offset, (unsigned long long)size);
				goto out_free;
			}
			bufs[i].start = offset;
			bufs[i].len = size;
		}
	}
	*out = bufs;
	*count = v.len;
	return 0;

out_free:
	free(bufs);
	return ret;
}

static size_t type_size(int type)
{
	switch (type) {
	case VISID_TFL_FLOAT32:
	case VISID_TFL_INT32:
		return 4;
	case VISID_TFL_FLOAT16:
		return 2;
	case VISID_TFL_UINT8:
	case VISID_TFL_INT8:
		return 1;
	case VISID_TFL_INT64:
		return 8;
	}
	return 0;
}

static int tensor_shape(struct fb *fb, const struct fb_table *t, struct visid_tfl_tensor *ts)
{
	struct fb_vec v;
	int ret = fb_vector(fb, t, 0, 4, "shape", &v);

	if (ret)
		return ret;
	if (v.len > VISID_TFL_MAX_RANK)
		return fb_bad(fb, "rank %u is not supported (at most %d)", v.len,
			      VISID_TFL_MAX_RANK);
	ts->rank = (int)v.len;
	ts->count = 1;
	for (int d = 0; d < ts->rank; d++) {
		int32_t dim = (int32_t)rd32(fb, v.start + 4 * d);

		if (dim < 0 || (dim && ts->count > MAX_TENSOR_ELEMENTS / (uint32_t)dim))
			return fb_bad(fb, "dimension %d is %d", d, dim);
		ts->shape[d] = dim;
		ts->count *= (size_t)dim;
	}
	return 0;
}

/* Copies a constant's bytes out of the file, widening fp16 to fp32. */
static int tensor_data(struct fb *fb, struct visid_tfl_tensor *ts, const struct raw_buffer *b)
{
	size_t elem = type_size(ts->type);

	if (!elem)
		return fb_bad(fb, "constant of tensor type %d is not supported", ts->type);
	if (b->len != ts->count * elem)
		return fb_bad(fb, "buffer holds %zu bytes but the shape needs %zu", b->len,
			      ts->count * elem);
	if (ts->type == VISID_TFL_FLOAT32 || ts->type == VISID_TFL_FLOAT16) {
		ts->data = malloc((ts->count ? ts->count : 1) * sizeof(float));
		if (!ts->data)
			return -ENOMEM;
		for (size_t i = 0; i < ts->count; i++) {
			if (ts->type == VISID_TFL_FLOAT16) {
				ts->data[i] = half_to_float(rd16(fb, b->start + 2 * i));
			} else {
				uint32_t bits = rd32(fb, b->start + 4 * i);

				memcpy(&ts->data[i], &bits, 4);
			}
		}
	} else if (ts->type == VISID_TFL_INT32) {
		ts->ints = malloc((ts->count ? ts->count : 1) * sizeof(int32_t));
		if (!ts->ints)
			return -ENOMEM;
		for (size_t i = 0; i < ts->count; i++)
			ts->ints[i] = (int32_t)rd32(fb, b->start + 4 * i);
	}
	return 0;
}

static int read_tensor(struct fb *fb, const struct fb_table *t, int index,
		       const struct raw_buffer *bufs, uint32_t n_bufs, struct visid_tfl_tensor *ts)
{
	int ret, buffer;

	fb_context(fb, "tensor %d", index);
	ret = tensor_shape(fb, t, ts);
	if (!ret)
		ret = fb_u8(fb, t, 1, "type", 0, &ts->type);
	if (!ret)
		ret = fb_i32(fb, t, 2, "buffer", 0, &buffer);
	if (!ret)
		ret = fb_string(fb, t, 3, "name", &ts->name);
	if (ret)
		return ret;
	if (!ts->name && asprintf(&ts->name, "tensor%d", index) < 0) {
		ts->name = NULL;
		return -ENOMEM;
	}
	fb_context(fb, "tensor %d (%s)", index, ts->name);
	if ((uint32_t)buffer >= n_bufs && buffer != 0)
		return fb_bad(fb, "buffer index %u is out of range (%u buffers)", (uint32_t)buffer,
			      n_bufs);
	if (buffer && bufs[buffer].len)
		return tensor_data(fb, ts, &bufs[buffer]);
	return 0;
}

static int check_indices(struct fb *fb, const int *idx, int n, int n_tensors, int optional,
			 const char *what)
{
	for (int i = 0; i < n; i++)
		if (idx[i] >= n_tensors || idx[i] < (optional ? -1 : 0))
			return fb_bad(fb, "%s[%d] = %d is not a tensor index (%d tensors)", what, i,
				      idx[i], n_tensors);
	return 0;
}

struct opcode {
	int code;
	const char *name;
};

static int read_opcodes(struct fb *fb, const struct fb_table *model, struct visid_tfl_model *m,
			struct opcode **out, uint32_t *count)
{
	struct fb_vec v;
	struct opcode *codes;
	int ret;

	fb_context(fb, "model");
	ret = fb_vector(fb, model, 1, 4, "operator_codes", &v);
	if (ret)
		return ret;
	codes = calloc(v.len ? v.len : 1, sizeof(*codes));
	m->custom_names = calloc(v.len ? v.len : 1, sizeof(char *));
	if (!codes || !m->custom_names) {
		free(codes);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < v.len; i++) {
		struct fb_table t;
		int deprecated, builtin;

		fb_context(fb, "operator code %u", i);
		ret = fb_vector_table(fb, &v, i, "operator code", &t);
		if (!ret)
			ret = fb_u8(fb, &t, 0, "deprecated_builtin_code", 0, &deprecated);
		if (!ret)
			ret = fb_i32(fb, &t, 3, "builtin_code", 0, &builtin);
		if (ret)
			goto out_free;
		/* Old writers fill only the int8 field, new ones both. */
		codes[i].code = (int8_t)deprecated > builtin ? (int8_t)deprecated : builtin;
		codes[i].name = visid_tfl_op_name(codes[i].code);
		if (codes[i].code == CUSTOM_OPCODE) {
			ret = fb_string(fb, &t, 1, "custom_code", &m->custom_names[m->n_custom]);
			if (ret)
				goto out_free;
			if (m->custom_names[m->n_custom])
				codes[i].name = m->custom_names[m->n_custom++];
		}
		if (!codes[i].name)
			codes[i].name = "UNKNOWN";
	}
	*out = codes;
	*count = v.len;
	return 0;

out_free:
	free(codes);
	return ret;
}

static int read_options(struct fb *fb, const struct fb_table *op, struct visid_tfl_op *o)
{
	struct visid_tfl_options *opt = &o->opt;
	struct fb_table t;
	int present, ret;

	opt->dilation_w = opt->dilation_h = 1;
	ret = fb_subtable(fb, op, 4, "builtin_options", &t, &present);
	if (ret || !present)
		return ret;

	switch (o->code) {
	case VISID_TFL_CONV_2D:
		ret = fb_u8(fb, &t, 0, "padding", 0, &opt->padding) ?:
		      fb_i32(fb, &t, 1, "stride_w", 0, &opt->stride_w) ?:
		      fb_i32(fb, &t, 2, "stride_h", 0, &opt->stride_h) ?:
		      fb_u8(fb, &t, 3, "fused_activation_function", 0, &opt->act) ?:
		      fb_i32(fb, &t, 4, "dilation_w_factor", 1, &opt->dilation_w) ?:
		      fb_i32(fb, &t, 5, "dilation_h_factor", 1, &opt->dilation_h);
		break;
	case VISID_TFL_DEPTHWISE_CONV_2D:
		ret = fb_u8(fb, &t, 0, "padding", 0, &opt->padding) ?:
		      fb_i32(fb, &t, 1, "stride_w", 0, &opt->stride_w) ?:
		      fb_i32(fb, &t, 2, "stride_h", 0, &opt->stride_h) ?:
		      fb_i32(fb, &t, 3, "depth_multiplier", 0, &opt->depth_multiplier) ?:
		      fb_u8(fb, &t, 4, "fused_activation_function", 0, &opt->act) ?:
		      fb_i32(fb, &t, 5, "dilation_w_factor", 1, &opt->dilation_w) ?:
		      fb_i32(fb, &t, 6, "dilation_h_factor", 1, &opt->dilation_h);
		break;
	case VISID_TFL_MAX_POOL_2D:
	case 1: /* AVERAGE_POOL_2D shares Pool2DOptions */
		ret = fb_u8(fb, &t, 0, "padding", 0, &opt->padding) ?:
		      fb_i32(fb, &t, 1, "stride_w", 0, &opt->stride_w) ?:
		      fb_i32(fb, &t, 2, "stride_h", 0, &opt->stride_h) ?:
		      fb_i32(fb, &t, 3, "filter_width", 0, &opt->filter_w) ?:
		      fb_i32(fb, &t, 4, "filter_height", 0, &opt->filter_h) ?:
		      fb_u8(fb, &t, 5, "fused_activation_function", 0, &opt->act);
		break;
	case VISID_TFL_ADD:
	case VISID_TFL_SUB:
	case VISID_TFL_MUL:
		ret = fb_u8(fb, &t, 0, "fused_activation_function", 0, &opt->act);
		break;
	case VISID_TFL_CONCATENATION:
		ret = fb_i32(fb, &t, 0, "axis", 0, &opt->axis)
			  ?: fb_u8(fb, &t, 1, "fused_activation_function", 0, &opt->act);
		break;
	case VISID_TFL_RESIZE_BILINEAR:
		ret = fb_u8(fb, &t, 2, "align_corners", 0, &opt->align_corners)
			  ?: fb_u8(fb, &t, 3, "half_pixel_centers", 0, &opt->half_pixel_centers);
		break;
	}
	return ret;
}

static int read_operator(struct fb *fb, const struct fb_table *t, int index,
			 const struct opcode *codes, uint32_t n_codes, int n_tensors,
			 struct visid_tfl_op *o)
{
	int ret, code_index;

	fb_context(fb, "operator %d", index);
	ret = fb_i32(fb, t, 0, "opcode_index", 0, &code_index);
	if (ret)
		return ret;
	if ((uint32_t)code_index >= n_codes)
		return fb_bad(fb, "opcode index %u is out of range (%u codes)",
			      (uint32_t)code_index, n_codes);
	o->code = codes[code_index].code;
	o->name = codes[code_index].name;
	fb_context(fb, "operator %d (%s)", index, o->name);
	ret = fb_int_vector(fb, t, 1, "inputs", &o->inputs, &o->n_inputs) ?:
	      fb_int_vector(fb, t, 2, "outputs", &o->outputs, &o->n_outputs) ?:
	      check_indices(fb, o->inputs, o->n_inputs, n_tensors, 1, "inputs") ?:
	      check_indices(fb, o->outputs, o->n_outputs, n_tensors, 0, "outputs");
	if (ret)
		return ret;
	return read_options(fb, t, o);
}

static int read_subgraph(struct fb *fb, const struct fb_table *model, struct visid_tfl_model *m,
			 const struct raw_buffer *bufs, uint32_t n_bufs, const struct opcode *codes,
			 uint32_t n_codes)
{
	struct fb_vec graphs, tensors, ops;
	struct fb_table sg;
	int ret;

	fb_context(fb, "model");
	ret = fb_vector(fb, model, 2, 4, "subgraphs", &graphs);
	if (ret)
		return ret;
	if (!graphs.len)
		return fb_bad(fb, "no subgraph");
	ret = fb_vector_table(fb, &graphs, 0, "subgraph 0", &sg);
	if (!ret) {
		fb_context(fb, "subgraph 0");
		ret = fb_vector(fb, &sg, 0, 4, "tensors", &tensors)
			  ?: fb_vector(fb, &sg, 3, 4, "operators", &ops);
	}
	if (ret)
		return ret;

	m->tensors = calloc(tensors.len ? tensors.len : 1, sizeof(*m->tensors));
	m->ops = calloc(ops.len ? ops.len : 1, sizeof(*m->ops));
	if (!m->tensors || !m->ops)
		return -ENOMEM;
	for (uint32_t i = 0; i < tensors.len; i++) {
		struct fb_table t;

		fb_context(fb, "tensor %u", i);
		m->n_tensors = (int)i + 1;
		ret = fb_vector_table(fb, &tensors, i, "tensor", &t)
			  ?: read_tensor(fb, &t, (int)i, bufs, n_bufs, &m->tensors[i]);
		if (ret)
			return ret;
	}
	for (uint32_t i = 0; i < ops.len; i++) {
		struct fb_table t;

		fb_context(fb, "operator %u", i);
		m->n_ops = (int)i + 1;
		ret =
		    fb_vector_table(fb, &ops, i, "operator", &t)
			?: read_operator(fb, &t, (int)i, codes, n_codes, m->n_tensors, &m->ops[i]);
		if (ret)
			return ret;
	}

	fb_context(fb, "subgraph 0");
	ret = fb_int_vector(fb, &sg, 1, "inputs", &m->inputs, &m->n_inputs) ?:
	      fb_int_vector(fb, &sg, 2, "outputs", &m->outputs, &m->n_outputs) ?:
	      check_indices(fb, m->inputs, m->n_inputs, m->n_tensors, 0, "inputs") ?:
	      check_indices(fb, m->outputs, m->n_outputs, m->n_tensors, 0, "outputs");
	if (ret)
		return ret;
	if (!m->n_inputs || !m->n_outputs)
		return fb_bad(fb, "the graph has %d inputs and %d outputs", m->n_inputs,
			      m->n_outputs);
	return 0;
}

static int parse_model(struct fb *fb, struct visid_tfl_model *m)
{
	struct raw_buffer *bufs = NULL;
	struct opcode *codes = NULL;
	uint32_t n_bufs = 0, n_codes = 0;
	struct fb_table model;
	int ret, version;

	if (fb->size < 8 || memcmp(fb->p + 4, "TFL3", 4))
		return fb_bad(fb, "not a TFLite flatbuffer (no TFL3 identifier)");
	ret = fb_table_at(fb, rd32(fb, 0), "model", &model) ?:
	      fb_i32(fb, &model, 0, "version", 0, &version) ?:
	      fb_string(fb, &model, 3, "description", &m->description);
	if (ret)
		return ret;
	if (version != 3)
		return fb_bad(fb, "schema version %d is not supported (3 expected)", version);

	ret = read_buffers(fb, &model, &bufs, &n_bufs) ?:
	      read_opcodes(fb, &model, m, &codes, &n_codes) ?:
	      read_subgraph(fb, &model, m, bufs, n_bufs, codes, n_codes);
	free(codes);
	free(bufs);
	return ret;
}

int visid_tfl_load(const char *path, struct visid_tfl_model **out)
{
	struct visid_tfl_model *m;
	struct fb fb = {.path = path};
	struct stat st;
	void *map;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		visid_err("%s: cannot open model: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		visid_err("%s: cannot stat model: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 8) {
		visid_err("%s: not a TFLite model (%lld bytes)", path, (long long)st.st_size);
		ret = -EINVAL;
		goto out_close;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		visid_err("%s: cannot map model: %s", path, strerror(errno));
		goto out_close;
	}
	fb.p = map;
	fb.size = st.st_size;

	m = calloc(1, sizeof(*m));
	if (!m || !(m->path = strdup(path))) {
		free(m);
		ret = -ENOMEM;
		goto out_unmap;
	}
	ret = parse_model(&fb, m);
	if (ret) {
		if (ret == -ENOMEM)
			visid_err("%s: out of memory while loading", path);
		visid_tfl_free(m);
		goto out_unmap;
	}
	*out = m;

out_unmap:
	munmap(map, st.st_size);
out_close:
	close(fd);
	return ret;
}

void visid_tfl_free(struct visid_tfl_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_tensors; i++) {
		free(m->tensors[i].name);
		free(m->tensors[i].data);
		free(m->tensors[i].ints);
	}
	for (int i = 0; i < m->n_ops; i++) {
		free(m->ops[i].inputs);
		free(m->ops[i].outputs);
	}
	for (int i = 0; i < m->n_custom; i++)
		free(m->custom_names[i]);
	free(m->custom_names);
	free(m->tensors);
	free(m->ops);
	free(m->inputs);
	free(m->outputs);
	free(m->description);
	free(m->path);
	free(m);
}
