/*
 * fuzz_patch.c - the patch functions of twin/patch.h on a fixed Deployment,
 * with the input as the patch.
 *
 * Input: the first byte chooses the function, (byte - '0') mod 256 mod 5, so
 * that the seeds read '0' strategic merge, '1' JSON merge, '2' JSON patch,
 * '3' server-side apply, '4' server-side apply with a previous applied
 * configuration; the rest is the patch, as JSON.  Inputs that are not JSON
 * are not interesting here.
 *
 * Invariants (twin/patch.h): on error *doc is the same pointer with the same
 * contents and there is a message; the patch is never modified; on success
 * the result is a serialisable value that shares no node with the patch
 * (every node of the patch still has exactly one reference).
 */
#include <string.h>

#include <jansson.h>

#include "tests/fuzz/fuzz.h"
#include "twin/patch.h"

static const char DEPLOYMENT[] =
    "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
    " \"metadata\": {\"name\": \"api\", \"namespace\": \"payments\", \"uid\": \"u-1\", \"resourceVersion\": \"7\","
    "  \"labels\": {\"app\": \"api\", \"tier\": \"backend\"}, \"annotations\": {\"a\": \"1\"},"
    "  \"finalizers\": [\"example.com/keep\"],"
    "  \"ownerReferences\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"name\": \"o\", \"uid\": \"u-0\"}]},"
    " \"spec\": {\"replicas\": 3, \"selector\": {\"matchLabels\": {\"app\": \"api\"}},"
    "  \"strategy\": {\"type\": \"RollingUpdate\", \"rollingUpdate\": {\"maxSurge\": 1, \"maxUnavailable\": 0}},"
    "  \"template\": {\"metadata\": {\"labels\": {\"app\": \"api\", \"tier\": \"backend\"}},"
    "   \"spec\": {\"serviceAccountName\": \"api\","
    "    \"containers\": [{\"name\": \"api\", \"image\": \"registry.example.com/payments/api:1.14.2\","
    "      \"ports\": [{\"name\": \"http\", \"containerPort\": 8080, \"protocol\": \"TCP\"}],"
    "      \"env\": [{\"name\": \"LOG_LEVEL\", \"value\": \"info\"},"
    "               {\"name\": \"DB\", \"valueFrom\": {\"secretKeyRef\": {\"name\": \"db\", \"key\": \"url\"}}}],"
    "      \"resources\": {\"requests\": {\"cpu\": \"250m\", \"memory\": \"256Mi\"},"
    "                    \"limits\": {\"memory\": \"512Mi\"}},"
    "      \"volumeMounts\": [{\"name\": \"config\", \"mountPath\": \"/etc/api\"}]},"
    "     {\"name\": \"sidecar\", \"image\": \"envoy:1.29\", \"args\": [\"--a\", \"--b\"]}],"
    "    \"initContainers\": [{\"name\": \"migrate\", \"image\": \"registry.example.com/payments/api:1.14.2\"}],"
    "    \"volumes\": [{\"name\": \"config\", \"configMap\": {\"name\": \"api-config\"}}],"
    "    \"tolerations\": [{\"key\": \"dedicated\", \"operator\": \"Equal\", \"value\": \"db\"}],"
    "    \"imagePullSecrets\": [{\"name\": \"regcred\"}]}}},"
    " \"status\": {\"replicas\": 3, \"readyReplicas\": 3,"
    "  \"conditions\": [{\"type\": \"Available\", \"status\": \"True\"}]}}";

/* What the same field manager applied last time: part of the object above. */
static const char PREV_APPLIED[] =
    "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\","
    " \"metadata\": {\"name\": \"api\", \"namespace\": \"payments\", \"labels\": {\"app\": \"api\"}},"
    " \"spec\": {\"replicas\": 3, \"template\": {\"spec\": {\"containers\": [{\"name\": \"api\","
    "  \"image\": \"registry.example.com/payments/api:1.14.2\", \"env\": [{\"name\": \"LOG_LEVEL\", "
    "\"value\": \"info\"}]}]}}}}";

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    FUZZ_CHECK(v != NULL, "built-in document: %s", je.text);
    return v;
}

/* Every node of v holds one reference (singletons excepted): nothing else
 * shares it. */
static int unshared(const json_t *v)
{
    if (json_is_true(v) || json_is_false(v) || json_is_null(v))
        return 1;
    if (v->refcount != 1)
        return 0;
    const char *k;
    size_t i;
    json_t *x;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (!unshared(x)) return 0;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (!unshared(x)) return 0;
    }
    return 1;
}

FUZZ_TARGET(patch)
{
    static json_t *deployment, *prev_applied, *prev_before;
    if (!deployment) {
        deployment = parse(DEPLOYMENT);
        prev_applied = parse(PREV_APPLIED);
        prev_before = parse(PREV_APPLIED);
    }
    if (size < 1)
        return 0;
    json_error_t je;
    json_t *patch = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, &je);
    if (!patch)
        return 0;
    json_t *patch_before = json_deep_copy(patch);
    json_t *doc = json_deep_copy(deployment);
    json_t *orig = doc;
    char err[512];
    err[0] = '\0';
    int which = (uint8_t)(data[0] - '0') % 5, rc = 0;
    switch (which) {
    case 0:
        rc = twin_patch_strategic(&doc, patch, "Deployment", err, sizeof err);
        break;
    case 1:
        rc = twin_patch_merge(&doc, patch, err, sizeof err);
        break;
    case 2:
        rc = twin_patch_json(&doc, patch, err, sizeof err);
        break;
    case 3:
        rc = twin_patch_apply(&doc, patch, NULL, "Deployment", err, sizeof err);
        break;
    default:
        rc = twin_patch_apply(&doc, patch, prev_applied, "Deployment", err, sizeof err);
        break;
    }
    FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
    FUZZ_CHECK(json_equal(patch, patch_before), "patch %d modified its patch", which);
    FUZZ_CHECK(json_equal(prev_applied, prev_before), "patch %d modified prev_applied", which);
    if (rc < 0) {
        FUZZ_CHECK(doc == orig, "patch %d replaced the document on error: %s", which, err);
        FUZZ_CHECK(json_equal(doc, deployment), "patch %d changed the document on error: %s", which, err);
        FUZZ_CHECK(err[0] != '\0', "patch %d failed without a message", which);
    } else {
        FUZZ_CHECK(doc != NULL, "patch %d left no document", which);
        FUZZ_CHECK(unshared(patch), "patch %d: the result shares a node with the patch", which);
        FUZZ_CHECK(unshared(prev_applied), "patch %d: the result shares a node with prev_applied", which);
        char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
        FUZZ_CHECK(text != NULL, "patch %d: the result cannot be serialised", which);
        free(text);
    }
    json_decref(doc);
    json_decref(patch);
    json_decref(patch_before);
    return 0;
}
