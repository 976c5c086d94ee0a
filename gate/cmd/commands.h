/*
 * gate/cmd/commands.h - the subcommands of bin/gate. Each takes argv with its
 * own name at argv[0] and returns the process exit code.
 */
#ifndef GATE_COMMANDS_H
#define GATE_COMMANDS_H

#define GATE_VERSION "0.1.0"

int gate_cmd_check(int argc, char **argv);
int gate_cmd_export(int argc, char **argv);
int gate_cmd_scenario(int argc, char **argv);
int gate_cmd_fuzz(int argc, char **argv);
int gate_cmd_serve(int argc, char **argv);
int gate_cmd_replay(int argc, char **argv);
int gate_cmd_audit(int argc, char **argv);
/* approvals, freeze, thaw, reload: an approver's calls to a running gate (client.c) */
int gate_cmd_client(int argc, char **argv);

#endif
