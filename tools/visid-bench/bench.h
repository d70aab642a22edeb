/*
 * visid-bench: what the parts of the program share. The measurements fill
 * these structures; report.c prints them as a table or as JSON.
 */
#ifndef VISID_BENCH_H
#define VISID_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "net_internal.h"
#include "stats.h"
#include "visid/gpu.h"
#include "visid/net.h"

#define BENCH_BACKENDS 2 /* indexed by enum visid_backend */

struct bench_options {
	int backend_mask; /* bit (1 << enum visid_backend) per backend to run */
	const char *device;
	const char *model_dir;
	const char *data_dir;
	const char *image;
	const char *save_dir; /* --save-frames: where composed frames go */
	int runs, warmup, frames, top;
	int json, layers, pipeline;
};

/* Dispatches in the chain that measures the dispatch floor. */
#define BENCH_FLOOR_CHAIN 200

/* What one device sustains: the best dense fp32 product and the best plain copy. */
struct bench_ceiling {
	int valid;
	const char *timer;    /* "gpu timestamps" or "wall clock" */
	char gemm_kernel[64]; /* the variant that won */
	int gemm_size;	      /* m = n = k */
	double gemm_gflops;
	char copy_kernel[16]; /* how the best copy read: "texel", "storage" or "memcpy" */
	size_t copy_bytes;    /* one buffer; twice this moves per copy */
	double copy_gbs;      /* bytes read plus bytes written per second */
	/* Vulkan: wall time of one tiny dispatch in a chain of BENCH_FLOOR_CHAIN dependent ones */
	double dispatch_us;
};

struct bench_layer {
	struct visid_net_layer_info info; /* name and op point to the copies below */
	char *name, *op;
	double ms; /* median over the timed runs; < 0 unknown */
};

/* One network on one backend. */
struct bench_net_run {
	int ok;
	struct bench_stats wall;   /* visid_net_run, transfers included */
	struct bench_stats device; /* sum of the layer times (GPU timestamps on Vulkan) */
	int dispatches;
	int layer_count;
	struct bench_layer *layers;
};

struct bench_net {
	const char *name;
	const char *file;
	int height, width; /* 0: the model's own */
	int in_h, in_w;	   /* as instantiated */
	uint64_t macs, bytes;
	int layer_count;
	struct bench_net_run run[BENCH_BACKENDS];
};

enum bench_net_id {
	BENCH_NET_FULL_192,
	BENCH_NET_FULL_FCN,
	BENCH_NET_SHORT,
	BENCH_NET_EMBED,
	BENCH_NET_COUNT,
};

/* One frame case of the face pipeline on one backend. */
struct bench_frame {
	int width, height;
	char scene[96];	  /* what the frame shows */
	int faces_placed; /* -1: unknown (a user's image) */
	int faces_found;  /* in the last timed frame */
	int embedded;	  /* of those, faces that gave a vector */
	struct bench_stats ms;
	double fps;
	double nets_ms; /* the standalone medians of the networks this frame ran */
	double copies_per_frame; /* whole-frame copies to give the frame to the device */
	/* The device loop's policy over a steady scene: detection every third frame. */
	int tracked_frames;
	struct bench_stats tracked_ms;
	double tracked_fps;
	double dropped; /* share of a 30 fps camera's frames the loop would not take */
	const char *frame_path;	 /* how it reached the device (visid_face_stats) */
};

struct bench_pipeline {
	int ok;
	int count;
	struct bench_frame *frames;
};

struct bench_machine {
	char cpu[128];
	int cores;
	char device[256]; /* Vulkan device and driver, "" without one */
	char lp_threads[16];
	double load_before[3], load_after[3];
	char date[32];
};

int bench_ceiling_vulkan(struct visid_gpu *gpu, int runs, struct bench_ceiling *c);
int bench_ceiling_cpu(int runs, struct bench_ceiling *c);

int bench_net_measure(struct bench_net *net, enum visid_backend backend, struct visid_gpu *gpu,
		      const struct bench_options *opt);
void bench_net_free(struct bench_net *net);

int bench_pipeline_measure(enum visid_backend backend, struct visid_gpu *gpu,
			   const struct bench_options *opt, const struct bench_net *nets,
			   struct bench_pipeline *out);
void bench_pipeline_free(struct bench_pipeline *p);

/* Compute bound of a layer or network: two flops per MAC at the GEMM ceiling. */
double bench_compute_ms(uint64_t macs, const struct bench_ceiling *c);
double bench_memory_ms(uint64_t bytes, const struct bench_ceiling *c);

void bench_print_header(const struct bench_machine *m, const struct bench_options *opt);
void bench_print_ceiling(enum visid_backend backend, const struct bench_ceiling *c);
void bench_print_nets_head(const struct bench_options *opt, const struct bench_ceiling *c);
void bench_print_net(const struct bench_net *net, const struct bench_options *opt,
		     const struct bench_ceiling *c);
void bench_print_layers(const struct bench_net *net, const struct bench_options *opt,
			const struct bench_ceiling *c);
void bench_print_pipeline(enum visid_backend backend, const struct bench_pipeline *p);
void bench_print_targets(const struct bench_net *nets, const struct bench_pipeline *pipes,
			 const struct bench_ceiling *c, const struct bench_options *opt);
char *bench_json(const struct bench_machine *m, const struct bench_options *opt,
		 const struct bench_ceiling *c, const struct bench_net *nets,
		 const struct bench_pipeline *pipes);

const char *bench_backend_name(enum visid_backend backend);
double bench_now_ms(void);

#endif
