/*
 * Networks: a validated model, instantiated as a graph for one input size
 * and run on one backend. The CPU backend calls the visid_cpu_* kernels
 * layer by layer. The Vulkan backend uploads every constant once, records
 * the whole graph into one command sequence at creation and replays it per
 * run, so a run costs one submit plus the input and output transfers.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "half.h"
#include "model_check.h"
#include "net_internal.h"
#include "vk.h"
#include "visid/log.h"

struct visid_model {
	struct visid_tfl_model *tfl;
	/* Whether fp16 tensors kept this model's outputs close to fp32 on fp16_gpu. */
	const struct visid_gpu *fp16_gpu;
	int fp16_ok;
};

/* Where a layer's constants live in the Vulkan weight buffer. */
struct vk_layer {
	VkDeviceSize weights, bias, slope, operand;
	int seq_first, seq_end; /* its dispatches in the sequence */
};

struct vk_state {
	struct visid_gpu *gpu;
	enum visid_vk_tensors tensors;	 /* AUTO (fp32) or FP16 */
	size_t elem;			 /* bytes per tensor element */
	struct visid_vk_buffer *input32; /* FP16: the fp32 input the sequence converts */
	void *scratch;			 /* host side of fp16 conversions */
	size_t scratch_size;
	struct visid_vk_buffer *weights;
	struct visid_vk_buffer **buffers;     /* one per graph buffer slot */
	struct visid_vk_buffer *staging_in;   /* NULL when the input buffer is mapped */
	struct visid_vk_buffer **staging_out; /* per output, NULL when mapped */
	struct visid_vk_seq *seq;
	struct visid_vk_seq *wipe; /* zeroes the buffers the host cannot map */
	struct vk_layer *layers;
};

struct visid_net {
	struct visid_model *model;
	enum visid_backend backend;
	int flags;
	struct visid_graph *graph;
	double *layer_ms;
	float **cpu_buffers; /* CPU backend: one per graph buffer slot */
	float **cpu_hwio;    /* CPU backend: each dense conv's weights, repacked once */
	struct vk_state vk;
};

int visid_model_load(const char *path, struct visid_model **out)
{
	struct visid_model *model;
	struct visid_graph *graph;
	int ret;

	/* A damaged or replaced file is refused before anything parses it. */
	ret = visid_model_verify(path);
	if (ret)
		return ret;
	model = calloc(1, sizeof(*model));
	if (!model)
		return -ENOMEM;
	ret = visid_tfl_load(path, &model->tfl);
	if (ret)
		goto out_free;
	/* Refuse at load time what could never run, with the operator named. */
	ret = visid_graph_build(model->tfl, 0, 0, 0, &graph);
	if (ret)
		goto out_free_tfl;
	visid_graph_free(graph);
	*out = model;
	return 0;

out_free_tfl:
	visid_tfl_free(model->tfl);
out_free:
	free(model);
	return ret;
}

void visid_model_free(struct visid_model *model)
{
	if (!model)
		return;
	visid_tfl_free(model->tfl);
	free(model);
}

const char *visid_model_path(const struct visid_model *model)
{
	return model->tfl->path;
}

void visid_model_input_shape(const struct visid_model *model, int shape[4])
{
	const struct visid_tfl_tensor *t = &model->tfl->tensors[model->tfl->inputs[0]];

	for (int d = 0; d < 4; d++)
		shape[d] = d < t->rank ? t->shape[d] : 1;
}

const struct visid_tfl_model *visid_model_tflite(const struct visid_model *model)
{
	return model->tfl;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU backend */

static float *cpu_value(struct visid_net *net, int value)
{
	const struct visid_graph_value *v;

	if (value < 0)
		return NULL;
	v = &net->graph->values[value];
	return net->cpu_buffers[v->buffer] + v->offset;
}

static int cpu_create(struct visid_net *net)
{
	const struct visid_graph *g = net->graph;

	net->cpu_buffers = calloc(g->n_buffers, sizeof(float *));
	if (!net->cpu_buffers)
		return -ENOMEM;
	for (int i = 0; i < g->n_buffers; i++) {
		net->cpu_buffers[i] =
		    malloc((g->buffer_size[i] ? g->buffer_size[i] : 1) * sizeof(float));
		if (!net->cpu_buffers[i])
			return -ENOMEM;
	}
	net->cpu_hwio = calloc(g->n_layers, sizeof(float *));
	if (!net->cpu_hwio)
		return -ENOMEM;
	for (int i = 0; i < g->n_layers; i++) {
		const struct visid_graph_layer *l = &g->layers[i];

		if (l->kind != VISID_LAYER_CONV || l->p.conv.depthwise)
			continue;
		net->cpu_hwio[i] = malloc(l->weights.count * sizeof(float));
		if (!net->cpu_hwio[i])
			return -ENOMEM;
		visid_cpu_dense_to_hwio(&l->p.conv, l->weights.data, net->cpu_hwio[i]);
	}
	return 0;
}

static void cpu_destroy(struct visid_net *net)
{
	if (!net->cpu_buffers)
		return;
	for (int i = 0; i < net->graph->n_buffers; i++)
		free(net->cpu_buffers[i]);
	free(net->cpu_buffers);
	for (int i = 0; net->cpu_hwio && i < net->graph->n_layers; i++)
		free(net->cpu_hwio[i]);
	free(net->cpu_hwio);
}

/* The ADD fused into a conv: out = act(out + r), r max-pooled 2x2 first when asked. */
static void cpu_residual(const struct visid_graph_layer *l, const float *r, float *out)
{
	const struct visid_conv_params *p = &l->p.conv;
	int rw = l->res.pool ? 2 * p->out_w : p->out_w;

	for (int y = 0; y < p->batch * p->out_h; y++) {
		for (int x = 0; x < p->out_w; x++) {
			float *o = out + ((size_t)y * p->out_w + x) * p->out_c;

			for (int c = 0; c < l->res.c; c++) {
				float v;

				if (l->res.pool) {
					const float *q =
					    r + ((size_t)2 * y * rw + 2 * x) * l->res.c + c;
					size_t down = (size_t)rw * l->res.c;

					v = fmaxf(fmaxf(q[0], q[l->res.c]),
						  fmaxf(q[down], q[down + l->res.c]));
				} else {
					v = r[((size_t)y * p->out_w + x) * l->res.c + c];
				}
				o[c] += v;
			}
			if (l->res.act == VISID_ACT_RELU)
				for (int c = 0; c < p->out_c; c++)
					o[c] = fmaxf(o[c], 0.0f);
		}
	}
}

static void cpu_layer(struct visid_net *net, const struct visid_graph_layer *l)
{
	const float *a = cpu_value(net, l->in[0]), *b = cpu_value(net, l->in[1]);
	float *out = cpu_value(net, l->out);

	switch (l->kind) {
	case VISID_LAYER_CONV:
		if (l->p.conv.depthwise)
			visid_cpu_conv(&l->p.conv, a, l->weights.data, l->bias.data, l->slope.data,
				       out);
		else
			visid_cpu_conv_hwio(&l->p.conv, a, net->cpu_hwio[l - net->graph->layers],
					    l->bias.data, l->slope.data, out);
		if (b)
			cpu_residual(l, b, out);
		break;
	case VISID_LAYER_MAXPOOL:
		visid_cpu_maxpool(&l->p.pool, a, out);
		break;
	case VISID_LAYER_ADD:
		visid_cpu_add(&l->p.add, a, b, l->slope.data, out);
		break;
	case VISID_LAYER_ELTWISE:
		visid_cpu_eltwise(&l->p.eltwise, a, b ? b : l->operand.data, out);
		break;
	case VISID_LAYER_RESIZE:
		visid_cpu_resize(&l->p.resize, a, out);
		break;
	case VISID_LAYER_PAD:
		visid_cpu_pad(&l->p.pad, a, out);
		break;
	case VISID_LAYER_COPY:
		visid_cpu_copy(&l->p.copy, a, out);
		break;
	}
}

static int cpu_run(struct visid_net *net, const float *input, float *const *outputs)
{
	const struct visid_graph *g = net->graph;

	memcpy(cpu_value(net, g->input), input, g->values[g->input].count * sizeof(float));
	for (int i = 0; i < g->n_layers; i++) {
		double t0 = now_ms();

		cpu_layer(net, &g->layers[i]);
		net->layer_ms[i] = now_ms() - t0;
	}
	for (int i = 0; i < g->n_outputs; i++)
		memcpy(outputs[i], cpu_value(net, g->outputs[i]),
		       g->values[g->outputs[i]].count * sizeof(float));
	return 0;
}

/* Vulkan backend */

static VkDeviceSize align_up(VkDeviceSize v, VkDeviceSize a)
{
	return (v + a - 1) / a * a;
}

static struct visid_vk_view vk_value(struct visid_net *net, int value)
{
	const struct visid_graph_value *v;

	if (value < 0)
		return visid_vk_view(NULL, 0, 0);
	v = &net->graph->values[value];
	return visid_vk_view(net->vk.buffers[v->buffer], v->offset * net->vk.elem,
			     v->count * net->vk.elem);
}

/* Where the fp32 input goes: the input tensor, or in FP16 the buffer converted from. */
static struct visid_vk_view vk_input(struct visid_net *net)
{
	if (net->vk.input32)
		return visid_vk_whole(net->vk.input32);
	return vk_value(net, net->graph->input);
}

static struct visid_vk_view vk_const(struct visid_net *net, const struct visid_graph_const *c,
				     VkDeviceSize offset)
{
	if (!c->count)
		return visid_vk_view(NULL, 0, 0);
	return visid_vk_view(net->vk.weights, offset, c->count * net->vk.elem);
}

/* Lays out every constant at aligned offsets of one buffer and uploads it once. */
static int vk_upload_weights(struct visid_net *net)
{
	const struct visid_graph *g = net->graph;
	VkDeviceSize align = visid_vk_alignment(net->vk.gpu), size = 0;
	uint8_t *host = NULL;
	float *scratch = NULL; /* a layer's weights reordered for its shader */
	size_t most = 0;
	int ret;

	for (int pass = 0; pass < 2; pass++) {
		size = 0;
		for (int i = 0; i < g->n_layers; i++) {
			const struct visid_graph_layer *l = &g->layers[i];
			const struct visid_graph_const *cs[4] = {&l->weights, &l->bias, &l->slope,
								 &l->operand};
			VkDeviceSize *offs[4] = {&net->vk.layers[i].weights,
						 &net->vk.layers[i].bias, &net->vk.layers[i].slope,
						 &net->vk.layers[i].operand};

			for (int j = 0; j < 4; j++) {
				const float *data = cs[j]->data;

				if (!cs[j]->count)
					continue;
				size = align_up(size, align);
				*offs[j] = size;
				if (pass && j == 0 && l->kind == VISID_LAYER_CONV &&
				    visid_vk_conv_wants_hwio(&l->p.conv)) {
					visid_vk_conv_to_hwio(&l->p.conv, data, scratch);
					data = scratch;
				}
				if (pass && net->vk.elem == 2)
					visid_halves_from_floats((uint16_t *)(host + size), data,
								 cs[j]->count);
				else if (pass)
					memcpy(host + size, data, cs[j]->count * sizeof(float));
				size += cs[j]->count * net->vk.elem;
				most = cs[j]->count > most ? cs[j]->count : most;
			}
		}
		if (!pass) {
			size = size ? size : align;
			host = calloc(1, size);
			scratch = malloc((most ? most : 1) * sizeof(float));
			if (!host || !scratch) {
				free(host);
				free(scratch);
				return -ENOMEM;
			}
		}
	}
	free(scratch);
	ret = visid_vk_buffer_create(net->vk.gpu, size, VISID_VK_BUFFER_DEVICE, "weights",
				     &net->vk.weights);
	if (!ret)
		ret = visid_vk_upload(net->vk.weights, 0, host, size);
	free(host);
	return ret;
}

static int vk_layer(struct visid_net *net, int i)
{
	const struct visid_graph_layer *l = &net->graph->layers[i];
	const struct vk_layer *c = &net->vk.layers[i];
	struct visid_vk_seq *seq = net->vk.seq;
	struct visid_vk_view a = vk_value(net, l->in[0]), out = vk_value(net, l->out);
	struct visid_vk_residual res;

	switch (l->kind) {
	case VISID_LAYER_CONV:
		res = (struct visid_vk_residual){vk_value(net, l->in[1]), l->res.c, l->res.act,
						 l->res.pool};
		return visid_vk_conv_residual(
		    seq, &l->p.conv, a, vk_const(net, &l->weights, c->weights),
		    vk_const(net, &l->bias, c->bias), vk_const(net, &l->slope, c->slope),
		    l->in[1] >= 0 ? &res : NULL, out, l->name);
	case VISID_LAYER_MAXPOOL:
		return visid_vk_maxpool(seq, &l->p.pool, a, out, l->name);
	case VISID_LAYER_ADD:
		return visid_vk_add(seq, &l->p.add, a, vk_value(net, l->in[1]),
				    vk_const(net, &l->slope, c->slope), out, l->name);
	case VISID_LAYER_ELTWISE:
		return visid_vk_eltwise(seq, &l->p.eltwise, a,
					l->in[1] >= 0 ? vk_value(net, l->in[1])
						      : vk_const(net, &l->operand, c->operand),
					out, l->name);
	case VISID_LAYER_RESIZE:
		return visid_vk_resize(seq, &l->p.resize, a, out, l->name);
	case VISID_LAYER_PAD:
		return visid_vk_pad(seq, &l->p.pad, a, out, l->name);
	case VISID_LAYER_COPY:
		return visid_vk_copy(seq, &l->p.copy, a, out, l->name);
	}
	return -EINVAL;
}

/* Staging buffers are only needed where device memory is not mapped. */
static int vk_create_staging(struct visid_net *net)
{
	const struct visid_graph *g = net->graph;
	struct visid_vk_view in = vk_input(net);
	int ret = 0;

	net->vk.staging_out = calloc(g->n_outputs, sizeof(*net->vk.staging_out));
	if (!net->vk.staging_out)
		return -ENOMEM;
	if (!visid_vk_buffer_map(in.buf))
		ret = visid_vk_buffer_create(net->vk.gpu, in.size, VISID_VK_BUFFER_HOST,
					     "input staging", &net->vk.staging_in);
	for (int i = 0; i < g->n_outputs && !ret; i++) {
		struct visid_vk_view o = vk_value(net, g->outputs[i]);

		if (!visid_vk_buffer_map(o.buf))
			ret = visid_vk_buffer_create(net->vk.gpu, o.size, VISID_VK_BUFFER_HOST,
						     "output staging", &net->vk.staging_out[i]);
	}
	return ret;
}

static int vk_record(struct visid_net *net)
{
	const struct visid_graph *g = net->graph;
	struct visid_vk_seq *seq = net->vk.seq;
	int ret;

	ret = visid_vk_seq_begin(seq);
	if (!ret)
		ret = visid_vk_seq_set_tensors(seq, net->vk.tensors);
	if (!ret && net->vk.staging_in)
		ret = visid_vk_seq_copy(seq, visid_vk_whole(net->vk.staging_in), vk_input(net),
					"input upload");
	if (!ret && net->vk.input32)
		ret = visid_vk_from_fp32(seq, g->values[g->input].count, vk_input(net),
					 vk_value(net, g->input), "input to fp16");
	for (int i = 0; i < g->n_layers && !ret; i++) {
		net->vk.layers[i].seq_first = visid_vk_seq_length(seq);
		ret = vk_layer(net, i);
		net->vk.layers[i].seq_end = visid_vk_seq_length(seq);
	}
	for (int i = 0; i < g->n_outputs && !ret; i++)
		if (net->vk.staging_out[i])
			ret = visid_vk_seq_copy(seq, vk_value(net, g->outputs[i]),
						visid_vk_whole(net->vk.staging_out[i]),
						"output download");
	if (!ret)
		ret = visid_vk_seq_end(seq);
	return ret;
}

static int vk_create(struct visid_net *net, struct visid_gpu *gpu, enum visid_vk_tensors tensors)
{
	const struct visid_graph *g = net->graph;
	int ret;

	net->vk.gpu = gpu;
	net->vk.tensors = tensors;
	net->vk.elem = tensors == VISID_VK_TENSORS_FP16 ? 2 : sizeof(float);
	net->vk.layers = calloc(g->n_layers ? g->n_layers : 1, sizeof(*net->vk.layers));
	net->vk.buffers = calloc(g->n_buffers ? g->n_buffers : 1, sizeof(*net->vk.buffers));
	if (!net->vk.layers || !net->vk.buffers)
		return -ENOMEM;
	ret = vk_upload_weights(net);
	if (!ret && net->vk.elem == 2)
		ret =
		    visid_vk_buffer_create(gpu, g->values[g->input].count * sizeof(float),
					   VISID_VK_BUFFER_DEVICE, "fp32 input", &net->vk.input32);
	for (int i = 0; i < g->n_buffers && !ret; i++)
		ret = visid_vk_buffer_create(
		    gpu, (g->buffer_size[i] ? g->buffer_size[i] : 1) * net->vk.elem,
		    VISID_VK_BUFFER_DEVICE, "activations", &net->vk.buffers[i]);
	if (!ret)
		ret = vk_create_staging(net);
	if (!ret)
		ret = visid_vk_seq_create(gpu, &net->vk.seq);
	if (!ret) {
		visid_vk_seq_set_timing(net->vk.seq, !!(net->flags & VISID_NET_PROFILE));
		ret = vk_record(net);
	}
	return ret;
}

static void vk_destroy(struct visid_net *net)
{
	const struct visid_graph *g = net->graph;

	visid_vk_seq_destroy(net->vk.seq);
	visid_vk_seq_destroy(net->vk.wipe);
	if (net->vk.buffers)
		for (int i = 0; i < g->n_buffers; i++)
			visid_vk_buffer_destroy(net->vk.buffers[i]);
	if (net->vk.staging_out)
		for (int i = 0; i < g->n_outputs; i++)
			visid_vk_buffer_destroy(net->vk.staging_out[i]);
	visid_vk_buffer_destroy(net->vk.staging_in);
	visid_vk_buffer_destroy(net->vk.input32);
	visid_vk_buffer_destroy(net->vk.weights);
	free(net->vk.staging_out);
	free(net->vk.buffers);
	free(net->vk.layers);
	free(net->vk.scratch);
	memset(&net->vk, 0, sizeof(net->vk));
}

static void vk_collect_timings(struct visid_net *net)
{
	const struct visid_vk_timing *t;
	int n = visid_vk_seq_timings(net->vk.seq, &t);

	for (int i = 0; i < net->graph->n_layers; i++) {
		const struct vk_layer *l = &net->vk.layers[i];

		net->layer_ms[i] = n < 0 ? -1.0 : 0.0;
		for (int j = l->seq_first; j < l->seq_end && j < n; j++)
			net->layer_ms[i] += t[j].ms;
	}
}

/* Reads count floats back from element `at` of buf, converting from fp16 where stored so. */
static int vk_read(struct visid_net *net, struct visid_vk_buffer *buf, size_t at, size_t count,
		   float *dst)
{
	int ret;

	if (net->vk.elem != 2)
		return visid_vk_download(buf, at * sizeof(float), dst, count * sizeof(float));
	if (count * 2 > net->vk.scratch_size) {
		void *grown = realloc(net->vk.scratch, count * 2);

		if (!grown)
			return -ENOMEM;
		net->vk.scratch = grown;
		net->vk.scratch_size = count * 2;
	}
	ret = visid_vk_download(buf, at * 2, net->vk.scratch, count * 2);
	if (!ret)
		visid_halves_to_floats(dst, net->vk.scratch, count);
	return ret;
}

static int vk_layer_output(struct visid_net *net, int value, float *dst)
{
	const struct visid_graph_value *v = &net->graph->values[value];

	return vk_read(net, net->vk.buffers[v->buffer], v->offset, v->count, dst);
}

/* Runs the recorded graph on what the input buffer holds and reads the outputs back. */
static int vk_submit(struct visid_net *net, float *const *outputs)
{
	const struct visid_graph *g = net->graph;
	int ret;

	ret = visid_vk_seq_submit(net->vk.seq);
	for (int i = 0; i < g->n_outputs && !ret; i++) {
		struct visid_vk_view o = vk_value(net, g->outputs[i]);

		ret = vk_read(net, net->vk.staging_out[i] ? net->vk.staging_out[i] : o.buf,
			      net->vk.staging_out[i] ? 0 : g->values[g->outputs[i]].offset,
			      g->values[g->outputs[i]].count, outputs[i]);
	}
	if (!ret)
		vk_collect_timings(net);
	return ret;
}

static int vk_run(struct visid_net *net, const float *input, float *const *outputs)
{
	struct visid_vk_view in = vk_input(net);
	int ret;

	ret = visid_vk_upload(net->vk.staging_in ? net->vk.staging_in : in.buf, 0, input, in.size);
	return ret ? ret : vk_submit(net, outputs);
}

/* Zeroes buf from the host where it is mapped, else records its zeroing into wipe. */
static int vk_wipe_buffer(struct visid_vk_buffer *buf, struct visid_vk_seq *wipe, int *recorded)
{
	void *map = buf ? visid_vk_buffer_map(buf) : NULL;

	if (!buf)
		return 0;
	if (map) {
		explicit_bzero(map, buf->size);
		return 0;
	}
	++*recorded;
	return wipe ? visid_vk_seq_zero(wipe, visid_vk_view(buf, 0, buf->size & ~3ull),
					"wipe") : 0;
}

/* One pass over every buffer that held the input, activations or outputs. */
static int vk_wipe_pass(struct visid_net *net, struct visid_vk_seq *wipe, int *recorded)
{
	const struct visid_graph *g = net->graph;
	int ret = 0;

	ret = vk_wipe_buffer(net->vk.staging_in, wipe, recorded);
	if (!ret)
		ret = vk_wipe_buffer(net->vk.input32, wipe, recorded);
	for (int i = 0; i < g->n_buffers && !ret; i++)
		ret = vk_wipe_buffer(net->vk.buffers[i], wipe, recorded);
	for (int i = 0; i < g->n_outputs && !ret; i++)
		ret = vk_wipe_buffer(net->vk.staging_out[i], wipe, recorded);
	return ret;
}

static int vk_wipe(struct visid_net *net)
{
	int recorded = 0, ret;

	if (net->vk.scratch)
		explicit_bzero(net->vk.scratch, net->vk.scratch_size);
	ret = vk_wipe_pass(net, NULL, &recorded);
	if (ret || !recorded)
		return ret;
	if (net->vk.wipe)
		return visid_vk_seq_submit(net->vk.wipe);
	/* Device-only memory (discrete GPUs): a sequence of fills, recorded once. */
	ret = visid_vk_seq_create(net->vk.gpu, &net->vk.wipe);
	if (!ret)
		ret = visid_vk_seq_begin(net->vk.wipe);
	recorded = 0;
	if (!ret)
		ret = vk_wipe_pass(net, net->vk.wipe, &recorded);
	if (!ret)
		ret = visid_vk_seq_end(net->vk.wipe);
	if (!ret)
		ret = visid_vk_seq_submit(net->vk.wipe);
	return ret;
}

int visid_net_wipe(struct visid_net *net)
{
	const struct visid_graph *g = net->graph;
	int ret = 0;

	if (net->backend == VISID_BACKEND_VULKAN) {
		ret = vk_wipe(net);
		if (ret)
			visid_err("%s: wiping the network's tensors failed (%s)",
				  visid_model_path(net->model), strerror(-ret));
		return ret;
	}
	for (int i = 0; i < g->n_buffers; i++)
		explicit_bzero(net->cpu_buffers[i],
			       (g->buffer_size[i] ? g->buffer_size[i] : 1) * sizeof(float));
	return 0;
}

int visid_net_input_view(struct visid_net *net, struct visid_vk_view *view)
{
	if (net->backend != VISID_BACKEND_VULKAN) {
		visid_err("%s: only a Vulkan network has an input on the device",
			  visid_model_path(net->model));
		return -EINVAL;
	}
	/* Where a staging buffer exists, the recorded sequence copies it into the input first. */
	*view = net->vk.staging_in ? visid_vk_whole(net->vk.staging_in) : vk_input(net);
	return 0;
}

int visid_net_run_device(struct visid_net *net, float *const *outputs)
{
	if (net->backend != VISID_BACKEND_VULKAN) {
		visid_err("%s: only a Vulkan network runs on a device input",
			  visid_model_path(net->model));
		return -EINVAL;
	}
	return vk_submit(net, outputs);
}

/*
 * fp16 tensors halve the GPU's memory traffic but round every activation.
 * A network runs in fp16 only where its outputs on a deterministic
 * face-like input stay within cosine FP16_MIN_COSINE of fp32 on this
 * device; the verdict is kept per model and gpu.
 */
#define FP16_MIN_COSINE 0.999

/* Smooth shading with darker eyes and mouth: a rough face in [-1, 1], any size. */
static void face_like_input(float *dst, int h, int w, int c)
{
	static const float spots[3][3] = {
	    {0.35f, 0.4f, 0.08f}, {0.65f, 0.4f, 0.08f}, {0.5f, 0.72f, 0.1f}};

	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			float u = (x + 0.5f) / w, v = (y + 0.5f) / h;
			float r2 = (u - 0.5f) * (u - 0.5f) + (v - 0.5f) * (v - 0.5f);
			float skin = r2 < 0.16f ? 0.6f - r2 : -0.7f + 0.3f * u;

			for (int s = 0; s < 3; s++) {
				float du = u - spots[s][0], dv = v - spots[s][1];

				if (du * du + dv * dv < spots[s][2] * spots[s][2])
					skin -= 0.9f;
			}
			for (int k = 0; k < c; k++)
				dst[((size_t)y * w + x) * c + k] =
				    skin * (1.0f - 0.15f * k) + 0.05f * ((x * 7 + y * 3 + k) % 5);
		}
	}
}

static double cosine(const float *a, const float *b, size_t n)
{
	double ab = 0, aa = 0, bb = 0;

	for (size_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	if (aa == 0 || bb == 0)
		return aa == bb ? 1.0 : 0.0;
	return ab / sqrt(aa * bb);
}

/* The smallest cosine over the outputs of the two runs, or -errno. */
static double compare_runs(struct visid_net *half, struct visid_net *full, const float *input)
{
	float *out[2][VISID_NET_MAX_OUTPUTS] = {{NULL}};
	double worst = 1.0;
	int n = visid_net_output_count(half), ret = 0;

	for (int i = 0; i < n && !ret; i++) {
		out[0][i] = malloc(visid_net_output_size(half, i) * sizeof(float));
		out[1][i] = malloc(visid_net_output_size(half, i) * sizeof(float));
		if (!out[0][i] || !out[1][i])
			ret = -ENOMEM;
	}
	if (!ret)
		ret = visid_net_run(half, input, out[0]);
	if (!ret)
		ret = visid_net_run(full, input, out[1]);
	for (int i = 0; i < n && !ret; i++) {
		double cos = cosine(out[0][i], out[1][i], visid_net_output_size(half, i));

		if (!(cos >= worst))
			worst = cos;
	}
	for (int i = 0; i < n; i++) {
		free(out[0][i]);
		free(out[1][i]);
	}
	return ret ? ret : worst;
}

static int fp16_verdict(struct visid_net *net, const struct visid_net_options *opt)
{
	struct visid_net_options full_opt = *opt;
	struct visid_net *full = NULL;
	const struct visid_graph_value *in = &net->graph->values[net->graph->input];
	float *input = malloc(in->count * sizeof(float));
	double worst = -ENOMEM;

	if (input)
		worst = visid_net_create_flags(
		    net->model, &full_opt, (net->flags & ~VISID_NET_FP16) | VISID_NET_FP32, &full);
	if (input && !worst) {
		face_like_input(input, in->shape[1], in->shape[2], in->shape[3]);
		worst = compare_runs(net, full, input);
	}
	visid_net_destroy(full);
	free(input);
	if (worst < 0) {
		visid_err("%s: checking fp16 tensors on '%s' failed: %s",
			  visid_model_path(net->model), visid_gpu_name(net->vk.gpu),
			  strerror((int)-worst));
		return 0;
	}
	if (worst < FP16_MIN_COSINE) {
		visid_info("%s: fp16 tensors on '%s' reach cosine %.5f of fp32, under %.3f: "
			   "running in fp32",
			   visid_model_path(net->model), visid_gpu_name(net->vk.gpu), worst,
			   FP16_MIN_COSINE);
		return 0;
	}
	visid_info("%s: fp16 tensors on '%s': cosine %.5f of fp32", visid_model_path(net->model),
		   visid_gpu_name(net->vk.gpu), worst);
	return 1;
}

/*
 * $VISID_FP16 = 1 asks for fp16 tensors, 0 forbids them; unset, GPUs get
 * them and CPU implementations not (on lavapipe fp16 fetches cost more
 * than the memory they save).
 */
static int fp16_wanted(const struct visid_net *net, struct visid_gpu *gpu)
{
	const char *env = getenv("VISID_FP16");

	if (net->flags & VISID_NET_FP32)
		return 0;
	if (net->flags & VISID_NET_FP16)
		return 1;
	if (env && *env)
		return strcmp(env, "0") != 0;
	return !visid_vk_is_cpu(gpu);
}

static int vk_create_checked(struct visid_net *net, const struct visid_net_options *opt)
{
	struct visid_model *model = net->model;
	int ret;

	if (!opt->gpu) {
		visid_err("%s: the Vulkan backend needs a gpu", visid_model_path(model));
		return -EINVAL;
	}
	if (!fp16_wanted(net, opt->gpu) || !visid_vk_has_fp16_tensors(opt->gpu))
		return vk_create(net, opt->gpu, VISID_VK_TENSORS_AUTO);
	ret = vk_create(net, opt->gpu, VISID_VK_TENSORS_FP16);
	if (net->flags & VISID_NET_FP16)
		return ret;
	/* fp16 tensors always read as texels: a device with a small texel limit falls back. */
	if (ret && ret != -ENOMEM) {
		visid_info("%s: fp16 tensors do not run on '%s': running in fp32",
			   visid_model_path(model), visid_gpu_name(opt->gpu));
		vk_destroy(net);
		return vk_create(net, opt->gpu, VISID_VK_TENSORS_AUTO);
	}
	if (ret)
		return ret;
	if (model->fp16_gpu != opt->gpu) {
		model->fp16_ok = fp16_verdict(net, opt);
		model->fp16_gpu = opt->gpu;
	}
	if (model->fp16_ok)
		return 0;
	vk_destroy(net);
	return vk_create(net, opt->gpu, VISID_VK_TENSORS_AUTO);
}

/* Common */

int visid_net_create_flags(struct visid_model *model, const struct visid_net_options *opt,
			   int flags, struct visid_net **out)
{
	struct visid_net *net;
	int ret;

	net = calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->model = model;
	net->backend = opt->backend;
	net->flags = flags;
	ret = visid_graph_build(model->tfl, opt->height, opt->width, flags, &net->graph);
	if (ret)
		goto out_free;
	if (net->graph->n_outputs > VISID_NET_MAX_OUTPUTS) {
		visid_err("%s: %d outputs, at most %d supported", visid_model_path(model),
			  net->graph->n_outputs, VISID_NET_MAX_OUTPUTS);
		ret = -ENOTSUP;
		goto out_destroy;
	}
	net->layer_ms = calloc(net->graph->n_layers + 1, sizeof(double));
	if (!net->layer_ms) {
		ret = -ENOMEM;
		goto out_destroy;
	}
	for (int i = 0; i < net->graph->n_layers; i++)
		net->layer_ms[i] = -1.0;

	switch (opt->backend) {
	case VISID_BACKEND_CPU:
		ret = cpu_create(net);
		break;
	case VISID_BACKEND_VULKAN:
		ret = vk_create_checked(net, opt);
		break;
	default:
		visid_err("%s: unknown backend %d", visid_model_path(model), opt->backend);
		ret = -EINVAL;
	}
	if (ret)
		goto out_destroy;
	*out = net;
	return 0;

out_destroy:
	if (ret == -ENOMEM)
		visid_err("%s: out of memory creating the network", visid_model_path(model));
	visid_net_destroy(net);
	return ret;
out_free:
	free(net);
	return ret;
}

int visid_net_create(struct visid_model *model, const struct visid_net_options *opt,
		     struct visid_net **out)
{
	return visid_net_create_flags(model, opt, 0, out);
}

void visid_net_destroy(struct visid_net *net)
{
	if (!net)
		return;
	if (net->backend == VISID_BACKEND_VULKAN)
		vk_destroy(net);
	else
		cpu_destroy(net);
	free(net->layer_ms);
	visid_graph_free(net->graph);
	free(net);
}

int visid_net_set_profile(struct visid_net *net, int on)
{
	int was = !!(net->flags & VISID_NET_PROFILE);

	if (on)
		net->flags |= VISID_NET_PROFILE;
	else
		net->flags &= ~VISID_NET_PROFILE;
	if (net->backend != VISID_BACKEND_VULKAN || was == !!on)
		return 0;
	/* Timestamps are part of the recording. */
	visid_vk_seq_set_timing(net->vk.seq, on);
	for (int i = 0; i < net->graph->n_layers; i++)
		net->layer_ms[i] = -1.0;
	return vk_record(net);
}

void visid_net_input_shape(const struct visid_net *net, int shape[4])
{
	const struct visid_graph_value *v = &net->graph->values[net->graph->input];

	for (int d = 0; d < 4; d++)
		shape[d] = v->shape[d];
}

int visid_net_output_count(const struct visid_net *net)
{
	return net->graph->n_outputs;
}

static const struct visid_graph_value *output_value(const struct visid_net *net, int index)
{
	if (index < 0 || index >= net->graph->n_outputs)
		return NULL;
	return &net->graph->values[net->graph->outputs[index]];
}

const char *visid_net_output_name(const struct visid_net *net, int index)
{
	const struct visid_graph_value *v = output_value(net, index);

	return v ? net->model->tfl->tensors[v->tensor].name : NULL;
}

int visid_net_output_shape(const struct visid_net *net, int index, int shape[4])
{
	const struct visid_graph_value *v = output_value(net, index);

	if (!v)
		return -EINVAL;
	for (int d = 0; d < 4; d++)
		shape[d] = d < v->rank ? v->shape[d] : 1;
	return v->rank;
}

size_t visid_net_output_size(const struct visid_net *net, int index)
{
	const struct visid_graph_value *v = output_value(net, index);

	return v ? v->count : 0;
}

int visid_net_run(struct visid_net *net, const float *input, float *const *outputs)
{
	if (net->backend == VISID_BACKEND_VULKAN)
		return vk_run(net, input, outputs);
	return cpu_run(net, input, outputs);
}

int visid_net_layer_count(const struct visid_net *net)
{
	return net->graph->n_layers;
}

int visid_net_layer_info(const struct visid_net *net, int index, struct visid_net_layer_info *info)
{
	const struct visid_graph_layer *l;
	const struct visid_graph_value *v;

	if (index < 0 || index >= net->graph->n_layers)
		return -EINVAL;
	l = &net->graph->layers[index];
	v = &net->graph->values[l->out];
	memset(info, 0, sizeof(*info));
	info->name = l->name;
	info->op = l->op;
	info->kind = visid_layer_kind_name(l->kind);
	info->first_op = l->first_op;
	info->last_op = l->last_op;
	info->tensor = l->tensor;
	info->rank = v->rank;
	for (int d = 0; d < 4; d++)
		info->shape[d] = d < v->rank ? v->shape[d] : 1;
	info->macs = l->macs;
	info->bytes = l->bytes;
	if (net->backend == VISID_BACKEND_VULKAN)
		info->dispatches = net->vk.layers[index].seq_end - net->vk.layers[index].seq_first;
	info->ms = net->layer_ms[index];
	return 0;
}

int visid_net_layer_output(struct visid_net *net, int index, float *dst)
{
	const struct visid_graph_value *v, *s;
	int value;

	if (index < -1 || index >= net->graph->n_layers)
		return -EINVAL;
	value = index < 0 ? net->graph->input : net->graph->layers[index].out;
	v = &net->graph->values[value];
	s = &net->graph->values[v->storage];
	if (!(net->flags & VISID_NET_KEEP_ALL) && s->last < net->graph->n_layers) {
		visid_err("%s: layer %d output is reused; create the net with KEEP_ALL",
			  visid_model_path(net->model), index);
		return -EINVAL;
	}
	if (net->backend == VISID_BACKEND_VULKAN)
		return vk_layer_output(net, value, dst);
	memcpy(dst, cpu_value(net, value), v->count * sizeof(float));
	return 0;
}

const struct visid_graph *visid_net_graph(const struct visid_net *net)
{
	return net->graph;
}

enum visid_backend visid_net_backend(const struct visid_net *net)
{
	return net->backend;
}
