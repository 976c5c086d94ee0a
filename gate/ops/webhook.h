/*
 * gate/ops/webhook.h - the approvals webhook, off the request path: events are
 * queued (bounded) and one worker thread POSTs them, with retries, so no
 * agent ever waits on a slow or dead hook.
 *
 * Delivery: at most GATE_WEBHOOK_QUEUE events wait; beyond that the oldest
 * is dropped (and logged).  Each event is tried up to GATE_WEBHOOK_TRIES
 * times (3 s timeout each, 1 s then 2 s apart); a 2xx answer is delivered.
 * At stop, what is queued gets one more chance, bounded by about 3 s.
 */
#ifndef GATE_WEBHOOK_H
#define GATE_WEBHOOK_H

#include <jansson.h>

enum { GATE_WEBHOOK_QUEUE = 256, GATE_WEBHOOK_TRIES = 3 };

typedef struct gate_webhook gate_webhook;

/* A queue for url (http or https) and its worker; -1 with err when the
 * thread cannot start. */
int gate_webhook_start(gate_webhook **out, const char *url, char *err, size_t errlen);
/* Queues one JSON body (taken); never blocks on the network. NULL w or
 * body: a no-op (the body is freed). */
void gate_webhook_post(gate_webhook *w, json_t *body);
/* Events delivered and dropped so far (for tests and logs). */
void gate_webhook_counts(gate_webhook *w, long *delivered, long *dropped);
/* Stops the worker (see above) and frees the queue; NULL is a no-op. */
void gate_webhook_stop(gate_webhook *w);

#endif
