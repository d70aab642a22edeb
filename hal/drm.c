/* DRM/KMS display (the modesetting backend follows in the next change). */
#include <errno.h>

#include "hal_priv.h"
#include "visid/log.h"

int screen_drm_open(struct visid_screen *scr, const char *card)
{
	visid_err("drm screen %s: display output is not built in yet", card ? card : "(any card)");
	return -ENOTSUP;
}
