/*
 * Gallery matching: each member holds up to VISID_MATCH_MAX_VECTORS face
 * vectors (one per enrollment angle); a query scores against a member as the
 * best cosine over that member's vectors, and the best member is the match
 * when its score reaches the threshold. The runner-up member and the margin
 * to it are reported too, because a single global threshold says little
 * about look-alikes.
 *
 * The dot products run on the widest SIMD unit the CPU has (portable C,
 * AVX2+FMA, AVX-512F, NEON); $VISID_SIMD (portable, avx2, avx512, neon)
 * forces one. The decision never depends on the path: the SIMD scores pick
 * the candidates, and the candidates within rounding distance of the top two
 * are rescored in a fixed order before deciding, so every path and every
 * architecture gives the same member, score and accept/reject.
 *
 * Vectors are normalised on the way in; stored vectors and the working copy
 * of a query are wiped from memory when they are dropped.
 *
 * A gallery is not locked: one thread at a time may match or change it.
 */
#ifndef VISID_MATCH_H
#define VISID_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "visid/face.h"

#define VISID_MATCH_MAX_VECTORS 5

enum visid_simd {
	VISID_SIMD_AUTO,	/* $VISID_SIMD, else the widest this CPU has */
	VISID_SIMD_PORTABLE,
	VISID_SIMD_AVX2,	/* AVX2 with FMA */
	VISID_SIMD_AVX512,	/* AVX-512F */
	VISID_SIMD_NEON,
	VISID_SIMD_COUNT,
};

const char *visid_simd_name(enum visid_simd simd);
/* "portable", "avx2", "avx512", "neon" or "auto"; -EINVAL for anything else. */
int visid_simd_parse(const char *name, enum visid_simd *out);
/* 1 when this build and this CPU can run the path (AUTO always can). */
int visid_simd_supported(enum visid_simd simd);
/* The path AUTO resolves to: $VISID_SIMD when it names a supported one, else the widest. */
enum visid_simd visid_simd_default(void);

struct visid_gallery;

struct visid_match {
	int member;		/* gallery index of the best member, -1 for an empty gallery */
	uint64_t id;
	float score;		/* its best cosine, -1..1 */
	int second;		/* runner-up member, -1 when the gallery has one member */
	uint64_t second_id;
	float second_score;	/* -1 (the lowest cosine) when there is no runner-up */
	float margin;		/* score - second_score */
	int accepted;		/* score >= threshold */
};

/*
 * A gallery for up to max_members members and max_vectors vectors in all
 * (0: max_members x VISID_MATCH_MAX_VECTORS). The vector storage is one
 * block allocated here, so a large gallery costs its memory up front.
 */
int visid_gallery_create(unsigned max_members, size_t max_vectors, struct visid_gallery **out);
/* Wipes the stored vectors before freeing them. */
void visid_gallery_destroy(struct visid_gallery *gallery);

/*
 * Stores count (1..VISID_MATCH_MAX_VECTORS) vectors of VISID_EMBED_DIM floats
 * for member id, replacing what the member had. -EINVAL for a zero, NaN or
 * infinite vector, -ENOSPC when the gallery is full.
 */
int visid_gallery_set(struct visid_gallery *gallery, uint64_t id, const float *vectors,
		      int count);
/* -ENOENT when the member is not there. */
int visid_gallery_remove(struct visid_gallery *gallery, uint64_t id);

int visid_gallery_member_count(const struct visid_gallery *gallery);
size_t visid_gallery_vector_count(const struct visid_gallery *gallery);
/* Id of the member at a gallery index (as in struct visid_match); -ENOENT if out of range. */
int visid_gallery_member_id(const struct visid_gallery *gallery, int index, uint64_t *id);

/* The path this gallery's dot products take; -ENOTSUP when this CPU lacks it. */
int visid_gallery_set_simd(struct visid_gallery *gallery, enum visid_simd simd);
enum visid_simd visid_gallery_simd(const struct visid_gallery *gallery);

/*
 * Matches one query vector (normalised on a private copy, which is wiped
 * before returning). -EINVAL for a zero, NaN or infinite query.
 */
int visid_gallery_match(struct visid_gallery *gallery, const float query[VISID_EMBED_DIM],
			float threshold, struct visid_match *out);

/*
 * Per-member scores on the gallery's SIMD path, in gallery index order, for
 * diagnostics and tests (these may differ from the decided score by float
 * rounding, about 1e-7). Returns the number of members written (at most max).
 */
int visid_gallery_scores(struct visid_gallery *gallery, const float query[VISID_EMBED_DIM],
			 float *scores, int max);

/*
 * Cosine of two vectors in a fixed order with exact products, the same on
 * every CPU; the inputs must already be normalised.
 */
float visid_cosine_exact(const float *a, const float *b);

#endif
