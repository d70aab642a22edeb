/*
 * visid-bench: how fast the networks and the face pipeline run on this
 * device, against what the device itself can do, measured in the same run.
 *
 *   visid-bench [--backend cpu|vulkan|both] [--device D] [--runs N] [--json]
 *               [--layers] [--pipeline] [--image FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "vk.h"
#include "visid/log.h"

#ifndef VISID_MODEL_DIR_DEFAULT
#define VISID_MODEL_DIR_DEFAULT "/usr/local/share/visid/models"
#endif

#define FULL_RANGE_FILE	 "face_detection_full_range.tflite"
#define SHORT_RANGE_FILE "face_detection_short_range.tflite"
#define EMBEDDER_FILE	 "MobileFaceNet.tflite"
/* The shared photo corpus beside a checkout, as the tests find it. */
#define DATA_DIR_DEFAULT "../shared/data/faces"
#define CEILING_RUNS	 5

static const char usage_text[] =
    "usage: visid-bench [OPTIONS]\n"
    "\n"
    "Measures, in one run on one device: the device's ceiling (a tuned fp32\n"
    "matrix product and a plain buffer copy), each network of the face pipeline\n"
    "on the Vulkan and the CPU backends side by side, and with --pipeline the\n"
    "whole pipeline per frame at 1280x720 and 1920x1080 with 0, 1 and 5 faces.\n"
    "\n"
    "options:\n"
    "  -b, --backend B     cpu, vulkan or both (default both)\n"
    "  -d, --device D      Vulkan device: index or part of its name\n"
    "  -n, --runs N        timed runs per network (default 10)\n"
    "  -w, --warmup N      untimed runs first (default 2)\n"
    "  -f, --frames N      timed frames per pipeline case (default 10)\n"
    "  -l, --layers        per-layer times against each layer's bound\n"
    "  -t, --top N         layers listed per network with --layers (default 10)\n"
    "  -p, --pipeline      also time the face pipeline per frame\n"
    "  -i, --image FILE    with --pipeline, also a frame made of this photo\n"
    "      --save-frames DIR  with --pipeline, write each composed frame as\n"
    "                      DIR/WxH-N.png (N faces placed), to feed visid run\n"
    "      --data DIR      photo corpus for the frames (default $VISID_DATA,\n"
    "                      else " DATA_DIR_DEFAULT "; without it models/samples)\n"
    "  -m, --model-dir DIR the models (default $VISID_MODEL_DIR, else ./models,\n"
    "                      else the installed ones)\n"
    "  -j, --json          one JSON document instead of the table\n"
    "  -v, --verbose       log more on stderr\n"
    "  -h, --help          this text\n";

static struct bench_net nets[BENCH_NET_COUNT] = {
    [BENCH_NET_FULL_192] = {.name = "full-range", .file = FULL_RANGE_FILE},
    [BENCH_NET_FULL_FCN] = {.name = "full-range",
			    .file = FULL_RANGE_FILE,
			    .height = 384,
			    .width = 640},
    [BENCH_NET_SHORT] = {.name = "short-range", .file = SHORT_RANGE_FILE},
    [BENCH_NET_EMBED] = {.name = "mobilefacenet", .file = EMBEDDER_FILE},
};

double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

const char *bench_backend_name(enum visid_backend backend)
{
	return backend == VISID_BACKEND_VULKAN ? "vulkan" : "cpu";
}

static int parse_count(const char *arg, const char *what, int min, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < min || v > 100000) {
		fprintf(stderr, "visid-bench: %s wants a number >= %d, not '%s'\n", what, min, arg);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static int parse_backend(const char *arg, int *mask)
{
	if (!strcmp(arg, "cpu"))
		*mask = 1 << VISID_BACKEND_CPU;
	else if (!strcmp(arg, "vulkan"))
		*mask = 1 << VISID_BACKEND_VULKAN;
	else if (!strcmp(arg, "both"))
		*mask = (1 << VISID_BACKEND_CPU) | (1 << VISID_BACKEND_VULKAN);
	else {
		fprintf(stderr, "visid-bench: unknown backend '%s' (cpu, vulkan, both)\n", arg);
		return -EINVAL;
	}
	return 0;
}

static const char *default_model_dir(void)
{
	const char *env = getenv("VISID_MODEL_DIR");
	struct stat st;

	if (env && *env)
		return env;
	if (!stat("models/" FULL_RANGE_FILE, &st))
		return "models";
	return VISID_MODEL_DIR_DEFAULT;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
	enum { OPT_DATA = 256, OPT_SAVE_FRAMES };
	static const struct option options[] = {
	    {"backend", required_argument, NULL, 'b'},
	    {"device", required_argument, NULL, 'd'},
	    {"runs", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"frames", required_argument, NULL, 'f'},
	    {"layers", no_argument, NULL, 'l'},
	    {"top", required_argument, NULL, 't'},
	    {"pipeline", no_argument, NULL, 'p'},
	    {"image", required_argument, NULL, 'i'},
	    {"data", required_argument, NULL, OPT_DATA},
	    {"save-frames", required_argument, NULL, OPT_SAVE_FRAMES},
	    {"model-dir", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *data = getenv("VISID_DATA");
	int opt, verbose = 0, err = 0;

	*o = (struct bench_options){
	    .backend_mask = 3,
	    .runs = 10,
	    .warmup = 2,
	    .frames = 10,
	    .top = 10,
	    .model_dir = default_model_dir(),
	    .data_dir = data && *data ? data : DATA_DIR_DEFAULT,
	};
	while (!err &&
	       (opt = getopt_long(argc, argv, "b:d:n:w:f:lt:pi:m:jvh", options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			err = parse_backend(optarg, &o->backend_mask);
			break;
		case 'd':
			o->device = optarg;
			break;
		case 'n':
			err = parse_count(optarg, "--runs", 1, &o->runs);
			break;
		case 'w':
			err = parse_count(optarg, "--warmup", 0, &o->warmup);
			break;
		case 'f':
			err = parse_count(optarg, "--frames", 1, &o->frames);
			break;
		case 'l':
			o->layers = 1;
			break;
		case 't':
			err = parse_count(optarg, "--top", 0, &o->top);
			break;
		case 'p':
			o->pipeline = 1;
			break;
		case 'i':
			o->image = optarg;
			break;
		case OPT_DATA:
			o->data_dir = optarg;
			break;
		case OPT_SAVE_FRAMES:
			o->save_dir = optarg;
			break;
		case 'm':
			o->model_dir = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			err = -EINVAL;
		}
	}
	if (err || optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (verbose)
		visid_log_set_level(verbose > 1 ? VISID_LOG_DEBUG : VISID_LOG_INFO);
	return -1;
}

static void read_load(double load[3])
{
	FILE *f = fopen("/proc/loadavg", "r");

	load[0] = load[1] = load[2] = -1;
	if (!f)
		return;
	if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
		load[0] = load[1] = load[2] = -1;
	fclose(f);
}

static void read_cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, len, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon || (strncmp(line, "model name", 10) && strncmp(line, "Model", 5)))
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, len, "%s", colon);
		break;
	}
	fclose(f);
}

/* The device's name and, where the driver reports them, its driver's name and version. */
static void describe_device(struct visid_gpu *gpu, char *out, size_t len)
{
	VkPhysicalDevice phys = visid_vk_physical(gpu);
	VkPhysicalDeviceDriverProperties driver = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
	};
	VkPhysicalDeviceProperties2 props = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
	    .pNext = &driver,
	};
	VkPhysicalDeviceProperties base;

	vkGetPhysicalDeviceProperties(phys, &base);
	if (base.apiVersion < VK_API_VERSION_1_2) {
		snprintf(out, len, "%s, Vulkan %u.%u", visid_gpu_name(gpu),
			 VK_API_VERSION_MAJOR(base.apiVersion),
			 VK_API_VERSION_MINOR(base.apiVersion));
		return;
	}
	vkGetPhysicalDeviceProperties2(phys, &props);
	snprintf(out, len, "%.80s, Vulkan %u.%u, driver %.40s: %.100s", visid_gpu_name(gpu),
		 VK_API_VERSION_MAJOR(base.apiVersion), VK_API_VERSION_MINOR(base.apiVersion),
		 driver.driverName, driver.driverInfo);
}

static void describe_machine(struct bench_machine *m)
{
	const char *lp = getenv("LP_NUM_THREADS");
	time_t t = time(NULL);

	memset(m, 0, sizeof(*m));
	read_cpu_model(m->cpu, sizeof(m->cpu));
	m->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(m->lp_threads, sizeof(m->lp_threads), "%s", lp ? lp : "");
	strftime(m->date, sizeof(m->date), "%Y-%m-%d %H:%M %Z", localtime(&t));
	read_load(m->load_before);
}

struct bench {
	struct bench_options opt;
	struct bench_machine machine;
	struct visid_gpu *gpu;
	struct bench_ceiling ceiling[BENCH_BACKENDS];
	struct bench_pipeline pipes[BENCH_BACKENDS];
};

/* Vulkan when asked for; with both backends asked, a missing device leaves the CPU. */
static int open_gpu(struct bench *b)
{
	struct visid_gpu_options gopt = {.device = b->opt.device};
	int ret;

	if (!(b->opt.backend_mask & (1 << VISID_BACKEND_VULKAN)))
		return 0;
	ret = visid_gpu_create(&gopt, &b->gpu);
	if (!ret) {
		describe_device(b->gpu, b->machine.device, sizeof(b->machine.device));
		return 0;
	}
	if (b->opt.backend_mask == (1 << VISID_BACKEND_VULKAN)) {
		fprintf(stderr, "visid-bench: no Vulkan device (%s)\n", strerror(-ret));
		return ret;
	}
	fprintf(stderr, "visid-bench: no Vulkan device (%s); measuring the CPU only\n",
		strerror(-ret));
	b->opt.backend_mask &= ~(1 << VISID_BACKEND_VULKAN);
	return 0;
}

static void measure_ceilings(struct bench *b)
{
	for (int k = BENCH_BACKENDS - 1; k >= 0; k--) {
		int ret;

		if (!(b->opt.backend_mask & (1 << k)))
			continue;
		ret = k == VISID_BACKEND_VULKAN
			  ? bench_ceiling_vulkan(b->gpu, CEILING_RUNS, &b->ceiling[k])
			  : bench_ceiling_cpu(CEILING_RUNS, &b->ceiling[k]);
		if (ret)
			fprintf(stderr, "visid-bench: %s ceiling failed (%s)\n",
				bench_backend_name(k), strerror(-ret));
		if (!b->opt.json)
			bench_print_ceiling(k, &b->ceiling[k]);
	}
}

/* Returns the number of measurements that failed. */
static int measure_nets(struct bench *b)
{
	int failed = 0;

	if (!b->opt.json)
		bench_print_nets_head(&b->opt, b->ceiling);
	for (int i = 0; i < BENCH_NET_COUNT; i++) {
		for (int k = BENCH_BACKENDS - 1; k >= 0; k--)
			if ((b->opt.backend_mask & (1 << k)) &&
			    bench_net_measure(&nets[i], k, b->gpu, &b->opt))
				failed++;
		if (!b->opt.json)
			bench_print_net(&nets[i], &b->opt, b->ceiling);
	}
	for (int i = 0; i < BENCH_NET_COUNT && b->opt.layers && !b->opt.json; i++)
		bench_print_layers(&nets[i], &b->opt, b->ceiling);
	return failed;
}

static int measure_pipelines(struct bench *b)
{
	int failed = 0;

	for (int k = BENCH_BACKENDS - 1; k >= 0; k--) {
		if (!(b->opt.backend_mask & (1 << k)))
			continue;
		if (bench_pipeline_measure(k, b->gpu, &b->opt, nets, &b->pipes[k]))
			failed++;
		if (!b->opt.json)
			bench_print_pipeline(k, &b->pipes[k]);
	}
	return failed;
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	int ret, failed = 0;

	ret = parse_args(argc, argv, &b.opt);
	if (ret >= 0)
		return ret;
	describe_machine(&b.machine);
	if (open_gpu(&b))
		return 1;
	if (!b.opt.json)
		bench_print_header(&b.machine, &b.opt);

	measure_ceilings(&b);
	failed += measure_nets(&b);
	if (b.opt.pipeline)
		failed += measure_pipelines(&b);
	read_load(b.machine.load_after);

	if (b.opt.json) {
		char *text = bench_json(&b.machine, &b.opt, b.ceiling, nets, b.pipes);

		if (text)
			puts(text);
		free(text);
	} else {
		bench_print_targets(nets, b.pipes, b.ceiling, &b.opt);
		printf("load after: %.2f %.2f %.2f\n", b.machine.load_after[0],
		       b.machine.load_after[1], b.machine.load_after[2]);
	}

	for (int i = 0; i < BENCH_NET_COUNT; i++)
		bench_net_free(&nets[i]);
	for (int k = 0; k < BENCH_BACKENDS; k++)
		bench_pipeline_free(&b.pipes[k]);
	if (b.gpu)
		visid_gpu_destroy(b.gpu);
	return failed ? 1 : 0;
}
