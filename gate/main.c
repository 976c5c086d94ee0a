/*
 * main.c - the `gate` command: one binary, one subcommand per job.
 */
#include <stdio.h>
#include <string.h>

#include "gate/commands.h"

static void usage(FILE *out)
{
    fputs("usage: gate COMMAND [options]\n"
          "\n"
          "commands:\n"
          "  check     simulate manifests or API calls against a cluster state and judge them (CI)\n"
          "  serve     serve the Kubernetes API from the twin (twin mode), judging every call\n"
          "  scenario  run labelled scenario suites: verdicts, confusion matrix, latency\n"
          "  export    print a state, reconciled by the twin, as a Kubernetes List\n"
          "  version   print the version\n"
          "\n"
          "Run `gate COMMAND --help` for a command's options.\n",
          out);
}

int main(int argc, char **argv)
{
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
