/*
 * main.c - the `gate` command: one binary, one subcommand per job.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "gate/cmd/commands.h"
#include "twin/util.h"

static void usage(FILE *out)
{
    fputs("usage: gate COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  check     simulate manifests or API calls against a cluster state and judge them (CI)\n"
          "  serve     serve the Kubernetes API (twin, enforce or shadow mode), judging every call\n"
          "  approvals list, show, approve or deny the actions waiting for a person (a running gate)\n"
          "  freeze    deny every mutation until `gate thaw` (the kill switch of a running gate)\n"
          "  reload    load the policies of a running gate again (as SIGHUP does)\n"
          "  drift     what production changed behind a running gate's back (enforce and shadow mode)\n"
          "  scenario  run labelled scenario suites: verdicts, confusion matrix, latency\n"
          "  export    print a state, reconciled by the twin, as a Kubernetes List\n"
          "  replay    judge the audit log's decisions again under new policies: what would change\n"
          "  audit     the audit log: list its records, show one, verify the chain (tamper evidence)\n"
          "  version   print the version\n"
          "\n"
          "Run `gate COMMAND --help` for a command's options.\n",
          out);
}

int main(int argc, char **argv)
{
    /* one out-of-memory policy for the application heap: jansson's
     * allocations abort like twin_xmalloc's, so no JSON call returns NULL
     * for lack of memory (the Lua allocator keeps its own budget) */
    json_set_alloc_funcs(twin_xmalloc, free);
    if (argc < 2) {
        usage(stderr);
        return 3;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "check"))
        return gate_cmd_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve"))
        return gate_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "scenario"))
        return gate_cmd_scenario(argc - 1, argv + 1);
    if (!strcmp(cmd, "export"))
        return gate_cmd_export(argc - 1, argv + 1);
    if (!strcmp(cmd, "replay"))
        return gate_cmd_replay(argc - 1, argv + 1);
    if (!strcmp(cmd, "audit"))
        return gate_cmd_audit(argc - 1, argv + 1);
    if (!strcmp(cmd, "approvals") || !strcmp(cmd, "freeze") || !strcmp(cmd, "thaw") || !strcmp(cmd, "reload") ||
        !strcmp(cmd, "drift"))
        return gate_cmd_client(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("airlock gate %s (Kubernetes API 1.32)\n", GATE_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "gate: unknown command %s\n", cmd);
    usage(stderr);
    return 3;
}
