/*
 * A model file checked against the manifest.tsv beside it (the one
 * scripts/fetch-models verifies downloads by and `make install` installs with
 * the models), before anything parses it.
 */
#ifndef VISID_MODEL_CHECK_H
#define VISID_MODEL_CHECK_H

/*
 * Returns 0 when path may be loaded: its sha256 matches its manifest line, or
 * the directory has no manifest.tsv (a model named by path for a test or a
 * tool), or the manifest does not list the file (a user's own model; logged at
 * info level). Returns -EBADMSG for a file whose sha256 differs and for a
 * malformed manifest, or another -errno when a file cannot be read; every
 * refusal is logged with the file, and for a mismatch both sums and the fix.
 */
int visid_model_verify(const char *path);

#endif
