/*
 * gate/server/ui.h - the approvals page, served by `gate serve` at /airlock/ui/.
 *
 * The page is one self-contained HTML file, gate/server/ui/index.html (inline CSS
 * and script, nothing fetched from elsewhere), compiled into the binary at
 * build time (the Makefile turns it into $(BUILD)/gen/ui_page.inc), so the
 * gate needs no files beside it to serve it.  It speaks only the approvals
 * API under /airlock/v1 with an approver's token (gate/server/api.c).
 */
#ifndef GATE_UI_H
#define GATE_UI_H

#include <stddef.h>

/* The bytes of index.html (static storage, not NUL-terminated; never
 * freed) and, in *len, how many. Served as text/html; charset=utf-8. */
const char *gate_ui_page(size_t *len);

#endif
