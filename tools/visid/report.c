/* JSON fields shared by identify, run and find output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "report.h"

static double round3(double v)
{
	return round(v * 1000) / 1000;
}

static void add_issues(cJSON *q, unsigned issues)
{
	cJSON *list = cJSON_AddArrayToObject(q, "issues");

	for (unsigned bit = 1; bit && bit <= VISID_Q_WRONG_ANGLE; bit <<= 1)
		if (issues & bit)
			cJSON_AddItemToArray(list, cJSON_CreateString(visid_quality_reason(bit)));
}

void report_face(cJSON *j, const struct visid_face *face)
{
	double box[4];
	cJSON *q;

	for (int i = 0; i < 4; i++)
		box[i] = round(face->box[i] * 10) / 10;
	cJSON_AddItemToObject(j, "box", cJSON_CreateDoubleArray(box, 4));
	cJSON_AddNumberToObject(j, "score", round3(face->score));
	cJSON_AddStringToObject(j, "pose", visid_pose_name(face->pose));
	q = cJSON_AddObjectToObject(j, "quality");
	cJSON_AddNumberToObject(q, "brightness", round(face->brightness));
	cJSON_AddNumberToObject(q, "sharpness", round3(face->sharpness));
	add_issues(q, face->issues);
}

void report_match(cJSON *j, const struct app *app, const struct app_match *m)
{
	if (m->member >= 0) {
		cJSON_AddStringToObject(j, "result", "recognised");
		cJSON_AddStringToObject(j, "member", app_member_name(app, m->member));
		cJSON_AddNumberToObject(j, "similarity", round3(m->similarity));
		/* No runner-up (a one-member gallery): no margin to report. */
		if (isfinite(m->margin))
			cJSON_AddNumberToObject(j, "margin", round3(m->margin));
		else
			cJSON_AddNullToObject(j, "margin");
	} else {
		cJSON_AddStringToObject(j, "result", "unknown");
		cJSON_AddNullToObject(j, "member");
	}
}

void report_print(cJSON *j)
{
	char *line = cJSON_PrintUnformatted(j);

	if (line) {
		puts(line);
		free(line);
	}
	fflush(stdout);
	cJSON_Delete(j);
}
