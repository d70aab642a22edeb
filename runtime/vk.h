/*
 * The Vulkan compute core inside the library: buffers, pipelines from the
 * embedded SPIR-V, recorded dispatch sequences with per-dispatch GPU timing,
 * and one recording function per operator kernel of runtime/kernels.h.
 *
 * A sequence is recorded once (begin, record, end) and submitted any number
 * of times; each submit waits for completion. Recording orders dispatches
 * that touch the same memory with barriers, so callers only list what each
 * dispatch reads and writes. Buffers and pipelines belong to the gpu and
 * must outlive the sequences that use them.
 *
 * Descriptors are pushed (VK_KHR_push_descriptor) where the device can, else
 * allocated from pools the sequence owns; $VISID_VK_DESCRIPTOR_POOLS=1 forces
 * the pools, so that path is tested on devices that push. Likewise
 * $VISID_VK_UNMAPPED=1 leaves device buffers unmapped, as a discrete GPU's
 * are, so that the staging paths run on CPU devices too.
 *
 * Errors: 0 or a negative errno; each failure is logged with the object
 * (device, buffer, shader, dispatch label) and the Vulkan result.
 */
#ifndef VISID_VK_H
#define VISID_VK_H

#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#include "kernels.h"
#include "visid/gpu.h"

/* Placement of a buffer. */
enum visid_vk_buffer_kind {
	/*
	 * Fast for the device. Mapped as well when that memory is host-visible
	 * (CPU implementations, integrated GPUs); otherwise map is NULL and
	 * the upload/download helpers go through a staging buffer.
	 */
	VISID_VK_BUFFER_DEVICE,
	/* Always mapped, coherent when the device offers it: staging, readback. */
	VISID_VK_BUFFER_HOST,
};

struct visid_vk_buffer {
	struct visid_gpu *gpu;
	VkBuffer buffer;
	VkDeviceMemory memory;
	VkDeviceSize size;
	void *map;		/* persistent mapping, NULL when not host-visible */
	int coherent;		/* 0: the helpers flush and invalidate */
};

/* A byte range of a buffer given to a dispatch; buf NULL means "none". */
struct visid_vk_view {
	struct visid_vk_buffer *buf;
	VkDeviceSize offset;	/* a multiple of visid_vk_alignment() */
	VkDeviceSize size;
};

static inline struct visid_vk_view visid_vk_view(struct visid_vk_buffer *buf,
						 VkDeviceSize offset, VkDeviceSize size)
{
	struct visid_vk_view v = { buf, offset, size };

	return v;
}

static inline struct visid_vk_view visid_vk_whole(struct visid_vk_buffer *buf)
{
	struct visid_vk_view v = { buf, 0, buf ? buf->size : 0 };

	return v;
}

/*
 * How a shader reads one binding. A storage buffer serves any access. A
 * read-only binding may instead be a uniform texel buffer (samplerBuffer)
 * of one of these formats: CPU implementations fetch texels with vector
 * gathers where a storage load costs one guarded scalar load per
 * invocation and component, and fp16 formats are widened by the fetch.
 */
enum visid_vk_binding {
	VISID_VK_STORAGE,
	VISID_VK_TEXELS_R32F,
	VISID_VK_TEXELS_RGBA32F,
	VISID_VK_TEXELS_R16F,
	VISID_VK_TEXELS_RGBA16F,
};

/* Device handles for code that records its own Vulkan work. */
VkDevice visid_vk_device(const struct visid_gpu *gpu);
VkPhysicalDevice visid_vk_physical(const struct visid_gpu *gpu);
/* Offsets of views must be multiples of this (storage and texel offset alignments, >= 16). */
size_t visid_vk_alignment(const struct visid_gpu *gpu);
/* 1 when the device is a CPU implementation (lavapipe, SwiftShader). */
int visid_vk_is_cpu(const struct visid_gpu *gpu);
/* 1 when queries give per-dispatch times on the chosen queue. */
int visid_vk_has_timestamps(const struct visid_gpu *gpu);
/*
 * Texels a binding of that kind may span (maxTexelBufferElements), 0 when
 * the device cannot read the format from a texel buffer; SIZE_MAX for storage.
 */
size_t visid_vk_texel_limit(const struct visid_gpu *gpu, enum visid_vk_binding kind);
/* 1 when shaders may store 16-bit values to storage buffers (storageBuffer16BitAccess). */
int visid_vk_has_fp16_storage(const struct visid_gpu *gpu);

int visid_vk_buffer_create(struct visid_gpu *gpu, size_t size, enum visid_vk_buffer_kind kind,
			   const char *name, struct visid_vk_buffer **out);
void visid_vk_buffer_destroy(struct visid_vk_buffer *buf);
/* The mapping or NULL (then use upload/download). */
void *visid_vk_buffer_map(struct visid_vk_buffer *buf);
/*
 * Copies between host memory and a buffer, directly when it is mapped,
 * otherwise through a staging buffer and a one-time submit (waits).
 */
int visid_vk_upload(struct visid_vk_buffer *buf, size_t offset, const void *data, size_t size);
int visid_vk_download(struct visid_vk_buffer *buf, size_t offset, void *data, size_t size);

/*
 * A compute pipeline of one embedded shader with its specialization
 * constants (constant_id i gets spec[i]); cached per (shader, constants),
 * owned by the gpu. All shaders use set 0, bindings 0..bindings-1 as
 * storage buffers, and at most 128 bytes of push constants.
 */
struct visid_vk_pipeline;

int visid_vk_pipeline_get(struct visid_gpu *gpu, const char *shader, const int32_t *spec,
			  int spec_count, int bindings, uint32_t push_size,
			  struct visid_vk_pipeline **out);
/* The same with binding i read as kinds[i] (NULL: all storage buffers). */
int visid_vk_pipeline_get_kinds(struct visid_gpu *gpu, const char *shader, const int32_t *spec,
				int spec_count, const enum visid_vk_binding *kinds, int bindings,
				uint32_t push_size, struct visid_vk_pipeline **out);

/* Sequences */
struct visid_vk_seq;

struct visid_vk_timing {
	const char *label;
	double ms;		/* GPU time attributed to this dispatch */
};

int visid_vk_seq_create(struct visid_gpu *gpu, struct visid_vk_seq **out);
void visid_vk_seq_destroy(struct visid_vk_seq *seq);
struct visid_gpu *visid_vk_seq_gpu(const struct visid_vk_seq *seq);
/*
 * Whether the next recording writes a timestamp after each dispatch (off
 * by default): on CPU implementations each timestamp flushes the queue and
 * costs about as much as a small dispatch, so only profiling turns it on.
 */
void visid_vk_seq_set_timing(struct visid_vk_seq *seq, int on);
/* Starts a new recording; whatever was recorded before is dropped. */
int visid_vk_seq_begin(struct visid_vk_seq *seq);
int visid_vk_seq_end(struct visid_vk_seq *seq);
/* Runs the recorded work once and waits for it; may be called many times. */
int visid_vk_seq_submit(struct visid_vk_seq *seq);
/*
 * Times of the last submit, one per recorded dispatch or copy in order.
 * Returns the count, or -ENOTSUP when the queue has no timestamps or the
 * sequence was recorded with timing off.
 */
int visid_vk_seq_timings(const struct visid_vk_seq *seq, const struct visid_vk_timing **out);
/* Number of dispatches and copies recorded. */
int visid_vk_seq_length(const struct visid_vk_seq *seq);

/*
 * Records one dispatch. views[i] is bound at binding i; bit i of
 * write_mask says the dispatch writes views[i]. A view whose buf is NULL
 * binds a small zero buffer (optional inputs such as bias).
 */
int visid_vk_seq_dispatch(struct visid_vk_seq *seq, struct visid_vk_pipeline *pipe,
			  const struct visid_vk_view *views, int view_count, uint32_t write_mask,
			  const void *push, uint32_t push_size, uint32_t groups_x,
			  uint32_t groups_y, uint32_t groups_z, const char *label);
/*
 * How the operator kernels recorded into a sequence from now on hold their
 * tensors and constants. AUTO (the default) is fp32, read through texel
 * buffers where the device can and the views fit its texel limit, else
 * through storage buffers; STORAGE is fp32 through storage buffers only;
 * FP16 is fp16 data (views sized in halves), read as fp16 texels and
 * stored as fp16, with fp32 arithmetic and sums. FP16 fails with -ENOTSUP
 * on devices without 16-bit storage or fp16 texel fetch.
 */
enum visid_vk_tensors {
	VISID_VK_TENSORS_AUTO,
	VISID_VK_TENSORS_STORAGE,
	VISID_VK_TENSORS_FP16,
};

int visid_vk_seq_set_tensors(struct visid_vk_seq *seq, enum visid_vk_tensors tensors);
enum visid_vk_tensors visid_vk_seq_tensors(const struct visid_vk_seq *seq);
/* 1 when the device can run FP16 sequences. */
int visid_vk_has_fp16_tensors(const struct visid_gpu *gpu);

/* Records zeroing a view (offset and size multiples of 4 bytes). */
int visid_vk_seq_zero(struct visid_vk_seq *seq, struct visid_vk_view dst, const char *label);
/* Records a buffer copy (staging to device and back on discrete GPUs). */
int visid_vk_seq_copy(struct visid_vk_seq *seq, struct visid_vk_view src, struct visid_vk_view dst,
		      const char *label);

/*
 * Operator kernels: record the shader of each runtime/kernels.h kernel,
 * with the same parameters and results as its visid_cpu_* reference
 * (convolutions over a few input channels take their weights reordered,
 * see visid_vk_conv_wants_hwio below). Views must hold at least the bytes
 * the parameters imply; bias, slope and (for unary eltwise ops) b may be
 * empty views.
 */
int visid_vk_conv(struct visid_vk_seq *seq, const struct visid_conv_params *p,
		  struct visid_vk_view in, struct visid_vk_view weights, struct visid_vk_view bias,
		  struct visid_vk_view slope, struct visid_vk_view out, const char *label);
/*
 * A dense (not depthwise) convolution with the residual ADD after it in
 * the same dispatch: out = act(conv(in) + r) where r has c channels per
 * output pixel (c <= out_c; the missing ones count as zero, TFLite's
 * channel PAD) and act is RELU or NONE. With pool set, r is the 2x2
 * stride 2 max pool of view, a tensor of twice the output's height and
 * width. Same result as visid_vk_conv then visid_vk_add (after
 * visid_vk_maxpool), without the passes over the intermediate tensors.
 */
/*
 * Dense convolutions over a few input channels (in_c not a multiple of 4,
 * at most 15; out_c a multiple of 4), such as a network's first layer over
 * RGB, read their weights as [kh][kw][in_c][out_c], four output channels
 * at a time: for those, visid_vk_conv and visid_vk_conv_residual take the
 * weights in that order. visid_vk_conv_wants_hwio says whether p is one;
 * visid_vk_conv_to_hwio reorders [out_c][kh][kw][in_c] weights so.
 */
int visid_vk_conv_wants_hwio(const struct visid_conv_params *p);
void visid_vk_conv_to_hwio(const struct visid_conv_params *p, const float *src, float *dst);

struct visid_vk_residual {
	struct visid_vk_view view;
	int c;
	enum visid_act act;
	int pool;
};

int visid_vk_conv_residual(struct visid_vk_seq *seq, const struct visid_conv_params *p,
			   struct visid_vk_view in, struct visid_vk_view weights,
			   struct visid_vk_view bias, struct visid_vk_view slope,
			   const struct visid_vk_residual *res, struct visid_vk_view out,
			   const char *label);
int visid_vk_maxpool(struct visid_vk_seq *seq, const struct visid_pool_params *p,
		     struct visid_vk_view in, struct visid_vk_view out, const char *label);
int visid_vk_add(struct visid_vk_seq *seq, const struct visid_add_params *p, struct visid_vk_view a,
		 struct visid_vk_view b, struct visid_vk_view slope, struct visid_vk_view out,
		 const char *label);
int visid_vk_eltwise(struct visid_vk_seq *seq, const struct visid_eltwise_params *p,
		     struct visid_vk_view a, struct visid_vk_view b, struct visid_vk_view out,
		     const char *label);
int visid_vk_resize(struct visid_vk_seq *seq, const struct visid_resize_params *p,
		    struct visid_vk_view in, struct visid_vk_view out, const char *label);
int visid_vk_pad(struct visid_vk_seq *seq, const struct visid_pad_params *p,
		 struct visid_vk_view in, struct visid_vk_view out, const char *label);
int visid_vk_copy(struct visid_vk_seq *seq, const struct visid_copy_params *p,
		  struct visid_vk_view in, struct visid_vk_view out, const char *label);
/*
 * Copies count fp32 floats into a tensor held as the sequence's tensors
 * are (converted to fp16 in FP16 sequences): for inputs that producers
 * outside the sequence write in fp32.
 */
int visid_vk_from_fp32(struct visid_vk_seq *seq, size_t count, struct visid_vk_view in,
		       struct visid_vk_view out, const char *label);

#endif
