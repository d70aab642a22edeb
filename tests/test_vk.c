/*
 * The Vulkan core: device choice and naming, selector errors, a missing
 * driver, buffers, replayed sequences and their timestamps, and the
 * validation hook itself.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vk.h"
#include "vk_test.h"

static char logged[16][200];
static int logged_count;
static enum visid_log_level saved_level;

static void capture(enum visid_log_level level, const char *msg, void *data)
{
	if (logged_count < 16)
		snprintf(logged[logged_count], sizeof(logged[0]), "%s", msg);
	logged_count++;
}

static void capture_start(enum visid_log_level level)
{
	logged_count = 0;
	saved_level = visid_log_get_level();
	visid_log_set_handler(capture, NULL);
	visid_log_set_level(level);
}

static void capture_stop(void)
{
	visid_log_set_handler(NULL, NULL);
	visid_log_set_level(saved_level);
}

/* 1 when a captured message contains `text`. */
static int logged_has(const char *text)
{
	for (int i = 0; i < logged_count && i < 16; i++)
		if (strstr(logged[i], text))
			return 1;
	return 0;
}

static void test_device_named_in_log(void)
{
	struct visid_gpu_options opt = { .validation = 1 };
	struct visid_gpu *gpu = NULL;
	int ret;

	capture_start(VISID_LOG_INFO);
	ret = visid_gpu_create(&opt, &gpu);
	capture_stop();
	VT_CHECK(ret == 0, "visid_gpu_create: %d", ret);
	if (ret)
		return;
	VT_CHECK(strlen(visid_gpu_name(gpu)) > 0, "device has an empty name");
	VT_CHECK(logged_has(visid_gpu_name(gpu)), "no info line names '%s' (%d lines, first '%s')",
		 visid_gpu_name(gpu), logged_count, logged[0]);
	VT_CHECK(visid_vk_alignment(gpu) >= 16 && !(visid_vk_alignment(gpu) &
						     (visid_vk_alignment(gpu) - 1)),
		 "view alignment %zu is not a power of two >= 16", visid_vk_alignment(gpu));
	VT_CHECK(visid_gpu_validation_errors(gpu) == 0, "%u validation messages",
		 visid_gpu_validation_errors(gpu));
	visid_gpu_destroy(gpu);
}

/* The device picked by index 0, by a word of its name and by $VISID_DEVICE is one device. */
static void test_select_by_index_and_name(void)
{
	struct visid_gpu_options opt = { .device = "0", .validation = 1 };
	struct visid_gpu *gpu = NULL;
	char name[256], word[64];
	int ret;

	ret = visid_gpu_create(&opt, &gpu);
	VT_CHECK(ret == 0, "device index 0: %d", ret);
	if (ret)
		return;
	snprintf(name, sizeof(name), "%s", visid_gpu_name(gpu));
	visid_gpu_destroy(gpu);

	snprintf(word, sizeof(word), "%.*s", (int)strcspn(name, " ("), name);
	opt.device = word;
	ret = visid_gpu_create(&opt, &gpu);
	VT_CHECK(ret == 0, "device by name '%s': %d", word, ret);
	if (ret)
		return;
	VT_CHECK(!strcmp(visid_gpu_name(gpu), name), "'%s' chose '%s', index 0 is '%s'", word,
		 visid_gpu_name(gpu), name);
	visid_gpu_destroy(gpu);

	opt.device = NULL;
	setenv("VISID_DEVICE", "0", 1);
	ret = visid_gpu_create(&opt, &gpu);
	unsetenv("VISID_DEVICE");
	VT_CHECK(ret == 0, "VISID_DEVICE=0: %d", ret);
	if (!ret) {
		VT_CHECK(!strcmp(visid_gpu_name(gpu), name), "VISID_DEVICE=0 chose '%s', not '%s'",
			 visid_gpu_name(gpu), name);
		visid_gpu_destroy(gpu);
	}
}

static void test_bad_selector(void)
{
	static const char *const bad[] = { "no-such-device-visid", "97" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct visid_gpu_options opt = { .device = bad[i] };
		struct visid_gpu *gpu = (struct visid_gpu *)&opt;
		int ret;

		capture_start(VISID_LOG_WARN);
		ret = visid_gpu_create(&opt, &gpu);
		capture_stop();
		VT_CHECK(ret == -ENODEV && gpu == NULL, "selector '%s': %d, gpu %p", bad[i], ret,
			 (void *)gpu);
		VT_CHECK(logged_has(bad[i]), "no error message names selector '%s' (first: '%s')",
			 bad[i], logged[0]);
	}
}

/*
 * With the loader pointed at a driver file that does not exist, creation
 * fails with a message and no crash. A child process keeps the loader
 * state of this process intact.
 */
static void test_no_driver(void)
{
	int status = 0;
	pid_t pid = fork();

	VT_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct visid_gpu *gpu = NULL;
		int ret;

		setenv("VK_ICD_FILENAMES", "/nonexistent/visid-icd.json", 1);
		setenv("VK_DRIVER_FILES", "/nonexistent/visid-icd.json", 1);
		capture_start(VISID_LOG_WARN);
		ret = visid_gpu_create(NULL, &gpu);
		capture_stop();
		if (ret == 0 || gpu) {
			fprintf(stderr, "created '%s' without a driver\n", visid_gpu_name(gpu));
			_exit(2);
		}
		if (ret != -ENODEV || !logged_count) {
			fprintf(stderr, "returned %d with %d messages\n", ret, logged_count);
			_exit(3);
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	VT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "creation without a driver: child %s %d (2: created a device, 3: wrong error)",
		 WIFEXITED(status) ? "exited" : "killed by signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void round_trip(enum visid_vk_buffer_kind kind, const char *what)
{
	enum { N = 1000 };
	struct visid_vk_buffer *buf = NULL;
	float src[N], back[N];
	int ret;

	for (int i = 0; i < N; i++)
		src[i] = (float)i * 0.25f - 100.0f;
	ret = visid_vk_buffer_create(vt_gpu, sizeof(src), kind, what, &buf);
	VT_CHECK(ret == 0, "%s buffer: %d", what, ret);
	if (ret)
		return;
	VT_CHECK(kind != VISID_VK_BUFFER_HOST || visid_vk_buffer_map(buf),
		 "host buffer is not mapped");
	ret = visid_vk_upload(buf, 0, src, sizeof(src));
	VT_CHECK(ret == 0, "%s upload: %d", what, ret);
	ret = visid_vk_upload(buf, 40 * sizeof(float), src, 10 * sizeof(float));
	VT_CHECK(ret == 0, "%s upload at an offset: %d", what, ret);
	memset(back, 0, sizeof(back));
	ret = visid_vk_download(buf, 0, back, sizeof(back));
	VT_CHECK(ret == 0, "%s download: %d", what, ret);
	for (int i = 0; i < N; i++) {
		float want = i >= 40 && i < 50 ? src[i - 40] : src[i];

		if (back[i] != want) {
			VT_CHECK(back[i] == want, "%s element %d: %g, wrote %g", what, i, back[i],
				 want);
			break;
		}
	}
	capture_start(VISID_LOG_WARN);
	ret = visid_vk_upload(buf, sizeof(src) - 4, src, 8);
	capture_stop();
	VT_CHECK(ret == -EINVAL, "%s upload past the end: %d", what, ret);
	visid_vk_buffer_destroy(buf);
}

static void test_buffer_round_trip(void)
{
	round_trip(VISID_VK_BUFFER_DEVICE, "device");
	round_trip(VISID_VK_BUFFER_HOST, "host");
	VT_NO_VALIDATION_MESSAGES();
}

static void test_buffer_out_of_memory(void)
{
	struct visid_vk_buffer *buf = (struct visid_vk_buffer *)&buf;
	int ret;

	capture_start(VISID_LOG_WARN);
	ret = visid_vk_buffer_create(vt_gpu, (size_t)1 << 46, VISID_VK_BUFFER_DEVICE, "huge", &buf);
	capture_stop();
	VT_CHECK(ret == -ENOMEM && buf == NULL, "64 TiB buffer: %d", ret);
	VT_CHECK(logged_has("huge"), "no message names the buffer (first: '%s')", logged[0]);
	capture_start(VISID_LOG_WARN);
	ret = visid_vk_buffer_create(vt_gpu, 0, VISID_VK_BUFFER_DEVICE, "empty", &buf);
	capture_stop();
	VT_CHECK(ret == -EINVAL, "empty buffer: %d", ret);
	VT_NO_VALIDATION_MESSAGES();
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * A chain of dependent dispatches x -> y -> z -> w, repeated CHAIN times
 * (more than one query chunk and one descriptor pool hold), recorded once
 * and run five times with new input each time: each run's output must
 * follow its own input, which fails if a barrier is missing or replay reuses
 * stale state. Each run's per-dispatch times must fit inside its wall time.
 */
enum { N = 4099, C = 7, CHAIN = 30 };

static void replay(struct visid_gpu *gpu, const char *what)
{
	struct visid_vk_buffer *x = NULL, *y = NULL, *z = NULL, *w = NULL, *scale = NULL;
	struct visid_eltwise_params mul = { VISID_ELT_MUL, N / C + 1, C, 1 };
	struct visid_eltwise_params absolute = { VISID_ELT_ABS, N / C + 1, C, 0 };
	struct visid_copy_params copy = { 1, (N / C + 1) * C, (N / C + 1) * C, 0 };
	size_t n = (N / C + 1) * C, bytes = n * sizeof(float);
	static float in[(N / C + 1) * C], out[(N / C + 1) * C];
	float s[C];
	struct visid_vk_seq *seq = NULL;
	const struct visid_vk_timing *t;
	int ret;

	for (int c = 0; c < C; c++)
		s[c] = (float)(c + 1) * 0.5f;
	ret = visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "x", &x);
	ret = ret ? ret : visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "y", &y);
	ret = ret ? ret : visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "z", &z);
	ret = ret ? ret : visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "w", &w);
	ret = ret ? ret : visid_vk_buffer_create(gpu, sizeof(s), VISID_VK_BUFFER_DEVICE, "s",
						 &scale);
	ret = ret ? ret : visid_vk_upload(scale, 0, s, sizeof(s));
	ret = ret ? ret : visid_vk_seq_create(gpu, &seq);
	VT_CHECK(ret == 0, "%s: setup: %d", what, ret);
	if (!ret)
		visid_vk_seq_set_timing(seq, 1);
	if (ret)
		goto out_free;

	/* Recording twice checks that begin drops the first recording. */
	for (int pass = 0; pass < 2 && !ret; pass++) {
		ret = visid_vk_seq_begin(seq);
		for (int i = 0; i < CHAIN && !ret; i++) {
			ret = visid_vk_copy(seq, &copy, visid_vk_whole(i ? w : x),
					    visid_vk_whole(y), "x->y");
			ret = ret ? ret : visid_vk_eltwise(seq, &mul, visid_vk_whole(y),
							   visid_vk_whole(scale), visid_vk_whole(z),
							   "y*s->z");
			ret = ret ? ret : visid_vk_eltwise(seq, &absolute, visid_vk_whole(z),
							   visid_vk_view(NULL, 0, 0),
							   visid_vk_whole(w), "|z|->w");
		}
		ret = ret ? ret : visid_vk_seq_end(seq);
	}
	VT_CHECK(ret == 0, "%s: recording: %d", what, ret);
	VT_CHECK(visid_vk_seq_length(seq) == 3 * CHAIN, "%s: %d dispatches recorded, %d expected",
		 what, visid_vk_seq_length(seq), 3 * CHAIN);
	if (ret)
		goto out_free;

	for (int run = 0; run < 5; run++) {
		double start, wall;
		int bad = -1, count;
		float want = 0;

		for (size_t i = 0; i < n; i++)
			in[i] = (float)((int)(i * 7 + run * 13) % 101 - 50) * 0.125f;
		ret = visid_vk_upload(x, 0, in, bytes);
		start = now_ms();
		ret = ret ? ret : visid_vk_seq_submit(seq);
		wall = now_ms() - start;
		ret = ret ? ret : visid_vk_download(w, 0, out, bytes);
		VT_CHECK(ret == 0, "%s: run %d: %d", what, run, ret);
		if (ret)
			break;
		for (size_t i = 0; i < n && bad < 0; i++) {
			want = in[i];
			for (int k = 0; k < CHAIN; k++)
				want = fabsf(want * s[i % C]);
			if (out[i] != want)
				bad = (int)i;
		}
		VT_CHECK(bad < 0, "%s: run %d element %d: %g, expected %g", what, run, bad,
			 bad < 0 ? 0.0 : out[bad], want);

		count = visid_vk_seq_timings(seq, &t);
		if (count == -ENOTSUP)
			continue;
		VT_CHECK(count == 3 * CHAIN, "%s: run %d: %d timings", what, run, count);
		if (count == 3 * CHAIN) {
			double sum = 0;

			VT_CHECK(!strcmp(t[0].label, "x->y") &&
				     !strcmp(t[count - 1].label, "|z|->w"),
				 "%s: labels '%s', '%s'", what, t[0].label, t[count - 1].label);
			for (int i = 0; i < count; i++) {
				VT_CHECK(t[i].ms >= 0 && t[i].ms <= wall,
					 "%s: '%s' took %g ms of %g", what, t[i].label, t[i].ms,
					 wall);
				sum += t[i].ms;
			}
			VT_CHECK(sum > 0 && sum <= wall,
				 "%s: run %d: dispatches %g ms, submit %g ms", what, run, sum,
				 wall);
		}
	}
	VT_CHECK(visid_gpu_validation_errors(gpu) == 0, "%s: %u validation messages", what,
		 visid_gpu_validation_errors(gpu));
out_free:
	visid_vk_seq_destroy(seq);
	visid_vk_buffer_destroy(x);
	visid_vk_buffer_destroy(y);
	visid_vk_buffer_destroy(z);
	visid_vk_buffer_destroy(w);
	visid_vk_buffer_destroy(scale);
}

static void test_sequence_replay(void)
{
	replay(vt_gpu, "default descriptors");
}

/* The same through descriptor pools, the path of devices without push descriptors. */
static void test_sequence_replay_pooled(void)
{
	struct visid_gpu_options opt = { .validation = 1 };
	struct visid_gpu *gpu = NULL;
	int ret;

	setenv("VISID_VK_DESCRIPTOR_POOLS", "1", 1);
	ret = visid_gpu_create(&opt, &gpu);
	unsetenv("VISID_VK_DESCRIPTOR_POOLS");
	VT_CHECK(ret == 0, "device with descriptor pools: %d", ret);
	if (!ret)
		replay(gpu, "descriptor pools");
	visid_gpu_destroy(gpu);
}

/* Misuse is refused before it reaches the device: misaligned views, recording without begin. */
static void test_dispatch_misuse(void)
{
	struct visid_eltwise_params relu = { VISID_ELT_RELU, 16, 4, 0 };
	struct visid_vk_buffer *buf = NULL;
	struct visid_vk_seq *seq = NULL;
	int ret;

	ret = visid_vk_buffer_create(vt_gpu, 4096, VISID_VK_BUFFER_DEVICE, "misuse", &buf);
	ret = ret ? ret : visid_vk_seq_create(vt_gpu, &seq);
	VT_CHECK(ret == 0, "setup: %d", ret);
	if (ret)
		goto out_free;
	capture_start(VISID_LOG_WARN);
	ret = visid_vk_eltwise(seq, &relu, visid_vk_view(buf, 0, 256), visid_vk_view(NULL, 0, 0),
			       visid_vk_view(buf, 1024, 256), "early");
	VT_CHECK(ret == -EINVAL, "dispatch before begin: %d", ret);
	visid_vk_seq_begin(seq);
	ret = visid_vk_eltwise(seq, &relu, visid_vk_view(buf, 4, 256), visid_vk_view(NULL, 0, 0),
			       visid_vk_view(buf, 1024, 256), "misaligned");
	VT_CHECK(ret == -EINVAL && logged_has("misaligned"), "misaligned view: %d", ret);
	ret = visid_vk_eltwise(seq, &relu, visid_vk_view(buf, 0, 128), visid_vk_view(NULL, 0, 0),
			       visid_vk_view(buf, 1024, 256), "short");
	VT_CHECK(ret == -EINVAL && logged_has("short"), "view too small: %d", ret);
	ret = visid_vk_seq_end(seq);
	VT_CHECK(ret == -EINVAL, "end after a failed recording: %d", ret);
	ret = visid_vk_seq_submit(seq);
	VT_CHECK(ret == -EINVAL, "submit of a failed recording: %d", ret);
	capture_stop();
	VT_NO_VALIDATION_MESSAGES();
out_free:
	visid_vk_seq_destroy(seq);
	visid_vk_buffer_destroy(buf);
}

/* The hook counts what the layer reports: a buffer with no usage is invalid. */
static void test_validation_counts_messages(void)
{
	struct visid_gpu_options opt = { .validation = 1 };
	VkBufferCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = 64,
		.usage = 0,
	};
	struct visid_gpu *gpu = NULL;
	VkBuffer buffer = VK_NULL_HANDLE;
	uint32_t count = 0;
	int have = 0;
	VkLayerProperties layers[64];

	vkEnumerateInstanceLayerProperties(&count, NULL);
	if (count > 64)
		count = 64;
	vkEnumerateInstanceLayerProperties(&count, layers);
	for (uint32_t i = 0; i < count; i++)
		have |= !strcmp(layers[i].layerName, "VK_LAYER_KHRONOS_validation");
	if (!have) {
		fprintf(stderr, "(validation layer not installed: hook not exercised) ");
		return;
	}
	VT_CHECK(visid_gpu_create(&opt, &gpu) == 0, "device with validation");
	if (!gpu)
		return;
	capture_start(VISID_LOG_WARN);
	if (vkCreateBuffer(visid_vk_device(gpu), &info, NULL, &buffer) == VK_SUCCESS)
		vkDestroyBuffer(visid_vk_device(gpu), buffer, NULL);
	capture_stop();
	VT_CHECK(visid_gpu_validation_errors(gpu) > 0 && logged_count > 0,
		 "invalid buffer usage: %u messages counted, %d logged",
		 visid_gpu_validation_errors(gpu), logged_count);
	visid_gpu_destroy(gpu);
}

VISID_SUITE(vk, "vk", vt_init, vt_clean, vt_skip,
	    VISID_TEST(test_device_named_in_log),
	    VISID_TEST(test_select_by_index_and_name),
	    VISID_TEST(test_bad_selector),
	    VISID_TEST(test_no_driver),
	    VISID_TEST(test_buffer_round_trip),
	    VISID_TEST(test_buffer_out_of_memory),
	    VISID_TEST(test_sequence_replay),
	    VISID_TEST(test_sequence_replay_pooled),
	    VISID_TEST(test_dispatch_misuse),
	    VISID_TEST(test_validation_counts_messages))
