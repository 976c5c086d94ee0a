/*
 * gate/kube/discovery.h - the Kubernetes API's self-description, as the
 * twin's kinds make it: /version, /api, /apis, /api/v1, /apis/G/V (legacy
 * and aggregated v2 discovery), /openapi/v3 (/openapi/v2 is 404: clients
 * ask it for protobuf only).
 */
#ifndef GATE_KUBE_DISCOVERY_H
#define GATE_KUBE_DISCOVERY_H

#include "gate/http/http.h"
#include "twin/twin.h"

/* A GET of rq->path answered in resp: 1, or 0 when the path is not one of
 * these (a resource path: the pipeline's).  t is read for its kinds, the
 * learnt ones too (the caller holds the engine lock for reading). */
int gate_discovery(const gate_req *rq, gate_resp *resp, const twin *t);
/* Whether url is one of those paths (by its shape: the caller takes the
 * engine lock only then, not for every resource read). */
int gate_discovery_path(const char *url);

#endif
