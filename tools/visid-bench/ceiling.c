/*
 * The ceilings the networks are measured against, on the device they ran
 * on: the best dense fp32 matrix product and the best plain copy. On
 * Vulkan these are the shaders bench_gemm and bench_copy, timed by GPU
 * timestamps; for the CPU backend a register-blocked C product on one
 * thread, built with the library's own flags (the CPU kernels run on one
 * thread too), and memcpy. On Vulkan also the dispatch floor: what one
 * dispatch costs however little it does, which bounds networks of many
 * small layers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "vk.h"
#include "visid/log.h"

/*
 * 576 = 9 x 64, doubled until a run is long enough. Not a power of two:
 * at 1024 each row is 4 KiB, the rows one invocation reads share cache
 * sets, and on lavapipe the best tile lost a third of its speed. The bar
 * sits well below what 576 takes on lavapipe (10-12 ms): with a bar of 10
 * ms the noisy first timing doubled the size in some runs and not in
 * others, and the larger size was the slower one.
 */
#define GEMM_MIN_SIZE 576
#define GEMM_MAX_SIZE 4608
/* Grow a problem until one run takes this long, so the timer's grain and launch costs vanish. */
#define GEMM_MIN_MS	    2.5
#define COPY_MIN_BYTES	    (64u << 20)
#define COPY_MAX_BYTES	    (1024u << 20)
#define COPY_MIN_MS	    5.0
#define COPY_WG		    64
#define COPY_PER_INVOCATION 4
#define GROUPS_X_MAX	    32768u
#define CHECKED_ENTRIES	    97
/* Dispatches of 64 bytes each, each reading what the one before wrote. */
#define FLOOR_BYTES 64

struct gemm_variant {
	int tm, tn4, wg;
	int texels; /* A and B read as texels (bench_gemm_t) */
};

/*
 * Tiles of rows x vec4 columns per invocation and workgroup widths tried,
 * each reading through texel and through storage buffers; 8 x 8 outputs
 * with vec4 loads was the best measured on lavapipe.
 */
static const struct gemm_variant gemm_variants[] = {
    {8, 2, 64, 1}, {4, 2, 64, 1}, {8, 1, 64, 1}, {4, 4, 64, 1}, {8, 2, 32, 1}, {8, 2, 128, 1},
    {8, 2, 64, 0}, {4, 2, 64, 0}, {8, 1, 64, 0}, {4, 4, 64, 0}, {8, 2, 32, 0}, {8, 2, 128, 0},
};

double bench_compute_ms(uint64_t macs, const struct bench_ceiling *c)
{
	return c->valid && c->gemm_gflops > 0 ? 2.0 * macs / (c->gemm_gflops * 1e6) : -1;
}

double bench_memory_ms(uint64_t bytes, const struct bench_ceiling *c)
{
	return c->valid && c->copy_gbs > 0 ? bytes / (c->copy_gbs * 1e6) : -1;
}

/* Small integers: every product and sum of the check is exact in fp32. */
static void fill_small_ints(float *v, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		v[i] = (float)((int)(seed >> 16) % 5 - 2);
	}
}

/* Splits a group count over x and y; surplus invocations find no work and return. */
static void split_groups(uint64_t groups, uint32_t *gx, uint32_t *gy)
{
	*gx = groups < GROUPS_X_MAX ? (uint32_t)(groups ? groups : 1) : GROUPS_X_MAX;
	*gy = (uint32_t)((groups + *gx - 1) / *gx);
	if (!*gy)
		*gy = 1;
}

/* Submits a one-dispatch sequence runs times; *best_ms the fastest by timestamps or wall. */
static int time_sequence(struct visid_vk_seq *seq, int runs, double *best_ms, const char **timer)
{
	const struct visid_vk_timing *t;
	int ret;

	*best_ms = INFINITY;
	for (int r = 0; r < runs; r++) {
		double t0 = bench_now_ms(), ms;

		ret = visid_vk_seq_submit(seq);
		if (ret)
			return ret;
		ms = bench_now_ms() - t0;
		*timer = "wall clock";
		if (visid_vk_seq_timings(seq, &t) >= 1) {
			ms = t[visid_vk_seq_length(seq) - 1].ms;
			*timer = "gpu timestamps";
		}
		if (ms < *best_ms)
			*best_ms = ms;
	}
	return 0;
}

struct gemm_buffers {
	struct visid_vk_buffer *a, *b, *c;
	float *ha, *hb;
	int size;
};

static void gemm_buffers_free(struct gemm_buffers *g)
{
	visid_vk_buffer_destroy(g->a);
	visid_vk_buffer_destroy(g->b);
	visid_vk_buffer_destroy(g->c);
	free(g->ha);
	free(g->hb);
	memset(g, 0, sizeof(*g));
}

static int gemm_buffers_init(struct visid_gpu *gpu, int size, struct gemm_buffers *g)
{
	size_t count = (size_t)size * size, bytes = count * sizeof(float);
	int ret;

	memset(g, 0, sizeof(*g));
	g->size = size;
	g->ha = malloc(bytes);
	g->hb = malloc(bytes);
	if (!g->ha || !g->hb) {
		ret = -ENOMEM;
		goto out_free;
	}
	fill_small_ints(g->ha, count, 1);
	fill_small_ints(g->hb, count, 2);
	ret = visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "bench gemm A", &g->a);
	if (!ret)
		ret = visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "bench gemm B",
					     &g->b);
	if (!ret)
		ret = visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "bench gemm C",
					     &g->c);
	if (!ret)
		ret = visid_vk_upload(g->a, 0, g->ha, bytes);
	if (!ret)
		ret = visid_vk_upload(g->b, 0, g->hb, bytes);
	if (ret)
		goto out_free;
	return 0;

out_free:
	gemm_buffers_free(g);
	return ret;
}

/* The best time of one variant at the buffers' size. */
static int gemm_time(struct visid_vk_seq *seq, struct gemm_buffers *g, const struct gemm_variant *v,
		     int runs, double *best_ms, const char **timer)
{
	struct visid_gpu *gpu = visid_vk_seq_gpu(seq);
	struct visid_vk_view views[3] = {visid_vk_whole(g->a), visid_vk_whole(g->b),
					 visid_vk_whole(g->c)};
	int32_t spec[3] = {v->wg, v->tm, v->tn4};
	uint32_t push[3] = {g->size, g->size, g->size}, gx, gy;
	uint64_t tiles = (uint64_t)(g->size / v->tm) * (g->size / (4 * v->tn4));
	enum visid_vk_binding in = v->texels ? VISID_VK_TEXELS_RGBA32F : VISID_VK_STORAGE;
	const enum visid_vk_binding kinds[3] = {in, in, VISID_VK_STORAGE};
	struct visid_vk_pipeline *pipe;
	int ret;

	ret = visid_vk_pipeline_get_kinds(gpu, v->texels ? "bench_gemm_t" : "bench_gemm", spec, 3,
					  kinds, 3, sizeof(push), &pipe);
	if (ret)
		return ret;
	split_groups((tiles + v->wg - 1) / v->wg, &gx, &gy);
	ret = visid_vk_seq_begin(seq);
	if (!ret)
		ret = visid_vk_seq_dispatch(seq, pipe, views, 3, 1u << 2, push, sizeof(push), gx,
					    gy, 1, "bench gemm");
	if (!ret)
		ret = visid_vk_seq_end(seq);
	if (!ret)
		ret = time_sequence(seq, runs, best_ms, timer);
	return ret;
}

/* Texel variants only where the device fetches RGBA32F texels and a matrix fits its limit. */
static int gemm_usable(struct visid_gpu *gpu, const struct gemm_variant *v, int size)
{
	return !v->texels ||
	       visid_vk_texel_limit(gpu, VISID_VK_TEXELS_RGBA32F) >= (size_t)size * size / 4;
}

/* Compares a spread of entries of C with a double-precision product on the host. */
static int gemm_check(struct gemm_buffers *g, const struct gemm_variant *v)
{
	int n = g->size;
	float *c = malloc((size_t)n * n * sizeof(float));
	int ret;

	if (!c)
		return -ENOMEM;
	ret = visid_vk_download(g->c, 0, c, (size_t)n * n * sizeof(float));
	for (int e = 0; e < CHECKED_ENTRIES && !ret; e++) {
		size_t idx = (size_t)e * 7919u * 104729u % ((size_t)n * n);
		int row = (int)(idx / n), col = (int)(idx % n);
		double want = 0;

		for (int k = 0; k < n; k++)
			want += (double)g->ha[(size_t)row * n + k] * g->hb[(size_t)k * n + col];
		if (c[idx] != (float)want) {
			visid_err("bench_gemm %dx%d (tile %dx%d): C[%d][%d] = %g, want %g", n, n,
				  v->tm, 4 * v->tn4, row, col, c[idx], want);
			ret = -EIO;
		}
	}
	free(c);
	return ret;
}

static double gemm_gflops(int size, double ms)
{
	return 2.0 * size * size * (double)size / (ms * 1e6);
}

/* Grows the square problem until a run is long enough, then tries every variant there. */
static int gemm_ceiling_vulkan(struct visid_vk_seq *seq, int runs, struct bench_ceiling *c)
{
	struct visid_gpu *gpu = visid_vk_seq_gpu(seq);
	const struct gemm_variant *best = &gemm_variants[0];
	struct gemm_buffers g = {0};
	double ms = 0, best_ms;
	int size = GEMM_MIN_SIZE, ret;

	while (!gemm_usable(gpu, best, GEMM_MAX_SIZE))
		best++;
	for (;;) {
		ret = gemm_buffers_init(gpu, size, &g);
		if (!ret)
			ret = gemm_time(seq, &g, best, 2, &ms, &c->timer);
		visid_dbg("bench_gemm %dx%d: %.3f ms", size, size, ms);
		if (ret || ms >= GEMM_MIN_MS || size >= GEMM_MAX_SIZE)
			break;
		gemm_buffers_free(&g);
		size *= 2;
	}
	if (ret)
		goto out_free;
	best_ms = INFINITY;
	for (size_t i = 0; i < sizeof(gemm_variants) / sizeof(gemm_variants[0]); i++) {
		if (!gemm_usable(gpu, &gemm_variants[i], size))
			continue;
		ret = gemm_time(seq, &g, &gemm_variants[i], runs, &ms, &c->timer);
		if (ret)
			goto out_free;
		visid_dbg("bench_gemm %dx%d tile %dx%d wg %d %s: %.3f ms, %.1f GFLOP/s", size, size,
			  gemm_variants[i].tm, 4 * gemm_variants[i].tn4, gemm_variants[i].wg,
			  gemm_variants[i].texels ? "texels" : "storage", ms,
			  gemm_gflops(size, ms));
		if (ms < best_ms) {
			best_ms = ms;
			best = &gemm_variants[i];
		}
	}
	/* The winner runs last, so C holds its result for the check. */
	ret = gemm_time(seq, &g, best, 1, &ms, &c->timer);
	if (!ret)
		ret = gemm_check(&g, best);
	if (ret)
		goto out_free;
	c->gemm_size = size;
	c->gemm_gflops = gemm_gflops(size, best_ms);
	snprintf(c->gemm_kernel, sizeof(c->gemm_kernel), "%dx%d/inv wg%d %s", best->tm,
		 4 * best->tn4, best->wg, best->texels ? "texel" : "storage");
out_free:
	gemm_buffers_free(&g);
	return ret;
}

enum copy_method { COPY_STORAGE, COPY_TEXELS, COPY_TRANSFER, COPY_METHODS };

static const char *const copy_names[COPY_METHODS] = {"storage", "texel", "transfer"};

/* One copy recorded: the shader reading storage or texels, or the transfer command. */
static int copy_record(struct visid_vk_seq *seq, struct visid_vk_buffer *src,
		       struct visid_vk_buffer *dst, size_t bytes, enum copy_method method)
{
	struct visid_gpu *gpu = visid_vk_seq_gpu(seq);
	struct visid_vk_view views[2] = {visid_vk_view(src, 0, bytes),
					 visid_vk_view(dst, 0, bytes)};
	uint32_t count = (uint32_t)(bytes / 16), gx, gy;
	uint64_t invocations = (count + COPY_PER_INVOCATION - 1) / COPY_PER_INVOCATION;
	int32_t spec[1] = {COPY_WG};
	const enum visid_vk_binding kinds[2] = {
	    method == COPY_TEXELS ? VISID_VK_TEXELS_RGBA32F : VISID_VK_STORAGE, VISID_VK_STORAGE};
	struct visid_vk_pipeline *pipe;
	int ret;

	if (method == COPY_TRANSFER)
		return visid_vk_seq_copy(seq, views[0], views[1], "bench copy");
	ret =
	    visid_vk_pipeline_get_kinds(gpu, method == COPY_TEXELS ? "bench_copy_t" : "bench_copy",
					spec, 1, kinds, 2, sizeof(count), &pipe);
	if (ret)
		return ret;
	split_groups((invocations + COPY_WG - 1) / COPY_WG, &gx, &gy);
	return visid_vk_seq_dispatch(seq, pipe, views, 2, 1u << 1, &count, sizeof(count), gx, gy, 1,
				     "bench copy");
}

static int copy_time(struct visid_vk_seq *seq, struct visid_vk_buffer *src,
		     struct visid_vk_buffer *dst, size_t bytes, enum copy_method method, int runs,
		     double *best_ms, const char **timer)
{
	int ret = visid_vk_seq_begin(seq);

	if (!ret)
		ret = copy_record(seq, src, dst, bytes, method);
	if (!ret)
		ret = visid_vk_seq_end(seq);
	if (!ret)
		ret = time_sequence(seq, runs, best_ms, timer);
	return ret;
}

/* Both ends of the destination must hold the source's pattern after the copy. */
static int copy_check(struct visid_vk_buffer *dst, size_t bytes)
{
	uint32_t head[256], tail[256];
	size_t words = bytes / 4;
	int ret;

	ret = visid_vk_download(dst, 0, head, sizeof(head));
	if (!ret)
		ret = visid_vk_download(dst, bytes - sizeof(tail), tail, sizeof(tail));
	for (int i = 0; i < 256 && !ret; i++) {
		if (head[i] != (uint32_t)i * 2654435761u ||
		    tail[i] != (uint32_t)(words - 256 + i) * 2654435761u) {
			visid_err("bench_copy of %zu bytes: word %d differs from the source", bytes,
				  i);
			ret = -EIO;
		}
	}
	return ret;
}

/* The source's pattern, or zeros so that a copy that does nothing fails its check. */
static int fill_pattern(struct visid_vk_buffer *buf, size_t bytes, int zero)
{
	size_t chunk = 1u << 20, words = chunk / 4;
	uint32_t *tmp = malloc(chunk);
	int ret = 0;

	if (!tmp)
		return -ENOMEM;
	for (size_t off = 0; off < bytes && !ret; off += chunk) {
		for (size_t i = 0; i < words; i++)
			tmp[i] = zero ? 0 : (uint32_t)(off / 4 + i) * 2654435761u;
		ret = visid_vk_upload(buf, off, tmp, chunk < bytes - off ? chunk : bytes - off);
	}
	free(tmp);
	return ret;
}

static int copy_ceiling_vulkan(struct visid_vk_seq *seq, int runs, struct bench_ceiling *c)
{
	struct visid_gpu *gpu = visid_vk_seq_gpu(seq);
	struct visid_vk_buffer *src = NULL, *dst = NULL;
	size_t bytes = COPY_MIN_BYTES;
	double ms = 0, best = INFINITY;
	int ret;

	for (;;) {
		ret = visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE, "bench copy src",
					     &src);
		if (!ret)
			ret = visid_vk_buffer_create(gpu, bytes, VISID_VK_BUFFER_DEVICE,
						     "bench copy dst", &dst);
		if (!ret)
			ret = fill_pattern(src, bytes, 0);
		if (!ret)
			ret = copy_time(seq, src, dst, bytes, COPY_STORAGE, 2, &ms, &c->timer);
		if (ret || ms >= COPY_MIN_MS || bytes >= COPY_MAX_BYTES)
			break;
		visid_vk_buffer_destroy(src);
		visid_vk_buffer_destroy(dst);
		src = dst = NULL;
		bytes *= 2;
	}
	/* Every method at the size found; texels only where the source fits the texel limit. */
	for (int m = 0; m < COPY_METHODS && !ret; m++) {
		if (m == COPY_TEXELS &&
		    visid_vk_texel_limit(gpu, VISID_VK_TEXELS_RGBA32F) < bytes / 16)
			continue;
		ret = fill_pattern(dst, bytes, 1);
		if (!ret)
			ret = copy_time(seq, src, dst, bytes, m, runs, &ms, &c->timer);
		if (!ret)
			ret = copy_check(dst, bytes);
		visid_dbg("bench_copy %zu MiB %s: %.3f ms", bytes >> 20, copy_names[m], ms);
		if (!ret && ms < best) {
			best = ms;
			c->copy_bytes = bytes;
			c->copy_gbs = 2.0 * bytes / (ms * 1e6);
			snprintf(c->copy_kernel, sizeof(c->copy_kernel), "%s", copy_names[m]);
		}
	}
	visid_vk_buffer_destroy(src);
	visid_vk_buffer_destroy(dst);
	return ret;
}

/*
 * A chain of tiny copies between two buffers, recorded like a network (a
 * barrier between dependent dispatches, no timestamps) and timed by the
 * wall clock over the whole submit.
 */
static int dispatch_floor_vulkan(struct visid_gpu *gpu, int runs, struct bench_ceiling *c)
{
	struct visid_vk_buffer *buf[2] = {NULL, NULL};
	struct visid_vk_seq *seq = NULL;
	uint32_t words[FLOOR_BYTES / 4];
	double ms = INFINITY;
	const char *timer;
	int ret;

	ret = visid_vk_seq_create(gpu, &seq);
	for (int i = 0; i < 2 && !ret; i++)
		ret = visid_vk_buffer_create(gpu, FLOOR_BYTES, VISID_VK_BUFFER_DEVICE,
					     "bench dispatch floor", &buf[i]);
	if (!ret)
		ret = fill_pattern(buf[0], FLOOR_BYTES, 0);
	if (!ret)
		ret = fill_pattern(buf[1], FLOOR_BYTES, 1);
	if (!ret)
		ret = visid_vk_seq_begin(seq);
	for (int i = 0; i < BENCH_FLOOR_CHAIN && !ret; i++)
		ret = copy_record(seq, buf[i % 2], buf[!(i % 2)], FLOOR_BYTES, COPY_STORAGE);
	if (!ret)
		ret = visid_vk_seq_end(seq);
	/* The first submit pays for the pipeline; it is not counted. */
	if (!ret)
		ret = visid_vk_seq_submit(seq);
	if (!ret)
		ret = time_sequence(seq, runs, &ms, &timer);
	/* The second buffer started zeroed: the chain must have carried the pattern there. */
	if (!ret)
		ret = visid_vk_download(buf[1], 0, words, sizeof(words));
	for (int i = 0; i < FLOOR_BYTES / 4 && !ret; i++)
		if (words[i] != (uint32_t)i * 2654435761u)
			ret = -EIO;
	if (ret == -EIO)
		visid_err("bench dispatch floor: the chain of copies did not carry its data");
	if (!ret)
		c->dispatch_us = ms * 1000.0 / BENCH_FLOOR_CHAIN;
	visid_vk_buffer_destroy(buf[0]);
	visid_vk_buffer_destroy(buf[1]);
	visid_vk_seq_destroy(seq);
	return ret;
}

int bench_ceiling_vulkan(struct visid_gpu *gpu, int runs, struct bench_ceiling *c)
{
	struct visid_vk_seq *seq;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = visid_vk_seq_create(gpu, &seq);
	if (ret)
		return ret;
	/* The ceilings are GPU times: one dispatch between two timestamps. */
	visid_vk_seq_set_timing(seq, 1);
	ret = gemm_ceiling_vulkan(seq, runs, c);
	if (!ret)
		ret = copy_ceiling_vulkan(seq, runs, c);
	if (!ret)
		ret = dispatch_floor_vulkan(gpu, runs, c);
	visid_vk_seq_destroy(seq);
	c->valid = !ret;
	return ret;
}

/* CPU */

typedef float v4sf __attribute__((vector_size(16)));

#define CPU_GEMM_SIZE  512
#define CPU_TILE_ROWS  4
#define CPU_TILE_COLS  8
#define CPU_COPY_BYTES (128u << 20)

/*
 * One 4 x 8 tile of C from A (rows of k) and a packed panel of B (k rows of
 * 8 columns, contiguous): eight vector accumulators stay in registers.
 */
static void cpu_gemm_tile(const float *a, int lda, const float *panel, int k, float *c, int ldc)
{
	v4sf acc[CPU_TILE_ROWS][2] = {{{0}}};

	for (int kk = 0; kk < k; kk++) {
		v4sf b0, b1;

		memcpy(&b0, panel + kk * CPU_TILE_COLS, sizeof(b0));
		memcpy(&b1, panel + kk * CPU_TILE_COLS + 4, sizeof(b1));
		for (int r = 0; r < CPU_TILE_ROWS; r++) {
			v4sf av = {0};

			av += a[r * lda + kk];
			acc[r][0] += av * b0;
			acc[r][1] += av * b1;
		}
	}
	for (int r = 0; r < CPU_TILE_ROWS; r++)
		memcpy(c + r * ldc, acc[r], sizeof(acc[r]));
}

/* C = A x B, all n x n row-major, n a multiple of 8; panel holds n x 8 floats. */
static void cpu_gemm(const float *a, const float *b, float *c, float *panel, int n)
{
	for (int j = 0; j < n; j += CPU_TILE_COLS) {
		for (int k = 0; k < n; k++)
			memcpy(panel + k * CPU_TILE_COLS, b + (size_t)k * n + j,
			       CPU_TILE_COLS * sizeof(float));
		for (int i = 0; i < n; i += CPU_TILE_ROWS)
			cpu_gemm_tile(a + (size_t)i * n, n, panel, n, c + (size_t)i * n + j, n);
	}
}

static int cpu_gemm_ceiling(int runs, struct bench_ceiling *c)
{
	const int n = CPU_GEMM_SIZE;
	size_t count = (size_t)n * n;
	float *a = malloc(count * sizeof(float)), *b = malloc(count * sizeof(float));
	float *out = malloc(count * sizeof(float)), *panel = malloc(n * 8 * sizeof(float));
	double best = INFINITY, want = 0;
	int ret = -ENOMEM;

	if (!a || !b || !out || !panel)
		goto out_free;
	fill_small_ints(a, count, 1);
	fill_small_ints(b, count, 2);
	for (int r = 0; r < runs; r++) {
		double t0 = bench_now_ms();

		cpu_gemm(a, b, out, panel, n);
		best = fmin(best, bench_now_ms() - t0);
	}
	for (int k = 0; k < n; k++)
		want += (double)a[(size_t)(n - 1) * n + k] * b[(size_t)k * n + 5];
	ret = out[(size_t)(n - 1) * n + 5] == (float)want ? 0 : -EIO;
	if (ret) {
		visid_err("cpu gemm %dx%d: C[%d][5] = %g, want %g", n, n, n - 1,
			  out[(size_t)(n - 1) * n + 5], want);
		goto out_free;
	}
	c->gemm_size = n;
	c->gemm_gflops = gemm_gflops(n, best);
	snprintf(c->gemm_kernel, sizeof(c->gemm_kernel), "C %dx%d/step 1 thread", CPU_TILE_ROWS,
		 CPU_TILE_COLS);
out_free:
	free(a);
	free(b);
	free(out);
	free(panel);
	return ret;
}

static int cpu_copy_ceiling(int runs, struct bench_ceiling *c)
{
	char *src = malloc(CPU_COPY_BYTES), *dst = malloc(CPU_COPY_BYTES);
	double best = INFINITY;

	if (!src || !dst) {
		free(src);
		free(dst);
		return -ENOMEM;
	}
	/* Fault every page in before timing. */
	memset(src, 1, CPU_COPY_BYTES);
	memset(dst, 2, CPU_COPY_BYTES);
	for (int r = 0; r < runs; r++) {
		double t0 = bench_now_ms();

		memcpy(dst, src, CPU_COPY_BYTES);
		best = fmin(best, bench_now_ms() - t0);
	}
	c->copy_bytes = CPU_COPY_BYTES;
	snprintf(c->copy_kernel, sizeof(c->copy_kernel), "memcpy");
	c->copy_gbs = 2.0 * CPU_COPY_BYTES / (best * 1e6);
	free(src);
	free(dst);
	return 0;
}

int bench_ceiling_cpu(int runs, struct bench_ceiling *c)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->timer = "wall clock";
	ret = cpu_gemm_ceiling(runs, c);
	if (!ret)
		ret = cpu_copy_ceiling(runs, c);
	c->valid = !ret;
	return ret;
}
