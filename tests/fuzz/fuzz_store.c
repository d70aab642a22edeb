/*
 * The gallery read back from its database file: the input is gallery.db in
 * a private state directory, opened with a fixed device key. Whatever SQLite
 * accepts is then listed, loaded for matching and read image by image; a
 * gallery that opens read-only is opened again read-write under another
 * model id, which re-vectorises every stored image (decoded as the CLI does).
 * Records only decrypt when they were sealed with the fixed key, so the seed
 * galleries are made by this program: FUZZ_STORE_SEEDS=DIR writes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "visid/image.h"
#include "visid/store.h"

static const uint8_t device_key[VISID_STORE_KEY_BYTES] = {
    0x76, 0x69, 0x73, 0x69, 0x64, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x31,
    0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15, 0xf3, 0x9c, 0xc0, 0x60, 0x5c, 0xed, 0xc8, 0x34,
};

static char dir[128], db_path[160], journal_path[180];

static void remove_state_dir(void)
{
	unlink(db_path);
	unlink(journal_path);
	rmdir(dir);
}

static int64_t fixed_now(void *ctx)
{
	return 1700000000;
}

/* The CLI's re-vectorisation hook without the networks: decode, then a vector from pixels. */
static int embed(void *ctx, const uint8_t *image, size_t len, float vec[VISID_EMBED_DIM])
{
	struct visid_image img;
	int ret = visid_image_decode(image, len, "stored image", &img);

	if (ret)
		return ret;
	for (int i = 0; i < VISID_EMBED_DIM; i++)
		vec[i] = img.data[(size_t)i % ((size_t)img.stride * img.height)] / 255.0f;
	visid_image_free(&img);
	return 0;
}

static void options(struct visid_store_options *opt, unsigned flags, const char *model)
{
	memset(opt, 0, sizeof(*opt));
	opt->dir = dir;
	opt->flags = flags;
	opt->device_key = device_key;
	opt->model_id = model;
	opt->embed = embed;
	opt->expiry_months = 18;
	opt->now = fixed_now;
}

static void read_everything(struct visid_store *store)
{
	static struct visid_store_member members[VISID_STORE_MAX_MEMBERS];
	static struct visid_store_gallery gallery;
	int n = visid_store_list(store, members, VISID_STORE_MAX_MEMBERS);

	for (int i = 0; i < n; i++) {
		uint8_t *bytes;
		size_t len;

		for (int p = 0; p < VISID_POSE_COUNT; p++)
			if (!visid_store_get_image(store, members[i].id, p, &bytes, &len))
				visid_store_free_bytes(bytes, len);
		if (!visid_store_get_avatar(store, members[i].id, &bytes, &len))
			visid_store_free_bytes(bytes, len);
		visid_store_find(store, members[i].name, &members[i]);
	}
	visid_store_load_gallery(store, &gallery);
	visid_store_gallery_wipe(&gallery);
	visid_store_changed(store);
}

static int write_db(const uint8_t *data, size_t size)
{
	int fd;

	unlink(journal_path);
	fd = open(db_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Seeds: galleries sealed with the fixed key, vacuumed to small pages. */
static void add_member(struct visid_store *store, const char *name, int poses, int avatar)
{
	struct visid_store_slot slots[VISID_POSE_COUNT];
	struct visid_image img;
	uint8_t *png = NULL;
	size_t len = 0;

	memset(slots, 0, sizeof(slots));
	if (visid_image_alloc(&img, 4, 4, VISID_FMT_RGB24))
		abort();
	for (int i = 0; i < 4 * img.stride; i++)
		img.data[i] = (uint8_t)(i * 37 + name[0]);
	if (visid_image_encode_png(&img, &png, &len))
		abort();
	for (int p = 0; p < poses; p++) {
		slots[p].image = png;
		slots[p].image_len = len;
		for (int i = 0; i < VISID_EMBED_DIM; i++)
			slots[p].vector[i] = (float)((i * 7 + p + name[0]) % 13) / 13.0f;
		slots[p].quality.brightness = 120;
		slots[p].quality.face_width = 80;
	}
	if (visid_store_enroll(store, name, avatar ? png : NULL, avatar ? len : 0, slots, NULL))
		abort();
	free(png);
	visid_image_free(&img);
}

static void vacuum(void)
{
	sqlite3 *db;

	if (sqlite3_open(db_path, &db) ||
	    sqlite3_exec(db, "PRAGMA page_size = 512; VACUUM", NULL, NULL, NULL))
		abort();
	sqlite3_close(db);
}

static void copy_seed(const char *out_dir, const char *name)
{
	char path[512], buf[65536];
	int in = open(db_path, O_RDONLY), out;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0)
		abort();
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			abort();
	close(in);
	close(out);
}

static void make_seeds(const char *out_dir)
{
	static const char *const names[] = { "Ada", "Grace", "Edsger" };
	struct visid_store_options opt;
	struct visid_store *store;

	for (int k = 0; k < 3; k++) {
		char seed[32];

		write_db(NULL, 0);
		unlink(db_path);
		options(&opt, VISID_STORE_CREATE, "model-a");
		if (visid_store_open(&opt, &store))
			abort();
		for (int m = 0; m < k; m++)
			add_member(store, names[m], m ? 1 : VISID_POSE_COUNT, m == 0);
		visid_store_close(store);
		vacuum();
		snprintf(seed, sizeof(seed), "gallery-%d-members.db", k);
		copy_seed(out_dir, seed);
	}
	exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	const char *seeds = getenv("FUZZ_STORE_SEEDS");

	fuzz_quiet_log();
	snprintf(dir, sizeof(dir), "%s/visid-fuzz-store.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(db_path, sizeof(db_path), "%s/gallery.db", dir);
	snprintf(journal_path, sizeof(journal_path), "%s-journal", db_path);
	atexit(remove_state_dir);
	if (seeds)
		make_seeds(seeds);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct visid_store_options opt;
	struct visid_store *store;

	if (write_db(data, size))
		return 0;
	options(&opt, VISID_STORE_READ_ONLY, NULL);
	if (visid_store_open(&opt, &store))
		return 0;
	read_everything(store);
	visid_store_close(store);

	options(&opt, 0, "model-b");
	if (visid_store_open(&opt, &store))
		return 0;
	read_everything(store);
	visid_store_expire(store);
	visid_store_close(store);
	return 0;
}
