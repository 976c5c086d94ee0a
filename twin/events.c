/*
 * events.c - the Events the twin's controllers emit (core/v1 Event), as
 * client-go's EventRecorder writes them: the involved object, a reason, a
 * message, Normal or Warning, the reporting component, a count and the
 * first and last times.
 *
 * Only when the twin is asked to (twin_set_events: `gate serve` in twin
 * mode, where kubectl reads them); off, they cost nothing, so `gate check`,
 * the scenarios and the benchmarks write what they always did.
 *
 * An Event is what a controller said, not a change an agent made: its
 * writes are quiet (twin_change.quiet), left out of the diff, the impact
 * and its counts, so no policy ever judges one; they are rolled back with
 * the operation like any write, and a committed operation hands them to
 * its watchers (twin_result.events).
 *
 * Simplified: the EventCorrelator's aggregation is an exact match (the
 * same object, reason and message make one Event whose count grows), and
 * instead of a time to live each object keeps its EVENTS_PER_OBJECT
 * newest Events.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin_int.h"

enum { EVENTS_PER_OBJECT = 20 };

void twin_set_events(twin *t, int on) { t->events = on; }

/* The Events about the object `name` (theirs begin with "name."; another
 * object's, "name.x.<hash>", may too and is skipped); the oldest last seen
 * beyond the bound are deleted.  The rows give the names; the documents
 * are read through the store (an Event written in this operation may not be
 * in its row's text yet). */
static void prune(twin *t, const char *ns, const char *name, const char *prefix)
{
    sqlite3_stmt *st = twin__stmt(t, 32, "SELECT name FROM objects WHERE kind='Event' AND ns=? AND name>=? AND "
                                         "name<? ORDER BY name");
    char *hi = twin_xasprintf("%s\x7f", prefix);
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, hi, -1, SQLITE_TRANSIENT);
    json_t *rows = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(rows, json_string((const char *)sqlite3_column_text(st, 0)));
    sqlite3_reset(st);
    free(hi);
    json_t *names = json_array(), *times = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        json_t *doc = twin__get(t, "Event", ns, json_string_value(r));
        const char *about = twin__str(doc, "involvedObject.name"), *last = twin__str(doc, "lastTimestamp");
        if (about && !strcmp(about, name)) {
            json_array_append(names, r);
            json_array_append_new(times, json_string(last ? last : ""));
        }
        json_decref(doc);
    }
    json_decref(rows);
    while (json_array_size(names) > EVENTS_PER_OBJECT) {
        size_t oldest = 0;
        for (size_t k = 1; k < json_array_size(times); k++)
            if (strcmp(json_string_value(json_array_get(times, k)), json_string_value(json_array_get(times, oldest))) <
                0)
                oldest = k;
        t->quiet++;
        twin__del(t, "Event", ns, json_string_value(json_array_get(names, oldest)));
        t->quiet--;
        json_array_remove(names, oldest);
        json_array_remove(times, oldest);
    }
    json_decref(names);
    json_decref(times);
}

void twin__event(twin *t, const json_t *obj, const char *type, const char *reason, const char *component,
                 const char *fmt, ...)
{
    if (!t->events || !obj)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = twin_xvasprintf(fmt, ap);
    va_end(ap);
    const char *kind = twin__kind(obj), *name = twin__name(obj), *uid = twin__uid(obj);
    const char *ns = twin__ns(obj);
    const char *ens = ns && *ns ? ns : "default";   /* a cluster-scoped object's Events live in default */
    char *seed = twin_xasprintf("%s\x1f%s\x1f%s\x1f%s", uid ? uid : "", name ? name : "", reason, msg);
    char digest[65];
    twin__digest_hex(seed, digest);
    free(seed);
    char *ename = twin_xasprintf("%s.%.16s", name ? name : "", digest);
    char *ts = twin__timestamp(t);
    json_t *old = twin__get(t, "Event", ens, ename);
    json_t *ev;
    if (old) {
        ev = json_deep_copy(old);
        json_object_set_new(ev, "count", json_integer(twin__int(old, "count", 1) + 1));
        json_object_set_new(ev, "lastTimestamp", json_string(ts));
        json_object_del(json_object_get(ev, "metadata"), "resourceVersion");
    } else {
        json_t *ref = json_pack("{s:s?, s:s?, s:s?, s:s?, s:O?, s:O?}", "kind", kind, "namespace",
                                ns && *ns ? ns : NULL, "name", name, "uid", uid, "apiVersion",
                                json_object_get(obj, "apiVersion"), "resourceVersion",
                                json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
        ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:i, s:s, s:s, s:n}",
                       "apiVersion", "v1", "kind", "Event", "metadata", "name", ename, "namespace", ens,
                       "involvedObject", ref, "reason", reason, "message", msg, "type", type, "source", "component",
                       component, "reportingComponent", component, "reportingInstance", "", "count", 1,
                       "firstTimestamp", ts, "lastTimestamp", ts, "eventTime");
    }
    t->quiet++;
    twin__put_shared(t, ev);
    t->quiet--;
    json_decref(ev);
    if (!old) {
        char *prefix = twin_xasprintf("%s.", name ? name : "");
        prune(t, ens, name ? name : "", prefix);
        free(prefix);
    }
    json_decref(old);
    free(ts);
    free(ename);
    free(msg);
}

json_t *twin__quiet_diff(twin *t)
{
    json_t *out = json_array();
    if (!t->events)
        return out;   /* nothing is quiet then: no walk of the changes on every simulation */
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *c = e->value;
        if (!c->quiet)
            continue;
        json_array_append_new(out, json_pack("{s:s, s:s, s:s?, s:s, s:O?, s:O?}", "op",
                                             !c->before ? "create" : !c->after ? "delete" : "update", "kind", c->kind,
                                             "namespace", *c->ns ? c->ns : NULL, "name", c->name, "before", c->before,
                                             "after", c->after));
    }
    return out;
}
