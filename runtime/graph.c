/*
 * From TFLite operators to kernel layers. Operators are visited in file
 * order; each becomes one layer unless an earlier layer has already taken
 * it over (activation or PReLU fused into a conv or add, a channel PAD fused
 * into the add that consumes it). A fused group is only formed when every
 * intermediate tensor has exactly one consumer, so nothing another operator
 * needs is lost. Shapes are recomputed for the requested input size rather
 * than read from the file, which is what makes fully convolutional use work.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "visid/log.h"

/* Longest side of a computed tensor, window or stride: larger than any frame visid sees. */
#define MAX_SIDE 16384

struct builder {
	const struct visid_tfl_model *m;
	struct visid_graph *g;
	int flags;
	int *value_of;	 /* tensor -> value, -1 when not computed */
	int *const_src;	 /* tensor -> tensor holding its constant data, -1 if none */
	int *producer;	 /* tensor -> operator writing it, -1 for inputs/constants */
	int *n_cons;	 /* readers of each tensor, graph outputs counted */
	int *cons_start; /* CSR of the reading operators */
	int *cons;
	unsigned char *done;	  /* operator already covered by a fused layer */
	unsigned char *pad_fused; /* PAD operator folded into its ADD */
	int cap_values, cap_layers;
};

static int op_error(struct builder *b, int k, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int op_error(struct builder *b, int k, int err, const char *fmt, ...)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	visid_err("%s: operator %d (%s): %s", b->m->path, k, op->name, msg);
	return err;
}

const char *visid_layer_kind_name(enum visid_layer_kind kind)
{
	static const char *const names[] = {"conv",   "maxpool", "add", "eltwise",
					    "resize", "pad",	 "copy"};

	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

static const struct visid_tfl_tensor *tensor(struct builder *b, int t)
{
	return &b->m->tensors[t];
}

/* The fp32 contents of a constant operand (through DEQUANTIZE), or NULL. */
static const struct visid_tfl_tensor *constant(struct builder *b, int t)
{
	if (t < 0 || b->const_src[t] < 0)
		return NULL;
	return tensor(b, b->const_src[t]);
}

static int new_value(struct builder *b, int t, int rank, const int *shape)
{
	struct visid_graph_value *v = &b->g->values[b->g->n_values];

	memset(v, 0, sizeof(*v));
	v->rank = rank;
	v->count = 1;
	for (int d = 0; d < rank; d++) {
		v->shape[d] = shape[d];
		v->count *= (size_t)shape[d];
	}
	v->tensor = t;
	v->storage = b->g->n_values;
	v->buffer = -1;
	v->first = INT_MAX;
	v->last = -1;
	b->value_of[t] = b->g->n_values;
	return b->g->n_values++;
}

static struct visid_graph_layer *new_layer(struct builder *b, enum visid_layer_kind kind, int k,
					   const char *op)
{
	struct visid_graph_layer *l = &b->g->layers[b->g->n_layers++];

	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->first_op = l->last_op = k;
	l->in[0] = l->in[1] = -1;
	l->out = -1;
	snprintf(l->op, sizeof(l->op), "%s", op);
	return l;
}

static void finish_layer(struct builder *b, struct visid_graph_layer *l, int t, int value)
{
	l->tensor = t;
	l->name = tensor(b, t)->name;
	l->out = value;
}

static void append_op(struct visid_graph_layer *l, const char *name)
{
	size_t len = strlen(l->op);

	snprintf(l->op + len, sizeof(l->op) - len, "+%s", name);
}

/* The value computed for input slot `slot` of operator k. */
static int input_value(struct builder *b, int k, int slot, int *value)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	int t;

	if (slot >= op->n_inputs || op->inputs[slot] < 0)
		return op_error(b, k, -EINVAL, "input %d is missing", slot);
	t = op->inputs[slot];
	if (b->value_of[t] < 0)
		return op_error(b, k, -ENOTSUP,
				"input %d (%s) is not computed by an earlier operator", slot,
				tensor(b, t)->name);
	*value = b->value_of[t];
	return 0;
}

static int output_tensor(struct builder *b, int k, int *t)
{
	const struct visid_tfl_op *op = &b->m->ops[k];

	if (op->n_outputs != 1)
		return op_error(b, k, -ENOTSUP, "%d outputs, one expected", op->n_outputs);
	*t = op->outputs[0];
	if (b->value_of[*t] >= 0)
		return op_error(b, k, -EINVAL, "output %s is already written by another operator",
				tensor(b, *t)->name);
	if (tensor(b, *t)->type != VISID_TFL_FLOAT32)
		return op_error(b, k, -ENOTSUP, "output %s has tensor type %d; only float32 runs",
				tensor(b, *t)->name, tensor(b, *t)->type);
	if (constant(b, *t))
		return op_error(b, k, -EINVAL, "output %s is also a constant", tensor(b, *t)->name);
	return 0;
}

static int value_channels(const struct visid_graph_value *v)
{
	return v->rank ? v->shape[v->rank - 1] : 1;
}

static const char *shape_text(const struct visid_graph_value *v, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "[");

	for (int d = 0; d < v->rank && n < len; d++)
		n += (size_t)snprintf(buf + n, len - n, "%s%d", d ? "," : "", v->shape[d]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
	return buf;
}

static int same_shape(const struct visid_graph_value *a, const struct visid_graph_value *c)
{
	if (a->rank != c->rank)
		return 0;
	for (int d = 0; d < a->rank; d++)
		if (a->shape[d] != c->shape[d])
			return 0;
	return 1;
}

/* Output size and leading pad of one spatial axis (TensorFlow SAME/VALID). */
static int window_axis(int in, int k, int stride, int padding, int *out, int *before)
{
	/* No real window or stride is larger than a frame; a damaged file's would overflow. */
	if (k < 1 || stride < 1 || k > MAX_SIDE || stride > MAX_SIDE)
		return -EINVAL;
	if (padding == VISID_TFL_SAME) {
		int total;

		*out = (in + stride - 1) / stride;
		total = (*out - 1) * stride + k - in;
		*before = total > 0 ? total / 2 : 0;
	} else {
		*out = in >= k ? (in - k) / stride + 1 : 0;
		*before = 0;
	}
	return *out > 0 ? 0 : -EINVAL;
}

/* Fused activation of the conv/add at operator k, from TFLite options. */
static int options_act(struct builder *b, int k, enum visid_act *act)
{
	int a = b->m->ops[k].opt.act;

	if (a == VISID_TFL_ACT_NONE)
		*act = VISID_ACT_NONE;
	else if (a == VISID_TFL_ACT_RELU)
		*act = VISID_ACT_RELU;
	else
		return op_error(b, k, -ENOTSUP, "fused activation %d is not supported", a);
	return 0;
}

struct act_match {
	enum visid_act act;
	int tensor; /* output of the last operator of the group */
	int ops[5];
	int n_ops;
	const float *m; /* PReLU: slope = scale * m */
	float scale;
};

/* The only reader of tensor t, or -1 when t has another reader or is an output. */
static int single_consumer(struct builder *b, int t, int code)
{
	int k;

	if (b->n_cons[t] != 1 || b->cons_start[t + 1] - b->cons_start[t] != 1)
		return -1;
	k = b->cons[b->cons_start[t]];
	if (b->done[k] || b->m->ops[k].code != code || b->m->ops[k].n_outputs != 1)
		return -1;
	return k;
}

static int has_inputs(const struct visid_tfl_op *op, int x, int y)
{
	return op->n_inputs == 2 && op->inputs[0] == x && op->inputs[1] == y;
}

/*
 * TFLite stores PReLU expanded: relu(x) + m * (x - |x|), five operators
 * reading x three times. x < 0 gives 2m * x, so the slope is 2m (or -2m
 * when the SUB is written |x| - x).
 */
static int match_prelu(struct builder *b, int t, int c, struct act_match *am)
{
	int relu = -1, abs = -1, sub, mul, add, relu_out, abs_out, sub_out, mul_out;
	const struct visid_tfl_tensor *slope;
	const struct visid_tfl_op *op;

	if (b->n_cons[t] != 3 || b->cons_start[t + 1] - b->cons_start[t] != 3)
		return 0;
	for (int i = b->cons_start[t]; i < b->cons_start[t + 1]; i++) {
		int k = b->cons[i];

		if (b->m->ops[k].code == VISID_TFL_RELU && b->m->ops[k].n_inputs == 1)
			relu = k;
		else if (b->m->ops[k].code == VISID_TFL_ABS && b->m->ops[k].n_inputs == 1)
			abs = k;
	}
	if (relu < 0 || abs < 0 || b->done[relu] || b->done[abs] ||
	    b->m->ops[relu].n_outputs != 1 || b->m->ops[abs].n_outputs != 1)
		return 0;
	relu_out = b->m->ops[relu].outputs[0];
	abs_out = b->m->ops[abs].outputs[0];

	sub = single_consumer(b, abs_out, VISID_TFL_SUB);
	if (sub < 0 || b->m->ops[sub].opt.act != VISID_TFL_ACT_NONE)
		return 0;
	op = &b->m->ops[sub];
	if (has_inputs(op, t, abs_out))
		am->scale = 2.0f;
	else if (has_inputs(op, abs_out, t))
		am->scale = -2.0f;
	else
		return 0;
	sub_out = op->outputs[0];

	mul = single_consumer(b, sub_out, VISID_TFL_MUL);
	if (mul < 0 || b->m->ops[mul].opt.act != VISID_TFL_ACT_NONE)
		return 0;
	op = &b->m->ops[mul];
	if (has_inputs(op, sub_out, op->inputs[1]))
		slope = constant(b, op->inputs[1]);
	else if (has_inputs(op, op->inputs[0], sub_out))
		slope = constant(b, op->inputs[0]);
	else
		return 0;
	if (!slope || !slope->data || slope->count != (size_t)c)
		return 0;
	mul_out = op->outputs[0];

	add = single_consumer(b, mul_out, VISID_TFL_ADD);
	if (add < 0 || b->m->ops[add].opt.act != VISID_TFL_ACT_NONE)
		return 0;
	op = &b->m->ops[add];
	if (!has_inputs(op, relu_out, mul_out) && !has_inputs(op, mul_out, relu_out))
		return 0;
	if (single_consumer(b, relu_out, VISID_TFL_ADD) != add)
		return 0;

	am->act = VISID_ACT_PRELU;
	am->tensor = op->outputs[0];
	am->m = slope->data;
	am->ops[0] = relu;
	am->ops[1] = abs;
	am->ops[2] = sub;
	am->ops[3] = mul;
	am->ops[4] = add;
	am->n_ops = 5;
	return 1;
}

/* An activation that can be folded into the layer producing tensor t. */
static int match_activation(struct builder *b, int t, int c, struct act_match *am)
{
	int relu;

	memset(am, 0, sizeof(*am));
	if (b->flags & VISID_GRAPH_NO_FUSE)
		return 0;
	relu = single_consumer(b, t, VISID_TFL_RELU);
	if (relu >= 0 && b->m->ops[relu].n_inputs == 1) {
		am->act = VISID_ACT_RELU;
		am->tensor = b->m->ops[relu].outputs[0];
		am->ops[0] = relu;
		am->n_ops = 1;
		return 1;
	}
	return match_prelu(b, t, c, am);
}

/* Marks the matched operators as covered and records the slope when PReLU. */
static int apply_activation(struct builder *b, struct visid_graph_layer *l,
			    const struct act_match *am, int c, int *t, enum visid_act *act)
{
	for (int i = 0; i < am->n_ops; i++) {
		b->done[am->ops[i]] = 1;
		if (am->ops[i] > l->last_op)
			l->last_op = am->ops[i];
	}
	if (b->m->ops[am->ops[0]].code == VISID_TFL_RELU && am->act == VISID_ACT_RELU)
		append_op(l, "RELU");
	*act = am->act;
	*t = am->tensor;
	if (am->act == VISID_ACT_PRELU) {
		float *slope = malloc((size_t)c * sizeof(*slope));

		if (!slope)
			return -ENOMEM;
		for (int i = 0; i < c; i++)
			slope[i] = am->scale * am->m[i];
		b->g->owned[b->g->n_owned++] = slope;
		l->slope.data = slope;
		l->slope.count = (size_t)c;
		append_op(l, "PRELU");
	}
	return 0;
}

static int build_conv(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	const struct visid_tfl_tensor *w, *bias = NULL;
	int depthwise = op->code == VISID_TFL_DEPTHWISE_CONV_2D;
	struct visid_graph_layer *l;
	struct visid_conv_params *p;
	const struct visid_graph_value *x;
	struct act_match am;
	int xv, t, ret, shape[4];

	ret = input_value(b, k, 0, &xv) ?: output_tensor(b, k, &t);
	if (ret)
		return ret;
	x = &b->g->values[xv];
	w = op->n_inputs > 1 ? constant(b, op->inputs[1]) : NULL;
	if (op->n_inputs > 2 && op->inputs[2] >= 0)
		bias = constant(b, op->inputs[2]);
	if (x->rank != 4)
		return op_error(b, k, -ENOTSUP, "input of rank %d, NHWC expected", x->rank);
	if (!w || !w->data || w->rank != 4)
		return op_error(b, k, -ENOTSUP, "weights must be a constant 4-D float tensor");
	if (op->n_inputs > 2 && op->inputs[2] >= 0 && (!bias || !bias->data))
		return op_error(b, k, -ENOTSUP, "bias must be a constant float tensor");
	if (op->opt.dilation_w != 1 || op->opt.dilation_h != 1)
		return op_error(b, k, -ENOTSUP, "dilation %dx%d is not supported",
				op->opt.dilation_h, op->opt.dilation_w);
	if (op->opt.stride_w < 1 || op->opt.stride_h < 1)
		return op_error(b, k, -EINVAL, "stride %dx%d", op->opt.stride_h, op->opt.stride_w);

	l = new_layer(b, VISID_LAYER_CONV, k, op->name);
	p = &l->p.conv;
	p->batch = 1;
	p->in_h = x->shape[1];
	p->in_w = x->shape[2];
	p->in_c = x->shape[3];
	p->kernel_h = w->shape[1];
	p->kernel_w = w->shape[2];
	p->out_c = depthwise ? w->shape[3] : w->shape[0];
	p->stride_h = op->opt.stride_h;
	p->stride_w = op->opt.stride_w;
	p->depthwise = depthwise;
	if ((depthwise && (w->shape[0] != 1 || p->out_c != p->in_c)) ||
	    (!depthwise && w->shape[3] != p->in_c))
		return op_error(b, k, -ENOTSUP,
				"weights [%d,%d,%d,%d] do not fit %d input channels%s", w->shape[0],
				w->shape[1], w->shape[2], w->shape[3], p->in_c,
				depthwise ? " (depth multiplier must be 1)" : "");
	if (bias && bias->count != (size_t)p->out_c)
		return op_error(b, k, -EINVAL, "bias has %zu values for %d channels", bias->count,
				p->out_c);
	if (window_axis(p->in_h, p->kernel_h, p->stride_h, op->opt.padding, &p->out_h,
			&p->pad_top) ||
	    window_axis(p->in_w, p->kernel_w, p->stride_w, op->opt.padding, &p->out_w,
			&p->pad_left))
		return op_error(b, k, -EINVAL, "a %dx%d kernel does not fit a %dx%d input",
				p->kernel_h, p->kernel_w, p->in_h, p->in_w);
	ret = options_act(b, k, &p->act);
	if (ret)
		return ret;
	if (p->act == VISID_ACT_RELU)
		append_op(l, "RELU");
	else if (match_activation(b, t, p->out_c, &am))
		ret = apply_activation(b, l, &am, p->out_c, &t, &p->act);
	if (ret)
		return ret;

	l->in[0] = xv;
	l->weights.data = w->data;
	l->weights.count = w->count;
	if (bias) {
		l->bias.data = bias->data;
		l->bias.count = bias->count;
	}
	l->macs = (uint64_t)p->out_h * p->out_w * p->out_c * p->kernel_h * p->kernel_w *
		  (depthwise ? 1 : p->in_c);
	shape[0] = 1;
	shape[1] = p->out_h;
	shape[2] = p->out_w;
	shape[3] = p->out_c;
	finish_layer(b, l, t, new_value(b, t, 4, shape));
	return 0;
}

static int build_maxpool(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	const struct visid_graph_value *x;
	struct visid_graph_layer *l;
	struct visid_pool_params *p;
	int xv, t, ret, shape[4];

	ret = input_value(b, k, 0, &xv) ?: output_tensor(b, k, &t);
	if (ret)
		return ret;
	x = &b->g->values[xv];
	if (x->rank != 4)
		return op_error(b, k, -ENOTSUP, "input of rank %d, NHWC expected", x->rank);
	if (op->opt.act != VISID_TFL_ACT_NONE)
		return op_error(b, k, -ENOTSUP, "fused activation %d is not supported",
				op->opt.act);
	if (op->opt.stride_w < 1 || op->opt.stride_h < 1 || op->opt.filter_w < 1 ||
	    op->opt.filter_h < 1)
		return op_error(b, k, -EINVAL, "filter %dx%d stride %dx%d", op->opt.filter_h,
				op->opt.filter_w, op->opt.stride_h, op->opt.stride_w);

	l = new_layer(b, VISID_LAYER_MAXPOOL, k, op->name);
	p = &l->p.pool;
	p->batch = 1;
	p->in_h = x->shape[1];
	p->in_w = x->shape[2];
	p->c = x->shape[3];
	p->kernel_h = op->opt.filter_h;
	p->kernel_w = op->opt.filter_w;
	p->stride_h = op->opt.stride_h;
	p->stride_w = op->opt.stride_w;
	if (window_axis(p->in_h, p->kernel_h, p->stride_h, op->opt.padding, &p->out_h,
			&p->pad_top) ||
	    window_axis(p->in_w, p->kernel_w, p->stride_w, op->opt.padding, &p->out_w,
			&p->pad_left))
		return op_error(b, k, -EINVAL, "a %dx%d window does not fit a %dx%d input",
				p->kernel_h, p->kernel_w, p->in_h, p->in_w);
	l->in[0] = xv;
	shape[0] = 1;
	shape[1] = p->out_h;
	shape[2] = p->out_w;
	shape[3] = p->c;
	finish_layer(b, l, t, new_value(b, t, 4, shape));
	return 0;
}

/* PAD operator k pads only the channels at the end: [0,0],[0,0],[0,0],[0,n]. */
static int channel_pad(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	const struct visid_tfl_tensor *pads;

	if (op->n_inputs != 2 || op->n_outputs != 1)
		return 0;
	pads = constant(b, op->inputs[1]);
	if (!pads || !pads->ints || pads->count != 8)
		return 0;
	for (int i = 0; i < 7; i++)
		if (pads->ints[i])
			return 0;
	return pads->ints[7] > 0;
}

/*
 * A channel PAD whose only reader is an ADD of two computed tensors is
 * folded into that ADD (missing channels read as zero), saving a pass.
 */
static void find_fusable_pads(struct builder *b)
{
	for (int k = 0; k < b->m->n_ops; k++) {
		const struct visid_tfl_op *op = &b->m->ops[k], *add;
		int a, other;

		if (op->code != VISID_TFL_PAD || !channel_pad(b, k) || constant(b, op->inputs[0]))
			continue;
		a = single_consumer(b, op->outputs[0], VISID_TFL_ADD);
		if (a < 0)
			continue;
		add = &b->m->ops[a];
		if (add->n_inputs != 2 || add->inputs[0] == add->inputs[1])
			continue;
		other = add->inputs[0] == op->outputs[0] ? add->inputs[1] : add->inputs[0];
		if (other < 0 || constant(b, other))
			continue;
		if (b->producer[other] >= 0 && b->pad_fused[b->producer[other]])
			continue;
		b->pad_fused[k] = 1;
	}
}

/* ADD of two computed tensors (one possibly channel-padded): the add kernel. */
static int build_add(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	const struct visid_graph_value *a, *bv;
	struct visid_graph_layer *l;
	struct visid_add_params *p;
	struct act_match am;
	int av, bvi, t, ret, pad_op = -1;

	for (int s = 0; s < 2; s++) {
		/* An omitted input (-1) has no producer; input_value reports it below. */
		int pr = op->inputs[s] >= 0 ? b->producer[op->inputs[s]] : -1;

		if (pr >= 0 && b->pad_fused[pr])
			pad_op = pr;
	}
	ret = output_tensor(b, k, &t);
	if (ret)
		return ret;
	if (pad_op >= 0) {
		int padded = b->m->ops[pad_op].outputs[0];
		int other = op->inputs[0] == padded ? 1 : 0;

		ret = input_value(b, k, other, &av) ?: input_value(b, pad_op, 0, &bvi);
	} else {
		ret = input_value(b, k, 0, &av) ?: input_value(b, k, 1, &bvi);
	}
	if (ret)
		return ret;
	a = &b->g->values[av];
	bv = &b->g->values[bvi];
	if (!value_channels(a) || !value_channels(bv))
		return op_error(b, k, -EINVAL, "an operand has no channels");
	if (pad_op >= 0) {
		int want = value_channels(bv) + constant(b, b->m->ops[pad_op].inputs[1])->ints[7];

		if (bv->rank != a->rank || value_channels(a) != want ||
		    bv->count / value_channels(bv) != a->count / value_channels(a))
			return op_error(b, k, -EINVAL, "padded operand does not match the other");
	} else if (!same_shape(a, bv)) {
		char sa[64], sb[64];

		return op_error(b, k, -ENOTSUP, "operand shapes %s and %s differ (no broadcasting)",
				shape_text(a, sa, sizeof(sa)), shape_text(bv, sb, sizeof(sb)));
	}

	l = new_layer(b, VISID_LAYER_ADD, k, op->name);
	p = &l->p.add;
	p->c = value_channels(a);
	p->b_c = value_channels(bv);
	p->pixels = a->count / p->c;
	if (pad_op >= 0) {
		snprintf(l->op, sizeof(l->op), "PAD+ADD");
		l->first_op = pad_op;
	}
	ret = options_act(b, k, &p->act);
	if (ret)
		return ret;
	if (p->act == VISID_ACT_RELU)
		append_op(l, "RELU");
	else if (match_activation(b, t, p->c, &am))
		ret = apply_activation(b, l, &am, p->c, &t, &p->act);
	if (ret)
		return ret;
	l->in[0] = av;
	l->in[1] = bvi;
	finish_layer(b, l, t, new_value(b, t, a->rank, a->shape));
	return 0;
}

static enum visid_eltwise_op eltwise_of(int code)
{
	switch (code) {
	case VISID_TFL_RELU:
		return VISID_ELT_RELU;
	case VISID_TFL_ABS:
		return VISID_ELT_ABS;
	case VISID_TFL_ADD:
		return VISID_ELT_ADD;
	case VISID_TFL_SUB:
		return VISID_ELT_SUB;
	default:
		return VISID_ELT_MUL;
	}
}

/* Per-channel copy of a scalar constant, so the kernel sees one layout. */
static int broadcast_scalar(struct builder *b, float v, int c, struct visid_graph_const *out)
{
	float *data = malloc((size_t)c * sizeof(*data));

	if (!data)
		return -ENOMEM;
	for (int i = 0; i < c; i++)
		data[i] = v;
	b->g->owned[b->g->n_owned++] = data;
	out->data = data;
	out->count = (size_t)c;
	return 0;
}

/*
 * Unfused elementwise operators: unary RELU/ABS, and ADD/SUB/MUL of a
 * computed tensor with a tensor of its shape or a per-channel constant.
 */
static int build_eltwise(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	int binary = op->code != VISID_TFL_RELU && op->code != VISID_TFL_ABS;
	const struct visid_tfl_tensor *cst = NULL;
	const struct visid_graph_value *a;
	struct visid_graph_layer *l;
	struct visid_eltwise_params *p;
	int av, bvi = -1, t, ret, a_slot = 0;

	if (binary && op->n_inputs != 2)
		return op_error(b, k, -EINVAL, "%d inputs, two expected", op->n_inputs);
	if (binary && op->opt.act != VISID_TFL_ACT_NONE)
		return op_error(b, k, -ENOTSUP, "fused activation %d is not supported",
				op->opt.act);
	if (binary && constant(b, op->inputs[0])) {
		if (op->code == VISID_TFL_SUB)
			return op_error(b, k, -ENOTSUP, "constant minus tensor is not supported");
		a_slot = 1;
	}
	ret = input_value(b, k, a_slot, &av) ?: output_tensor(b, k, &t);
	if (ret)
		return ret;
	a = &b->g->values[av];

	l = new_layer(b, VISID_LAYER_ELTWISE, k, op->name);
	p = &l->p.eltwise;
	p->op = eltwise_of(op->code);
	p->c = value_channels(a);
	p->pixels = p->c ? a->count / p->c : 0;
	if (binary) {
		cst = constant(b, op->inputs[1 - a_slot]);
		if (!cst) {
			ret = input_value(b, k, 1 - a_slot, &bvi);
			if (ret)
				return ret;
			if (!same_shape(a, &b->g->values[bvi])) {
				char sa[64], sb[64];

				return op_error(b, k, -ENOTSUP,
						"operand shapes %s and %s differ (no broadcasting)",
						shape_text(a, sa, sizeof(sa)),
						shape_text(&b->g->values[bvi], sb, sizeof(sb)));
			}
		} else if (!cst->data) {
			return op_error(b, k, -ENOTSUP, "constant operand is not float");
		} else if (cst->count == 1) {
			ret = broadcast_scalar(b, cst->data[0], p->c, &l->operand);
			p->b_per_channel = 1;
		} else if (cst->count == (size_t)p->c && cst->shape[cst->rank - 1] == p->c) {
			l->operand.data = cst->data;
			l->operand.count = cst->count;
			p->b_per_channel = 1;
		} else {
			return op_error(
			    b, k, -ENOTSUP,
			    "constant of %zu values does not broadcast per channel over %d",
			    cst->count, p->c);
		}
	}
	if (ret)
		return ret;
	l->in[0] = av;
	l->in[1] = bvi;
	finish_layer(b, l, t, new_value(b, t, a->rank, a->shape));
	return 0;
}

static int build_binary(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];

	if (op->code == VISID_TFL_ADD && op->n_inputs == 2 && !constant(b, op->inputs[0]) &&
	    !constant(b, op->inputs[1]))
		return build_add(b, k);
	return build_eltwise(b, k);
}

static int build_pad(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	const struct visid_tfl_tensor *pads;
	const struct visid_graph_value *x;
	struct visid_graph_layer *l;
	struct visid_pad_params *p;
	int xv, t, ret;

	if (b->pad_fused[k])
		return 0;
	ret = input_value(b, k, 0, &xv) ?: output_tensor(b, k, &t);
	if (ret)
		return ret;
	x = &b->g->values[xv];
	pads = op->n_inputs > 1 ? constant(b, op->inputs[1]) : NULL;
	if (x->rank != 4 || !pads || !pads->ints || pads->count != 8)
		return op_error(b, k, -ENOTSUP, "only constant paddings of a 4-D tensor run");

	l = new_layer(b, VISID_LAYER_PAD, k, op->name);
	p = &l->p.pad;
	for (int d = 0; d < 4; d++) {
		if (pads->ints[2 * d] < 0 || pads->ints[2 * d + 1] < 0 ||
		    pads->ints[2 * d] > 4096 || pads->ints[2 * d + 1] > 4096)
			return op_error(b, k, -EINVAL, "padding %d,%d of dimension %d",
					pads->ints[2 * d], pads->ints[2 * d + 1], d);
		p->in[d] = x->shape[d];
		p->before[d] = pads->ints[2 * d];
		p->out[d] = x->shape[d] + pads->ints[2 * d] + pads->ints[2 * d + 1];
	}
	l->in[0] = xv;
	finish_layer(b, l, t, new_value(b, t, 4, p->out));
	return 0;
}

/*
 * The target size scales with the input: a x2 upsampling in the file stays
 * x2 when the network runs on a larger input. A size from a damaged file
 * must neither overflow nor ask for a buffer larger than any real frame
 * (MAX_SIDE).
 */
static int resize_axis_size(int in, int file_in, int file_out, int *out)
{
	long long size;

	if (in == file_in)
		size = file_out;
	else if (file_in > 0 && file_out % file_in == 0)
		size = (long long)in * (file_out / file_in);
	else if (file_in > 0 && file_out > 0 && file_in % file_out == 0 &&
		 in % (file_in / file_out) == 0)
		size = in / (file_in / file_out);
	else
		return -EINVAL;
	if (size < 1 || size > MAX_SIDE)
		return -EINVAL;
	*out = (int)size;
	return 0;
}

static int build_resize(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	const struct visid_tfl_tensor *size, *file_in;
	const struct visid_graph_value *x;
	struct visid_graph_layer *l;
	struct visid_resize_params *p;
	int xv, t, ret, shape[4];

	ret = input_value(b, k, 0, &xv) ?: output_tensor(b, k, &t);
	if (ret)
		return ret;
	x = &b->g->values[xv];
	size = op->n_inputs > 1 ? constant(b, op->inputs[1]) : NULL;
	file_in = tensor(b, op->inputs[0]);
	if (x->rank != 4 || file_in->rank != 4 || !size || !size->ints || size->count != 2)
		return op_error(b, k, -ENOTSUP, "needs a 4-D input and a constant size [2]");

	l = new_layer(b, VISID_LAYER_RESIZE, k, op->name);
	p = &l->p.resize;
	p->batch = 1;
	p->in_h = x->shape[1];
	p->in_w = x->shape[2];
	p->c = x->shape[3];
	p->align_corners = op->opt.align_corners;
	p->half_pixel_centers = op->opt.half_pixel_centers;
	if (resize_axis_size(p->in_h, file_in->shape[1], size->ints[0], &p->out_h) ||
	    resize_axis_size(p->in_w, file_in->shape[2], size->ints[1], &p->out_w) ||
	    p->out_h < 1 || p->out_w < 1)
		return op_error(b, k, -EINVAL, "size %dx%d does not scale to a %dx%d input",
				size->ints[0], size->ints[1], p->in_h, p->in_w);
	l->in[0] = xv;
	shape[0] = 1;
	shape[1] = p->out_h;
	shape[2] = p->out_w;
	shape[3] = p->c;
	finish_layer(b, l, t, new_value(b, t, 4, shape));
	return 0;
}

/*
 * RESHAPE costs nothing: the output is another view of the same storage.
 * The file's target shape, batch set to 1; when the input is larger than
 * the file's (fully convolutional use), the one free middle dimension grows.
 */
static int build_reshape(struct builder *b, int k)
{
	const struct visid_tfl_tensor *target;
	const struct visid_graph_value *x;
	int xv, t, ret, v, shape[VISID_TFL_MAX_RANK];
	size_t count = 1;

	ret = input_value(b, k, 0, &xv) ?: output_tensor(b, k, &t);
	if (ret)
		return ret;
	x = &b->g->values[xv];
	target = tensor(b, t);
	if (target->rank < 1)
		return op_error(b, k, -ENOTSUP, "target shape of rank 0");
	for (int d = 0; d < target->rank; d++) {
		shape[d] = d ? target->shape[d] : 1;
		count *= (size_t)shape[d];
	}
	if (count != x->count && target->rank >= 2) {
		size_t rest = 1;

		for (int d = 2; d < target->rank; d++)
			rest *= (size_t)shape[d];
		if (rest && x->count % rest == 0) {
			shape[1] = (int)(x->count / rest);
			count = x->count;
		}
	}
	if (count != x->count)
		return op_error(b, k, -EINVAL, "%zu elements cannot become shape %s", x->count,
				target->name);
	v = new_value(b, t, target->rank, shape);
	b->g->values[v].storage = b->g->values[xv].storage;
	return 0;
}

/* CONCATENATION: one strided copy per input into the shared output. */
static int build_concat(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];
	const struct visid_graph_value *first;
	int t, ret, axis, v, xv, total = 0, shape[VISID_TFL_MAX_RANK];
	size_t outer = 1, inner = 1, offset = 0;

	ret = input_value(b, k, 0, &xv) ?: output_tensor(b, k, &t);
	if (ret)
		return ret;
	if (op->opt.act != VISID_TFL_ACT_NONE)
		return op_error(b, k, -ENOTSUP, "fused activation %d is not supported",
				op->opt.act);
	first = &b->g->values[xv];
	axis = op->opt.axis < 0 ? op->opt.axis + first->rank : op->opt.axis;
	if (axis < 0 || axis >= first->rank)
		return op_error(b, k, -EINVAL, "axis %d of a rank %d tensor", op->opt.axis,
				first->rank);
	for (int i = 0; i < op->n_inputs; i++) {
		const struct visid_graph_value *x;

		ret = input_value(b, k, i, &xv);
		if (ret)
			return ret;
		x = &b->g->values[xv];
		for (int d = 0; d < first->rank; d++)
			if (x->rank != first->rank || (d != axis && x->shape[d] != first->shape[d]))
				return op_error(b, k, -EINVAL,
						"input %d does not match input 0 outside axis %d",
						i, axis);
		total += x->shape[axis];
	}
	for (int d = 0; d < first->rank; d++) {
		shape[d] = d == axis ? total : first->shape[d];
		if (d < axis)
			outer *= (size_t)shape[d];
		if (d > axis)
			inner *= (size_t)shape[d];
	}
	v = new_value(b, t, first->rank, shape);
	for (int i = 0; i < op->n_inputs; i++) {
		struct visid_graph_layer *l = new_layer(b, VISID_LAYER_COPY, k, op->name);

		input_value(b, k, i, &xv);
		l->in[0] = xv;
		l->p.copy.outer = outer;
		l->p.copy.inner_in = (size_t)b->g->values[xv].shape[axis] * inner;
		l->p.copy.inner_out = (size_t)total * inner;
		l->p.copy.offset = offset;
		offset += l->p.copy.inner_in;
		finish_layer(b, l, t, v);
	}
	return 0;
}

static int build_op(struct builder *b, int k)
{
	const struct visid_tfl_op *op = &b->m->ops[k];

	switch (op->code) {
	case VISID_TFL_DEQUANTIZE:
		if (op->n_inputs != 1 || op->n_outputs != 1 || !constant(b, op->outputs[0]))
			return op_error(b, k, -ENOTSUP, "only constant weights may be dequantized");
		return 0;
	case VISID_TFL_CONV_2D:
	case VISID_TFL_DEPTHWISE_CONV_2D:
		return build_conv(b, k);
	case VISID_TFL_MAX_POOL_2D:
		return build_maxpool(b, k);
	case VISID_TFL_ADD:
	case VISID_TFL_SUB:
	case VISID_TFL_MUL:
		return build_binary(b, k);
	case VISID_TFL_RELU:
	case VISID_TFL_ABS:
		if (op->n_inputs != 1)
			return op_error(b, k, -EINVAL, "%d inputs, one expected", op->n_inputs);
		return build_eltwise(b, k);
	case VISID_TFL_PAD:
		return build_pad(b, k);
	case VISID_TFL_RESIZE_BILINEAR:
		return build_resize(b, k);
	case VISID_TFL_RESHAPE:
		return build_reshape(b, k);
	case VISID_TFL_CONCATENATION:
		return build_concat(b, k);
	}
	return op_error(b, k, -ENOTSUP, "operator %s (builtin code %d) is not supported", op->name,
			op->code);
}

/* Constants, DEQUANTIZE aliases, producers and readers of every tensor. */
static int index_tensors(struct builder *b)
{
	const struct visid_tfl_model *m = b->m;
	int n = m->n_tensors, total = 0;

	for (int t = 0; t < n; t++) {
		b->value_of[t] = -1;
		b->producer[t] = -1;
		b->const_src[t] = m->tensors[t].data || m->tensors[t].ints ? t : -1;
	}
	for (int k = 0; k < m->n_ops; k++) {
		const struct visid_tfl_op *op = &m->ops[k];

		for (int o = 0; o < op->n_outputs; o++)
			b->producer[op->outputs[o]] = k;
		if (op->code == VISID_TFL_DEQUANTIZE && op->n_inputs == 1 && op->n_outputs == 1 &&
		    op->inputs[0] >= 0 && b->const_src[op->inputs[0]] >= 0 &&
		    m->tensors[op->outputs[0]].count == m->tensors[op->inputs[0]].count)
			b->const_src[op->outputs[0]] = b->const_src[op->inputs[0]];
	}
	for (int k = 0; k < m->n_ops; k++)
		for (int i = 0; i < m->ops[k].n_inputs; i++)
			if (m->ops[k].inputs[i] >= 0 && m->ops[k].code != VISID_TFL_DEQUANTIZE) {
				b->n_cons[m->ops[k].inputs[i]]++;
				total++;
			}
	b->cons = malloc((total ? total : 1) * sizeof(int));
	if (!b->cons)
		return -ENOMEM;
	for (int t = 0; t < n; t++)
		b->cons_start[t + 1] = b->cons_start[t] + b->n_cons[t];
	memset(b->n_cons, 0, n * sizeof(int));
	for (int k = 0; k < m->n_ops; k++)
		for (int i = 0; i < m->ops[k].n_inputs; i++) {
			int t = m->ops[k].inputs[i];

			if (t >= 0 && m->ops[k].code != VISID_TFL_DEQUANTIZE)
				b->cons[b->cons_start[t] + b->n_cons[t]++] = k;
		}
	for (int i = 0; i < m->n_outputs; i++)
		b->n_cons[m->outputs[i]]++;
	return 0;
}

static int create_input(struct builder *b, int height, int width)
{
	const struct visid_tfl_model *m = b->m;
	const struct visid_tfl_tensor *in = &m->tensors[m->inputs[0]];
	int shape[4];

	if (m->n_inputs != 1) {
		visid_err("%s: %d inputs; the executor runs single-input models", m->path,
			  m->n_inputs);
		return -ENOTSUP;
	}
	if (in->rank != 4 || in->type != VISID_TFL_FLOAT32 || b->const_src[m->inputs[0]] >= 0) {
		visid_err("%s: input %s is not a float32 NHWC tensor", m->path, in->name);
		return -ENOTSUP;
	}
	shape[0] = 1;
	shape[1] = height ? height : in->shape[1];
	shape[2] = width ? width : in->shape[2];
	shape[3] = in->shape[3];
	if (shape[1] < 1 || shape[2] < 1 || shape[3] < 1 || shape[1] > 8192 || shape[2] > 8192) {
		visid_err("%s: input size %dx%dx%d is out of range", m->path, shape[1], shape[2],
			  shape[3]);
		return -EINVAL;
	}
	b->g->input = new_value(b, m->inputs[0], 4, shape);
	b->g->values[b->g->input].first = -1;
	return 0;
}

static int assign_outputs(struct builder *b)
{
	const struct visid_tfl_model *m = b->m;
	struct visid_graph *g = b->g;

	g->outputs = calloc(m->n_outputs, sizeof(int));
	if (!g->outputs)
		return -ENOMEM;
	for (int i = 0; i < m->n_outputs; i++) {
		int v = b->value_of[m->outputs[i]];

		if (v < 0) {
			visid_err("%s: output %s is not computed by any operator", m->path,
				  m->tensors[m->outputs[i]].name);
			return -EINVAL;
		}
		g->outputs[g->n_outputs++] = v;
	}
	return 0;
}

/* Layers and graph outputs reading each storage. */
static int *count_readers(const struct visid_graph *g)
{
	int *readers = calloc(g->n_values ? g->n_values : 1, sizeof(int));

	if (!readers)
		return NULL;
	for (int i = 0; i < g->n_layers; i++)
		for (int j = 0; j < 2; j++)
			if (g->layers[i].in[j] >= 0)
				readers[g->values[g->layers[i].in[j]].storage]++;
	for (int i = 0; i < g->n_outputs; i++)
		readers[g->values[g->outputs[i]].storage]++;
	return readers;
}

/* The layer writing value v (-1: the input or none), searched before `before`. */
static int writer(const struct visid_graph *g, int v, int before)
{
	for (int i = before - 1; i >= 0; i--)
		if (g->layers[i].out >= 0 &&
		    g->values[g->layers[i].out].storage == g->values[v].storage)
			return i;
	return -1;
}

/* The 2x2 stride 2 unpadded pool whose only reader is the add, or -1. */
static int shortcut_pool(const struct visid_graph *g, const int *readers, int v, int add)
{
	int m = writer(g, v, add);
	const struct visid_pool_params *p;

	if (m < 0 || g->layers[m].kind != VISID_LAYER_MAXPOOL || readers[v] != 1 ||
	    g->values[v].storage != v)
		return -1;
	p = &g->layers[m].p.pool;
	if (p->kernel_h != 2 || p->kernel_w != 2 || p->stride_h != 2 || p->stride_w != 2 ||
	    p->pad_top || p->pad_left || p->in_h != 2 * p->out_h || p->in_w != 2 * p->out_w)
		return -1;
	return m;
}

/*
 * Folds the ADD at layer `add` into the dense conv computing one of its
 * operands, when nothing else reads that conv's output and the other
 * operand is ready before the conv runs and not written again before the
 * add. 0 when fused, with *removed_pool the shortcut pool folded in too
 * (-1: none); -1 when the add stays.
 */
static int fuse_add(struct visid_graph *g, const int *readers, int add, int *removed_pool)
{
	struct visid_graph_layer *l = &g->layers[add], *conv;
	const struct visid_add_params *a = &l->p.add;
	int slot, res, k, pool;
	char add_op[sizeof(l->op)];

	if (a->act != VISID_ACT_NONE && a->act != VISID_ACT_RELU)
		return -1;
	for (slot = 0; slot < 2; slot++) {
		int v = l->in[slot];

		if (slot == 1 && a->b_c != a->c)
			return -1;
		k = writer(g, v, add);
		if (k < 0 || g->layers[k].kind != VISID_LAYER_CONV ||
		    g->layers[k].p.conv.depthwise || g->layers[k].in[1] >= 0 ||
		    g->values[v].storage != v || readers[v] != 1)
			continue;
		res = l->in[1 - slot];
		pool = shortcut_pool(g, readers, res, add);
		if (pool >= 0)
			res = g->layers[pool].in[0];
		if (writer(g, res, k) == writer(g, res, add))
			break;
	}
	if (slot == 2)
		return -1;

	conv = &g->layers[k];
	conv->in[1] = res;
	conv->res.c = slot == 0 ? a->b_c : a->c;
	conv->res.act = a->act;
	conv->res.pool = pool >= 0;
	snprintf(add_op, sizeof(add_op), "%s", l->op);
	if (pool >= 0)
		append_op(conv, "MAX_POOL_2D");
	append_op(conv, add_op);
	conv->out = l->out;
	conv->name = l->name;
	conv->tensor = l->tensor;
	if (l->last_op > conv->last_op)
		conv->last_op = l->last_op;
	*removed_pool = pool;
	return 0;
}

static void remove_layer(struct visid_graph *g, int i)
{
	memmove(&g->layers[i], &g->layers[i + 1], (g->n_layers - i - 1) * sizeof(g->layers[0]));
	g->n_layers--;
}

/* Residual ADDs (and their shortcut pools) folded into the convs before them. */
static int fuse_residuals(struct visid_graph *g)
{
	int *readers = count_readers(g);

	if (!readers)
		return -ENOMEM;
	for (int i = 0; i < g->n_layers; i++) {
		int pool;

		if (g->layers[i].kind != VISID_LAYER_ADD || fuse_add(g, readers, i, &pool) != 0)
			continue;
		remove_layer(g, i);
		if (pool >= 0) {
			remove_layer(g, pool);
			i--;
		}
		i--;
	}
	free(readers);
	return 0;
}

/*
 * Any buffer offset a Vulkan device may ask for (both offset alignment
 * limits are at most 256 bytes), in floats of the narrowest tensors (fp16).
 */
#define IN_PLACE_ALIGN 128

/* Layers writing storage s. */
static int writers(const struct visid_graph *g, int s)
{
	int n = 0;

	for (int i = 0; i < g->n_layers; i++)
		n += g->layers[i].out >= 0 && g->values[g->layers[i].out].storage == s;
	return n;
}

/*
 * A CONCATENATION whose inputs lie whole, one after the other, in its
 * output (nothing outside the axis but a batch of 1) needs no copies: each
 * input written by a layer, read by nothing else and placed at an offset
 * any device accepts becomes that stretch of the output, and its copy
 * goes. Short-range's four copies of its heads' outputs go this way.
 */
static int place_concat_inputs(struct visid_graph *g)
{
	int *readers = count_readers(g);

	if (!readers)
		return -ENOMEM;
	for (int i = 0; i < g->n_layers; i++) {
		const struct visid_graph_layer *l = &g->layers[i];
		int s, c;

		if (l->kind != VISID_LAYER_COPY || l->p.copy.outer != 1 ||
		    l->p.copy.offset % IN_PLACE_ALIGN)
			continue;
		s = g->values[l->in[0]].storage;
		c = g->values[l->out].storage;
		if (s == g->values[g->input].storage || s == c || readers[s] != 1 ||
		    writers(g, s) != 1 || writer(g, s, i) < 0)
			continue;
		for (int v = 0; v < g->n_values; v++) {
			if (g->values[v].storage != s)
				continue;
			g->values[v].storage = c;
			g->values[v].offset += l->p.copy.offset;
		}
		remove_layer(g, i);
		i--;
	}
	free(readers);
	return 0;
}

/* First write and last read of every storage, in layer steps. */
static void compute_liveness(struct visid_graph *g)
{
	for (int i = 0; i < g->n_layers; i++) {
		const struct visid_graph_layer *l = &g->layers[i];
		struct visid_graph_value *out = &g->values[g->values[l->out].storage];

		if (out->first > i)
			out->first = i;
		if (out->last < i)
			out->last = i;
		for (int j = 0; j < 2; j++) {
			struct visid_graph_value *in;

			if (l->in[j] < 0)
				continue;
			in = &g->values[g->values[l->in[j]].storage];
			if (in->last < i)
				in->last = i;
		}
	}
	for (int i = 0; i < g->n_outputs; i++)
		g->values[g->values[g->outputs[i]].storage].last = g->n_layers;
}

/* The smallest free buffer that fits, else the largest free one (grown). */
static int pick_buffer(struct visid_graph *g, const int *owner, size_t need)
{
	int best = -1, largest = -1;

	for (int i = 0; i < g->n_buffers; i++) {
		if (owner[i] >= 0)
			continue;
		if (g->buffer_size[i] >= need &&
		    (best < 0 || g->buffer_size[i] < g->buffer_size[best]))
			best = i;
		if (largest < 0 || g->buffer_size[i] > g->buffer_size[largest])
			largest = i;
	}
	if (best >= 0)
		return best;
	if (largest >= 0)
		g->buffer_size[largest] = need;
	return largest;
}

static int plan_buffers(struct visid_graph *g, int keep_all)
{
	int n_storage = 0, ret = 0, *owner;

	for (int v = 0; v < g->n_values; v++)
		n_storage += g->values[v].storage == v;
	g->buffer_size = calloc(n_storage ? n_storage : 1, sizeof(size_t));
	owner = malloc((n_storage ? n_storage : 1) * sizeof(*owner));
	if (!g->buffer_size || !owner) {
		ret = -ENOMEM;
		goto out_free;
	}

	for (int i = 0; i < n_storage; i++)
		owner[i] = -1;
	/* Step -1 places the input; step i frees what died before i, then places i's output. */
	for (int step = -1; step < g->n_layers; step++) {
		for (int v = 0; v < g->n_values && !keep_all; v++) {
			struct visid_graph_value *s = &g->values[v];

			if (s->storage == v && s->buffer >= 0 && s->last < step &&
			    owner[s->buffer] == v)
				owner[s->buffer] = -1;
		}
		for (int v = 0; v < g->n_values; v++) {
			struct visid_graph_value *s = &g->values[v];
			int buf;

			if (s->storage != v || s->buffer >= 0 || s->first != step)
				continue;
			buf = keep_all ? -1 : pick_buffer(g, owner, s->count);
			if (buf < 0) {
				buf = g->n_buffers++;
				g->buffer_size[buf] = s->count;
			}
			owner[buf] = v;
			s->buffer = buf;
		}
	}
	for (int v = 0; v < g->n_values; v++)
		g->values[v].buffer = g->values[g->values[v].storage].buffer;

out_free:
	free(owner);
	return ret;
}

static void count_bytes(struct visid_graph *g)
{
	for (int i = 0; i < g->n_layers; i++) {
		struct visid_graph_layer *l = &g->layers[i];
		size_t floats =
		    l->weights.count + l->bias.count + l->slope.count + l->operand.count;

		for (int j = 0; j < 2; j++)
			if (l->in[j] >= 0)
				floats += g->values[l->in[j]].count;
		if (l->kind == VISID_LAYER_COPY)
			floats += g->values[l->in[0]].count;
		else
			floats += g->values[l->out].count;
		l->bytes = (uint64_t)floats * sizeof(float);
	}
}

static int alloc_builder(struct builder *b, struct visid_graph *g)
{
	const struct visid_tfl_model *m = b->m;
	int n = m->n_tensors, cap_layers = m->n_ops + 1;

	for (int k = 0; k < m->n_ops; k++)
		cap_layers += m->ops[k].n_inputs;
	g->values = calloc(n + m->n_ops + 1, sizeof(*g->values));
	g->layers = calloc(cap_layers, sizeof(*g->layers));
	g->owned = calloc(m->n_ops + 1, sizeof(*g->owned));
	b->value_of = calloc(n + 1, sizeof(int));
	b->const_src = calloc(n + 1, sizeof(int));
	b->producer = calloc(n + 1, sizeof(int));
	b->n_cons = calloc(n + 1, sizeof(int));
	b->cons_start = calloc(n + 2, sizeof(int));
	b->done = calloc(m->n_ops + 1, 1);
	b->pad_fused = calloc(m->n_ops + 1, 1);
	if (!g->values || !g->layers || !g->owned || !b->value_of || !b->const_src ||
	    !b->producer || !b->n_cons || !b->cons_start || !b->done || !b->pad_fused)
		return -ENOMEM;
	return 0;
}

static void free_builder(struct builder *b)
{
	free(b->value_of);
	free(b->const_src);
	free(b->producer);
	free(b->n_cons);
	free(b->cons_start);
	free(b->cons);
	free(b->done);
	free(b->pad_fused);
}

int visid_graph_build(const struct visid_tfl_model *model, int height, int width, int flags,
		      struct visid_graph **out)
{
	struct builder b = {.m = model, .flags = flags};
	struct visid_graph *g;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->model = model;
	b.g = g;
	ret = alloc_builder(&b, g) ?: index_tensors(&b);
	if (ret)
		goto out_free;
	if (!(flags & VISID_GRAPH_NO_FUSE))
		find_fusable_pads(&b);
	ret = create_input(&b, height, width);
	for (int k = 0; k < model->n_ops && !ret; k++)
		if (!b.done[k])
			ret = build_op(&b, k);
	if (!ret)
		ret = assign_outputs(&b);
	if (!ret && !(flags & VISID_GRAPH_NO_FUSE))
		ret = fuse_residuals(g);
	if (!ret && !(flags & VISID_GRAPH_NO_FUSE))
		ret = place_concat_inputs(g);
	if (ret)
		goto out_free;
	compute_liveness(g);
	ret = plan_buffers(g, flags & VISID_GRAPH_KEEP_ALL);
	if (ret)
		goto out_free;
	count_bytes(g);
	free_builder(&b);
	*out = g;
	return 0;

out_free:
	if (ret == -ENOMEM)
		visid_err("%s: out of memory while building the graph", model->path);
	free_builder(&b);
	visid_graph_free(g);
	return ret;
}

void visid_graph_free(struct visid_graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_owned; i++)
		free(g->owned[i]);
	free(g->owned);
	free(g->values);
	free(g->layers);
	free(g->outputs);
	free(g->buffer_size);
	free(g);
}
