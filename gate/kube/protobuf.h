/*
 * gate/kube/protobuf.h - decoding the protobuf request bodies client-go's
 * typed clients send (kubectl 1.32's create, drain, autoscale, create job,
 * ...) into the JSON the API server would see, which the gate judges and
 * forwards: an object of a common built-in kind of core/v1, apps/v1,
 * batch/v1, autoscaling/v1 and v2, policy/v1, networking.k8s.io/v1,
 * rbac.authorization.k8s.io/v1, scheduling.k8s.io/v1 or
 * authentication.k8s.io/v1 (the list is ACCEPTED in gate/kube/protobuf.c),
 * an Eviction, a Scale, a TokenRequest, or a DELETE's DeleteOptions under
 * any of these group versions.
 *
 * The decoder is strict and generated: its field tables come from the
 * Kubernetes generated.proto files (tools/protogen.py writes
 * gate/kube/protobuf_tables.inc), every field of an accepted kind is decoded,
 * and anything it cannot map exactly is refused, never skipped: an unknown
 * field number, a wrong wire type, a malformed varint or length, invalid
 * UTF-8 or a NUL byte in a string, a field or map key given twice, a
 * special type out of range, a non-empty contentEncoding or contentType in
 * the envelope, an unsupported kind.  Messages nest at most PB_MAX_DEPTH
 * (32) deep; the caller caps the body's size (3 MiB).
 */
#ifndef GATE_PROTOBUF_H
#define GATE_PROTOBUF_H

#include <jansson.h>
#include <stddef.h>

/* buf[0..len) is the body: "k8s\0" and a runtime.Unknown holding a kind
 * gate/kube/protobuf.c accepts.  0 and *out a new JSON object (caller frees)
 * with apiVersion and kind first (a DeleteOptions' apiVersion is
 * meta.k8s.io/v1, the group version the API server reads it as under any);
 * or -1 with a message in err naming the message type and field number at
 * fault, or the kind refused, *out untouched. */
int gate_protobuf_decode(const unsigned char *buf, size_t len, json_t **out, char *err, size_t errlen);

/* Checks a JSON body of a kind the tables have (by its apiVersion and
 * kind, or api_version and kind_of when it names neither; any other body
 * passes) as the API server's decoder would: a value
 * of the wrong JSON type is an error (-1, err naming the field); a member
 * the kind does not have is an error when strict (fieldValidation=Strict),
 * else dropped from obj, as Go's decoder drops it.  0 otherwise. */
int gate_protobuf_check_json(json_t *obj, const char *api_version, const char *kind_of, int strict, char *err,
                             size_t errlen);

/* The OpenAPI v3 schemas of group/version's kinds the tables have, and of
 * every message they reach, by the names the API server gives them, with
 * the API server's descriptions of each message and field (what kubectl
 * explain prints) (new object; empty when the tables have none of its
 * kinds). */
json_t *gate_protobuf_schemas(const char *group, const char *version);

#endif
