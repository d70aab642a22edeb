/* Helpers of the gallery tests: photos, stand-in vectors, clock, directory snapshots. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "harness.h"
#include "store_fault/store_test.h"

const char st_model_a[] = "a1f3c2e07b5d4968a1f3c2e07b5d4968";
const char st_model_b[] = "b7e41d09c3a2f85eb7e41d09c3a2f85e";

static struct st_person people[ST_PEOPLE];
static int people_state;	/* 0 not tried, 1 loaded, -1 absent */

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	*data = malloc(size > 0 ? size : 1);
	if (!*data || fread(*data, 1, size, f) != (size_t)size) {
		free(*data);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*len = size;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int only_photos(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int load_person(const char *dir, const char *name, struct st_person *p)
{
	struct dirent **files;
	char path[1400];
	int n, ret = 0;

	n = scandir(dir, &files, only_photos, by_name);
	if (n < VISID_POSE_COUNT)
		ret = -ENOENT;
	snprintf(p->name, sizeof(p->name), "%s", name);
	for (int i = 0; i < n; i++) {
		if (!ret && i < VISID_POSE_COUNT) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]->d_name);
			ret = read_file(path, &p->image[i], &p->len[i]);
		}
		free(files[i]);
	}
	free(files);
	return ret;
}

const struct st_person *st_people(void)
{
	struct dirent **dirs;
	char root[512], dir[800];
	int n;

	if (people_state)
		return people_state > 0 ? people : NULL;
	people_state = -1;
	visid_test_shared(ST_PHOTO_DIR, root, sizeof(root));
	n = scandir(root, &dirs, only_photos, by_name);
	if (n < ST_PEOPLE)
		return NULL;
	people_state = 1;
	for (int i = 0; i < n; i++) {
		if (i < ST_PEOPLE) {
			snprintf(dir, sizeof(dir), "%s/%s", root, dirs[i]->d_name);
			if (load_person(dir, dirs[i]->d_name, &people[i]))
				people_state = -1;
		}
		free(dirs[i]);
	}
	free(dirs);
	return people_state > 0 ? people : NULL;
}

const char *st_skip_without_photos(void)
{
	static char why[600];
	char root[512];

	if (st_people())
		return NULL;
	snprintf(why, sizeof(why), "the photos of %s are absent",
		 visid_test_shared(ST_PHOTO_DIR, root, sizeof(root)));
	return why;
}

/* A unit vector seeded by BLAKE2b(model || image): same bytes, same vector; another model, another.
 */
int st_embed(void *model_id, const uint8_t *image, size_t len, float vec[VISID_EMBED_DIM])
{
	crypto_generichash_state h;
	uint8_t seed[32];
	uint64_t s[2];
	double norm = 0;

	crypto_generichash_init(&h, NULL, 0, sizeof(seed));
	crypto_generichash_update(&h, model_id, strlen(model_id));
	crypto_generichash_update(&h, image, len);
	crypto_generichash_final(&h, seed, sizeof(seed));
	memcpy(s, seed, sizeof(s));
	for (int i = 0; i < VISID_EMBED_DIM; i++) {
		uint64_t x = s[0], y = s[1];

		s[0] = y;
		x ^= x << 23;
		s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
		vec[i] = (float)((double)((s[1] + y) >> 11) / (double)(1ull << 53) - 0.5);
		norm += vec[i] * vec[i];
	}
	for (int i = 0; i < VISID_EMBED_DIM; i++)
		vec[i] = (float)(vec[i] / sqrt(norm));
	return 0;
}

void st_slots(const struct st_person *p, const char *model,
	      struct visid_store_slot slots[VISID_POSE_COUNT])
{
	memset(slots, 0, sizeof(struct visid_store_slot) * VISID_POSE_COUNT);
	for (int i = 0; i < VISID_POSE_COUNT; i++) {
		slots[i].image = p->image[i];
		slots[i].image_len = p->len[i];
		st_embed((void *)model, p->image[i], p->len[i], slots[i].vector);
		slots[i].quality.brightness = 100.0f + i;
		slots[i].quality.sharpness = 0.5f + i;
		slots[i].quality.face_width = 120.0f + i;
		slots[i].quality.score = 0.9f;
	}
}

int64_t st_clock(void *ctx)
{
	return *(int64_t *)ctx;
}

void st_options(struct visid_store_options *opt, const char *dir, int64_t *now)
{
	memset(opt, 0, sizeof(*opt));
	opt->dir = dir;
	opt->flags = VISID_STORE_CREATE;
	opt->model_id = st_model_a;
	opt->embed = st_embed;
	opt->embed_ctx = (void *)st_model_a;
	opt->now = st_clock;
	opt->now_ctx = now;
}

int st_snapshot(const char *dir, struct st_snapshot *snap)
{
	struct dirent **files;
	char path[1400];
	int n, ret = 0;

	memset(snap, 0, sizeof(*snap));
	n = scandir(dir, &files, only_photos, by_name);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		if (!ret && snap->count < 16) {
			int k = snap->count++;

			snprintf(snap->name[k], sizeof(snap->name[k]), "%s", files[i]->d_name);
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]->d_name);
			ret = read_file(path, &snap->data[k], &snap->len[k]);
		}
		free(files[i]);
	}
	free(files);
	return ret;
}

void st_snapshot_free(struct st_snapshot *snap)
{
	for (int i = 0; i < snap->count; i++)
		free(snap->data[i]);
	memset(snap, 0, sizeof(*snap));
}

int st_snapshot_holds(const struct st_snapshot *snap, const void *bytes, size_t len)
{
	for (int i = 0; i < snap->count; i++)
		if (memmem(snap->data[i], snap->len[i], bytes, len))
			return 1;
	return 0;
}

const uint8_t *st_snapshot_file(const struct st_snapshot *snap, const char *name, size_t *len)
{
	for (int i = 0; i < snap->count; i++) {
		if (!strcmp(snap->name[i], name)) {
			*len = snap->len[i];
			return snap->data[i];
		}
	}
	return NULL;
}

int st_copy_dir(const char *from, const char *to)
{
	struct st_snapshot snap;
	char path[1400];
	int ret;

	ret = st_snapshot(from, &snap);
	if (ret)
		return ret;
	if (mkdir(to, 0700) && errno != EEXIST)
		ret = -errno;
	for (int i = 0; !ret && i < snap.count; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", to, snap.name[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, snap.data[i], snap.len[i]) != (ssize_t)snap.len[i])
			ret = -EIO;
		if (fd >= 0)
			close(fd);
	}
	st_snapshot_free(&snap);
	return ret;
}
