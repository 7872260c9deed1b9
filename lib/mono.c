/*
 * mono.c - the monotonic clock (see mono.h). It must never use the wall
 * clock, which jumps.
 */
#include "autoconf.h"

#include "mono.h"

#include <time.h>

long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
