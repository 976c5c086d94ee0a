/*
 * tally.c - counts per identity, bounded (see tally.h).
 */
#include "gate/base/tally.h"

void gate_tally_init(gate_tally *t)
{
    pthread_mutex_init(&t->mu, NULL);
    t->counts = json_object();
}

void gate_tally_destroy(gate_tally *t)
{
    json_decref(t->counts);
    t->counts = NULL;
    pthread_mutex_destroy(&t->mu);
}

int gate_tally_take(gate_tally *t, const char *key, long max)
{
    pthread_mutex_lock(&t->mu);
    json_int_t n = json_integer_value(json_object_get(t->counts, key));
    int ok = max <= 0 || n < max;
    if (ok)
        json_object_set_new(t->counts, key, json_integer(n + 1));
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void gate_tally_give(gate_tally *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    json_int_t n = json_integer_value(json_object_get(t->counts, key));
    if (n > 1)
        json_object_set_new(t->counts, key, json_integer(n - 1));
    else
        json_object_del(t->counts, key);   /* nothing open: nothing kept */
    pthread_mutex_unlock(&t->mu);
}
