/*
 * tests/fuzz/fuzz.h - how a fuzz target is written, so one source serves two
 * builds:
 *
 *   make fuzz   tests/fuzz/run.sh compiles each target alone with clang
 *               -fsanitize=fuzzer and -DFUZZ_LIBFUZZER: FUZZ_TARGET(name)
 *               then defines libFuzzer's LLVMFuzzerTestOneInput.
 *   make test   the Makefile links every target into one binary,
 *               build/san/tests/fuzz_replay, with the replay driver
 *               (replay.c): FUZZ_TARGET(name) defines fuzz_<name>_one, and
 *               `fuzz_replay <name> FILE...` runs it over the seed corpus in
 *               tests/fuzz/corpus/<name>/.
 *
 * A target returns 0 for every input. It checks its invariants with
 * FUZZ_CHECK, which prints what was violated and aborts, so libFuzzer (and
 * the replay) report the input; a crash, a leak or a sanitizer report fails
 * the same way. Targets run from the repository's root (fixtures/ and
 * lua-policies/ are read by relative path).
 */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef FUZZ_LIBFUZZER
#define FUZZ_TARGET(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#else
#define FUZZ_TARGET(name) int fuzz_##name##_one(const uint8_t *data, size_t size)
#endif

/* The replay driver's entry points (one per target file). */
int fuzz_yaml_one(const uint8_t *data, size_t size);
int fuzz_import_one(const uint8_t *data, size_t size);
int fuzz_action_one(const uint8_t *data, size_t size);
int fuzz_patch_one(const uint8_t *data, size_t size);
int fuzz_protobuf_one(const uint8_t *data, size_t size);
int fuzz_aws_query_one(const uint8_t *data, size_t size);
int fuzz_aws_xml_one(const uint8_t *data, size_t size);
int fuzz_sigv4_one(const uint8_t *data, size_t size);
int fuzz_aws_action_one(const uint8_t *data, size_t size);
int fuzz_selector_one(const uint8_t *data, size_t size);
int fuzz_agents_one(const uint8_t *data, size_t size);
int fuzz_journal_one(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                        \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: invariant violated: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                            \
            fputc('\n', stderr);                                                                     \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)

#endif
