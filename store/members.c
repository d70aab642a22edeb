/*
 * Members and their pose slots: enrollment, replacement, deletion, listing
 * and the decrypted copies of their images. Every change is one transaction.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "visid/log.h"

/* Decodes one UTF-8 sequence; returns its length, or 0 when malformed. */
static int utf8_next(const unsigned char *s, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	int len;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		len = 2;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4;
	else
		return 0;
	*cp = s[0] & (0x7f >> len);
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min[len] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return len;
}

static int name_error(const char *name, const char *why)
{
	visid_err("member name '%s' is refused: %s", name, why);
	return -EINVAL;
}

int visid_store_check_name(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	int chars = 0;
	uint32_t cp = 0;

	if (!name || !*name)
		return name_error(name ? name : "", "it is empty");
	if (name[0] == ' ' || name[strlen(name) - 1] == ' ')
		return name_error(name, "it starts or ends with a space");
	while (*s) {
		int len = utf8_next(s, &cp);

		if (!len)
			return name_error("(not shown)", "it is not valid UTF-8");
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return name_error("(not shown)", "it holds a control character");
		s += len;
		if (++chars > VISID_STORE_NAME_CHARS)
			return name_error(name, "it is longer than 64 characters");
	}
	return 0;
}

int store_member_name(struct visid_store *store, int64_t id, char *name, size_t size)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT name FROM members WHERE id = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		snprintf(name, size, "%s", sqlite3_column_text(stmt, 0));
	else
		ret = rc == SQLITE_DONE ? -ENOENT : store_sql_error(store, rc, "reading a name");
	sqlite3_finalize(stmt);
	return ret;
}

static int no_member(struct visid_store *store, int64_t id)
{
	visid_err("gallery %s: no member with id %lld", store->dir, (long long)id);
	return -ENOENT;
}

void store_report_damage(struct visid_store *store, int64_t id, const char *record)
{
	char name[VISID_STORE_NAME_SIZE] = "?";

	store_member_name(store, id, name, sizeof(name));
	store_mark_damaged(store, id);
	visid_warn("member '%s' (id %lld) is damaged: its %s failed authentication (tampered "
		   "with or corrupt); it will not be recognised until it is deleted and "
		   "enrolled again", name, (long long)id, record);
}

/*
 * The member key: -ENOENT without such a member, -EBADMSG (reported, member
 * marked damaged) when its key is missing or cannot be unwrapped.
 */
int store_open_member_key(struct visid_store *store, int64_t id,
			  uint8_t key[VISID_STORE_KEY_BYTES])
{
	char name[VISID_STORE_NAME_SIZE];
	int ret = store_member_key(store, id, key);

	if (ret == -ENOENT && store_member_name(store, id, name, sizeof(name)) == -ENOENT)
		return -ENOENT;
	if (ret == -EBADMSG || ret == -ENOENT) {
		store_report_damage(store, id, ret == -ENOENT ? "key (missing)" : "key");
		return -EBADMSG;
	}
	return ret;
}

static int unseal_blob(const uint8_t *key, enum store_field field, int64_t id, int pose,
		       sqlite3_stmt *stmt, int col, uint8_t **plain, size_t *len)
{
	const uint8_t *blob = sqlite3_column_blob(stmt, col);
	size_t blob_len = (size_t)sqlite3_column_bytes(stmt, col);
	size_t cap = blob_len > STORE_SEAL_OVERHEAD ? blob_len - STORE_SEAL_OVERHEAD : 1;
	uint8_t *buf = malloc(cap);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = store_unseal(key, field, id, pose, blob, blob_len, buf, cap, len);
	if (ret) {
		free(buf);
		return ret;
	}
	*plain = buf;
	return 0;
}

int store_unseal_vector(const uint8_t *key, int64_t id, int pose, sqlite3_stmt *stmt, int col,
			float vec[VISID_EMBED_DIM])
{
	uint8_t bytes[STORE_VECTOR_BYTES];
	size_t len;
	int ret;

	ret = store_unseal(key, STORE_FIELD_VECTOR, id, pose, sqlite3_column_blob(stmt, col),
			   (size_t)sqlite3_column_bytes(stmt, col), bytes, sizeof(bytes), &len);
	if (!ret && len != sizeof(bytes))
		ret = -EBADMSG;
	if (!ret)
		store_vector_from_le(bytes, vec);
	sodium_memzero(bytes, sizeof(bytes));
	return ret;
}

static int verify_slots(struct visid_store *store, int64_t id, const uint8_t *key)
{
	float vec[VISID_EMBED_DIM];
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT pose, image, vector FROM slots WHERE member = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int pose = sqlite3_column_int(stmt, 0);
		char what[64];
		uint8_t *image;
		size_t len;

		ret = unseal_blob(key, STORE_FIELD_IMAGE, id, pose, stmt, 1, &image, &len);
		if (!ret) {
			visid_store_free_bytes(image, len);
			ret = store_unseal_vector(key, id, pose, stmt, 2, vec);
		}
		if (ret == -EBADMSG) {
			snprintf(what, sizeof(what), "%s pose record", visid_pose_name(pose));
			store_report_damage(store, id, what);
		}
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "reading the pose slots");
	sqlite3_finalize(stmt);
	sodium_memzero(vec, sizeof(vec));
	return ret;
}

static int verify_avatar(struct visid_store *store, int64_t id, const uint8_t *key)
{
	sqlite3_stmt *stmt;
	uint8_t *image;
	size_t len;
	int ret, rc;

	ret = store_prepare(store, "SELECT image FROM avatars WHERE member = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		ret = unseal_blob(key, STORE_FIELD_AVATAR, id, -1, stmt, 0, &image, &len);
		if (!ret)
			visid_store_free_bytes(image, len);
		else if (ret == -EBADMSG)
			store_report_damage(store, id, "avatar");
	} else if (rc != SQLITE_DONE) {
		ret = store_sql_error(store, rc, "reading an avatar");
	}
	sqlite3_finalize(stmt);
	return ret;
}

/* Authenticates every record of a member; 0, or -EBADMSG with the member marked damaged. */
int store_verify_member(struct visid_store *store, int64_t id)
{
	uint8_t key[VISID_STORE_KEY_BYTES];
	int ret;

	ret = store_open_member_key(store, id, key);
	if (ret)
		return ret;
	ret = verify_slots(store, id, key);
	if (!ret)
		ret = verify_avatar(store, id, key);
	sodium_memzero(key, sizeof(key));
	if (!ret)
		store_clear_damaged(store, id);
	return ret;
}

static int check_slot(const char *name, int pose, const struct visid_store_slot *slot)
{
	if (!slot->image_len || slot->image_len > STORE_MAX_IMAGE_BYTES) {
		visid_err("member '%s': the %s image is %zu bytes (1 to %u allowed)", name,
			  visid_pose_name(pose), slot->image_len, STORE_MAX_IMAGE_BYTES);
		return -EINVAL;
	}
	for (int i = 0; i < VISID_EMBED_DIM; i++) {
		if (!isfinite(slot->vector[i])) {
			visid_err("member '%s': the %s vector holds a NaN or infinity", name,
				  visid_pose_name(pose));
			return -EINVAL;
		}
	}
	return 0;
}

static int insert_blob(struct visid_store *store, const char *sql, int64_t id,
		       const uint8_t *blob, size_t len, const char *what)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, sql, &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_blob(stmt, 2, blob, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : store_sql_error(store, rc, what);
}

static int write_avatar(struct visid_store *store, int64_t id, const uint8_t *key,
			const uint8_t *avatar, size_t len)
{
	uint8_t *blob;
	size_t blob_len;
	int ret;

	if (!avatar)
		return insert_blob(store, "DELETE FROM avatars WHERE member = ?1 AND ?2 IS NULL",
				   id, NULL, 0, "removing an avatar");	/* ?2 binds NULL */
	ret = store_seal(key, STORE_FIELD_AVATAR, id, -1, avatar, len, &blob, &blob_len);
	if (ret)
		return ret;
	ret = insert_blob(store, "INSERT OR REPLACE INTO avatars(member, image) VALUES (?, ?)",
			  id, blob, blob_len, "writing an avatar");
	free(blob);
	return ret;
}

static int write_slot(struct visid_store *store, int64_t id, const uint8_t *key, int pose,
		      const struct visid_store_slot *slot)
{
	uint8_t vec[STORE_VECTOR_BYTES], *image = NULL, *vector = NULL;
	size_t image_len, vector_len;
	sqlite3_stmt *stmt = NULL;
	int ret, rc;

	store_vector_to_le(slot->vector, vec);
	ret = store_seal(key, STORE_FIELD_IMAGE, id, pose, slot->image, slot->image_len,
			 &image, &image_len);
	if (!ret)
		ret = store_seal(key, STORE_FIELD_VECTOR, id, pose, vec, sizeof(vec),
				 &vector, &vector_len);
	if (!ret)
		ret = store_prepare(store, "INSERT OR REPLACE INTO slots(member, pose, image, "
				    "vector, brightness, sharpness, face_width, score, model_id) "
				    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &stmt);
	if (ret)
		goto out_free;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int(stmt, 2, pose);
	sqlite3_bind_blob(stmt, 3, image, (int)image_len, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 4, vector, (int)vector_len, SQLITE_STATIC);
	sqlite3_bind_double(stmt, 5, slot->quality.brightness);
	sqlite3_bind_double(stmt, 6, slot->quality.sharpness);
	sqlite3_bind_double(stmt, 7, slot->quality.face_width);
	sqlite3_bind_double(stmt, 8, slot->quality.score);
	sqlite3_bind_text(stmt, 9, store->model_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "writing a pose slot");
out_free:
	sodium_memzero(vec, sizeof(vec));
	free(image);
	free(vector);
	return ret;
}

/* The first enrollment fixes the gallery's model; later ones must match it (open checks). */
static int write_model_id(struct visid_store *store, const char *name)
{
	if (!store->model_id[0]) {
		visid_err("cannot enroll '%s': no model id given to visid_store_open and none "
			  "in the gallery", name);
		return -EINVAL;
	}
	return store_set_meta(store, "model_id", store->model_id);
}

static int count_members(struct visid_store *store)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT count(*) FROM members", &stmt);
	if (ret)
		return ret;
	rc = sqlite3_step(stmt);
	ret = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) :
		store_sql_error(store, rc, "counting members");
	sqlite3_finalize(stmt);
	return ret;
}

static int insert_member(struct visid_store *store, const char *name, int64_t *id)
{
	sqlite3_stmt *stmt;
	int64_t now = store_now(store);
	int ret, rc;

	ret = count_members(store);
	if (ret >= VISID_STORE_MAX_MEMBERS) {
		visid_err("cannot enroll '%s': the gallery is full (at most %d members); delete "
			  "a member first", name, VISID_STORE_MAX_MEMBERS);
		return -ENOSPC;
	}
	if (ret < 0)
		return ret;
	ret = store_prepare(store, "INSERT INTO members(name, created, last_seen) "
			    "VALUES (?, ?, ?)", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, now);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		visid_err("cannot enroll '%s': a member of that name already exists", name);
		return -EEXIST;
	}
	if (rc != SQLITE_DONE)
		return store_sql_error(store, rc, "adding a member");
	*id = sqlite3_last_insert_rowid(store->db);
	return 0;
}

static int enroll_rows(struct visid_store *store, const char *name, const uint8_t *avatar,
		       size_t avatar_len, const struct visid_store_slot *slots, int64_t *id)
{
	uint8_t key[VISID_STORE_KEY_BYTES], *wrapped = NULL;
	size_t wrapped_len;
	int ret;

	ret = insert_member(store, name, id);
	if (!ret)
		ret = store_member_key_new(store, *id, key, &wrapped, &wrapped_len);
	if (ret)
		return ret;
	ret = insert_blob(store, "INSERT INTO keys(member, wrapped) VALUES (?, ?)", *id,
			  wrapped, wrapped_len, "storing a member key");
	for (int pose = 0; !ret && pose < VISID_POSE_COUNT; pose++)
		if (slots[pose].image)
			ret = write_slot(store, *id, key, pose, &slots[pose]);
	if (!ret && avatar)
		ret = write_avatar(store, *id, key, avatar, avatar_len);
	if (!ret)
		ret = write_model_id(store, name);
	sodium_memzero(key, sizeof(key));
	free(wrapped);
	return ret;
}

int visid_store_enroll(struct visid_store *store, const char *name,
		       const uint8_t *avatar, size_t avatar_len,
		       const struct visid_store_slot slots[VISID_POSE_COUNT], int64_t *id)
{
	int64_t new_id = 0;
	int ret, count = 0;

	ret = visid_store_check_name(name);
	if (ret)
		return ret;
	for (int pose = 0; pose < VISID_POSE_COUNT; pose++) {
		if (!slots[pose].image)
			continue;
		ret = check_slot(name, pose, &slots[pose]);
		if (ret)
			return ret;
		count++;
	}
	if (!count || (avatar && !avatar_len)) {
		visid_err("cannot enroll '%s': %s", name, count ? "the avatar is empty" :
			  "no pose image given");
		return -EINVAL;
	}

	ret = store_begin(store, "enroll a member");
	if (ret)
		return ret;
	ret = enroll_rows(store, name, avatar, avatar_len, slots, &new_id);
	if (ret) {
		store_rollback(store);
		return ret;
	}
	ret = store_commit(store, "enrolling a member");
	if (ret)
		return ret;
	visid_info("gallery %s: enrolled '%s' (id %lld) with %d pose%s", store->dir, name,
		   (long long)new_id, count, count == 1 ? "" : "s");
	if (id)
		*id = new_id;
	return 0;
}

/* Runs change() inside one transaction with the member's key unwrapped. */
static int with_member_key(struct visid_store *store, int64_t id, const char *what,
			   int (*change)(struct visid_store *, int64_t, const uint8_t *,
					 const void *),
			   const void *arg)
{
	uint8_t key[VISID_STORE_KEY_BYTES];
	int ret;

	ret = store_begin(store, what);
	if (ret)
		return ret;
	ret = store_open_member_key(store, id, key);
	if (ret == -ENOENT)
		ret = no_member(store, id);
	if (!ret)
		ret = change(store, id, key, arg);
	sodium_memzero(key, sizeof(key));
	if (ret) {
		store_rollback(store);
		return ret;
	}
	ret = store_commit(store, what);
	if (!ret && store_is_damaged(store, id))
		store_verify_member(store, id);
	return ret;
}

struct pose_change {
	int pose;
	const struct visid_store_slot *slot;
};

static int change_pose(struct visid_store *store, int64_t id, const uint8_t *key,
		       const void *arg)
{
	const struct pose_change *change = arg;
	int ret = write_slot(store, id, key, change->pose, change->slot);

	return ret ? ret : write_model_id(store, "(replaced pose)");
}

int visid_store_replace_pose(struct visid_store *store, int64_t id, enum visid_pose pose,
			     const struct visid_store_slot *slot)
{
	struct pose_change change = { pose, slot };
	char name[VISID_STORE_NAME_SIZE] = "?";
	int ret;

	if ((unsigned)pose >= VISID_POSE_COUNT || !slot || !slot->image) {
		visid_err("gallery %s: replacing a pose needs one of the five poses and an image",
			  store->dir);
		return -EINVAL;
	}
	store_member_name(store, id, name, sizeof(name));
	ret = check_slot(name, pose, slot);
	if (ret)
		return ret;
	return with_member_key(store, id, "replace a pose", change_pose, &change);
}

struct avatar_change {
	const uint8_t *bytes;
	size_t len;
};

static int change_avatar(struct visid_store *store, int64_t id, const uint8_t *key,
			 const void *arg)
{
	const struct avatar_change *change = arg;

	return write_avatar(store, id, key, change->bytes, change->len);
}

int visid_store_set_avatar(struct visid_store *store, int64_t id,
			   const uint8_t *avatar, size_t avatar_len)
{
	struct avatar_change change = { avatar, avatar_len };

	if (avatar && (!avatar_len || avatar_len > STORE_MAX_IMAGE_BYTES)) {
		visid_err("gallery %s: an avatar of %zu bytes is refused", store->dir, avatar_len);
		return -EINVAL;
	}
	return with_member_key(store, id, "set an avatar", change_avatar, &change);
}

/* Deletes a member's rows, its wrapped key first among them; returns rows of members deleted. */
int store_delete_rows(struct visid_store *store, int64_t id)
{
	static const char *const sql[] = {
		"DELETE FROM keys WHERE member = ?",
		"DELETE FROM slots WHERE member = ?",
		"DELETE FROM avatars WHERE member = ?",
		"DELETE FROM members WHERE id = ?",
	};
	sqlite3_stmt *stmt;
	int ret, rc;

	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		ret = store_prepare(store, sql[i], &stmt);
		if (ret)
			return ret;
		sqlite3_bind_int64(stmt, 1, id);
		rc = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			return store_sql_error(store, rc, "deleting a member");
	}
	return sqlite3_changes(store->db);
}

int visid_store_delete(struct visid_store *store, int64_t id)
{
	char name[VISID_STORE_NAME_SIZE];
	int ret;

	ret = store_begin(store, "delete a member");
	if (ret)
		return ret;
	ret = store_member_name(store, id, name, sizeof(name));
	if (ret == -ENOENT)
		ret = no_member(store, id);
	if (!ret)
		ret = store_delete_rows(store, id);
	if (ret < 0) {
		store_rollback(store);
		return ret;
	}
	ret = store_commit(store, "deleting a member");
	if (ret)
		return ret;
	store_clear_damaged(store, id);
	visid_info("gallery %s: deleted '%s' (id %lld) and destroyed its key", store->dir, name,
		   (long long)id);
	return 0;
}

int visid_store_delete_all(struct visid_store *store)
{
	int ret, count;

	ret = store_begin(store, "delete every member");
	if (ret)
		return ret;
	count = count_members(store);
	ret = count < 0 ? count : store_exec(store, "DELETE FROM keys; DELETE FROM slots;"
					     "DELETE FROM avatars; DELETE FROM members",
					     "deleting every member");
	if (ret) {
		store_rollback(store);
		return ret;
	}
	ret = store_commit(store, "deleting every member");
	if (ret)
		return ret;
	store->damaged_count = 0;
	visid_info("gallery %s: deleted all %d members and their keys", store->dir, count);
	return count;
}

static int read_slots(struct visid_store *store, struct visid_store_member *m)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT pose, brightness, sharpness, face_width, score, "
			    "model_id FROM slots WHERE member = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, m->id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int pose = sqlite3_column_int(stmt, 0);

		if (pose < 0 || pose >= VISID_POSE_COUNT)
			continue;
		m->slots |= VISID_STORE_SLOT_BIT(pose);
		m->quality[pose].brightness = (float)sqlite3_column_double(stmt, 1);
		m->quality[pose].sharpness = (float)sqlite3_column_double(stmt, 2);
		m->quality[pose].face_width = (float)sqlite3_column_double(stmt, 3);
		m->quality[pose].score = (float)sqlite3_column_double(stmt, 4);
		snprintf(m->model_id[pose], sizeof(m->model_id[pose]), "%s",
			 sqlite3_column_text(stmt, 5));
	}
	if (rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "reading the pose slots");
	sqlite3_finalize(stmt);
	return ret;
}

static const char member_columns[] =
	"SELECT id, name, created, last_seen, "
	"EXISTS (SELECT 1 FROM avatars WHERE member = id) FROM members ";

static int read_member(struct visid_store *store, sqlite3_stmt *stmt,
		       struct visid_store_member *m)
{
	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(stmt, 0);
	snprintf(m->name, sizeof(m->name), "%s", sqlite3_column_text(stmt, 1));
	m->created = sqlite3_column_int64(stmt, 2);
	m->last_seen = sqlite3_column_int64(stmt, 3);
	m->has_avatar = sqlite3_column_int(stmt, 4);
	m->damaged = store_is_damaged(store, m->id);
	return read_slots(store, m);
}

int visid_store_list(struct visid_store *store, struct visid_store_member *members, int max)
{
	char sql[256];
	sqlite3_stmt *stmt;
	int ret, rc, n = 0;

	snprintf(sql, sizeof(sql), "%sORDER BY id", member_columns);
	ret = store_prepare(store, sql, &stmt);
	if (ret)
		return ret;
	while (n < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		ret = read_member(store, stmt, &members[n++]);
		if (ret)
			break;
	}
	if (!ret && n < max && rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "listing members");
	sqlite3_finalize(stmt);
	return ret ? ret : n;
}

static int get_member(struct visid_store *store, const char *where, int64_t id,
		      const char *name, struct visid_store_member *member)
{
	char sql[256];
	sqlite3_stmt *stmt;
	int ret, rc;

	snprintf(sql, sizeof(sql), "%s%s", member_columns, where);
	ret = store_prepare(store, sql, &stmt);
	if (ret)
		return ret;
	if (name)
		sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		ret = read_member(store, stmt, member);
	else
		ret = rc == SQLITE_DONE ? -ENOENT : store_sql_error(store, rc, "finding a member");
	sqlite3_finalize(stmt);
	return ret;
}

/* -ENOENT without a log message: "is there such a member" is a normal question. */
int visid_store_find(struct visid_store *store, const char *name,
		     struct visid_store_member *member)
{
	return get_member(store, "WHERE name = ?", 0, name, member);
}

int visid_store_get(struct visid_store *store, int64_t id, struct visid_store_member *member)
{
	return get_member(store, "WHERE id = ?", id, NULL, member);
}

static int read_sealed(struct visid_store *store, int64_t id, int pose, uint8_t **bytes,
		       size_t *len)
{
	enum store_field field = pose < 0 ? STORE_FIELD_AVATAR : STORE_FIELD_IMAGE;
	uint8_t key[VISID_STORE_KEY_BYTES];
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_open_member_key(store, id, key);
	if (ret)
		return ret;
	ret = store_prepare(store, pose < 0 ? "SELECT image FROM avatars WHERE member = ?" :
			    "SELECT image FROM slots WHERE member = ? AND pose = ?", &stmt);
	if (ret)
		goto out_wipe;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int(stmt, 2, pose);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		ret = unseal_blob(key, field, id, pose, stmt, 0, bytes, len);
		if (ret == -EBADMSG)
			store_report_damage(store, id, pose < 0 ? "avatar" : "pose image");
	} else {
		ret = rc == SQLITE_DONE ? -ENOENT : store_sql_error(store, rc, "reading an image");
	}
	sqlite3_finalize(stmt);
out_wipe:
	sodium_memzero(key, sizeof(key));
	return ret;
}

int visid_store_get_image(struct visid_store *store, int64_t id, enum visid_pose pose,
			  uint8_t **bytes, size_t *len)
{
	if ((unsigned)pose >= VISID_POSE_COUNT)
		return -EINVAL;
	return read_sealed(store, id, pose, bytes, len);
}

int visid_store_get_avatar(struct visid_store *store, int64_t id, uint8_t **bytes, size_t *len)
{
	return read_sealed(store, id, -1, bytes, len);
}

void visid_store_free_bytes(uint8_t *bytes, size_t len)
{
	if (!bytes)
		return;
	sodium_memzero(bytes, len);
	free(bytes);
}
