/*
 * Shared by the gallery's test files: real photos as enrollment images,
 * deterministic stand-in vectors derived from their bytes, an injectable
 * clock and snapshots of a state directory.
 */
#ifndef VISID_TEST_STORE_H
#define VISID_TEST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "visid/store.h"

#define ST_PEOPLE 5
#define ST_PHOTO_DIR "data/faces/identity/dlib_johns"

/* Five real photos of one person, one per pose slot. */
struct st_person {
	char name[256];
	uint8_t *image[VISID_POSE_COUNT];
	size_t len[VISID_POSE_COUNT];
};

/* Loaded once: ST_PEOPLE people of ST_PHOTO_DIR. NULL when the photos are absent. */
const struct st_person *st_people(void);
const char *st_skip_without_photos(void);

/* A model id (hex) and the stand-in embedder of that model: a hash of model and image. */
extern const char st_model_a[], st_model_b[];
int st_embed(void *model_id, const uint8_t *image, size_t len, float vec[VISID_EMBED_DIM]);

/* Slots of every pose of a person, vectors from st_embed(model). */
void st_slots(const struct st_person *p, const char *model,
	      struct visid_store_slot slots[VISID_POSE_COUNT]);

/* The clock of the tests: reads *(int64_t *)ctx. */
int64_t st_clock(void *ctx);

/* Options for a store in dir, model A, the test clock at *now. */
void st_options(struct visid_store_options *opt, const char *dir, int64_t *now);

/* Every regular file of a directory (not recursive), read whole. */
struct st_snapshot {
	int count;
	char name[16][256];
	uint8_t *data[16];
	size_t len[16];
};
int st_snapshot(const char *dir, struct st_snapshot *snap);
void st_snapshot_free(struct st_snapshot *snap);
/* 1 when some file of the snapshot contains the bytes. */
int st_snapshot_holds(const struct st_snapshot *snap, const void *bytes, size_t len);
const uint8_t *st_snapshot_file(const struct st_snapshot *snap, const char *name, size_t *len);

/* Copies every regular file of one directory into another (created 0700). */
int st_copy_dir(const char *from, const char *to);

#endif
