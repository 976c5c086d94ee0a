/*
 * action.c - one parsed AWS call: its lifetime, its redaction, and the
 * CLI's names for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/aws/action.h"
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
