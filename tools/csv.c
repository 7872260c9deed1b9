/*
 * csv.c - RFC 4180 records for subscriber import and export (see csv.h).
 * Never reads past the given line and never writes a record that reads back
 * differently.
 */
#include "autoconf.h"

#include "csv.h"

#include <string.h>

const char *const csv_export_header[CSV_EXPORT_COLUMNS] = {
	"address", "name", "mode", "status", "consent_how", "consent_at", "consent_by",
	"created_at", "bounce_score"};

/* Unquote the field starting at *P (just after the opening quote) in place.
 * Returns the field's end, or NULL if the quote is not closed properly. */
static char *csv_quoted(char *p, char **next)
{
	char *w = p, *r = p;

	for (;;) {
		if (*r == '\0')
			return NULL;
		if (*r == '"') {
			if (r[1] == '"') {
				*w++ = '"';
				r += 2;
				continue;
			}
			r++;
			while (*r == ' ' || *r == '\t')
				r++;
			if (*r != ',' && *r != '\0')
				return NULL;
			*next = r;
			*w = '\0';
			return w;
		}
		*w++ = *r++;
	}
}

int csv_split(char *line, char **fields, int max)
{
	char *p = line, *start, *end;
	int n = 0, last;

	for (;;) {
		if (n >= max)
			return -1;
		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		if (*p == '"') {
			fields[n++] = p + 1;
			if (csv_quoted(p + 1, &p) == NULL)
				return -1;
			last = *p == '\0';
		} else {
			fields[n++] = p;
			p += strcspn(p, ",");
			last = *p == '\0';
			for (end = p; end > start && (end[-1] == ' ' || end[-1] == '\t'); end--)
				;
			if (memchr(start, '"', (size_t)(end - start)) != NULL)
				return -1;
			*end = '\0';
		}
		if (last)
			return n;
		p++;	/* past ',' */
	}
}

static void csv_write_field(FILE *f, const char *s)
{
	if (s[strcspn(s, ",\"\r\n")] == '\0' && s[0] != ' ' &&
	    (s[0] == '\0' || s[strlen(s) - 1] != ' ')) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void csv_write_row(FILE *f, const char *const *fields, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		csv_write_field(f, fields[i]);
	}
	fputs("\r\n", f);
}
