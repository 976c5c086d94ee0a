/*
 * ui.c - the approvals page's bytes (gate/server/ui.h).  ui_page.inc is
 * gate/server/ui/index.html as a list of byte values, made by the Makefile with
 * od(1) and sed(1): `make` rebuilds it when the page changes.
 */
#include "gate/server/ui.h"

static const unsigned char page[] = {
#include "ui_page.inc"
};

const char *gate_ui_page(size_t *len)
{
    *len = sizeof page;
    return (const char *)page;
}
