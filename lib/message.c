/*
 * message.c - parses messages with libetpan (see message.h). libetpan's parse
 * trees point into the raw buffer and are freed before returning: nothing
 * here keeps a pointer into libetpan or into RAW. Sizes are bounded before
 * parsing because Debian's libetpan lacks later upstream parser fixes.
 */
#include "autoconf.h"

#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "address.h"
#include "message_check.h"
#include "mime_decode.h"
#include "utf8.h"
#include "xalloc.h"

/* utf8_clean: a copy of S[0..N) with invalid sequences replaced by U+FFFD
 * and C0 controls other than TAB, LF dropped. */
static char *utf8_clean(const char *s, size_t n)
{
	char *out = xmalloc(n * 3 + 1), *o = out;
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (c < 0x80) {
			if (c >= 0x20 || c == '\t' || c == '\n')
				*o++ = (char)c;
			i++;
		} else if (i + len <= n && utf8_valid(s + i, len)) {
			memcpy(o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	*o = '\0';
	return out;
}

/* decode_words: an unstructured header value with RFC 2047 words decoded. */
static char *decode_words(const char *v)
{
	size_t idx = 0;
	char *dec = NULL, *out;

	if (v == NULL)
		return NULL;
	if (mailmime_encoded_phrase_parse("utf-8", v, strlen(v), &idx, "utf-8", &dec) !=
		    MAILIMF_NO_ERROR ||
	    dec == NULL)
		return utf8_clean(v, strlen(v));
	out = utf8_clean(dec, strlen(dec));
	free(dec);
	/* unfold: CR/LF were dropped or kept as LF; make them spaces */
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	return out;
}

/* msgid: "<ID>", ID cleaned as every string handed out (libetpan keeps raw bytes). */
static char *msgid(const char *id)
{
	char *clean, *out;

	if (id == NULL)
		return NULL;
	clean = utf8_clean(id, strlen(id));
	out = xasprintf("<%s>", clean);
	free(clean);
	return out;
}

int message_header_count(const char *raw, size_t len, int *received)
{
	size_t i = 0;
	int n = 0, r = 0;

	while (i < len) {
		const char *line = raw + i, *nl = memchr(line, '\n', len - i);
		size_t l = nl ? (size_t)(nl - line) : len - i;
		if (l == 0 || (l == 1 && line[0] == '\r'))
			break;
		if (line[0] != ' ' && line[0] != '\t') {
			n++;
			if (l >= 9 && strncasecmp(line, "Received:", 9) == 0)
				r++;
		}
		i += l + 1;
	}
	if (received)
		*received = r;
	return n;
}

static void optional_fields(struct mailimf_fields *fields, struct message *m)
{
	clistiter *it;

	for (it = clist_begin(fields->fld_list); it; it = clist_next(it)) {
		struct mailimf_field *f = clist_content(it);
		struct mailimf_optional_field *o;
		char **dst = NULL;
		if (f->fld_type != MAILIMF_FIELD_OPTIONAL_FIELD)
			continue;
		o = f->fld_data.fld_optional_field;
		if (strcasecmp(o->fld_name, "Auto-Submitted") == 0)
			dst = &m->auto_submitted;
		else if (strcasecmp(o->fld_name, "List-Id") == 0)
			dst = &m->list_id;
		else if (strcasecmp(o->fld_name, "X-Loop") == 0)
			dst = &m->x_loop;
		else if (strcasecmp(o->fld_name, "Precedence") == 0)
			dst = &m->precedence;
		else if (strcasecmp(o->fld_name, "Authentication-Results") == 0 &&
			 m->auth_results.n < 32) {
			char *v = decode_words(o->fld_value);
			strv_push(&m->auth_results, v);
			free(v);
		}
		if (dst != NULL && *dst == NULL)
			*dst = decode_words(o->fld_value);
	}
}

static void author(struct mailimf_from *from, struct message *m)
{
	struct mailimf_mailbox *mb;
	char spec[ADDRESS_MAX + 1], err[ADDRESS_ERR_MAX];

	if (from == NULL || from->frm_mb_list == NULL ||
	    clist_begin(from->frm_mb_list->mb_list) == NULL)
		return;
	mb = clist_content(clist_begin(from->frm_mb_list->mb_list));
	if (mb->mb_addr_spec && address_parse_spec(mb->mb_addr_spec, spec, err, sizeof(err)) == 0)
		m->from_addr = xstrdup(spec);
	if (mb->mb_display_name && mb->mb_display_name[0])
		m->from_name = decode_words(mb->mb_display_name);
}

static long long date_of(struct mailimf_orig_date *d)
{
	struct mailimf_date_time *t;
	struct tm tm;
	long long secs;

	if (d == NULL || (t = d->dt_date_time) == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t->dt_year - 1900;
	tm.tm_mon = t->dt_month - 1;
	tm.tm_mday = t->dt_day;
	tm.tm_hour = t->dt_hour;
	tm.tm_min = t->dt_min;
	tm.tm_sec = t->dt_sec;
	secs = (long long)timegm(&tm);
	/* dt_zone is +HHMM as a number */
	secs -= (t->dt_zone / 100) * 3600LL + (t->dt_zone % 100) * 60LL;
	return secs < 0 ? 0 : secs;
}

static char *references(struct mailimf_references *r)
{
	size_t len = 0;
	char *out = NULL;
	clistiter *it;

	if (r == NULL || r->mid_list == NULL)
		return NULL;
	for (it = clist_begin(r->mid_list); it; it = clist_next(it)) {
		char *id = msgid(clist_content(it));
		size_t n = strlen(id) + 1;	/* " " */
		out = xrealloc(out, len + n + 1);
		len += (size_t)snprintf(out + len, n + 1, "%s%s", len ? " " : "", id);
		free(id);
	}
	return out;
}

/* text_part: decode a text/plain leaf to UTF-8. */
static char *text_part(struct mailmime *mm)
{
	struct mailmime_data *d = mm->mm_data.mm_single;
	const char *charset;
	char *dec = NULL, *conv = NULL, *out;
	size_t idx = 0, dlen = 0;
	int enc = MAILMIME_MECHANISM_8BIT;

	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT)
		return NULL;
	if (mm->mm_mime_fields)
		enc = mailmime_transfer_encoding_get(mm->mm_mime_fields);
	/* not mailmime_part_parse: Debian's libetpan reads past a QP buffer */
	dec = mime_decode_body(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, enc, &dlen);
	if (dec == NULL)
		return NULL;
	charset = mm->mm_content_type ? mailmime_content_charset_get(mm->mm_content_type) : NULL;
	if (charset && strcasecmp(charset, "utf-8") != 0 && strcasecmp(charset, "us-ascii") != 0 &&
	    charconv_buffer("utf-8", charset, dec, dlen, &conv, &idx) == MAIL_CHARCONV_NO_ERROR) {
		out = utf8_clean(conv, idx);
		charconv_buffer_free(conv);
	} else {
		out = utf8_clean(dec, dlen);
	}
	free(dec);
	return out;
}

static void walk(struct mailmime *mm, struct message *m, int depth)
{
	clistiter *it;

	if (mm == NULL || depth > 20)
		return;
	switch (mm->mm_type) {
	case MAILMIME_SINGLE:
		m->parts++;
		if (mm->mm_content_type &&
		    mm->mm_content_type->ct_type->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
		    mm->mm_content_type->ct_type->tp_data.tp_discrete_type->dt_type ==
			    MAILMIME_DISCRETE_TYPE_TEXT) {
			if (m->text == NULL && strcasecmp(mm->mm_content_type->ct_subtype, "plain") == 0)
				m->text = text_part(mm);
			else if (m->html == NULL &&
				 strcasecmp(mm->mm_content_type->ct_subtype, "html") == 0)
				m->html = text_part(mm);
		}
		break;
	case MAILMIME_MULTIPLE:
		for (it = clist_begin(mm->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it))
			walk(clist_content(it), m, depth + 1);
		break;
	case MAILMIME_MESSAGE:
		walk(mm->mm_data.mm_message.mm_msg_mime, m, depth + 1);
		break;
	default:
		break;
	}
}

/* header_copy: RAW's header section (and its empty line), with every
 * Return-Path field renamed: libetpan 1.9.4's path parser leaks the address
 * of a Return-Path that lacks its '>', and parley reads the return path
 * from the envelope only. *HLEN its length; malloc'd. */
static char *header_copy(const char *raw, size_t len, size_t *hlen)
{
	size_t n = 0;
	char *h;

	while (n < len) {
		const char *nl = memchr(raw + n, '\n', len - n);
		size_t l = nl ? (size_t)(nl - raw - n) + 1 : len - n;
		int empty = l == 1 || (l == 2 && raw[n] == '\r');
		n += l;
		if (empty)
			break;
	}
	h = xmalloc(n + 1);
	memcpy(h, raw, n);
	h[n] = '\0';
	for (size_t i = 0; i + 11 <= n; i++) {
		size_t j = i + 11;
		if ((i > 0 && h[i - 1] != '\n') || strncasecmp(h + i, "Return-Path", 11) != 0)
			continue;
		while (j < n && (h[j] == ' ' || h[j] == '\t'))
			j++;	/* libetpan takes white space before the colon */
		if (j < n && h[j] == ':')
			h[i] = 'X';
	}
	*hlen = n;
	return h;
}

int message_parse(const char *raw, size_t len, int max_headers, struct message *out, char *err,
		  size_t errlen)
{
	char *head;
	size_t hlen;
	int rc;

	struct mailimf_fields *fields = NULL;
	struct mailimf_single_fields single;
	struct mailmime *mime = NULL;
	size_t idx = 0;

	memset(out, 0, sizeof(*out));
	out->header_count = message_header_count(raw, len, &out->received_count);
	if (out->header_count > max_headers) {
		snprintf(err, errlen, "%d header fields (limit %d)", out->header_count, max_headers);
		return -1;
	}
	if (message_check_structure(raw, len, MESSAGE_MIME_DEPTH_MAX, err, errlen) < 0)
		return MESSAGE_REFUSED;
	head = header_copy(raw, len, &hlen);
	rc = mailimf_fields_parse(head, hlen, &idx, &fields);
	if (rc != MAILIMF_NO_ERROR || fields == NULL) {
		free(head);
		snprintf(err, errlen, "header section cannot be parsed");
		return -1;
	}
	mailimf_single_fields_init(&single, fields);
	if (single.fld_message_id)
		out->message_id = msgid(single.fld_message_id->mid_value);
	if (single.fld_in_reply_to && single.fld_in_reply_to->mid_list &&
	    clist_begin(single.fld_in_reply_to->mid_list))
		out->in_reply_to = msgid(clist_content(clist_begin(single.fld_in_reply_to->mid_list)));
	out->references = references(single.fld_references);
	if (single.fld_subject)
		out->subject = decode_words(single.fld_subject->sbj_value);
	author(single.fld_from, out);
	out->date = date_of(single.fld_orig_date);
	optional_fields(fields, out);
	mailimf_fields_free(fields);
	free(head);
	idx = 0;
	if (mailmime_parse(raw, len, &idx, &mime) == MAILIMF_NO_ERROR && mime != NULL) {
		walk(mime, out, 0);
		mailmime_free(mime);
	}
	return 0;
}

void message_free(struct message *m)
{
	free(m->message_id);
	free(m->in_reply_to);
	free(m->references);
	free(m->subject);
	free(m->from_addr);
	free(m->from_name);
	free(m->auto_submitted);
	free(m->list_id);
	free(m->x_loop);
	free(m->precedence);
	free(m->text);
	free(m->html);
	strv_free(&m->auth_results);
	memset(m, 0, sizeof(*m));
}
