/*
 * utf8.h - UTF-8 validation for text we store or print (display names, CSV
 * fields, decoded headers). Never modifies its input.
 */
#ifndef PARLEY_UTF8_H
#define PARLEY_UTF8_H

#include <stddef.h>

/* utf8_valid: 1 if s[0..len) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF), else 0. */
int utf8_valid(const char *s, size_t len);

/* utf8_has_controls: 1 if s contains C0 controls (other than TAB) or DEL. */
int utf8_has_controls(const char *s);

#endif
