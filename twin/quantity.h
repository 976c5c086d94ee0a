/*
 * quantity.h - Kubernetes resource quantities and IntOrString percentages as
 * plain numbers the twin can add and compare.
 *
 * A resource.Quantity ("250m", "512Mi", "1e3") becomes a double in base units:
 * cores for cpu ("250m" -> 0.25), bytes for memory ("1Gi" -> 1073741824). The
 * grammar is apimachinery's ParseQuantity, quirks included ("1." and ".5" are
 * numbers, a lone "+", "-" or "." is zero). Limits: Kubernetes keeps an exact
 * decimal and rounds sub-nano fractions up to 1n; the twin keeps a double,
 * exact for integers up to 2^53 (8 PiB in bytes) and close enough for sums
 * and comparisons beyond. A value that overflows a double is an error.
 *
 * No allocation and no ownership transfer: every json_t argument is borrowed
 * and never kept. Out-parameters are written only on success.
 */
#ifndef TWIN_QUANTITY_H
#define TWIN_QUANTITY_H

#include <jansson.h>

/*
 * Parses a Quantity given as a JSON string or a JSON number (an integer or a
 * real, taken as is). Returns 0 and *out in base units, or -1 if q is NULL,
 * of another JSON type, or a malformed string.
 * Suffixes: binary Ki Mi Gi Ti Pi Ei; decimal n u m "" k M G T P E;
 * exponent e<int> / E<int> ("1e3", "5E-2"; a bare "E" is exa).
 */
int twin_quantity_parse(const json_t *q, double *out);
int twin_quantity_parse_str(const char *s, double *out);

/*
 * apimachinery's intstr.GetScaledValueFromIntOrPercent, for a Deployment's
 * maxSurge / maxUnavailable. v is a JSON integer (returned unscaled; it must
 * fit an int32, as IntOrString's IntVal does) or a string "<int>%" (the '%'
 * is required, "25" is an error); a percentage is scaled by total and rounded
 * up (ceil) when round_up is non-zero, down (floor) otherwise: 25% of 10 is 3
 * rounded up, 2 rounded down. Negative values pass through as Kubernetes
 * lets them (its validation rejects them elsewhere). Returns 0 and *out, or -1
 * for NULL, another JSON type, a malformed string or a result beyond int.
 */
int twin_intstr_scaled(const json_t *v, int total, int round_up, int *out);

#endif
