/*
 * The TFLite loader and the graph built from it: any file given as a model
 * either loads or fails with a logged error. A model that loads and is small
 * enough is also instantiated on the CPU backend and run once, so shapes the
 * loader accepted are checked against what the executor does with them.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "visid/net.h"

#define RUN_MAX_FLOATS (1 << 16)

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
		run_once(model);
		visid_model_free(model);
	}
	close(fd);
	return 0;
}
