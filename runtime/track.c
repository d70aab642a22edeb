/* Greedy IoU association of detections to tracks. */
#include <string.h>

#include "visid/track.h"

float visid_box_iou(const float a[4], const float b[4])
{
	float iw = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
	float ih = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
	float inter, uni;

	if (iw <= 0 || ih <= 0)
		return 0;
	inter = iw * ih;
	uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
	return uni > 0 ? inter / uni : 0;
}

void visid_tracker_init(struct visid_tracker *tr, float min_iou, int max_missed)
{
	memset(tr, 0, sizeof(*tr));
	tr->next_id = 1;
	tr->min_iou = min_iou;
	tr->max_missed = max_missed;
}

/* Pairs the best-overlapping (face, track) first, then the next best. */
static void associate(struct visid_tracker *tr, const struct visid_face *faces, int n,
		      int *index_of)
{
	char track_taken[VISID_MAX_FACES] = { 0 };

	for (int i = 0; i < n; i++)
		index_of[i] = -1;
	for (;;) {
		float best = tr->min_iou;
		int bf = -1, bt = -1;

		for (int f = 0; f < n; f++) {
			if (index_of[f] >= 0)
				continue;
			for (int t = 0; t < tr->count; t++) {
				float iou;

				if (track_taken[t])
					continue;
				iou = visid_box_iou(faces[f].box, tr->tracks[t].box);
				if (iou > best) {
					best = iou;
					bf = f;
					bt = t;
				}
			}
		}
		if (bf < 0)
			return;
		index_of[bf] = bt;
		track_taken[bt] = 1;
	}
}

int visid_tracker_update(struct visid_tracker *tr, const struct visid_face *faces, int n,
			 int *index_of, struct visid_track *lost)
{
	int nlost = 0, kept = 0;
	int remap[VISID_MAX_FACES];

	if (n > VISID_MAX_FACES)
		n = VISID_MAX_FACES;
	associate(tr, faces, n, index_of);

	for (int t = 0; t < tr->count; t++)
		tr->tracks[t].missed++;
	for (int f = 0; f < n; f++) {
		if (index_of[f] < 0)
			continue;
		struct visid_track *t = &tr->tracks[index_of[f]];

		memcpy(t->box, faces[f].box, sizeof(t->box));
		t->missed = 0;
		t->hits++;
	}

	/* Drop lost tracks, compacting the array and remapping indices. */
	for (int t = 0; t < tr->count; t++) {
		if (tr->tracks[t].missed > tr->max_missed) {
			lost[nlost++] = tr->tracks[t];
			remap[t] = -1;
			continue;
		}
		remap[t] = kept;
		tr->tracks[kept++] = tr->tracks[t];
	}
	tr->count = kept;
	for (int f = 0; f < n; f++)
		if (index_of[f] >= 0)
			index_of[f] = remap[index_of[f]];

	/* New faces start new tracks while there is room. */
	for (int f = 0; f < n; f++) {
		struct visid_track *t;

		if (index_of[f] >= 0 || tr->count >= VISID_MAX_FACES)
			continue;
		t = &tr->tracks[tr->count];
		memset(t, 0, sizeof(*t));
		t->id = tr->next_id++;
		memcpy(t->box, faces[f].box, sizeof(t->box));
		t->member = VISID_TRACK_UNRECOGNISED;
		t->hits = 1;
		index_of[f] = tr->count++;
	}
	return nlost;
}
