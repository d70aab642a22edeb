/*
 * visid net: runs one model on a raw float32 tensor and writes its outputs,
 * for checking the executor against another runtime by hand.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "net_internal.h"
#include "visid/gpu.h"
#include "visid/log.h"

static const char net_help[] =
    "usage: visid net [OPTIONS] MODEL INPUT.f32 OUTDIR\n"
    "\n"
    "Runs a TFLite model on a little-endian float32 NHWC tensor (batch 1, the\n"
    "model's input size or --shape) and writes each output as OUTDIR/NAME.f32\n"
    "('/' in tensor names becomes '_'). Prints one line per output: name, shape.\n"
    "\n"
    "options:\n"
    "  -s, --shape HxW         input height and width (multiples of 32 for the\n"
    "                          full-range detector); default: the model's\n"
    "  -b, --backend NAME      cpu (default) or vulkan\n"
    "  -d, --device D          Vulkan device: index or part of its name\n"
    "  -l, --layers            also print each layer: operators, shape, MACs, time\n"
    "  -h, --help              this text\n";

struct net_args {
	const char *model, *input, *outdir, *device;
	int height, width, layers;
	enum visid_backend backend;
};

static int parse_args(int argc, char **argv, struct net_args *a)
{
	static const struct option options[] = {
	    {"shape", required_argument, NULL, 's'},  {"backend", required_argument, NULL, 'b'},
	    {"device", required_argument, NULL, 'd'}, {"layers", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	int opt;
	char end;

	memset(a, 0, sizeof(*a));
	while ((opt = getopt_long(argc, argv, "s:b:d:lh", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (sscanf(optarg, "%dx%d%c", &a->height, &a->width, &end) != 2 ||
			    a->height < 1 || a->width < 1) {
				fprintf(stderr, "visid net: --shape wants HxW, not '%s'\n", optarg);
				return VISID_EXIT_USAGE;
			}
			break;
		case 'b':
			if (!strcmp(optarg, "cpu")) {
				a->backend = VISID_BACKEND_CPU;
			} else if (!strcmp(optarg, "vulkan")) {
				a->backend = VISID_BACKEND_VULKAN;
			} else {
				fprintf(stderr, "visid net: unknown backend '%s'\n", optarg);
				return VISID_EXIT_USAGE;
			}
			break;
		case 'd':
			a->device = optarg;
			break;
		case 'l':
			a->layers = 1;
			break;
		case 'h':
			fputs(net_help, stdout);
			return VISID_EXIT_OK;
		default:
			fputs(net_help, stderr);
			return VISID_EXIT_USAGE;
		}
	}
	if (argc - optind != 3) {
		fputs(net_help, stderr);
		return VISID_EXIT_USAGE;
	}
	a->model = argv[optind];
	a->input = argv[optind + 1];
	a->outdir = argv[optind + 2];
	return -1;
}

static float *read_input(const char *path, size_t want)
{
	FILE *f = fopen(path, "rb");
	float *data = NULL;
	long bytes;

	if (!f) {
		fprintf(stderr, "visid net: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (bytes != (long)(want * sizeof(float))) {
		fprintf(stderr,
			"visid net: %s: %ld bytes, the network takes %zu floats (%zu bytes)\n",
			path, bytes, want, want * sizeof(float));
		goto out_close;
	}
	data = malloc(want * sizeof(float));
	if (!data || fread(data, sizeof(float), want, f) != want) {
		fprintf(stderr, "visid net: %s: read failed\n", path);
		free(data);
		data = NULL;
	}
out_close:
	fclose(f);
	return data;
}

static int write_output(const char *dir, const char *name, const float *data, size_t count)
{
	char path[4096];
	size_t len;
	FILE *f;
	int ok;

	len = (size_t)snprintf(path, sizeof(path), "%s/", dir);
	for (const char *c = name; *c && len < sizeof(path) - 5; c++)
		path[len++] = *c == '/' ? '_' : *c;
	snprintf(path + len, sizeof(path) - len, ".f32");
	f = fopen(path, "wb");
	if (!f) {
		fprintf(stderr, "visid net: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = fwrite(data, sizeof(float), count, f) == count;
	ok = !fclose(f) && ok;
	if (!ok)
		fprintf(stderr, "visid net: %s: write failed\n", path);
	return ok ? 0 : -1;
}

static void print_layers(const struct visid_net *net)
{
	for (int i = 0; i < visid_net_layer_count(net); i++) {
		struct visid_net_layer_info l;

		visid_net_layer_info(net, i, &l);
		printf("  layer %3d %-26s [%d,%d,%d,%d] %9.3f MMAC %8.3f ms  %s\n", i, l.op,
		       l.shape[0], l.shape[1], l.shape[2], l.shape[3], l.macs / 1e6, l.ms, l.name);
	}
}

static int run_and_write(struct visid_net *net, const struct net_args *a)
{
	float *outputs[VISID_NET_MAX_OUTPUTS] = {0};
	int shape[4], ret = VISID_EXIT_ERROR, n = visid_net_output_count(net);
	float *input;

	visid_net_input_shape(net, shape);
	input = read_input(a->input, (size_t)shape[0] * shape[1] * shape[2] * shape[3]);
	if (!input)
		return VISID_EXIT_ERROR;
	for (int i = 0; i < n; i++)
		if (!(outputs[i] = malloc(visid_net_output_size(net, i) * sizeof(float))))
			goto out_free;
	if (visid_net_run(net, input, outputs))
		goto out_free;
	if (mkdir(a->outdir, 0755) && errno != EEXIST) {
		fprintf(stderr, "visid net: %s: %s\n", a->outdir, strerror(errno));
		goto out_free;
	}
	ret = VISID_EXIT_OK;
	for (int i = 0; i < n; i++) {
		int s[4], rank = visid_net_output_shape(net, i, s);

		if (write_output(a->outdir, visid_net_output_name(net, i), outputs[i],
				 visid_net_output_size(net, i)))
			ret = VISID_EXIT_ERROR;
		printf("%s [", visid_net_output_name(net, i));
		for (int d = 0; d < rank; d++)
			printf("%s%d", d ? "," : "", s[d]);
		printf("]\n");
	}
	if (a->layers)
		print_layers(net);
out_free:
	for (int i = 0; i < n; i++)
		free(outputs[i]);
	free(input);
	return ret;
}

static int run_net(int argc, char **argv)
{
	struct visid_net_options opt = {0};
	struct visid_model *model = NULL;
	struct visid_net *net = NULL;
	struct visid_gpu *gpu = NULL;
	struct net_args a;
	int ret;

	ret = parse_args(argc, argv, &a);
	if (ret >= 0)
		return ret;
	if (visid_model_load(a.model, &model))
		return VISID_EXIT_ERROR;
	ret = VISID_EXIT_ERROR;
	if (a.backend == VISID_BACKEND_VULKAN) {
		struct visid_gpu_options gopt = {.device = a.device};

		if (visid_gpu_create(&gopt, &gpu))
			goto out_free;
	}
	opt.backend = a.backend;
	opt.gpu = gpu;
	opt.height = a.height;
	opt.width = a.width;
	if (!visid_net_create_flags(model, &opt, a.layers ? VISID_NET_PROFILE : 0, &net))
		ret = run_and_write(net, &a);
	visid_net_destroy(net);
out_free:
	if (gpu)
		visid_gpu_destroy(gpu);
	visid_model_free(model);
	return ret;
}

VISID_COMMAND(net, "net", "run one model on a raw float32 tensor and write its outputs", run_net)
