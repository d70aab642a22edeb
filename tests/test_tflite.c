/*
 * The TFLite loader: the three real models read as their files describe
 * them; truncated, bit-flipped and foreign files end in a logged error
 * naming the file, never a fault; unsupported operators are named. Small
 * models are written here with a minimal flatbuffer writer.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "net_internal.h"
#include "tflite.h"
#include "visid/log.h"

static char last_error[400];
static int n_errors;

static void capture(enum visid_log_level level, const char *msg, void *data)
{
	if (level != VISID_LOG_ERROR)
		return;
	snprintf(last_error, sizeof(last_error), "%s", msg);
	n_errors++;
}

static void capture_start(void)
{
	last_error[0] = 0;
	n_errors = 0;
	visid_log_set_handler(capture, NULL);
}

static void capture_stop(void)
{
	visid_log_set_handler(NULL, NULL);
}

static long read_file(const char *path, unsigned char **out)
{
	FILE *f = fopen(path, "rb");
	long len;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	*out = malloc(len > 0 ? len : 1);
	if (!*out || fread(*out, 1, len, f) != (size_t)len)
		len = -1;
	fclose(f);
	return len;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(data, 1, len, f) == len;

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static const char *model_path(const char *file)
{
	static char path[300];

	return visid_test_model(file, path, sizeof(path));
}

static int count_ops(const struct visid_tfl_model *m, int code)
{
	int n = 0;

	for (int k = 0; k < m->n_ops; k++)
		n += m->ops[k].code == code;
	return n;
}

static void check_model(const char *file, int n_ops, int n_tensors, const int *in_shape,
			int n_dequantize, const char *first_compute_op)
{
	struct visid_tfl_model *m = NULL;
	const struct visid_tfl_tensor *in;
	int ret = visid_tfl_load(model_path(file), &m), fp16 = 0, nonfinite = 0;

	VT_CHECK(ret == 0, "%s: load returned %d", file, ret);
	if (ret)
		return;
	VT_CHECK(m->n_ops == n_ops && m->n_tensors == n_tensors,
		 "%s: %d operators, %d tensors (file: %d, %d)", file, m->n_ops, m->n_tensors, n_ops,
		 n_tensors);
	in = &m->tensors[m->inputs[0]];
	VT_CHECK(m->n_inputs == 1 && in->rank == 4 && !memcmp(in->shape, in_shape, 4 * sizeof(int)),
		 "%s: input [%d,%d,%d,%d]", file, in->shape[0], in->shape[1], in->shape[2],
		 in->shape[3]);
	VT_CHECK(count_ops(m, VISID_TFL_DEQUANTIZE) == n_dequantize, "%s: %d DEQUANTIZE ops", file,
		 count_ops(m, VISID_TFL_DEQUANTIZE));
	for (int k = 0; k < m->n_ops; k++) {
		if (m->ops[k].code != VISID_TFL_DEQUANTIZE) {
			VT_CHECK(!strcmp(m->ops[k].name, first_compute_op),
				 "%s: first computing operator is %s", file, m->ops[k].name);
			break;
		}
	}
	for (int t = 0; t < m->n_tensors; t++) {
		const struct visid_tfl_tensor *ts = &m->tensors[t];

		if (ts->type != VISID_TFL_FLOAT16)
			continue;
		VT_CHECK(ts->data != NULL, "%s: fp16 tensor %s has no fp32 copy", file, ts->name);
		fp16 += ts->data != NULL;
		for (size_t i = 0; ts->data && i < ts->count; i++)
			nonfinite += !isfinite(ts->data[i]);
	}
	VT_CHECK(nonfinite == 0, "%s: %d fp16 weights decoded to inf/nan", file, nonfinite);
	VT_CHECK((n_dequantize > 0) == (fp16 > 0), "%s: %d fp16 constants", file, fp16);
	visid_tfl_free(m);
}

static void test_real_models(void)
{
	static const int full[4] = {1, 192, 192, 3}, shrt[4] = {1, 128, 128, 3},
			 mfn[4] = {2, 112, 112, 3};

	check_model("face_detection_full_range.tflite", 354, 544, full, 178, "CONV_2D");
	check_model("face_detection_short_range.tflite", 164, 250, shrt, 74, "CONV_2D");
	check_model("MobileFaceNet.tflite", 230, 369, mfn, 0, "CONV_2D");
}

/* fp16 decoding against values exactly representable in both formats. */
static void test_fp16_weights(void)
{
	struct visid_tfl_model *m = NULL;
	int checked = 0, bad = 0;

	if (visid_tfl_load(model_path("face_detection_short_range.tflite"), &m))
		return;
	for (int t = 0; t < m->n_tensors; t++) {
		const struct visid_tfl_tensor *ts = &m->tensors[t];

		for (size_t i = 0; ts->type == VISID_TFL_FLOAT16 && ts->data && i < ts->count;
		     i++) {
			float v = fabsf(ts->data[i]);
			int e;
			float frac = frexpf(v, &e);

			checked++;
			/* An fp16 value has at most 11 significant bits and is below 65504. */
			if (v != 0 &&
			    (v > 65504.0f || ldexpf(frac, 11) != truncf(ldexpf(frac, 11))) &&
			    e > -14)
				bad++;
		}
	}
	VT_CHECK(checked > 100000 && bad == 0, "%d of %d decoded fp16 weights not fp16 values", bad,
		 checked);
	visid_tfl_free(m);
}

/* Deterministic pseudo-random numbers (xorshift). */
static uint32_t rng_state = 0x9e3779b9u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static int load_error_names_file(const char *path, int *loaded)
{
	struct visid_model *model = NULL;
	int ret;

	capture_start();
	ret = visid_model_load(path, &model);
	capture_stop();
	*loaded = ret == 0;
	visid_model_free(model);
	return ret == 0 || (n_errors > 0 && strstr(last_error, path) != NULL);
}

static void test_truncated(void)
{
	const char *dir = visid_test_tmpdir();
	char path[300];
	unsigned char *data = NULL;
	long size = read_file(model_path("face_detection_short_range.tflite"), &data);
	int loaded = 0, unnamed = 0, tries = 0;
	long first_loaded = -1;

	VT_CHECK(size > 1000 && dir, "model unreadable (%ld bytes) or no tmpdir", size);
	if (size <= 1000 || !dir)
		goto out;
	snprintf(path, sizeof(path), "%s/truncated.tflite", dir);
	for (int i = 0; i < 300; i++) {
		long len = i < 64 ? i : i < 128 ? size - (i - 63) : (long)(rng() % size);
		int ok;

		if (write_file(path, data, len))
			break;
		tries++;
		unnamed += !load_error_names_file(path, &ok);
		if (ok && !loaded++)
			first_loaded = len;
	}
	VT_CHECK(loaded == 0, "%d truncated copies loaded, the first cut to %ld of %ld bytes",
		 loaded, first_loaded, size);
	VT_CHECK(tries == 300 && unnamed == 0,
		 "%d of %d truncated copies failed without naming the file", unnamed, tries);
out:
	free(data);
}

static void test_flipped(void)
{
	const char *dir = visid_test_tmpdir();
	char path[300];
	unsigned char *data = NULL;
	long size = read_file(model_path("face_detection_short_range.tflite"), &data);
	int rejected = 0, unnamed = 0, ran = 0;

	if (size <= 1000 || !dir)
		goto out;
	snprintf(path, sizeof(path), "%s/flipped.tflite", dir);
	for (int i = 0; i < 400; i++) {
		/* Half the flips hit the first 4 KiB: the tables, where structure lives. */
		long at = i % 2 ? (long)(rng() % size) : (long)(rng() % 4096);
		unsigned char saved = data[at];
		struct visid_model *model = NULL;
		int loaded;

		data[at] ^= (unsigned char)(1u << (rng() % 8)) | (i % 3 ? 0 : 0x80);
		write_file(path, data, size);
		data[at] = saved;
		unnamed += !load_error_names_file(path, &loaded);
		rejected += !loaded;
		/* A copy that still loads must also still run without fault. */
		if (loaded && ran < 8 && !visid_model_load(path, &model)) {
			struct visid_net_options opt = {.backend = VISID_BACKEND_CPU};
			struct visid_net *net = NULL;

			capture_start();
			if (!visid_net_create(model, &opt, &net)) {
				int shape[4];
				float *in, *out[VISID_NET_MAX_OUTPUTS] = {0};

				visid_net_input_shape(net, shape);
				in = calloc((size_t)shape[1] * shape[2] * shape[3], sizeof(float));
				for (int o = 0; o < visid_net_output_count(net); o++)
					out[o] =
					    malloc(visid_net_output_size(net, o) * sizeof(float));
				ran += visid_net_run(net, in, out) == 0;
				for (int o = 0; o < visid_net_output_count(net); o++)
					free(out[o]);
				free(in);
			}
			capture_stop();
			visid_net_destroy(net);
			visid_model_free(model);
		}
	}
	VT_CHECK(unnamed == 0, "%d corrupted copies failed without naming the file", unnamed);
	VT_CHECK(rejected > 20, "only %d of 400 corrupted copies were rejected", rejected);
	VT_CHECK(ran > 0, "no corrupted-but-valid copy ran");
out:
	free(data);
}

static void test_foreign_files(void)
{
	const char *dir = visid_test_tmpdir();
	char text[300], zeros[300], garbage[300], missing[300];
	unsigned char noise[4096];
	int loaded;

	if (!dir)
		return;
	snprintf(text, sizeof(text), "%s/readme.tflite", dir);
	snprintf(zeros, sizeof(zeros), "%s/zeros.tflite", dir);
	snprintf(garbage, sizeof(garbage), "%s/garbage.tflite", dir);
	snprintf(missing, sizeof(missing), "%s/missing.tflite", dir);
	write_file(text, "This is a text file, not a model.\n", 34);
	memset(noise, 0, sizeof(noise));
	write_file(zeros, noise, sizeof(noise));
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (unsigned char)rng();
	memcpy(noise + 4, "TFL3", 4);
	write_file(garbage, noise, sizeof(noise));

	VT_CHECK(load_error_names_file(text, &loaded) && !loaded, "text file: '%s'", last_error);
	VT_CHECK(load_error_names_file(zeros, &loaded) && !loaded, "zeros: '%s'", last_error);
	VT_CHECK(load_error_names_file(garbage, &loaded) && !loaded, "noise: '%s'", last_error);
	VT_CHECK(load_error_names_file(missing, &loaded) && !loaded, "missing: '%s'", last_error);
	VT_CHECK(load_error_names_file(dir, &loaded) && !loaded, "directory: '%s'", last_error);
}

/*
 * A minimal flatbuffer writer: objects are appended in order and every
 * reference points forward, as the format requires of uoffsets. Each
 * table field is a 4-byte slot (bytes are read from the low byte).
 */
struct fbw {
	uint8_t p[8192];
	size_t len;
};

static void put32(struct fbw *w, size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		w->p[at + i] = (uint8_t)(v >> (8 * i));
}

static size_t append32(struct fbw *w, uint32_t v)
{
	size_t at = w->len;

	put32(w, at, v);
	w->len += 4;
	return at;
}

static void append16(struct fbw *w, uint16_t v)
{
	w->p[w->len++] = (uint8_t)v;
	w->p[w->len++] = (uint8_t)(v >> 8);
}

static void align4(struct fbw *w)
{
	while (w->len % 4)
		w->p[w->len++] = 0;
}

/* A table of n slots, slot i present when bit i of `present` is set. */
static size_t table(struct fbw *w, int n, uint32_t present, const uint32_t *vals)
{
	size_t vt, t;

	align4(w);
	vt = w->len;
	append16(w, (uint16_t)(4 + 2 * n));
	append16(w, (uint16_t)(4 + 4 * n));
	for (int i = 0; i < n; i++)
		append16(w, present & (1u << i) ? (uint16_t)(4 + 4 * i) : 0);
	align4(w);
	t = append32(w, 0);
	put32(w, t, (uint32_t)(t - vt));
	for (int i = 0; i < n; i++)
		append32(w, vals ? vals[i] : 0);
	return t;
}

static void link(struct fbw *w, size_t table_pos, int slot, size_t target)
{
	size_t at = table_pos + 4 + 4 * slot;

	put32(w, at, (uint32_t)(target - at));
}

static size_t ivec(struct fbw *w, int n, const int *v)
{
	size_t at;

	align4(w);
	at = append32(w, (uint32_t)n);
	for (int i = 0; i < n; i++)
		append32(w, (uint32_t)v[i]);
	return at;
}

static size_t string(struct fbw *w, const char *s)
{
	size_t at;

	align4(w);
	at = append32(w, (uint32_t)strlen(s));
	memcpy(w->p + w->len, s, strlen(s) + 1);
	w->len += strlen(s) + 1;
	return at;
}

/* A vector of n table references, filled in with link_elem. */
static size_t tvec(struct fbw *w, int n)
{
	size_t at;

	align4(w);
	at = append32(w, (uint32_t)n);
	for (int i = 0; i < n; i++)
		append32(w, 0);
	return at;
}

static void link_elem(struct fbw *w, size_t vec, int i, size_t target)
{
	size_t at = vec + 4 + 4 * i;

	put32(w, at, (uint32_t)(target - at));
}

struct mini_model {
	int code;	    /* builtin operator */
	const char *custom; /* custom_code, for code 32 */
	int opcode_index;
	int input_tensor;
	int in_buffer;
};

/* One operator from tensor "in" [1,2,2,3] to "out" [1,2,2,3], one empty buffer. */
static size_t write_mini(struct fbw *w, const struct mini_model *mm)
{
	static const int shape[4] = {1, 2, 2, 3};
	uint32_t model_vals[5] = {3}, code_vals[4], tensor_vals[4] = {0}, op_vals[3];
	size_t model, codes, code, graphs, graph, tensors, ops, op, bufs, t;
	int zero = 0, one = 1, input = mm->input_tensor;

	memset(w, 0, sizeof(*w));
	append32(w, 0);
	memcpy(w->p + 4, "TFL3", 4);
	w->len = 8;
	model = table(w, 5, 0x17, model_vals);
	put32(w, 0, (uint32_t)model);

	codes = tvec(w, 1);
	link(w, model, 1, codes);
	code_vals[0] = mm->code < 127 ? (uint32_t)mm->code : 127;
	code_vals[1] = 0;
	code_vals[2] = 1;
	code_vals[3] = (uint32_t)mm->code;
	code = table(w, 4, mm->custom ? 0xf : 0xd, code_vals);
	link_elem(w, codes, 0, code);
	if (mm->custom)
		link(w, code, 1, string(w, mm->custom));

	bufs = tvec(w, 1);
	link(w, model, 4, bufs);
	link_elem(w, bufs, 0, table(w, 0, 0, NULL));

	graphs = tvec(w, 1);
	link(w, model, 2, graphs);
	graph = table(w, 4, 0xf, NULL);
	link_elem(w, graphs, 0, graph);
	tensors = tvec(w, 2);
	link(w, graph, 0, tensors);
	for (int i = 0; i < 2; i++) {
		tensor_vals[2] = i ? 0 : (uint32_t)mm->in_buffer;
		t = table(w, 4, 0xf, tensor_vals);
		link_elem(w, tensors, i, t);
		link(w, t, 0, ivec(w, 4, shape));
		link(w, t, 3, string(w, i ? "out" : "in"));
	}
	link(w, graph, 1, ivec(w, 1, &zero));
	link(w, graph, 2, ivec(w, 1, &one));
	ops = tvec(w, 1);
	link(w, graph, 3, ops);
	op_vals[0] = (uint32_t)mm->opcode_index;
	op = table(w, 3, 0x7, op_vals);
	link_elem(w, ops, 0, op);
	link(w, op, 1, ivec(w, 1, &input));
	link(w, op, 2, ivec(w, 1, &one));
	return w->len;
}

static int load_mini(const struct mini_model *mm, struct visid_model **model)
{
	static struct fbw w;
	char path[300];
	size_t len = write_mini(&w, mm);
	int ret;

	snprintf(path, sizeof(path), "%s/mini.tflite", visid_test_tmpdir());
	write_file(path, w.p, len);
	capture_start();
	ret = visid_model_load(path, model);
	capture_stop();
	VT_CHECK(ret == 0 || strstr(last_error, path), "error does not name %s: '%s'", path,
		 last_error);
	return ret;
}

static void test_written_model_runs(void)
{
	struct mini_model mm = {.code = VISID_TFL_RELU};
	struct visid_net_options opt = {.backend = VISID_BACKEND_CPU};
	struct visid_model *model = NULL;
	struct visid_net *net = NULL;
	float in[12], out[12];
	float *outs[1] = {out};
	int ret = load_mini(&mm, &model);

	VT_CHECK(ret == 0, "one-RELU model did not load (%d): %s", ret, last_error);
	if (ret)
		return;
	ret = visid_net_create(model, &opt, &net);
	VT_CHECK(ret == 0, "one-RELU net not created: %d", ret);
	for (int i = 0; i < 12; i++)
		in[i] = (float)(i - 6) * 0.5f;
	if (!ret) {
		VT_CHECK(visid_net_run(net, in, outs) == 0, "run failed");
		for (int i = 0; i < 12; i++)
			VT_CHECK(out[i] == (in[i] > 0 ? in[i] : 0), "relu(%g) = %g", in[i], out[i]);
	}
	visid_net_destroy(net);
	visid_model_free(model);
}

static void expect_rejected(const struct mini_model *mm, const char *mention)
{
	struct visid_model *model = NULL;
	int ret = load_mini(mm, &model);

	VT_CHECK(ret < 0 && strstr(last_error, mention),
		 "expected an error naming '%s', got %d: '%s'", mention, ret, last_error);
	visid_model_free(ret ? NULL : model);
}

static void test_unsupported_named(void)
{
	struct mini_model softmax = {.code = 25};
	struct mini_model custom = {.code = 32, .custom = "FaceMeshLandmarks"};
	struct mini_model future = {.code = 999};

	expect_rejected(&softmax, "SOFTMAX");
	expect_rejected(&custom, "FaceMeshLandmarks");
	expect_rejected(&future, "999");
}

static void test_bad_references(void)
{
	struct mini_model opcode = {.code = VISID_TFL_RELU, .opcode_index = 3};
	struct mini_model tensor = {.code = VISID_TFL_RELU, .input_tensor = 7};
	struct mini_model buffer = {.code = VISID_TFL_RELU, .in_buffer = 9};
	struct mini_model cycle = {.code = VISID_TFL_RELU, .input_tensor = 1};

	expect_rejected(&opcode, "opcode index");
	expect_rejected(&tensor, "not a tensor index");
	expect_rejected(&buffer, "buffer index");
	expect_rejected(&cycle, "not computed");
}

static const char *tflite_skip(void)
{
	char path[300];
	FILE *f =
	    fopen(visid_test_model("face_detection_short_range.tflite", path, sizeof(path)), "rb");

	if (!f)
		return "models not fetched (make models, or set VISID_MODEL_DIR)";
	fclose(f);
	return NULL;
}

VISID_SUITE(tflite, "tflite", NULL, NULL, tflite_skip, VISID_TEST(test_real_models),
	    VISID_TEST(test_fp16_weights), VISID_TEST(test_truncated), VISID_TEST(test_flipped),
	    VISID_TEST(test_foreign_files), VISID_TEST(test_written_model_runs),
	    VISID_TEST(test_unsupported_named), VISID_TEST(test_bad_references))
