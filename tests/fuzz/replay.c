/*
 * replay.c - runs fuzz targets without libFuzzer, for `make test`:
 *
 *   fuzz_replay TARGET FILE...
 *
 * runs the target's entry point (fuzz.h) once per file, each input in a
 * buffer of exactly its size so the sanitizers see any read past its end.
 * Exits 0 when every input ran; 2 on a usage or read error.  A violated
 * invariant aborts and a sanitizer report ends the process, so either fails
 * the run (tests/run.sh counts it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

static const struct {
    const char *name;
    int (*one)(const uint8_t *data, size_t size);
} targets[] = {
    {"yaml", fuzz_yaml_one},
    {"import", fuzz_import_one},
    {"action", fuzz_action_one},
    {"patch", fuzz_patch_one},
    {"protobuf", fuzz_protobuf_one},
    {"selector", fuzz_selector_one},
    {"agents", fuzz_agents_one},
    {"journal", fuzz_journal_one},
    {"aws_query", fuzz_aws_query_one},
    {"aws_xml", fuzz_aws_xml_one},
    {"sigv4", fuzz_sigv4_one},
    {"aws_action", fuzz_aws_action_one},
};

enum { MAX_INPUT = 16 * 1024 * 1024 };

/* Reads path into a new buffer of exactly its size (one byte for an empty
 * file: libFuzzer never passes NULL either). */
static int read_input(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(MAX_INPUT);
    size_t n = buf ? fread(buf, 1, MAX_INPUT, f) : 0;
    int bad = !buf || ferror(f) || !feof(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, buf ? "unreadable or larger than 16 MiB" : "out of memory");
        free(buf);
        return -1;
    }
    *data = malloc(n ? n : 1);
    if (!*data) {
        fprintf(stderr, "fuzz_replay: out of memory\n");
        abort();
    }
    memcpy(*data, buf, n);
    free(buf);
    *size = n;
    return 0;
}

int main(int argc, char **argv)
{
    int (*one)(const uint8_t *, size_t) = NULL;
    for (size_t i = 0; argc >= 2 && i < sizeof targets / sizeof targets[0]; i++)
        if (!strcmp(argv[1], targets[i].name))
            one = targets[i].one;
    if (!one) {
        fprintf(stderr, "usage: fuzz_replay yaml|import|action|patch|protobuf FILE...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        uint8_t *data;
        size_t size;
        if (read_input(argv[i], &data, &size) < 0)
            return 2;
        fprintf(stderr, "%s: %s (%zu bytes)\n", argv[1], argv[i], size);
        one(data, size);
        free(data);
    }
    printf("fuzz_replay %s: %d inputs ran\n", argv[1], argc - 2);
    return 0;
}
