/*
 * webhook.c - the approvals webhook's queue and worker (see webhook.h).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate/base/clock.h"
#include "gate/base/log.h"
#include "gate/ops/webhook.h"
#include "twin/util.h"

struct gate_webhook {
    char *url;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char *queue[GATE_WEBHOOK_QUEUE];   /* ring of JSON texts */
    size_t head, len;
    int stopping;
    double stop_by;    /* at stop: what is still queued then is dropped */
    long delivered, dropped;
};

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* One POST; 0 when the hook answered 2xx. */
static int post_once(const char *url, const char *text, char *why, size_t whylen)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(why, whylen, "no curl handle");
        return -1;
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK)
        snprintf(why, whylen, "%s", curl_easy_strerror(cc));
    else if (status < 200 || status >= 300)
        snprintf(why, whylen, "the hook answered %ld", status);
    return cc == CURLE_OK && status >= 200 && status < 300 ? 0 : -1;
}

/* Waits up to `seconds` unless the queue is stopping; the lock is held. */
static void pause_for(gate_webhook *w, double seconds)
{
    struct timespec until = gate_deadline(seconds);
    if (!w->stopping)
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
}

static void *worker(void *arg)
{
    gate_webhook *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->len && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (!w->len)
            break;   /* stopping, and nothing left */
        if (w->stopping && gate_mono() > w->stop_by) {
            gate_log("webhook: stopping: %zu queued events were not delivered", w->len);
            w->dropped += (long)w->len;
            break;   /* gate_webhook_stop frees them */
        }
        char *text = w->queue[w->head];
        w->head = (w->head + 1) % GATE_WEBHOOK_QUEUE;
        w->len--;
        int tries = w->stopping ? 1 : GATE_WEBHOOK_TRIES, ok = 0;
        char why[256] = "";
        for (int t = 0; t < tries && !ok; t++) {
            if (t)
                pause_for(w, t);   /* 1 s, then 2 s */
            pthread_mutex_unlock(&w->lock);
            ok = post_once(w->url, text, why, sizeof why) == 0;
            pthread_mutex_lock(&w->lock);
        }
        if (ok) {
            w->delivered++;
        } else {
            w->dropped++;
            gate_log("webhook: an event was not delivered after %d tries: %s", tries, why);
        }
        free(text);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int gate_webhook_start(gate_webhook **out, const char *url, char *err, size_t errlen)
{
    gate_webhook *w = twin_xcalloc(1, sizeof *w);
    w->url = twin_xstrdup(url);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, worker, w)) {
        snprintf(err, errlen, "cannot start the webhook's thread");
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w->url);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void gate_webhook_post(gate_webhook *w, json_t *body)
{
    if (!w || !body) {
        json_decref(body);
        return;
    }
    char *text = twin_xdumps(body, JSON_COMPACT);
    json_decref(body);
    pthread_mutex_lock(&w->lock);
    if (w->len == GATE_WEBHOOK_QUEUE) {   /* full: the oldest goes */
        free(w->queue[w->head]);
        w->head = (w->head + 1) % GATE_WEBHOOK_QUEUE;
        w->len--;
        w->dropped++;
        gate_log("webhook: the queue is full (%d events): the oldest event was dropped", GATE_WEBHOOK_QUEUE);
    }
    w->queue[(w->head + w->len) % GATE_WEBHOOK_QUEUE] = text;
    w->len++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void gate_webhook_counts(gate_webhook *w, long *delivered, long *dropped)
{
    pthread_mutex_lock(&w->lock);
    *delivered = w->delivered;
    *dropped = w->dropped;
    pthread_mutex_unlock(&w->lock);
}

void gate_webhook_stop(gate_webhook *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    w->stop_by = gate_mono() + 3;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->len; i++)
        free(w->queue[(w->head + i) % GATE_WEBHOOK_QUEUE]);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w->url);
    free(w);
}
