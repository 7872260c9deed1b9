/*
 * metrics.h - the counters of parley stats in the OpenMetrics text format
 * (https://openmetrics.io, a superset of Prometheus's), for GET /metrics on
 * the HTTP listener (http_server.c decides who may read them).
 */
#ifndef PARLEY_METRICS_H
#define PARLEY_METRICS_H

#include "config.h"
#include "mailfmt.h"
#include "store.h"

#define METRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* metrics_write: the counters of every list of CFG as of NOW, read from ST,
 * appended to OUT, ending with "# EOF". 0, or -1 (logged; OUT holds part). */
int metrics_write(struct store *st, const struct config *cfg, long long now, struct mbuf *out);

#endif
