/*
 * csv.h - the CSV dialect of `sub import` and `sub export` (RFC 4180:
 * comma-separated, fields with commas, quotes or line breaks in double quotes,
 * quotes doubled). One record per line: a field never spans lines here.
 */
#ifndef PARLEY_CSV_H
#define PARLEY_CSV_H

#include <stdio.h>

#define CSV_EXPORT_COLUMNS 9
#define CSV_MAX_FIELDS 32

/* Column names written by export, in order; import maps columns by these. */
extern const char *const csv_export_header[CSV_EXPORT_COLUMNS];

/*
 * csv_split: split LINE (no line terminator) in place into at most MAX
 * fields, unquoting them. Returns the number of fields, or -1 if the quoting
 * is malformed or there are more than MAX fields.
 */
int csv_split(char *line, char **fields, int max);

/* csv_write_row: write N fields as one CRLF-terminated record. */
void csv_write_row(FILE *f, const char *const *fields, int n);

#endif
