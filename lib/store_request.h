/*
 * store_request.h - requests made by email that wait for their
 * confirmation (design §2: L+subscribe@, L+unsubscribe@, L+set-MODE@), and
 * the counts that rate-limit commands. One pending request per (list,
 * address): a new one supersedes the others, and a unique index guards
 * (list, address, action). Writers run inside the
 * caller's transaction.
 */
#ifndef PARLEY_STORE_REQUEST_H
#define PARLEY_STORE_REQUEST_H

#include "store.h"

struct request {
	long long id, list_id, created_at, expires_at;
	char address[256];
	char action[16];		/* "subscribe", "unsubscribe", "set" */
	char mode[16];			/* "set": the mode asked for */
	char state[16];			/* "pending", "done", "expired", "superseded" */
	char message_id[300];		/* of the message that asked, or "" */
};

/* store_request_open: the pending request of (LIST_ID, ADDRESS, ACTION),
 * made (with MODE, MSGID, INBOUND_ID, expiring at EXPIRES) if there is
 * none, or renewed (mode and expiry) if there is; pending requests of that
 * address for other actions are superseded. Its id, or -1. */
long long store_request_open(struct store *st, long long list_id, const char *address,
			     const char *action, const char *mode, const char *msgid,
			     long long inbound_id, long long now, long long expires);

/* store_request_get: 1 and OUT filled, 0 if there is no request ID, -1. */
int store_request_get(struct store *st, long long id, struct request *out);

/* store_request_close: pending request ID becomes STATE; 1 if it was
 * pending, 0 if not, -1. */
int store_request_close(struct store *st, long long id, const char *state, long long now);

/* store_requests_mailed: confirmation mails queued to ADDRESS since SINCE,
 * whatever the list; -1 on error. */
long long store_requests_mailed(struct store *st, const char *address, long long since);

/* store_commands_since: messages from envelope sender SENDER to a command
 * address since SINCE, other than inbound message EXCEPT; -1 on error. */
long long store_commands_since(struct store *st, const char *sender, long long since,
			       long long except);

#endif
