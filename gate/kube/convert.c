/*
 * convert.c - autoscaling/v1 <-> v2 HorizontalPodAutoscalers (convert.h).
 */
#include <string.h>

#include "gate/kube/convert.h"

int gate_convert_v1_hpa(const char *group, const char *version, const char *kind)
{
    return group && version && kind && !strcmp(group, "autoscaling") && !strcmp(version, "v1") &&
           !strcmp(kind, "HorizontalPodAutoscaler");
}

/* The cpu Resource metric's Utilization, in a v2 metrics list (spec:
 * target, status: current), or NULL. */
static json_t *cpu_utilization(const json_t *metrics, const char *which)
{
    size_t i;
    json_t *m;
    json_array_foreach(metrics, i, m) {
        const json_t *r = json_object_get(m, "resource");
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *name = json_string_value(json_object_get(r, "name"));
        if (type && !strcmp(type, "Resource") && name && !strcmp(name, "cpu"))
            return json_object_get(json_object_get(r, which), "averageUtilization");
    }
    return NULL;
}

json_t *gate_hpa_to_v2(const json_t *v1)
{
    if (!json_is_object(v1))
        return NULL;
    json_t *v2 = json_deep_copy(v1);
    json_object_set_new(v2, "apiVersion", json_string("autoscaling/v2"));
    json_t *spec = json_object_get(v2, "spec");
    json_t *target = json_object_get(spec, "targetCPUUtilizationPercentage");
    if (json_is_object(spec) && target) {
        json_object_set_new(spec, "metrics",
                            json_pack("[{s:s, s:{s:s, s:{s:s, s:O}}}]", "type", "Resource", "resource", "name", "cpu",
                                      "target", "type", "Utilization", "averageUtilization", target));
        json_object_del(spec, "targetCPUUtilizationPercentage");
    }
    json_t *status = json_object_get(v2, "status");
    json_t *current = json_object_get(status, "currentCPUUtilizationPercentage");
    if (json_is_object(status) && current) {
        json_object_set_new(status, "currentMetrics",
                            json_pack("[{s:s, s:{s:s, s:{s:O}}}]", "type", "Resource", "resource", "name", "cpu",
                                      "current", "averageUtilization", current));
        json_object_del(status, "currentCPUUtilizationPercentage");
    }
    return v2;
}

static json_t *one_to_v1(const json_t *v2)
{
    const char *kind = json_string_value(json_object_get(v2, "kind"));
    if (!json_is_object(v2) || (kind && strcmp(kind, "HorizontalPodAutoscaler")))   /* a Status passes */
        return json_incref((json_t *)v2);
    json_t *v1 = json_pack("{s:s, s:s, s:O*}", "apiVersion", "autoscaling/v1", "kind", "HorizontalPodAutoscaler",
                           "metadata", json_object_get(v2, "metadata"));
    const json_t *spec = json_object_get(v2, "spec"), *status = json_object_get(v2, "status");
    if (json_is_object(spec)) {
        json_t *s = json_pack("{s:O*, s:O*, s:O*}", "scaleTargetRef", json_object_get(spec, "scaleTargetRef"),
                              "minReplicas", json_object_get(spec, "minReplicas"), "maxReplicas",
                              json_object_get(spec, "maxReplicas"));
        json_t *cpu = cpu_utilization(json_object_get(spec, "metrics"), "target");
        if (cpu)
            json_object_set(s, "targetCPUUtilizationPercentage", cpu);
        json_object_set_new(v1, "spec", s);
    }
    if (json_is_object(status)) {
        json_t *s = json_pack("{s:O*, s:O*, s:O*, s:O*}", "observedGeneration",
                              json_object_get(status, "observedGeneration"), "lastScaleTime",
                              json_object_get(status, "lastScaleTime"), "currentReplicas",
                              json_object_get(status, "currentReplicas"), "desiredReplicas",
                              json_object_get(status, "desiredReplicas"));
        json_t *cpu = cpu_utilization(json_object_get(status, "currentMetrics"), "current");
        if (cpu)
            json_object_set(s, "currentCPUUtilizationPercentage", cpu);
        json_object_set_new(v1, "status", s);
    }
    return v1;
}

json_t *gate_hpa_to_v1(const json_t *v2)
{
    if (!json_is_array(v2))
        return one_to_v1(v2);
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(v2, i, o) json_array_append_new(out, one_to_v1(o));
    return out;
}

json_t *gate_hpa_render_v1(const char *kind, const json_t *obj)
{
    (void)kind;
    return one_to_v1(obj);
}
