/*
 * subaddr.h - the one builder of the sub-addresses of a list (design §2):
 * L<delim>WHAT@domain and L<delim>WHAT-TOKEN@domain, and the bound on their
 * length that the config loader holds every list to.
 *
 * Every address parley hands out is made here, so that none can pass RFC
 * 5321's 64-octet local part (§4.5.3.1.1): an address that would is
 * refused (-1), never written truncated.
 */
#ifndef PARLEY_SUBADDR_H
#define PARLEY_SUBADDR_H

#include <stddef.h>

#include "address.h"
#include "config.h"

/* subaddr_make: LOCAL<DELIM>WHAT@DOMAIN of list address LIST_ADDR, or
 * LOCAL<DELIM>WHAT-TOKEN@DOMAIN when TOKEN is not NULL, into OUT (OUTLEN
 * bytes; ADDRESS_MAX + 1 always suffice). WHAT NULL gives the list address
 * itself. 0, or -1 if the local part would pass 64 octets or OUT is short. */
int subaddr_make(char *out, size_t outlen, const char *list_addr, char delim, const char *what,
		 const char *token);

/* subaddr_list: subaddr_make for a configured list, with CFG's delimiter. */
int subaddr_list(char *out, size_t outlen, const struct config *cfg, const struct cfg_list *l,
		 const char *what, const char *token);

/* subaddr_longest: the longest local part parley could make for a list
 * whose own local part is LOCAL_LEN octets (every command word, and every
 * token kind at its longest); in *WHAT the suffix that makes it. */
size_t subaddr_longest(size_t local_len, const char **what);

#endif
