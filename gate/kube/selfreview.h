/*
 * gate/kube/selfreview.h - what an agent may ask about itself:
 * SelfSubjectReview (`kubectl auth whoami`), SelfSubjectAccessReview
 * (`kubectl auth can-i VERB RESOURCE`) and SelfSubjectRulesReview
 * (`kubectl auth can-i --list`).
 *
 * Answered by the gate for the calling agent, in twin and enforce mode
 * alike, and never forwarded: production would answer for the gate's own
 * credential, not for the agent.  "yes" to a mutation means the gate will
 * simulate it and let the policies judge its effect, not that it will pass
 * (the answer's reason says so); "no" is what the gate refuses whatever
 * the policies say (connect subresources, what the twin cannot simulate,
 * kinds it does not serve, Secret values without read_secrets).
 */
#ifndef GATE_SELFREVIEW_H
#define GATE_SELFREVIEW_H

#include <jansson.h>

#include "gate/http/http.h"
#include "twin/twin.h"

typedef struct gate_subject {
    const char *name;
    int read_secrets;
    const json_t *policies;   /* the names of the policies that judge it, or NULL (all) */
} gate_subject;

/* 1 when rq is one of the three reviews (POST to its collection), then
 * answered in resp (201 with the review, or a 4xx Status naming what was
 * wrong with the body); 0 otherwise.  t is read for its kinds only. */
int gate_selfreview(const gate_req *rq, gate_resp *resp, const gate_subject *who, const twin *t);

#endif
