/*
 * Camera buffers as Vulkan memory: dma-buf import, host-pointer import of
 * the buffer's mapping, or a copy (see vk_import.h). The device enables the
 * external-memory extensions whenever it lists them (vk.c), so an extension
 * listed here is one that can be used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "visid/log.h"
#include "vk_import.h"
#include "vk_internal.h"

#define CACHE_SIZE 16

/* Reasons a frame was copied, each logged once per importer. */
enum copy_reason {
	COPY_FORCED = 1 << 0,
	COPY_NO_EXTENSION = 1 << 1,
	COPY_NO_DMABUF = 1 << 2,
	COPY_IMPORT_FAILED = 1 << 3,
};

struct cached {
	struct visid_vk_buffer *buf; /* NULL: free slot */
	enum visid_vk_import_path path;
	dev_t dev;
	ino_t ino;
	uintptr_t base; /* host: first byte of the imported pages */
	uint64_t used;	/* last use, for eviction */
};

struct visid_vk_importer {
	struct visid_gpu *gpu;
	enum visid_vk_import_path best;
	VkDeviceSize host_align;
	PFN_vkGetMemoryHostPointerPropertiesEXT host_props;
	PFN_vkGetMemoryFdPropertiesKHR fd_props;
	struct cached cache[CACHE_SIZE];
	uint64_t tick;
	struct visid_vk_buffer *copy;
	int forced; /* copies asked for, not a lack of the device */
	unsigned logged;
	struct visid_vk_import_stats stats;
};

/* One range of camera memory a frame needs: a plane, or both planes of one buffer. */
struct span {
	int fd;
	uint32_t dmabuf_offset;
	const uint8_t *start;
	uint64_t length;
};

enum visid_vk_import_path visid_vk_import_path_of(VkPhysicalDevice phys)
{
	if (visid_vk_has_device_extension(phys, VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME) &&
	    visid_vk_has_device_extension(phys, VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME))
		return VISID_VK_IMPORT_DMABUF;
	if (visid_vk_has_device_extension(phys, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME))
		return VISID_VK_IMPORT_HOST;
	return VISID_VK_IMPORT_COPY;
}

enum visid_vk_import_path visid_vk_import_path_for(struct visid_gpu *gpu)
{
	return visid_vk_import_path_of(gpu->phys);
}

const char *visid_vk_import_path_name(enum visid_vk_import_path path)
{
	static const char *const names[] = {"dma-buf", "host pointer", "copy"};

	return (unsigned)path <= VISID_VK_IMPORT_COPY ? names[path] : "unknown";
}

int visid_vk_importer_create(struct visid_gpu *gpu, enum visid_vk_import_path best,
			     struct visid_vk_importer **out)
{
	VkPhysicalDeviceExternalMemoryHostPropertiesEXT host = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT,
	};
	VkPhysicalDeviceProperties2 props = {
	    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
	    .pNext = &host,
	};
	const char *env = getenv("VISID_ZERO_COPY");
	enum visid_vk_import_path can = visid_vk_import_path_for(gpu);
	struct visid_vk_importer *imp;

	*out = NULL;
	imp = calloc(1, sizeof(*imp));
	if (!imp)
		return -ENOMEM;
	imp->gpu = gpu;
	if (env && !strcmp(env, "0"))
		best = VISID_VK_IMPORT_COPY;
	else if (env && !strcmp(env, "host") && best < VISID_VK_IMPORT_HOST)
		best = VISID_VK_IMPORT_HOST;
	if (can == VISID_VK_IMPORT_DMABUF && best <= VISID_VK_IMPORT_DMABUF)
		imp->fd_props = (PFN_vkGetMemoryFdPropertiesKHR)vkGetDeviceProcAddr(
		    gpu->device, "vkGetMemoryFdPropertiesKHR");
	if (best <= VISID_VK_IMPORT_HOST &&
	    visid_vk_has_device_extension(gpu->phys, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME)) {
		vkGetPhysicalDeviceProperties2(gpu->phys, &props);
		imp->host_align = host.minImportedHostPointerAlignment;
		imp->host_props = (PFN_vkGetMemoryHostPointerPropertiesEXT)vkGetDeviceProcAddr(
		    gpu->device, "vkGetMemoryHostPointerPropertiesEXT");
	}
	if (imp->fd_props)
		imp->best = VISID_VK_IMPORT_DMABUF;
	else if (imp->host_props && imp->host_align)
		imp->best = VISID_VK_IMPORT_HOST;
	else
		imp->best = VISID_VK_IMPORT_COPY;
	imp->forced = best == VISID_VK_IMPORT_COPY;
	imp->best = best > imp->best ? best : imp->best;
	visid_dbg("vulkan: camera frames on '%s' take the %s path", gpu->props.deviceName,
		  visid_vk_import_path_name(imp->best));
	*out = imp;
	return 0;
}

static void drop(struct cached *c)
{
	visid_vk_buffer_destroy(c->buf);
	memset(c, 0, sizeof(*c));
}

void visid_vk_import_wipe(struct visid_vk_importer *imp)
{
	if (imp && imp->copy)
		explicit_bzero(imp->copy->map, imp->copy->size);
}

void visid_vk_importer_destroy(struct visid_vk_importer *imp)
{
	if (!imp)
		return;
	for (int i = 0; i < CACHE_SIZE; i++)
		drop(&imp->cache[i]);
	visid_vk_import_wipe(imp);
	visid_vk_buffer_destroy(imp->copy);
	free(imp);
}

void visid_vk_import_get_stats(const struct visid_vk_importer *imp,
			       struct visid_vk_import_stats *stats)
{
	*stats = imp->stats;
}

static void log_copy(struct visid_vk_importer *imp, enum copy_reason reason, const char *why)
{
	if (imp->logged & reason)
		return;
	imp->logged |= reason;
	visid_info("vulkan: camera frames on '%s' are copied: %s", imp->gpu->props.deviceName, why);
}

static int memory_type(const struct visid_gpu *gpu, uint32_t bits)
{
	for (uint32_t i = 0; i < gpu->mem.memoryTypeCount; i++)
		if (bits & (1u << i))
			return (int)i;
	return -1;
}

/*
 * A buffer over imported memory: the buffer is created for the handle type,
 * its memory allocated with the import structure `import` chained in.
 */
static int import_buffer(struct visid_vk_importer *imp, VkExternalMemoryHandleTypeFlagBits type,
			 const void *import, uint32_t type_bits, VkDeviceSize size,
			 const char *what, struct visid_vk_buffer **out)
{
	struct visid_gpu *gpu = imp->gpu;
	VkExternalMemoryBufferCreateInfo external = {
	    .sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO,
	    .handleTypes = type,
	};
	VkBufferCreateInfo info = {
	    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
	    .pNext = &external,
	    .size = size,
	    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
	    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkMemoryAllocateInfo alloc = {
	    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
	    .pNext = import,
	    .allocationSize = size,
	};
	struct visid_vk_buffer *buf;
	VkMemoryRequirements req;
	VkResult r;
	int t;

	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	buf->gpu = gpu;
	buf->size = size;
	r = vkCreateBuffer(gpu->device, &info, NULL, &buf->buffer);
	if (r != VK_SUCCESS) {
		buf->buffer = VK_NULL_HANDLE;
		goto out_fail;
	}
	vkGetBufferMemoryRequirements(gpu->device, buf->buffer, &req);
	t = memory_type(gpu, req.memoryTypeBits & type_bits);
	if (t < 0 || req.size > size) {
		visid_warn("vulkan: %s on '%s': no memory type fits (%llu bytes needed, %llu "
			   "imported)",
			   what, gpu->props.deviceName, (unsigned long long)req.size,
			   (unsigned long long)size);
		visid_vk_buffer_destroy(buf);
		return -ENOTSUP;
	}
	alloc.memoryTypeIndex = (uint32_t)t;
	r = vkAllocateMemory(gpu->device, &alloc, NULL, &buf->memory);
	if (r != VK_SUCCESS) {
		buf->memory = VK_NULL_HANDLE;
		goto out_fail;
	}
	r = vkBindBufferMemory(gpu->device, buf->buffer, buf->memory, 0);
	if (r != VK_SUCCESS)
		goto out_fail;
	*out = buf;
	return 0;

out_fail:
	visid_warn("vulkan: %s on '%s': %s", what, gpu->props.deviceName, visid_vk_result_name(r));
	visid_vk_buffer_destroy(buf);
	return visid_vk_errno(r);
}

static int import_dmabuf(struct visid_vk_importer *imp, int fd, struct visid_vk_buffer **out)
{
	VkMemoryFdPropertiesKHR props = {.sType = VK_STRUCTURE_TYPE_MEMORY_FD_PROPERTIES_KHR};
	VkImportMemoryFdInfoKHR import = {
	    .sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_FD_INFO_KHR,
	    .handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT,
	};
	off_t size = lseek(fd, 0, SEEK_END);
	VkResult r;
	int ret;

	if (size <= 0) {
		visid_warn("vulkan: dmabuf %d has no size to import: %s", fd, strerror(errno));
		return -EINVAL;
	}
	r = imp->fd_props(imp->gpu->device, import.handleType, fd, &props);
	if (r != VK_SUCCESS) {
		visid_warn("vulkan: dmabuf %d is not importable on '%s': %s", fd,
			   imp->gpu->props.deviceName, visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	/* A successful import owns the descriptor it was given. */
	import.fd = dup(fd);
	if (import.fd < 0)
		return -errno;
	ret = import_buffer(imp, import.handleType, &import, props.memoryTypeBits,
			    (VkDeviceSize)size, "dmabuf import", out);
	if (ret)
		close(import.fd);
	return ret;
}

static int import_host(struct visid_vk_importer *imp, uintptr_t base, uint64_t size,
		       struct visid_vk_buffer **out)
{
	VkMemoryHostPointerPropertiesEXT props = {
	    .sType = VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT,
	};
	VkImportMemoryHostPointerInfoEXT import = {
	    .sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT,
	    .handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
	    .pHostPointer = (void *)base,
	};
	VkResult r;

	r = imp->host_props(imp->gpu->device, import.handleType, import.pHostPointer, &props);
	if (r != VK_SUCCESS) {
		visid_warn("vulkan: mapping at %p is not importable on '%s': %s", (void *)base,
			   imp->gpu->props.deviceName, visid_vk_result_name(r));
		return visid_vk_errno(r);
	}
	return import_buffer(imp, import.handleType, &import, props.memoryTypeBits, size,
			     "host-pointer import", out);
}

/* A free or the least recently used slot. */
static struct cached *slot_for(struct visid_vk_importer *imp)
{
	struct cached *lru = &imp->cache[0];

	for (int i = 0; i < CACHE_SIZE; i++) {
		if (!imp->cache[i].buf)
			return &imp->cache[i];
		if (imp->cache[i].used < lru->used)
			lru = &imp->cache[i];
	}
	drop(lru);
	return lru;
}

/*
 * The imported buffer holding the span, imported now or found again; sets
 * the span's offset inside it. Host imports of other buffers that overlap
 * the span's pages are stale (their mapping was replaced) and dropped.
 */
static int span_buffer(struct visid_vk_importer *imp, enum visid_vk_import_path path,
		       const struct span *s, struct visid_vk_view *view, uint32_t *offset)
{
	uintptr_t start = (uintptr_t)s->start, base = 0, end = 0;
	struct cached *c = NULL;
	struct stat st;
	int ret;

	if (fstat(s->fd, &st))
		return -errno;
	if (path == VISID_VK_IMPORT_HOST) {
		base = start & ~(uintptr_t)(imp->host_align - 1);
		end = (start + s->length + imp->host_align - 1) & ~(uintptr_t)(imp->host_align - 1);
	}
	for (int i = 0; i < CACHE_SIZE; i++) {
		struct cached *e = &imp->cache[i];
		int same = e->buf && e->path == path && e->dev == st.st_dev && e->ino == st.st_ino;

		if (same && (path == VISID_VK_IMPORT_DMABUF ||
			     (e->base <= start && start + s->length <= e->base + e->buf->size))) {
			c = e;
			break;
		}
		if (e->buf && e->path == VISID_VK_IMPORT_HOST && path == VISID_VK_IMPORT_HOST &&
		    e->base < end && base < e->base + e->buf->size)
			drop(e);
	}
	if (!c) {
		struct visid_vk_buffer *buf = NULL;

		ret = path == VISID_VK_IMPORT_DMABUF ? import_dmabuf(imp, s->fd, &buf)
						     : import_host(imp, base, end - base, &buf);
		if (ret)
			return ret;
		c = slot_for(imp);
		*c = (struct cached){buf, path, st.st_dev, st.st_ino, base, 0};
		imp->stats.imports++;
		visid_dbg("vulkan: camera buffer (dmabuf inode %lu) imported by %s, %llu bytes",
			  (unsigned long)st.st_ino, visid_vk_import_path_name(path),
			  (unsigned long long)buf->size);
	}
	c->used = ++imp->tick;
	*view = visid_vk_whole(c->buf);
	*offset = path == VISID_VK_IMPORT_DMABUF ? s->dmabuf_offset : (uint32_t)(start - c->base);
	return 0;
}

static uint64_t plane_bytes(const struct visid_image *img, int plane)
{
	uint64_t row;

	if (plane == 1)
		return (uint64_t)img->uv_stride * ((img->height + 1) / 2 - 1) +
		       ((img->width + 1) & ~1);
	switch (img->format) {
	case VISID_FMT_RGB24:
	case VISID_FMT_BGR24:
		row = 3ull * img->width;
		break;
	case VISID_FMT_XRGB8888:
		row = 4ull * img->width;
		break;
	case VISID_FMT_YUYV:
		row = 2ull * ((img->width + 1) & ~1);
		break;
	default:
		row = img->width;
	}
	return (uint64_t)img->stride * (img->height - 1) + row;
}

static int copy_frame(struct visid_vk_importer *imp, const struct visid_image *img,
		      struct visid_vk_frame *f)
{
	uint64_t len0 = plane_bytes(img, 0), off1 = (len0 + 15) & ~15ull;
	uint64_t len1 = img->format == VISID_FMT_NV12 ? plane_bytes(img, 1) : 0;
	uint8_t *map;
	int ret;

	if (!imp->copy || imp->copy->size < off1 + len1) {
		visid_vk_import_wipe(imp);
		visid_vk_buffer_destroy(imp->copy);
		imp->copy = NULL;
		ret = visid_vk_buffer_create(imp->gpu, off1 + len1 + 16, VISID_VK_BUFFER_HOST,
					     "camera frame copy", &imp->copy);
		if (ret)
			return ret;
	}
	map = visid_vk_buffer_map(imp->copy);
	memcpy(map, img->data, len0);
	if (len1)
		memcpy(map + off1, img->uv, len1);
	if (!imp->copy->coherent) {
		ret = visid_vk_flush(imp->copy);
		if (ret)
			return ret;
	}
	f->plane[0] = f->plane[1] = visid_vk_whole(imp->copy);
	f->offset[0] = 0;
	f->offset[1] = len1 ? (uint32_t)off1 : 0;
	imp->stats.copies++;
	return 0;
}

/* The spans of a camera frame: one per dmabuf (NV12 in one buffer: one span for both planes). */
static int frame_spans(const struct visid_image *img, const int fd[2], const uint32_t off[2],
		       struct span spans[2], int plane_span[2])
{
	int n = 1;

	spans[0] = (struct span){fd[0], off[0], img->data, plane_bytes(img, 0)};
	plane_span[0] = plane_span[1] = 0;
	if (img->format != VISID_FMT_NV12)
		return 1;
	if (fd[1] < 0 || fd[1] == fd[0]) {
		const uint8_t *lo = img->uv < img->data ? img->uv : img->data;
		const uint8_t *hi0 = img->data + plane_bytes(img, 0);
		const uint8_t *hi1 = img->uv + plane_bytes(img, 1);

		spans[0].start = lo;
		spans[0].length = (uint64_t)((hi0 > hi1 ? hi0 : hi1) - lo);
		spans[0].dmabuf_offset = off[0] < off[1] ? off[0] : off[1];
		return 1;
	}
	spans[n] = (struct span){fd[1], off[1], img->uv, plane_bytes(img, 1)};
	plane_span[1] = n++;
	return n;
}

static int import_frame(struct visid_vk_importer *imp, enum visid_vk_import_path path,
			const struct visid_image *img, const int fd[2], const uint32_t off[2],
			struct visid_vk_frame *f)
{
	struct visid_vk_view views[2];
	uint32_t span_off[2];
	struct span spans[2];
	int plane_span[2], n, ret = 0;

	n = frame_spans(img, fd, off, spans, plane_span);
	for (int i = 0; i < n && !ret; i++)
		ret = span_buffer(imp, path, &spans[i], &views[i], &span_off[i]);
	if (ret)
		return ret;
	for (int p = 0; p < 2; p++) {
		const uint8_t *at = p ? img->uv : img->data;
		int s = plane_span[p];

		f->plane[p] = views[s];
		/* Host: offsets within the mapped pages; dma-buf: the planes' own offsets. */
		if (path == VISID_VK_IMPORT_HOST)
			f->offset[p] = at ? span_off[s] + (uint32_t)(at - spans[s].start) : 0;
		else if (p && fd[1] >= 0)
			f->offset[p] = off[1];
		else
			f->offset[p] = off[0] + (uint32_t)(p ? img->uv - img->data : 0);
	}
	return 0;
}

int visid_vk_import(struct visid_vk_importer *imp, const struct visid_image *img,
		    const int dmabuf_fd[2], const uint32_t dmabuf_offset[2],
		    struct visid_vk_frame *out)
{
	enum visid_vk_import_path path = imp->best;
	int ret = -ENOTSUP;

	if (!visid_image_valid(img)) {
		visid_err("vulkan: cannot import an invalid %s frame",
			  img ? visid_pixel_format_name(img->format) : "NULL");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->width = img->width;
	out->height = img->height;
	out->format = img->format;
	out->stride[0] = (uint32_t)img->stride;
	out->stride[1] = img->format == VISID_FMT_NV12 ? (uint32_t)img->uv_stride : out->stride[0];

	if (path == VISID_VK_IMPORT_COPY && imp->forced)
		log_copy(imp, COPY_FORCED, "zero copy is turned off");
	else if (path == VISID_VK_IMPORT_COPY)
		log_copy(imp, COPY_NO_EXTENSION,
			 "the device has neither " VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME
			 " nor " VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
	else if (!dmabuf_fd || dmabuf_fd[0] < 0)
		log_copy(imp, COPY_NO_DMABUF, "the frames are not in camera buffers (no dmabuf)");
	for (; path < VISID_VK_IMPORT_COPY && dmabuf_fd && dmabuf_fd[0] >= 0; path++) {
		if (path == VISID_VK_IMPORT_DMABUF && !imp->fd_props)
			continue;
		if (path == VISID_VK_IMPORT_HOST && !imp->host_props)
			continue;
		ret = import_frame(imp, path, img, dmabuf_fd, dmabuf_offset, out);
		if (!ret)
			break;
		log_copy(imp, COPY_IMPORT_FAILED, "a camera buffer could not be imported");
	}
	if (ret) {
		path = VISID_VK_IMPORT_COPY;
		ret = copy_frame(imp, img, out);
		if (ret)
			return ret;
	}
	imp->stats.frames++;
	imp->stats.by_path[path]++;
	imp->stats.last = path;
	return 0;
}
