/*
 * Opening the gallery: the state directory and its permissions, the SQLite
 * database (rollback journal, synchronous=FULL, secure_delete), its integrity
 * and format, the device key, then the per-member verification and the
 * maintenance an open does (re-vectorisation, expiry).
 *
 * A rollback journal, not WAL: a reader then creates no file at all (WAL
 * needs -wal and -shm files even to read), so the identify path leaves the
 * directory as it found it, and a write is one journal file that exists only
 * while its transaction does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "visid/log.h"

static const char *const schema =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value NOT NULL);"
	"CREATE TABLE members(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE TABLE keys(member INTEGER PRIMARY KEY, wrapped BLOB NOT NULL);"
	"CREATE TABLE avatars(member INTEGER PRIMARY KEY, image BLOB NOT NULL);"
	"CREATE TABLE slots(member INTEGER NOT NULL, pose INTEGER NOT NULL"
	" CHECK (pose BETWEEN 0 AND 4), image BLOB NOT NULL, vector BLOB NOT NULL,"
	" brightness REAL NOT NULL, sharpness REAL NOT NULL, face_width REAL NOT NULL,"
	" score REAL NOT NULL, model_id TEXT NOT NULL, UNIQUE (member, pose));";

static const char key_check_text[] = "visid gallery key check";

int store_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * SQLite reports a short write as SQLITE_FULL and other write failures as
 * SQLITE_IOERR; the cause is the system's errno where SQLite kept one, else
 * the state of the filesystem and of the process's file size limit.
 */
static int write_failure(struct visid_store *store, int rc, char *why, size_t len)
{
	int err = store->db ? sqlite3_system_errno(store->db) : 0;
	struct rlimit lim = { RLIM_INFINITY, RLIM_INFINITY };
	struct statvfs fs;

	getrlimit(RLIMIT_FSIZE, &lim);
	/*
	 * SQLite does not always keep the errno of a failed write. One that
	 * fails with room left on the disk under a file size limit (as a
	 * service manager may set) was stopped by that limit.
	 */
	if (!err && (rc == SQLITE_FULL || rc == SQLITE_IOERR_WRITE) &&
	    lim.rlim_cur != RLIM_INFINITY && !statvfs(store->dir, &fs) && fs.f_bavail > 0)
		err = EFBIG;
	switch (err) {
	case 0:
		break;
	case ENOSPC:
	case EDQUOT:
		snprintf(why, len, "the disk is full (%s)", strerror(err));
		return -ENOSPC;
	case EFBIG:
		snprintf(why, len, "a file reached the process's file size limit (%llu bytes, "
			 "RLIMIT_FSIZE)",
			 (unsigned long long)lim.rlim_cur);
		return -EFBIG;
	default:
		snprintf(why, len, "%s (%s)", sqlite3_errstr(rc), strerror(err));
		return -err;
	}
	if ((rc & 0xff) == SQLITE_FULL) {
		snprintf(why, len, "the disk is full");
		return -ENOSPC;
	}
	snprintf(why, len, "%s", sqlite3_errstr(rc));
	return -EIO;
}

int store_sql_error(struct visid_store *store, int rc, const char *what)
{
	char why[160];
	int ret;

	switch (rc & 0xff) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
		ret = write_failure(store, rc, why, sizeof(why));
		visid_err("gallery %s: %s failed: %s", store->db_path, what, why);
		return ret;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		ret = -EBADMSG;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		ret = -EBUSY;
		break;
	case SQLITE_READONLY:
		ret = -EROFS;
		break;
	case SQLITE_NOMEM:
		ret = -ENOMEM;
		break;
	case SQLITE_CONSTRAINT:
		ret = -EEXIST;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		ret = -EACCES;
		break;
	default:
		ret = -EIO;
		break;
	}
	visid_err("gallery %s: %s failed: %s", store->db_path, what,
		  store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc));
	return ret;
}

int store_exec(struct visid_store *store, const char *sql, const char *what)
{
	int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_sql_error(store, rc, what);
}

int store_prepare(struct visid_store *store, const char *sql, sqlite3_stmt **stmt)
{
	int rc = sqlite3_prepare_v2(store->db, sql, -1, stmt, NULL);

	return rc == SQLITE_OK ? 0 : store_sql_error(store, rc, "preparing a query");
}

/* IMMEDIATE: take the write lock first, so the transaction never fails halfway on BUSY. */
int store_begin(struct visid_store *store, const char *what)
{
	if (store->flags & VISID_STORE_READ_ONLY) {
		visid_err("gallery %s is open read-only: cannot %s", store->db_path, what);
		return -EROFS;
	}
	return store_exec(store, "BEGIN IMMEDIATE", what);
}

int store_commit(struct visid_store *store, const char *what)
{
	int ret = store_exec(store, "COMMIT", what);

	if (ret)
		store_rollback(store);
	return ret;
}

void store_rollback(struct visid_store *store)
{
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

int64_t store_now(struct visid_store *store)
{
	return store->now ? store->now(store->now_ctx) : (int64_t)time(NULL);
}

int store_set_meta(struct visid_store *store, const char *key, const char *value)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : store_sql_error(store, rc, "writing the gallery's metadata");
}

/* Copies a meta value (text or blob) into buf; -ENOENT when absent. */
static int get_meta(struct visid_store *store, const char *key, void *buf, size_t size,
		    size_t *len)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT value FROM meta WHERE key = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(stmt, 0);
		const void *v = sqlite3_column_blob(stmt, 0);

		if (n >= size) {
			ret = -EBADMSG;
		} else {
			memcpy(buf, v ? v : "", n);
			((char *)buf)[n] = 0;
			*len = n;
		}
	} else {
		ret = rc == SQLITE_DONE ? -ENOENT : store_sql_error(store, rc, "reading metadata");
	}
	sqlite3_finalize(stmt);
	return ret;
}

int store_data_version(struct visid_store *store, int64_t *version)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "PRAGMA data_version", &stmt);
	if (ret)
		return ret;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(stmt, 0);
	else
		ret = store_sql_error(store, rc, "reading the data version");
	sqlite3_finalize(stmt);
	return ret;
}

int visid_store_changed(struct visid_store *store)
{
	int64_t version;
	int ret = store_data_version(store, &version);

	if (ret)
		return ret;
	ret = version != store->data_version;
	store->data_version = version;
	return ret;
}

void store_mark_damaged(struct visid_store *store, int64_t id)
{
	if (store_is_damaged(store, id) || store->damaged_count >= STORE_MAX_DAMAGED)
		return;
	store->damaged[store->damaged_count++] = id;
}

void store_clear_damaged(struct visid_store *store, int64_t id)
{
	for (int i = 0; i < store->damaged_count; i++)
		if (store->damaged[i] == id)
			store->damaged[i--] = store->damaged[--store->damaged_count];
}

int store_is_damaged(const struct visid_store *store, int64_t id)
{
	for (int i = 0; i < store->damaged_count; i++)
		if (store->damaged[i] == id)
			return 1;
	return 0;
}

static const char *private_mode_hint(mode_t mode)
{
	if (mode & 022)
		return "group or others may write it";
	return "group or others may read it";
}

/* The directory must exist (or be created 0700) and be closed to group and others. */
static int check_dir(struct visid_store *store, int create)
{
	struct stat st;

	if (stat(store->dir, &st)) {
		if (errno != ENOENT || !create) {
			visid_err("state directory %s: %s", store->dir, strerror(errno));
			return errno == ENOENT ? -ENOENT : -errno;
		}
		if (mkdir(store->dir, 0700) && errno != EEXIST) {
			visid_err("cannot create state directory %s: %s", store->dir,
				  strerror(errno));
			return -errno;
		}
		/* The umask may have taken owner bits away; never adds any. */
		chmod(store->dir, 0700);
		if (stat(store->dir, &st)) {
			visid_err("state directory %s: %s", store->dir, strerror(errno));
			return -errno;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		visid_err("state directory %s is not a directory", store->dir);
		return -ENOTDIR;
	}
	if (st.st_mode & 077) {
		visid_err("state directory %s has mode %04o: %s; refusing to use it "
			  "(chmod 700 it, and check who had access)", store->dir,
			  (unsigned)(st.st_mode & 07777), private_mode_hint(st.st_mode));
		return -EACCES;
	}
	/* Whoever owns it could replace the database or the key under us. */
	if (st.st_uid != geteuid()) {
		visid_err("state directory %s belongs to uid %u, not to this user (uid %u); "
			  "refusing to use it", store->dir, (unsigned)st.st_uid,
			  (unsigned)geteuid());
		return -EACCES;
	}
	return 0;
}

/* 1 when the file exists (closed to others, else -EACCES), 0 when it does not. */
static int check_file(const char *path, off_t *size)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode)) {
		visid_err("%s is not a regular file; refusing it", path);
		return -EACCES;
	}
	if (st.st_mode & 077) {
		visid_err("%s has mode %04o: %s; refusing it (chmod 600 it)", path,
			  (unsigned)(st.st_mode & 07777), private_mode_hint(st.st_mode));
		return -EACCES;
	}
	if (st.st_uid != geteuid()) {
		visid_err("%s belongs to uid %u, not to this user; refusing it", path,
			  (unsigned)st.st_uid);
		return -EACCES;
	}
	if (size)
		*size = st.st_size;
	return 1;
}

static int create_db_file(struct visid_store *store)
{
	int fd = open(store->db_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0) {
		visid_err("cannot create gallery %s: %s", store->db_path, strerror(errno));
		return -errno;
	}
	fchmod(fd, 0600);
	close(fd);
	return 0;
}

static int integrity_check(struct visid_store *store)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "PRAGMA integrity_check", &stmt);
	if (ret)
		goto damaged;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		ret = store_sql_error(store, rc, "the integrity check");
	} else if (strcmp((const char *)sqlite3_column_text(stmt, 0), "ok")) {
		visid_err("gallery %s is damaged: integrity check says: %s", store->db_path,
			  sqlite3_column_text(stmt, 0));
		ret = -EBADMSG;
	}
	sqlite3_finalize(stmt);
	if (!ret)
		return 0;
damaged:
	if (ret == -EBADMSG || ret == -EIO)
		visid_err("gallery %s is damaged and was left as it is; move it away to start "
			  "a new gallery, or restore it from a backup", store->db_path);
	return ret == -EIO ? -EBADMSG : ret;
}

static int init_schema(struct visid_store *store)
{
	uint8_t *check;
	size_t check_len;
	sqlite3_stmt *stmt;
	char format[16];
	int ret, rc;

	ret = store_seal(store->device_key, STORE_FIELD_KEY_CHECK, 0, -1, key_check_text,
			 sizeof(key_check_text), &check, &check_len);
	if (ret)
		return ret;
	ret = store_begin(store, "create the gallery");
	if (ret)
		goto out_free;
	ret = store_exec(store, schema, "creating the gallery");
	if (ret)
		goto out_rollback;
	snprintf(format, sizeof(format), "%d", STORE_FORMAT);
	ret = store_set_meta(store, "format", format);
	if (ret)
		goto out_rollback;
	ret = store_prepare(store, "INSERT INTO meta(key, value) VALUES ('key_check', ?)", &stmt);
	if (ret)
		goto out_rollback;
	sqlite3_bind_blob(stmt, 1, check, (int)check_len, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		ret = store_sql_error(store, rc, "creating the gallery");
		goto out_rollback;
	}
	ret = store_commit(store, "creating the gallery");
	if (!ret)
		store_sync_dir(store->dir);
	goto out_free;

out_rollback:
	store_rollback(store);
out_free:
	free(check);
	return ret;
}

/* The format version, and proof that the device key is the one that made this gallery. */
static int check_meta(struct visid_store *store)
{
	uint8_t blob[256], plain[sizeof(key_check_text)];
	char text[VISID_STORE_MODEL_ID_SIZE];
	size_t len;
	int ret;

	ret = get_meta(store, "format", text, sizeof(text), &len);
	if (ret == -ENOENT || (!ret && atoi(text) != STORE_FORMAT)) {
		visid_err("gallery %s: %s", store->db_path, ret ? "not a visid gallery" :
			  "made by another version of visid (unknown format)");
		return -EBADMSG;
	}
	if (ret)
		return ret;
	ret = get_meta(store, "key_check", blob, sizeof(blob), &len);
	if (!ret)
		ret = store_unseal(store->device_key, STORE_FIELD_KEY_CHECK, 0, -1, blob, len,
				   plain, sizeof(plain), &len);
	if (ret == -EBADMSG || ret == -ENOENT) {
		visid_err("gallery %s: the device key does not open it (another device's key, "
			  "or a replaced key file)", store->db_path);
		return -EKEYREJECTED;
	}
	if (ret)
		return ret;
	ret = get_meta(store, "model_id", text, sizeof(text), &len);
	if (ret == -ENOENT) {
		text[0] = 0;
		ret = 0;
	}
	if (!ret)
		snprintf(store->model_id, sizeof(store->model_id), "%s", text);
	return ret;
}

static int count_tables(struct visid_store *store)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT count(*) FROM sqlite_master", &stmt);
	if (ret)
		return ret;
	rc = sqlite3_step(stmt);
	ret = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) :
		store_sql_error(store, rc, "reading the schema");
	sqlite3_finalize(stmt);
	return ret;
}

static int open_db(struct visid_store *store, int create)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_PRIVATECACHE;
	int ret, rc;

	ret = check_file(store->db_path, NULL);
	if (ret < 0)
		return ret;
	if (!ret) {
		if (!create) {
			visid_err("no gallery in %s (enroll a member to create one)", store->dir);
			return -ENOENT;
		}
		ret = create_db_file(store);
		if (ret)
			return ret;
	}
	rc = sqlite3_open_v2(store->db_path, &store->db, flags, NULL);
	if (rc != SQLITE_OK)
		return store_sql_error(store, rc, "opening");
	sqlite3_extended_result_codes(store->db, 1);
	sqlite3_busy_timeout(store->db, 5000);

	ret = store_exec(store, "PRAGMA secure_delete = ON; PRAGMA synchronous = FULL;"
			 "PRAGMA cell_size_check = ON; PRAGMA journal_mode = DELETE",
			 "setting up");
	if (ret)
		return ret == -EIO ? -EBADMSG : ret;
	ret = integrity_check(store);
	if (ret)
		return ret;
	ret = count_tables(store);
	if (ret < 0)
		return ret;
	if (ret == 0) {
		/* Never created, or a creation cut short (it is one transaction). */
		if (!create) {
			visid_err("no gallery in %s (empty database)", store->dir);
			return -ENOENT;
		}
		ret = init_schema(store);
		if (ret)
			return ret;
	}
	ret = check_meta(store);
	if (ret)
		return ret;
	if (store->flags & VISID_STORE_READ_ONLY)
		return store_exec(store, "PRAGMA query_only = ON", "setting up");
	return 0;
}

/* Every member's records are authenticated once; a failure marks that member damaged. */
static int verify_all(struct visid_store *store)
{
	sqlite3_stmt *stmt;
	int ret, rc;

	ret = store_prepare(store, "SELECT id FROM members ORDER BY id", &stmt);
	if (ret)
		return ret;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		ret = store_verify_member(store, sqlite3_column_int64(stmt, 0));
		if (ret && ret != -EBADMSG)
			break;
		ret = 0;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_sql_error(store, rc, "verifying the members");
	sqlite3_finalize(stmt);
	return ret;
}

static int check_model_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= VISID_STORE_MODEL_ID_SIZE)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return -EINVAL;
	return 0;
}

static int apply_options(struct visid_store *store, const struct visid_store_options *opt)
{
	const char *dir = opt->dir;

	if (!dir || !*dir)
		dir = getenv("VISID_STATE_DIR");
	if (!dir || !*dir)
		dir = VISID_STORE_DEFAULT_DIR;
	store->dir = strdup(dir);
	if (!store->dir || asprintf(&store->db_path, "%s/%s", dir, STORE_DB_FILE) < 0) {
		store->db_path = NULL;
		return -ENOMEM;
	}
	if (opt->model_id && check_model_id(opt->model_id)) {
		visid_err("gallery %s: model id '%s' is not a printable id of at most %d "
			  "characters", store->dir, opt->model_id, VISID_STORE_MODEL_ID_SIZE - 1);
		return -EINVAL;
	}
	store->flags = opt->flags;
	store->expiry_seconds = opt->expiry_seconds;
	store->expiry_months = opt->expiry_months;
	if (opt->expiry_seconds < 0 || opt->expiry_months < 0)
		store->expiry_seconds = -1;
	else if (!opt->expiry_seconds && !opt->expiry_months)
		store->expiry_months = VISID_STORE_EXPIRY_MONTHS;
	store->touch_interval = opt->touch_interval > 0 ? opt->touch_interval : 3600;
	if (opt->touch_interval < 0)
		store->touch_interval = 0;
	store->now = opt->now;
	store->now_ctx = opt->now_ctx;
	store->device_key = sodium_malloc(VISID_STORE_KEY_BYTES);
	return store->device_key ? 0 : -ENOMEM;
}

/* The gallery's vectors must come from the caller's model, or be recomputed now. */
static int reconcile_model(struct visid_store *store, const struct visid_store_options *opt)
{
	char old[VISID_STORE_MODEL_ID_SIZE];

	if (!opt->model_id || !strcmp(opt->model_id, store->model_id))
		return 0;
	if (!store->model_id[0]) {
		snprintf(store->model_id, sizeof(store->model_id), "%s", opt->model_id);
		return 0;
	}
	if ((store->flags & VISID_STORE_READ_ONLY) || !opt->embed) {
		visid_err("gallery %s: its vectors come from model %s, not the current %s; "
			  "open it read-write with the face pipeline to recompute them",
			  store->dir, store->model_id, opt->model_id);
		return -ESTALE;
	}
	snprintf(old, sizeof(old), "%s", store->model_id);
	return store_revectorize(store, opt, old);
}

int visid_store_open(const struct visid_store_options *opt, struct visid_store **out)
{
	static const struct visid_store_options defaults;
	struct visid_store *store;
	int create, ret;
	off_t size = 0;

	*out = NULL;
	if (!opt)
		opt = &defaults;
	if (sodium_init() < 0) {
		visid_err("libsodium failed to initialise");
		return -EIO;
	}
	store = calloc(1, sizeof(*store));
	if (!store)
		return -ENOMEM;
	ret = apply_options(store, opt);
	if (ret)
		goto out_close;
	create = !!(opt->flags & VISID_STORE_CREATE);

	ret = check_dir(store, create);
	if (ret)
		goto out_close;
	ret = check_file(store->db_path, &size);
	if (ret < 0)
		goto out_close;
	if (opt->device_key)
		memcpy(store->device_key, opt->device_key, VISID_STORE_KEY_BYTES);
	else
		ret = store_device_key_load(store, create && (ret == 0 || size == 0));
	if (ret < 0)
		goto out_close;
	ret = open_db(store, create);
	if (ret)
		goto out_close;
	sodium_mprotect_readonly(store->device_key);

	ret = verify_all(store);
	if (ret)
		goto out_close;
	ret = reconcile_model(store, opt);
	if (ret)
		goto out_close;
	if (!(store->flags & VISID_STORE_READ_ONLY)) {
		ret = visid_store_expire(store);
		if (ret < 0)
			goto out_close;
	}
	ret = store_data_version(store, &store->data_version);
	if (ret)
		goto out_close;
	*out = store;
	return 0;

out_close:
	visid_store_close(store);
	return ret;
}

void visid_store_close(struct visid_store *store)
{
	if (!store)
		return;
	if (store->db)
		sqlite3_close_v2(store->db);
	sodium_free(store->device_key);
	free(store->db_path);
	free(store->dir);
	free(store);
}

const char *visid_store_dir(const struct visid_store *store)
{
	return store->dir;
}

const char *visid_store_model_id(const struct visid_store *store)
{
	return store->model_id;
}
