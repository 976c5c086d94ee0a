/*
 * gate/kube/convert.h - autoscaling/v1 HorizontalPodAutoscalers, served
 * beside autoscaling/v2 as the API server does (kubectl autoscale creates
 * through v1).  The twin keeps v2; a v1 body is converted before the twin
 * simulates it (production still receives the v1 body, which it converts
 * itself), and what the twin answers at a v1 path is converted back.
 *
 * The conversion is the API server's for the fields v1 has
 * (pkg/apis/autoscaling/v1/conversion.go): targetCPUUtilizationPercentage
 * is the cpu Resource metric's averageUtilization, and
 * currentCPUUtilizationPercentage its current value.  Simplified: the
 * other metrics, the behavior and the conditions are dropped from a v1
 * answer instead of being carried in annotations.
 */
#ifndef GATE_CONVERT_H
#define GATE_CONVERT_H

#include <jansson.h>

/* 1 when group/version/kind is served by conversion (autoscaling/v1 HPA). */
int gate_convert_v1_hpa(const char *group, const char *version, const char *kind);
/* A v1 HPA as v2 (new reference; NULL when v1 is not an object). */
json_t *gate_hpa_to_v2(const json_t *v1);
/* A v2 HPA, or a JSON array of them, as v1 (new reference). */
json_t *gate_hpa_to_v1(const json_t *v2);
/* The same as a watch stream's renderer (gate_watch_opts.render). */
json_t *gate_hpa_render_v1(const char *kind, const json_t *obj);

#endif
