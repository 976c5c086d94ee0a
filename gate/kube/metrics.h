/*
 * gate/kube/metrics.h - the resource metrics API (metrics.k8s.io/v1beta1,
 * what `kubectl top` reads), in twin mode.
 *
 * The twin runs no containers, so its usage is synthetic and says what the
 * pods ask for: a running container uses what it requests (cpu and
 * memory), or 1m of cpu and 4Mi of memory when it requests nothing; a node
 * uses the sum of its running pods.  Pods not running have no metrics, as
 * with metrics-server.  In enforce mode the gate forwards these reads to
 * production, whose metrics are real.
 */
#ifndef GATE_METRICS_H
#define GATE_METRICS_H

#include "gate/http/http.h"
#include "twin/twin.h"

/* 1 when rq is a read of metrics.k8s.io (then answered in resp: the
 * metrics, a List, or a 404/405 Status), 0 otherwise.  t is read only. */
int gate_metrics(const gate_req *rq, gate_resp *resp, twin *t);

/* The request production receives for such a read, built from what was
 * parsed (never the request's own bytes): a new string, or NULL when rq is
 * not a metrics read the gate understands. */
char *gate_metrics_wire(const gate_req *rq);

#endif
