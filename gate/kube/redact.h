/*
 * gate/kube/redact.h - Secret values kept from agents that may not read them.
 *
 * An agent without read_secrets never receives a Secret's data: whatever
 * answer the gate sends about Secrets (an object, a List, a Table with its
 * objects, a watch event, a Status with details, production's answer to a
 * delete or a patch) passes through gate_redact_secret_answer first.  The
 * values are replaced, the keys stay (an agent may know which keys a Secret
 * has, as `kubectl describe` shows them):
 *   data.K       -> "PHJlZGFjdGVkPg==" (base64 of "<redacted>", so clients
 *                   that decode base64 still can)
 *   stringData.K -> "<redacted>"
 *   the kubectl.kubernetes.io/last-applied-configuration annotation, which
 *   holds the whole manifest, data included -> "<redacted>"
 */
#ifndef GATE_REDACT_H
#define GATE_REDACT_H

#include <jansson.h>

#define GATE_REDACTED "<redacted>"
#define GATE_REDACTED_B64 "PHJlZGFjdGVkPg=="

/* Redacts, in place, every object in doc that an answer about Secrets can
 * carry: doc itself, items[*] of a List (whose items carry no kind),
 * rows[*].object of a Table, the object of a watch event.  Borrowed; NULL
 * is a no-op. */
void gate_redact_secret_answer(json_t *doc);

/* Redacts one Secret object in place (data, stringData, the last-applied
 * annotation). */
void gate_redact_secret(json_t *secret);

/* For the records (audit, approvals, their pages): a copy with Secret
 * values redacted (new reference; NULL stays NULL).
 * gate_redact: a request body about `kind` -- a Secret (or one that says
 * kind Secret, or each Secret in a List), and the values a JSON patch of a
 * Secret writes under /data, /stringData or /metadata/annotations.
 * gate_redact_diff: a diff, every Secret's before and after. */
json_t *gate_redact(const json_t *body, const char *kind);
json_t *gate_redact_diff(const json_t *diff);

#endif
