/*
 * The Vulkan compute device: instance, physical device and queue choice,
 * buffers, the pipeline cache and the validation hook. Sequences of
 * dispatches are in vk_seq.c, the operator kernels in vk_ops.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "visid/log.h"
#include "visid/shaders.h"
#include "vk.h"
#include "vk_internal.h"

#define ZERO_BUFFER_SIZE 256

const char *visid_vk_result_name(VkResult r)
{
	static const struct {
		VkResult r;
		const char *name;
	} names[] = {
#define N(x) { x, #x }
		N(VK_SUCCESS), N(VK_NOT_READY), N(VK_TIMEOUT), N(VK_INCOMPLETE),
		N(VK_ERROR_OUT_OF_HOST_MEMORY), N(VK_ERROR_OUT_OF_DEVICE_MEMORY),
		N(VK_ERROR_INITIALIZATION_FAILED), N(VK_ERROR_DEVICE_LOST),
		N(VK_ERROR_MEMORY_MAP_FAILED), N(VK_ERROR_LAYER_NOT_PRESENT),
		N(VK_ERROR_EXTENSION_NOT_PRESENT), N(VK_ERROR_FEATURE_NOT_PRESENT),
		N(VK_ERROR_INCOMPATIBLE_DRIVER), N(VK_ERROR_TOO_MANY_OBJECTS),
		N(VK_ERROR_FORMAT_NOT_SUPPORTED), N(VK_ERROR_FRAGMENTED_POOL),
		N(VK_ERROR_OUT_OF_POOL_MEMORY), N(VK_ERROR_INVALID_EXTERNAL_HANDLE),
		N(VK_ERROR_UNKNOWN),
#undef N
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].r == r)
			return names[i].name;
	return "VK_ERROR (unnamed)";
}

int visid_vk_errno(VkResult r)
{
	switch (r) {
	case VK_SUCCESS:
		return 0;
	case VK_ERROR_OUT_OF_HOST_MEMORY:
	case VK_ERROR_OUT_OF_DEVICE_MEMORY:
	case VK_ERROR_OUT_OF_POOL_MEMORY:
	case VK_ERROR_FRAGMENTED_POOL:
	case VK_ERROR_TOO_MANY_OBJECTS:
		return -ENOMEM;
	case VK_ERROR_INCOMPATIBLE_DRIVER:
	case VK_ERROR_INITIALIZATION_FAILED:
		return -ENODEV;
	case VK_ERROR_LAYER_NOT_PRESENT:
	case VK_ERROR_EXTENSION_NOT_PRESENT:
	case VK_ERROR_FEATURE_NOT_PRESENT:
		return -ENOTSUP;
	case VK_TIMEOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

VkDevice visid_vk_device(const struct visid_gpu *gpu)
{
	return gpu->device;
}

VkPhysicalDevice visid_vk_physical(const struct visid_gpu *gpu)
{
	return gpu->phys;
}

size_t visid_vk_alignment(const struct visid_gpu *gpu)
{
	return gpu->alignment;
}

int visid_vk_has_timestamps(const struct visid_gpu *gpu)
{
	return gpu->timestamp_bits > 0;
}

int visid_vk_is_cpu(const struct visid_gpu *gpu)
{
	return gpu->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

size_t visid_vk_texel_limit(const struct visid_gpu *gpu, enum visid_vk_binding kind)
{
	if (kind == VISID_VK_STORAGE)
		return SIZE_MAX;
	return (unsigned)kind < sizeof(gpu->texel_limit) / sizeof(gpu->texel_limit[0]) ?
	       gpu->texel_limit[kind] : 0;
}

int visid_vk_has_fp16_storage(const struct visid_gpu *gpu)
{
	return gpu->fp16_storage;
}

VkDescriptorType visid_vk_descriptor_type(enum visid_vk_binding kind)
{
	return kind == VISID_VK_STORAGE ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
	       : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
}

VkFormat visid_vk_texel_format(enum visid_vk_binding kind)
{
	switch (kind) {
	case VISID_VK_TEXELS_R32F:
		return VK_FORMAT_R32_SFLOAT;
	case VISID_VK_TEXELS_RGBA32F:
		return VK_FORMAT_R32G32B32A32_SFLOAT;
	case VISID_VK_TEXELS_R16F:
		return VK_FORMAT_R16_SFLOAT;
	case VISID_VK_TEXELS_RGBA16F:
		return VK_FORMAT_R16G16B16A16_SFLOAT;
	default:
		return VK_FORMAT_UNDEFINED;
	}
}

const char *visid_gpu_name(const struct visid_gpu *gpu)
{
	return gpu->props.deviceName;
}

unsigned visid_gpu_validation_errors(const struct visid_gpu *gpu)
{
	return __atomic_load_n(&gpu->validation_messages, __ATOMIC_RELAXED);
}

/* Validation */

static VKAPI_ATTR VkBool32 VKAPI_CALL
validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
		   VkDebugUtilsMessageTypeFlagsEXT type,
		   const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
	struct visid_gpu *gpu = user;
	const char *what = data->pMessage ? data->pMessage : "(no text)";

	__atomic_add_fetch(&gpu->validation_messages, 1, __ATOMIC_RELAXED);
	if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)
		visid_err("vulkan validation: %s", what);
	else
		visid_warn("vulkan validation: %s", what);
	return VK_FALSE;
}

static int want_validation(const struct visid_gpu_options *opt)
{
	const char *env = getenv("VISID_VALIDATION");

	if (opt && opt->validation)
		return 1;
	return env && !strcmp(env, "1");
}

static int have_layer(const char *name)
{
	VkLayerProperties *layers;
	uint32_t count = 0;
	int found = 0;

	if (vkEnumerateInstanceLayerProperties(&count, NULL) != VK_SUCCESS || !count)
		return 0;
	layers = calloc(count, sizeof(*layers));
	if (!layers)
		return 0;
	if (vkEnumerateInstanceLayerProperties(&count, layers) == VK_SUCCESS)
		for (uint32_t i = 0; i < count && !found; i++)
			found = !strcmp(layers[i].layerName, name);
	free(layers);
	return found;
}

static void messenger_info(struct visid_gpu *gpu, VkDebugUtilsMessengerCreateInfoEXT *info)
{
	memset(info, 0, sizeof(*info));
	info->sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
	info->messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
				VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
	info->messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
			    VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
			    VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
	info->pfnUserCallback = validation_message;
	info->pUserData = gpu;
}

/* Instance */

static int create_instance(struct visid_gpu *gpu, int validation)
{
	static const char *layer = "VK_LAYER_KHRONOS_validation";
	const char *ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
	VkDebugUtilsMessengerCreateInfoEXT messenger;
	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "visid",
		.pEngineName = "visid",
		.apiVersion = VK_API_VERSION_1_1,
	};
	VkInstanceCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	VkValidationFeatureEnableEXT sync =
	    VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
	VkValidationFeaturesEXT features = {
		.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
		.enabledValidationFeatureCount = 1,
		.pEnabledValidationFeatures = &sync,
	};
	VkResult r;

	if (validation && !have_layer(layer)) {
		visid_warn("vulkan: validation asked for but %s is not installed", layer);
		validation = 0;
	}
	if (validation) {
		messenger_info(gpu, &messenger);
		/* Synchronization checks catch a missing barrier between dispatches. */
		features.pNext = &messenger;
		info.pNext = &features;
		info.enabledLayerCount = 1;
		info.ppEnabledLayerNames = &layer;
		info.enabledExtensionCount = 1;
		info.ppEnabledExtensionNames = &ext;
	}
	r = vkCreateInstance(&info, NULL, &gpu->instance);
	if (r != VK_SUCCESS) {
		gpu->instance = VK_NULL_HANDLE;
		visid_err("vkCreateInstance (Vulkan 1.1%s): %s%s", validation ? ", validation" : "",
			  visid_vk_result_name(r),
			  r == VK_ERROR_INCOMPATIBLE_DRIVER ? " (no usable Vulkan driver installed)"
							    : "");
		return r == VK_ERROR_INCOMPATIBLE_DRIVER ? -ENODEV : visid_vk_errno(r);
	}
	if (!validation)
		return 0;

	PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
		vkGetInstanceProcAddr(gpu->instance, "vkCreateDebugUtilsMessengerEXT");

	if (!create || create(gpu->instance, &messenger, NULL, &gpu->messenger) != VK_SUCCESS) {
		visid_err("vulkan: cannot install the validation message hook");
		return -ENOTSUP;
	}
	gpu->validation = 1;
	return 0;
}

/* Physical device and queue */

static int type_rank(VkPhysicalDeviceType type)
{
	switch (type) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
		return 0;
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
		return 1;
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
		return 2;
	case VK_PHYSICAL_DEVICE_TYPE_CPU:
		return 3;
	default:
		return 4;
	}
}

static const char *type_name(VkPhysicalDeviceType type)
{
	static const char *const names[] = { "other", "integrated GPU", "discrete GPU",
					     "virtual GPU", "CPU" };

	return (unsigned)type < 5 ? names[type] : "unknown";
}

/* A queue family that computes, preferring one with timestamps; -1 if none. */
static int pick_queue_family(VkPhysicalDevice phys, uint32_t *timestamp_bits)
{
	VkQueueFamilyProperties *families;
	uint32_t count = 0;
	int best = -1;

	vkGetPhysicalDeviceQueueFamilyProperties(phys, &count, NULL);
	families = calloc(count ? count : 1, sizeof(*families));
	if (!families)
		return -1;
	vkGetPhysicalDeviceQueueFamilyProperties(phys, &count, families);
	for (uint32_t i = 0; i < count; i++) {
		if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || !families[i].queueCount)
			continue;
		if (best < 0 || (!families[best].timestampValidBits &&
				 families[i].timestampValidBits))
			best = i;
	}
	if (best >= 0)
		*timestamp_bits = families[best].timestampValidBits;
	free(families);
	return best;
}

static int is_index(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int name_matches(const char *name, const char *want)
{
	size_t n = strlen(want);

	for (; *name; name++)
		if (!strncasecmp(name, want, n))
			return 1;
	return 0;
}

static void list_devices(VkPhysicalDevice *devs, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		VkPhysicalDeviceProperties p;

		vkGetPhysicalDeviceProperties(devs[i], &p);
		visid_err("vulkan: device %u: '%s' (%s)", i, p.deviceName, type_name(p.deviceType));
	}
}

/* Index of the device the selector names, or the best by type; -1 with a log if none. */
static int choose_device(VkPhysicalDevice *devs, uint32_t count, const char *selector)
{
	int best = -1, best_rank = 99;

	if (selector && is_index(selector)) {
		unsigned long i = strtoul(selector, NULL, 10);

		if (i < count)
			return (int)i;
		visid_err("vulkan: no device with index %s (%u devices)", selector, count);
		list_devices(devs, count);
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		VkPhysicalDeviceProperties p;
		uint32_t bits;

		vkGetPhysicalDeviceProperties(devs[i], &p);
		if (selector) {
			if (name_matches(p.deviceName, selector))
				return (int)i;
			continue;
		}
		if (p.apiVersion < VK_API_VERSION_1_1 || pick_queue_family(devs[i], &bits) < 0)
			continue;
		if (type_rank(p.deviceType) < best_rank) {
			best = (int)i;
			best_rank = type_rank(p.deviceType);
		}
	}
	if (best < 0) {
		if (selector)
			visid_err("vulkan: no device name contains '%s'", selector);
		else
			visid_err("vulkan: no device offers Vulkan 1.1 compute");
		list_devices(devs, count);
	}
	return best;
}

static int pick_physical(struct visid_gpu *gpu, const char *selector)
{
	VkPhysicalDevice *devs;
	uint32_t count = 0;
	VkResult r;
	int i, ret = 0;

	r = vkEnumeratePhysicalDevices(gpu->instance, &count, NULL);
	if (r != VK_SUCCESS || !count) {
		visid_err("vkEnumeratePhysicalDevices: %s", r != VK_SUCCESS ?
			  visid_vk_result_name(r) : "no Vulkan device found");
		return -ENODEV;
	}
	devs = calloc(count, sizeof(*devs));
	if (!devs)
		return -ENOMEM;
	r = vkEnumeratePhysicalDevices(gpu->instance, &count, devs);
	if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
		visid_err("vkEnumeratePhysicalDevices: %s", visid_vk_result_name(r));
		ret = -ENODEV;
		goto out_free_devs;
	}
	i = choose_device(devs, count, selector);
	if (i < 0) {
		ret = -ENODEV;
		goto out_free_devs;
	}
	gpu->phys = devs[i];
	gpu->index = i;
out_free_devs:
	free(devs);
	return ret;
}

/* Which texel formats shaders may read, and how many texels a binding may span. */
static void check_texel_formats(struct visid_gpu *gpu)
{
	for (int k = VISID_VK_TEXELS_R32F; k <= VISID_VK_TEXELS_RGBA16F; k++) {
		VkFormatProperties props;

		vkGetPhysicalDeviceFormatProperties(gpu->phys, visid_vk_texel_format(k), &props);
		if (props.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT)
			gpu->texel_limit[k] = gpu->props.limits.maxTexelBufferElements;
	}
}

static int check_physical(struct visid_gpu *gpu)
{
	const char *name;
	int family;

	vkGetPhysicalDeviceProperties(gpu->phys, &gpu->props);
	vkGetPhysicalDeviceMemoryProperties(gpu->phys, &gpu->mem);
	name = gpu->props.deviceName;
	if (gpu->props.apiVersion < VK_API_VERSION_1_1) {
		visid_err("vulkan: '%s' offers Vulkan %u.%u, 1.1 is needed", name,
			  VK_API_VERSION_MAJOR(gpu->props.apiVersion),
			  VK_API_VERSION_MINOR(gpu->props.apiVersion));
		return -ENODEV;
	}
	family = pick_queue_family(gpu->phys, &gpu->timestamp_bits);
	if (family < 0) {
		visid_err("vulkan: '%s' has no compute queue", name);
		return -ENODEV;
	}
	gpu->queue_family = family;
	gpu->timestamp_period = gpu->props.limits.timestampPeriod;
	gpu->alignment = gpu->props.limits.minStorageBufferOffsetAlignment;
	if (gpu->alignment < gpu->props.limits.minTexelBufferOffsetAlignment)
		gpu->alignment = gpu->props.limits.minTexelBufferOffsetAlignment;
	if (gpu->alignment < 16)
		gpu->alignment = 16;
	check_texel_formats(gpu);
	return 0;
}

int visid_vk_has_device_extension(VkPhysicalDevice phys, const char *want)
{
	VkExtensionProperties *exts;
	uint32_t count = 0;
	int found = 0;

	if (vkEnumerateDeviceExtensionProperties(phys, NULL, &count, NULL) != VK_SUCCESS)
		return 0;
	exts = calloc(count ? count : 1, sizeof(*exts));
	if (!exts)
		return 0;
	if (vkEnumerateDeviceExtensionProperties(phys, NULL, &count, exts) == VK_SUCCESS)
		for (uint32_t i = 0; i < count && !found; i++)
			found = !strcmp(exts[i].extensionName, want);
	free(exts);
	return found;
}

static int create_device(struct visid_gpu *gpu)
{
	const char *push_ext = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
	float priority = 1.0f;
	VkDeviceQueueCreateInfo queue = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueFamilyIndex = gpu->queue_family,
		.queueCount = 1,
		.pQueuePriorities = &priority,
	};
	VkPhysicalDevice16BitStorageFeatures storage16 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
	};
	VkPhysicalDeviceFeatures2 features = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
		.pNext = &storage16,
	};
	VkDeviceCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
		.queueCreateInfoCount = 1,
		.pQueueCreateInfos = &queue,
	};
	/* $VISID_VK_DESCRIPTOR_POOLS=1 takes the path of devices without push descriptors. */
	const char *pools = getenv("VISID_VK_DESCRIPTOR_POOLS");
	/* $VISID_VK_UNMAPPED=1 takes the staging paths of discrete GPUs on any device. */
	const char *unmapped = getenv("VISID_VK_UNMAPPED");
	/* Camera frames are imported through these wherever listed (vk_import.c). */
	static const char *const import_exts[] = {
		VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
		VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME,
		VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME,
	};
	const char *exts[4];
	int push = 0;
	VkResult r;

	/* fp16 activations are stored by shaders; only that feature is turned on. */
	vkGetPhysicalDeviceFeatures2(gpu->phys, &features);
	if (storage16.storageBuffer16BitAccess) {
		storage16 = (VkPhysicalDevice16BitStorageFeatures){
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
			.storageBuffer16BitAccess = VK_TRUE,
		};
		info.pNext = &storage16;
	}
	gpu->unmapped = unmapped && !strcmp(unmapped, "1");
	if (visid_vk_has_device_extension(gpu->phys, push_ext) && !(pools && !strcmp(pools, "1"))) {
		exts[info.enabledExtensionCount++] = push_ext;
		push = 1;
	}
	for (size_t i = 0; i < sizeof(import_exts) / sizeof(import_exts[0]); i++)
		if (visid_vk_has_device_extension(gpu->phys, import_exts[i]))
			exts[info.enabledExtensionCount++] = import_exts[i];
	info.ppEnabledExtensionNames = exts;
	r = vkCreateDevice(gpu->phys, &info, NULL, &gpu->device);
	if (r != VK_SUCCESS) {
		gpu->device = VK_NULL_HANDLE;
		visid_err("vkCreateDevice on '%s': %s", gpu->props.deviceName,
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	gpu->fp16_storage = info.pNext != NULL;
	if (push)
		gpu->push_descriptor = (PFN_vkCmdPushDescriptorSetKHR)
			vkGetDeviceProcAddr(gpu->device, "vkCmdPushDescriptorSetKHR");
	vkGetDeviceQueue(gpu->device, gpu->queue_family, 0, &gpu->queue);
	return 0;
}

static int create_command_pool(struct visid_gpu *gpu)
{
	VkCommandPoolCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT |
			 VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
		.queueFamilyIndex = gpu->queue_family,
	};
	VkFenceCreateInfo fence = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	VkResult r;

	r = vkCreateCommandPool(gpu->device, &info, NULL, &gpu->pool);
	if (r == VK_SUCCESS)
		r = vkCreateFence(gpu->device, &fence, NULL, &gpu->fence);
	if (r != VK_SUCCESS) {
		visid_err("vkCreateCommandPool on '%s': %s", gpu->props.deviceName,
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	return 0;
}

int visid_gpu_create(const struct visid_gpu_options *opt, struct visid_gpu **out)
{
	const char *selector = opt && opt->device ? opt->device : getenv("VISID_DEVICE");
	struct visid_gpu *gpu;
	int ret;

	*out = NULL;
	if (selector && !*selector)
		selector = NULL;
	gpu = calloc(1, sizeof(*gpu));
	if (!gpu)
		return -ENOMEM;
	pthread_mutex_init(&gpu->lock, NULL);

	ret = create_instance(gpu, want_validation(opt));
	if (ret)
		goto out_destroy;
	ret = pick_physical(gpu, selector);
	if (ret)
		goto out_destroy;
	ret = check_physical(gpu);
	if (ret)
		goto out_destroy;
	ret = create_device(gpu);
	if (ret)
		goto out_destroy;
	ret = create_command_pool(gpu);
	if (ret)
		goto out_destroy;
	ret = visid_vk_buffer_create(gpu, ZERO_BUFFER_SIZE, VISID_VK_BUFFER_DEVICE, "zero",
				     &gpu->zero);
	if (ret)
		goto out_destroy;
	ret = visid_vk_fill_zero(gpu->zero);
	if (ret)
		goto out_destroy;

	visid_info("vulkan: using device %d '%s' (%s, Vulkan %u.%u, %s descriptors, %s)",
		   gpu->index, gpu->props.deviceName, type_name(gpu->props.deviceType),
		   VK_API_VERSION_MAJOR(gpu->props.apiVersion),
		   VK_API_VERSION_MINOR(gpu->props.apiVersion),
		   gpu->push_descriptor ? "push" : "pooled",
		   gpu->timestamp_bits ? "timestamps" : "no timestamps");
	*out = gpu;
	return 0;

out_destroy:
	visid_gpu_destroy(gpu);
	return ret;
}

static void destroy_pipelines(struct visid_gpu *gpu)
{
	struct visid_vk_pipeline *p, *next;

	for (p = gpu->pipelines; p; p = next) {
		next = p->next;
		vkDestroyPipeline(gpu->device, p->pipeline, NULL);
		vkDestroyPipelineLayout(gpu->device, p->layout, NULL);
		vkDestroyDescriptorSetLayout(gpu->device, p->set_layout, NULL);
		free(p);
	}
	gpu->pipelines = NULL;
}

void visid_gpu_destroy(struct visid_gpu *gpu)
{
	if (!gpu)
		return;
	if (gpu->device) {
		vkDeviceWaitIdle(gpu->device);
		destroy_pipelines(gpu);
		visid_vk_buffer_destroy(gpu->zero);
		if (gpu->fence)
			vkDestroyFence(gpu->device, gpu->fence, NULL);
		if (gpu->pool)
			vkDestroyCommandPool(gpu->device, gpu->pool, NULL);
		vkDestroyDevice(gpu->device, NULL);
	}
	if (gpu->messenger) {
		PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)
			vkGetInstanceProcAddr(gpu->instance, "vkDestroyDebugUtilsMessengerEXT");

		if (destroy)
			destroy(gpu->instance, gpu->messenger, NULL);
	}
	if (gpu->instance)
		vkDestroyInstance(gpu->instance, NULL);
	pthread_mutex_destroy(&gpu->lock);
	free(gpu);
}

/* Buffers */

/* The first memory type allowed by `bits` with all of `want`; -1 if none. */
static int find_memory_type(const struct visid_gpu *gpu, uint32_t bits,
			    VkMemoryPropertyFlags want)
{
	for (uint32_t i = 0; i < gpu->mem.memoryTypeCount; i++)
		if ((bits & (1u << i)) && (gpu->mem.memoryTypes[i].propertyFlags & want) == want)
			return (int)i;
	return -1;
}

static int pick_memory_type(const struct visid_gpu *gpu, uint32_t bits,
			    enum visid_vk_buffer_kind kind)
{
	static const VkMemoryPropertyFlags device[] = {
		VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
		0,
	};
	static const VkMemoryPropertyFlags host[] = {
		VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
			VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
		VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
		VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
	};
	const VkMemoryPropertyFlags *order = kind == VISID_VK_BUFFER_HOST ? host : device;
	size_t n = kind == VISID_VK_BUFFER_HOST ? 3 : 2;

	for (size_t i = 0; i < n; i++) {
		int t = find_memory_type(gpu, bits, order[i]);

		if (t >= 0)
			return t;
	}
	return -1;
}

static int bind_memory(struct visid_gpu *gpu, struct visid_vk_buffer *buf,
		       enum visid_vk_buffer_kind kind, const char *name)
{
	VkMemoryRequirements req;
	VkMemoryAllocateInfo alloc = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
	VkMemoryPropertyFlags flags;
	VkDeviceSize heap;
	VkResult r;
	int type;

	vkGetBufferMemoryRequirements(gpu->device, buf->buffer, &req);
	type = pick_memory_type(gpu, req.memoryTypeBits, kind);
	if (type < 0) {
		visid_err("vulkan: buffer '%s' on '%s': no suitable memory type", name,
			  gpu->props.deviceName);
		return -ENOMEM;
	}
	flags = gpu->mem.memoryTypes[type].propertyFlags;
	heap = gpu->mem.memoryHeaps[gpu->mem.memoryTypes[type].heapIndex].size;
	if (req.size > heap) {
		visid_err("vulkan: buffer '%s' of %llu bytes exceeds the %llu-byte memory heap of "
			  "'%s'", name, (unsigned long long)req.size, (unsigned long long)heap,
			  gpu->props.deviceName);
		return -ENOMEM;
	}
	alloc.allocationSize = req.size;
	alloc.memoryTypeIndex = type;
	r = vkAllocateMemory(gpu->device, &alloc, NULL, &buf->memory);
	if (r != VK_SUCCESS) {
		buf->memory = VK_NULL_HANDLE;
		visid_err("vkAllocateMemory of %llu bytes for buffer '%s' on '%s': %s",
			  (unsigned long long)req.size, name, gpu->props.deviceName,
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	r = vkBindBufferMemory(gpu->device, buf->buffer, buf->memory, 0);
	if (r == VK_SUCCESS && (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
	    !(kind == VISID_VK_BUFFER_DEVICE && gpu->unmapped))
		r = vkMapMemory(gpu->device, buf->memory, 0, VK_WHOLE_SIZE, 0, &buf->map);
	if (r != VK_SUCCESS) {
		buf->map = NULL;
		visid_err("vulkan: binding or mapping buffer '%s' on '%s': %s", name,
			  gpu->props.deviceName, visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	buf->coherent = !!(flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
	return 0;
}

int visid_vk_buffer_create(struct visid_gpu *gpu, size_t size, enum visid_vk_buffer_kind kind,
			   const char *name, struct visid_vk_buffer **out)
{
	VkBufferCreateInfo info = {
	    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
	    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
		     VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
	    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	struct visid_vk_buffer *buf;
	VkResult r;
	int ret;

	*out = NULL;
	if (!name)
		name = "(unnamed)";
	/* Shaders read whole vec4s; room up to the next 16 bytes keeps them inside. */
	if (!size || size > (size_t)1 << 48) {
		visid_err("vulkan: buffer '%s' of %zu bytes: size out of range", name, size);
		return size ? -ENOMEM : -EINVAL;
	}
	info.size = (size + 15) & ~(VkDeviceSize)15;
	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	buf->gpu = gpu;
	buf->size = size;
	r = vkCreateBuffer(gpu->device, &info, NULL, &buf->buffer);
	if (r != VK_SUCCESS) {
		buf->buffer = VK_NULL_HANDLE;
		visid_err("vkCreateBuffer '%s' of %zu bytes on '%s': %s", name, size,
			  gpu->props.deviceName, visid_vk_result_name(r));
		ret = visid_vk_errno(r);
		goto out_destroy;
	}
	ret = bind_memory(gpu, buf, kind, name);
	if (ret)
		goto out_destroy;
	*out = buf;
	return 0;

out_destroy:
	visid_vk_buffer_destroy(buf);
	return ret;
}

void visid_vk_buffer_destroy(struct visid_vk_buffer *buf)
{
	if (!buf)
		return;
	if (buf->buffer)
		vkDestroyBuffer(buf->gpu->device, buf->buffer, NULL);
	if (buf->memory)
		vkFreeMemory(buf->gpu->device, buf->memory, NULL);
	free(buf);
}

void *visid_vk_buffer_map(struct visid_vk_buffer *buf)
{
	return buf->map;
}

/* Runs `record` in a one-time command buffer on the gpu's queue and waits. */
int visid_vk_run_once(struct visid_gpu *gpu, void (*record)(VkCommandBuffer, void *), void *data,
		      const char *what)
{
	VkCommandBufferAllocateInfo alloc = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.commandPool = gpu->pool,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = 1,
	};
	VkCommandBufferBeginInfo begin = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
	};
	VkMemoryBarrier to_host = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT,
	};
	VkSubmitInfo submit = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1 };
	VkCommandBuffer cmd;
	VkResult r;

	pthread_mutex_lock(&gpu->lock);
	r = vkAllocateCommandBuffers(gpu->device, &alloc, &cmd);
	if (r != VK_SUCCESS)
		goto out_unlock;
	vkBeginCommandBuffer(cmd, &begin);
	record(cmd, data);
	vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
			     VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0,
			     1, &to_host, 0, NULL, 0, NULL);
	r = vkEndCommandBuffer(cmd);
	if (r == VK_SUCCESS) {
		submit.pCommandBuffers = &cmd;
		vkResetFences(gpu->device, 1, &gpu->fence);
		r = vkQueueSubmit(gpu->queue, 1, &submit, gpu->fence);
	}
	if (r == VK_SUCCESS)
		r = vkWaitForFences(gpu->device, 1, &gpu->fence, VK_TRUE, VISID_VK_TIMEOUT_NS);
	vkFreeCommandBuffers(gpu->device, gpu->pool, 1, &cmd);
out_unlock:
	pthread_mutex_unlock(&gpu->lock);
	if (r != VK_SUCCESS) {
		visid_err("vulkan: %s on '%s': %s", what, gpu->props.deviceName,
			  visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	return 0;
}

static void record_fill(VkCommandBuffer cmd, void *data)
{
	struct visid_vk_buffer *buf = data;

	vkCmdFillBuffer(cmd, buf->buffer, 0, VK_WHOLE_SIZE, 0);
}

int visid_vk_fill_zero(struct visid_vk_buffer *buf)
{
	if (buf->map) {
		memset(buf->map, 0, buf->size);
		return visid_vk_flush(buf);
	}
	return visid_vk_run_once(buf->gpu, record_fill, buf, "clearing a buffer");
}

int visid_vk_flush(struct visid_vk_buffer *buf)
{
	VkMappedMemoryRange range = {
		.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
		.memory = buf->memory,
		.size = VK_WHOLE_SIZE,
	};
	VkResult r;

	if (buf->coherent)
		return 0;
	r = vkFlushMappedMemoryRanges(buf->gpu->device, 1, &range);
	return visid_vk_errno(r);
}

static int invalidate(struct visid_vk_buffer *buf)
{
	VkMappedMemoryRange range = {
		.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
		.memory = buf->memory,
		.size = VK_WHOLE_SIZE,
	};

	if (buf->coherent)
		return 0;
	return visid_vk_errno(vkInvalidateMappedMemoryRanges(buf->gpu->device, 1, &range));
}

struct staged_copy {
	VkBuffer src, dst;
	VkBufferCopy region;
};

static void record_copy(VkCommandBuffer cmd, void *data)
{
	struct staged_copy *c = data;

	vkCmdCopyBuffer(cmd, c->src, c->dst, 1, &c->region);
}

static int check_range(const struct visid_vk_buffer *buf, size_t offset, size_t size,
		       const char *what)
{
	if (offset > buf->size || size > buf->size - offset) {
		visid_err("vulkan: %s of %zu bytes at %zu outside a %llu-byte buffer", what, size,
			  offset, (unsigned long long)buf->size);
		return -EINVAL;
	}
	return 0;
}

int visid_vk_upload(struct visid_vk_buffer *buf, size_t offset, const void *data, size_t size)
{
	struct visid_vk_buffer *staging;
	struct staged_copy c;
	int ret;

	ret = check_range(buf, offset, size, "upload");
	if (ret || !size)
		return ret;
	if (buf->map) {
		memcpy((char *)buf->map + offset, data, size);
		return visid_vk_flush(buf);
	}
	ret = visid_vk_buffer_create(buf->gpu, size, VISID_VK_BUFFER_HOST, "upload staging",
				     &staging);
	if (ret)
		return ret;
	memcpy(staging->map, data, size);
	ret = visid_vk_flush(staging);
	c.src = staging->buffer;
	c.dst = buf->buffer;
	c.region = (VkBufferCopy){ 0, offset, size };
	if (!ret)
		ret = visid_vk_run_once(buf->gpu, record_copy, &c, "upload through staging");
	visid_vk_buffer_destroy(staging);
	return ret;
}

int visid_vk_download(struct visid_vk_buffer *buf, size_t offset, void *data, size_t size)
{
	struct visid_vk_buffer *staging;
	struct staged_copy c;
	int ret;

	ret = check_range(buf, offset, size, "download");
	if (ret || !size)
		return ret;
	if (buf->map) {
		ret = invalidate(buf);
		if (!ret)
			memcpy(data, (char *)buf->map + offset, size);
		return ret;
	}
	ret = visid_vk_buffer_create(buf->gpu, size, VISID_VK_BUFFER_HOST, "download staging",
				     &staging);
	if (ret)
		return ret;
	c.src = buf->buffer;
	c.dst = staging->buffer;
	c.region = (VkBufferCopy){ offset, 0, size };
	ret = visid_vk_run_once(buf->gpu, record_copy, &c, "download through staging");
	if (!ret)
		ret = invalidate(staging);
	if (!ret)
		memcpy(data, staging->map, size);
	visid_vk_buffer_destroy(staging);
	return ret;
}

/* Pipelines */

static struct visid_vk_pipeline *cached_pipeline(struct visid_gpu *gpu, const char *shader,
						 const int32_t *spec, int spec_count,
						 const enum visid_vk_binding *kinds, int bindings,
						 uint32_t push_size)
{
	for (struct visid_vk_pipeline *p = gpu->pipelines; p; p = p->next)
		if (!strcmp(p->shader, shader) && p->spec_count == spec_count &&
		    p->bindings == bindings && p->push_size == push_size &&
		    !memcmp(p->spec, spec, spec_count * sizeof(*spec)) &&
		    !memcmp(p->kinds, kinds, bindings * sizeof(*kinds)))
			return p;
	return NULL;
}

static int create_layouts(struct visid_gpu *gpu, struct visid_vk_pipeline *p)
{
	VkDescriptorSetLayoutBinding binding[VISID_VK_MAX_BINDINGS];
	VkDescriptorSetLayoutCreateInfo set = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.flags = gpu->push_descriptor ?
			 VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR : 0,
		.bindingCount = p->bindings,
		.pBindings = binding,
	};
	VkPushConstantRange push = { VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_size };
	VkPipelineLayoutCreateInfo layout = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1,
		.pSetLayouts = &p->set_layout,
		.pushConstantRangeCount = p->push_size ? 1 : 0,
		.pPushConstantRanges = &push,
	};
	VkResult r;

	for (int i = 0; i < p->bindings; i++)
		binding[i] = (VkDescriptorSetLayoutBinding){
			.binding = i,
			.descriptorType = visid_vk_descriptor_type(p->kinds[i]),
			.descriptorCount = 1,
			.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		};
	r = vkCreateDescriptorSetLayout(gpu->device, &set, NULL, &p->set_layout);
	if (r == VK_SUCCESS)
		r = vkCreatePipelineLayout(gpu->device, &layout, NULL, &p->layout);
	return visid_vk_errno(r);
}

static int create_pipeline(struct visid_gpu *gpu, const struct visid_shader *code,
			   struct visid_vk_pipeline *p)
{
	VkSpecializationMapEntry entries[VISID_VK_MAX_SPEC];
	VkSpecializationInfo spec = {
		.mapEntryCount = p->spec_count,
		.pMapEntries = entries,
		.dataSize = p->spec_count * sizeof(int32_t),
		.pData = p->spec,
	};
	VkShaderModuleCreateInfo module_info = {
		.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
		.codeSize = code->size,
		.pCode = code->code,
	};
	VkComputePipelineCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			.stage = VK_SHADER_STAGE_COMPUTE_BIT,
			.pName = "main",
			.pSpecializationInfo = &spec,
		},
	};
	VkShaderModule module;
	VkResult r;

	for (int i = 0; i < p->spec_count; i++)
		entries[i] = (VkSpecializationMapEntry){ i, i * sizeof(int32_t), sizeof(int32_t) };
	r = vkCreateShaderModule(gpu->device, &module_info, NULL, &module);
	if (r != VK_SUCCESS)
		return visid_vk_errno(r);
	info.stage.module = module;
	info.layout = p->layout;
	r = vkCreateComputePipelines(gpu->device, VK_NULL_HANDLE, 1, &info, NULL, &p->pipeline);
	vkDestroyShaderModule(gpu->device, module, NULL);
	if (r != VK_SUCCESS)
		p->pipeline = VK_NULL_HANDLE;
	return visid_vk_errno(r);
}

static int new_pipeline(struct visid_gpu *gpu, const char *shader, const int32_t *spec,
			int spec_count, const enum visid_vk_binding *kinds, int bindings,
			uint32_t push_size, struct visid_vk_pipeline **out)
{
	const struct visid_shader *code = visid_shader_find(shader);
	struct visid_vk_pipeline *p;
	int ret;

	if (!code) {
		visid_err("vulkan: no embedded shader '%s'", shader);
		return -ENOENT;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->shader, sizeof(p->shader), "%s", shader);
	memcpy(p->spec, spec, spec_count * sizeof(*spec));
	p->spec_count = spec_count;
	p->bindings = bindings;
	memcpy(p->kinds, kinds, bindings * sizeof(*kinds));
	p->push_size = push_size;
	ret = create_layouts(gpu, p);
	if (!ret)
		ret = create_pipeline(gpu, code, p);
	if (ret) {
		visid_err("vulkan: pipeline of shader '%s' on '%s': %s", shader,
			  gpu->props.deviceName, strerror(-ret));
		vkDestroyPipelineLayout(gpu->device, p->layout, NULL);
		vkDestroyDescriptorSetLayout(gpu->device, p->set_layout, NULL);
		free(p);
		return ret;
	}
	p->next = gpu->pipelines;
	gpu->pipelines = p;
	*out = p;
	return 0;
}

int visid_vk_pipeline_get_kinds(struct visid_gpu *gpu, const char *shader, const int32_t *spec,
				int spec_count, const enum visid_vk_binding *kinds, int bindings,
				uint32_t push_size, struct visid_vk_pipeline **out)
{
	enum visid_vk_binding all[VISID_VK_MAX_BINDINGS] = { VISID_VK_STORAGE };
	int ret = 0;

	if (spec_count < 0 || spec_count > VISID_VK_MAX_SPEC || bindings < 1 ||
	    bindings > VISID_VK_MAX_BINDINGS || push_size > 128 || push_size % 4 ||
	    strlen(shader) >= sizeof((*out)->shader)) {
		visid_err("vulkan: pipeline of shader '%s': bad layout (%d constants, %d bindings, "
			  "%u push bytes)", shader, spec_count, bindings, push_size);
		return -EINVAL;
	}
	for (int i = 0; kinds && i < bindings; i++) {
		if (!visid_vk_texel_limit(gpu, kinds[i])) {
			visid_err("vulkan: pipeline of shader '%s': binding %d reads texels of a "
				  "format '%s' cannot fetch", shader, i, gpu->props.deviceName);
			return -ENOTSUP;
		}
		all[i] = kinds[i];
	}
	pthread_mutex_lock(&gpu->lock);
	*out = cached_pipeline(gpu, shader, spec, spec_count, all, bindings, push_size);
	if (!*out)
		ret = new_pipeline(gpu, shader, spec, spec_count, all, bindings, push_size, out);
	pthread_mutex_unlock(&gpu->lock);
	return ret;
}

int visid_vk_pipeline_get(struct visid_gpu *gpu, const char *shader, const int32_t *spec,
			  int spec_count, int bindings, uint32_t push_size,
			  struct visid_vk_pipeline **out)
{
	return visid_vk_pipeline_get_kinds(gpu, shader, spec, spec_count, NULL, bindings,
					   push_size, out);
}
