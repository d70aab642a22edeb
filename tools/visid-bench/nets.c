/*
 * One network on one backend: warm-up runs, then timed runs of
 * visid_net_run (input upload and output download included) as the
 * pipeline runs it, and the device's own time per layer: the wall time of
 * each kernel on the CPU, from the same runs; GPU timestamps on Vulkan, from
 * as many runs again with profiling on, since on a CPU device the
 * timestamps themselves cost time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "visid/log.h"

/* A fixed, smooth input in [-1, 1]: the kernels' cost does not depend on the values. */
static float *make_input(const int shape[4], size_t *count)
{
	size_t n = (size_t)shape[0] * shape[1] * shape[2] * shape[3];
	float *in = malloc(n * sizeof(float));

	if (!in)
		return NULL;
	for (size_t i = 0; i < n; i++)
		in[i] = (float)((int)(i * 37 % 255) - 127) / 127.5f;
	*count = n;
	return in;
}

static void fill_cost(struct bench_net *bn, const struct visid_net *net)
{
	int shape[4];

	visid_net_input_shape(net, shape);
	bn->in_h = shape[1];
	bn->in_w = shape[2];
	bn->layer_count = visid_net_layer_count(net);
	bn->macs = bn->bytes = 0;
	for (int i = 0; i < bn->layer_count; i++) {
		struct visid_net_layer_info l;

		if (visid_net_layer_info(net, i, &l))
			continue;
		bn->macs += l.macs;
		bn->bytes += l.bytes;
	}
}

/* Medians of each layer's times over the runs; per_layer holds runs values per layer. */
static int layer_medians(struct bench_net_run *run, const struct visid_net *net, double *per_layer,
			 int runs)
{
	run->layers = calloc(run->layer_count, sizeof(*run->layers));
	if (!run->layers)
		return -ENOMEM;
	for (int i = 0; i < run->layer_count; i++) {
		struct bench_layer *l = &run->layers[i];
		struct bench_stats s;

		visid_net_layer_info(net, i, &l->info);
		/* The network and its strings go before the report is printed. */
		l->name = strdup(l->info.name ? l->info.name : "");
		l->op = strdup(l->info.op ? l->info.op : "");
		if (!l->name || !l->op)
			return -ENOMEM;
		l->info.name = l->name;
		l->info.op = l->op;
		bench_stats_compute(per_layer + (size_t)i * runs, runs, &s);
		l->ms = s.min < 0 ? -1 : s.p50;
		run->dispatches += l->info.dispatches;
	}
	return 0;
}

/* The layer times of run r of the last visid_net_run; device[r] is their sum. */
static void take_layer_times(struct visid_net *net, int r, int runs, double *device,
			     double *per_layer)
{
	device[r] = 0;
	for (int i = 0; i < visid_net_layer_count(net); i++) {
		struct visid_net_layer_info l;

		visid_net_layer_info(net, i, &l);
		per_layer[(size_t)i * runs + r] = l.ms;
		device[r] = l.ms < 0 || device[r] < 0 ? -1 : device[r] + l.ms;
	}
}

/* Timed runs; wall and device hold runs values each, per_layer layers x runs. */
static int timed_runs(struct visid_net *net, const float *input, float *const *outputs,
		      const struct bench_options *opt, double *wall, double *device,
		      double *per_layer)
{
	int gpu = visid_net_backend(net) == VISID_BACKEND_VULKAN, ret;

	for (int r = 0; r < opt->warmup; r++) {
		ret = visid_net_run(net, input, outputs);
		if (ret)
			return ret;
	}
	for (int r = 0; r < opt->runs; r++) {
		double t0 = bench_now_ms();

		ret = visid_net_run(net, input, outputs);
		if (ret)
			return ret;
		wall[r] = bench_now_ms() - t0;
		if (!gpu)
			take_layer_times(net, r, opt->runs, device, per_layer);
	}
	if (!gpu)
		return 0;
	ret = visid_net_set_profile(net, 1);
	for (int r = -1; r < opt->runs && !ret; r++) {
		ret = visid_net_run(net, input, outputs);
		if (!ret && r >= 0)
			take_layer_times(net, r, opt->runs, device, per_layer);
	}
	return ret;
}

static int open_net(struct bench_net *bn, enum visid_backend backend, struct visid_gpu *gpu,
		    const struct bench_options *opt, struct visid_model **model,
		    struct visid_net **net)
{
	struct visid_net_options nopt = {
	    .backend = backend,
	    .gpu = gpu,
	    .height = bn->height,
	    .width = bn->width,
	};
	char path[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", opt->model_dir, bn->file);
	ret = visid_model_load(path, model);
	if (ret)
		return ret;
	ret = visid_net_create(*model, &nopt, net);
	if (ret) {
		visid_model_free(*model);
		*model = NULL;
	}
	return ret;
}

int bench_net_measure(struct bench_net *bn, enum visid_backend backend, struct visid_gpu *gpu,
		      const struct bench_options *opt)
{
	struct bench_net_run *run = &bn->run[backend];
	float *outputs[VISID_NET_MAX_OUTPUTS] = {0};
	double *wall = NULL, *device = NULL, *per_layer = NULL;
	struct visid_model *model = NULL;
	struct visid_net *net = NULL;
	float *input = NULL;
	int shape[4], ret;
	size_t count;

	memset(run, 0, sizeof(*run));
	ret = open_net(bn, backend, gpu, opt, &model, &net);
	if (ret)
		return ret;
	fill_cost(bn, net);
	run->layer_count = bn->layer_count;
	visid_net_input_shape(net, shape);
	input = make_input(shape, &count);
	wall = calloc(opt->runs, sizeof(double));
	device = calloc(opt->runs, sizeof(double));
	per_layer = calloc((size_t)opt->runs * run->layer_count, sizeof(double));
	ret = -ENOMEM;
	if (!input || !wall || !device || !per_layer)
		goto out_free;
	for (int i = 0; i < visid_net_output_count(net); i++)
		if (!(outputs[i] = malloc(visid_net_output_size(net, i) * sizeof(float))))
			goto out_free;

	ret = timed_runs(net, input, outputs, opt, wall, device, per_layer);
	if (ret) {
		visid_err("%s %dx%d on %s: run failed (%s)", bn->name, bn->in_h, bn->in_w,
			  bench_backend_name(backend), strerror(-ret));
		goto out_free;
	}
	ret = layer_medians(run, net, per_layer, opt->runs);
	if (ret)
		goto out_free;
	bench_stats_compute(wall, opt->runs, &run->wall);
	bench_stats_compute(device, opt->runs, &run->device);
	if (run->device.min < 0)
		run->device = (struct bench_stats){0};
	run->ok = 1;
out_free:
	for (int i = 0; i < VISID_NET_MAX_OUTPUTS; i++)
		free(outputs[i]);
	free(per_layer);
	free(device);
	free(wall);
	free(input);
	visid_net_destroy(net);
	visid_model_free(model);
	return ret;
}

void bench_net_free(struct bench_net *bn)
{
	for (int b = 0; b < BENCH_BACKENDS; b++) {
		for (int i = 0; bn->run[b].layers && i < bn->run[b].layer_count; i++) {
			free(bn->run[b].layers[i].name);
			free(bn->run[b].layers[i].op);
		}
		free(bn->run[b].layers);
		bn->run[b].layers = NULL;
	}
}
