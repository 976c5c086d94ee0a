/*
 * gate/base/log.h - the gate's log: one line per event on stderr, "airlock: "
 * then the text.  Every control character in the text (a CR or LF decoded
 * from a request path, say) is written escaped (\n, \r, \t, \xNN), so what
 * an agent sends can never start a line of its own: a log line is always
 * one line the gate wrote.
 */
#ifndef GATE_LOG_H
#define GATE_LOG_H

#include <stddef.h>

/* Formats and writes one line; a trailing newline in fmt is not needed (one
 * is ignored). Thread-safe: lines from threads never interleave. */
void gate_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An error message into a caller's buffer (err may be NULL or errlen 0:
 * nothing is written). */
void gate_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Escapes s[0..n) as gate_log does into a new string (caller frees). */
char *gate_log_escape(const char *s, size_t n);

#endif
