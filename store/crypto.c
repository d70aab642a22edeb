/*
 * The gallery's key hierarchy and sealed records. A random device key (the
 * key file, or given by the embedding system) wraps one random key per
 * member; the member key seals that member's images and vectors with
 * XChaCha20-Poly1305. Every record's associated data names its field, member
 * and pose, so a record moved to another row fails authentication.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "visid/log.h"

#define AD_MAGIC "visid-gallery-1"
#define AD_BYTES (sizeof(AD_MAGIC) + 1 + 1 + 8)

static void build_ad(uint8_t ad[AD_BYTES], enum store_field field, int64_t member, int pose)
{
	uint64_t id = (uint64_t)member;

	memcpy(ad, AD_MAGIC, sizeof(AD_MAGIC));
	ad[sizeof(AD_MAGIC)] = (uint8_t)field;
	ad[sizeof(AD_MAGIC) + 1] = (uint8_t)(pose + 1);
	for (int i = 0; i < 8; i++)
		ad[sizeof(AD_MAGIC) + 2 + i] = (uint8_t)(id >> (8 * i));
}

/* blob = nonce || ciphertext || tag, allocated with malloc. */
int store_seal(const uint8_t *key, enum store_field field, int64_t member, int pose,
	       const void *plain, size_t len, uint8_t **blob, size_t *blob_len)
{
	uint8_t ad[AD_BYTES];
	unsigned long long clen;
	uint8_t *out;

	out = malloc(len + STORE_SEAL_OVERHEAD);
	if (!out)
		return -ENOMEM;
	build_ad(ad, field, member, pose);
	randombytes_buf(out, STORE_NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + STORE_NONCE_BYTES, &clen, plain, len,
						   ad, sizeof(ad), NULL, out, key);
	*blob = out;
	*blob_len = STORE_NONCE_BYTES + (size_t)clen;
	return 0;
}

/* Returns -EBADMSG when the record fails authentication or does not fit cap. */
int store_unseal(const uint8_t *key, enum store_field field, int64_t member, int pose,
		 const uint8_t *blob, size_t blob_len, void *plain, size_t cap, size_t *len)
{
	uint8_t ad[AD_BYTES];
	unsigned long long plen;

	if (!blob || blob_len < STORE_SEAL_OVERHEAD || blob_len - STORE_SEAL_OVERHEAD > cap)
		return -EBADMSG;
	build_ad(ad, field, member, pose);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL,
						       blob + STORE_NONCE_BYTES,
						       blob_len - STORE_NONCE_BYTES,
						       ad, sizeof(ad), blob, key)) {
		sodium_memzero(plain, cap);
		return -EBADMSG;
	}
	if (len)
		*len = (size_t)plen;
	return 0;
}

static int key_file_check(const char *path, int fd)
{
	struct stat st;

	if (fstat(fd, &st)) {
		visid_err("key file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		visid_err("key file %s is not a regular file", path);
		return -EACCES;
	}
	if (st.st_mode & 077) {
		visid_err("key file %s has mode %04o: group and others may read it; "
			  "refusing it (chmod 600 it after checking who could have copied it)",
			  path, (unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	if (st.st_size != VISID_STORE_KEY_BYTES) {
		visid_err("key file %s holds %lld bytes, not %d: it is damaged",
			  path, (long long)st.st_size, VISID_STORE_KEY_BYTES);
		return -EKEYREJECTED;
	}
	return 0;
}

static int read_key_file(const char *path, uint8_t *key)
{
	int fd, ret;
	ssize_t n;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ELOOP)
			visid_err("key file %s is a symbolic link; refusing it", path);
		else if (ret != -ENOENT)
			visid_err("key file %s: %s", path, strerror(-ret));
		return ret == -ELOOP ? -EACCES : ret;
	}
	ret = key_file_check(path, fd);
	if (ret)
		goto out_close;
	n = read(fd, key, VISID_STORE_KEY_BYTES);
	if (n != VISID_STORE_KEY_BYTES) {
		visid_err("key file %s: short read: %s", path, n < 0 ? strerror(errno) : "eof");
		ret = -EIO;
	}
out_close:
	close(fd);
	return ret;
}

/*
 * Writes a fresh key to a temporary name, syncs it and renames it into
 * place, so a crash leaves either no key file or a whole one.
 */
static int create_key_file(const char *dir, const char *path, uint8_t *key)
{
	char tmp[4096 + 8];
	int fd, ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		visid_err("cannot create key file %s: %s", tmp, strerror(errno));
		return ret;
	}
	fchmod(fd, 0600);
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	errno = 0;
	if (write(fd, key, VISID_STORE_KEY_BYTES) != VISID_STORE_KEY_BYTES || fsync(fd)) {
		ret = errno ? -errno : -EIO;
		visid_err("cannot write key file %s: %s", tmp, strerror(-ret));
		goto out_unlink;
	}
	if (close(fd)) {
		fd = -1;
		ret = -errno;
		visid_err("cannot write key file %s: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path)) {
		ret = -errno;
		visid_err("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out_unlink;
	}
	return store_sync_dir(dir);

out_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	sodium_memzero(key, VISID_STORE_KEY_BYTES);
	return ret;
}

/* Loads the key file into store->device_key, creating it when asked. */
int store_device_key_load(struct visid_store *store, int create)
{
	char path[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", store->dir, STORE_KEY_FILE);
	ret = read_key_file(path, store->device_key);
	if (ret == -ENOENT && create)
		return create_key_file(store->dir, path, store->device_key);
	if (ret == -ENOENT) {
		visid_err("key file %s is missing: the gallery in %s cannot be decrypted",
			  path, store->dir);
		return -EKEYREJECTED;
	}
	return ret;
}

int store_member_key_new(struct visid_store *store, int64_t member,
			 uint8_t key[VISID_STORE_KEY_BYTES], uint8_t **wrapped, size_t *len)
{
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	return store_seal(store->device_key, STORE_FIELD_MEMBER_KEY, member, -1,
			  key, VISID_STORE_KEY_BYTES, wrapped, len);
}

/* Unwraps a member's key: -ENOENT without a key row, -EBADMSG when it fails. */
int store_member_key(struct visid_store *store, int64_t member,
		     uint8_t key[VISID_STORE_KEY_BYTES])
{
	sqlite3_stmt *stmt;
	size_t len;
	int ret, rc;

	ret = store_prepare(store, "SELECT wrapped FROM keys WHERE member = ?", &stmt);
	if (ret)
		return ret;
	sqlite3_bind_int64(stmt, 1, member);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		ret = store_unseal(store->device_key, STORE_FIELD_MEMBER_KEY, member, -1,
				   sqlite3_column_blob(stmt, 0), sqlite3_column_bytes(stmt, 0),
				   key, VISID_STORE_KEY_BYTES, &len);
		if (!ret && len != VISID_STORE_KEY_BYTES)
			ret = -EBADMSG;
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = store_sql_error(store, rc, "reading a member key");
	}
	sqlite3_finalize(stmt);
	if (ret)
		sodium_memzero(key, VISID_STORE_KEY_BYTES);
	return ret;
}

/* Vectors are stored as little-endian float32 whatever the host. */
void store_vector_to_le(const float *vec, uint8_t *bytes)
{
	for (int i = 0; i < VISID_EMBED_DIM; i++) {
		uint32_t u;

		memcpy(&u, &vec[i], 4);
		for (int b = 0; b < 4; b++)
			bytes[4 * i + b] = (uint8_t)(u >> (8 * b));
	}
}

void store_vector_from_le(const uint8_t *bytes, float *vec)
{
	for (int i = 0; i < VISID_EMBED_DIM; i++) {
		uint32_t u = 0;

		for (int b = 0; b < 4; b++)
			u |= (uint32_t)bytes[4 * i + b] << (8 * b);
		memcpy(&vec[i], &u, 4);
	}
}
