/*
 * fuzz_agents.c - the agents file (gate/ops/agents.h): YAML or JSON, every
 * key checked.
 *
 * Input: the file's bytes (written to a scratch file, as the gate reads a
 * path).
 *
 * Invariants: the load either succeeds or fails with a message naming the
 * file, and leaves nothing loaded on failure; every loaded entry has a
 * name, a 64-hex token hash, a role, and an agent's rate limits are not
 * negative; names and token hashes are unique (two entries may never share
 * a token: the gate could not tell them apart).
 */
#include <string.h>
#include <unistd.h>

#include "gate/ops/agents.h"
#include "tests/fuzz/fuzz.h"

FUZZ_TARGET(agents)
{
    char path[] = "/tmp/fuzz_agents.XXXXXX";
    int fd = mkstemp(path);
    FUZZ_CHECK(fd >= 0, "mkstemp");
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "write");
    close(fd);
    gate_agents a = {0};
    char err[1024] = "";
    int rc = gate_agents_load(&a, path, err, sizeof err);
    unlink(path);
    FUZZ_CHECK(rc == 0 || (rc == -1 && strstr(err, path) && a.n == 0), "rc %d, %zu loaded, err '%s'", rc, a.n, err);
    for (size_t i = 0; rc == 0 && i < a.n; i++) {
        const gate_identity *id = &a.v[i];
        FUZZ_CHECK(id->name && id->name[0], "entry %zu has no name", i);
        FUZZ_CHECK(strlen(id->token_sha256) == 64 && strspn(id->token_sha256, "0123456789abcdef") == 64,
                   "entry %s: token hash '%s'", id->name, id->token_sha256);
        FUZZ_CHECK(id->role == GATE_ROLE_AGENT || id->role == GATE_ROLE_APPROVER, "entry %s: role %d", id->name,
                   (int)id->role);
        FUZZ_CHECK(id->per_second >= 0 && id->per_minute >= 0, "entry %s: negative rate limit", id->name);
        for (size_t j = 0; j < i; j++) {
            FUZZ_CHECK(strcmp(a.v[j].name, id->name), "two entries named %s", id->name);
            FUZZ_CHECK(strcmp(a.v[j].token_sha256, id->token_sha256), "%s and %s share a token", a.v[j].name,
                       id->name);
        }
    }
    gate_agents_free(&a);
    return 0;
}
