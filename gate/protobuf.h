/*
 * gate/protobuf.h - decoding the protobuf bodies kubectl 1.32 sends for
 * `kubectl create namespace|configmap|secret|deployment|service` into JSON.
 */
#ifndef GATE_PROTOBUF_H
#define GATE_PROTOBUF_H

#include <jansson.h>
#include <stddef.h>

/* 0 and a new JSON object, or -1 with err (unsupported kind or malformed). */
int gate_protobuf_decode(const unsigned char *buf, size_t len, json_t **out, char *err, size_t errlen);

#endif
