/*
 * The face pipeline on the Vulkan backend, where frames go to the device
 * once and the preprocessing shaders make every network's input: the same
 * faces, keypoints and vectors as the CPU backend on real photos, the
 * golden vector, the frame copies counted, and a camera-like frame in a
 * memfd mapping imported in place instead of copied. Validation is on.
 *
 * Tolerances: the networks' Vulkan and CPU outputs differ by float rounding
 * (the golden-vulkan suite bounds them) and the shaders' inputs from the C
 * reference's by at most 2e-4 (the pre suite); together they move boxes and
 * keypoints by a small fraction of a pixel and vectors by far less than the
 * 0.2 that separates people. Checked: boxes overlap by IoU >= 0.98,
 * keypoints within 1 px, scores within 0.01, vectors at cosine >= 0.995.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame_util.h"
#include "visid/face.h"
#include "visid/hal.h"
#include "visid/track.h"
#include "vk_import.h"
#include "vk_test.h"

static struct visid_face_pipeline *vk_pipe, *cpu_pipe;

static const char *fv_skip(void)
{
	char path[256];

	if (!visid_test_have_shared("data/faces/MANIFEST.tsv"))
		return "../shared/data/faces is absent (real photos needed)";
	if (access(visid_test_model("MobileFaceNet.tflite", path, sizeof(path)), R_OK))
		return "models are not fetched (run scripts/fetch-models)";
	return vt_skip();
}

static int fv_init(void)
{
	char dir[256];
	struct visid_face_options opt = {
	    .model_dir = visid_test_model("", dir, sizeof(dir)),
	    .backend = VISID_BACKEND_CPU,
	};

	if (vt_init() || visid_face_pipeline_create(&opt, &cpu_pipe))
		return -1;
	opt.backend = VISID_BACKEND_VULKAN;
	opt.gpu = vt_gpu;
	return visid_face_pipeline_create(&opt, &vk_pipe) ? -1 : 0;
}

static int fv_clean(void)
{
	visid_face_pipeline_destroy(vk_pipe);
	visid_face_pipeline_destroy(cpu_pipe);
	vk_pipe = cpu_pipe = NULL;
	return vt_clean();
}

static int load(const char *relative, struct visid_image *img)
{
	char path[256];
	int ret = visid_image_load(visid_test_shared(relative, path, sizeof(path)), img);

	VT_CHECK(ret == 0, "%s: load returned %d", relative, ret);
	return ret;
}

static double cosine(const float *a, const float *b)
{
	double s = 0;

	for (int i = 0; i < VISID_EMBED_DIM; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* Faces found by both backends agree; returns the count or -1. */
static int compare_faces(const char *what, const struct visid_face *a, int na,
			 const struct visid_face *b, int nb)
{
	VT_CHECK(na == nb && na > 0, "%s: %d faces on the CPU, %d on Vulkan", what, na, nb);
	if (na != nb || na <= 0)
		return -1;
	for (int i = 0; i < na; i++) {
		double kp = 0;

		for (int k = 0; k < 6; k++)
			kp = fmax(kp, fmax(fabs(a[i].keypoints[k][0] - b[i].keypoints[k][0]),
					   fabs(a[i].keypoints[k][1] - b[i].keypoints[k][1])));
		VT_CHECK(visid_box_iou(a[i].box, b[i].box) >= 0.98f && kp <= 1.0 &&
			     fabsf(a[i].score - b[i].score) <= 0.01f,
			 "%s face %d: IoU %.3f, keypoints %.2f px apart, scores %.3f / %.3f", what,
			 i, visid_box_iou(a[i].box, b[i].box), kp, a[i].score, b[i].score);
	}
	return na;
}

/* Both backends on the same photo: same faces, same vector for the largest. */
static void check_photo(const char *relative)
{
	struct visid_face cf[VISID_MAX_FACES], vf[VISID_MAX_FACES];
	float cv[VISID_EMBED_DIM], vv[VISID_EMBED_DIM];
	struct visid_image img;
	int nc, nv;

	if (load(relative, &img))
		return;
	nc = visid_face_detect(cpu_pipe, &img, cf, VISID_MAX_FACES);
	nv = visid_face_detect(vk_pipe, &img, vf, VISID_MAX_FACES);
	if (compare_faces(relative, cf, nc, vf, nv) > 0 &&
	    visid_face_embed(cpu_pipe, &img, &cf[0], cv) == 0) {
		int ret = visid_face_embed(vk_pipe, &img, &vf[0], vv);

		VT_CHECK(ret == 0 && cosine(cv, vv) >= 0.995,
			 "%s: Vulkan embed %d, cosine to the CPU's vector %.4f", relative, ret,
			 ret ? 0.0 : cosine(cv, vv));
	}
	visid_image_free(&img);
}

static void test_same_as_cpu(void)
{
	check_photo("data/faces/group/dlib_pascal/2008_002470.jpg");
	check_photo("data/faces/identity/deepface/angelina_jolie/img04.jpg");
	check_photo("data/faces/pose/pointing04/person02/s2_left45.jpg");
	VT_NO_VALIDATION_MESSAGES();
}

/* The whole chain on Vulkan lands on the reference vector of sample1's face. */
static void test_golden_face(void)
{
	static const float golden_box[4] = {1466.9f, 247.5f, 1635.2f, 415.7f};
	struct visid_face faces[VISID_MAX_FACES];
	float vec[VISID_EMBED_DIM], *gold = NULL;
	struct visid_image img;
	char path[256];
	int n, best = -1;

	if (visid_image_load(visid_test_model("samples/sample1.jpg", path, sizeof(path)), &img)) {
		VT_CHECK(0, "models/samples/sample1.jpg missing: run scripts/fetch-models");
		return;
	}
	n = visid_face_detect(vk_pipe, &img, faces, VISID_MAX_FACES);
	for (int i = 0; i < n; i++)
		if (visid_box_iou(faces[i].box, golden_box) > 0.5f)
			best = i;
	VT_CHECK(n == 3 && best >= 0, "sample1 on Vulkan: %d faces, golden face %sfound", n,
		 best < 0 ? "not " : "");
	if (best >= 0 && visid_face_embed(vk_pipe, &img, &faces[best], vec) == 0 &&
	    visid_test_read_f32(visid_test_shared("golden/face_sample1_f0/"
						  "mfn_embedding_l2norm.f32",
						  path, sizeof(path)),
				&gold) == VISID_EMBED_DIM) {
		printf("\n    Vulkan: cosine to the golden vector %.4f ", cosine(vec, gold));
		VT_CHECK(cosine(vec, gold) > 0.95,
			 "sample1 on Vulkan: cosine %.4f to the golden "
			 "embedding",
			 cosine(vec, gold));
	} else {
		VT_CHECK(0, "sample1 on Vulkan: no vector, or no golden vector to compare");
	}
	free(gold);
	visid_image_free(&img);
	VT_NO_VALIDATION_MESSAGES();
}

/* Photos are not camera buffers: each detection copies its frame once, embedding reuses it. */
static void test_photo_frames_copied_once(void)
{
	struct visid_face_stats before, after;
	struct visid_face face;
	struct visid_image img;
	float vec[VISID_EMBED_DIM];

	if (load("data/faces/identity/face_recognition/barack_obama/obama2.jpg", &img))
		return;
	visid_face_get_stats(vk_pipe, &before);
	for (int i = 0; i < 2; i++)
		if (visid_face_detect(vk_pipe, &img, &face, 1) == 1)
			visid_face_embed(vk_pipe, &img, &face, vec);
	visid_face_get_stats(vk_pipe, &after);
	VT_CHECK(after.frames - before.frames == 2 && after.frame_copies - before.frame_copies == 2,
		 "2 photo frames: %llu frames, %llu copies",
		 (unsigned long long)(after.frames - before.frames),
		 (unsigned long long)(after.frame_copies - before.frame_copies));
	VT_CHECK(!strcmp(after.frame_path, "copy"), "photo frames took the '%s' path",
		 after.frame_path);
	visid_image_free(&img);
}

/*
 * A camera-like frame: YUYV at a padded stride in a memfd mapping, starting
 * 96 bytes in as a V4L2 data_offset would, the memfd standing in for the
 * camera buffer's dmabuf. On a device with host-pointer import it is used
 * in place: no copy, one import for all its frames, and the same faces as
 * the CPU backend finds in it.
 */
static void test_camera_frame_imported(void)
{
	struct visid_face cf[VISID_MAX_FACES], vf[VISID_MAX_FACES];
	struct visid_face_stats before, after;
	struct visid_frame frame = {0};
	struct visid_image photo;
	size_t size;
	uint8_t *map;
	int fd, nc, nv = 0;

	if (load("data/faces/identity/deepface/angelina_jolie/img06.jpg", &photo))
		return;
	frame.image.width = photo.width & ~1;
	frame.image.height = photo.height;
	frame.image.format = VISID_FMT_YUYV;
	frame.image.stride = (int)vt_row_bytes(VISID_FMT_YUYV, frame.image.width) + 64;
	size = 96 + (size_t)frame.image.stride * frame.image.height;
	fd = memfd_create("visid-test-camera-buffer", MFD_CLOEXEC);
	VT_CHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0, "memfd: %s", strerror(errno));
	map = fd >= 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (map == MAP_FAILED) {
		VT_CHECK(0, "mapping the memfd: %s", strerror(errno));
		goto out_close;
	}
	frame.image.data = map + 96;
	frame.dmabuf_fd[0] = fd;
	frame.dmabuf_fd[1] = -1;
	frame.dmabuf_offset[0] = 96;
	vt_frame_fill(&photo, 0, 0, &frame.image);

	visid_face_get_stats(vk_pipe, &before);
	for (int i = 0; i < 2; i++)
		nv = visid_face_detect_frame(vk_pipe, &frame, vf, VISID_MAX_FACES);
	visid_face_get_stats(vk_pipe, &after);
	nc = visid_face_detect(cpu_pipe, &frame.image, cf, VISID_MAX_FACES);
	compare_faces("memfd YUYV frame", cf, nc, vf, nv);
	printf("\n    memfd camera frame: %s path, %llu copies in 2 frames ", after.frame_path,
	       (unsigned long long)(after.frame_copies - before.frame_copies));
	/* A memfd is no dmabuf: a device that imports dmabufs takes the host path for it. */
	if (visid_vk_import_path_for(vt_gpu) != VISID_VK_IMPORT_COPY) {
		VT_CHECK(!strcmp(after.frame_path, "host pointer") &&
			     after.frame_copies == before.frame_copies &&
			     after.frame_imports - before.frame_imports == 1,
			 "%s path: %llu copies, %llu imports for 2 frames of 1 buffer",
			 after.frame_path,
			 (unsigned long long)(after.frame_copies - before.frame_copies),
			 (unsigned long long)(after.frame_imports - before.frame_imports));
	} else {
		VT_CHECK(after.frame_copies - before.frame_copies == 2,
			 "%s path: %llu copies for 2 frames", after.frame_path,
			 (unsigned long long)(after.frame_copies - before.frame_copies));
	}
	munmap(map, size);
out_close:
	if (fd >= 0)
		close(fd);
	visid_image_free(&photo);
	VT_NO_VALIDATION_MESSAGES();
}

VISID_SUITE(face_vulkan, "face-vulkan", fv_init, fv_clean, fv_skip, VISID_TEST(test_same_as_cpu),
	    VISID_TEST(test_golden_face), VISID_TEST(test_photo_frames_copied_once),
	    VISID_TEST(test_camera_frame_imported))
