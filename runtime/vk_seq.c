/*
 * Recorded sequences of compute dispatches: one command buffer recorded
 * once and submitted many times. Recording keeps the list of buffer ranges
 * read and written since the last barrier and puts a barrier before any
 * dispatch that touches one of them in a conflicting way, so independent
 * dispatches run without one. When timing is on, a timestamp after each
 * dispatch gives the GPU time of each; it is off by default because CPU
 * implementations flush their queue at every timestamp (lavapipe: about
 * 50 us per dispatch, as much as a small dispatch itself). Texel bindings
 * get buffer views that the sequence owns until it is recorded again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "visid/log.h"
#include "vk.h"
#include "vk_internal.h"

#define QUERY_CHUNK 64
#define SETS_PER_POOL 64

#define SHADER_STAGES (VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT)
#define WRITE_ACCESS (VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT)
#define ANY_ACCESS (WRITE_ACCESS | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT)

struct access {
	VkBuffer buffer;
	VkDeviceSize begin, end;
	int write;
};

struct texel_view {
	VkBuffer buffer;
	VkDeviceSize offset, range;
	VkFormat format;
	VkBufferView view;
};

enum seq_state { SEQ_IDLE, SEQ_RECORDING, SEQ_READY };

struct visid_vk_seq {
	struct visid_gpu *gpu;
	VkCommandPool pool;
	VkCommandBuffer cmd;
	VkFence fence;
	enum seq_state state;
	int timing;		/* timestamps in the next recording */
	int timed;		/* ... in the current one */
	int error;		/* first recording failure, returned by end */
	VkPipeline bound;

	VkDescriptorPool *desc_pools;
	int desc_pool_count, desc_pool_used, sets_in_pool;

	VkQueryPool *query_pools;
	int query_pool_count;
	int queries;

	char **labels;
	int count, label_cap;
	struct visid_vk_timing *timings;
	int timing_count, timing_cap;

	struct access *pending;
	int pending_count, pending_cap;

	struct texel_view *views;
	int view_count, view_cap;
	enum visid_vk_tensors tensors;
};

static const char *device_name(const struct visid_vk_seq *seq)
{
	return seq->gpu->props.deviceName;
}

int visid_vk_seq_create(struct visid_gpu *gpu, struct visid_vk_seq **out)
{
	VkCommandPoolCreateInfo pool = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
		.queueFamilyIndex = gpu->queue_family,
	};
	VkCommandBufferAllocateInfo alloc = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = 1,
	};
	VkFenceCreateInfo fence = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	struct visid_vk_seq *seq;
	VkResult r;

	*out = NULL;
	seq = calloc(1, sizeof(*seq));
	if (!seq)
		return -ENOMEM;
	seq->gpu = gpu;
	r = vkCreateCommandPool(gpu->device, &pool, NULL, &seq->pool);
	if (r != VK_SUCCESS) {
		seq->pool = VK_NULL_HANDLE;
		goto out_destroy;
	}
	alloc.commandPool = seq->pool;
	r = vkAllocateCommandBuffers(gpu->device, &alloc, &seq->cmd);
	if (r != VK_SUCCESS)
		goto out_destroy;
	r = vkCreateFence(gpu->device, &fence, NULL, &seq->fence);
	if (r != VK_SUCCESS) {
		seq->fence = VK_NULL_HANDLE;
		goto out_destroy;
	}
	*out = seq;
	return 0;

out_destroy:
	visid_err("vulkan: creating a command sequence on '%s': %s", gpu->props.deviceName,
		  visid_vk_result_name(r));
	visid_vk_seq_destroy(seq);
	return visid_vk_errno(r);
}

static void drop_views(struct visid_vk_seq *seq)
{
	for (int i = 0; i < seq->view_count; i++)
		vkDestroyBufferView(seq->gpu->device, seq->views[i].view, NULL);
	seq->view_count = 0;
}

static void drop_labels(struct visid_vk_seq *seq)
{
	for (int i = 0; i < seq->count; i++)
		free(seq->labels[i]);
	seq->count = 0;
	seq->timing_count = 0;
}

void visid_vk_seq_destroy(struct visid_vk_seq *seq)
{
	VkDevice dev;

	if (!seq)
		return;
	dev = seq->gpu->device;
	if (seq->state == SEQ_RECORDING)
		vkEndCommandBuffer(seq->cmd);
	for (int i = 0; i < seq->query_pool_count; i++)
		vkDestroyQueryPool(dev, seq->query_pools[i], NULL);
	for (int i = 0; i < seq->desc_pool_count; i++)
		vkDestroyDescriptorPool(dev, seq->desc_pools[i], NULL);
	if (seq->fence)
		vkDestroyFence(dev, seq->fence, NULL);
	if (seq->pool)
		vkDestroyCommandPool(dev, seq->pool, NULL);
	drop_labels(seq);
	drop_views(seq);
	free(seq->views);
	free(seq->query_pools);
	free(seq->desc_pools);
	free(seq->labels);
	free(seq->timings);
	free(seq->pending);
	free(seq);
}

struct visid_gpu *visid_vk_seq_gpu(const struct visid_vk_seq *seq)
{
	return seq->gpu;
}

int visid_vk_seq_length(const struct visid_vk_seq *seq)
{
	return seq->count;
}

int visid_vk_has_fp16_tensors(const struct visid_gpu *gpu)
{
	return gpu->fp16_storage && visid_vk_texel_limit(gpu, VISID_VK_TEXELS_R16F) &&
	       visid_vk_texel_limit(gpu, VISID_VK_TEXELS_RGBA16F);
}

int visid_vk_seq_set_tensors(struct visid_vk_seq *seq, enum visid_vk_tensors tensors)
{
	if ((unsigned)tensors > VISID_VK_TENSORS_FP16)
		return -EINVAL;
	if (tensors == VISID_VK_TENSORS_FP16 && !visid_vk_has_fp16_tensors(seq->gpu)) {
		visid_err("vulkan: '%s' cannot store or fetch fp16 tensors", device_name(seq));
		return -ENOTSUP;
	}
	seq->tensors = tensors;
	return 0;
}

enum visid_vk_tensors visid_vk_seq_tensors(const struct visid_vk_seq *seq)
{
	return seq->tensors;
}

static void global_barrier(struct visid_vk_seq *seq, VkPipelineStageFlags src,
			   VkPipelineStageFlags dst, VkAccessFlags src_access,
			   VkAccessFlags dst_access)
{
	VkMemoryBarrier b = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = src_access,
		.dstAccessMask = dst_access,
	};

	vkCmdPipelineBarrier(seq->cmd, src, dst, 0, 1, &b, 0, NULL, 0, NULL);
}

/* A query slot for the next timestamp, its chunk reset when first used. */
static int next_query(struct visid_vk_seq *seq, VkQueryPool *pool, uint32_t *slot)
{
	VkQueryPoolCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
		.queryType = VK_QUERY_TYPE_TIMESTAMP,
		.queryCount = QUERY_CHUNK,
	};
	int chunk = seq->queries / QUERY_CHUNK;
	VkResult r;

	if (chunk == seq->query_pool_count) {
		VkQueryPool *grown = realloc(seq->query_pools, (chunk + 1) * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		seq->query_pools = grown;
		r = vkCreateQueryPool(seq->gpu->device, &info, NULL, &grown[chunk]);
		if (r != VK_SUCCESS) {
			visid_err("vkCreateQueryPool on '%s': %s", device_name(seq),
				  visid_vk_result_name(r));
			return visid_vk_errno(r);
		}
		seq->query_pool_count++;
	}
	*pool = seq->query_pools[chunk];
	*slot = seq->queries % QUERY_CHUNK;
	if (*slot == 0)
		vkCmdResetQueryPool(seq->cmd, *pool, 0, QUERY_CHUNK);
	seq->queries++;
	return 0;
}

static int write_timestamp(struct visid_vk_seq *seq)
{
	VkQueryPool pool = VK_NULL_HANDLE;
	uint32_t slot = 0;
	int ret;

	if (!seq->timed)
		return 0;
	ret = next_query(seq, &pool, &slot);
	if (!ret)
		vkCmdWriteTimestamp(seq->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, slot);
	return ret;
}

void visid_vk_seq_set_timing(struct visid_vk_seq *seq, int on)
{
	seq->timing = !!on;
}

int visid_vk_seq_begin(struct visid_vk_seq *seq)
{
	VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
	VkResult r;

	if (seq->state == SEQ_RECORDING)
		vkEndCommandBuffer(seq->cmd);
	seq->state = SEQ_IDLE;
	drop_labels(seq);
	drop_views(seq);
	seq->error = 0;
	seq->timed = seq->timing && seq->gpu->timestamp_bits;
	seq->timing_count = 0;
	seq->queries = 0;
	seq->pending_count = 0;
	seq->bound = VK_NULL_HANDLE;
	seq->desc_pool_used = 0;
	seq->sets_in_pool = 0;
	for (int i = 0; i < seq->desc_pool_count; i++)
		vkResetDescriptorPool(seq->gpu->device, seq->desc_pools[i], 0);

	r = vkResetCommandBuffer(seq->cmd, 0);
	if (r == VK_SUCCESS)
		r = vkBeginCommandBuffer(seq->cmd, &begin);
	if (r != VK_SUCCESS) {
		visid_err("vkBeginCommandBuffer on '%s': %s", device_name(seq),
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	seq->state = SEQ_RECORDING;
	/* The previous submit of this or another sequence wrote what this one reads. */
	global_barrier(seq, SHADER_STAGES, SHADER_STAGES, WRITE_ACCESS, ANY_ACCESS);
	seq->error = write_timestamp(seq);
	return seq->error;
}

int visid_vk_seq_end(struct visid_vk_seq *seq)
{
	VkResult r;

	if (seq->state != SEQ_RECORDING) {
		visid_err("vulkan: sequence on '%s' ended without begin", device_name(seq));
		return -EINVAL;
	}
	/* Results become visible to the host through the mapped memory. */
	global_barrier(seq, SHADER_STAGES, VK_PIPELINE_STAGE_HOST_BIT, WRITE_ACCESS,
		       VK_ACCESS_HOST_READ_BIT);
	r = vkEndCommandBuffer(seq->cmd);
	seq->state = SEQ_IDLE;
	if (seq->error)
		return seq->error;
	if (r != VK_SUCCESS) {
		visid_err("vkEndCommandBuffer on '%s': %s", device_name(seq),
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	seq->state = SEQ_READY;
	return 0;
}

static int read_timings(struct visid_vk_seq *seq)
{
	uint64_t mask = seq->gpu->timestamp_bits >= 64 ? ~0ull
			: (1ull << seq->gpu->timestamp_bits) - 1;
	uint64_t stamps[QUERY_CHUNK];
	uint64_t prev = 0;
	VkResult r;

	if (!seq->timed || seq->queries != seq->count + 1)
		return 0;
	if (seq->timing_cap < seq->count) {
		struct visid_vk_timing *t = realloc(seq->timings, seq->count * sizeof(*t));

		if (!t)
			return -ENOMEM;
		seq->timings = t;
		seq->timing_cap = seq->count;
	}
	for (int q = 0; q < seq->queries; q++) {
		int slot = q % QUERY_CHUNK;

		if (slot == 0) {
			int n = seq->queries - q < QUERY_CHUNK ? seq->queries - q : QUERY_CHUNK;

			r = vkGetQueryPoolResults(
			    seq->gpu->device, seq->query_pools[q / QUERY_CHUNK], 0, n,
			    sizeof(stamps), stamps, sizeof(uint64_t),
			    VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
			if (r != VK_SUCCESS) {
				visid_err("vkGetQueryPoolResults on '%s': %s", device_name(seq),
					  visid_vk_result_name(r));
				return visid_vk_errno(r);
			}
		}
		if (q > 0) {
			uint64_t ticks = ((stamps[slot] & mask) - prev) & mask;

			seq->timings[q - 1].label = seq->labels[q - 1];
			seq->timings[q - 1].ms = ticks * (double)seq->gpu->timestamp_period / 1e6;
		}
		prev = stamps[slot] & mask;
	}
	seq->timing_count = seq->count;
	return 0;
}

int visid_vk_seq_submit(struct visid_vk_seq *seq)
{
	struct visid_gpu *gpu = seq->gpu;
	VkSubmitInfo submit = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &seq->cmd,
	};
	VkResult r;

	if (seq->state != SEQ_READY) {
		visid_err("vulkan: sequence on '%s' submitted before it was recorded",
			  device_name(seq));
		return -EINVAL;
	}
	r = vkResetFences(gpu->device, 1, &seq->fence);
	if (r == VK_SUCCESS) {
		pthread_mutex_lock(&gpu->lock);
		r = vkQueueSubmit(gpu->queue, 1, &submit, seq->fence);
		pthread_mutex_unlock(&gpu->lock);
	}
	if (r == VK_SUCCESS)
		r = vkWaitForFences(gpu->device, 1, &seq->fence, VK_TRUE, VISID_VK_TIMEOUT_NS);
	if (r != VK_SUCCESS) {
		visid_err("vulkan: running a sequence of %d dispatches on '%s': %s", seq->count,
			  device_name(seq), visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	return read_timings(seq);
}

int visid_vk_seq_timings(const struct visid_vk_seq *seq, const struct visid_vk_timing **out)
{
	*out = seq->timings;
	if (!seq->timed)
		return -ENOTSUP;
	return seq->timing_count;
}

/* Recording */

static int add_label(struct visid_vk_seq *seq, const char *label)
{
	char *copy;

	if (seq->count == seq->label_cap) {
		int cap = seq->label_cap ? 2 * seq->label_cap : 64;
		char **grown = realloc(seq->labels, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		seq->labels = grown;
		seq->label_cap = cap;
	}
	copy = strdup(label ? label : "");
	if (!copy)
		return -ENOMEM;
	seq->labels[seq->count++] = copy;
	return 0;
}

static int conflicts(const struct visid_vk_seq *seq, const struct access *a)
{
	for (int i = 0; i < seq->pending_count; i++) {
		const struct access *p = &seq->pending[i];

		if (p->buffer == a->buffer && p->begin < a->end && a->begin < p->end &&
		    (p->write || a->write))
			return 1;
	}
	return 0;
}

/* Makes earlier writes visible (and earlier reads finished) before the next command. */
static void barrier_pending(struct visid_vk_seq *seq)
{
	VkBufferMemoryBarrier b[16];
	int n = 0;

	for (int i = 0; i < seq->pending_count; i++) {
		const struct access *p = &seq->pending[i];

		if (!p->write)
			continue;
		if (n == (int)(sizeof(b) / sizeof(b[0]))) {
			vkCmdPipelineBarrier(seq->cmd, SHADER_STAGES, SHADER_STAGES, 0, 0, NULL,
					     n, b, 0, NULL);
			n = 0;
		}
		b[n++] = (VkBufferMemoryBarrier){
			.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
			.srcAccessMask = WRITE_ACCESS,
			.dstAccessMask = ANY_ACCESS,
			.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
			.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
			.buffer = p->buffer,
			.offset = p->begin,
			.size = p->end - p->begin,
		};
	}
	vkCmdPipelineBarrier(seq->cmd, SHADER_STAGES, SHADER_STAGES, 0, 0, NULL, n, b, 0, NULL);
	seq->pending_count = 0;
}

static int order_accesses(struct visid_vk_seq *seq, const struct access *a, int n)
{
	for (int i = 0; i < n; i++) {
		if (conflicts(seq, &a[i])) {
			barrier_pending(seq);
			break;
		}
	}
	if (seq->pending_count + n > seq->pending_cap) {
		int cap = seq->pending_cap * 2 + n + 16;
		struct access *grown = realloc(seq->pending, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		seq->pending = grown;
		seq->pending_cap = cap;
	}
	memcpy(seq->pending + seq->pending_count, a, n * sizeof(*a));
	seq->pending_count += n;
	return 0;
}

static int check_view(const struct visid_vk_seq *seq, const struct visid_vk_view *v, int i,
		      size_t alignment, const char *label)
{
	const struct visid_vk_buffer *buf = v->buf;

	if (v->offset % alignment || !v->size || v->offset > buf->size ||
	    v->size > buf->size - v->offset) {
		visid_err("vulkan: dispatch '%s' binding %d: view of %llu bytes at %llu on a "
			  "%llu-byte buffer (offsets must be multiples of %zu)", label ? label : "",
			  i, (unsigned long long)v->size, (unsigned long long)v->offset,
			  (unsigned long long)buf->size, alignment);
		return -EINVAL;
	}
	return 0;
}

/* A set from the sequence's pools, adding a pool when the last is full. */
static int allocate_set(struct visid_vk_seq *seq, VkDescriptorSetLayout layout,
			VkDescriptorSet *set)
{
	VkDescriptorPoolSize sizes[] = {
		{ VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, SETS_PER_POOL * VISID_VK_MAX_BINDINGS },
		{ VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, SETS_PER_POOL * VISID_VK_MAX_BINDINGS },
	};
	VkDescriptorPoolCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.maxSets = SETS_PER_POOL,
		.poolSizeCount = 2,
		.pPoolSizes = sizes,
	};
	VkDescriptorSetAllocateInfo alloc = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
		.descriptorSetCount = 1,
		.pSetLayouts = &layout,
	};
	VkResult r;

	if (seq->sets_in_pool == SETS_PER_POOL || !seq->desc_pool_used) {
		if (seq->desc_pool_used == seq->desc_pool_count) {
			VkDescriptorPool *grown = realloc(seq->desc_pools,
							  (seq->desc_pool_count + 1) *
							  sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			seq->desc_pools = grown;
			r = vkCreateDescriptorPool(seq->gpu->device, &info, NULL,
						   &grown[seq->desc_pool_count]);
			if (r != VK_SUCCESS) {
				visid_err("vkCreateDescriptorPool on '%s': %s", device_name(seq),
					  visid_vk_result_name(r));
				return visid_vk_errno(r);
			}
			seq->desc_pool_count++;
		}
		seq->desc_pool_used++;
		seq->sets_in_pool = 0;
	}
	alloc.descriptorPool = seq->desc_pools[seq->desc_pool_used - 1];
	r = vkAllocateDescriptorSets(seq->gpu->device, &alloc, set);
	if (r != VK_SUCCESS) {
		visid_err("vkAllocateDescriptorSets on '%s': %s", device_name(seq),
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	seq->sets_in_pool++;
	return 0;
}

/* The sequence's view of a buffer range as texels of a format, created on first use. */
static int texel_view(struct visid_vk_seq *seq, const VkDescriptorBufferInfo *info,
		      VkFormat format, VkBufferView *out)
{
	VkBufferViewCreateInfo create = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
		.buffer = info->buffer,
		.format = format,
		.offset = info->offset,
		.range = info->range,
	};
	struct texel_view *v;
	VkResult r;

	for (int i = 0; i < seq->view_count; i++) {
		v = &seq->views[i];
		if (v->buffer == info->buffer && v->offset == info->offset &&
		    v->range == info->range && v->format == format) {
			*out = v->view;
			return 0;
		}
	}
	if (seq->view_count == seq->view_cap) {
		int cap = seq->view_cap ? 2 * seq->view_cap : 64;
		struct texel_view *grown = realloc(seq->views, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		seq->views = grown;
		seq->view_cap = cap;
	}
	v = &seq->views[seq->view_count];
	r = vkCreateBufferView(seq->gpu->device, &create, NULL, &v->view);
	if (r != VK_SUCCESS) {
		visid_err("vkCreateBufferView of %llu bytes on '%s': %s",
			  (unsigned long long)info->range, device_name(seq),
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	v->buffer = info->buffer;
	v->offset = info->offset;
	v->range = info->range;
	v->format = format;
	seq->view_count++;
	*out = v->view;
	return 0;
}

static int bind_views(struct visid_vk_seq *seq, struct visid_vk_pipeline *pipe,
		      const VkDescriptorBufferInfo *info, int n)
{
	VkWriteDescriptorSet write[VISID_VK_MAX_BINDINGS];
	VkBufferView views[VISID_VK_MAX_BINDINGS];
	VkDescriptorSet set = VK_NULL_HANDLE;
	int ret;

	if (!seq->gpu->push_descriptor) {
		ret = allocate_set(seq, pipe->set_layout, &set);
		if (ret)
			return ret;
	}
	for (int i = 0; i < n; i++) {
		write[i] = (VkWriteDescriptorSet){
			.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
			.dstSet = set,
			.dstBinding = i,
			.descriptorCount = 1,
			.descriptorType = visid_vk_descriptor_type(pipe->kinds[i]),
			.pBufferInfo = &info[i],
		};
		if (pipe->kinds[i] != VISID_VK_STORAGE) {
			ret = texel_view(seq, &info[i], visid_vk_texel_format(pipe->kinds[i]),
					 &views[i]);
			if (ret)
				return ret;
			write[i].pBufferInfo = NULL;
			write[i].pTexelBufferView = &views[i];
		}
	}
	if (seq->gpu->push_descriptor) {
		seq->gpu->push_descriptor(seq->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe->layout, 0,
					  n, write);
		return 0;
	}
	vkUpdateDescriptorSets(seq->gpu->device, n, write, 0, NULL);
	vkCmdBindDescriptorSets(seq->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe->layout, 0, 1, &set,
				0, NULL);
	return 0;
}

static int recording(struct visid_vk_seq *seq, const char *label)
{
	if (seq->state != SEQ_RECORDING) {
		visid_err("vulkan: '%s' recorded outside begin/end", label ? label : "");
		return -EINVAL;
	}
	return seq->error;
}

static VkDeviceSize texel_bytes(enum visid_vk_binding kind)
{
	static const VkDeviceSize bytes[] = { 4, 4, 16, 2, 8 };

	return bytes[kind];
}

/* Keeps the first failure so that end reports it. */
static int failed(struct visid_vk_seq *seq, int ret)
{
	if (ret && !seq->error)
		seq->error = ret;
	return ret;
}

int visid_vk_seq_dispatch(struct visid_vk_seq *seq, struct visid_vk_pipeline *pipe,
			  const struct visid_vk_view *views, int view_count, uint32_t write_mask,
			  const void *push, uint32_t push_size, uint32_t groups_x,
			  uint32_t groups_y, uint32_t groups_z, const char *label)
{
	VkDescriptorBufferInfo info[VISID_VK_MAX_BINDINGS];
	struct access acc[VISID_VK_MAX_BINDINGS];
	const uint32_t *max = seq->gpu->props.limits.maxComputeWorkGroupCount;
	int n = 0, ret;

	ret = recording(seq, label);
	if (ret)
		return ret;
	if (view_count != pipe->bindings || push_size != pipe->push_size) {
		visid_err("vulkan: dispatch '%s' of shader '%s': %d views and %u push bytes, the "
			  "pipeline takes %d and %u", label, pipe->shader, view_count, push_size,
			  pipe->bindings, pipe->push_size);
		return failed(seq, -EINVAL);
	}
	if (groups_x > max[0] || groups_y > max[1] || groups_z > max[2]) {
		visid_err("vulkan: dispatch '%s' of %ux%ux%u groups exceeds the limits of '%s'",
			  label, groups_x, groups_y, groups_z, device_name(seq));
		return failed(seq, -E2BIG);
	}
	for (int i = 0; i < view_count; i++) {
		struct visid_vk_view v = views[i];
		VkDeviceSize range;

		if (!v.buf)
			v = visid_vk_whole(seq->gpu->zero);
		ret = check_view(seq, &v, i, seq->gpu->alignment, label);
		if (ret)
			return failed(seq, ret);
		/* Whole vec4s: buffers are sized to 16 bytes and offsets aligned. */
		range = (v.size + 15) & ~(VkDeviceSize)15;
		if (pipe->kinds[i] != VISID_VK_STORAGE &&
		    range / texel_bytes(pipe->kinds[i]) > visid_vk_texel_limit(seq->gpu,
									     pipe->kinds[i])) {
			visid_err("vulkan: dispatch '%s' binding %d: %llu bytes exceed the texel "
				  "buffer limit of '%s'", label ? label : "", i,
				  (unsigned long long)range, device_name(seq));
			return failed(seq, -E2BIG);
		}
		info[i] = (VkDescriptorBufferInfo){ v.buf->buffer, v.offset, range };
		if (v.buf == seq->gpu->zero)
			continue;
		acc[n++] = (struct access){ v.buf->buffer, v.offset, v.offset + range,
					    !!(write_mask & (1u << i)) };
	}
	ret = order_accesses(seq, acc, n);
	if (ret)
		return failed(seq, ret);
	if (seq->bound != pipe->pipeline) {
		vkCmdBindPipeline(seq->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe->pipeline);
		seq->bound = pipe->pipeline;
	}
	ret = bind_views(seq, pipe, info, view_count);
	if (ret)
		return failed(seq, ret);
	if (push_size)
		vkCmdPushConstants(seq->cmd, pipe->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
				   push_size, push);
	vkCmdDispatch(seq->cmd, groups_x, groups_y, groups_z);
	ret = add_label(seq, label);
	if (!ret)
		ret = write_timestamp(seq);
	return failed(seq, ret);
}

int visid_vk_seq_zero(struct visid_vk_seq *seq, struct visid_vk_view dst, const char *label)
{
	struct access acc;
	int ret;

	ret = recording(seq, label);
	if (ret)
		return ret;
	if (!dst.buf || dst.offset % 4 || dst.size % 4) {
		visid_err("vulkan: zeroing '%s' needs a view of whole words", label ? label : "");
		return failed(seq, -EINVAL);
	}
	ret = check_view(seq, &dst, 0, 4, label);
	if (ret)
		return failed(seq, ret);
	acc = (struct access){ dst.buf->buffer, dst.offset, dst.offset + dst.size, 1 };
	ret = order_accesses(seq, &acc, 1);
	if (ret)
		return failed(seq, ret);
	vkCmdFillBuffer(seq->cmd, dst.buf->buffer, dst.offset, dst.size, 0);
	ret = add_label(seq, label);
	if (!ret)
		ret = write_timestamp(seq);
	return failed(seq, ret);
}

int visid_vk_seq_copy(struct visid_vk_seq *seq, struct visid_vk_view src, struct visid_vk_view dst,
		      const char *label)
{
	struct access acc[2];
	VkBufferCopy region;
	int ret;

	ret = recording(seq, label);
	if (ret)
		return ret;
	if (!src.buf || !dst.buf || src.size != dst.size) {
		visid_err("vulkan: copy '%s' needs two views of one size", label ? label : "");
		return failed(seq, -EINVAL);
	}
	ret = check_view(seq, &src, 0, 1, label);
	if (!ret)
		ret = check_view(seq, &dst, 1, 1, label);
	if (ret)
		return failed(seq, ret);
	acc[0] = (struct access){ src.buf->buffer, src.offset, src.offset + src.size, 0 };
	acc[1] = (struct access){ dst.buf->buffer, dst.offset, dst.offset + dst.size, 1 };
	ret = order_accesses(seq, acc, 2);
	if (ret)
		return failed(seq, ret);
	region = (VkBufferCopy){ src.offset, dst.offset, src.size };
	vkCmdCopyBuffer(seq->cmd, src.buf->buffer, dst.buf->buffer, 1, &region);
	ret = add_label(seq, label);
	if (!ret)
		ret = write_timestamp(seq);
	return failed(seq, ret);
}
