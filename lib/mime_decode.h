/*
 * mime_decode.h - decoding of MIME part bodies (RFC 2045 §6.7-6.8), bounded
 * by the length given: Debian's libetpan quoted-printable decoder reads past
 * the end of its input, so parley never hands it a body to decode.
 */
#ifndef PARLEY_MIME_DECODE_H
#define PARLEY_MIME_DECODE_H

#include <stddef.h>

/* mime_decode_body: BODY (LEN bytes) decoded from transfer encoding CTE (a
 * libetpan MAILMIME_MECHANISM_*), malloc'd and NUL-terminated past *OUTLEN;
 * NULL for an encoding it does not know. */
char *mime_decode_body(const char *body, size_t len, int cte, size_t *outlen);

#endif
