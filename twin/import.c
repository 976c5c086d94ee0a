/*
 * import.c - loading a cluster into the twin: a Kubernetes List (kubectl get
 * -o json), single objects, multi-document YAML manifests, or a directory of
 * them.  All documents are parsed before anything is written, and the whole
 * import is one transaction: a malformed document leaves the twin untouched.
 *
 * After the objects are stored the controllers reconcile and settle, so
 * workloads written as manifests get their ReplicaSets and Ready pods, and
 * Services their Endpoints; a snapshot that already holds ReplicaSets and
 * pods is taken as it is (the controllers find nothing to do).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "selector.h"
#include "aws_int.h"
#include "twin_int.h"
#include "yaml.h"

enum { MAX_FILE = 512 * 1024 * 1024 };

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    twin_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_FILE) {
            snprintf(err, errlen, "%s: larger than the %d MiB limit", path, MAX_FILE >> 20);
            fclose(f);
            twin_buf_free(&b);
            return -1;
        }
        twin_buf_add(&b, chunk, n);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        twin_buf_free(&b);
        return -1;
    }
    *out = b.s ? b.s : twin_xstrdup("");
    *len = b.len;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Parses one file into docs (appended). JSON when the name says so or the
 * text starts like JSON; YAML otherwise (YAML is a superset, but JSON errors
 * read better from the JSON parser). */
static int parse_file(const char *path, json_t *docs, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, err, errlen) < 0)
        return -1;
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
        i++;
    int rc = 0;
    if (ends_with(path, ".json") || (i < len && (buf[i] == '{' || buf[i] == '['))) {
        json_error_t je;
        json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!v) {
            snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
            rc = -1;
        } else if (json_is_array(v)) {
            json_array_extend(docs, v);
            json_decref(v);
        } else {
            json_array_append_new(docs, v);
        }
    } else {
        json_t *v = NULL;
        if (twin_yaml_parse(&v, buf, len, path, err, errlen) < 0)
            rc = -1;
        else {
            json_array_extend(docs, v);
            json_decref(v);
        }
    }
    free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int parse_path(const char *path, json_t *docs, int depth, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return parse_file(path, docs, err, errlen);
    if (depth > 8) {
        snprintf(err, errlen, "%s: directories nested too deep", path);
        return -1;
    }
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *full = twin_xasprintf("%s/%s", path, de->d_name);
        struct stat fst;
        int keep = stat(full, &fst) == 0 &&
                   (S_ISDIR(fst.st_mode) || ends_with(de->d_name, ".json") || ends_with(de->d_name, ".yaml") ||
                    ends_with(de->d_name, ".yml"));
        if (keep) {
            names = twin_xrealloc(names, (n + 1) * sizeof(char *));
            names[n++] = full;
        } else {
            free(full);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = parse_path(names[i], docs, depth + 1, err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

json_t *twin_load_docs(const char *path, char *err, size_t errlen)
{
    json_t *docs = json_array();
    if (parse_path(path, docs, 0, err, errlen) < 0) {
        json_decref(docs);
        return NULL;
    }
    return docs;
}

int twin_import_path(twin *t, const char *path, char *err, size_t errlen)
{
    json_t *docs = twin_load_docs(path, err, errlen);
    if (!docs)
        return -1;
    int rc = twin_import_docs(t, docs, path, err, errlen);
    json_decref(docs);
    return rc;
}

/* Flattens Lists and checks every object names itself; AWS state
 * documents (twin_aws_is_state) go to aws, for the AWS importers. */
static int collect_objects(const json_t *docs, const char *name, json_t *out, json_t *aws, char *err, size_t errlen)
{
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        if (json_is_null(d))
            continue;
        if (!json_is_object(d)) {
            snprintf(err, errlen, "%s: document %zu is not an object", name, i + 1);
            return -1;
        }
        if (twin_aws_is_state(d)) {
            json_array_append(aws, d);
            continue;
        }
        const char *kind = twin__kind(d);
        json_t *items = json_object_get(d, "items");
        if (kind && ends_with(kind, "List") && json_is_array(items)) {
            if (collect_objects(items, name, out, aws, err, errlen) < 0)
                return -1;
            continue;
        }
        if (!kind || !*kind) {
            snprintf(err, errlen, "%s: document %zu has no kind", name, i + 1);
            return -1;
        }
        if (!json_is_string(json_object_get(d, "apiVersion"))) {
            snprintf(err, errlen, "%s: document %zu (%s) has no apiVersion", name, i + 1, kind);
            return -1;
        }
        if (!twin__name(d) || !*twin__name(d)) {
            snprintf(err, errlen, "%s: document %zu (%s) has no metadata.name", name, i + 1, kind);
            return -1;
        }
        json_t *r = twin__path(d, "spec.replicas");
        if (r && (!json_is_integer(r) || json_integer_value(r) < 0)) {
            snprintf(err, errlen, "%s: %s %s: spec.replicas must be a non-negative integer", name, kind,
                     twin__name(d));
            return -1;
        }
        if (r && json_integer_value(r) > TWIN_MAX_REPLICAS) {
            snprintf(err, errlen, "%s: %s %s: %lld replicas is above the twin's limit of %d", name, kind,
                     twin__name(d), (long long)json_integer_value(r), TWIN_MAX_REPLICAS);
            return -1;
        }
        json_array_append(out, d);
    }
    return 0;
}

static long count_owned(twin *t, const char *uid, const char *kind)
{
    sqlite3_stmt *st = twin__stmt(t, 26, "SELECT count(*) FROM owners w JOIN objects o ON o.id = w.id "
                                         "WHERE w.uid=? AND o.kind=?");
    sqlite3_bind_text(st, 1, uid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

/* Whether an imported object needs its controller: a workload without its
 * ReplicaSets or pods, a Service without Endpoints, an unscheduled pod, a
 * node that evicts, an HPA (its bounds).  Asked once everything is stored,
 * since children may come after their owner in the files. */
static int needs_reconcile(twin *t, const json_t *obj)
{
    const char *kind = twin__kind(obj);
    if (!strcmp(kind, "Deployment"))
        return count_owned(t, twin__uid(obj), "ReplicaSet") == 0 && twin__int(obj, "spec.replicas", 1) > 0;
    if (!strcmp(kind, "ReplicaSet") || !strcmp(kind, "StatefulSet") || !strcmp(kind, "Job"))
        return count_owned(t, twin__uid(obj), "Pod") != twin__int(obj, "spec.replicas", 1) ||
               !strcmp(kind, "Job");
    if (!strcmp(kind, "DaemonSet") || !strcmp(kind, "HorizontalPodAutoscaler"))
        return 1;
    if (!strcmp(kind, "Service")) {
        if (json_object_size(twin__path(obj, "spec.selector")) == 0)
            return 0;
        sqlite3_stmt *st = twin__stmt(t, 24, "SELECT 1 FROM objects WHERE kind='Endpoints' AND ns=? AND name=?");
        sqlite3_bind_text(st, 1, twin__ns(obj), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, twin__name(obj), -1, SQLITE_TRANSIENT);
        int found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        return !found;
    }
    if (!strcmp(kind, "Namespace")) {   /* its ServiceAccount "default" */
        json_t *sa = twin__get(t, "ServiceAccount", twin__name(obj), "default");
        json_decref(sa);
        return !sa;
    }
    if (!strcmp(kind, "Pod"))
        return !twin__str(obj, "spec.nodeName") && twin__pod_active(obj);
    if (!strcmp(kind, "Node")) {
        size_t i;
        json_t *taint;
        json_array_foreach(twin__path(obj, "spec.taints"), i, taint) {
            const char *eff = json_string_value(json_object_get(taint, "effect"));
            if (eff && !strcmp(eff, "NoExecute"))
                return 1;
        }
    }
    return 0;
}

static void ensure_namespace(twin *t, const char *ns)
{
    json_t *cur = twin__get(t, "Namespace", "", ns);
    if (cur) {
        json_decref(cur);
        return;
    }
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", ns);
    twin__prepare_import(t, obj);
    twin__put(t, obj);
    json_decref(obj);
    twin__enqueue(t, "Namespace", "", ns);   /* its ServiceAccount "default" */
}

static void recount(twin *t)
{
    t->aws_counted = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(t->db,
                           "SELECT (SELECT coalesce(sum(cost), 0) FROM objects),"
                           " (SELECT count(*) FROM objects WHERE kind='Pod'),"
                           " (SELECT count(*) FROM objects WHERE kind='Pod' AND ready=1)",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            t->cost_total = sqlite3_column_double(st, 0);
            t->pods_total = (long)sqlite3_column_int64(st, 1);
            t->pods_ready = (long)sqlite3_column_int64(st, 2);
        }
        sqlite3_finalize(st);
    }
}

int twin_import_docs(twin *t, json_t *docs, const char *name, char *err, size_t errlen)
{
    if (t->in_op) {
        snprintf(err, errlen, "cannot import in the middle of an operation");
        return -1;
    }
    json_t *objs = json_array(), *aws = json_array();
    if (collect_objects(docs, name, objs, aws, err, errlen) < 0) {
        json_decref(objs);
        json_decref(aws);
        return -1;
    }
    struct twin_aws_where aws_was = t->aws;   /* the account an AWSState names is part of the import */
    twin__exec(t, "SAVEPOINT op");
    t->in_op = 1;
    t->op_rv = t->rv;
    t->op_rng = t->rng;
    /* The imported objects themselves are the starting point, not changes:
     * they are stored without being recorded, and only the objects that need
     * a controller (see needs_reconcile) are queued.  A snapshot that is
     * already consistent then costs one write per object. */
    t->importing = 1;
    json_t *stored = json_array();
    size_t i;
    json_t *d;
    /* namespaces first, so that content can name them */
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach(objs, i, d) {
            int is_ns = !strcmp(twin__kind(d), "Namespace");
            if (is_ns != (pass == 0))
                continue;
            json_t *obj = d;   /* completed in place: no copy of a 100k-object snapshot */
            const twin_kind *k = twin_kind_by_name(t, twin__kind(obj));
            if (!k) {
                twin__register_kind(t, json_string_value(json_object_get(obj, "apiVersion")), twin__kind(obj),
                                    twin__str(obj, "metadata.namespace") != NULL);
                k = twin_kind_by_name(t, twin__kind(obj));
            }
            json_t *meta = twin__path_make(obj, "metadata");
            if (k->namespaced) {
                if (!twin__str(obj, "metadata.namespace"))
                    json_object_set_new(meta, "namespace", json_string("default"));
                ensure_namespace(t, twin__ns(obj));
            } else {
                json_object_del(meta, "namespace");
            }
            char verr[768];
            if (twin__validate_import(t, obj, verr, sizeof verr) < 0) {
                snprintf(err, errlen, "%s: %s", name, verr);
                t->importing = 0;
                json_decref(stored);
                json_decref(objs);
                json_decref(aws);
                twin_rollback(t);
                twin__docs_drop(t);
                return -1;
            }
            twin__prepare_import(t, obj);
            twin__put(t, obj);
            json_array_append(stored, obj);
        }
    }
    /* AWS resources in the same transaction: a malformed one undoes it all */
    json_array_foreach(aws, i, d) {
        if (twin__aws_import(t, d, name, err, errlen) < 0) {
            t->importing = 0;
            t->aws = aws_was;
            json_decref(stored);
            json_decref(objs);
            json_decref(aws);
            twin_rollback(t);
            twin__docs_drop(t);
            return -1;
        }
    }
    json_decref(aws);
    t->importing = 0;
    json_decref(objs);
    json_array_foreach(stored, i, d) {
        if (needs_reconcile(t, d))
            twin__enqueue(t, twin__kind(d), twin__ns(d), twin__name(d));
    }
    json_decref(stored);
    if (twin__run_controllers(t, 0, err, errlen) < 0 || twin__run_controllers(t, 1, err, errlen) < 0) {
        t->aws = aws_was;
        twin_rollback(t);
        twin__docs_drop(t);   /* documents read during the import are gone too */
        return -1;
    }
    twin__changes_free(t);
    twin__docs_flush(t);
    recount(t);
    twin__meta_save(t);
    twin__exec(t, "RELEASE op");
    t->in_op = 0;
    return 0;
}

/* ---- syncing from the source of truth (twin.h: twin_sync, twin_sync_begin,
 * twin_sync_event): no controller runs and nothing is recorded, as for an
 * import; the totals follow the difference. ---- */

/* The object counters follow an object replaced (old -> d, either NULL),
 * the scheduler's cache follows a Pod or a Node (one object's cost), and
 * a namespace's Services and HPAs cached lookups are let go. */
static void sync_totals(twin *t, const char *kind, const json_t *old, const json_t *d)
{
    twin__sched_sync(t, kind, old, d);
    if (!strcmp(kind, "Service") || !strcmp(kind, "HorizontalPodAutoscaler"))
        twin__caches_drop_ns(t, twin__ns(d ? d : old));
    t->cost_total += (d ? twin__object_cost(t, d) : 0) - (old ? twin__object_cost(t, old) : 0);
    if (!strcmp(kind, "Pod")) {
        t->pods_total += (d != NULL) - (old != NULL);
        t->pods_ready += (d ? twin__pod_ready(d) : 0) - (old ? twin__pod_ready(old) : 0);
    }
}

static int sync_begin(twin *t, const char *kind, char *err, size_t errlen)
{
    if (!twin_kind_by_name(t, kind)) {
        snprintf(err, errlen, "cannot sync unknown kind %s", kind);
        return -1;
    }
    return twin_sync_begin(t, err, errlen);
}

static void sync_end(twin *t)
{
    t->importing = 0;
    twin__meta_save(t);
    twin__exec(t, "RELEASE op");
    t->in_op = 0;
}

int twin_sync(twin *t, const char *kind, const char *ns, json_t *items, char *err, size_t errlen)
{
    if (sync_begin(t, kind, err, errlen) < 0)
        return -1;
    twin_map seen = {0};
    size_t i;
    json_t *d;
    json_array_foreach(items, i, d) {
        if (!json_is_object(d) || !twin__name(d))
            continue;
        json_t *old = twin__get(t, kind, twin__ns(d), twin__name(d));
        if (!old || !json_equal(old, d)) {
            sync_totals(t, kind, old, d);
            twin__put(t, d);
            twin__docs_forget(t, kind, twin__ns(d), twin__name(d));
        }
        json_decref(old);
        char *key = twin__key(kind, twin__ns(d), twin__name(d));
        twin_map_put(&seen, key, (void *)1);
        free(key);
    }
    /* what the list lacks, production no longer has */
    json_t *cur = twin__list(t, kind, ns && *ns ? ns : NULL);
    json_array_foreach(cur, i, d) {
        char *key = twin__key(kind, twin__ns(d), twin__name(d));
        if (!twin_map_has(&seen, key)) {
            sync_totals(t, kind, d, NULL);
            twin__del(t, kind, twin__ns(d), twin__name(d));
        }
        free(key);
    }
    json_decref(cur);
    twin_map_clear(&seen, NULL);
    sync_end(t);
    return 0;
}

/* ---- the AWS account as production describes it ---- */

static void log_value_free(void *v)
{
    if (v != twin_aws_absent)
        json_decref(v);
}

/* The key's kind and name ("Kind//name", twin__key's form for a
 * cluster-scoped resource; the name may hold '/' itself). */
static void key_parts(const char *key, char *kind, size_t kn, const char **name)
{
    const char *s1 = strchr(key, '/');
    snprintf(kind, kn, "%.*s", s1 ? (int)(s1 - key) : 0, key);
    *name = s1 && s1[1] == '/' ? s1 + 2 : "";
}

int twin_aws_sync(twin *t, const json_t *doc, const json_t *gone, int replace, json_t **changes, char *err,
                  size_t errlen)
{
    if (changes)
        *changes = NULL;
    if (twin_sync_begin(t, err, errlen) < 0)
        return -1;
    twin_map log = {0};
    t->aws_sync_log = &log;
    int rc = doc ? twin__aws_import(t, doc, "production's AWS account", err, errlen) : 0;
    size_t i;
    json_t *g;
    json_array_foreach(gone, i, g) {
        const char *kind = json_string_value(json_object_get(g, "kind"));
        const char *id = json_string_value(json_object_get(g, "id"));
        if (rc == 0 && kind && id && twin_aws_kind(kind))
            twin__aws_del(t, kind, id);
    }
    if (rc == 0 && replace) {
        /* the whole account was described: what it did not name is gone */
        for (size_t k = 0; k < twin_aws_kind_count(); k++) {
            const char *kind = twin_aws_kind_at(k);
            json_t *cur = twin__list(t, kind, "");
            json_t *o;
            json_array_foreach(cur, i, o) {
                char *key = twin__key(kind, "", twin__name(o));
                int written = twin_map_has(&log, key);
                free(key);
                if (!written)
                    twin__aws_del(t, kind, twin__name(o));
            }
            json_decref(cur);
        }
    }
    t->aws_sync_log = NULL;
    if (rc < 0) {
        twin_map_clear(&log, log_value_free);
        twin_rollback(t);
        twin__docs_drop(t);
        return -1;
    }
    json_t *out = json_array();
    TWIN_MAP_FOREACH(&log, e) {
        char kind[64];
        const char *name;
        key_parts(e->key, kind, sizeof kind, &name);
        json_t *old = e->value == twin_aws_absent ? NULL : e->value;
        json_t *now = twin__get(t, kind, "", name);
        sync_totals(t, kind, old, now);
        twin__aws_count(t, kind, old, now);
        if (!json_equal(json_object_get(old, "aws"), json_object_get(now, "aws")))
            json_array_append_new(out, json_pack("{s:s, s:s, s:O?, s:O?}", "kind", kind, "name", name, "before",
                                                 old, "after", now));
        json_decref(now);
    }
    twin_map_clear(&log, log_value_free);
    sync_end(t);
    if (changes)
        *changes = out;
    else
        json_decref(out);
    return 0;
}

int twin_rv_cmp(const char *a, const char *b)
{
    /* decimal without leading zeros: the longer is larger, then bytes */
    size_t la = a && *a && strspn(a, "0123456789") == strlen(a) ? strlen(a) : 0;
    size_t lb = b && *b && strspn(b, "0123456789") == strlen(b) ? strlen(b) : 0;
    if (!la || !lb)
        return (la != 0) - (lb != 0);
    while (la > 1 && *a == '0')
        a++, la--;
    while (lb > 1 && *b == '0')
        b++, lb--;
    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static const char *rv_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

int twin_sync_begin(twin *t, char *err, size_t errlen)
{
    if (t->in_op) {
        snprintf(err, errlen, "cannot sync in the middle of an operation");
        return -1;
    }
    twin__exec(t, "SAVEPOINT op");
    t->in_op = 1;
    t->importing = 1;
    return 0;
}

void twin_sync_end(twin *t)
{
    sync_end(t);
}

int twin_sync_event(twin *t, int deleted, json_t *obj, json_t **old_out, char *err, size_t errlen)
{
    if (old_out)
        *old_out = NULL;
    const char *kind = json_string_value(json_object_get(obj, "kind")), *name = twin__name(obj);
    if (!t->in_op || !kind || !twin_kind_by_name(t, kind) || !name || !*name) {
        snprintf(err, errlen, "a watch event needs a known kind and a name (and twin_sync_begin)");
        return -1;
    }
    const char *ns = twin__ns(obj);
    json_t *old = twin__get(t, kind, ns, name);
    /* older than what the twin holds: seen already, or overtaken by a read */
    if (old && twin_rv_cmp(rv_of(old), rv_of(obj)) >= 0 && rv_of(old)) {
        json_decref(old);
        return 0;
    }
    if (deleted) {
        if (old) {
            sync_totals(t, kind, old, NULL);
            twin__del(t, kind, ns, name);
        }
    } else {
        sync_totals(t, kind, old, obj);
        twin__put(t, obj);
        twin__docs_forget(t, kind, ns, name);
    }
    if (old_out)
        *old_out = old;
    else
        json_decref(old);
    return 1;
}
