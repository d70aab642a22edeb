/*
 * What the files of store/ share: the open store, the sealed-record helpers
 * and the SQLite plumbing. Nothing here is public.
 */
#ifndef VISID_STORE_INTERNAL_H
#define VISID_STORE_INTERNAL_H

#include <sqlite3.h>
#include <sodium.h>

#include "visid/store.h"

#define STORE_DB_FILE "gallery.db"
#define STORE_KEY_FILE "device.key"
#define STORE_FORMAT 1
#define STORE_MAX_DAMAGED 64
#define STORE_MAX_IMAGE_BYTES (16u << 20)
#define STORE_VECTOR_BYTES (VISID_EMBED_DIM * 4)
#define STORE_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define STORE_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define STORE_SEAL_OVERHEAD (STORE_NONCE_BYTES + STORE_TAG_BYTES)

/* What a sealed record is, bound into its associated data so records cannot be swapped. */
enum store_field {
	STORE_FIELD_KEY_CHECK = 1,
	STORE_FIELD_MEMBER_KEY,
	STORE_FIELD_IMAGE,
	STORE_FIELD_VECTOR,
	STORE_FIELD_AVATAR,
};

struct visid_store {
	char *dir;
	char *db_path;
	sqlite3 *db;
	unsigned flags;
	uint8_t *device_key;	/* sodium_malloc: guarded, locked, wiped on free */
	char model_id[VISID_STORE_MODEL_ID_SIZE];
	int64_t expiry_seconds;	/* < 0: never; 0: use expiry_months */
	int expiry_months;
	int touch_interval;
	int64_t (*now)(void *ctx);
	void *now_ctx;
	int64_t data_version;	/* PRAGMA data_version when last asked */
	int64_t damaged[STORE_MAX_DAMAGED];
	int damaged_count;
};

/* crypto.c */
int store_device_key_load(struct visid_store *store, int create);
int store_seal(const uint8_t *key, enum store_field field, int64_t member, int pose,
	       const void *plain, size_t len, uint8_t **blob, size_t *blob_len);
int store_unseal(const uint8_t *key, enum store_field field, int64_t member, int pose,
		 const uint8_t *blob, size_t blob_len, void *plain, size_t cap, size_t *len);
int store_member_key_new(struct visid_store *store, int64_t member,
			 uint8_t key[VISID_STORE_KEY_BYTES], uint8_t **wrapped, size_t *len);
int store_member_key(struct visid_store *store, int64_t member,
		     uint8_t key[VISID_STORE_KEY_BYTES]);
void store_vector_to_le(const float *vec, uint8_t *bytes);
void store_vector_from_le(const uint8_t *bytes, float *vec);

/* store.c */
int store_sync_dir(const char *dir);
int store_sql_error(struct visid_store *store, int rc, const char *what);
int store_exec(struct visid_store *store, const char *sql, const char *what);
int store_prepare(struct visid_store *store, const char *sql, sqlite3_stmt **stmt);
int store_begin(struct visid_store *store, const char *what);
int store_commit(struct visid_store *store, const char *what);
void store_rollback(struct visid_store *store);
int64_t store_now(struct visid_store *store);
int store_data_version(struct visid_store *store, int64_t *version);
int store_set_meta(struct visid_store *store, const char *key, const char *value);
void store_mark_damaged(struct visid_store *store, int64_t id);
void store_clear_damaged(struct visid_store *store, int64_t id);
int store_is_damaged(const struct visid_store *store, int64_t id);

/* members.c */
int store_member_name(struct visid_store *store, int64_t id, char *name, size_t size);
int store_open_member_key(struct visid_store *store, int64_t id,
			  uint8_t key[VISID_STORE_KEY_BYTES]);
int store_unseal_vector(const uint8_t *key, int64_t id, int pose, sqlite3_stmt *stmt, int col,
			float vec[VISID_EMBED_DIM]);
void store_report_damage(struct visid_store *store, int64_t id, const char *record);
int store_verify_member(struct visid_store *store, int64_t id);
int store_delete_rows(struct visid_store *store, int64_t id);

/* maintain.c */
int store_revectorize(struct visid_store *store, const struct visid_store_options *opt,
		      const char *old_model);

#endif
