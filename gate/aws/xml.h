/*
 * gate/aws/xml.h - a small strict XML parser for what AWS speaks: S3
 * request bodies (PutBucketAcl's AccessControlPolicy, PutBucketTagging's
 * Tagging, ...) and production's answers to the query, EC2 and REST-XML
 * protocols.
 *
 * It reads one document into a tree of elements: names as written (with
 * any namespace prefix: "xsi:type"), attributes, and the character data of
 * each element (text and CDATA sections, concatenated, entities decoded).
 * Comments are skipped.  It refuses anything it could read more than one
 * way, or that an entity-expansion or external-entity attack needs: a
 * DOCTYPE, a processing instruction other than the XML declaration at the
 * very start, an entity other than the five predefined ones and numeric
 * character references (which must name an XML character), mismatched or
 * unclosed tags, an attribute given twice, text or a second element outside
 * the root, invalid UTF-8 or a NUL byte, more than GATE_AWS_XML_MAX_DEPTH
 * levels of nesting, more than GATE_AWS_XML_MAX_INPUT bytes.
 *
 * Namespaces are not resolved: a reader matches local names
 * (gate_aws_xml_local), as botocore's parsers do.  The parser keeps an
 * explicit stack (no recursion); the tree is at most 64 deep, so walkers of
 * it may recurse.
 */
#ifndef GATE_AWS_XML_H
#define GATE_AWS_XML_H

#include <stddef.h>

#define GATE_AWS_XML_MAX_DEPTH 64
#define GATE_AWS_XML_MAX_INPUT (3u * 1024 * 1024)

typedef struct gate_aws_xml_attr {
    char *name;    /* as written: "xmlns:xsi", "xsi:type" */
    char *value;   /* decoded */
} gate_aws_xml_attr;

typedef struct gate_aws_xml_node {
    char *name;                       /* as written, with any prefix */
    char *text;                       /* character data, decoded; "" when none */
    size_t text_len;                  /* no NUL inside: the input has none */
    gate_aws_xml_attr *attrs;
    size_t nattrs;
    struct gate_aws_xml_node **kids;  /* child elements in document order */
    size_t nkids;
} gate_aws_xml_node;

/* Parses s[0..len).  0 and *root a new tree (caller frees with
 * gate_aws_xml_free); or -1 with err saying what and at which byte offset,
 * *root untouched. */
int gate_aws_xml_parse(const char *s, size_t len, gate_aws_xml_node **root, char *err, size_t errlen);
/* The same with another size limit: production's answers (a describe of a
 * large account) may be larger than any request (GATE_AWS_XML_MAX_ANSWER). */
#define GATE_AWS_XML_MAX_ANSWER (64u * 1024 * 1024)
int gate_aws_xml_parse_max(const char *s, size_t len, size_t max, gate_aws_xml_node **root, char *err,
                           size_t errlen);

/* Frees a tree; NULL is a no-op. */
void gate_aws_xml_free(gate_aws_xml_node *n);

/* The local part of a name ("type" of "xsi:type"). Borrowed from name. */
const char *gate_aws_xml_local(const char *name);

/* The first child whose local name is `local`, or NULL. Borrowed. */
const gate_aws_xml_node *gate_aws_xml_child(const gate_aws_xml_node *n, const char *local);

/* The value of the attribute named exactly `name`, or NULL. Borrowed. */
const char *gate_aws_xml_attr_get(const gate_aws_xml_node *n, const char *name);

/* Whether the element's text is only XML whitespace (or empty). */
int gate_aws_xml_blank(const gate_aws_xml_node *n);

#endif
