/*
 * action.c - one parsed AWS call: its lifetime, its redaction, and the
 * CLI's names for it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/aws/action.h"
#include "gate/aws/protocol.h"
#include "twin/aws.h"
#include "twin/util.h"

void gate_aws_action_free(gate_aws_action *a)
{
    if (!a)
        return;
    free(a->service);
    free(a->operation);
    free(a->region);
    json_decref(a->input);
    memset(a, 0, sizeof *a);
}

/* Members that hold a secret in the operations the gate knows (RDS's
 * passwords, S3's customer keys, IAM's key material). */
static int secret_member(const char *name)
{
    static const char *const names[] = {
        "MasterUserPassword", "NewPassword", "OldPassword", "Password", "SecretAccessKey", "SessionToken",
        "PrivateKey", "SSECustomerKey", "CopySourceSSECustomerKey", "TdeCredentialPassword",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return 1;
    return 0;
}

static json_t *redact(const json_t *v, int depth)
{
    if (depth > 64)   /* inputs come from the parsers, which bound their depth; never recurse without one */
        return json_string("<redacted: too deep>");
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
            json_object_set_new(o, k, secret_member(k) ? json_string("<redacted>") : redact(m, depth + 1));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) json_array_append_new(a, redact(m, depth + 1));
        return a;
    }
    return json_copy((json_t *)v);
}

json_t *gate_aws_redacted_input(const json_t *input)
{
    return input ? redact(input, 0) : json_object();
}

/* The CLI's service names that are not the signing name. */
static const char *signing_name(const char *cli)
{
    if (!strcmp(cli, "elbv2"))
        return "elasticloadbalancing";
    if (!strcmp(cli, "s3api"))
        return "s3";
    return cli;
}

int gate_aws_cli_name(const char *words, char **service, char **operation, char *err, size_t errlen)
{
    *service = *operation = NULL;
    const char *sp = words ? strchr(words, ' ') : NULL;
    if (!sp || sp == words || !sp[1] || strchr(sp + 1, ' ')) {
        snprintf(err, errlen, "\"aws\" is two words, a service and an operation (\"ec2 terminate-instances\")");
        return -1;
    }
    char *svc = twin_xasprintf("%.*s", (int)(sp - words), words);
    /* the operation as botocore names it: the CLI's words without dashes,
     * compared without case ("describe-db-instances" is DescribeDBInstances) */
    char folded[128];
    size_t n = 0;
    for (const char *p = sp + 1; *p && n + 1 < sizeof folded; p++)
        if (*p != '-')
            folded[n++] = (char)tolower((unsigned char)*p);
    folded[n] = '\0';
    const char *sig = signing_name(svc);
    const char *op = gate_aws_operation_folded(sig, folded);
    if (!op) {
        snprintf(err, errlen, "aws %s %s is not an operation the gate knows", svc, sp + 1);
        free(svc);
        return -1;
    }
    *service = twin_xstrdup(sig);
    *operation = twin_xstrdup(op);
    free(svc);
    return 0;
}

/* What the twin knows of the call, and EC2's DryRun. */
static void classify(gate_aws_action *a)
{
    a->read = twin_aws_op_kind(a->service, a->operation) == 1;
    a->dry_run = json_is_true(json_object_get(a->input, "DryRun"));
}

int gate_aws_action_parse(gate_aws_action *a, const char *service, const char *method, const char *target,
                          const json_t *args, const json_t *headers, const char *body, size_t len, char *err,
                          size_t errlen)
{
    memset(a, 0, sizeof *a);
    int code;
    char *path = twin_xasprintf("%.*s", (int)strcspn(target, "?"), target);   /* as sent, without the query */
    if (!strcmp(service, "s3")) {
        /* path-style, or AWS's own virtual-hosted names (an agent reaches
         * the gate by its address) */
        const char *host = NULL;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)headers, k, v) if (!strcasecmp(k, "Host")) host = json_string_value(v);
        code = gate_aws_parse_s3(method, path, args, headers, host, NULL, body, len, &a->operation, &a->input, err,
                                 errlen);
    } else if (strcmp(method, "POST")) {
        code = 400;
        snprintf(err, errlen, "airlock: %s calls are POSTed forms (application/x-www-form-urlencoded), not %s", service,
                 method);
    } else if (json_object_size(args)) {
        /* parameters in the query and the body would be two readings of one call */
        code = 400;
        snprintf(err, errlen, "airlock: %s calls carry their parameters in the body only, not in the query", service);
    } else {
        code = gate_aws_parse_query(service, body, len, &a->operation, &a->input, err, errlen);
    }
    free(path);
    if (code)
        return code;
    a->service = twin_xstrdup(service);
    classify(a);
    return 0;
}

int gate_aws_action_from_json(const json_t *j, gate_aws_action *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    const json_t *words = json_object_get(j, "aws");
    if (!words)
        return 1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) if (strcmp(k, "aws") && strcmp(k, "input") && strcmp(k, "region")) {
        snprintf(err, errlen, "an AWS call in the CLI's form has \"aws\", \"input\" and \"region\", not \"%s\"", k);
        return -1;
    }
    const json_t *input = json_object_get(j, "input");
    if (!json_is_string(words) || (input && !json_is_object(input))) {
        snprintf(err, errlen, "an AWS call in the CLI's form is {\"aws\": \"ec2 terminate-instances\", \"input\": "
                              "{...}}: the input what --cli-input-json takes");
        return -1;
    }
    if (gate_aws_cli_name(json_string_value(words), &a->service, &a->operation, err, errlen) < 0)
        return -1;
    a->input = input ? json_deep_copy(input) : json_object();
    /* the input must fit the operation's shape: built as production would
     * receive it (an unknown member or a wrong type is refused) */
    twin_buf body = {0}, target = {0};
    json_t *headers = NULL;
    const char *method;
    int code = !strcmp(a->service, "s3")
                   ? gate_aws_build_s3(a->operation, a->input, &method, &target, &headers, &body, err, errlen)
                   : gate_aws_build_query(a->service, a->operation, a->input, &body, err, errlen);
    json_decref(headers);
    twin_buf_free(&body);
    twin_buf_free(&target);
    if (code) {
        gate_aws_action_free(a);
        return -1;
    }
    const char *region = json_string_value(json_object_get(j, "region"));
    a->region = region ? twin_xstrdup(region) : NULL;
    classify(a);
    return 0;
}
