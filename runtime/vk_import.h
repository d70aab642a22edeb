/*
 * Camera frames into Vulkan without copying them. In order of preference:
 *
 *   dma-buf    the frame's dmabuf (VIDIOC_EXPBUF, or the buffers the camera
 *              captured into) imported as device memory
 *              (VK_EXT_external_memory_dma_buf);
 *   host       the CPU mapping of the camera buffer imported in place
 *              (VK_EXT_external_memory_host): the enclosing page range is
 *              imported and the frame addressed at an offset in it;
 *   copy       the frame copied into a host-visible Vulkan buffer.
 *
 * Imports are made once per camera buffer and kept, keyed by the dmabuf's
 * identity (its inode) and, for host imports, the mapped range; a buffer
 * that reappears is found again, a mapping replaced by another is dropped.
 * Frames without a dmabuf (photos, decoded MJPEG) are copied. Whenever a
 * frame is copied the reason is logged, once per reason.
 *
 * An importer is used by one thread at a time.
 */
#ifndef VISID_VK_IMPORT_H
#define VISID_VK_IMPORT_H

#include <stdint.h>

#include "visid/image.h"
#include "vk_pre.h"

enum visid_vk_import_path {
	VISID_VK_IMPORT_DMABUF,
	VISID_VK_IMPORT_HOST,
	VISID_VK_IMPORT_COPY,
};

struct visid_vk_import_stats {
	uint64_t frames;     /* frames made readable */
	uint64_t copies;     /* whole-frame copies made for them (0 or 1 per frame) */
	uint64_t imports;    /* camera buffers imported (each once while it stays cached) */
	uint64_t by_path[3]; /* frames per visid_vk_import_path */
	enum visid_vk_import_path last; /* path of the last frame */
};

struct visid_vk_importer;

/*
 * best: the best path the importer may take (VISID_VK_IMPORT_COPY: always
 * copy). $VISID_ZERO_COPY=0 forces copies as well, and $VISID_ZERO_COPY=host
 * skips the dma-buf import.
 */
int visid_vk_importer_create(struct visid_gpu *gpu, enum visid_vk_import_path best,
			     struct visid_vk_importer **out);
void visid_vk_importer_destroy(struct visid_vk_importer *imp);

/* The path camera frames take on this device, from its extensions. */
enum visid_vk_import_path visid_vk_import_path_for(struct visid_gpu *gpu);
/* The same for a physical device not opened by visid (the probe). */
enum visid_vk_import_path visid_vk_import_path_of(VkPhysicalDevice phys);
const char *visid_vk_import_path_name(enum visid_vk_import_path path);

/*
 * Makes img readable by the preprocessing shaders. dmabuf_fd and
 * dmabuf_offset (NULL for none) describe the camera buffer behind the image
 * as struct visid_frame does; the image's data and uv must point into that
 * buffer's mapping. out stays valid until the next call.
 */
int visid_vk_import(struct visid_vk_importer *imp, const struct visid_image *img,
		    const int dmabuf_fd[2], const uint32_t dmabuf_offset[2],
		    struct visid_vk_frame *out);

/* Zeroes the copy of the last frame copied (imported frames are the camera's). */
void visid_vk_import_wipe(struct visid_vk_importer *imp);
void visid_vk_import_get_stats(const struct visid_vk_importer *imp,
			       struct visid_vk_import_stats *stats);

#endif
