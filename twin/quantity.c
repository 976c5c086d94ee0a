/*
 * quantity.c - resource.Quantity and IntOrString percentages.
 *
 * The scanner follows apimachinery's parseQuantityString: sign, digits,
 * optional '.' and digits, then a suffix that must be exactly one of the known
 * ones. The decimal value is handed to strtod as one string ("250e-3") so the
 * result is correctly rounded; binary suffixes scale by an exact power of two.
 */
#include "quantity.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest quantity string accepted; real ones are a dozen characters. */
enum { QUANTITY_MAX_LEN = 256 };

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Interprets a suffix. Decimal ones set *exp10 (power of ten), binary ones
 * *exp2 (power of two); returns -1 for an unknown suffix.
 */
static int quantity_suffix(const char *suf, long *exp10, int *exp2)
{
    static const struct {
        const char *s;
        int exp10, exp2;
    } table[] = {
        {"", 0, 0},     {"n", -9, 0},   {"u", -6, 0},   {"m", -3, 0},   {"k", 3, 0},
        {"M", 6, 0},    {"G", 9, 0},    {"T", 12, 0},   {"P", 15, 0},   {"E", 18, 0},
        {"Ki", 0, 10},  {"Mi", 0, 20},  {"Gi", 0, 30},  {"Ti", 0, 40},  {"Pi", 0, 50},
        {"Ei", 0, 60},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!strcmp(suf, table[i].s)) {
            *exp10 = table[i].exp10;
            *exp2 = table[i].exp2;
            return 0;
        }
    }
    /* "e3", "E-2", "e+6": Go's strconv.ParseInt(suffix[1:], 10, 64). */
    if ((suf[0] == 'e' || suf[0] == 'E') && suf[1]) {
        const char *p = suf + 1;
        if (*p == '+' || *p == '-')
            p++;
        if (!*p)
            return -1;
        for (const char *q = p; *q; q++)
            if (!is_digit(*q))
                return -1;
        errno = 0;
        long e = strtol(suf + 1, NULL, 10);
        if (errno == ERANGE)
            e = e > 0 ? 100000 : -100000;   /* strtod turns these into inf or 0 */
        if (e > 100000)
            e = 100000;
        if (e < -100000)
            e = -100000;
        *exp10 = e;
        *exp2 = 0;
        return 0;
    }
    return -1;
}

int twin_quantity_parse_str(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    size_t len = strlen(s);
    if (len > QUANTITY_MAX_LEN)
        return -1;

    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    const char *num = p;
    while (is_digit(*p))
        p++;
    size_t nnum = (size_t)(p - num);
    const char *den = p;
    size_t nden = 0;
    if (*p == '.') {
        den = ++p;
        while (is_digit(*p))
            p++;
        nden = (size_t)(p - den);
    }

    long exp10;
    int exp2;
    if (quantity_suffix(p, &exp10, &exp2) < 0)
        return -1;

    /* Kubernetes reads an empty numerator as 0 ("-", ".", "Mi" are zero). */
    long e10 = exp10 - (long)nden;
    if (nnum + nden <= 15 && e10 >= -22 && e10 <= 22) {
        /* the common case ("250m", "512Mi", "1.5"), without a round trip
         * through text: the digits make an integer below 10^15 and 10^|e10|
         * is a double exactly, so one multiplication or division rounds
         * the exact value once, to the double strtod would return */
        static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        double m = 0;
        for (size_t i = 0; i < nnum; i++)
            m = m * 10 + (num[i] - '0');
        for (size_t i = 0; i < nden; i++)
            m = m * 10 + (den[i] - '0');
        double v = e10 >= 0 ? m * pow10[e10] : m / pow10[-e10];
        if (neg)
            v = -v;
        if (exp2)
            v = ldexp(v, exp2);
        if (!isfinite(v))
            return -1;
        *out = v == 0 ? 0.0 : v;   /* no negative zero */
        return 0;
    }
    char text[QUANTITY_MAX_LEN + 32];
    snprintf(text, sizeof text, "%s%.*s%s.%.*s0e%ld", neg ? "-" : "", (int)nnum, num,
             nnum ? "" : "0", (int)nden, den, exp10);
    char *end;
    double v = strtod(text, &end);
    if (exp2)
        v = ldexp(v, exp2);
    if (!isfinite(v))
        return -1;
    *out = v == 0 ? 0.0 : v;   /* no negative zero */
    return 0;
}

int twin_quantity_parse(const json_t *q, double *out)
{
    if (json_is_string(q))
        return twin_quantity_parse_str(json_string_value(q), out);
    if (json_is_integer(q)) {
        *out = (double)json_integer_value(q);
        return 0;
    }
    if (json_is_real(q)) {
        *out = json_real_value(q);
        return 0;
    }
    return -1;
}

/* Go's strconv.Atoi: optional sign, decimal digits, nothing else. */
static int parse_atoi(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    long long v = 0;
    for (; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        if (v > (LLONG_MAX - (s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

int twin_intstr_scaled(const json_t *v, int total, int round_up, int *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < INT32_MIN || i > INT32_MAX)
            return -1;
        *out = (int)i;
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    long long pct;
    if (n == 0 || s[n - 1] != '%' || parse_atoi(s, n - 1, &pct) < 0)
        return -1;
    double scaled = (double)pct * (double)total / 100.0;
    scaled = round_up ? ceil(scaled) : floor(scaled);
    if (!(scaled >= INT_MIN && scaled <= INT_MAX))
        return -1;
    *out = (int)scaled;
    return 0;
}
