/*
 * The three networks against the reference tensors of ../shared/golden
 * (TFLite's own outputs): final outputs within 1e-3, embeddings by cosine,
 * and every layer of the fused graph against the reference statistics or
 * full dumps of the operator it ends with, so a mismatch names the first
 * layer that differs. The same checks run on the CPU and on Vulkan, fused
 * and unfused (the unfused graph exercises the eltwise and pad kernels),
 * Vulkan with fp32 tensors; fp16 tensors are held to what they are used
 * for: embeddings within cosine 0.999, the same detections.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "harness.h"
#include "net_internal.h"
#include "vk.h"
#include "visid/gpu.h"
#include "visid/log.h"

#define OUT_TOL	   1e-3
#define COSINE_MIN 0.9999
/* fp16 tensors: what the runtime check at creation demands, on the real faces. */
#define FP16_COSINE_MIN 0.999
/*
 * fp16 detectors: logit error, relative beyond FP16_LOGIT_SCALE (a logit of
 * -100 may be off by more than one of 0.5), and box regressors (input
 * pixels) of the anchors scored above 0.5.
 */
#define FP16_LOGIT_TOL	 0.1
#define FP16_LOGIT_SCALE 10.0
#define FP16_PIXEL_TOL	 0.5

enum section { SECTION_TOP, SECTION_SHORT, SECTION_EMBEDDER };

struct golden_case {
	const char *id;
	const char *model;
	enum section section;
};

static const struct golden_case cases[] = {
    {"det_full_sample1", "face_detection_full_range.tflite", SECTION_TOP},
    {"det_full_sample3", "face_detection_full_range.tflite", SECTION_TOP},
    {"face_sample1_f0", "face_detection_short_range.tflite", SECTION_SHORT},
    {"face_sample3_f0", "face_detection_short_range.tflite", SECTION_SHORT},
    {"face_sample1_f0", "MobileFaceNet.tflite", SECTION_EMBEDDER},
    {"face_sample3_f0", "MobileFaceNet.tflite", SECTION_EMBEDDER},
};

static struct visid_gpu *gpu;
static char gpu_skip_reason[160];

static cJSON *read_case(const char *id)
{
	char rel[128], path[512];
	cJSON *json = NULL;
	char *text;
	long len;
	FILE *f;

	snprintf(rel, sizeof(rel), "golden/%s/case.json", id);
	f = fopen(visid_test_shared(rel, path, sizeof(path)), "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc(len + 1);
	if (text && fread(text, 1, len, f) == (size_t)len) {
		text[len] = 0;
		json = cJSON_Parse(text);
	}
	free(text);
	fclose(f);
	return json;
}

static const cJSON *case_section(const cJSON *json, enum section s)
{
	if (s == SECTION_SHORT)
		return cJSON_GetObjectItem(json, "stage1_short_range_roi");
	if (s == SECTION_EMBEDDER)
		return cJSON_GetObjectItem(json, "embedder");
	return json;
}

/* A golden float file named by a "file" member (relative to golden/). */
static long read_golden(const cJSON *obj, float **out)
{
	const cJSON *file = cJSON_GetObjectItem(obj, "file");
	char rel[256], path[512];

	if (!cJSON_IsString(file))
		return -1;
	snprintf(rel, sizeof(rel), "golden/%s", file->valuestring);
	return visid_test_read_f32(visid_test_shared(rel, path, sizeof(path)), out);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
	double d = 0;

	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]);

		if (!(e <= d))
			d = e;
	}
	return d;
}

static double cosine(const float *a, const float *b, size_t n)
{
	double ab = 0, aa = 0, bb = 0;

	for (size_t i = 0; i < n; i++) {
		ab += (double)a[i] * b[i];
		aa += (double)a[i] * a[i];
		bb += (double)b[i] * b[i];
	}
	return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

static struct visid_model *load_model(const char *file)
{
	struct visid_model *model = NULL;
	char path[300];
	int ret = visid_model_load(visid_test_model(file, path, sizeof(path)), &model);

	VT_CHECK(ret == 0, "loading %s: %d", path, ret);
	return ret ? NULL : model;
}

static struct visid_net *create_net(struct visid_model *model, enum visid_backend backend,
				    int flags)
{
	struct visid_net_options opt = {.backend = backend, .gpu = gpu};
	struct visid_net *net = NULL;
	int ret;

	/* The tolerances of these checks are fp32's, whatever the device would choose. */
	if (backend == VISID_BACKEND_VULKAN && !(flags & VISID_NET_FP16))
		flags |= VISID_NET_FP32;
	ret = visid_net_create_flags(model, &opt, flags, &net);

	VT_CHECK(ret == 0, "creating %s on backend %d (flags %d): %d", visid_model_path(model),
		 backend, flags, ret);
	return ret ? NULL : net;
}

static float **alloc_outputs(struct visid_net *net)
{
	float **out = calloc(VISID_NET_MAX_OUTPUTS, sizeof(float *));

	for (int i = 0; i < visid_net_output_count(net); i++)
		out[i] = calloc(visid_net_output_size(net, i), sizeof(float));
	return out;
}

static void free_outputs(float **out)
{
	for (int i = 0; i < VISID_NET_MAX_OUTPUTS; i++)
		free(out[i]);
	free(out);
}

static int output_named(struct visid_net *net, const char *part)
{
	for (int i = 0; i < visid_net_output_count(net); i++)
		if (strstr(visid_net_output_name(net, i), part))
			return i;
	return -1;
}

static void check_detector_outputs(const char *what, struct visid_net *net, const cJSON *sec,
				   float **out)
{
	static const char *const names[] = {"regressors", "classificators"};
	static const char *const parts[] = {"regressor", "classif"};
	const cJSON *outputs = cJSON_GetObjectItem(sec, "outputs");

	for (int k = 0; k < 2; k++) {
		int i = output_named(net, parts[k]);
		float *ref = NULL;
		long n = read_golden(cJSON_GetObjectItem(outputs, names[k]), &ref);

		VT_CHECK(i >= 0 && n > 0, "%s: output %s (net %d, golden %ld floats)", what,
			 names[k], i, n);
		if (i >= 0 && n > 0) {
			double d;

			VT_CHECK((size_t)n == visid_net_output_size(net, i),
				 "%s: %s has %zu floats, golden %ld", what, names[k],
				 visid_net_output_size(net, i), n);
			d = max_abs_diff(out[i], ref,
					 (size_t)n < visid_net_output_size(net, i)
					     ? (size_t)n
					     : visid_net_output_size(net, i));
			VT_CHECK(d <= OUT_TOL, "%s: %s differ by %.3g (limit %g)", what, names[k],
				 d, OUT_TOL);
		}
		free(ref);
	}
}

static void check_embedding(const char *what, struct visid_net *net, const cJSON *sec, float **out)
{
	float *raw = NULL, *unit = NULL;
	long n_raw = read_golden(cJSON_GetObjectItem(sec, "output_raw"), &raw);
	long n_unit = read_golden(cJSON_GetObjectItem(sec, "embedding_l2"), &unit);
	size_t n = visid_net_output_size(net, 0);

	VT_CHECK(n == 192 && n_raw == 192 && n_unit == 192,
		 "%s: embedding sizes net %zu, raw %ld, normalised %ld", what, n, n_raw, n_unit);
	if (n == 192 && n_raw == 192 && n_unit == 192) {
		float norm[192];
		double ss = 0, c;

		for (int i = 0; i < 192; i++)
			ss += (double)out[0][i] * out[0][i];
		for (int i = 0; i < 192; i++)
			norm[i] = (float)(out[0][i] / sqrt(ss));
		c = cosine(norm, unit, 192);
		VT_CHECK(c >= COSINE_MIN, "%s: cosine to the golden embedding %.6f (min %g)", what,
			 c, COSINE_MIN);
		VT_CHECK(max_abs_diff(out[0], raw, 192) <= 2e-3 * sqrt(ss) / sqrt(192.0) + OUT_TOL,
			 "%s: raw embedding differs by %.3g", what, max_abs_diff(out[0], raw, 192));
	}
	free(raw);
	free(unit);
}

/* Statistics of a tensor as the golden files give them. */
struct stats {
	double sum, sum_abs, min, max;
};

static struct stats tensor_stats(const float *x, size_t n)
{
	struct stats s = {0, 0, INFINITY, -INFINITY};

	for (size_t i = 0; i < n; i++) {
		s.sum += x[i];
		s.sum_abs += fabs(x[i]);
		s.min = fmin(s.min, x[i]);
		s.max = fmax(s.max, x[i]);
	}
	return s;
}

/*
 * Tolerances scale with the tensor: the reference ran in float32 with its
 * own summation order, so sums over a million values drift by ~1e-6 of
 * their magnitude.
 */
static int stats_match(const struct stats *s, const cJSON *ref, char *why, size_t len)
{
	double rs = cJSON_GetObjectItem(ref, "sum")->valuedouble;
	double ra = cJSON_GetObjectItem(ref, "sum_abs")->valuedouble;
	double rmin = cJSON_GetObjectItem(ref, "min")->valuedouble;
	double rmax = cJSON_GetObjectItem(ref, "max")->valuedouble;
	double scale = fmax(fabs(rmin), fabs(rmax));

	if (fabs(s->sum - rs) > 1e-4 * ra + 1e-2 || fabs(s->sum_abs - ra) > 1e-4 * ra + 1e-2 ||
	    fabs(s->min - rmin) > 1e-3 * fmax(1, scale) ||
	    fabs(s->max - rmax) > 1e-3 * fmax(1, scale)) {
		snprintf(
		    why, len,
		    "sum %.6g/%.6g sum_abs %.6g/%.6g min %.5g/%.5g max %.5g/%.5g (ours/golden)",
		    s->sum, rs, s->sum_abs, ra, s->min, rmin, s->max, rmax);
		return 0;
	}
	return 1;
}

static int find_layer(struct visid_net *net, const char *tensor_name, int from)
{
	int n = visid_net_layer_count(net), found = -1;

	/* The last layer writing it: concatenation copies share one output. */
	for (int i = from; i < n; i++) {
		struct visid_net_layer_info info;

		visid_net_layer_info(net, i, &info);
		if (!strcmp(info.name, tensor_name))
			found = i;
	}
	return found;
}

/*
 * Walks the golden layer list in operator order. Entries whose tensor is
 * a fused intermediate have no layer; every layer of ours must meet its
 * entry, and the first one off is reported by name.
 */
static void check_layers(const char *what, struct visid_net *net, const cJSON *sec)
{
	const cJSON *layers = cJSON_GetObjectItem(sec, "layers"), *entry;
	int n_layers = visid_net_layer_count(net), mapped = 0, dumps = 0, bad = 0;
	char first_bad[512] = "";
	unsigned char *seen = calloc(n_layers, 1);

	VT_CHECK(cJSON_IsArray(layers), "%s: golden case has no layer list", what);
	cJSON_ArrayForEach(entry, layers)
	{
		const char *name = cJSON_GetObjectItem(entry, "tensor")->valuestring;
		int i = find_layer(net, name, 0);
		struct visid_net_layer_info info;
		size_t count = 1;
		float *ours, *ref = NULL;
		char why[300] = "";
		long n;
		int ok;

		if (i < 0)
			continue;
		mapped++;
		seen[i] = 1;
		for (int j = i - 1; j >= 0; j--) {
			struct visid_net_layer_info prev;

			visid_net_layer_info(net, j, &prev);
			if (strcmp(prev.name, name))
				break;
			seen[j] = 1;
		}
		visid_net_layer_info(net, i, &info);
		for (int d = 0; d < info.rank; d++)
			count *= info.shape[d];
		ours = malloc(count * sizeof(float));
		ok = visid_net_layer_output(net, i, ours) == 0;
		if (!ok)
			snprintf(why, sizeof(why), "output not readable");
		n = ok ? read_golden(entry, &ref) : -1;
		if (ok && n > 0) {
			double d = n == (long)count ? max_abs_diff(ours, ref, count) : INFINITY;
			struct stats s = tensor_stats(ref, n);

			dumps++;
			ok = d <= 1e-3 * fmax(1, fmax(fabs(s.min), fabs(s.max)));
			if (!ok)
				snprintf(why, sizeof(why),
					 "dump differs by %.3g (%ld vs %zu floats)", d, n, count);
		} else if (ok) {
			struct stats s = tensor_stats(ours, count);

			ok = stats_match(&s, cJSON_GetObjectItem(entry, "stats"), why, sizeof(why));
		}
		if (!ok && !bad++)
			snprintf(first_bad, sizeof(first_bad),
				 "op_index %d %s (ours: layer %d %s) tensor %s: %s",
				 cJSON_GetObjectItem(entry, "op_index")->valueint,
				 cJSON_GetObjectItem(entry, "op")->valuestring, i, info.op, name,
				 why);
		free(ref);
		free(ours);
	}
	VT_CHECK(bad == 0, "%s: %d of %d layers differ; first: %s", what, bad, mapped, first_bad);
	for (int i = 0; i < n_layers; i++)
		VT_CHECK(seen[i], "%s: layer %d has no golden entry", what, i);
	VT_CHECK(mapped >= n_layers / 2, "%s: only %d golden entries met %d layers", what, mapped,
		 n_layers);
	free(seen);
}

static void run_case(const struct golden_case *c, enum visid_backend backend, int flags)
{
	cJSON *json = read_case(c->id);
	const cJSON *sec = json ? case_section(json, c->section) : NULL;
	struct visid_model *model = NULL;
	struct visid_net *net = NULL;
	float *input = NULL, **out = NULL;
	char what[160];
	long n;

	snprintf(what, sizeof(what), "%s %s on %s%s", c->id, c->model,
		 backend == VISID_BACKEND_CPU ? "cpu" : "vulkan",
		 flags & VISID_NET_NO_FUSE ? " unfused" : "");
	VT_CHECK(sec != NULL, "%s: golden case.json unreadable", what);
	if (!sec)
		goto out;
	model = load_model(c->model);
	net = model ? create_net(model, backend, flags | VISID_NET_KEEP_ALL) : NULL;
	if (!net)
		goto out;
	n = read_golden(cJSON_GetObjectItem(sec, "input"), &input);
	VT_CHECK(n > 0, "%s: golden input unreadable", what);
	{
		int shape[4];

		visid_net_input_shape(net, shape);
		VT_CHECK(n == (long)shape[0] * shape[1] * shape[2] * shape[3],
			 "%s: golden input has %ld floats, the net takes %dx%dx%dx%d", what, n,
			 shape[0], shape[1], shape[2], shape[3]);
		if (n != (long)shape[0] * shape[1] * shape[2] * shape[3])
			goto out;
	}
	out = alloc_outputs(net);
	VT_CHECK(visid_net_run(net, input, out) == 0, "%s: run failed", what);
	if (c->section == SECTION_EMBEDDER)
		check_embedding(what, net, sec, out);
	else
		check_detector_outputs(what, net, sec, out);
	check_layers(what, net, sec);
	if (gpu && backend == VISID_BACKEND_VULKAN)
		VT_CHECK(visid_gpu_validation_errors(gpu) == 0, "%s: %u validation errors", what,
			 visid_gpu_validation_errors(gpu));
out:
	if (out)
		free_outputs(out);
	free(input);
	visid_net_destroy(net);
	visid_model_free(model);
	cJSON_Delete(json);
}

static void run_all(enum visid_backend backend, int flags)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], backend, flags);
}

/* Values of the input (-1) and every layer output that are not zero. */
static long nonzero_values(struct visid_net *net, long *total)
{
	const struct visid_graph *g = visid_net_graph(net);
	long nonzero = 0;

	*total = 0;
	for (int i = -1; i < visid_net_layer_count(net); i++) {
		int value = i < 0 ? g->input : g->layers[i].out;
		size_t count = g->values[value].count;
		float *v = malloc(count * sizeof(float));

		VT_CHECK(v && visid_net_layer_output(net, i, v) == 0, "reading layer %d", i);
		for (size_t k = 0; v && k < count; k++)
			nonzero += v[k] != 0.0f;
		*total += (long)count;
		free(v);
	}
	return nonzero;
}

/*
 * After visid_net_wipe nothing of the face a network saw is left in its
 * input or in any layer: every value that held it reads zero.
 */
static void check_wipe(enum visid_backend backend, struct visid_gpu *on, const char *what)
{
	const struct golden_case *c = &cases[4];
	cJSON *json = read_case(c->id);
	struct visid_model *model = load_model(c->model);
	struct visid_net_options opt = {.backend = backend, .gpu = on};
	struct visid_net *net = NULL;
	float *input = NULL, **out = NULL;
	long before, after, total;

	if (!json || !model ||
	    read_golden(cJSON_GetObjectItem(case_section(json, c->section), "input"), &input) <= 0)
		goto out;
	VT_CHECK(visid_net_create_flags(model, &opt, VISID_NET_KEEP_ALL, &net) == 0,
		 "%s: creating the embedder", what);
	if (!net)
		goto out;
	out = alloc_outputs(net);
	VT_CHECK(visid_net_run(net, input, out) == 0, "%s: run failed", what);
	before = nonzero_values(net, &total);
	VT_CHECK(before > total / 4, "%s: only %ld of %ld values set by the run", what, before,
		 total);
	VT_CHECK(visid_net_wipe(net) == 0, "%s: wipe failed", what);
	after = nonzero_values(net, &total);
	VT_CHECK(after == 0, "%s: %ld of %ld values left after the wipe", what, after, total);
	/* The wiped network still runs, with the same result. */
	VT_CHECK(visid_net_run(net, input, out) == 0 && nonzero_values(net, &total) == before,
		 "%s: the run after the wipe differs", what);
out:
	if (out)
		free_outputs(out);
	free(input);
	visid_net_destroy(net);
	visid_model_free(model);
	cJSON_Delete(json);
}

static void test_cpu_wipe(void)
{
	check_wipe(VISID_BACKEND_CPU, NULL, "cpu");
}

static void test_vulkan_wipe(void)
{
	struct visid_gpu *unmapped = NULL;
	int ret;

	check_wipe(VISID_BACKEND_VULKAN, gpu, "vulkan");
	/* As on a discrete GPU: the device memory is zeroed by recorded fills. */
	setenv("VISID_VK_UNMAPPED", "1", 1);
	ret = visid_gpu_create(&(struct visid_gpu_options){.validation = 1}, &unmapped);
	unsetenv("VISID_VK_UNMAPPED");
	VT_CHECK(ret == 0, "creating an unmapped device: %d", ret);
	if (!ret) {
		check_wipe(VISID_BACKEND_VULKAN, unmapped, "vulkan, unmapped buffers");
		VT_CHECK(visid_gpu_validation_errors(unmapped) == 0, "%u validation errors",
			 visid_gpu_validation_errors(unmapped));
	}
	visid_gpu_destroy(unmapped);
}

static void test_cpu_fused(void)
{
	run_all(VISID_BACKEND_CPU, 0);
}

static void test_cpu_unfused(void)
{
	run_all(VISID_BACKEND_CPU, VISID_NET_NO_FUSE);
}

static void test_vulkan_fused(void)
{
	run_all(VISID_BACKEND_VULKAN, 0);
}

static void test_vulkan_unfused(void)
{
	run_all(VISID_BACKEND_VULKAN, VISID_NET_NO_FUSE);
}

/*
 * Without KEEP_ALL buffers are shared by liveness; the outputs must not
 * change, and the plan must need fewer buffers than tensors.
 */
static void check_buffer_reuse(enum visid_backend backend)
{
	const struct golden_case *c = &cases[2];
	cJSON *json = read_case(c->id);
	struct visid_model *model = load_model(c->model);
	struct visid_net *shared = NULL, *kept = NULL;
	float *input = NULL, **a = NULL, **b = NULL;

	if (!json || !model)
		goto out;
	shared = create_net(model, backend, 0);
	kept = create_net(model, backend, VISID_NET_KEEP_ALL);
	if (!shared || !kept ||
	    read_golden(cJSON_GetObjectItem(case_section(json, c->section), "input"), &input) <= 0)
		goto out;
	VT_CHECK(visid_net_graph(shared)->n_buffers < visid_net_graph(kept)->n_buffers / 4,
		 "liveness planning used %d buffers for %d tensors",
		 visid_net_graph(shared)->n_buffers, visid_net_graph(kept)->n_buffers);
	a = alloc_outputs(shared);
	b = alloc_outputs(kept);
	for (int run = 0; run < 2; run++) {
		VT_CHECK(visid_net_run(shared, input, a) == 0 && visid_net_run(kept, input, b) == 0,
			 "runs failed");
		for (int i = 0; i < visid_net_output_count(shared); i++)
			VT_CHECK(max_abs_diff(a[i], b[i], visid_net_output_size(shared, i)) == 0,
				 "run %d output %d differs between shared and private buffers", run,
				 i);
	}
out:
	if (a)
		free_outputs(a);
	if (b)
		free_outputs(b);
	free(input);
	visid_net_destroy(shared);
	visid_net_destroy(kept);
	visid_model_free(model);
	cJSON_Delete(json);
}

static void test_cpu_buffer_reuse(void)
{
	check_buffer_reuse(VISID_BACKEND_CPU);
}

static void test_vulkan_buffer_reuse(void)
{
	check_buffer_reuse(VISID_BACKEND_VULKAN);
}

/* The fusions the graph is expected to find in the real models. */
static void test_fusion(void)
{
	static const struct {
		const char *model;
		const char *op;
		int min_count;
	} want[] = {
	    {"MobileFaceNet.tflite", "CONV_2D+PRELU", 10},
	    {"MobileFaceNet.tflite", "DEPTHWISE_CONV_2D+PRELU", 10},
	    {"MobileFaceNet.tflite", "CONV_2D+ADD", 10},
	    {"face_detection_short_range.tflite", "CONV_2D+PAD+ADD+RELU", 6},
	    {"face_detection_short_range.tflite", "CONV_2D+MAX_POOL_2D+PAD+ADD+RELU", 3},
	    {"face_detection_full_range.tflite", "CONV_2D+RELU", 20},
	    {"face_detection_full_range.tflite", "CONV_2D+ADD+RELU", 10},
	};

	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		struct visid_model *model = load_model(want[w].model);
		struct visid_net *net = model ? create_net(model, VISID_BACKEND_CPU, 0) : NULL;
		int count = 0, eltwise = 0, copies = 0;

		for (int i = 0; net && i < visid_net_layer_count(net); i++) {
			struct visid_net_layer_info info;

			visid_net_layer_info(net, i, &info);
			count += !strcmp(info.op, want[w].op);
			eltwise += !strcmp(info.kind, "eltwise") || !strcmp(info.kind, "pad");
			copies += !strcmp(info.kind, "copy");
		}
		VT_CHECK(count >= want[w].min_count, "%s: %d layers %s, at least %d expected",
			 want[w].model, count, want[w].op, want[w].min_count);
		VT_CHECK(eltwise == 0, "%s: %d eltwise/pad layers left after fusion", want[w].model,
			 eltwise);
		/* Short-range's heads are written in place into the concatenated outputs. */
		VT_CHECK(copies == 0, "%s: %d concatenation copies left", want[w].model, copies);
		visid_net_destroy(net);
		visid_model_free(model);
	}
}

static char swallowed[256];

static void swallow(enum visid_log_level level, const char *msg, void *data)
{
	snprintf(swallowed, sizeof(swallowed), "%s", msg);
}

static struct visid_net *full_range_at(struct visid_model *model, int h, int w)
{
	struct visid_net_options opt = {.backend = VISID_BACKEND_CPU, .height = h, .width = w};
	struct visid_net *net = NULL;

	return visid_net_create(model, &opt, &net) ? NULL : net;
}

/*
 * Fully convolutional use: one anchor per 4x4 input pixels, and a face
 * found in the 192x192 frame is found again at the same place in every
 * tile when the frame is tiled 2x2 into 384x384.
 */
static void test_full_range_any_size(void)
{
	struct visid_model *model = load_model("face_detection_full_range.tflite");
	struct visid_net *small = NULL, *tiled = NULL, *wide = NULL, *odd;
	float *input = NULL, *big = NULL, **out_small = NULL, **out_tiled = NULL;
	cJSON *json = read_case("det_full_sample1");
	int logit, found = 0, kept = 0;

	if (!model || !json)
		goto out;
	wide = full_range_at(model, 384, 640);
	VT_CHECK(wide != NULL, "full range at 384x640 not created");
	if (wide) {
		int shape[4], rank;

		logit = output_named(wide, "classif");
		rank = visid_net_output_shape(wide, logit, shape);
		VT_CHECK(rank == 3 && shape[0] == 1 && shape[1] == 96 * 160 && shape[2] == 1,
			 "384x640 logits shape rank %d [%d,%d,%d]", rank, shape[0], shape[1],
			 shape[2]);
		VT_CHECK(visid_net_output_size(wide, output_named(wide, "regressor")) ==
			     96 * 160 * 16,
			 "384x640 regressors %zu floats",
			 visid_net_output_size(wide, output_named(wide, "regressor")));
	}
	visid_log_set_handler(swallow, NULL);
	odd = full_range_at(model, 200, 200);
	visid_log_set_handler(NULL, NULL);
	VT_CHECK(odd == NULL && strstr(swallowed, visid_model_path(model)),
		 "a 200x200 input (not a multiple of 32) was accepted or not reported: '%s'",
		 swallowed);
	visid_net_destroy(odd);

	small = full_range_at(model, 0, 0);
	tiled = full_range_at(model, 384, 384);
	if (!small || !tiled ||
	    read_golden(cJSON_GetObjectItem(json, "input"), &input) != 192 * 192 * 3)
		goto out;
	big = malloc(384 * 384 * 3 * sizeof(float));
	for (int y = 0; y < 384; y++)
		for (int x = 0; x < 384; x++)
			memcpy(big + (y * 384 + x) * 3, input + ((y % 192) * 192 + x % 192) * 3,
			       3 * sizeof(float));
	out_small = alloc_outputs(small);
	out_tiled = alloc_outputs(tiled);
	VT_CHECK(visid_net_run(small, input, out_small) == 0 &&
		     visid_net_run(tiled, big, out_tiled) == 0,
		 "runs failed");
	logit = output_named(small, "classif");
	for (size_t i = 0; i < visid_net_output_size(tiled, logit); i++)
		VT_CHECK(isfinite(out_tiled[logit][i]), "tiled logit %zu is %g", i,
			 out_tiled[logit][i]);
	for (int a = 0; a < 48 * 48; a++) {
		int ax = a % 48, ay = a / 48;

		/* sigmoid(logit) > 0.6: a detection at the full-range threshold. */
		if (out_small[logit][a] <= 0.405f)
			continue;
		found++;
		for (int t = 0; t < 4; t++) {
			int ta = (ay + 48 * (t / 2)) * 96 + ax + 48 * (t % 2);

			kept += out_tiled[logit][ta] > 0.0f;
		}
	}
	VT_CHECK(found > 0, "no anchor above threshold in the 192x192 golden frame");
	VT_CHECK(kept == 4 * found, "%d of %d detections found again in the 2x2 tiling", kept,
		 4 * found);
out:
	if (out_small)
		free_outputs(out_small);
	if (out_tiled)
		free_outputs(out_tiled);
	free(input);
	free(big);
	visid_net_destroy(small);
	visid_net_destroy(tiled);
	visid_net_destroy(wide);
	visid_model_free(model);
	cJSON_Delete(json);
}

/* Fully convolutional on Vulkan: 192x384 (the golden frame twice) equals the CPU run. */
static void test_vulkan_any_size(void)
{
	struct visid_model *model = load_model("face_detection_full_range.tflite");
	struct visid_net_options opt = {.height = 192, .width = 384, .gpu = gpu};
	struct visid_net *cpu = NULL, *vk = NULL;
	float *input = NULL, *wide = NULL, **a = NULL, **b = NULL;
	cJSON *json = read_case("det_full_sample3");

	if (!model || !json ||
	    read_golden(cJSON_GetObjectItem(json, "input"), &input) != 192 * 192 * 3)
		goto out;
	opt.backend = VISID_BACKEND_CPU;
	VT_CHECK(visid_net_create(model, &opt, &cpu) == 0, "cpu net at 192x384");
	opt.backend = VISID_BACKEND_VULKAN;
	VT_CHECK(visid_net_create_flags(model, &opt, VISID_NET_FP32, &vk) == 0,
		 "vulkan net at 192x384");
	if (!cpu || !vk)
		goto out;
	wide = malloc(192 * 384 * 3 * sizeof(float));
	for (int y = 0; y < 192; y++)
		for (int x = 0; x < 384; x++)
			memcpy(wide + (y * 384 + x) * 3, input + (y * 192 + x % 192) * 3,
			       3 * sizeof(float));
	a = alloc_outputs(cpu);
	b = alloc_outputs(vk);
	VT_CHECK(visid_net_run(cpu, wide, a) == 0 && visid_net_run(vk, wide, b) == 0,
		 "runs failed");
	for (int i = 0; i < visid_net_output_count(cpu); i++) {
		double d = max_abs_diff(a[i], b[i], visid_net_output_size(cpu, i));

		VT_CHECK(visid_net_output_size(cpu, i) == 48 * 96 * (i ? 1u : 16u) ||
			     visid_net_output_size(cpu, i) == 48 * 96 * (i ? 16u : 1u),
			 "output %d has %zu floats", i, visid_net_output_size(cpu, i));
		VT_CHECK(d <= OUT_TOL, "output %s: vulkan and cpu differ by %.3g",
			 visid_net_output_name(cpu, i), d);
	}
out:
	if (a)
		free_outputs(a);
	if (b)
		free_outputs(b);
	free(input);
	free(wide);
	visid_net_destroy(cpu);
	visid_net_destroy(vk);
	visid_model_free(model);
	cJSON_Delete(json);
}

/*
 * Detections of an fp16 run: logits near the decision stay close (far
 * from it, relative to their size), and the boxes of every anchor the
 * reference scores above 0.5 stay within a fraction of a pixel.
 */
static void check_fp16_detector(const char *what, struct visid_net *net, const cJSON *sec,
				float **out)
{
	const cJSON *outputs = cJSON_GetObjectItem(sec, "outputs");
	int reg = output_named(net, "regressor"), cls = output_named(net, "classif");
	float *ref_reg = NULL, *ref_cls = NULL;
	long n_reg = read_golden(cJSON_GetObjectItem(outputs, "regressors"), &ref_reg);
	long n_cls = read_golden(cJSON_GetObjectItem(outputs, "classificators"), &ref_cls);
	double logit_err = 0, pixel_err = 0;
	int ok, confident = 0;

	ok = reg >= 0 && cls >= 0 && n_cls > 0 && n_reg == 16 * n_cls &&
	     (size_t)n_cls == visid_net_output_size(net, cls);
	VT_CHECK(ok, "%s: outputs %d/%d, golden %ld/%ld floats", what, reg, cls, n_reg, n_cls);
	for (long a = 0; ok && a < n_cls; a++) {
		double err = fabs(out[cls][a] - ref_cls[a]);

		logit_err = fmax(logit_err, err / (1 + fabs(ref_cls[a]) / FP16_LOGIT_SCALE));
		if (ref_cls[a] <= 0)
			continue;
		confident++;
		pixel_err = fmax(pixel_err, max_abs_diff(out[reg] + a * 16, ref_reg + a * 16, 16));
	}
	VT_CHECK(confident > 0, "%s: no anchor scored above 0.5 in the golden outputs", what);
	VT_CHECK(logit_err <= FP16_LOGIT_TOL, "%s: fp16 logits off by %.3g (limit %g)", what,
		 logit_err, FP16_LOGIT_TOL);
	VT_CHECK(pixel_err <= FP16_PIXEL_TOL,
		 "%s: fp16 boxes of %d anchors off by %.3g pixels (limit %g)", what, confident,
		 pixel_err, FP16_PIXEL_TOL);
	printf("\n      %s: logits %.3g, boxes %.3g px ", what, logit_err, pixel_err);
	free(ref_reg);
	free(ref_cls);
}

static void check_fp16_embedding(const char *what, struct visid_net *net, const cJSON *sec,
				 float **out)
{
	float *unit = NULL;
	long n = read_golden(cJSON_GetObjectItem(sec, "embedding_l2"), &unit);

	VT_CHECK(n == 192 && visid_net_output_size(net, 0) == 192, "%s: embedding sizes %ld/%zu",
		 what, n, visid_net_output_size(net, 0));
	if (n == 192 && visid_net_output_size(net, 0) == 192) {
		double c = cosine(out[0], unit, 192);

		VT_CHECK(c >= FP16_COSINE_MIN, "%s: fp16 embedding at cosine %.6f (min %g)", what,
			 c, FP16_COSINE_MIN);
		printf("\n      %s: cosine %.6f ", what, c);
	}
	free(unit);
}

/* Every golden case with fp16 tensors, where the device stores and fetches them. */
static void test_vulkan_fp16(void)
{
	if (!visid_vk_has_fp16_tensors(gpu)) {
		printf("\n      skipped: '%s' has no fp16 storage or texel fetch ",
		       visid_gpu_name(gpu));
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct golden_case *c = &cases[i];
		cJSON *json = read_case(c->id);
		const cJSON *sec = json ? case_section(json, c->section) : NULL;
		struct visid_model *model = sec ? load_model(c->model) : NULL;
		struct visid_net *net =
		    model ? create_net(model, VISID_BACKEND_VULKAN, VISID_NET_FP16) : NULL;
		float *input = NULL, **out = NULL;
		char what[160];

		snprintf(what, sizeof(what), "%s %s on vulkan fp16", c->id, c->model);
		if (net && read_golden(cJSON_GetObjectItem(sec, "input"), &input) > 0) {
			out = alloc_outputs(net);
			VT_CHECK(visid_net_run(net, input, out) == 0, "%s: run failed", what);
			if (c->section == SECTION_EMBEDDER)
				check_fp16_embedding(what, net, sec, out);
			else
				check_fp16_detector(what, net, sec, out);
			free_outputs(out);
		}
		VT_CHECK(net != NULL && input != NULL, "%s: not run", what);
		VT_CHECK(visid_gpu_validation_errors(gpu) == 0, "%s: %u validation errors", what,
			 visid_gpu_validation_errors(gpu));
		free(input);
		visid_net_destroy(net);
		visid_model_free(model);
		cJSON_Delete(json);
	}
}

static const char *golden_skip(void)
{
	char path[512];

	if (!visid_test_have_shared("golden/manifest.json"))
		return "golden tensors not found (../shared/golden or $VISID_SHARED/golden)";
	if (access(visid_test_model("face_detection_full_range.tflite", path, sizeof(path)),
		   R_OK) ||
	    access(visid_test_model("MobileFaceNet.tflite", path, sizeof(path)), R_OK))
		return "models not fetched (make models, or set VISID_MODEL_DIR)";
	return NULL;
}

static const char *golden_vulkan_skip(void)
{
	/* Validation on where installed: any message fails the suite. */
	struct visid_gpu_options opt = {.validation = 1};
	const char *why = golden_skip();
	int ret;

	if (why)
		return why;
	if (gpu)
		return NULL;
	ret = visid_gpu_create(&opt, &gpu);
	if (ret) {
		snprintf(gpu_skip_reason, sizeof(gpu_skip_reason),
			 "no Vulkan device could be created (%s)", strerror(-ret));
		return gpu_skip_reason;
	}
	return NULL;
}

static int golden_vulkan_clean(void)
{
	visid_gpu_destroy(gpu);
	gpu = NULL;
	return 0;
}

VISID_SUITE(golden, "golden", NULL, NULL, golden_skip, VISID_TEST(test_cpu_fused),
	    VISID_TEST(test_cpu_unfused), VISID_TEST(test_cpu_buffer_reuse),
	    VISID_TEST(test_fusion), VISID_TEST(test_full_range_any_size),
	    VISID_TEST(test_cpu_wipe))

VISID_SUITE(golden_vulkan, "golden-vulkan", NULL, golden_vulkan_clean, golden_vulkan_skip,
	    VISID_TEST(test_vulkan_fused), VISID_TEST(test_vulkan_unfused),
	    VISID_TEST(test_vulkan_buffer_reuse), VISID_TEST(test_vulkan_any_size),
	    VISID_TEST(test_vulkan_fp16), VISID_TEST(test_vulkan_wipe))
