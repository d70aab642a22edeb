/*
 * What happens to the gallery after enrollment: loading the vectors for
 * matching (read only), recording recognitions, deleting the members not
 * seen within the expiry, and recomputing every vector when the model changes.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "visid/log.h"

struct slot_ref {
	int64_t member;
	int pose;
};

/* The slots of undamaged members, gathered first so no query runs across the updates. */
static int collect_slots(struct visid_store *store, struct slot_ref **refs, int *count)
{
	sqlite3_stmt *stmt;
	int ret, rc, n = 0, cap = 0;
	struct slot_ref *list = NULL, *grown;

	ret = store_prepare(store, "SELECT member, pose FROM slots ORDER BY member, pose", &stmt);
	if (ret)
		return ret;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t member = sqlite3_column_int64(stmt, 0);

		if (store_is_damaged(store, member))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			list = grown;
		}
		list[n].member = member;
		list[n++].pose = sqlite3_column_int(stmt, 1);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "listing the pose slots");
	sqlite3_finalize(stmt);
	if (ret) {
		free(list);
		return ret;
	}
	*refs = list;
	*count = n;
	return 0;
}

static int read_image(struct visid_store *store, const struct slot_ref *ref, const uint8_t *key,
		      uint8_t **image, size_t *len)
{
	sqlite3_stmt *stmt;
	const uint8_t *blob;
	size_t blob_len;
	int ret, rc;

	ret = store_prepare(store, "SELECT image FROM slots WHERE member = ? AND pose = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, ref->member);
	sqlite3_bind_int(stmt, 2, ref->pose);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		ret = store_sql_error(store, rc, "reading an image");
		goto out_finalize;
	}
	blob = sqlite3_column_blob(stmt, 0);
	blob_len = (size_t)sqlite3_column_bytes(stmt, 0);
	*image = malloc(blob_len > STORE_SEAL_OVERHEAD ? blob_len - STORE_SEAL_OVERHEAD : 1);
	if (!*image) {
		ret = -ENOMEM;
		goto out_finalize;
	}
	ret = store_unseal(key, STORE_FIELD_IMAGE, ref->member, ref->pose, blob, blob_len,
			   *image, blob_len - STORE_SEAL_OVERHEAD, len);
	if (ret) {
		free(*image);
		store_report_damage(store, ref->member, "pose image");
	}
out_finalize:
	sqlite3_finalize(stmt);
	return ret;
}

static int write_vector(struct visid_store *store, const struct slot_ref *ref,
			const uint8_t *key, const float *vec)
{
	uint8_t bytes[STORE_VECTOR_BYTES], *blob;
	sqlite3_stmt *stmt;
	size_t blob_len;
	int ret, rc;

	store_vector_to_le(vec, bytes);
	ret = store_seal(key, STORE_FIELD_VECTOR, ref->member, ref->pose, bytes, sizeof(bytes),
			 &blob, &blob_len);
	sodium_memzero(bytes, sizeof(bytes));
	if (ret)
		return ret;
	ret = store_prepare(store, "UPDATE slots SET vector = ?, model_id = ? "
			    "WHERE member = ? AND pose = ?", &stmt);
	if (!ret) {
		sqlite3_bind_blob(stmt, 1, blob, (int)blob_len, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, store->model_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, ref->member);
		sqlite3_bind_int(stmt, 4, ref->pose);
		rc = sqlite3_step(stmt);
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			ret = store_sql_error(store, rc, "writing a vector");
	}
	free(blob);
	return ret;
}

static int embed_slot(struct visid_store *store, const struct visid_store_options *opt,
		      const struct slot_ref *ref, const uint8_t *key)
{
	char name[VISID_STORE_NAME_SIZE] = "?";
	float vec[VISID_EMBED_DIM];
	uint8_t *image = NULL;
	size_t len = 0;
	int ret;

	ret = read_image(store, ref, key, &image, &len);
	if (ret)
		return ret;
	ret = opt->embed(opt->embed_ctx, image, len, vec);
	visid_store_free_bytes(image, len);
	for (int i = 0; !ret && i < VISID_EMBED_DIM; i++)
		if (!isfinite(vec[i]))
			ret = -EINVAL;
	if (!ret)
		ret = write_vector(store, ref, key, vec);
	sodium_memzero(vec, sizeof(vec));
	if (ret) {
		store_member_name(store, ref->member, name, sizeof(name));
		visid_err("gallery %s: recomputing the %s vector of '%s' failed: %s", store->dir,
			  visid_pose_name(ref->pose), name, strerror(-ret));
	}
	return ret;
}

static int revectorize_slots(struct visid_store *store, const struct visid_store_options *opt,
			     const struct slot_ref *refs, int count)
{
	uint8_t key[VISID_STORE_KEY_BYTES];
	int64_t keyed = -1;
	int ret = 0;

	for (int i = 0; !ret && i < count; i++) {
		if (refs[i].member != keyed) {
			ret = store_open_member_key(store, refs[i].member, key);
			if (ret)
				break;
			keyed = refs[i].member;
		}
		ret = embed_slot(store, opt, &refs[i], key);
		if (!ret && opt->progress)
			opt->progress(opt->progress_ctx, i + 1, count);
	}
	sodium_memzero(key, sizeof(key));
	return ret;
}

/*
 * Recomputes every vector of the undamaged members with the new model, in one
 * transaction: a crash or a failing image leaves the gallery on the old model.
 */
int store_revectorize(struct visid_store *store, const struct visid_store_options *opt,
		      const char *old_model)
{
	struct slot_ref *refs = NULL;
	int ret, count = 0;

	visid_info("gallery %s: model changed from %s to %s; recomputing the vectors",
		   store->dir, old_model, opt->model_id);
	ret = store_begin(store, "recompute the vectors");
	if (ret)
		return ret;
	ret = collect_slots(store, &refs, &count);
	if (ret)
		goto out_rollback;
	snprintf(store->model_id, sizeof(store->model_id), "%s", opt->model_id);
	if (opt->progress)
		opt->progress(opt->progress_ctx, 0, count);
	ret = revectorize_slots(store, opt, refs, count);
	if (!ret)
		ret = store_set_meta(store, "model_id", store->model_id);
	if (ret)
		goto out_rollback;
	ret = store_commit(store, "recomputing the vectors");
	if (ret)
		goto out_restore;
	free(refs);
	visid_info("gallery %s: %d vectors recomputed with model %s", store->dir, count,
		   store->model_id);
	return 0;

out_rollback:
	store_rollback(store);
out_restore:
	snprintf(store->model_id, sizeof(store->model_id), "%s", old_model);
	free(refs);
	visid_err("gallery %s: the vectors were left on model %s", store->dir, old_model);
	return ret;
}

static int64_t add_months(int64_t t, int months)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	tm.tm_year += months / 12;
	tm.tm_mon += months % 12;
	return (int64_t)timegm(&tm);
}

static int expired(const struct visid_store *store, int64_t last_seen, int64_t now)
{
	if (store->expiry_seconds < 0)
		return 0;
	if (store->expiry_seconds > 0)
		return now - last_seen >= store->expiry_seconds;
	return now >= add_months(last_seen, store->expiry_months);
}

/*
 * A device without a real-time clock may boot at 1970, or in the past of
 * its own gallery: deleting on such a clock would delete members who were
 * just seen. Expiry waits until the clock reads later than every time the
 * gallery recorded.
 */
static int clock_plausible(struct visid_store *store, int64_t now)
{
	sqlite3_stmt *stmt;
	int64_t newest = 0;

	if (store_prepare(store, "SELECT max(max(created), max(last_seen)) FROM members", &stmt))
		return 0;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		newest = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (now >= newest)
		return 1;
	visid_warn("gallery %s: the clock reads %lld, before the gallery's last record %lld; "
		   "no member expires until it is set", store->dir, (long long)now,
		   (long long)newest);
	return 0;
}

static int collect_expired(struct visid_store *store, int64_t *ids, int max)
{
	int64_t now = store_now(store);
	sqlite3_stmt *stmt;
	int ret, rc, n = 0;

	if (!clock_plausible(store, now))
		return 0;
	ret = store_prepare(store, "SELECT id, last_seen FROM members ORDER BY id", &stmt);
	if (ret)
		return ret;
	while (n < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		if (expired(store, sqlite3_column_int64(stmt, 1), now))
			ids[n++] = sqlite3_column_int64(stmt, 0);
	if (n < max && rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "reading the members");
	sqlite3_finalize(stmt);
	return ret ? ret : n;
}

/* Writes nothing when nobody expired, so opening an up-to-date gallery changes no file. */
int visid_store_expire(struct visid_store *store)
{
	int64_t ids[STORE_MAX_DAMAGED];
	char names[STORE_MAX_DAMAGED][VISID_STORE_NAME_SIZE];
	int ret, n;

	if (store->expiry_seconds < 0)
		return 0;
	n = collect_expired(store, ids, STORE_MAX_DAMAGED);
	if (n <= 0)
		return n;
	ret = store_begin(store, "delete the expired members");
	for (int i = 0; !ret && i < n; i++) {
		store_member_name(store, ids[i], names[i], sizeof(names[i]));
		ret = store_delete_rows(store, ids[i]);
		ret = ret < 0 ? ret : 0;
	}
	if (ret) {
		store_rollback(store);
		return ret;
	}
	ret = store_commit(store, "deleting the expired members");
	if (ret)
		return ret;
	for (int i = 0; i < n; i++) {
		store_clear_damaged(store, ids[i]);
		visid_warn("gallery %s: deleted '%s' (id %lld): not recognised within the expiry",
			   store->dir, names[i], (long long)ids[i]);
	}
	return n;
}

static int read_last_seen(struct visid_store *store, int64_t id, int64_t *last_seen)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT last_seen FROM members WHERE id = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*last_seen = sqlite3_column_int64(stmt, 0);
	else
		ret = rc == SQLITE_DONE ? -ENOENT : store_sql_error(store, rc, "reading a member");
	sqlite3_finalize(stmt);
	return ret;
}

/*
 * One UPDATE in its own transaction, rewriting the members table's one page.
 * A read-only store lifts query_only for this statement alone.
 */
int visid_store_touch(struct visid_store *store, int64_t id)
{
	int read_only = !!(store->flags & VISID_STORE_READ_ONLY);
	int64_t now = store_now(store), last_seen = 0;
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = read_last_seen(store, id, &last_seen);
	if (ret)
		return ret;
	/* Never backwards: a clock that went back must not age a member. */
	if (now - last_seen < store->touch_interval)
		return 0;
	ret = store_prepare(store, "UPDATE members SET last_seen = ? WHERE id = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, id);
	if (read_only)
		ret = store_exec(store, "PRAGMA query_only = OFF", "recording a recognition");
	if (!ret) {
		rc = sqlite3_step(stmt);
		if (rc != SQLITE_DONE)
			ret = store_sql_error(store, rc, "recording a recognition");
	}
	sqlite3_finalize(stmt);
	if (read_only)
		sqlite3_exec(store->db, "PRAGMA query_only = ON", NULL, NULL, NULL);
	return ret;
}

static int load_vectors(struct visid_store *store, struct visid_store_gallery_entry *entry)
{
	uint8_t key[VISID_STORE_KEY_BYTES];
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_open_member_key(store, entry->id, key);
	if (ret)
		return ret;
	ret = store_prepare(store, "SELECT pose, vector FROM slots WHERE member = ? "
			    "AND model_id = ?", &stmt);
	if (ret)
		goto out_wipe;
	sqlite3_bind_int64(stmt, 1, entry->id);
	sqlite3_bind_text(stmt, 2, store->model_id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int pose = sqlite3_column_int(stmt, 0);

		if (pose < 0 || pose >= VISID_POSE_COUNT)
			continue;
		ret = store_unseal_vector(key, entry->id, pose, stmt, 1, entry->vectors[pose]);
		if (ret) {
			store_report_damage(store, entry->id, "vector");
			break;
		}
		entry->slots |= VISID_STORE_SLOT_BIT(pose);
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "reading vectors");
	sqlite3_finalize(stmt);
out_wipe:
	sodium_memzero(key, sizeof(key));
	return ret;
}

int visid_store_load_gallery(struct visid_store *store, struct visid_store_gallery *gallery)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	memset(gallery, 0, sizeof(*gallery));
	ret = store_prepare(store, "SELECT id, name FROM members ORDER BY id", &stmt);
	if (ret)
		return ret;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW &&
	       gallery->count < VISID_STORE_MAX_MEMBERS) {
		struct visid_store_gallery_entry *entry = &gallery->members[gallery->count];

		entry->id = sqlite3_column_int64(stmt, 0);
		snprintf(entry->name, sizeof(entry->name), "%s", sqlite3_column_text(stmt, 1));
		ret = store_is_damaged(store, entry->id) ? -EBADMSG : load_vectors(store, entry);
		if (ret == -EBADMSG)
			gallery->damaged++;
		if (!ret && entry->slots) {
			gallery->count++;
			continue;
		}
		sodium_memzero(entry, sizeof(*entry));
		if (ret && ret != -EBADMSG)
			break;
		ret = 0;
	}
	if (!ret && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = store_sql_error(store, rc, "loading the gallery");
	sqlite3_finalize(stmt);
	if (ret)
		visid_store_gallery_wipe(gallery);
	return ret ? ret : gallery->count;
}

void visid_store_gallery_wipe(struct visid_store_gallery *gallery)
{
	if (gallery)
		sodium_memzero(gallery, sizeof(*gallery));
}
