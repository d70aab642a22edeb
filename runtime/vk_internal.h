/* What vk.c and vk_seq.c share and nothing else needs: the device's insides. */
#ifndef VISID_VK_INTERNAL_H
#define VISID_VK_INTERNAL_H

#include <pthread.h>
#include <vulkan/vulkan.h>

#include "vk.h"

#define VISID_VK_MAX_BINDINGS 8
#define VISID_VK_MAX_SPEC 16
/* Waits longer than this mean a hung device, not a slow one. */
#define VISID_VK_TIMEOUT_NS (120ull * 1000 * 1000 * 1000)

struct visid_vk_pipeline {
	struct visid_vk_pipeline *next;
	char shader[48];
	int32_t spec[VISID_VK_MAX_SPEC];
	int spec_count;
	int bindings;
	enum visid_vk_binding kinds[VISID_VK_MAX_BINDINGS];
	uint32_t push_size;
	VkDescriptorSetLayout set_layout;
	VkPipelineLayout layout;
	VkPipeline pipeline;
};

struct visid_gpu {
	VkInstance instance;
	VkDebugUtilsMessengerEXT messenger;
	int validation;
	unsigned validation_messages;

	VkPhysicalDevice phys;
	int index;
	VkPhysicalDeviceProperties props;
	VkPhysicalDeviceMemoryProperties mem;
	uint32_t queue_family;
	uint32_t timestamp_bits;
	float timestamp_period;
	size_t alignment;
	size_t texel_limit[VISID_VK_TEXELS_RGBA16F + 1];
	int fp16_storage;
	/* $VISID_VK_UNMAPPED=1: device buffers stay unmapped, as on a discrete GPU. */
	int unmapped;

	VkDevice device;
	VkQueue queue;
	PFN_vkCmdPushDescriptorSetKHR push_descriptor;	/* NULL: descriptor pools */

	/* The lock guards the queue, the pool and fence below, and the pipeline list. */
	pthread_mutex_t lock;
	VkCommandPool pool;
	VkFence fence;
	struct visid_vk_pipeline *pipelines;
	struct visid_vk_buffer *zero;	/* bound where a dispatch has no buffer */
};

const char *visid_vk_result_name(VkResult r);
int visid_vk_errno(VkResult r);
int visid_vk_run_once(struct visid_gpu *gpu, void (*record)(VkCommandBuffer, void *), void *data,
		      const char *what);
int visid_vk_flush(struct visid_vk_buffer *buf);
int visid_vk_fill_zero(struct visid_vk_buffer *buf);
VkDescriptorType visid_vk_descriptor_type(enum visid_vk_binding kind);
VkFormat visid_vk_texel_format(enum visid_vk_binding kind);

/* Whether the physical device lists the extension. */
int visid_vk_has_device_extension(VkPhysicalDevice phys, const char *want);

#endif
