/*
 * table.c - the meta.k8s.io/v1 Table for `kubectl get` (see table.h).
 *
 * One printer per kind: a column table (name, type, priority, description,
 * copied from the 1.32 AddHandlers in pkg/printers/internalversion/printers.go)
 * and a row function that appends one cell per column, in order, as that
 * kind's print<Kind> function computes them.  Adding a kind is adding its
 * columns, its row function and one line in PRINTERS.  The JSON type of a
 * cell follows the Go value the printer appends (int64 -> integer, bool ->
 * boolean), which is not always the column's declared type: ConfigMap's
 * "Data" column is declared string and filled with an integer, as there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate/kube/table.h"
#include "twin/selector.h"
#include "twin/util.h"

/* ---- reading the object ---- */

/* The value at a dotted path of plain keys ("spec.template.spec"), or NULL.
 * Keys that hold dots (label keys) are read with json_object_get. */
static const json_t *at(const json_t *o, const char *path)
{
    char key[64];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        o = json_object_get(o, key);
        path += n + (dot != NULL);
    }
    return o;
}

static const char *str(const json_t *o, const char *path) { return json_string_value(at(o, path)); }

/* The string at path, or dflt when it is missing or empty. */
static const char *str_or(const json_t *o, const char *path, const char *dflt)
{
    const char *s = str(o, path);
    return s && *s ? s : dflt;
}

static json_int_t num(const json_t *o, const char *path) { return json_integer_value(at(o, path)); }

static int is_true(const json_t *o, const char *path) { return json_is_true(at(o, path)); }

/* A resource.Quantity as the object spells it; dflt when absent. */
static char *quantity(const json_t *q, const char *dflt)
{
    if (json_is_string(q))
        return twin_xstrdup(json_string_value(q));
    if (json_is_integer(q))
        return twin_xasprintf("%lld", (long long)json_integer_value(q));
    if (json_is_real(q))
        return twin_xasprintf("%g", json_real_value(q));
    return twin_xstrdup(dflt);
}

/* intstr.IntOrString.String(); dflt when absent. */
static char *int_or_string(const json_t *v, const char *dflt)
{
    if (json_is_integer(v))
        return twin_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_string(v))
        return twin_xstrdup(json_string_value(v));
    return twin_xstrdup(dflt);
}

/* The condition of `type` in an array of conditions: 1 if its status is
 * "True" (the first one of that type decides), else 0. */
static int condition_true(const json_t *conditions, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(conditions, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type))
            return !strcmp(json_string_value(json_object_get(c, "status")) ?: "", "True");
    }
    return 0;
}

/* ---- time ---- */

/* An RFC 3339 timestamp ("2024-05-01T10:00:00Z", with optional fraction
 * and offset) as seconds since the epoch. 0 on success, -1 if ts is NULL
 * (a zero metav1.Time is null or absent) or malformed. */
static int parse_time(const char *ts, time_t *out)
{
    struct tm tm = {0};
    int n = 0;
    if (!ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                      &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    const char *p = ts + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    long off = 0;
    int oh, om;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
        off = (*p == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm) - off;
    return 0;
}

/* apimachinery's duration.HumanDuration. */
static char *human_duration(long long d)
{
    if (d < -1)
        return twin_xstrdup("<invalid>");
    if (d < 0)
        return twin_xstrdup("0s");
    if (d < 120)
        return twin_xasprintf("%llds", d);
    long long m = d / 60, h = d / 3600, days = h / 24;
    if (m < 10)
        return d % 60 ? twin_xasprintf("%lldm%llds", m, d % 60) : twin_xasprintf("%lldm", m);
    if (m < 180)
        return twin_xasprintf("%lldm", m);
    if (h < 8)
        return m % 60 ? twin_xasprintf("%lldh%lldm", h, m % 60) : twin_xasprintf("%lldh", h);
    if (h < 48)
        return twin_xasprintf("%lldh", h);
    if (h < 24 * 8)
        return h % 24 ? twin_xasprintf("%lldd%lldh", days, h % 24) : twin_xasprintf("%lldd", days);
    if (h < 24 * 365 * 2)
        return twin_xasprintf("%lldd", days);
    if (h < 24 * 365 * 8)
        return days % 365 ? twin_xasprintf("%lldy%lldd", days / 365, days % 365)
                          : twin_xasprintf("%lldy", days / 365);
    return twin_xasprintf("%lldy", days / 365);
}

/* translateTimestampSince: "<unknown>" for a zero (absent) time. */
static char *since(time_t now, const char *ts)
{
    time_t t;
    if (parse_time(ts, &t) < 0)
        return twin_xstrdup("<unknown>");
    return human_duration((long long)difftime(now, t));
}

/* ---- building a row ---- */

typedef struct row {
    json_t *cells;   /* the row's cells, appended in column order */
    time_t now;
} row;

static void add(row *r, json_t *v) { json_array_append_new(r->cells, v ? v : json_string("")); }
static void add_s(row *r, const char *s) { add(r, json_string(s ? s : "")); }
static void add_i(row *r, json_int_t v) { add(r, json_integer(v)); }
static void add_b(row *r, int v) { add(r, json_boolean(v)); }

/* Appends a malloc'd string and frees it. */
static void add_take(row *r, char *s)
{
    add_s(r, s);
    free(s);
}

__attribute__((format(printf, 2, 3))) static void add_f(row *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_take(r, twin_xvasprintf(fmt, ap));
    va_end(ap);
}

static void add_name(row *r, const json_t *o) { add_s(r, str(o, "metadata.name")); }
static void add_age(row *r, const json_t *o) { add_take(r, since(r->now, str(o, "metadata.creationTimestamp"))); }

/* printBoolPtr: True, False or <unset>. */
static void add_bool_ptr(row *r, const json_t *v)
{
    add_s(r, json_is_boolean(v) ? (json_is_true(v) ? "True" : "False") : "<unset>");
}

/* ---- formatting helpers shared by several kinds ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Sorts v[0..n) and joins the distinct values with sep (a sets.String's
 * List() joined). Returns a malloc'd string, "" for none. */
static char *join_set(const char **v, size_t n, const char *sep)
{
    twin_buf b = {0};
    qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = 0; i < n; i++)
        if (!i || strcmp(v[i], v[i - 1]))
            twin_buf_addf(&b, "%s%s", b.len ? sep : "", v[i]);
    return b.s ? b.s : twin_xstrdup("");
}

/* labels.FormatLabels: sorted "k=v,..." or "<none>". */
static char *format_labels(const json_t *map)
{
    size_t n = json_object_size(map), i = 0;
    if (!n)
        return twin_xstrdup("<none>");
    const char **keys = twin_xcalloc(n, sizeof *keys);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)map, k, v)
        keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    twin_buf b = {0};
    for (i = 0; i < n; i++)
        twin_buf_addf(&b, "%s%s=%s", i ? "," : "", keys[i], json_string_value(json_object_get(map, keys[i])) ?: "");
    free(keys);
    return b.s;
}

/* LabelSelectorAsSelector(sel).String(): "" for nil and for empty; bad
 * when the selector does not parse. */
static char *selector_string(const json_t *sel, const char *bad)
{
    char err[256];
    twin_selector *s = NULL;
    if (twin_selector_from_json(&s, json_is_null(sel) ? NULL : sel, err, sizeof err) < 0)
        return twin_xstrdup(bad);
    char *out = twin_selector_matches_nothing(s) ? twin_xstrdup("") : twin_selector_string(s);
    twin_selector_free(s);
    return out;
}

/* metav1.FormatLabelSelector: the selector, "<none>" when it is empty. */
static char *format_label_selector(const json_t *sel)
{
    char *s = selector_string(sel, "<error>");
    if (!*s) {
        free(s);
        return twin_xstrdup("<none>");
    }
    return s;
}

/* layoutContainerCells: the names and the images, comma-joined. */
static void add_containers(row *r, const json_t *pod_spec)
{
    twin_buf names = {0}, images = {0};
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(pod_spec, "containers"), i, c) {
        twin_buf_addf(&names, "%s%s", i ? "," : "", json_string_value(json_object_get(c, "name")) ?: "");
        twin_buf_addf(&images, "%s%s", i ? "," : "", json_string_value(json_object_get(c, "image")) ?: "");
    }
    add_s(r, names.s);
    add_s(r, images.s);
    twin_buf_free(&names);
    twin_buf_free(&images);
}

/* helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order. */
static char *access_modes(const json_t *modes)
{
    static const char *const api[] = {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"};
    static const char *const shortname[] = {"RWO", "ROX", "RWX", "RWOP"};
    twin_buf b = {0};
    for (size_t m = 0; m < sizeof api / sizeof api[0]; m++) {
        size_t i;
        json_t *v;
        json_array_foreach(modes, i, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), api[m])) {
                twin_buf_addf(&b, "%s%s", b.len ? "," : "", shortname[m]);
                break;
            }
        }
    }
    return b.s ? b.s : twin_xstrdup("");
}

/* The load balancer's ingress points, IP or else hostname, as a sorted set
 * (loadBalancerStatusStringer with wide set: never clipped). */
static char *lb_ingress(const json_t *ingress)
{
    size_t n = json_array_size(ingress), k = 0, i;
    const char **v = twin_xcalloc(n ? n : 1, sizeof *v);
    json_t *e;
    json_array_foreach(ingress, i, e) {
        const char *ip = str(e, "ip"), *host = str(e, "hostname");
        if (ip && *ip)
            v[k++] = ip;
        else if (host && *host)
            v[k++] = host;
    }
    char *s = join_set(v, k, ",");
    free(v);
    return s;
}

/* "a, b, c" from an array of strings (strings.Join with sep). */
static char *join_strings(const json_t *arr, const char *sep)
{
    twin_buf b = {0};
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        twin_buf_addf(&b, "%s%s", i ? sep : "", json_string_value(v) ?: "");
    return b.s ? b.s : twin_xstrdup("");
}

/* ---- columns ---- */

typedef struct column {
    const char *name;
    const char *type;   /* string, integer, boolean, date */
    int priority;       /* 1: shown with -o wide */
    const char *description;
} column;

#define COL_NAME {"Name", "string", 0, "Name must be unique within a namespace."}
#define COL_AGE                                                                                                       \
    {"Age", "string", 0,                                                                                              \
     "CreationTimestamp is a timestamp representing the server time when this object was created."}
#define COL_CONTAINERS {"Containers", "string", 1, "Names of each container in the template."}
#define COL_IMAGES {"Images", "string", 1, "Images referenced by each container in the template."}
#define COL_SELECTOR {"Selector", "string", 1, "A label query over pods that should match the replica count."}

/* ---- one row function per kind ---- */

static int restartable_init(const json_t *pod, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(at(pod, "spec.initContainers"), i, c) {
        const char *n = str(c, "name");
        if (n && name && !strcmp(n, name))
            return !strcmp(str_or(c, "restartPolicy", ""), "Always");
    }
    return 0;
}

/* Keeps the later of *last and the container's last termination. */
static void note_termination(const json_t *cs, time_t *last)
{
    time_t t;
    if (at(cs, "lastState.terminated") && parse_time(str(cs, "lastState.terminated.finishedAt"), &t) == 0 &&
        t > *last)
        *last = t;
}

static void set_reason(char **reason, char *s)
{
    free(*reason);
    *reason = s;
}

/* The reason of a terminated container, or Signal:N / ExitCode:N. */
static char *terminated_reason(const json_t *term, const char *prefix)
{
    const char *why = str(term, "reason");
    if (why && *why)
        return twin_xasprintf("%s%s", prefix, why);
    if (num(term, "signal"))
        return twin_xasprintf("%sSignal:%lld", prefix, (long long)num(term, "signal"));
    return twin_xasprintf("%sExitCode:%lld", prefix, (long long)num(term, "exitCode"));
}

/* printPod. */
static void row_pod(row *r, const json_t *o)
{
    const json_t *st = json_object_get(o, "status");
    const char *phase = str_or(st, "phase", "Pending");
    char *reason = twin_xstrdup(str_or(st, "reason", phase));
    long long restarts = 0, sidecar_restarts = 0;
    size_t total = json_array_size(at(o, "spec.containers")), ready = 0, i;
    time_t last = 0, sidecar_last = 0;
    json_t *c;

    json_array_foreach(json_object_get(st, "conditions"), i, c) {
        if (!strcmp(str_or(c, "type", ""), "PodScheduled") && !strcmp(str_or(c, "reason", ""), "SchedulingGated"))
            set_reason(&reason, twin_xstrdup("SchedulingGated"));
    }
    json_array_foreach(at(o, "spec.initContainers"), i, c)
        total += !strcmp(str_or(c, "restartPolicy", ""), "Always");

    int initializing = 0;
    json_array_foreach(json_object_get(st, "initContainerStatuses"), i, c) {
        int sidecar = restartable_init(o, str(c, "name"));
        restarts += num(c, "restartCount");
        note_termination(c, &last);
        if (sidecar) {
            sidecar_restarts += num(c, "restartCount");
            note_termination(c, &sidecar_last);
        }
        const json_t *term = at(c, "state.terminated");
        const char *waiting = str(c, "state.waiting.reason");
        if (term && num(term, "exitCode") == 0)
            continue;
        if (sidecar && is_true(c, "started")) {
            ready += is_true(c, "ready");
            continue;
        }
        if (term)
            set_reason(&reason, terminated_reason(term, "Init:"));
        else if (waiting && *waiting && strcmp(waiting, "PodInitializing"))
            set_reason(&reason, twin_xasprintf("Init:%s", waiting));
        else
            set_reason(&reason, twin_xasprintf("Init:%zu/%zu", i, json_array_size(at(o, "spec.initContainers"))));
        initializing = 1;
        break;
    }

    if (!initializing || condition_true(json_object_get(st, "conditions"), "Initialized")) {
        restarts = sidecar_restarts;
        last = sidecar_last;
        int running = 0;
        const json_t *statuses = json_object_get(st, "containerStatuses");
        for (size_t k = json_array_size(statuses); k-- > 0;) {
            c = json_array_get(statuses, k);
            restarts += num(c, "restartCount");
            note_termination(c, &last);
            const char *waiting = str(c, "state.waiting.reason");
            const json_t *term = at(c, "state.terminated");
            if (waiting && *waiting)
                set_reason(&reason, twin_xstrdup(waiting));
            else if (term)
                set_reason(&reason, terminated_reason(term, ""));
            else if (is_true(c, "ready") && at(c, "state.running")) {
                running = 1;
                ready++;
            }
        }
        if (!strcmp(reason, "Completed") && running)
            set_reason(&reason, twin_xstrdup(condition_true(json_object_get(st, "conditions"), "Ready") ? "Running"
                                                                                                     : "NotReady"));
    }

    if (at(o, "metadata.deletionTimestamp") && !strcmp(str_or(st, "reason", ""), "NodeLost"))
        set_reason(&reason, twin_xstrdup("Unknown"));
    else if (at(o, "metadata.deletionTimestamp") && strcmp(phase, "Succeeded") && strcmp(phase, "Failed"))
        set_reason(&reason, twin_xstrdup("Terminating"));

    add_name(r, o);
    add_f(r, "%zu/%zu", ready, total);
    add_s(r, reason);
    if (restarts && last) {
        char *ago = human_duration((long long)difftime(r->now, last));
        add_f(r, "%lld (%s ago)", restarts, ago);
        free(ago);
    } else {
        add_f(r, "%lld", restarts);
    }
    add_age(r, o);
    free(reason);

    const char *ip = str(json_array_get(json_object_get(st, "podIPs"), 0), "ip");
    add_s(r, ip && *ip ? ip : str_or(st, "podIP", "<none>"));
    add_s(r, str_or(o, "spec.nodeName", "<none>"));
    add_s(r, str_or(st, "nominatedNodeName", "<none>"));
    const json_t *gates = at(o, "spec.readinessGates");
    if (json_array_size(gates)) {
        size_t on = 0;
        json_array_foreach(gates, i, c) {
            const char *type = str(c, "conditionType");
            size_t j;
            json_t *cond;
            json_array_foreach(json_object_get(st, "conditions"), j, cond) {
                if (type && !strcmp(str_or(cond, "type", ""), type)) {
                    on += !strcmp(str_or(cond, "status", ""), "True");
                    break;
                }
            }
        }
        add_f(r, "%zu/%zu", on, json_array_size(gates));
    } else {
        add_s(r, "<none>");
    }
}

static const column POD_COLS[] = {
    COL_NAME,
    {"Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."},
    {"Status", "string", 0, "The aggregate status of the containers in this pod."},
    {"Restarts", "string", 0,
     "The number of times the containers in this pod have been restarted and when the last container in this pod "
     "has restarted."},
    COL_AGE,
    {"IP", "string", 1, "IP address allocated to the pod."},
    {"Node", "string", 1, "The node the pod is scheduled onto."},
    {"Nominated Node", "string", 1, "The node the scheduler nominated for this pod when preempting others."},
    {"Readiness Gates", "string", 1, "The pod's readiness gates that are true, of all of them."},
};

/* Succeeded and Failed pods carry a Completed row condition. */
static json_t *pod_conditions(const json_t *o)
{
    const char *phase = str_or(o, "status.phase", "");
    if (!strcmp(phase, "Succeeded"))
        return json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Completed", "status", "True", "reason", "Succeeded",
                         "message", "The pod has completed successfully.");
    if (!strcmp(phase, "Failed"))
        return json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Completed", "status", "True", "reason", "Failed",
                         "message", "The pod failed.");
    return NULL;
}

/* Replicas as the API server defaults them (1 when unset). */
static json_int_t replicas(const json_t *o)
{
    const json_t *v = at(o, "spec.replicas");
    return json_is_integer(v) ? json_integer_value(v) : 1;
}

static void row_deployment(row *r, const json_t *o)
{
    add_name(r, o);
    add_f(r, "%lld/%lld", (long long)num(o, "status.readyReplicas"), (long long)replicas(o));
    add_i(r, num(o, "status.updatedReplicas"));
    add_i(r, num(o, "status.availableReplicas"));
    add_age(r, o);
    add_containers(r, at(o, "spec.template.spec"));
    add_take(r, selector_string(at(o, "spec.selector"), "<invalid>"));
}

static const column DEPLOYMENT_COLS[] = {
    COL_NAME,
    {"Ready", "string", 0, "Number of the pod with ready state"},
    {"Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the "
                                "desired template spec."},
    {"Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by "
                               "this deployment."},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static void row_replicaset(row *r, const json_t *o)
{
    add_name(r, o);
    add_i(r, replicas(o));
    add_i(r, num(o, "status.replicas"));
    add_i(r, num(o, "status.readyReplicas"));
    add_age(r, o);
    add_containers(r, at(o, "spec.template.spec"));
    add_take(r, format_label_selector(at(o, "spec.selector")));
}

static const column REPLICASET_COLS[] = {
    COL_NAME,
    {"Desired", "integer", 0, "Replicas is the number of desired replicas."},
    {"Current", "integer", 0, "Replicas is the most recently observed number of replicas."},
    {"Ready", "integer", 0, "The number of ready replicas for this replica set."},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static void row_statefulset(row *r, const json_t *o)
{
    add_name(r, o);
    add_f(r, "%lld/%lld", (long long)num(o, "status.readyReplicas"), (long long)replicas(o));
    add_age(r, o);
    add_containers(r, at(o, "spec.template.spec"));
}

static const column STATEFULSET_COLS[] = {
    COL_NAME,
    {"Ready", "string", 0, "Number of the pod with ready state"},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
};

static void row_daemonset(row *r, const json_t *o)
{
    add_name(r, o);
    add_i(r, num(o, "status.desiredNumberScheduled"));
    add_i(r, num(o, "status.currentNumberScheduled"));
    add_i(r, num(o, "status.numberReady"));
    add_i(r, num(o, "status.updatedNumberScheduled"));
    add_i(r, num(o, "status.numberAvailable"));
    add_take(r, format_labels(at(o, "spec.template.spec.nodeSelector")));
    add_age(r, o);
    add_containers(r, at(o, "spec.template.spec"));
    add_take(r, format_label_selector(at(o, "spec.selector")));
}

static const column DAEMONSET_COLS[] = {
    COL_NAME,
    {"Desired", "integer", 0, "The total number of nodes that should be running the daemon pod."},
    {"Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to."},
    {"Ready", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of "
                            "the daemon pod running and ready."},
    {"Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"},
    {"Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more "
                                "of the daemon pod running and available."},
    {"Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node."},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

/* printJob. */
static void row_job(row *r, const json_t *o)
{
    long long ok = num(o, "status.succeeded");
    add_name(r, o);
    const json_t *conds = at(o, "status.conditions");
    add_s(r, condition_true(conds, "Complete")        ? "Complete"
             : condition_true(conds, "Failed")        ? "Failed"
             : at(o, "metadata.deletionTimestamp")    ? "Terminating"
             : condition_true(conds, "Suspended")     ? "Suspended"
             : condition_true(conds, "FailureTarget") ? "FailureTarget"
                                                      : "Running");
    if (json_is_integer(at(o, "spec.completions")))
        add_f(r, "%lld/%lld", ok, (long long)num(o, "spec.completions"));
    else if (num(o, "spec.parallelism") > 1)
        add_f(r, "%lld/1 of %lld", ok, (long long)num(o, "spec.parallelism"));
    else
        add_f(r, "%lld/1", ok);
    time_t start, end;
    if (parse_time(str(o, "status.startTime"), &start) < 0)
        add_s(r, "");
    else if (parse_time(str(o, "status.completionTime"), &end) < 0)
        add_take(r, human_duration((long long)difftime(r->now, start)));
    else
        add_take(r, human_duration((long long)difftime(end, start)));
    add_age(r, o);
    add_containers(r, at(o, "spec.template.spec"));
    add_take(r, format_label_selector(at(o, "spec.selector")));
}

static const column JOB_COLS[] = {
    COL_NAME,
    {"Status", "string", 0, "Status of the job."},
    {"Completions", "string", 0, "The number of pods which reached phase Succeeded."},
    {"Duration", "string", 0, "Time required to complete the job."},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static void row_cronjob(row *r, const json_t *o)
{
    add_name(r, o);
    add_s(r, str(o, "spec.schedule"));
    add_s(r, str(o, "spec.timeZone") ?: "<none>");
    add_bool_ptr(r, at(o, "spec.suspend"));
    add_i(r, (json_int_t)json_array_size(at(o, "status.active")));
    const char *last = str(o, "status.lastScheduleTime");
    add_take(r, last ? since(r->now, last) : twin_xstrdup("<none>"));
    add_age(r, o);
    add_containers(r, at(o, "spec.jobTemplate.spec.template.spec"));
    add_take(r, format_label_selector(at(o, "spec.jobTemplate.spec.selector")));
}

static const column CRONJOB_COLS[] = {
    COL_NAME,
    {"Schedule", "string", 0, "The schedule in Cron format."},
    {"Timezone", "string", 0, "The time zone name for the given schedule."},
    {"Suspend", "boolean", 0, "This flag tells the controller to suspend subsequent executions."},
    {"Active", "integer", 0, "A list of pointers to currently running jobs."},
    {"Last Schedule", "string", 0, "Information when was the last time the job was successfully scheduled."},
    COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

/* getServiceExternalIP, wide. */
static char *service_external_ip(const json_t *o)
{
    const char *type = str_or(o, "spec.type", "ClusterIP");
    const json_t *ext = at(o, "spec.externalIPs");
    if (!strcmp(type, "ClusterIP") || !strcmp(type, "NodePort"))
        return json_array_size(ext) ? join_strings(ext, ",") : twin_xstrdup("<none>");
    if (!strcmp(type, "LoadBalancer")) {
        char *lb = lb_ingress(at(o, "status.loadBalancer.ingress"));
        if (json_array_size(ext)) {
            char *e = join_strings(ext, ",");
            char *s = *lb ? twin_xasprintf("%s,%s", lb, e) : twin_xstrdup(e);
            free(e);
            free(lb);
            return s;
        }
        if (*lb)
            return lb;
        free(lb);
        return twin_xstrdup("<pending>");
    }
    if (!strcmp(type, "ExternalName"))
        return twin_xstrdup(str_or(o, "spec.externalName", ""));
    return twin_xstrdup("<unknown>");
}

static void row_service(row *r, const json_t *o)
{
    add_name(r, o);
    add_s(r, str_or(o, "spec.type", "ClusterIP"));
    const char *ip = json_string_value(json_array_get(at(o, "spec.clusterIPs"), 0));
    add_s(r, ip && *ip ? ip : str_or(o, "spec.clusterIP", "<none>"));
    add_take(r, service_external_ip(o));
    twin_buf b = {0};
    size_t i;
    json_t *p;
    json_array_foreach(at(o, "spec.ports"), i, p) {
        const char *proto = str_or(p, "protocol", "TCP");
        if (num(p, "nodePort") > 0)
            twin_buf_addf(&b, "%s%lld:%lld/%s", i ? "," : "", (long long)num(p, "port"), (long long)num(p, "nodePort"),
                          proto);
        else
            twin_buf_addf(&b, "%s%lld/%s", i ? "," : "", (long long)num(p, "port"), proto);
    }
    add_s(r, b.s ? b.s : "<none>");
    twin_buf_free(&b);
    add_age(r, o);
    add_take(r, format_labels(at(o, "spec.selector")));
}

static const column SERVICE_COLS[] = {
    COL_NAME,
    {"Type", "string", 0, "type determines how the Service is exposed."},
    {"Cluster-IP", "string", 0, "clusterIP is the IP address of the service."},
    {"External-IP", "string", 0, "externalIPs is a list of IP addresses for which nodes in the cluster will also "
                                 "accept traffic for this service."},
    {"Port(s)", "string", 0, "The list of ports that are exposed by this service."},
    COL_AGE,
    {"Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."},
};

/* formatHosts: the first three hosts, "*" when none. */
static char *ingress_hosts(const json_t *rules)
{
    twin_buf b = {0};
    size_t i, listed = 0;
    int more = 0;
    json_t *rule;
    json_array_foreach(rules, i, rule) {
        if (listed == 3)
            more = 1;
        const char *host = str(rule, "host");
        if (!more && host && *host) {
            twin_buf_addf(&b, "%s%s", listed ? "," : "", host);
            listed++;
        }
    }
    if (!listed)
        return twin_xstrdup("*");
    if (more)
        twin_buf_addf(&b, " + %zu more...", json_array_size(rules) - 3);
    return b.s;
}

static void row_ingress(row *r, const json_t *o)
{
    add_name(r, o);
    add_s(r, str(o, "spec.ingressClassName") ?: "<none>");
    add_take(r, ingress_hosts(at(o, "spec.rules")));
    add_take(r, lb_ingress(at(o, "status.loadBalancer.ingress")));
    add_s(r, json_array_size(at(o, "spec.tls")) ? "80, 443" : "80");
    add_age(r, o);
}

static const column INGRESS_COLS[] = {
    COL_NAME,
    {"Class", "string", 0, "The name of the IngressClass resource that should be used for additional configuration"},
    {"Hosts", "string", 0, "Hosts that incoming requests are matched against before the ingress rule"},
    {"Address", "string", 0, "Address is a list containing ingress points for the load-balancer"},
    {"Ports", "string", 0, "Ports of TLS configurations that open"},
    COL_AGE,
};

/* formatEndpoints: up to three ip:port (or ip, without ports). */
static void row_endpoints(row *r, const json_t *o)
{
    add_name(r, o);
    const json_t *subsets = json_object_get(o, "subsets");
    if (!json_array_size(subsets)) {
        add_s(r, "<none>");
    } else {
        twin_buf b = {0};
        size_t listed = 0, count = 0, i, j, k;
        int more = 0;
        json_t *ss, *port, *addr;
        json_array_foreach(subsets, i, ss) {
            const json_t *addrs = json_object_get(ss, "addresses"), *ports = json_object_get(ss, "ports");
            if (!json_array_size(ports)) {
                count += json_array_size(addrs);
                json_array_foreach(addrs, k, addr) {
                    if (listed == 3) {
                        more = 1;
                        break;
                    }
                    twin_buf_addf(&b, "%s%s", listed++ ? "," : "", str_or(addr, "ip", ""));
                }
                continue;
            }
            json_array_foreach(ports, j, port) {
                count += json_array_size(addrs);
                json_array_foreach(addrs, k, addr) {
                    if (listed == 3) {
                        more = 1;
                        break;
                    }
                    const char *ip = str_or(addr, "ip", "");
                    twin_buf_addf(&b, strchr(ip, ':') ? "%s[%s]:%lld" : "%s%s:%lld", listed++ ? "," : "", ip,
                                  (long long)num(port, "port"));
                }
            }
        }
        if (more)
            twin_buf_addf(&b, " + %zu more...", count - 3);
        add_s(r, b.s);
        twin_buf_free(&b);
    }
    add_age(r, o);
}

static const column ENDPOINTS_COLS[] = {
    COL_NAME,
    {"Endpoints", "string", 0, "The set of all endpoints is the union of all subsets."},
    COL_AGE,
};

static const char *node_address(const json_t *o, const char *type)
{
    size_t i;
    json_t *a;
    json_array_foreach(at(o, "status.addresses"), i, a) {
        if (!strcmp(str_or(a, "type", ""), type))
            return str_or(a, "address", "");
    }
    return "<none>";
}

static void row_node(row *r, const json_t *o)
{
    const char *ready = NULL;
    size_t i, n = 0;
    json_t *c;
    json_array_foreach(at(o, "status.conditions"), i, c) {
        if (!strcmp(str_or(c, "type", ""), "Ready"))
            ready = !strcmp(str_or(c, "status", ""), "True") ? "Ready" : "NotReady";
    }
    add_name(r, o);
    add_f(r, "%s%s", ready ? ready : "Unknown", is_true(o, "spec.unschedulable") ? ",SchedulingDisabled" : "");

    const json_t *labels = at(o, "metadata.labels");
    const char **roles = twin_xcalloc(json_object_size(labels) + 1, sizeof *roles);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v) {
        static const char prefix[] = "node-role.kubernetes.io/";
        if (!strncmp(k, prefix, sizeof prefix - 1) && k[sizeof prefix - 1])
            roles[n++] = k + sizeof prefix - 1;
        else if (!strcmp(k, "kubernetes.io/role") && json_string_value(v) && *json_string_value(v))
            roles[n++] = json_string_value(v);
    }
    char *joined = join_set(roles, n, ",");
    free(roles);
    add_s(r, *joined ? joined : "<none>");
    free(joined);
    add_age(r, o);
    add_s(r, str(o, "status.nodeInfo.kubeletVersion"));
    add_s(r, node_address(o, "InternalIP"));
    add_s(r, node_address(o, "ExternalIP"));
    add_s(r, str_or(o, "status.nodeInfo.osImage", "<unknown>"));
    add_s(r, str_or(o, "status.nodeInfo.kernelVersion", "<unknown>"));
    add_s(r, str_or(o, "status.nodeInfo.containerRuntimeVersion", "<unknown>"));
}

static const column NODE_COLS[] = {
    COL_NAME,
    {"Status", "string", 0, "The status of the node"},
    {"Roles", "string", 0, "The roles of the node"},
    COL_AGE,
    {"Version", "string", 0, "Kubelet Version reported by the node."},
    {"Internal-IP", "string", 1, "List of addresses reachable to the node."},
    {"External-IP", "string", 1, "List of addresses reachable to the node."},
    {"OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release."},
    {"Kernel-Version", "string", 1, "Kernel Version reported by the node from 'uname -r'."},
    {"Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node through runtime remote API."},
};

/* printEvent, wide. */
static void row_event(row *r, const json_t *o)
{
    const char *first_ts = str(o, "firstTimestamp");
    char *first = first_ts ? since(r->now, first_ts) : since(r->now, str(o, "eventTime"));
    const char *last_ts = str(o, "lastTimestamp");
    char *last = last_ts ? since(r->now, last_ts) : twin_xstrdup(first);
    json_int_t count = num(o, "count");
    if (json_is_object(json_object_get(o, "series"))) {
        free(last);
        last = since(r->now, str(o, "series.lastObservedTime"));
        count = num(o, "series.count");
    } else if (count == 0) {
        count = 1;   /* singleton events of the new API carry no count */
    }
    add_take(r, last);
    add_s(r, str(o, "type"));
    add_s(r, str(o, "reason"));

    char *kind = twin_xstrdup(str_or(o, "involvedObject.kind", ""));
    for (char *p = kind; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    const char *name = str_or(o, "involvedObject.name", "");
    if (*name)
        add_f(r, "%s/%s", kind, name);
    else
        add_s(r, kind);
    free(kind);
    add_s(r, str(o, "involvedObject.fieldPath"));

    const char *component = str_or(o, "source.component", str_or(o, "reportingComponent", ""));
    const char *instance = str_or(o, "source.host", str_or(o, "reportingInstance", ""));
    if (*instance)
        add_f(r, "%s, %s", component, instance);
    else
        add_s(r, component);

    const char *msg = str_or(o, "message", "");
    while (*msg == ' ' || *msg == '\t' || *msg == '\n' || *msg == '\r')
        msg++;
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == ' ' || msg[len - 1] == '\t' || msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--;
    add_f(r, "%.*s", (int)len, msg);
    add_take(r, first);
    add_i(r, count);
    add_name(r, o);
}

static const column EVENT_COLS[] = {
    {"Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."},
    {"Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future"},
    {"Reason", "string", 0, "This should be a short, machine understandable string that gives the reason for the "
                            "transition into the object's current status."},
    {"Object", "string", 0, "The object that this event is about."},
    {"Subobject", "string", 1, "The part of the object this event is about (fieldPath)."},
    {"Source", "string", 1, "The component reporting this event."},
    {"Message", "string", 0, "A human-readable description of the status of this operation."},
    {"First Seen", "string", 1, "The time at which the event was first recorded."},
    {"Count", "string", 1, "The number of times this event has occurred."},
    {"Name", "string", 1, "Name must be unique within a namespace."},
};

static void row_namespace(row *r, const json_t *o)
{
    add_name(r, o);
    add_s(r, str_or(o, "status.phase", "Active"));
    add_age(r, o);
}

static const column NAMESPACE_COLS[] = {COL_NAME, {"Status", "string", 0, "The status of the namespace"}, COL_AGE};

static void row_secret(row *r, const json_t *o)
{
    add_name(r, o);
    add_s(r, str_or(o, "type", "Opaque"));
    add_i(r, (json_int_t)json_object_size(json_object_get(o, "data")));
    add_age(r, o);
}

static const column SECRET_COLS[] = {
    COL_NAME,
    {"Type", "string", 0, "Used to facilitate programmatic handling of secret data."},
    {"Data", "string", 0, "Data contains the secret data."},
    COL_AGE,
};

static void row_serviceaccount(row *r, const json_t *o)
{
    add_name(r, o);
    add_i(r, (json_int_t)json_array_size(json_object_get(o, "secrets")));
    add_age(r, o);
}

static const column SERVICEACCOUNT_COLS[] = {
    COL_NAME,
    {"Secrets", "string", 0, "Secrets is a list of the secrets in the same namespace that pods running using this "
                             "ServiceAccount are allowed to use."},
    COL_AGE,
};

/* The beta storage-class annotation wins over spec.storageClassName. */
static const char *storage_class(const json_t *o)
{
    const char *ann = json_string_value(
        json_object_get(at(o, "metadata.annotations"), "volume.beta.kubernetes.io/storage-class"));
    return ann ? ann : str_or(o, "spec.storageClassName", "");
}

static void row_pv(row *r, const json_t *o)
{
    add_name(r, o);
    add_take(r, quantity(at(o, "spec.capacity.storage"), "0"));
    add_take(r, access_modes(at(o, "spec.accessModes")));
    add_s(r, str(o, "spec.persistentVolumeReclaimPolicy"));
    add_s(r, at(o, "metadata.deletionTimestamp") ? "Terminating" : str(o, "status.phase"));
    if (json_is_object(at(o, "spec.claimRef")))
        add_f(r, "%s/%s", str_or(o, "spec.claimRef.namespace", ""), str_or(o, "spec.claimRef.name", ""));
    else
        add_s(r, "");
    add_s(r, storage_class(o));
    add_s(r, str(o, "spec.volumeAttributesClassName") ?: "<unset>");
    add_s(r, str(o, "status.reason"));
    add_age(r, o);
    add_s(r, str(o, "spec.volumeMode") ?: "<unset>");
}

static const column PV_COLS[] = {
    COL_NAME,
    {"Capacity", "string", 0, "capacity is the description of the persistent volume's resources and capacity."},
    {"Access Modes", "string", 0, "accessModes contains all ways the volume can be mounted."},
    {"Reclaim Policy", "string", 0, "persistentVolumeReclaimPolicy defines what happens to a persistent volume "
                                    "when released from its claim."},
    {"Status", "string", 0, "phase indicates if a volume is available, bound to a claim, or released by a claim."},
    {"Claim", "string", 0, "claimRef is part of a bi-directional binding between PersistentVolume and "
                           "PersistentVolumeClaim."},
    {"StorageClass", "string", 0, "StorageClass of the pv"},
    {"VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pv"},
    {"Reason", "string", 0, "reason is a brief CamelCase string that describes any failure."},
    COL_AGE,
    {"VolumeMode", "string", 1, "volumeMode defines if a volume is intended to be used with a formatted "
                                "filesystem or to remain in raw block state."},
};

static void row_pvc(row *r, const json_t *o)
{
    add_name(r, o);
    add_s(r, at(o, "metadata.deletionTimestamp") ? "Terminating" : str_or(o, "status.phase", "Pending"));
    const char *volume = str_or(o, "spec.volumeName", "");
    add_s(r, volume);
    if (*volume) {   /* capacity and modes are the bound volume's */
        add_take(r, quantity(at(o, "status.capacity.storage"), "0"));
        add_take(r, access_modes(at(o, "status.accessModes")));
    } else {
        add_s(r, "");
        add_s(r, "");
    }
    add_s(r, storage_class(o));
    add_s(r, str(o, "spec.volumeAttributesClassName") ?: "<unset>");
    add_age(r, o);
    add_s(r, str(o, "spec.volumeMode") ?: "<unset>");
}

static const column PVC_COLS[] = {
    COL_NAME,
    {"Status", "string", 0, "phase represents the current phase of PersistentVolumeClaim."},
    {"Volume", "string", 0, "volumeName is the binding reference to the PersistentVolume backing this claim."},
    {"Capacity", "string", 0, "capacity represents the actual resources of the underlying volume."},
    {"Access Modes", "string", 0, "accessModes contains the actual access modes the volume backing the PVC has."},
    {"StorageClass", "string", 0, "StorageClass of the pvc"},
    {"VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc"},
    COL_AGE,
    {"VolumeMode", "string", 1, "volumeMode defines what type of volume is required by the claim."},
};

/* One entry of formatHPAMetrics; spec is metrics[i], status currentMetrics[i]. */
static char *hpa_metric(const json_t *spec, const json_t *status)
{
    const char *type = str_or(spec, "type", "");
    if (!strcmp(type, "External") || !strcmp(type, "Object")) {
        const char *member = !strcmp(type, "External") ? "external" : "object";
        const json_t *target = at(json_object_get(spec, member), "target");
        const json_t *cur = at(json_object_get(status, member), "current");
        int avg = json_object_get(target, "averageValue") != NULL;
        const char *field = avg ? "averageValue" : "value";
        char *c = quantity(json_object_get(cur, field), "<unknown>");
        char *t = quantity(json_object_get(target, field), "<nil>");
        char *s = twin_xasprintf("%s/%s%s", c, t, avg ? " (avg)" : "");
        free(c);
        free(t);
        return s;
    }
    if (!strcmp(type, "Pods")) {
        char *c = quantity(at(status, "pods.current.averageValue"), "<unknown>");
        char *t = quantity(at(spec, "pods.target.averageValue"), "<nil>");
        char *s = twin_xasprintf("%s/%s", c, t);
        free(c);
        free(t);
        return s;
    }
    if (!strcmp(type, "Resource") || !strcmp(type, "ContainerResource")) {
        const char *member = !strcmp(type, "Resource") ? "resource" : "containerResource";
        const json_t *src = json_object_get(spec, member), *cur = at(json_object_get(status, member), "current");
        const char *name = str_or(src, "name", "");
        char *c, *t;
        if (at(src, "target.averageValue")) {
            c = quantity(json_object_get(cur, "averageValue"), "<unknown>");
            t = quantity(at(src, "target.averageValue"), "");
        } else {
            const json_t *cu = json_object_get(cur, "averageUtilization"), *tu = at(src, "target.averageUtilization");
            c = json_is_integer(cu) ? twin_xasprintf("%lld%%", (long long)json_integer_value(cu))
                                    : twin_xstrdup("<unknown>");
            t = json_is_integer(tu) ? twin_xasprintf("%lld%%", (long long)json_integer_value(tu))
                                    : twin_xstrdup("<auto>");
        }
        char *s = twin_xasprintf("%s: %s/%s", name, c, t);
        free(c);
        free(t);
        return s;
    }
    return twin_xstrdup("<unknown type>");
}

static void row_hpa(row *r, const json_t *o)
{
    add_name(r, o);
    add_f(r, "%s/%s", str_or(o, "spec.scaleTargetRef.kind", ""), str_or(o, "spec.scaleTargetRef.name", ""));
    const json_t *specs = at(o, "spec.metrics"), *statuses = at(o, "status.currentMetrics");
    if (!json_array_size(specs)) {
        add_s(r, "<none>");
    } else {
        twin_buf b = {0};
        size_t n = json_array_size(specs);
        for (size_t i = 0; i < n && i < 2; i++) {
            char *m = hpa_metric(json_array_get(specs, i), json_array_get(statuses, i));
            twin_buf_addf(&b, "%s%s", i ? ", " : "", m);
            free(m);
        }
        if (n > 2)
            twin_buf_addf(&b, " + %zu more...", n - 2);
        add_s(r, b.s);
        twin_buf_free(&b);
    }
    const json_t *min = at(o, "spec.minReplicas");
    if (json_is_integer(min))
        add_f(r, "%lld", (long long)json_integer_value(min));
    else
        add_s(r, "<unset>");
    add_i(r, num(o, "spec.maxReplicas"));
    add_i(r, num(o, "status.currentReplicas"));
    add_age(r, o);
}

static const column HPA_COLS[] = {
    COL_NAME,
    {"Reference", "string", 0, "reference to scaled resource; horizontal pod autoscaler will learn the current "
                               "resource consumption and will set the desired number of pods by using its Scale "
                               "subresource."},
    {"Targets", "string", 0, "metrics contains the specifications for which to use to calculate the desired "
                             "replica count."},
    {"MinPods", "string", 0, "minReplicas is the lower limit for the number of replicas to which the autoscaler "
                             "can scale down."},
    {"MaxPods", "string", 0, "maxReplicas is the upper limit for the number of replicas to which the autoscaler "
                             "can scale up."},
    {"Replicas", "string", 0, "currentReplicas is current number of replicas of pods managed by this autoscaler."},
    COL_AGE,
};

static void row_configmap(row *r, const json_t *o)
{
    add_name(r, o);
    add_i(r, (json_int_t)(json_object_size(json_object_get(o, "data")) +
                          json_object_size(json_object_get(o, "binaryData"))));
    add_age(r, o);
}

static const column CONFIGMAP_COLS[] = {
    COL_NAME,
    {"Data", "string", 0, "Data contains the configuration data."},
    COL_AGE,
};

static void row_networkpolicy(row *r, const json_t *o)
{
    add_name(r, o);
    /* podSelector is a struct, not a pointer: absent is the empty selector */
    const json_t *sel = at(o, "spec.podSelector");
    json_t *empty = json_object();
    add_take(r, format_label_selector(json_is_object(sel) ? sel : empty));
    json_decref(empty);
    add_age(r, o);
}

static const column NETWORKPOLICY_COLS[] = {
    COL_NAME,
    {"Pod-Selector", "string", 0, "Selects the pods to which this NetworkPolicy object applies."},
    COL_AGE,
};

/* printRoleBinding / printClusterRoleBinding. */
static void row_binding(row *r, const json_t *o)
{
    add_name(r, o);
    add_f(r, "%s/%s", str_or(o, "roleRef.kind", ""), str_or(o, "roleRef.name", ""));
    add_age(r, o);
    twin_buf users = {0}, groups = {0}, sas = {0};
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(o, "subjects"), i, s) {
        const char *kind = str_or(s, "kind", ""), *name = str_or(s, "name", "");
        if (!strcmp(kind, "ServiceAccount"))
            twin_buf_addf(&sas, "%s%s/%s", sas.len ? ", " : "", str_or(s, "namespace", ""), name);
        else if (!strcmp(kind, "User"))
            twin_buf_addf(&users, "%s%s", users.len ? ", " : "", name);
        else if (!strcmp(kind, "Group"))
            twin_buf_addf(&groups, "%s%s", groups.len ? ", " : "", name);
    }
    add_s(r, users.s);
    add_s(r, groups.s);
    add_s(r, sas.s);
    twin_buf_free(&users);
    twin_buf_free(&groups);
    twin_buf_free(&sas);
}

static const column ROLEBINDING_COLS[] = {
    COL_NAME,
    {"Role", "string", 0, "RoleRef can reference a Role in the current namespace or a ClusterRole in the global "
                          "namespace."},
    COL_AGE,
    {"Users", "string", 1, "Users in the roleBinding"},
    {"Groups", "string", 1, "Groups in the roleBinding"},
    {"ServiceAccounts", "string", 1, "ServiceAccounts in the roleBinding"},
};

static const column CLUSTERROLEBINDING_COLS[] = {
    COL_NAME,
    {"Role", "string", 0, "RoleRef can only reference a ClusterRole in the global namespace."},
    COL_AGE,
    {"Users", "string", 1, "Users in the clusterRoleBinding"},
    {"Groups", "string", 1, "Groups in the clusterRoleBinding"},
    {"ServiceAccounts", "string", 1, "ServiceAccounts in the clusterRoleBinding"},
};

static void row_pdb(row *r, const json_t *o)
{
    add_name(r, o);
    add_take(r, int_or_string(at(o, "spec.minAvailable"), "N/A"));
    add_take(r, int_or_string(at(o, "spec.maxUnavailable"), "N/A"));
    add_i(r, num(o, "status.disruptionsAllowed"));
    add_age(r, o);
}

static const column PDB_COLS[] = {
    COL_NAME,
    {"Min Available", "string", 0, "The minimum number of pods that must be available."},
    {"Max Unavailable", "string", 0, "The maximum number of pods that may be unavailable."},
    {"Allowed Disruptions", "integer", 0, "Calculated number of pods that may be disrupted at this time."},
    COL_AGE,
};

static void row_lease(row *r, const json_t *o)
{
    add_name(r, o);
    add_s(r, str(o, "spec.holderIdentity"));
    add_age(r, o);
}

static const column LEASE_COLS[] = {
    COL_NAME,
    {"Holder", "string", 0, "holderIdentity contains the identity of the holder of a current lease."},
    COL_AGE,
};

static void row_storageclass(row *r, const json_t *o)
{
    const json_t *ann = at(o, "metadata.annotations");
    const char *d1 = json_string_value(json_object_get(ann, "storageclass.kubernetes.io/is-default-class"));
    const char *d2 = json_string_value(json_object_get(ann, "storageclass.beta.kubernetes.io/is-default-class"));
    int dflt = (d1 && !strcmp(d1, "true")) || (d2 && !strcmp(d2, "true"));
    add_f(r, "%s%s", str_or(o, "metadata.name", ""), dflt ? " (default)" : "");
    add_s(r, str(o, "provisioner"));
    add_s(r, str(o, "reclaimPolicy") ?: "Delete");
    add_s(r, str(o, "volumeBindingMode") ?: "Immediate");
    add_b(r, is_true(o, "allowVolumeExpansion"));
    add_age(r, o);
}

static const column STORAGECLASS_COLS[] = {
    COL_NAME,
    {"Provisioner", "string", 0, "provisioner indicates the type of the provisioner."},
    {"ReclaimPolicy", "string", 0, "reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
                                   "PersistentVolumes of this storage class."},
    {"VolumeBindingMode", "string", 0, "volumeBindingMode indicates how PersistentVolumeClaims should be "
                                       "provisioned and bound."},
    {"AllowVolumeExpansion", "string", 0, "allowVolumeExpansion shows whether the storage class allow volume "
                                          "expand."},
    COL_AGE,
};

static void row_priorityclass(row *r, const json_t *o)
{
    add_name(r, o);
    add_i(r, num(o, "value"));
    add_b(r, is_true(o, "globalDefault"));
    add_age(r, o);
    add_s(r, str(o, "preemptionPolicy"));
}

static const column PRIORITYCLASS_COLS[] = {
    COL_NAME,
    {"Value", "integer", 0, "value represents the integer value of this priority class."},
    {"Global-Default", "boolean", 0, "globalDefault specifies whether this PriorityClass should be considered as "
                                     "the default priority for pods that do not have any priority class."},
    COL_AGE,
    {"PreemptionPolicy", "string", 0, "preemptionPolicy is the Policy for preempting pods with lower priority."},
};

static void row_resourcequota(row *r, const json_t *o)
{
    const json_t *hard = at(o, "status.hard"), *used = at(o, "status.used");
    size_t n = json_object_size(hard), i = 0;
    const char **names = twin_xcalloc(n ? n : 1, sizeof *names);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hard, k, v)
        names[i++] = k;
    qsort(names, n, sizeof *names, cmp_str);
    twin_buf req = {0}, lim = {0};
    for (i = 0; i < n; i++) {
        twin_buf *w = !strncmp(names[i], "limits.", 7) ? &lim : &req;
        char *u = quantity(json_object_get(used, names[i]), "0");
        char *h = quantity(json_object_get(hard, names[i]), "0");
        twin_buf_addf(w, "%s%s: %s/%s", w->len ? ", " : "", names[i], u, h);
        free(u);
        free(h);
    }
    free(names);
    add_name(r, o);
    add_s(r, req.s);
    add_s(r, lim.s);
    add_age(r, o);
    twin_buf_free(&req);
    twin_buf_free(&lim);
}

static const column RESOURCEQUOTA_COLS[] = {
    COL_NAME,
    {"Request", "string", 0, "Request represents a minimum amount of cpu/memory that a container may consume."},
    {"Limit", "string", 0, "Limits control the maximum amount of cpu/memory that a container may use independent "
                           "of contention on the node."},
    COL_AGE,
};

static void row_controllerrevision(row *r, const json_t *o)
{
    add_name(r, o);
    const json_t *ctl = NULL;
    size_t i;
    json_t *ref;
    json_array_foreach(at(o, "metadata.ownerReferences"), i, ref) {
        if (is_true(ref, "controller")) {
            ctl = ref;
            break;
        }
    }
    if (ctl) {   /* formatResourceName: lower-case Kind[.group]/name */
        const char *av = str_or(ctl, "apiVersion", ""), *slash = strchr(av, '/');
        char *s = slash ? twin_xasprintf("%s.%.*s/%s", str_or(ctl, "kind", ""), (int)(slash - av), av,
                                         str_or(ctl, "name", ""))
                        : twin_xasprintf("%s/%s", str_or(ctl, "kind", ""), str_or(ctl, "name", ""));
        for (char *p = s; *p && *p != '/'; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        add_take(r, s);
    } else {
        add_s(r, "<none>");
    }
    add_i(r, num(o, "revision"));
    add_age(r, o);
}

static const column CONTROLLERREVISION_COLS[] = {
    COL_NAME,
    {"Controller", "string", 0, "Controller of the object"},
    {"Revision", "string", 0, "Revision indicates the revision of the state represented by Data."},
    COL_AGE,
};

/* The apiserver's default table convertor (no printer in Kubernetes). */
static void row_default(row *r, const json_t *o)
{
    add_name(r, o);
    time_t t;
    char buf[32] = "";
    if (parse_time(str(o, "metadata.creationTimestamp"), &t) == 0) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else {
        snprintf(buf, sizeof buf, "0001-01-01T00:00:00Z");   /* the zero time, as Go prints it */
    }
    add_s(r, buf);
}

static const column DEFAULT_COLS[] = {
    COL_NAME,
    {"Created At", "date", 0,
     "CreationTimestamp is a timestamp representing the server time when this object was created."},
};

/* A custom resource without additionalPrinterColumns: Name and Age. */
static void row_custom(row *r, const json_t *o)
{
    add_name(r, o);
    add_age(r, o);
}

static const column CUSTOM_COLS[] = {
    COL_NAME,
    {"Age", "date", 0, "CreationTimestamp is a timestamp representing the server time when this object was created."},
};

/* ---- the printers ---- */

typedef struct printer {
    const char *kind;
    const column *cols;
    size_t ncols;
    void (*row)(row *r, const json_t *o);
    json_t *(*conditions)(const json_t *o);   /* the row's conditions, or NULL */
} printer;

#define PRINTER(kind, cols, fn, cond) {kind, cols, sizeof cols / sizeof cols[0], fn, cond}

static const printer PRINTERS[] = {
    PRINTER("Pod", POD_COLS, row_pod, pod_conditions),
    PRINTER("Deployment", DEPLOYMENT_COLS, row_deployment, NULL),
    PRINTER("ReplicaSet", REPLICASET_COLS, row_replicaset, NULL),
    PRINTER("StatefulSet", STATEFULSET_COLS, row_statefulset, NULL),
    PRINTER("DaemonSet", DAEMONSET_COLS, row_daemonset, NULL),
    PRINTER("Job", JOB_COLS, row_job, NULL),
    PRINTER("CronJob", CRONJOB_COLS, row_cronjob, NULL),
    PRINTER("Service", SERVICE_COLS, row_service, NULL),
    PRINTER("Ingress", INGRESS_COLS, row_ingress, NULL),
    PRINTER("Endpoints", ENDPOINTS_COLS, row_endpoints, NULL),
    PRINTER("Node", NODE_COLS, row_node, NULL),
    PRINTER("Event", EVENT_COLS, row_event, NULL),
    PRINTER("Namespace", NAMESPACE_COLS, row_namespace, NULL),
    PRINTER("Secret", SECRET_COLS, row_secret, NULL),
    PRINTER("ServiceAccount", SERVICEACCOUNT_COLS, row_serviceaccount, NULL),
    PRINTER("PersistentVolume", PV_COLS, row_pv, NULL),
    PRINTER("PersistentVolumeClaim", PVC_COLS, row_pvc, NULL),
    PRINTER("HorizontalPodAutoscaler", HPA_COLS, row_hpa, NULL),
    PRINTER("ConfigMap", CONFIGMAP_COLS, row_configmap, NULL),
    PRINTER("NetworkPolicy", NETWORKPOLICY_COLS, row_networkpolicy, NULL),
    PRINTER("RoleBinding", ROLEBINDING_COLS, row_binding, NULL),
    PRINTER("ClusterRoleBinding", CLUSTERROLEBINDING_COLS, row_binding, NULL),
    PRINTER("PodDisruptionBudget", PDB_COLS, row_pdb, NULL),
    PRINTER("Lease", LEASE_COLS, row_lease, NULL),
    PRINTER("StorageClass", STORAGECLASS_COLS, row_storageclass, NULL),
    PRINTER("PriorityClass", PRIORITYCLASS_COLS, row_priorityclass, NULL),
    PRINTER("ResourceQuota", RESOURCEQUOTA_COLS, row_resourcequota, NULL),
    PRINTER("ControllerRevision", CONTROLLERREVISION_COLS, row_controllerrevision, NULL),
    /* no printer in Kubernetes: the apiserver's default convertor */
    PRINTER("Role", DEFAULT_COLS, row_default, NULL),
    PRINTER("ClusterRole", DEFAULT_COLS, row_default, NULL),
    PRINTER("LimitRange", DEFAULT_COLS, row_default, NULL),
};

static const printer CUSTOM = PRINTER("", CUSTOM_COLS, row_custom, NULL);

static const printer *printer_for(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof PRINTERS / sizeof PRINTERS[0]; i++)
        if (!strcmp(PRINTERS[i].kind, kind))
            return &PRINTERS[i];
    return &CUSTOM;
}

static json_t *column_definitions(const printer *p)
{
    json_t *defs = json_array();
    for (size_t i = 0; i < p->ncols; i++) {
        const column *c = &p->cols[i];
        json_array_append_new(defs, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name, "type", c->type,
                                              "format", strcmp(c->name, "Name") ? "" : "name", "description",
                                              c->description, "priority", c->priority));
    }
    return defs;
}

json_t *gate_table_at(const char *kind, const json_t *obj, time_t now)
{
    const printer *p = printer_for(kind);
    json_t *rows = json_array();
    json_t *items = json_is_array(obj) ? json_incref((json_t *)obj) : json_pack("[O]", obj);
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o) {
        row r = {json_array(), now};
        p->row(&r, o);
        json_t *meta = json_deep_copy(json_object_get(o, "metadata"));
        json_t *item = json_pack("{s:o, s:{s:s, s:s, s:o}}", "cells", r.cells, "object", "kind",
                                 "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1", "metadata",
                                 meta ? meta : json_object());
        json_t *conds = p->conditions ? p->conditions(o) : NULL;
        if (conds)
            json_object_set_new(item, "conditions", conds);
        json_array_append_new(rows, item);
    }
    json_decref(items);
    return json_pack("{s:s, s:s, s:{s:s}, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata",
                     "resourceVersion", "", "columnDefinitions", column_definitions(p), "rows", rows);
}

json_t *gate_table(const char *kind, const json_t *obj) { return gate_table_at(kind, obj, time(NULL)); }
