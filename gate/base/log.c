/*
 * log.c - the gate's log lines, control characters escaped (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/base/log.h"
#include "twin/util.h"

char *gate_log_escape(const char *s, size_t n)
{
    twin_buf b = {0};
    twin_buf_add(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        size_t run = 0;   /* the printable bytes from here, copied at once */
        while (i + run < n && (unsigned char)s[i + run] >= 0x20 && (unsigned char)s[i + run] != 0x7f)
            run++;
        if (run) {
            twin_buf_add(&b, s + i, run);
            i += run - 1;
            continue;
        }
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n')
            twin_buf_add(&b, "\\n", 2);
        else if (ch == '\r')
            twin_buf_add(&b, "\\r", 2);
        else if (ch == '\t')
            twin_buf_add(&b, "\\t", 2);
        else
            twin_buf_addf(&b, "\\x%02x", ch);
    }
    return b.s ? b.s : twin_xstrdup("");
}

void gate_log(const char *fmt, ...)
{
    va_list ap;
    char small[512];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char *text = small;
    if ((size_t)n >= sizeof small) {
        text = twin_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    size_t len = (size_t)n;
    if (len && text[len - 1] == '\n')
        len--;
    char *esc = gate_log_escape(text, len);
    flockfile(stderr);
    fputs("airlock: ", stderr);
    fputs(esc, stderr);
    fputc('\n', stderr);
    funlockfile(stderr);
    free(esc);
    if (text != small)
        free(text);
}

void gate_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
