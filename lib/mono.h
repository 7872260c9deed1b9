/*
 * mono.h - the monotonic clock in milliseconds, for deadlines and waits
 * (never for dates: see store_now()).
 */
#ifndef PARLEY_MONO_H
#define PARLEY_MONO_H

/* mono_ms: milliseconds of CLOCK_MONOTONIC; only differences mean anything. */
long long mono_ms(void);

#endif
