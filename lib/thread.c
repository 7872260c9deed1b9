/*
 * thread.c - finds the parent of a reply (see thread.h). Never trusts a
 * Message-ID to be unique across lists: every lookup is within the list.
 * Never walks more than THREAD_REFS_SCAN References, so a message with
 * 10,000 of them costs no more than one with 100.
 */
#include "autoconf.h"

#include "thread.h"

#include <stdlib.h>
#include <string.h>

#include "store_archive.h"
#include "subject.h"
#include "strv.h"
#include "xalloc.h"

#define SUBJECT_BASE_MAX 512

/* split_ids: the space-separated ids of S into OUT (kept in order). */
static void split_ids(const char *s, struct strv *out)
{
	const char *p = s;

	while (p != NULL && *p) {
		size_t n;
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (n > 0) {
			char *id = xstrndup(p, n);
			strv_push(out, id);
			free(id);
		}
		p += n;
	}
}

static long long by_refs(struct store *st, const struct thread_in *in)
{
	struct strv ids = {NULL, 0};
	long long id = 0;
	size_t i, scanned = 0;

	split_ids(in->msg->references, &ids);
	for (i = ids.n; i > 0 && id == 0 && scanned < THREAD_REFS_SCAN; i--, scanned++)
		id = store_archive_find_msgid(st, in->list_id, ids.v[i - 1]);
	strv_free(&ids);
	return id;
}

static long long by_subject(struct store *st, const struct thread_in *in)
{
	char base[SUBJECT_BASE_MAX];
	long long window = (long long)in->list->subject_window * 86400;

	if (in->msg->subject == NULL || window <= 0 ||
	    !subject_is_reply(in->msg->subject, in->list->subject_prefix))
		return 0;
	subject_normalise(in->msg->subject, in->list->subject_prefix, base, sizeof(base));
	if (base[0] == '\0')
		return 0;
	return store_thread_find_subject(st, in->list_id, base, in->now - window);
}

void thread_in_set(struct thread_in *in, const struct cfg_list *l, long long list_id,
		   const struct message *m, long long now)
{
	memset(in, 0, sizeof(*in));
	in->list = l;
	in->list_id = list_id;
	in->msg = m;
	in->now = now;
}

long long thread_find(struct store *st, const struct thread_in *in, const char **how)
{
	long long id;

	*how = "";
	if (in->token_archive_id > 0) {
		*how = "token";
		return in->token_archive_id;
	}
	if (in->msg->in_reply_to != NULL &&
	    (id = store_archive_find_msgid(st, in->list_id, in->msg->in_reply_to)) != 0) {
		*how = "In-Reply-To";
		return id;
	}
	if (in->msg->references != NULL && (id = by_refs(st, in)) != 0) {
		*how = id > 0 ? "References" : "";
		return id;
	}
	if ((id = by_subject(st, in)) > 0)
		*how = "subject";
	return id;
}

char *thread_parent_hint(const struct message *m)
{
	const char *r = m->references, *last;
	size_t n;

	if (m->in_reply_to != NULL)
		return xstrdup(m->in_reply_to);
	if (r == NULL)
		return NULL;
	n = strlen(r);
	while (n > 0 && (r[n - 1] == ' ' || r[n - 1] == '\t'))
		n--;
	for (last = r + n; last > r && last[-1] != ' ' && last[-1] != '\t'; last--)
		;
	return last < r + n ? xstrndup(last, (size_t)(r + n - last)) : NULL;
}

char *thread_refs(const char *parent_refs, const char *parent_msgid)
{
	struct strv ids = {NULL, 0};
	size_t i, total = 0, start;
	char *out, *p;

	split_ids(parent_refs, &ids);
	strv_push(&ids, parent_msgid);
	start = ids.n > THREAD_REFS_MAX ? ids.n - (THREAD_REFS_MAX - 1) : 1;
	for (i = 0; i < ids.n; i++)
		total += strlen(ids.v[i]) + 1;
	out = p = xmalloc(total + 1);
	*p = '\0';
	for (i = 0; i < ids.n; i++) {
		if (i != 0 && i < start)
			continue;	/* the root, then the newest */
		if (p != out)
			*p++ = ' ';
		strcpy(p, ids.v[i]);
		p += strlen(p);
	}
	strv_free(&ids);
	return out;
}
