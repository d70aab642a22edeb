/* The IoU tracker: continuity, new tracks, loss after missed frames. */
#include <string.h>

#include "harness.h"
#include "visid/track.h"

static struct visid_face face_at(float x, float y, float size)
{
	struct visid_face f;

	memset(&f, 0, sizeof(f));
	f.box[0] = x;
	f.box[1] = y;
	f.box[2] = x + size;
	f.box[3] = y + size;
	return f;
}

static void test_iou(void)
{
	struct visid_face a = face_at(0, 0, 10), b = face_at(5, 0, 10), c = face_at(20, 20, 5);
	float iou = visid_box_iou(a.box, b.box);

	VT_CHECK(iou > 0.333f && iou < 0.334f, "IoU of half-overlapping squares is %f, want 1/3",
		 iou);
	VT_CHECK(visid_box_iou(a.box, c.box) == 0, "disjoint boxes overlap");
	VT_CHECK(visid_box_iou(a.box, a.box) == 1, "a box does not fully overlap itself");
}

static void test_track_continues_and_is_lost(void)
{
	struct visid_tracker tr;
	struct visid_track lost[VISID_MAX_FACES];
	struct visid_face faces[2] = { face_at(100, 100, 50), face_at(300, 100, 50) };
	int idx[2], nlost;
	unsigned first_id;

	visid_tracker_init(&tr, 0.3f, 2);
	nlost = visid_tracker_update(&tr, faces, 2, idx, lost);
	VT_CHECK(nlost == 0 && tr.count == 2, "first frame: %d tracks, %d lost", tr.count, nlost);
	first_id = tr.tracks[idx[0]].id;

	/* The first face moves a little, the second leaves. */
	faces[0] = face_at(105, 102, 50);
	for (int frame = 0; frame < 3; frame++) {
		nlost = visid_tracker_update(&tr, faces, 1, idx, lost);
		VT_CHECK(tr.tracks[idx[0]].id == first_id,
			 "frame %d: moving face got track %u, want %u", frame,
			 tr.tracks[idx[0]].id, first_id);
	}
	VT_CHECK(nlost == 1 && tr.count == 1, "after 3 misses: %d tracks, %d lost in last update",
		 tr.count, nlost);
	VT_CHECK(lost[0].member == VISID_TRACK_UNRECOGNISED, "lost track member %d",
		 lost[0].member);

	/* A face far away starts a new track with a new id. */
	faces[0] = face_at(600, 400, 40);
	visid_tracker_update(&tr, faces, 1, idx, lost);
	VT_CHECK(tr.tracks[idx[0]].id != first_id, "distant face continued track %u", first_id);
}

VISID_SUITE(track, "track", NULL, NULL, NULL, VISID_TEST(test_iou),
	    VISID_TEST(test_track_continues_and_is_lost))
