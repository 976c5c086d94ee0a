/*
 * export.c - `gate export --state ...`: the twin's view of a state (after
 * reconciling: ReplicaSets, pods, Endpoints) as one Kubernetes List; with
 * --aws, its AWS account as one {"kind": "AWSState"} document (which
 * --state reads back unchanged).
 */
#include <stdio.h>

#include "gate/cmd/cli.h"
#include "gate/cmd/commands.h"
#include "twin/aws.h"

int gate_cmd_export(int argc, char **argv)
{
    gate_cli_opts o;
    char err[1024];
    twin *t = NULL;
    int rc = 3;
    if (gate_cli_parse(&o, argc, argv, "export", err, sizeof err) < 0 || (!o.help && o.nstate == 0)) {
        fprintf(stderr, "gate export: %s\nusage: gate export --state FILE|DIR [--state ...] [--aws]\n",
                o.nstate ? err : "--state is required");
        goto out;
    }
    if (o.help) {
        puts("usage: gate export --state FILE|DIR [--state ...] [--aws]");
        rc = 0;
        goto out;
    }
    if (gate_cli_open_twin(&o, &t, err, sizeof err) < 0) {
        fprintf(stderr, "gate export: %s\n", err);
        goto out;
    }
    json_t *list = o.aws ? twin_aws_export(t) : twin_export(t);
    json_dumpf(list, stdout, JSON_INDENT(1));
    putchar('\n');
    json_decref(list);
    rc = 0;
out:
    twin_close(t);
    gate_cli_free(&o);
    return rc;
}
