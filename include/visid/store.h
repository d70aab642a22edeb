/*
 * The on-device gallery: enrolled members, their enrollment images and face
 * vectors, kept in one SQLite database in a private state directory. Images
 * and vectors are encrypted at rest (XChaCha20-Poly1305, a key per member
 * wrapped by the device key); every change is one transaction; members not
 * recognised for 18 months are deleted. docs/STORE.md gives the format.
 *
 * Errors: functions return 0 (or a count) or a negative errno, and log a
 * message naming the state directory or member and the cause:
 *   -EACCES       the state directory or a file in it is open to other users
 *   -ENOENT       no gallery there (and VISID_STORE_CREATE not given), no such member
 *   -EEXIST       a member of that name already exists
 *   -ENOSPC       the gallery is full (VISID_STORE_MAX_MEMBERS), or the disk is
 *   -EINVAL       a bad name, a missing image or vector, a bad option
 *   -EBADMSG      the database is damaged (not SQLite, integrity check failed),
 *                 or a member's record failed authentication (the member is damaged)
 *   -EKEYREJECTED the device key does not open this gallery
 *   -ESTALE       the vectors come from another model and cannot be recomputed here
 *   -EROFS        a change asked of a store opened VISID_STORE_READ_ONLY
 *   -EIO          SQLite or the filesystem failed
 */
#ifndef VISID_STORE_H
#define VISID_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "visid/face.h"

#define VISID_STORE_DEFAULT_DIR "/var/lib/visid"
#define VISID_STORE_MAX_MEMBERS 10
#define VISID_STORE_NAME_CHARS 64			/* UTF-8 characters, not bytes */
#define VISID_STORE_NAME_SIZE (VISID_STORE_NAME_CHARS * 4 + 1)
#define VISID_STORE_KEY_BYTES 32
#define VISID_STORE_MODEL_ID_SIZE 65			/* hex string and its NUL */
#define VISID_STORE_EXPIRY_MONTHS 18

/* A pose slot's bit in visid_store_member.slots and visid_store_gallery_entry.slots. */
#define VISID_STORE_SLOT_BIT(pose) (1u << (pose))

enum visid_store_flags {
	/* Create the directory (0700), the key file and the database when missing. */
	VISID_STORE_CREATE = 1 << 0,
	/*
	 * The identify path: no expiry and no re-vectorisation on open (a model
	 * mismatch fails with -ESTALE), and nothing is ever written except by
	 * visid_store_touch. Loading the gallery leaves every file unchanged.
	 */
	VISID_STORE_READ_ONLY = 1 << 1,
};

struct visid_store_options {
	/* NULL: $VISID_STATE_DIR, else VISID_STORE_DEFAULT_DIR. */
	const char *dir;
	unsigned flags;			/* enum visid_store_flags */

	/*
	 * VISID_STORE_KEY_BYTES from the embedding system (a secure element);
	 * NULL: the key file in the state directory, created with the gallery.
	 */
	const uint8_t *device_key;

	/*
	 * The current model's id (visid_face_model_id). NULL: no check, and
	 * enrollment uses the gallery's model. When the gallery's vectors come
	 * from another model, opening recomputes them all from the stored images
	 * with embed, in one transaction, reporting progress; without embed (or
	 * read-only) the open fails with -ESTALE.
	 */
	const char *model_id;
	int (*embed)(void *ctx, const uint8_t *image, size_t len, float vec[VISID_EMBED_DIM]);
	void *embed_ctx;
	void (*progress)(void *ctx, int done, int total);
	void *progress_ctx;

	/*
	 * Members not recognised for this long are deleted, on open and by
	 * visid_store_expire. Seconds win over months when both are set; both 0:
	 * VISID_STORE_EXPIRY_MONTHS calendar months; a negative value: never.
	 */
	int64_t expiry_seconds;
	int expiry_months;

	/* Seconds between two writes of one member's last-recognised time; 0: 3600. */
	int touch_interval;

	/* The clock in Unix seconds (tests inject one); NULL: time(). */
	int64_t (*now)(void *ctx);
	void *now_ctx;
};

struct visid_store;

struct visid_store_quality {
	float brightness;	/* mean luma of the face, 0..255 */
	float sharpness;	/* visid_face.sharpness */
	float face_width;	/* pixels */
	float score;		/* detector score */
};

/* One pose of an enrollment. */
struct visid_store_slot {
	const uint8_t *image;	/* encoded PNG/JPEG bytes; NULL: this pose is not enrolled */
	size_t image_len;
	float vector[VISID_EMBED_DIM];
	struct visid_store_quality quality;
};

struct visid_store_member {
	int64_t id;
	char name[VISID_STORE_NAME_SIZE];
	int64_t created;	/* Unix seconds */
	int64_t last_seen;	/* last recognised; the enrollment time until then */
	unsigned slots;		/* VISID_STORE_SLOT_BIT of each enrolled pose */
	struct visid_store_quality quality[VISID_POSE_COUNT];
	char model_id[VISID_POSE_COUNT][VISID_STORE_MODEL_ID_SIZE];	/* per enrolled pose */
	int has_avatar;
	/* A record failed authentication (tampered or corrupt): not matched. */
	int damaged;
};

/* What the matcher needs: decrypted vectors, wiped by visid_store_gallery_wipe. */
struct visid_store_gallery_entry {
	int64_t id;
	char name[VISID_STORE_NAME_SIZE];
	unsigned slots;		/* the poses whose vectors are valid */
	float vectors[VISID_POSE_COUNT][VISID_EMBED_DIM];
};

struct visid_store_gallery {
	int count;
	int damaged;		/* members left out because a record failed authentication */
	struct visid_store_gallery_entry members[VISID_STORE_MAX_MEMBERS];
};

/*
 * Opens (or creates) the gallery. Refuses a state directory or file that
 * group or others may access, and a damaged database (never recreated).
 * Verifies every record; a member whose record fails authentication is
 * marked damaged and named in a warning, the others work.
 */
int visid_store_open(const struct visid_store_options *opt, struct visid_store **out);
void visid_store_close(struct visid_store *store);

const char *visid_store_dir(const struct visid_store *store);
/* The model of the gallery's vectors; "" before the first enrollment. */
const char *visid_store_model_id(const struct visid_store *store);

/* Checks a member name: 1..64 UTF-8 characters, no control characters. 0 or -EINVAL. */
int visid_store_check_name(const char *name);

/*
 * Enrolls a member with every given pose (at least one; fewer than five is
 * allowed here, the CLI gates it) and the optional avatar, in one
 * transaction. *id receives the new member's id when id is not NULL.
 */
int visid_store_enroll(struct visid_store *store, const char *name,
		       const uint8_t *avatar, size_t avatar_len,
		       const struct visid_store_slot slots[VISID_POSE_COUNT], int64_t *id);
/* Replaces (or adds) one pose of a member, in one transaction. */
int visid_store_replace_pose(struct visid_store *store, int64_t id, enum visid_pose pose,
			     const struct visid_store_slot *slot);
/* Sets the avatar; NULL removes it. */
int visid_store_set_avatar(struct visid_store *store, int64_t id,
			   const uint8_t *avatar, size_t avatar_len);
/* Deletes a member and destroys its key. */
int visid_store_delete(struct visid_store *store, int64_t id);
/* Deletes every member and key; returns how many members there were. */
int visid_store_delete_all(struct visid_store *store);

/* Members in enrollment order; returns the count (<= max) or -errno. */
int visid_store_list(struct visid_store *store, struct visid_store_member *members, int max);
int visid_store_find(struct visid_store *store, const char *name,
		     struct visid_store_member *member);
int visid_store_get(struct visid_store *store, int64_t id, struct visid_store_member *member);

/*
 * Decrypted copies of a pose's enrollment image or of the avatar; release
 * them with visid_store_free_bytes, which wipes them.
 */
int visid_store_get_image(struct visid_store *store, int64_t id, enum visid_pose pose,
			  uint8_t **bytes, size_t *len);
int visid_store_get_avatar(struct visid_store *store, int64_t id, uint8_t **bytes, size_t *len);
void visid_store_free_bytes(uint8_t *bytes, size_t len);

/*
 * Every undamaged member's vectors of the gallery's model, for matching.
 * Reads only: the state directory stays byte-for-byte unchanged.
 */
int visid_store_load_gallery(struct visid_store *store, struct visid_store_gallery *gallery);
void visid_store_gallery_wipe(struct visid_store_gallery *gallery);

/*
 * Records that a member was recognised now: one small transaction, skipped
 * when the stored time is younger than touch_interval. Allowed read-only.
 */
int visid_store_touch(struct visid_store *store, int64_t id);

/*
 * 1 when another process (the CLI, the control interface) changed the
 * gallery since the previous call or since open, else 0: a long-running
 * reader reloads its gallery then. Costs one read of the database header.
 */
int visid_store_changed(struct visid_store *store);

/* Deletes the members not recognised within the expiry; returns how many. */
int visid_store_expire(struct visid_store *store);

#endif
