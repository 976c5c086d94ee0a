/*
 * client.c - the approver's commands, talking to a running gate over
 * HTTPS (libcurl):
 *
 *   gate approvals list [--state S] | show ID | approve ID | deny ID [--comment C]
 *   gate freeze [--reason R] | gate thaw | gate reload
 *   gate drift [--since T]
 *
 * each with --server URL and --token T (or --token-file F, or the
 * environment's AIRLOCK_TOKEN), and --ca FILE or --insecure-skip-tls-verify.
 * Exit: 0 done, 1 the gate refused (its Status message is printed), 3 bad
 * usage or the gate could not be reached.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gate/ops/audit.h"
#include "gate/cmd/commands.h"
#include "twin/util.h"

typedef struct conn {
    const char *server, *token_file, *ca, *comment, *state, *reason, *format, *since;
    char *token;
    int insecure;
    const char *positional[4];
    int npos;
} conn;

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    twin_buf_add(ud, p, size * n);
    return size * n;
}

/* One call; *out gets the answer's JSON (new).  Returns the HTTP status,
 * or -1 after printing why the gate could not be reached. */
static long call(const conn *k, const char *method, const char *path, const json_t *body, json_t **out)
{
    CURL *h = curl_easy_init();
    twin_buf resp = {0};
    char *url = twin_xasprintf("%s%s", k->server, path);
    char *auth = twin_xasprintf("Authorization: Bearer %s", k->token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    hdr = curl_slist_append(hdr, "Accept: application/json");
    char *text = NULL;
    if (body) {
        text = twin_xdumps(body, JSON_COMPACT);
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (k->ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, k->ca);
    if (k->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = -1;
    if (cc != CURLE_OK) {
        fprintf(stderr, "gate: cannot reach %s: %s\n", k->server, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        *out = resp.s ? json_loadb(resp.s, resp.len, 0, NULL) : NULL;
        if (!*out) {
            fprintf(stderr, "gate: %s answered %ld with something that is not JSON\n", k->server, status);
            status = -1;
        }
    }
    twin_buf_free(&resp);
    free(text);
    free(url);
    free(auth);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return status;
}

static char *when(double t)
{
    char buf[32];
    gate_audit_format_time(t, buf);
    return twin_xstrdup(buf);
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void print_list(const json_t *doc)
{
    printf("%-14s %-9s %-14s %-20s %-46s %s\n", "ID", "STATE", "AGENT", "REQUESTED", "ACTION", "WHY");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(doc, "items"), i, a) {
        const json_t *act = json_object_get(a, "action");
        char what[256];
        const char *ns = str(act, "namespace");
        snprintf(what, sizeof what, "%s %s %s%s%s", str(act, "verb"), str(act, "kind"), ns, *ns ? "/" : "",
                 str(act, "name"));
        char *t = when(json_number_value(json_object_get(a, "requested_at")));
        printf("%-14s %-9s %-14s %-20s %-46s %s\n", str(a, "id"), str(a, "state"), str(a, "agent"), t, what,
               str(a, "message"));
        free(t);
    }
    if (!json_array_size(json_object_get(doc, "items")))
        printf("(no approvals)\n");
}

static int usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "gate %s: %s\n", cmd, msg);
    fprintf(stderr, "usage: gate approvals list [--state pending|approved|denied|expired|used|all]\n"
                    "       gate approvals show ID | approve ID | deny ID [--comment TEXT]\n"
                    "       gate freeze [--reason TEXT] | gate thaw | gate reload\n"
                    "       gate drift [--since TIME]   (TIME: RFC 3339, Unix seconds, or an age: 90s, 30m, 2h, 7d)\n"
                    "  with --server URL (--token T | --token-file F | $AIRLOCK_TOKEN)\n"
                    "       [--ca FILE | --insecure-skip-tls-verify] [--format text|json]\n");
    return 3;
}

static int parse(conn *k, int argc, char **argv, const char *cmd)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--server") ? &k->server : !strcmp(a, "--token-file") ? &k->token_file
                          : !strcmp(a, "--ca") ? &k->ca : !strcmp(a, "--comment") ? &k->comment
                          : !strcmp(a, "--state") ? &k->state : !strcmp(a, "--reason") ? &k->reason
                          : !strcmp(a, "--format") ? &k->format : !strcmp(a, "--since") ? &k->since : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage_error(cmd, "help"), 1;
        if (!strcmp(a, "--token")) {
            if (i + 1 >= argc)
                return usage_error(cmd, "--token needs a value");
            free(k->token);
            k->token = twin_xstrdup(argv[++i]);
        } else if (!strcmp(a, "--insecure-skip-tls-verify")) {
            k->insecure = 1;
        } else if (slot) {
            if (i + 1 >= argc)
                return usage_error(cmd, "an option needs a value");
            *slot = argv[++i];
        } else if (a[0] == '-') {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown option %s", a);
            return usage_error(cmd, msg);
        } else if (k->npos < 4) {
            k->positional[k->npos++] = a;
        } else {
            return usage_error(cmd, "too many arguments");
        }
    }
    if (!k->server)
        return usage_error(cmd, "--server URL is required (e.g. https://127.0.0.1:8443)");
    if (k->token_file && !k->token) {
        FILE *f = fopen(k->token_file, "r");
        char buf[512];
        if (!f || !fgets(buf, sizeof buf, f)) {
            fprintf(stderr, "gate %s: cannot read the token file %s\n", cmd, k->token_file);
            if (f)
                fclose(f);
            return 3;
        }
        fclose(f);
        buf[strcspn(buf, "\r\n")] = '\0';
        k->token = twin_xstrdup(buf);
    }
    if (!k->token && getenv("AIRLOCK_TOKEN"))
        k->token = twin_xstrdup(getenv("AIRLOCK_TOKEN"));
    if (!k->token)
        return usage_error(cmd, "an approver token is required: --token, --token-file or AIRLOCK_TOKEN");
    if (k->ca && k->insecure)
        return usage_error(cmd, "--ca and --insecure-skip-tls-verify exclude each other");
    if (k->format && strcmp(k->format, "text") && strcmp(k->format, "json"))
        return usage_error(cmd, "--format is text or json");
    size_t n = strlen(k->server);
    while (n && k->server[n - 1] == '/')
        n--;
    ((char *)k->server)[n] = '\0';   /* argv is ours to trim */
    return 0;
}

/* Runs one call and prints the answer: 0, 1 (refused), 3 (unreachable). */
static int run(conn *k, const char *method, const char *path, const json_t *body, void (*print)(const json_t *))
{
    json_t *doc = NULL;
    long status = call(k, method, path, body, &doc);
    int rc;
    if (status < 0) {
        rc = 3;
    } else if (status >= 300) {
        const char *m = json_string_value(json_object_get(doc, "message"));
        fprintf(stderr, "gate: %s (HTTP %ld)\n", m ? m : "refused", status);
        rc = 1;
    } else {
        if (print && (!k->format || !strcmp(k->format, "text")))
            print(doc);
        else
            json_dumpf(doc, stdout, JSON_INDENT(2)), putchar('\n');
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

static void print_decided(const json_t *a)
{
    printf("approval %s %s by %s\n", str(a, "id"), str(a, "state"), str(a, "decided_by"));
}

static void print_freeze(const json_t *f)
{
    if (json_is_true(json_object_get(f, "frozen"))) {
        char *t = when(json_number_value(json_object_get(f, "since")));
        printf("frozen by %s since %s: %s\n", str(f, "by"), t, str(f, "reason"));
        free(t);
    } else {
        printf("not frozen: mutations are judged by the policies\n");
    }
}

/* What production changed behind the gate's back, oldest first, and the
 * watches that feed the twin. */
static void print_drift(const json_t *doc)
{
    const json_t *items = json_object_get(doc, "items");
    printf("%-20s %-9s %-24s %-40s %s\n", "TIME", "EVENT", "KIND", "OBJECT", "CHANGED");
    size_t i, j;
    json_t *r, *p;
    json_array_foreach(items, i, r) {
        char *t = when(json_number_value(json_object_get(r, "time")));
        char obj[256];
        const char *ns = str(r, "namespace");
        snprintf(obj, sizeof obj, "%s%s%s", ns, *ns ? "/" : "", str(r, "name"));
        twin_buf ch = {0};
        json_array_foreach(json_object_get(r, "changed"), j, p)
            twin_buf_addf(&ch, "%s%s", ch.len ? ", " : "", json_string_value(p));
        printf("%-20s %-9s %-24s %-40s %s\n", t, str(r, "event"), str(r, "kind"), obj, ch.s ? ch.s : "-");
        twin_buf_free(&ch);
        free(t);
    }
    printf("%zu shown, %lld since the gate started\n", json_array_size(items),
           (long long)json_integer_value(json_object_get(doc, "total")));
    size_t behind = 0;
    json_array_foreach(json_object_get(doc, "watches"), i, r)
        if (!json_is_true(json_object_get(r, "watching"))) {
            if (!behind++)
                printf("watches not open now:");
            printf(" %s (%s)", str(r, "kind"), str(r, "last_error"));
        }
    if (behind)
        putchar('\n');
}

static void print_reload(const json_t *r)
{
    printf("policies reloaded: %s (%lld policies from %s)\n", str(r, "policy_version"),
           (long long)json_integer_value(json_object_get(r, "policies")), str(r, "source"));
}

int gate_cmd_client(int argc, char **argv)
{
    const char *cmd = argv[0];
    conn k = {0};
    int rc = parse(&k, argc, argv, cmd);
    if (rc) {
        free(k.token);
        return rc == 1 ? 0 : rc;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_t *body = NULL;
    if (!strcmp(cmd, "approvals")) {
        const char *sub = k.npos ? k.positional[0] : "list";
        const char *id = k.npos > 1 ? k.positional[1] : NULL;
        if (!strcmp(sub, "list")) {
            char *path = twin_xasprintf("/airlock/v1/approvals?state=%s", k.state ? k.state : "pending");
            rc = run(&k, "GET", path, NULL, print_list);
            free(path);
        } else if ((!strcmp(sub, "show") || !strcmp(sub, "approve") || !strcmp(sub, "deny")) && !id) {
            rc = usage_error(cmd, "the approval ID is missing");
        } else if (!strcmp(sub, "show")) {
            char *path = twin_xasprintf("/airlock/v1/approvals/%s", id);
            rc = run(&k, "GET", path, NULL, NULL);
            free(path);
        } else if (!strcmp(sub, "approve") || !strcmp(sub, "deny")) {
            char *path = twin_xasprintf("/airlock/v1/approvals/%s/%s", id, sub);
            body = json_pack("{s:s}", "comment", k.comment ? k.comment : "");
            rc = run(&k, "POST", path, body, print_decided);
            free(path);
        } else {
            rc = usage_error(cmd, "the subcommands are list, show, approve and deny");
        }
    } else if (!strcmp(cmd, "freeze") || !strcmp(cmd, "thaw")) {
        char *path = twin_xasprintf("/airlock/v1/%s", cmd);
        body = json_pack("{s:s}", "reason", k.reason ? k.reason : "");
        rc = run(&k, "POST", path, body, print_freeze);
        free(path);
    } else if (!strcmp(cmd, "drift")) {
        char *e = k.since ? curl_easy_escape(NULL, k.since, 0) : NULL;
        char *path = e ? twin_xasprintf("/airlock/v1/drift?since=%s", e) : twin_xstrdup("/airlock/v1/drift");
        curl_free(e);
        rc = run(&k, "GET", path, NULL, print_drift);
        free(path);
    } else {   /* reload */
        body = json_object();
        rc = run(&k, "POST", "/airlock/v1/reload", body, print_reload);
    }
    json_decref(body);
    free(k.token);
    curl_global_cleanup();
    return rc;
}
