/* JSON fields shared by identify, run and find output. */
#ifndef VISID_REPORT_H
#define VISID_REPORT_H

#include <cjson/cJSON.h>

#include "app.h"

void report_face(cJSON *j, const struct visid_face *face);
/*
 * The match result: "member", "similarity", "margin" for a recognised face;
 * "member": null and "result": "unknown" otherwise (nothing of the stranger).
 */
void report_match(cJSON *j, const struct app *app, const struct app_match *m);
/* Prints the object as one line on stdout and frees it. */
void report_print(cJSON *j);

#endif
