/*
 * Face tracks between frames: a detection that overlaps a track of the
 * previous frame (IoU) continues it, so a face already recognised is not
 * embedded again. A track not seen for max_missed updates is lost.
 */
#ifndef VISID_TRACK_H
#define VISID_TRACK_H

#include "visid/face.h"

#define VISID_TRACK_UNRECOGNISED -2	/* not embedded yet */
#define VISID_TRACK_UNKNOWN -1		/* embedded, matched nobody */

struct visid_track {
	unsigned id;
	float box[4];
	int member;		/* gallery index, or one of the two values above */
	float similarity, margin;
	int hits;		/* frames this track was seen in */
	int missed;		/* updates since it was last seen */
};

struct visid_tracker {
	struct visid_track tracks[VISID_MAX_FACES];
	int count;
	unsigned next_id;
	float min_iou;
	int max_missed;
};

void visid_tracker_init(struct visid_tracker *tr, float min_iou, int max_missed);

/*
 * Associates this frame's faces with the tracks. index_of[i] receives the
 * track index of faces[i]. Tracks lost in this update are copied to lost[]
 * (room for VISID_MAX_FACES) and their count returned.
 */
int visid_tracker_update(struct visid_tracker *tr, const struct visid_face *faces, int n,
			 int *index_of, struct visid_track *lost);

/* Intersection over union of two x0, y0, x1, y1 boxes. */
float visid_box_iou(const float a[4], const float b[4]);

#endif
