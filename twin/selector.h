/*
 * selector.h - Kubernetes label selectors and field selectors, parsed once
 * and matched against many objects.
 *
 * A label selector is a conjunction of requirements on an object's
 * metadata.labels, with apimachinery's semantics (labels.Requirement.Matches):
 *   a=b, a==b, a in (x,y)   the label exists and its value is in the set
 *   a!=b, a notin (x)       the label is absent, or its value is not in the set
 *   a / !a                  the label exists / does not exist
 * Requirements are kept sorted by key, as apimachinery does, so the canonical
 * string is stable. Besides "everything" (no requirements) a selector can be
 * "nothing", which matches no object at all: that is what a nil LabelSelector
 * and a Service without spec.selector mean, and the twin must not confuse the
 * two (an empty selector on a Service would otherwise capture every pod).
 * Not supported: the set-based operators "<" and ">" (Gt/Lt), which only node
 * affinity uses; they are parse errors here.
 *
 * Limits: a selector string or a label key/value is as long as Kubernetes lets
 * it be (keys: 253-char prefix + '/' + 63-char name; values 63 chars); the
 * parser needs no other cap. A NULL selector is treated as "nothing" by every
 * query below, so a forgotten selector fails closed.
 *
 * Ownership: twin_selector and twin_fieldsel are opaque, created by a parse
 * function and released by the matching *_free (NULL is a no-op). Every json_t
 * argument is borrowed and never kept; a selector copies what it needs.
 * Out-parameters are written only on success.
 */
#ifndef TWIN_SELECTOR_H
#define TWIN_SELECTOR_H

#include <jansson.h>
#include <stddef.h>

typedef struct twin_selector twin_selector;

/*
 * kubectl / apimachinery string syntax: "a=b", "a==b", "a!=b", "a in (x,y)",
 * "a notin (x)", "a" (exists), "!a" (does not exist); a comma means AND;
 * whitespace is tolerated around tokens. The empty string (or only spaces)
 * matches everything. Keys must be qualified names ([prefix/]name), values
 * valid label values. On error returns -1 and a message naming the bad token
 * and its column, e.g. `label selector "a in x": found 'x' at column 6,
 * expected '('`.
 */
int twin_selector_parse(twin_selector **out, const char *s, char *err, size_t errlen);

/*
 * metav1.LabelSelector JSON: {matchLabels: {k: v}, matchExpressions: [{key,
 * operator: In|NotIn|Exists|DoesNotExist, values: [..]}]}, as
 * LabelSelectorAsSelector reads it. NULL or JSON null yields a selector that
 * matches NOTHING; {} (or both fields empty) matches everything. An unknown
 * operator, In/NotIn without values, Exists/DoesNotExist with values, a bad
 * key or value, or a field of the wrong JSON type is an error naming the field
 * ("matchExpressions[1].operator: ..."). Unknown fields are ignored.
 */
int twin_selector_from_json(twin_selector **out, const json_t *label_selector, char *err,
                            size_t errlen);

/*
 * A plain map selector (Service spec.selector, a ReplicationController's
 * selector): every key=value must match. NULL, JSON null or an empty map
 * yields a selector that matches NOTHING: a Service without a selector selects
 * no pods (its Endpoints are managed by hand). Keys and values are not
 * validated (the API server did that when the object was admitted); returns -1
 * only when map is not an object or a value is not a string.
 */
int twin_selector_from_map(twin_selector **out, const json_t *map);

/*
 * 1 if labels satisfy every requirement, else 0. labels is a JSON object of
 * string values, or NULL / not an object for an object without labels. A
 * label whose value is not a string exists but equals no value.
 */
int twin_selector_matches(const twin_selector *sel, const json_t *labels);
int twin_selector_matches_nothing(const twin_selector *sel);
int twin_selector_matches_everything(const twin_selector *sel);

/*
 * The first requirement usable for an index lookup: `key=value`, `key==value`
 * or `key in (value)` with a single value. Returns 1 and pointers borrowed
 * from sel (valid until twin_selector_free), or 0 when there is none. The
 * caller must still run twin_selector_matches on what the index returns.
 */
int twin_selector_equality(const twin_selector *sel, const char **key, const char **value);

/*
 * Canonical string form, for messages and kubectl's Selector column:
 * requirements sorted by key, "a=b,c in (x,y),!d" ('==' is printed as '='; set
 * values sorted and deduplicated). "" for a selector matching everything and
 * "<nothing>" for one matching nothing (not parseable, so it cannot be fed
 * back as a selector by mistake). Returns a new malloc'd string; caller frees.
 */
char *twin_selector_string(const twin_selector *sel);
void twin_selector_free(twin_selector *sel);

/*
 * Field selectors: "metadata.name=x,spec.nodeName!=y,status.phase=Running",
 * operators =, == and !=, comma means AND, as fields.ParseSelector reads
 * them: values may escape '\\', ',' and '=' with a backslash, and an
 * unescaped ',' or '=' inside a value is an error. The field is any dotted
 * path into the object: the API server restricts fields per kind, the twin
 * accepts any path and a missing field compares as "" (so "spec.nodeName="
 * selects unscheduled pods). Strings compare as is, numbers and booleans by
 * their JSON text ("true", "3"), null as "", and an object or array equals
 * nothing. Empty terms are skipped; the empty string matches everything.
 * Deliberate difference: whitespace around a term, a field or a value is
 * ignored (Kubernetes keeps it, and then rejects "metadata.name " as an
 * unknown field). Errors name the term. twin_fieldsel_matches(NULL, ..) is 0.
 */
typedef struct twin_fieldsel twin_fieldsel;
int twin_fieldsel_parse(twin_fieldsel **out, const char *s, char *err, size_t errlen);
/* Both selectors of a list or a watch (kubectl syntax; NULL or "" for
 * none: *fs stays NULL): 0, or -1 with err and nothing to free. */
int twin_selectors_parse(twin_selector **sel, twin_fieldsel **fs, const char *label_selector,
                         const char *field_selector, char *err, size_t errlen);
int twin_fieldsel_matches(const twin_fieldsel *fs, const json_t *obj);   /* 1 match, 0 not */
void twin_fieldsel_free(twin_fieldsel *fs);

#endif
