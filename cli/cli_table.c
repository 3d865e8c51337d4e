/*
 * cli_table.c — aligned text tables for humans, JSON output and small
 * helpers shared by the commands.
 *
 * A table is filled row by row and printed once, so each column is as
 * wide as its widest cell.  Widths count bytes, which is right for the
 * ASCII the nodes report (region and table names are ASCII by DynamoDB's
 * rules).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

void cli_tab_init(cli_tab *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	cli_tab_row(t, headers);
}

void cli_tab_row(cli_tab *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));
		if (p == NULL)
			return; /* the row is dropped; output is best effort */
		t->cells = p;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = dup_str(cells[i] ?
		    cells[i] : "");
	t->nrows++;
}

void cli_tab_print(const cli_tab *t, const char *indent)
{
	size_t w[32] = {0};
	size_t ncols = GT_MIN(t->ncols, GT_ARRAY_LEN(w));

	if (t->nrows == 0)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			size_t n = s ? strlen(s) : 0;
			if (r == 0 && s != NULL && s[0] == '>')
				n--;
			w[i] = GT_MAX(w[i], n);
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent, stdout);
		for (size_t i = 0; i < ncols; i++) {
			const char *h = t->cells[i];
			const char *s = t->cells[r * t->ncols + i];
			int right = h != NULL && h[0] == '>';
			int last = i + 1 == ncols;
			if (s == NULL)
				s = "";
			if (r == 0 && right)
				s++;
			if (right)
				printf("%*s", (int)w[i], s);
			else if (last)
				fputs(s, stdout);
			else
				printf("%-*s", (int)w[i], s);
			if (!last)
				fputs("  ", stdout);
		}
		putchar('\n');
	}
}

void cli_tab_free(cli_tab *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void cli_json_print(const cJSON *doc)
{
	char *s = cJSON_Print(doc);

	if (s == NULL) {
		cli_errorf("out of memory formatting the JSON output");
		return;
	}
	puts(s);
	cJSON_free(s);
}

const char *cli_json_str(const cJSON *o, const char *name)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(x) ? x->valuestring : NULL;
}

const char *cli_json_text(const cJSON *o, const char *name, char *buf,
    size_t len)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(x))
		snprintf(buf, len, "%s", x->valuestring);
	else if (cJSON_IsNumber(x))
		snprintf(buf, len, "%.17g", x->valuedouble);
	else if (cJSON_IsBool(x))
		snprintf(buf, len, "%s", cJSON_IsTrue(x) ? "true" : "false");
	else
		snprintf(buf, len, "%s", "");
	return buf;
}

double cli_json_num(const cJSON *o, const char *name, double def)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, name);
	char *end;
	double v;

	if (cJSON_IsNumber(x))
		return x->valuedouble;
	if (!cJSON_IsString(x) || x->valuestring[0] == '\0')
		return def;
	v = strtod(x->valuestring, &end);
	return *end == '\0' ? v : def;
}

uint64_t cli_now_ms(void)
{
	return gt_mono_ns() / 1000000u;
}

void cli_sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000u),
	    (long)(ms % 1000u) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int cli_exit_worse(int a, int b)
{
	/* Usage errors stop a command before it does anything, so they
	 * never meet another code; of the rest, 3 > 1 > 0. */
	if (a == CLI_EXIT_USAGE || b == CLI_EXIT_USAGE)
		return CLI_EXIT_USAGE;
	return a >= b ? a : b;
}
