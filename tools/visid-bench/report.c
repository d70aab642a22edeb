/*
 * visid-bench output: a table for people, printed section by section as
 * the measurements finish, or one JSON document for machines at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "bench.h"

/* The project's targets (docs/PERFORMANCE.md). */
#define TARGET_NET_FRACTION   0.5
#define TARGET_PIPELINE_RATIO 2.0

static double gmacs(uint64_t macs, double ms)
{
	return ms > 0 ? macs / (ms * 1e6) : 0;
}

/* Share of the GEMM ceiling the network reached at time ms (two flops per MAC). */
static double ceiling_fraction(uint64_t macs, double ms, const struct bench_ceiling *c)
{
	return c->valid && c->gemm_gflops > 0 && ms > 0 ? 2 * gmacs(macs, ms) / c->gemm_gflops : 0;
}

void bench_print_header(const struct bench_machine *m, const struct bench_options *opt)
{
	printf("visid-bench %s, %s\n", VISID_VERSION, m->date);
	printf("machine: %s, %d cores, load %.2f %.2f %.2f, LP_NUM_THREADS=%s\n", m->cpu, m->cores,
	       m->load_before[0], m->load_before[1], m->load_before[2],
	       m->lp_threads[0] ? m->lp_threads : "unset");
	if (m->device[0])
		printf("vulkan: %s\n", m->device);
	printf("runs: %d timed after %d warm-up per network", opt->runs, opt->warmup);
	if (opt->pipeline)
		printf(", %d frames after %d warm-up per pipeline case", opt->frames, opt->warmup);
	printf("; times in ms\n\n");
	printf("ceilings (best of the runs; copy GB/s counts bytes read plus bytes written)\n");
	printf("%-8s %-30s %9s %22s %8s  %s\n", "backend", "gemm kernel, m = n = k", "GFLOP/s",
	       "copy", "GB/s", "timer");
}

void bench_print_ceiling(enum visid_backend backend, const struct bench_ceiling *c)
{
	char kernel[64], copy[48];

	if (!c->valid) {
		printf("%-8s (failed: see the log)\n", bench_backend_name(backend));
		return;
	}
	snprintf(kernel, sizeof(kernel), "%.30s, %d", c->gemm_kernel, c->gemm_size);
	snprintf(copy, sizeof(copy), "%s 2x%zu MiB", c->copy_kernel, c->copy_bytes >> 20);
	printf("%-8s %-30s %9.1f %22s %8.2f  %s\n", bench_backend_name(backend), kernel,
	       c->gemm_gflops, copy, c->copy_gbs, c->timer);
	if (c->dispatch_us > 0)
		printf("%-8s dispatch floor: %.1f us a dispatch (a chain of %d tiny dependent "
		       "copies, wall clock)\n", "", c->dispatch_us, BENCH_FLOOR_CHAIN);
	fflush(stdout);
}

void bench_print_nets_head(const struct bench_options *opt, const struct bench_ceiling *c)
{
	printf("\nnetworks: p50 and p10-p90 of visid_net_run (transfers included); dev: the sum\n"
	       "of the layer times (on vulkan GPU timestamps, from as many runs again with\n"
	       "profiling on); GMAC/s at the p50, and %% of the same backend's GEMM ceiling at\n"
	       "2 flops per MAC; cpu/vk: CPU p50 over Vulkan p50\n");
	printf("%-35s", "");
	for (int b = BENCH_BACKENDS - 1; b >= 0; b--)
		if (opt->backend_mask & (1 << b))
			printf("| %-47s", bench_backend_name(b));
	printf("|\n%-14s %-7s %7s %3s ", "network", "input", "MMAC", "lay");
	for (int b = BENCH_BACKENDS - 1; b >= 0; b--)
		if (opt->backend_mask & (1 << b))
			printf("| %8s %15s %8s %6s %4s ", "p50", "p10-p90", "dev", "GMAC/s",
			       "%ceil");
	if ((opt->backend_mask & 3) == 3)
		printf("| cpu/vk");
	printf("\n");
}

void bench_print_net(const struct bench_net *net, const struct bench_options *opt,
		     const struct bench_ceiling *c)
{
	char input[16], range[32];

	snprintf(input, sizeof(input), "%dx%d", net->in_h, net->in_w);
	printf("%-14s %-7s %7.1f %3d ", net->name, input, net->macs / 1e6, net->layer_count);
	for (int b = BENCH_BACKENDS - 1; b >= 0; b--) {
		const struct bench_net_run *r = &net->run[b];

		if (!(opt->backend_mask & (1 << b)))
			continue;
		if (!r->ok) {
			printf("| %-47s", "failed");
			continue;
		}
		snprintf(range, sizeof(range), "%.2f-%.2f", r->wall.p10, r->wall.p90);
		printf("| %8.2f %15s %8.2f %6.2f %4.0f%% ", r->wall.p50, range, r->device.p50,
		       gmacs(net->macs, r->wall.p50),
		       100 * ceiling_fraction(net->macs, r->wall.p50, &c[b]));
	}
	if ((opt->backend_mask & 3) == 3 && net->run[0].ok && net->run[1].ok)
		printf("| %5.2fx", net->run[VISID_BACKEND_CPU].wall.p50 /
				       net->run[VISID_BACKEND_VULKAN].wall.p50);
	printf("\n");
	fflush(stdout);
}

/* The end of a long tensor name, which says where in the network it is. */
static const char *tail(const char *name, size_t max)
{
	size_t len = strlen(name);

	return len > max ? name + len - max : name;
}

struct ranked_layer {
	const struct bench_layer *l;
	double bound, excess;
	const char *limit;
};

static int by_excess(const void *pa, const void *pb)
{
	const struct ranked_layer *a = pa, *b = pb;

	return a->excess < b->excess ? 1 : a->excess > b->excess ? -1 : 0;
}

static void rank_layer(const struct bench_layer *l, const struct bench_ceiling *c,
		       struct ranked_layer *out)
{
	double compute = bench_compute_ms(l->info.macs, c);
	double memory = bench_memory_ms(l->info.bytes, c);

	out->l = l;
	out->bound = fmax(compute, memory);
	out->limit = compute >= memory ? "compute" : "memory";
	out->excess = l->ms >= 0 ? l->ms - out->bound : 0;
}

static void print_layers_of(const struct bench_net *net, enum visid_backend b, int top,
			    const struct bench_ceiling *c)
{
	const struct bench_net_run *run = &net->run[b];
	struct ranked_layer *ranked = calloc(run->layer_count, sizeof(*ranked));
	double rest_ms = 0, rest_bound = 0, total = 0, total_bound = 0;

	if (!ranked)
		return;
	for (int i = 0; i < run->layer_count; i++) {
		rank_layer(&run->layers[i], c, &ranked[i]);
		total += fmax(run->layers[i].ms, 0);
		total_bound += ranked[i].bound;
	}
	qsort(ranked, run->layer_count, sizeof(*ranked), by_excess);
	printf("\n%s %dx%d on %s: %d layers, %d dispatches; layer medians sum to %.2f ms, "
	       "bounds to %.2f ms\n",
	       net->name, net->in_h, net->in_w, bench_backend_name(b), run->layer_count,
	       run->dispatches, total, total_bound);
	printf("  %3s %-28s %-11s %8s %8s %3s %8s %8s %7s %-7s %s\n", "#", "operators", "output",
	       "MMAC", "KiB", "dsp", "ms", "bound", "x", "limit", "tensor");
	for (int i = 0; i < run->layer_count; i++) {
		const struct ranked_layer *r = &ranked[i];
		const struct visid_net_layer_info *l = &r->l->info;
		char shape[32];

		if (i >= top) {
			rest_ms += fmax(r->l->ms, 0);
			rest_bound += r->bound;
			continue;
		}
		snprintf(shape, sizeof(shape), "%dx%dx%d", l->shape[1], l->shape[2], l->shape[3]);
		printf("  %3d %-28.28s %-11s %8.2f %8.1f %3d %8.3f %8.3f %6.1fx %-7s %s\n",
		       (int)(r->l - run->layers), l->op, shape, l->macs / 1e6, l->bytes / 1024.0,
		       l->dispatches, r->l->ms, r->bound, r->bound > 0 ? r->l->ms / r->bound : 0,
		       r->limit, tail(l->name, 40));
	}
	if (run->layer_count > top)
		printf("  ... %d more layers: %.3f ms, bound %.3f ms\n", run->layer_count - top,
		       rest_ms, rest_bound);
	free(ranked);
}

void bench_print_layers(const struct bench_net *net, const struct bench_options *opt,
			const struct bench_ceiling *c)
{
	for (int b = BENCH_BACKENDS - 1; b >= 0; b--)
		if ((opt->backend_mask & (1 << b)) && net->run[b].ok && net->run[b].layers)
			print_layers_of(net, b, opt->top, &c[b]);
	fflush(stdout);
}

void bench_print_pipeline(enum visid_backend backend, const struct bench_pipeline *p)
{
	printf(
	    "\nface pipeline on %s: visid_face_detect + visid_face_embed of each face, per frame;\n"
	    "nets: the sum of the standalone p50s of the networks the frame ran; tracked: the\n"
	    "device loop's policy (detection every 3rd frame, a face embedded when its track\n"
	    "starts) on the same still frame, its frames per second and the share of a 30 fps\n"
	    "camera's frames it leaves untaken\n",
	    bench_backend_name(backend));
	if (!p->ok) {
		printf("  failed: see the log\n");
		return;
	}
	printf("%-10s %-22s %7s %4s %9s %9s %7s %9s %9s %8s %8s\n", "frame", "scene", "faces",
	       "vecs", "p50 ms", "p99 ms", "fps", "nets ms", "p50/nets", "trk fps", "dropped");
	for (int i = 0; i < p->count; i++) {
		const struct bench_frame *f = &p->frames[i];
		char size[24], faces[16];

		snprintf(size, sizeof(size), "%dx%d", f->width, f->height);
		if (f->faces_placed >= 0)
			snprintf(faces, sizeof(faces), "%d/%d", f->faces_found, f->faces_placed);
		else
			snprintf(faces, sizeof(faces), "%d", f->faces_found);
		printf("%-10s %-22.22s %7s %4d %9.1f %9.1f %7.2f", size, f->scene, faces,
		       f->embedded, f->ms.p50, f->ms.p99, f->fps);
		if (f->nets_ms > 0)
			printf(" %9.1f %8.2fx", f->nets_ms, f->ms.p50 / f->nets_ms);
		else
			printf(" %9s %9s", "-", "-");
		printf(" %8.2f %7.0f%%\n", f->tracked_fps, f->dropped * 100);
	}
	if (p->count)
		printf("frames to the device: %.2f copies per frame (%s)\n",
		       p->frames[0].copies_per_frame, p->frames[0].frame_path);
	fflush(stdout);
}

/* The 1280x720 one-face case, or NULL. */
static const struct bench_frame *target_frame(const struct bench_pipeline *p)
{
	for (int i = 0; p->ok && i < p->count; i++)
		if (p->frames[i].width == 1280 && p->frames[i].faces_placed == 1)
			return &p->frames[i];
	return NULL;
}

static void print_net_targets(const struct bench_net *nets, enum visid_backend b,
			      const struct bench_ceiling *c)
{
	int met = 0;

	printf("  %-7s", bench_backend_name(b));
	for (int i = 0; i < BENCH_NET_COUNT; i++) {
		const struct bench_net_run *r = &nets[i].run[b];
		double frac = r->ok ? ceiling_fraction(nets[i].macs, r->wall.p50, c) : 0;

		met += frac >= TARGET_NET_FRACTION;
		printf("%s %dx%d %.1f%%", i ? "," : "", nets[i].in_h, nets[i].in_w, 100 * frac);
	}
	printf(": %d of %d met\n", met, BENCH_NET_COUNT);
	if (c->dispatch_us <= 0)
		return;
	printf("  %-7s", "");
	for (int i = 0; i < BENCH_NET_COUNT; i++) {
		const struct bench_net_run *r = &nets[i].run[b];
		double floor_ms = r->dispatches * c->dispatch_us / 1000;

		printf("%s %dx%d %d x %.0f us = %.1f ms", i ? "," : "", nets[i].in_h, nets[i].in_w,
		       r->dispatches, c->dispatch_us, floor_ms);
		if (r->ok && r->wall.p50 > 0)
			printf(" (%.0f%%)", 100 * floor_ms / r->wall.p50);
	}
	printf(": the dispatch floor\n");
}

void bench_print_targets(const struct bench_net *nets, const struct bench_pipeline *pipes,
			 const struct bench_ceiling *c, const struct bench_options *opt)
{
	printf("\ntargets\n");
	printf("each network at >= %.0f%% of its backend's GEMM ceiling (in the order above):\n",
	       100 * TARGET_NET_FRACTION);
	for (int b = BENCH_BACKENDS - 1; b >= 0; b--)
		if (opt->backend_mask & (1 << b))
			print_net_targets(nets, b, &c[b]);
	if (!opt->pipeline)
		return;
	printf("pipeline p50 at 1280x720 with one face <= %.0fx the sum of its networks:\n",
	       TARGET_PIPELINE_RATIO);
	for (int b = BENCH_BACKENDS - 1; b >= 0; b--) {
		const struct bench_frame *f = target_frame(&pipes[b]);

		if (!(opt->backend_mask & (1 << b)))
			continue;
		if (!f || f->nets_ms <= 0) {
			printf("  %-7s not measured\n", bench_backend_name(b));
			continue;
		}
		printf("  %-7s %.1f ms / %.1f ms = %.2fx: %s\n", bench_backend_name(b), f->ms.p50,
		       f->nets_ms, f->ms.p50 / f->nets_ms,
		       f->ms.p50 <= TARGET_PIPELINE_RATIO * f->nets_ms ? "met" : "missed");
	}
}

/* JSON */

static cJSON *stats_json(const struct bench_stats *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "n", s->n);
	cJSON_AddNumberToObject(o, "min", s->min);
	cJSON_AddNumberToObject(o, "p10", s->p10);
	cJSON_AddNumberToObject(o, "p50", s->p50);
	cJSON_AddNumberToObject(o, "p90", s->p90);
	cJSON_AddNumberToObject(o, "p99", s->p99);
	cJSON_AddNumberToObject(o, "max", s->max);
	cJSON_AddNumberToObject(o, "mean", s->mean);
	return o;
}

static cJSON *ceiling_json(const struct bench_ceiling *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "valid", c->valid);
	cJSON_AddStringToObject(o, "timer", c->timer ? c->timer : "");
	cJSON_AddStringToObject(o, "gemm_kernel", c->gemm_kernel);
	cJSON_AddNumberToObject(o, "gemm_size", c->gemm_size);
	cJSON_AddNumberToObject(o, "gemm_gflops", c->gemm_gflops);
	cJSON_AddStringToObject(o, "copy_kernel", c->copy_kernel);
	cJSON_AddNumberToObject(o, "copy_bytes", (double)c->copy_bytes);
	cJSON_AddNumberToObject(o, "copy_gbs", c->copy_gbs);
	cJSON_AddNumberToObject(o, "dispatch_us", c->dispatch_us);
	return o;
}

static cJSON *layer_json(const struct bench_layer *l, int index, const struct bench_ceiling *c)
{
	cJSON *o = cJSON_CreateObject();
	struct ranked_layer r;

	rank_layer(l, c, &r);
	cJSON_AddNumberToObject(o, "index", index);
	cJSON_AddStringToObject(o, "name", l->info.name);
	cJSON_AddStringToObject(o, "op", l->info.op);
	cJSON_AddStringToObject(o, "kind", l->info.kind ? l->info.kind : "");
	cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(l->info.shape, 4));
	cJSON_AddNumberToObject(o, "macs", (double)l->info.macs);
	cJSON_AddNumberToObject(o, "bytes", (double)l->info.bytes);
	cJSON_AddNumberToObject(o, "dispatches", l->info.dispatches);
	cJSON_AddNumberToObject(o, "ms", l->ms);
	cJSON_AddNumberToObject(o, "bound_ms", r.bound);
	cJSON_AddStringToObject(o, "limit", r.limit);
	return o;
}

static cJSON *net_json(const struct bench_net *net, const struct bench_ceiling *c,
		       const struct bench_options *opt)
{
	cJSON *o = cJSON_CreateObject(), *runs = cJSON_AddObjectToObject(o, "backends");

	cJSON_AddStringToObject(o, "name", net->name);
	cJSON_AddStringToObject(o, "file", net->file);
	cJSON_AddNumberToObject(o, "height", net->in_h);
	cJSON_AddNumberToObject(o, "width", net->in_w);
	cJSON_AddNumberToObject(o, "macs", (double)net->macs);
	cJSON_AddNumberToObject(o, "bytes", (double)net->bytes);
	cJSON_AddNumberToObject(o, "layers", net->layer_count);
	for (int b = 0; b < BENCH_BACKENDS; b++) {
		const struct bench_net_run *r = &net->run[b];
		cJSON *j;

		if (!(opt->backend_mask & (1 << b)))
			continue;
		j = cJSON_AddObjectToObject(runs, bench_backend_name(b));
		cJSON_AddBoolToObject(j, "ok", r->ok);
		if (!r->ok)
			continue;
		cJSON_AddItemToObject(j, "wall_ms", stats_json(&r->wall));
		cJSON_AddItemToObject(j, "device_ms", stats_json(&r->device));
		cJSON_AddNumberToObject(j, "dispatches", r->dispatches);
		cJSON_AddNumberToObject(j, "gmacs", gmacs(net->macs, r->wall.p50));
		cJSON_AddNumberToObject(j, "ceiling_fraction",
					ceiling_fraction(net->macs, r->wall.p50, &c[b]));
		cJSON_AddNumberToObject(j, "device_ceiling_fraction",
					ceiling_fraction(net->macs, r->device.p50, &c[b]));
		if (opt->layers) {
			cJSON *layers = cJSON_AddArrayToObject(j, "layers");

			for (int i = 0; i < r->layer_count; i++)
				cJSON_AddItemToArray(layers, layer_json(&r->layers[i], i, &c[b]));
		}
	}
	return o;
}

static cJSON *pipeline_json(const struct bench_pipeline *p)
{
	cJSON *o = cJSON_CreateObject(), *frames = cJSON_AddArrayToObject(o, "frames");

	cJSON_AddBoolToObject(o, "ok", p->ok);
	for (int i = 0; i < p->count; i++) {
		const struct bench_frame *f = &p->frames[i];
		cJSON *j = cJSON_CreateObject();

		cJSON_AddNumberToObject(j, "width", f->width);
		cJSON_AddNumberToObject(j, "height", f->height);
		cJSON_AddStringToObject(j, "scene", f->scene);
		cJSON_AddNumberToObject(j, "faces_placed", f->faces_placed);
		cJSON_AddNumberToObject(j, "faces_found", f->faces_found);
		cJSON_AddNumberToObject(j, "embedded", f->embedded);
		cJSON_AddItemToObject(j, "ms", stats_json(&f->ms));
		cJSON_AddNumberToObject(j, "fps", f->fps);
		cJSON_AddNumberToObject(j, "nets_ms", f->nets_ms);
		cJSON_AddNumberToObject(j, "p50_over_nets",
					f->nets_ms > 0 ? f->ms.p50 / f->nets_ms : -1);
		cJSON_AddNumberToObject(j, "copies_per_frame", f->copies_per_frame);
		cJSON_AddNumberToObject(j, "tracked_frames", f->tracked_frames);
		cJSON_AddItemToObject(j, "tracked_ms", stats_json(&f->tracked_ms));
		cJSON_AddNumberToObject(j, "tracked_fps", f->tracked_fps);
		cJSON_AddNumberToObject(j, "dropped_at_30fps", f->dropped);
		cJSON_AddStringToObject(j, "frame_path", f->frame_path ? f->frame_path : "");
		cJSON_AddItemToArray(frames, j);
	}
	return o;
}

char *bench_json(const struct bench_machine *m, const struct bench_options *opt,
		 const struct bench_ceiling *c, const struct bench_net *nets,
		 const struct bench_pipeline *pipes)
{
	cJSON *root = cJSON_CreateObject(), *mj, *cj, *nj, *pj;
	char *text;

	cJSON_AddStringToObject(root, "version", VISID_VERSION);
	cJSON_AddStringToObject(root, "date", m->date);
	mj = cJSON_AddObjectToObject(root, "machine");
	cJSON_AddStringToObject(mj, "cpu", m->cpu);
	cJSON_AddNumberToObject(mj, "cores", m->cores);
	cJSON_AddStringToObject(mj, "vulkan_device", m->device);
	cJSON_AddStringToObject(mj, "lp_num_threads", m->lp_threads);
	cJSON_AddItemToObject(mj, "load_before", cJSON_CreateDoubleArray(m->load_before, 3));
	cJSON_AddItemToObject(mj, "load_after", cJSON_CreateDoubleArray(m->load_after, 3));
	cJSON_AddNumberToObject(root, "runs", opt->runs);
	cJSON_AddNumberToObject(root, "warmup", opt->warmup);
	cj = cJSON_AddObjectToObject(root, "ceilings");
	nj = cJSON_AddArrayToObject(root, "networks");
	pj = cJSON_AddObjectToObject(root, "pipeline");
	for (int b = 0; b < BENCH_BACKENDS; b++)
		if (opt->backend_mask & (1 << b))
			cJSON_AddItemToObject(cj, bench_backend_name(b), ceiling_json(&c[b]));
	for (int i = 0; i < BENCH_NET_COUNT; i++)
		cJSON_AddItemToArray(nj, net_json(&nets[i], c, opt));
	if (opt->pipeline)
		cJSON_AddNumberToObject(pj, "frames", opt->frames);
	for (int b = 0; opt->pipeline && b < BENCH_BACKENDS; b++)
		if (opt->backend_mask & (1 << b))
			cJSON_AddItemToObject(pj, bench_backend_name(b), pipeline_json(&pipes[b]));
	text = cJSON_Print(root);
	cJSON_Delete(root);
	return text;
}
