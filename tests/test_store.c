/*
 * The gallery: permissions, enrollment and its limits, encryption at rest and
 * record binding, damage reports, model change, expiry, and a read-only
 * identify path that leaves the state directory untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "harness.h"
#include "store_fault/store_test.h"
#include "visid/log.h"

#define MONTH (30 * 86400LL)
#define T0 1700000000LL		/* 2023-11-14 */

static char logged[8192];

static void capture(enum visid_log_level level, const char *msg, void *data)
{
	size_t n = strlen(logged);

	snprintf(logged + n, sizeof(logged) - n, "%s\n", msg);
}

static void log_start(void)
{
	logged[0] = 0;
	visid_log_set_handler(capture, NULL);
	visid_log_set_level(VISID_LOG_WARN);
}

static void log_stop(void)
{
	visid_log_set_handler(NULL, NULL);
}

static const char *new_dir(char *buf, size_t size)
{
	snprintf(buf, size, "%s/state", visid_test_tmpdir());
	return buf;
}

static int file_mode(const char *dir, const char *name)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s%s", dir, name ? "/" : "", name ? name : "");
	return stat(path, &st) ? -1 : (int)(st.st_mode & 07777);
}

static int chmod_in(const char *dir, const char *name, mode_t mode)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return chmod(path, mode);
}

/* Opens a fresh store at *now and enrolls the first count people with all poses. */
static struct visid_store *fresh_store(const char *dir, int64_t *now, int count, int64_t *ids)
{
	const struct st_person *p = st_people();
	struct visid_store_options opt;
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store *store;
	int ret;

	st_options(&opt, dir, now);
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "creating a store in %s: %d", dir, ret);
	if (ret)
		return NULL;
	for (int i = 0; i < count; i++) {
		st_slots(&p[i], st_model_a, slots);
		ret = visid_store_enroll(store, p[i].name, p[i].image[0], p[i].len[0], slots,
					 &ids[i]);
		VT_CHECK(ret == 0, "enrolling %s: %d", p[i].name, ret);
	}
	return store;
}

static void test_permissions(void)
{
	struct visid_store_options opt;
	struct visid_store *store;
	char dir[200];
	int64_t now = T0;
	int ret;

	new_dir(dir, sizeof(dir));
	st_options(&opt, dir, &now);
	opt.flags = 0;
	log_start();
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -ENOENT, "opening a missing gallery without CREATE: %d", ret);
	log_stop();

	opt.flags = VISID_STORE_CREATE;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "creating %s: %d", dir, ret);
	visid_store_close(store);
	VT_CHECK(file_mode(dir, NULL) == 0700, "state directory mode %04o", file_mode(dir, NULL));
	VT_CHECK(file_mode(dir, "gallery.db") == 0600, "gallery.db mode %04o",
		 file_mode(dir, "gallery.db"));
	VT_CHECK(file_mode(dir, "device.key") == 0600, "device.key mode %04o",
		 file_mode(dir, "device.key"));

	log_start();
	chmod(dir, 0755);
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EACCES, "a 0755 state directory was accepted: %d", ret);
	VT_CHECK(strstr(logged, "0755") && strstr(logged, dir), "unclear refusal: %s", logged);
	chmod(dir, 0770);
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EACCES, "a group-writable state directory was accepted: %d", ret);
	chmod(dir, 0700);

	chmod_in(dir, "gallery.db", 0644);
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EACCES, "a world-readable gallery.db was accepted: %d", ret);
	chmod_in(dir, "gallery.db", 0600);
	chmod_in(dir, "device.key", 0640);
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EACCES, "a group-readable key file was accepted: %d", ret);
	chmod_in(dir, "device.key", 0600);
	log_stop();

	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "reopening after the modes were fixed: %d", ret);
	visid_store_close(store);
}

static void test_state_dir_from_environment(void)
{
	struct visid_store_options opt;
	struct visid_store *store;
	char dir[200];
	int64_t now = T0;
	int ret;

	new_dir(dir, sizeof(dir));
	st_options(&opt, NULL, &now);
	setenv("VISID_STATE_DIR", dir, 1);
	ret = visid_store_open(&opt, &store);
	unsetenv("VISID_STATE_DIR");
	VT_CHECK(ret == 0, "opening through $VISID_STATE_DIR=%s: %d", dir, ret);
	if (ret)
		return;
	VT_CHECK(!strcmp(visid_store_dir(store), dir), "store in %s, not %s",
		 visid_store_dir(store), dir);
	visid_store_close(store);
	VT_CHECK(file_mode(dir, "gallery.db") == 0600, "no gallery.db created in %s", dir);
}

static void test_enroll_roundtrip(void)
{
	const struct st_person *p = st_people();
	struct visid_store_member m[VISID_STORE_MAX_MEMBERS];
	struct visid_store_gallery *g = malloc(sizeof(*g));
	struct visid_store *store;
	float vec[VISID_EMBED_DIM];
	int64_t now = T0, ids[2];
	char dir[200];
	uint8_t *bytes;
	size_t len;
	int n, ret;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 2, ids);
	if (!store || !g)
		goto out;
	n = visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
	VT_CHECK(n == 2, "listed %d members after enrolling 2", n);
	for (int i = 0; i < n && i < 2; i++) {
		VT_CHECK(!strcmp(m[i].name, p[i].name) && m[i].id == ids[i],
			 "member %d is '%s' id %lld", i, m[i].name, (long long)m[i].id);
		VT_CHECK(m[i].slots == 0x1f && m[i].has_avatar && !m[i].damaged,
			 "member %s: slots %#x avatar %d damaged %d", m[i].name, m[i].slots,
			 m[i].has_avatar, m[i].damaged);
		VT_CHECK(m[i].created == T0 && m[i].last_seen == T0, "times %lld %lld",
			 (long long)m[i].created, (long long)m[i].last_seen);
		VT_CHECK(m[i].quality[VISID_POSE_UP].face_width == 123.0f &&
			 !strcmp(m[i].model_id[VISID_POSE_DOWN], st_model_a),
			 "quality/model of %s: %g %s", m[i].name,
			 m[i].quality[VISID_POSE_UP].face_width, m[i].model_id[VISID_POSE_DOWN]);
	}

	for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
		ret = visid_store_get_image(store, ids[1], pose, &bytes, &len);
		VT_CHECK(ret == 0 && len == p[1].len[pose] && !memcmp(bytes, p[1].image[pose], len),
			 "%s image of %s differs after the round trip (%d, %zu bytes)",
			 visid_pose_name(pose), p[1].name, ret, len);
		if (!ret)
			visid_store_free_bytes(bytes, len);
	}
	ret = visid_store_get_avatar(store, ids[0], &bytes, &len);
	VT_CHECK(ret == 0 && len == p[0].len[0] && !memcmp(bytes, p[0].image[0], len),
		 "avatar of %s differs (%d)", p[0].name, ret);
	if (!ret)
		visid_store_free_bytes(bytes, len);

	n = visid_store_load_gallery(store, g);
	VT_CHECK(n == 2 && g->count == 2 && g->damaged == 0, "gallery of %d (%d damaged)", n,
		 g->damaged);
	for (int i = 0; i < g->count; i++) {
		for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
			st_embed((void *)st_model_a, p[i].image[pose], p[i].len[pose], vec);
			VT_CHECK(!memcmp(vec, g->members[i].vectors[pose], sizeof(vec)),
				 "%s %s vector changed in the store", p[i].name,
				 visid_pose_name(pose));
		}
	}
	visid_store_gallery_wipe(g);
	VT_CHECK(g->count == 0 && g->members[0].vectors[0][0] == 0.0f, "gallery not wiped");

	ret = visid_store_find(store, p[1].name, &m[0]);
	VT_CHECK(ret == 0 && m[0].id == ids[1], "find '%s': %d", p[1].name, ret);
	ret = visid_store_find(store, "nobody", &m[0]);
	VT_CHECK(ret == -ENOENT, "find of a stranger: %d", ret);
	visid_store_close(store);
out:
	free(g);
}

static void test_names(void)
{
	static const char *const good[] = { "Zoë", "José María", "李小龍", "a" };
	static const char *const bad[] = { "", " lead", "trail ", "tab\there", "\xc0\xaf",
					   "\xed\xa0\x80", "bell\x07" };
	char long_name[400];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		VT_CHECK(visid_store_check_name(good[i]) == 0, "'%s' refused", good[i]);
	log_start();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		VT_CHECK(visid_store_check_name(bad[i]) == -EINVAL, "bad name %zu accepted", i);
	long_name[0] = 0;
	for (int i = 0; i < 64; i++)
		strcat(long_name, "é");
	VT_CHECK(visid_store_check_name(long_name) == 0, "64 two-byte characters refused");
	strcat(long_name, "x");
	VT_CHECK(visid_store_check_name(long_name) == -EINVAL, "65 characters accepted");
	VT_CHECK(strstr(logged, "64 characters") != NULL, "length refusal not explained: %s",
		 logged);
	log_stop();
}

static void test_member_limit_and_duplicates(void)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_member m;
	struct visid_store *store;
	int64_t now = T0, id;
	char dir[200], name[32];
	int ret;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 0, NULL);
	if (!store)
		return;
	st_slots(&p[0], st_model_a, slots);
	for (int i = 0; i < VISID_STORE_MAX_MEMBERS; i++) {
		snprintf(name, sizeof(name), "member %d", i);
		ret = visid_store_enroll(store, name, NULL, 0, slots, &id);
		VT_CHECK(ret == 0, "enrolling member %d of 10: %d", i, ret);
	}
	log_start();
	ret = visid_store_enroll(store, "member 10", NULL, 0, slots, &id);
	VT_CHECK(ret == -ENOSPC, "the 11th member: %d", ret);
	VT_CHECK(strstr(logged, "at most 10 members") != NULL, "limit not stated: %s", logged);
	VT_CHECK(visid_store_find(store, "member 10", &m) == -ENOENT, "the 11th was stored");

	ret = visid_store_delete(store, id);
	VT_CHECK(ret == 0, "deleting the 10th: %d", ret);
	logged[0] = 0;
	ret = visid_store_enroll(store, "member 3", NULL, 0, slots, &id);
	VT_CHECK(ret == -EEXIST && strstr(logged, "member 3"), "duplicate name: %d %s", ret,
		 logged);
	ret = visid_store_enroll(store, "bad\nname", NULL, 0, slots, &id);
	VT_CHECK(ret == -EINVAL, "a name with a newline: %d", ret);
	log_stop();
	visid_store_close(store);
}

static void test_partial_and_replace(void)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT], slot;
	struct visid_store_member m;
	struct visid_store *store;
	int64_t now = T0, id;
	char dir[200];
	uint8_t *bytes;
	size_t len;
	int ret;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 0, NULL);
	if (!store)
		return;
	st_slots(&p[2], st_model_a, slots);
	slots[VISID_POSE_LEFT].image = NULL;
	slots[VISID_POSE_UP].image = NULL;
	slots[VISID_POSE_DOWN].image = NULL;
	ret = visid_store_enroll(store, p[2].name, NULL, 0, slots, &id);
	VT_CHECK(ret == 0, "partial enrollment: %d", ret);
	ret = visid_store_get(store, id, &m);
	VT_CHECK(ret == 0 && m.slots == 0x5 && !m.has_avatar, "partial member: slots %#x", m.slots);

	slot = slots[VISID_POSE_FRONT];
	slot.image = p[3].image[4];
	slot.image_len = p[3].len[4];
	st_embed((void *)st_model_a, slot.image, slot.image_len, slot.vector);
	ret = visid_store_replace_pose(store, id, VISID_POSE_UP, &slot);
	VT_CHECK(ret == 0, "adding the up pose: %d", ret);
	ret = visid_store_replace_pose(store, id, VISID_POSE_FRONT, &slot);
	VT_CHECK(ret == 0, "replacing the front pose: %d", ret);
	visid_store_get(store, id, &m);
	VT_CHECK(m.slots == 0xd, "slots after replacing: %#x", m.slots);
	ret = visid_store_get_image(store, id, VISID_POSE_FRONT, &bytes, &len);
	VT_CHECK(ret == 0 && len == slot.image_len && !memcmp(bytes, slot.image, len),
		 "the front image was not replaced (%d)", ret);
	if (!ret)
		visid_store_free_bytes(bytes, len);
	ret = visid_store_set_avatar(store, id, p[2].image[1], p[2].len[1]);
	visid_store_get(store, id, &m);
	VT_CHECK(ret == 0 && m.has_avatar, "setting an avatar: %d", ret);
	ret = visid_store_set_avatar(store, id, NULL, 0);
	visid_store_get(store, id, &m);
	VT_CHECK(ret == 0 && !m.has_avatar, "removing the avatar: %d", ret);

	log_start();
	for (int i = 0; i < VISID_POSE_COUNT; i++)
		slots[i].image = NULL;
	ret = visid_store_enroll(store, "nobody", NULL, 0, slots, &id);
	VT_CHECK(ret == -EINVAL, "an enrollment without images: %d", ret);
	ret = visid_store_replace_pose(store, 9999, VISID_POSE_FRONT, &slot);
	VT_CHECK(ret == -ENOENT, "replacing a pose of no member: %d", ret);
	log_stop();
	visid_store_close(store);
}

/* Reads one blob straight from the database file, as an attacker with the file would. */
static int raw_blob(const char *dir, const char *sql, uint8_t *out, size_t cap, size_t *len)
{
	char path[1024];
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "%s/gallery.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
		if (sqlite3_step(stmt) == SQLITE_ROW &&
		    (size_t)sqlite3_column_bytes(stmt, 0) <= cap) {
			*len = sqlite3_column_bytes(stmt, 0);
			memcpy(out, sqlite3_column_blob(stmt, 0), *len);
			ret = 0;
		}
		sqlite3_finalize(stmt);
	}
	sqlite3_close(db);
	return ret;
}

static int raw_exec(const char *dir, const char *sql)
{
	char path[1024];
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s/gallery.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return -EIO;
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -EIO;
}

/* "TABLE SET col = ? WHERE ...": reads col, flips one bit at offset, writes it back. */
static int raw_flip(const char *dir, const char *update, size_t offset)
{
	char path[1024], sql[512];
	const char *col = strstr(update, "SET ") + 4;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	uint8_t *blob = NULL;
	int len = 0, rc;

	snprintf(path, sizeof(path), "%s/gallery.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return -EIO;
	snprintf(sql, sizeof(sql), "SELECT %.*s FROM %.*s %s", (int)strcspn(col, " "), col,
		 (int)strcspn(update, " "), update, strstr(update, "WHERE"));
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
		if (sqlite3_step(stmt) == SQLITE_ROW) {
			len = sqlite3_column_bytes(stmt, 0);
			blob = malloc(len);
			if (blob)
				memcpy(blob, sqlite3_column_blob(stmt, 0), len);
		}
		sqlite3_finalize(stmt);
	}
	rc = SQLITE_ERROR;
	if (blob && (size_t)len > offset) {
		blob[offset] ^= 1;
		snprintf(sql, sizeof(sql), "UPDATE %s", update);
		if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
			sqlite3_bind_blob(stmt, 1, blob, len, SQLITE_STATIC);
			rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
			sqlite3_finalize(stmt);
		}
	}
	free(blob);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -EIO;
}

static void test_delete_destroys_key(void)
{
	const struct st_person *p = st_people();
	struct visid_store_member m[VISID_STORE_MAX_MEMBERS];
	struct st_snapshot snap;
	struct visid_store *store;
	uint8_t wrapped[128], image[64 << 10];
	size_t wrapped_len, image_len;
	int64_t now = T0, ids[3];
	char dir[200], sql[128];
	int ret, n;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 3, ids);
	if (!store)
		return;
	snprintf(sql, sizeof(sql), "SELECT wrapped FROM keys WHERE member = %lld",
		 (long long)ids[1]);
	ret = raw_blob(dir, sql, wrapped, sizeof(wrapped), &wrapped_len);
	snprintf(sql, sizeof(sql), "SELECT image FROM slots WHERE member = %lld AND pose = 2",
		 (long long)ids[1]);
	ret |= raw_blob(dir, sql, image, sizeof(image), &image_len);
	VT_CHECK(ret == 0, "reading the raw key and sealed image of %s: %d", p[1].name, ret);

	ret = visid_store_delete(store, ids[1]);
	VT_CHECK(ret == 0, "deleting %s: %d", p[1].name, ret);
	n = visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
	VT_CHECK(n == 2 && m[0].id == ids[0] && m[1].id == ids[2], "after the delete %d left", n);
	log_start();
	ret = visid_store_delete(store, ids[1]);
	VT_CHECK(ret == -ENOENT, "deleting twice: %d", ret);
	log_stop();

	st_snapshot(dir, &snap);
	VT_CHECK(!st_snapshot_holds(&snap, wrapped, wrapped_len),
		 "the deleted member's wrapped key is still in the files");
	VT_CHECK(!st_snapshot_holds(&snap, image + 40, 64),
		 "the deleted member's sealed image is still in the files (secure_delete off?)");
	st_snapshot_free(&snap);

	ret = visid_store_delete_all(store);
	VT_CHECK(ret == 2, "delete_all reported %d members, not 2", ret);
	n = visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
	VT_CHECK(n == 0, "%d members left after delete_all", n);
	visid_store_close(store);
}

/* Nothing of a face is readable in the files: every image and vector is sealed. */
static void test_encrypted_at_rest(void)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct st_snapshot snap;
	struct visid_store *store;
	int64_t now = T0, ids[2];
	char dir[200];

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 2, ids);
	if (!store)
		return;
	visid_store_close(store);
	st_snapshot(dir, &snap);
	for (int i = 0; i < 2; i++) {
		st_slots(&p[i], st_model_a, slots);
		for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
			VT_CHECK(!st_snapshot_holds(&snap, p[i].image[pose] + p[i].len[pose] / 2,
						    32), "%s %s image found in clear", p[i].name,
				 visid_pose_name(pose));
			VT_CHECK(!st_snapshot_holds(&snap, slots[pose].vector, 32),
				 "%s %s vector found in clear", p[i].name, visid_pose_name(pose));
		}
	}
	st_snapshot_free(&snap);
}

static void reopen_and_count(const char *dir, int64_t *now, int want_count, int want_damaged,
			     const char *what)
{
	struct visid_store_options opt;
	struct visid_store_gallery *g = malloc(sizeof(*g));
	struct visid_store *store;
	int ret;

	st_options(&opt, dir, now);
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "%s: the store must still open: %d", what, ret);
	if (!ret && g) {
		ret = visid_store_load_gallery(store, g);
		VT_CHECK(ret == want_count && g->damaged == want_damaged,
			 "%s: gallery of %d with %d damaged, wanted %d and %d", what, ret,
			 g->damaged, want_count, want_damaged);
		visid_store_gallery_wipe(g);
		visid_store_close(store);
	}
	free(g);
}

static void test_swapped_records_fail(void)
{
	const struct st_person *p = st_people();
	struct visid_store *store;
	int64_t now = T0, ids[3];
	char dir[200], sql[512];

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 3, ids);
	if (!store)
		return;
	visid_store_close(store);

	/* Two members' front vectors exchanged: both sealed, both valid alone. */
	snprintf(sql, sizeof(sql),
		 "CREATE TEMP TABLE t AS SELECT member, vector FROM slots WHERE pose = 0;"
		 "UPDATE slots SET vector = (SELECT t.vector FROM t WHERE t.member = "
		 "%lld + %lld - slots.member) WHERE pose = 0 AND member IN (%lld, %lld)",
		 (long long)ids[0], (long long)ids[1], (long long)ids[0], (long long)ids[1]);
	VT_CHECK(raw_exec(dir, sql) == 0, "swapping two records");
	log_start();
	reopen_and_count(dir, &now, 1, 2, "vectors swapped between members");
	VT_CHECK(strstr(logged, p[0].name) && strstr(logged, p[1].name) &&
		 strstr(logged, "damaged"), "the damaged members were not named: %s", logged);
	VT_CHECK(!strstr(logged, p[2].name), "an intact member was reported: %s", logged);

	/* Two poses of one member exchanged: same key, so only the binding can tell. */
	snprintf(sql, sizeof(sql),
		 "CREATE TEMP TABLE t AS SELECT pose, image, vector FROM slots WHERE member = %lld;"
		 "UPDATE slots SET image = (SELECT t.image FROM t WHERE t.pose = 1 - slots.pose),"
		 " vector = (SELECT t.vector FROM t WHERE t.pose = 1 - slots.pose)"
		 " WHERE member = %lld AND pose IN (0, 1)", (long long)ids[2], (long long)ids[2]);
	VT_CHECK(raw_exec(dir, sql) == 0, "swapping two poses");
	logged[0] = 0;
	reopen_and_count(dir, &now, 0, 3, "poses swapped within a member");
	VT_CHECK(strstr(logged, p[2].name) != NULL, "the pose swap went unnoticed: %s", logged);
	log_stop();
}

static void test_tampered_member_is_damaged(void)
{
	const struct st_person *p = st_people();
	struct visid_store_member m[VISID_STORE_MAX_MEMBERS];
	struct visid_store_options opt;
	struct visid_store *store;
	int64_t now = T0, ids[3];
	char dir[200], sql[256];
	uint8_t *bytes;
	size_t len;
	int ret, n;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 3, ids);
	if (!store)
		return;
	visid_store_close(store);
	/* One bit of one sealed image flipped. */
	snprintf(sql, sizeof(sql), "slots SET image = ? WHERE member = %lld AND pose = 3",
		 (long long)ids[2]);
	VT_CHECK(raw_flip(dir, sql, 100) == 0, "tampering with a record");

	log_start();
	reopen_and_count(dir, &now, 2, 1, "one image tampered with");
	VT_CHECK(strstr(logged, p[2].name) && strstr(logged, "up pose"),
		 "the damaged member and record were not named: %s", logged);
	log_stop();

	st_options(&opt, dir, &now);
	log_start();
	ret = visid_store_open(&opt, &store);
	if (ret)
		return;
	n = visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
	VT_CHECK(n == 3 && !m[0].damaged && !m[1].damaged && m[2].damaged,
		 "damage flags %d %d %d", m[0].damaged, m[1].damaged, m[2].damaged);
	ret = visid_store_get_image(store, ids[2], VISID_POSE_UP, &bytes, &len);
	VT_CHECK(ret == -EBADMSG, "reading the tampered image: %d", ret);
	ret = visid_store_get_image(store, ids[2], VISID_POSE_FRONT, &bytes, &len);
	if (!ret)
		visid_store_free_bytes(bytes, len);
	log_stop();
	ret = visid_store_delete(store, ids[2]);
	VT_CHECK(ret == 0, "deleting the damaged member: %d", ret);
	visid_store_close(store);
	reopen_and_count(dir, &now, 2, 0, "damaged member deleted");
}

static void test_damaged_database_is_kept(void)
{
	static const char junk[] = "this is not a database, but it is someone's file\n";
	struct visid_store_options opt;
	struct visid_store *store;
	struct st_snapshot before, after;
	int64_t now = T0, ids[2];
	char dir[200], path[1024];
	size_t a, b;
	const uint8_t *da, *db;
	int ret, fd;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 2, ids);
	if (!store)
		return;
	visid_store_close(store);
	st_options(&opt, dir, &now);
	snprintf(path, sizeof(path), "%s/gallery.db", dir);

	/* A page in the middle overwritten: SQLite's integrity check must catch it. */
	fd = open(path, O_WRONLY);
	for (int i = 0; fd >= 0 && i < 4096; i += sizeof(junk) - 1)
		pwrite(fd, junk, sizeof(junk) - 1, 4096 + i);
	close(fd);
	st_snapshot(dir, &before);
	log_start();
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EBADMSG, "a corrupt page: %d", ret);
	VT_CHECK(strstr(logged, "damaged") && strstr(logged, path), "not reported: %s", logged);

	fd = open(path, O_WRONLY | O_TRUNC);
	write(fd, junk, sizeof(junk) - 1);
	close(fd);
	st_snapshot_free(&before);
	st_snapshot(dir, &before);
	logged[0] = 0;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EBADMSG, "a file that is not SQLite: %d", ret);
	VT_CHECK(strstr(logged, "not a database") || strstr(logged, "damaged"),
		 "not reported: %s", logged);
	log_stop();
	st_snapshot(dir, &after);
	da = st_snapshot_file(&before, "gallery.db", &a);
	db = st_snapshot_file(&after, "gallery.db", &b);
	VT_CHECK(da && db && a == b && !memcmp(da, db, a),
		 "the damaged database was changed or recreated");
	st_snapshot_free(&before);
	st_snapshot_free(&after);
}

static void test_device_key(void)
{
	uint8_t key[VISID_STORE_KEY_BYTES], other[VISID_STORE_KEY_BYTES];
	struct visid_store_options opt;
	struct visid_store *store;
	char dir[200];
	int64_t now = T0;
	int ret;

	memset(key, 0x5a, sizeof(key));
	memset(other, 0xa5, sizeof(other));
	new_dir(dir, sizeof(dir));
	st_options(&opt, dir, &now);
	opt.device_key = key;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "creating with a supplied key: %d", ret);
	visid_store_close(store);
	VT_CHECK(file_mode(dir, "device.key") < 0, "a key file was written beside a given key");

	log_start();
	opt.device_key = other;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EKEYREJECTED, "another key opened the gallery: %d", ret);
	opt.device_key = NULL;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EKEYREJECTED, "without the key: %d", ret);
	VT_CHECK(file_mode(dir, "device.key") < 0, "a new key file replaced the missing one");
	log_stop();
	opt.device_key = key;
	opt.flags = 0;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "reopening with the right key: %d", ret);
	visid_store_close(store);
}

struct progress {
	int calls, last_done, total;
};

static void count_progress(void *ctx, int done, int total)
{
	struct progress *pr = ctx;

	pr->calls++;
	pr->last_done = done;
	pr->total = total;
}

static int failing_embed(void *ctx, const uint8_t *image, size_t len, float vec[VISID_EMBED_DIM])
{
	int *left = ctx;

	if (--*left < 0)
		return -EIO;
	return st_embed((void *)st_model_b, image, len, vec);
}

static void check_vectors(const char *dir, int64_t *now, const char *model, int members,
			  const char *what)
{
	const struct st_person *p = st_people();
	struct visid_store_gallery *g = malloc(sizeof(*g));
	struct visid_store_options opt;
	struct visid_store *store;
	float vec[VISID_EMBED_DIM];
	int ret, bad = 0;

	st_options(&opt, dir, now);
	opt.model_id = NULL;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0 && g, "%s: reopening: %d", what, ret);
	if (ret || !g)
		goto out;
	VT_CHECK(!strcmp(visid_store_model_id(store), model), "%s: gallery on model %s, not %s",
		 what, visid_store_model_id(store), model);
	ret = visid_store_load_gallery(store, g);
	VT_CHECK(ret == members, "%s: %d members loaded, not %d", what, ret, members);
	for (int i = 0; i < g->count; i++) {
		for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
			st_embed((void *)model, p[i].image[pose], p[i].len[pose], vec);
			bad += memcmp(vec, g->members[i].vectors[pose], sizeof(vec)) != 0;
		}
	}
	VT_CHECK(bad == 0, "%s: %d vectors are not model %s's", what, bad, model);
	visid_store_gallery_wipe(g);
	visid_store_close(store);
out:
	free(g);
}

static void test_model_change(void)
{
	struct visid_store_options opt;
	struct progress pr = { 0 };
	struct visid_store *store;
	int64_t now = T0, ids[3];
	char dir[200];
	int ret, left = 7;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 3, ids);
	if (!store)
		return;
	visid_store_close(store);
	st_options(&opt, dir, &now);
	opt.model_id = st_model_b;

	log_start();
	opt.embed = NULL;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -ESTALE, "model B without an embedder: %d", ret);
	opt.embed = st_embed;
	opt.embed_ctx = (void *)st_model_b;
	opt.flags = VISID_STORE_READ_ONLY;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -ESTALE, "model B read-only: %d", ret);

	/* The embedder fails at the 8th image: nothing may change. */
	opt.flags = 0;
	opt.embed = failing_embed;
	opt.embed_ctx = &left;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == -EIO, "a failing embedder: %d", ret);
	log_stop();
	check_vectors(dir, &now, st_model_a, 3, "after a failed re-vectorisation");

	opt.embed = st_embed;
	opt.embed_ctx = (void *)st_model_b;
	opt.progress = count_progress;
	opt.progress_ctx = &pr;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "re-vectorising to model B: %d", ret);
	if (!ret)
		visid_store_close(store);
	VT_CHECK(pr.total == 15 && pr.last_done == 15 && pr.calls == 16,
		 "progress: %d calls, last %d of %d", pr.calls, pr.last_done, pr.total);
	check_vectors(dir, &now, st_model_b, 3, "after re-vectorisation");
}

static void test_expiry(void)
{
	const struct st_person *p = st_people();
	struct visid_store_member m[VISID_STORE_MAX_MEMBERS];
	struct visid_store_options opt;
	struct visid_store *store;
	int64_t now = T0, ids[3];
	char dir[200];
	int ret, n;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 3, ids);
	if (!store)
		return;
	/* 17 months on, the second member is recognised; the others are not. */
	now = T0 + 17 * MONTH;
	VT_CHECK(visid_store_touch(store, ids[1]) == 0, "touch failed");
	ret = visid_store_expire(store);
	VT_CHECK(ret == 0, "expired %d members before 18 months", ret);

	now = T0 + 549 * 86400LL;	/* 2025-05-16: 18 months and 2 days after enrollment */
	ret = visid_store_expire(store);
	VT_CHECK(ret == 2, "expired %d members at 18 months, not 2", ret);
	n = visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
	VT_CHECK(n == 1 && m[0].id == ids[1] && m[0].last_seen == T0 + 17 * MONTH,
		 "left after expiry: %d (%s)", n, n > 0 ? m[0].name : "");
	visid_store_close(store);

	/* A read-only open never deletes; a read-write open expires on its own. */
	st_options(&opt, dir, &now);
	now = T0 + 17 * MONTH + 560 * 86400LL;
	opt.flags = VISID_STORE_READ_ONLY;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "read-only open: %d", ret);
	if (!ret) {
		n = visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
		VT_CHECK(n == 1, "read-only open expired members (%d left)", n);
		log_start();
		VT_CHECK(visid_store_expire(store) == -EROFS, "read-only expire did not refuse");
		log_stop();
		visid_store_close(store);
	}
	opt.flags = 0;
	opt.expiry_seconds = -1;
	ret = visid_store_open(&opt, &store);
	n = ret ? -1 : visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
	VT_CHECK(n == 1, "expiry disabled, yet %d left", n);
	visid_store_close(store);
	opt.expiry_seconds = 0;
	ret = visid_store_open(&opt, &store);
	n = ret ? -1 : visid_store_list(store, m, VISID_STORE_MAX_MEMBERS);
	VT_CHECK(n == 0, "open did not expire %s (%d left)", p[1].name, n);
	visid_store_close(store);
}

static void test_expiry_seconds_and_touch(void)
{
	struct visid_store_member m;
	struct visid_store *store;
	struct visid_store_options opt;
	int64_t now = T0, ids[1];
	char dir[200];
	int ret;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 1, ids);
	if (!store)
		return;
	visid_store_close(store);
	st_options(&opt, dir, &now);
	opt.expiry_seconds = 1000;
	opt.touch_interval = 100;
	ret = visid_store_open(&opt, &store);
	if (ret)
		return;
	now = T0 + 50;
	visid_store_touch(store, ids[0]);
	visid_store_get(store, ids[0], &m);
	VT_CHECK(m.last_seen == T0, "touched within the interval: %lld", (long long)m.last_seen);
	now = T0 + 999;
	visid_store_touch(store, ids[0]);
	visid_store_get(store, ids[0], &m);
	VT_CHECK(m.last_seen == T0 + 999, "not touched after the interval: %lld",
		 (long long)m.last_seen);
	now = T0 + 1998;
	VT_CHECK(visid_store_expire(store) == 0, "expired 999 s after the last recognition");
	now = T0 + 1999;
	VT_CHECK(visid_store_expire(store) == 1, "not expired after 1000 s");
	VT_CHECK(visid_store_touch(store, ids[0]) == -ENOENT, "touching a deleted member");
	visid_store_close(store);
}

/*
 * A clock set back (a device booting at 1970 without a real-time clock)
 * neither ages a member by a recognition nor expires anyone.
 */
static void test_clock_set_back(void)
{
	struct visid_store_member m;
	struct visid_store *store;
	struct visid_store_options opt;
	int64_t now = T0, ids[1];
	char dir[200];
	int ret;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 1, ids);
	if (!store)
		return;
	visid_store_close(store);
	st_options(&opt, dir, &now);
	opt.expiry_seconds = 1000;
	opt.touch_interval = 100;
	now = 86400;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0, "open with the clock at 1970: %d", ret);
	if (ret)
		return;
	visid_store_touch(store, ids[0]);
	visid_store_get(store, ids[0], &m);
	VT_CHECK(m.last_seen == T0, "a recognition at 1970 moved last seen back to %lld",
		 (long long)m.last_seen);
	VT_CHECK(visid_store_expire(store) == 0, "members expired on a clock behind the gallery");
	VT_CHECK(visid_store_list(store, &m, 1) == 1, "the member is gone");
	visid_store_close(store);
}

static float best_cosine(const struct visid_store_gallery_entry *e, const float *probe)
{
	float best = -2.0f;

	for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
		float dot = 0.0f;

		if (!(e->slots & VISID_STORE_SLOT_BIT(pose)))
			continue;
		for (int i = 0; i < VISID_EMBED_DIM; i++)
			dot += e->vectors[pose][i] * probe[i];
		if (dot > best)
			best = dot;
	}
	return best;
}

static void check_same_files(const struct st_snapshot *a, const struct st_snapshot *b,
			     const char *when)
{
	VT_CHECK(a->count == b->count, "%s: %d files, not %d", when, b->count, a->count);
	for (int i = 0; i < a->count && i < b->count; i++)
		VT_CHECK(!strcmp(a->name[i], b->name[i]) && a->len[i] == b->len[i] &&
			 !memcmp(a->data[i], b->data[i], a->len[i]),
			 "%s: %s changed (or became %s)", when, a->name[i], b->name[i]);
}

/*
 * Opens read-only, loads the gallery and matches both probes against it, as
 * identify does; with before, the directory is compared while the store is open.
 */
static void identify(const char *dir, int64_t *now, const float *known, const float *stranger,
		     int64_t touch_id, const struct st_snapshot *before)
{
	struct visid_store_gallery *g = malloc(sizeof(*g));
	struct visid_store_options opt;
	struct visid_store *store;
	float best_known = -2.0f, best_stranger = -2.0f;
	int ret;

	st_options(&opt, dir, now);
	opt.flags = VISID_STORE_READ_ONLY;
	ret = visid_store_open(&opt, &store);
	VT_CHECK(ret == 0 && g, "read-only open: %d", ret);
	if (ret || !g)
		goto out;
	ret = visid_store_load_gallery(store, g);
	VT_CHECK(ret == 3, "loaded %d members", ret);
	for (int i = 0; i < g->count; i++) {
		float k = best_cosine(&g->members[i], known);
		float s = best_cosine(&g->members[i], stranger);

		best_known = k > best_known ? k : best_known;
		best_stranger = s > best_stranger ? s : best_stranger;
	}
	VT_CHECK(best_known > 0.999f && best_stranger < 0.5f,
		 "matching: enrolled probe %.3f, stranger %.3f", best_known, best_stranger);
	visid_store_gallery_wipe(g);
	if (before) {
		struct st_snapshot during;

		st_snapshot(dir, &during);
		check_same_files(before, &during, "while identify has the gallery open");
		st_snapshot_free(&during);
	}
	if (touch_id) {
		ret = visid_store_touch(store, touch_id);
		VT_CHECK(ret == 0, "recording a recognition on a read-only store: %d", ret);
	}
	visid_store_close(store);
out:
	free(g);
}

static int page_size(const uint8_t *db)
{
	int size = db[16] << 8 | db[17];

	return size == 1 ? 65536 : size;
}

static int members_root_page(const char *dir)
{
	uint8_t page[16];
	size_t len;

	memset(page, 0, sizeof(page));
	if (raw_blob(dir, "SELECT CAST(rootpage AS TEXT) FROM sqlite_master "
		     "WHERE name = 'members'", page, sizeof(page) - 1, &len))
		return -1;
	return atoi((char *)page);
}

/* Bytes of page 1 that a commit rewrites: file change counter, version-valid-for. */
static int header_counter_byte(size_t offset)
{
	return (offset >= 24 && offset < 28) || (offset >= 92 && offset < 96);
}

/* Every differing byte must lie in the header counters or in the members table's page. */
static void check_only_times_changed(const char *dir, const struct st_snapshot *a,
				     const struct st_snapshot *b)
{
	const uint8_t *da, *db;
	size_t la, lb;
	int root = members_root_page(dir), pages = 0, size;

	VT_CHECK(a->count == b->count, "files: %d before, %d after", a->count, b->count);
	for (int i = 0; i < a->count && i < b->count; i++) {
		VT_CHECK(!strcmp(a->name[i], b->name[i]), "file %s became %s", a->name[i],
			 b->name[i]);
		if (strcmp(a->name[i], "gallery.db"))
			VT_CHECK(a->len[i] == b->len[i] &&
				     !memcmp(a->data[i], b->data[i], a->len[i]),
				 "%s changed", a->name[i]);
	}
	da = st_snapshot_file(a, "gallery.db", &la);
	db = st_snapshot_file(b, "gallery.db", &lb);
	if (!da || !db || la != lb || la < 100) {
		VT_CHECK(0, "gallery.db changed size: %zu -> %zu", la, lb);
		return;
	}
	size = page_size(da);
	for (size_t off = 0; off < la; off++) {
		size_t page = off / size + 1;

		if (da[off] == db[off])
			continue;
		if (page == 1 && header_counter_byte(off))
			continue;
		if ((int)page == root) {
			pages++;
			off = page * size - 1;
			continue;
		}
		VT_CHECK(0, "byte %zu of page %zu changed (members are on page %d)", off, page,
			 root);
		return;
	}
	VT_CHECK(pages == 1, "the members page changed %d times, not once", pages);
}

/* A reader learns of another connection's change, and only of that. */
static void check_change_notice(const char *dir, int64_t *now)
{
	const struct st_person *p = st_people();
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_store_options opt;
	struct visid_store *reader, *writer;
	int ret;

	st_options(&opt, dir, now);
	opt.flags = VISID_STORE_READ_ONLY;
	ret = visid_store_open(&opt, &reader);
	VT_CHECK(ret == 0, "read-only open: %d", ret);
	if (ret)
		return;
	VT_CHECK(visid_store_changed(reader) == 0, "a change reported right after open");
	opt.flags = 0;
	ret = visid_store_open(&opt, &writer);
	if (!ret) {
		VT_CHECK(visid_store_changed(reader) == 0, "another open reported as a change");
		st_slots(&p[3], st_model_a, slots);
		ret = visid_store_enroll(writer, p[3].name, NULL, 0, slots, NULL);
		visid_store_close(writer);
	}
	VT_CHECK(ret == 0, "enrolling from a second connection: %d", ret);
	VT_CHECK(visid_store_changed(reader) == 1, "an enrollment elsewhere went unnoticed");
	VT_CHECK(visid_store_changed(reader) == 0, "one change reported twice");
	visid_store_close(reader);
}

/*
 * Identify reads only: the directory is byte-for-byte the same afterwards,
 * and recording a recognition rewrites the last-recognised time alone. No
 * file ever holds a stranger's image or vector.
 */
static void test_identify_leaves_dir_unchanged(void)
{
	const struct st_person *p = st_people();
	struct visid_store_member m;
	struct st_snapshot before, after;
	struct visid_store_options opt;
	struct visid_store *store;
	float known[VISID_EMBED_DIM], stranger[VISID_EMBED_DIM];
	int64_t now = T0, ids[3];
	char dir[200];
	int ret;

	store = fresh_store(new_dir(dir, sizeof(dir)), &now, 3, ids);
	if (!store)
		return;
	visid_store_close(store);
	st_embed((void *)st_model_a, p[1].image[2], p[1].len[2], known);
	st_embed((void *)st_model_a, p[4].image[0], p[4].len[0], stranger);

	now = T0 + 7200;
	st_snapshot(dir, &before);
	identify(dir, &now, known, stranger, 0, &before);
	st_snapshot(dir, &after);
	check_same_files(&before, &after, "after identify");
	st_snapshot_free(&after);

	identify(dir, &now, known, stranger, ids[1], NULL);
	st_snapshot(dir, &after);
	check_only_times_changed(dir, &before, &after);

	VT_CHECK(!st_snapshot_holds(&after, stranger, sizeof(stranger)) &&
		 !st_snapshot_holds(&after, stranger + 96, 64), "a stranger's vector is stored");
	for (size_t off = 0; off + 64 <= p[4].len[0]; off += 512)
		VT_CHECK(!st_snapshot_holds(&after, p[4].image[0] + off, 64),
			 "bytes %zu.. of a stranger's image are stored", off);
	st_snapshot_free(&before);
	st_snapshot_free(&after);

	st_options(&opt, dir, &now);
	ret = visid_store_open(&opt, &store);
	if (!ret) {
		ret = visid_store_get(store, ids[1], &m);
		VT_CHECK(ret == 0 && m.last_seen == T0 + 7200, "last recognised %lld",
			 (long long)m.last_seen);
		visid_store_close(store);
	}
	check_change_notice(dir, &now);
}

VISID_SUITE(store, "store", NULL, NULL, st_skip_without_photos,
	    VISID_TEST(test_permissions),
	    VISID_TEST(test_state_dir_from_environment),
	    VISID_TEST(test_enroll_roundtrip),
	    VISID_TEST(test_names),
	    VISID_TEST(test_member_limit_and_duplicates),
	    VISID_TEST(test_partial_and_replace),
	    VISID_TEST(test_delete_destroys_key),
	    VISID_TEST(test_encrypted_at_rest),
	    VISID_TEST(test_swapped_records_fail),
	    VISID_TEST(test_tampered_member_is_damaged),
	    VISID_TEST(test_damaged_database_is_kept),
	    VISID_TEST(test_device_key),
	    VISID_TEST(test_model_change),
	    VISID_TEST(test_expiry),
	    VISID_TEST(test_expiry_seconds_and_touch),
	    VISID_TEST(test_clock_set_back),
	    VISID_TEST(test_identify_leaves_dir_unchanged))
