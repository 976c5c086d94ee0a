/*
 * gate/cmd/report.h - reports of decisions for people (text) and machines (JSON,
 * JUnit XML), shared by `gate check` and the scenario runner.
 */
#ifndef GATE_REPORT_H
#define GATE_REPORT_H

#include <stdio.h>

#include "gate/engine/engine.h"

/* One decision as JSON (new reference): index, method, path, verdict, code,
 * message, results, impact, diff, micros. */
json_t *gate_report_decision_json(const gate_decision *d, size_t index);
/* Human text for one decision: verdict, reasons, impact summary, compact diff
 * with cascades grouped under their cause. */
void gate_report_text(FILE *out, const gate_decision *d, size_t index);
/* A one-line impact summary into buf. */
void gate_report_impact_line(const json_t *impact, char *buf, size_t n);
/* What a decision was about, in one line: "METHOD PATH", or for an AWS
 * call "aws SERVICE OPERATION". */
void gate_report_title(const gate_decision *d, char *buf, size_t n);
/* XML text escaping to out. */
void gate_report_xml_escape(FILE *out, const char *s);

#endif
