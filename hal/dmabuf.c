/*
 * dmabufs allocated here, for capture in DMABUF import mode when the caller
 * brings none: from the system dma-heap, or else from memfd pages turned
 * into a dmabuf by udmabuf. Either can be mapped for the CPU and imported by
 * V4L2 drivers and by Vulkan.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "hal_priv.h"
#include "visid/log.h"

#define DMA_HEAP_PATH "/dev/dma_heap/system"
#define UDMABUF_PATH  "/dev/udmabuf"

static int alloc_from_heap(size_t size)
{
	struct dma_heap_allocation_data data = {
	    .len = size,
	    .fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap = open(DMA_HEAP_PATH, O_RDONLY | O_CLOEXEC);
	int ret;

	if (heap < 0)
		return -errno;
	ret = hal_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &data);
	close(heap);
	return ret < 0 ? ret : (int)data.fd;
}

static int alloc_from_udmabuf(size_t size)
{
	struct udmabuf_create create = {.flags = UDMABUF_FLAGS_CLOEXEC};
	long page = sysconf(_SC_PAGESIZE);
	int dev, memfd, ret;

	size = (size + page - 1) / page * page;
	dev = open(UDMABUF_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	memfd = memfd_create("visid-frame", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0) {
		ret = -errno;
		goto out_close_dev;
	}
	/* udmabuf refuses memfds that could still shrink under the device. */
	if (ftruncate(memfd, size) || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		ret = -errno;
		goto out_close_memfd;
	}
	create.memfd = memfd;
	create.size = size;
	ret = hal_ioctl(dev, UDMABUF_CREATE, &create);
out_close_memfd:
	close(memfd);
out_close_dev:
	close(dev);
	return ret;
}

int hal_dmabuf_alloc(size_t size, const char *owner)
{
	int heap_ret, fd;

	fd = heap_ret = alloc_from_heap(size);
	if (fd >= 0)
		return fd;
	fd = alloc_from_udmabuf(size);
	if (fd >= 0)
		return fd;
	visid_err("%s: cannot allocate a %zu-byte dmabuf: %s: %s, %s: %s", owner, size,
		  DMA_HEAP_PATH, strerror(-heap_ret), UDMABUF_PATH, strerror(-fd));
	return fd;
}

int hal_dmabuf_sync(int fd, int start)
{
	struct dma_buf_sync sync = {
	    .flags = (start ? DMA_BUF_SYNC_START : DMA_BUF_SYNC_END) | DMA_BUF_SYNC_READ,
	};

	return hal_ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
}
