/*
 * yaml.h - Kubernetes manifests in YAML to JSON, typed as kubectl would send
 * them.
 *
 * twin_yaml_parse reads a stream of YAML documents with libyaml's event API
 * and builds one JSON value per document, typing scalars as sigs.k8s.io/yaml
 * over go-yaml v2 (YAML 1.1 rules) does, so the twin sees the JSON the API
 * server would receive:
 *   - quoted ('..', "..") and block (|, >) scalars are strings;
 *   - plain scalars: "", ~, null, Null, NULL -> null;
 *     true/True/TRUE, false/False/FALSE -> booleans, and so are the YAML 1.1
 *     words yes/Yes/YES, no/No/NO, on/On/ON, off/Off/OFF and y/Y, n/N, because
 *     go-yaml v2 resolves them too (so a key `on:` arrives as "true");
 *     decimal, 0x hex, 0o and leading-0 octal, 0b binary integers (sign and
 *     '_' separators allowed) -> integer if it fits int64, else real;
 *     1.5, 1e3, .5, 1. -> real; .inf, -.Inf, .nan ... -> error, JSON has none;
 *     anything else -> string (timestamps stay strings, as in kubectl);
 *   - explicit tags !!str !!int !!float !!bool !!null decide the type and a
 *     value that does not fit is an error; !!binary is an error; any other
 *     tag leaves a string;
 *   - mapping keys must be scalars; typed keys become text as
 *     sigs.k8s.io/yaml prints them (1 -> "1", true -> "true", 1.50 -> "1.5");
 *     a null key and a duplicate key are errors (Kubernetes' strict decoding);
 *   - anchors and aliases are expanded, each alias into a deep copy; merge
 *     keys (`<<: *base`, `<<: [*a, *b]`) add the keys the mapping does not set
 *     itself, earlier sources first.
 *
 * Limits: nesting depth 200, counted through aliases too; per document,
 * aliases may copy at most 10,000 nodes and 4 MiB of strings (against
 * "billion laughs"); the input size is the caller's to cap. Each document must
 * be a mapping; empty and null documents are skipped.
 *
 * Deliberate differences from kubectl: explicit keys always win over merged
 * ones (go-yaml v2 lets a later `<<` overwrite an earlier key; the YAML merge
 * spec and go-yaml v3 do not); integers beyond int64 become reals (go-yaml
 * keeps uint64); reals stay reals (a JSON round trip in Kubernetes turns 1e3
 * into the integer 1000); a document whose root is a sequence is rejected.
 *
 * Errors read "<name>:<line>:<column>: <problem>", 1-based, pointing at the
 * node at fault (libyaml's own syntax errors point where libyaml stopped and
 * add where the construct began).
 */
#ifndef TWIN_YAML_H
#define TWIN_YAML_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parses buf[0..len) (no NUL terminator needed; UTF-8, or UTF-16 with a BOM)
 * into a new JSON array with one object per non-empty document. `name` (a
 * file name, "<stdin>", a request) only labels errors; NULL reads "<input>".
 * Returns 0 and *out, a new reference the caller must json_decref, or -1 and
 * a message in err (err may be NULL); *out is untouched on error. buf and
 * name are borrowed. Out of memory aborts, as everywhere in the twin.
 */
int twin_yaml_parse(json_t **out, const char *buf, size_t len, const char *name, char *err,
                    size_t errlen);

#endif

/*
 * This header shares its name with libyaml's <yaml.h>, so a build that puts
 * twin/ on the include path (-Itwin) hides libyaml from twin/yaml.c. yaml.c
 * defines TWIN_YAML__WANT_LIBYAML and includes <yaml.h>: if that lands here,
 * #include_next fetches libyaml from the next directory on the path (the
 * system_header pragma keeps -Wpedantic quiet about the GCC extension); if it
 * reaches libyaml directly, yaml.c undefines the macro before including this
 * file. No other file should define the macro.
 */
#if defined(TWIN_YAML__WANT_LIBYAML)
#undef TWIN_YAML__WANT_LIBYAML
#pragma GCC system_header
#include_next <yaml.h>
#endif
