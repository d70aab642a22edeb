/*
 * The TFLite loader and the graph built from it: any file given as a model
 * either loads or fails with a logged error. A model that loads and is small
 * enough is also instantiated on the CPU backend and run once, so shapes the
 * loader accepted are checked against what the executor does with them.
 * "Small enough" counts the work too: a legal 256x256 pooling window over a
 * 256x256 input is billions of steps, slow but not a bug.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "graph.h"
#include "net_internal.h"
#include "visid/net.h"

#define RUN_MAX_FLOATS (1 << 16)
#define RUN_MAX_STEPS 20000000ull

static uint64_t layer_steps(const struct visid_graph *g, const struct visid_graph_layer *l)
{
	const struct visid_pool_params *p = &l->p.pool;

	if (l->kind == VISID_LAYER_CONV)
		return l->macs;
	if (l->kind == VISID_LAYER_MAXPOOL)
		return (uint64_t)p->out_h * p->out_w * p->c * p->kernel_h * p->kernel_w;
	return g->values[l->out].count;
}

static int cheap_enough(const struct visid_model *model)
{
	struct visid_graph *g;
	uint64_t steps = 0;

	if (visid_graph_build(visid_model_tflite(model), 0, 0, 0, &g))
		return 0;
	for (int i = 0; i < g->n_layers; i++)
		steps += layer_steps(g, &g->layers[i]);
	visid_graph_free(g);
	return steps <= RUN_MAX_STEPS;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_log();
	return 0;
}

static void run_once(struct visid_model *model)
{
	struct visid_net_options opt = { .backend = VISID_BACKEND_CPU };
	float *outputs[VISID_NET_MAX_OUTPUTS] = { 0 };
	struct visid_net *net;
	float *input = NULL;
	int shape[4], n_out;
	size_t n_in;

	if (visid_net_create(model, &opt, &net))
		return;
	visid_net_input_shape(net, shape);
	n_in = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
	n_out = visid_net_output_count(net);
	if (n_in == 0 || n_in > RUN_MAX_FLOATS || n_out <= 0 || n_out > VISID_NET_MAX_OUTPUTS)
		goto out;
	for (int i = 0; i < n_out; i++) {
		size_t n = visid_net_output_size(net, i);

		if (n == 0 || n > RUN_MAX_FLOATS)
			goto out;
		outputs[i] = calloc(n, sizeof(float));
		if (!outputs[i])
			goto out;
	}
	input = calloc(n_in, sizeof(float));
	if (!input)
		goto out;
	for (size_t i = 0; i < n_in; i++)
		input[i] = (float)((int)(i % 17) - 8) / 8.0f;
	visid_net_run(net, input, outputs);
out:
	free(input);
	for (int i = 0; i < VISID_NET_MAX_OUTPUTS; i++)
		free(outputs[i]);
	visid_net_destroy(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct visid_model *model;
	char path[64];
	int fd = fuzz_memfd(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	if (!visid_model_load(path, &model)) {
		if (cheap_enough(model))
			run_once(model);
		visid_model_free(model);
	}
	close(fd);
	return 0;
}
