/* V4L2 capture (the streaming backend follows in the next change). */
#include <errno.h>

#include "hal_priv.h"
#include "visid/log.h"

int source_v4l2_open(struct visid_source *src, const char *path)
{
	visid_err("v4l2 source %s: camera capture is not built in yet", path);
	return -ENOTSUP;
}
