/*
 * gate/kube/protobuf.h - decoding the protobuf bodies kubectl 1.32 sends for
 * `kubectl create namespace|configmap|secret|deployment|service` into the
 * JSON the API server would see, which the gate judges and forwards.
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
 * with apiVersion and kind first; or -1 with a message in err naming the
 * message type and field number at fault, *out untouched. */
int gate_protobuf_decode(const unsigned char *buf, size_t len, json_t **out, char *err, size_t errlen);

#endif
