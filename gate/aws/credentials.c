/*
 * gate/aws/credentials.c - AWS shared credentials files (credentials.h):
 * one INI parser, as botocore's configparser reads the file, used to read
 * a profile and to rewrite one; key pairs from getrandom.
 */
#include "gate/aws/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gate/base/log.h"
#include "twin/util.h"


/* ---- the INI parser ---- */

enum { L_OTHER, L_SECTION, L_OPTION, L_CONT };

typedef struct ini_line {
    const char *text; /* the raw line, without its '\n' */
    size_t len;
    int kind;
    char *name;          /* L_SECTION: the section; L_OPTION: the option, lower-case (owned) */
    const char *value;   /* L_OPTION: the trimmed value */
    size_t vlen;
    const char *section; /* the section the line is in (borrowed from its header line), or NULL */
    const char *option;  /* L_CONT: the option it continues */
} ini_line;

typedef struct ini {
    ini_line *v;
    size_t n;
} ini;

static void ini_free(ini *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].name);
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *n)
{
    while (*n && blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && blank((*s)[*n - 1]))
        (*n)--;
}

/* Splits text[0..n) into lines and classifies them, as configparser
 * would: 0, or -1 with err "path:line: what". */
static int ini_parse(const char *path, const char *text, size_t n, ini *out, char *err, size_t errlen)
{
    ini f = {0};
    twin_map sections = {0}, options = {0};
    const char *section = NULL, *option = NULL;
    int rc = -1;
    size_t cap = 0;
    for (size_t i = 0, lineno = 1; i < n; lineno++) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (text + i)) : n - i;
        if (f.n == cap) {
            cap = cap ? 2 * cap : 32;
            f.v = twin_xrealloc(f.v, cap * sizeof *f.v);
        }
        ini_line *l = &f.v[f.n++];
        *l = (ini_line){.text = text + i, .len = len, .kind = L_OTHER, .section = section};
        i += len + 1;
        const char *s = l->text;
        size_t sl = len;
        int indented = sl && blank(s[0]);
        trim(&s, &sl);
        if (sl == 0 || s[0] == '#' || s[0] == ';')
            continue;
        if (memchr(s, '\0', sl)) {
            gate_errf(err, errlen, "%s:%zu: a NUL byte", path, lineno);
            goto cleanup;
        }
        if (indented && option) {
            l->kind = L_CONT;
            l->option = option;
            continue;
        }
        if (s[0] == '[') {
            if (s[sl - 1] != ']') {
                gate_errf(err, errlen, "%s:%zu: a section header without its ']'", path, lineno);
                goto cleanup;
            }
            if (sl == 2) {
                gate_errf(err, errlen, "%s:%zu: an empty section name", path, lineno);
                goto cleanup;
            }
            l->kind = L_SECTION;
            l->name = twin_xmalloc(sl - 1);
            memcpy(l->name, s + 1, sl - 2);
            l->name[sl - 2] = '\0';
            if (twin_map_has(&sections, l->name)) {
                gate_errf(err, errlen, "%s:%zu: section [%s] appears twice", path, lineno, l->name);
                goto cleanup;
            }
            twin_map_put(&sections, l->name, (void *)1);
            section = l->name;
            l->section = section;
            option = NULL;
            twin_map_clear(&options, NULL);
            continue;
        }
        size_t d = 0;
        while (d < sl && s[d] != '=' && s[d] != ':')
            d++;
        if (d == sl) {
            gate_errf(err, errlen, "%s:%zu: expected 'name = value', a [section] or a comment", path, lineno);
            goto cleanup;
        }
        const char *name = s, *value = s + d + 1;
        size_t nlen = d, vlen = sl - d - 1;
        trim(&name, &nlen);
        trim(&value, &vlen);
        if (nlen == 0) {
            gate_errf(err, errlen, "%s:%zu: a setting without a name", path, lineno);
            goto cleanup;
        }
        if (!section) {
            gate_errf(err, errlen, "%s:%zu: a setting before any [section]", path, lineno);
            goto cleanup;
        }
        l->kind = L_OPTION;
        l->name = twin_xmalloc(nlen + 1);
        for (size_t k = 0; k < nlen; k++)
            l->name[k] = (char)((name[k] >= 'A' && name[k] <= 'Z') ? name[k] - 'A' + 'a' : name[k]);
        l->name[nlen] = '\0';
        l->value = value;
        l->vlen = vlen;
        if (twin_map_has(&options, l->name)) {
            /* the name is one the file's author typed: not a secret (the
             * value never appears) */
            char q[64];
            size_t k = 0;
            for (; l->name[k] && k + 1 < sizeof q; k++)
                q[k] = (l->name[k] >= 0x20 && l->name[k] < 0x7f) ? l->name[k] : '?';
            q[k] = '\0';
            gate_errf(err, errlen, "%s:%zu: '%s' appears twice in [%s]", path, lineno, q, section);
            goto cleanup;
        }
        twin_map_put(&options, l->name, (void *)1);
        option = l->name;
    }
    *out = f;
    f = (ini){0};
    rc = 0;
cleanup:
    twin_map_clear(&sections, NULL);
    twin_map_clear(&options, NULL);
    ini_free(&f);
    return rc;
}

/* Reads the whole file at path (at most GATE_AWS_CREDENTIALS_MAX bytes):
 * a new buffer, or NULL with err.  *missing is set when it does not exist. */
static char *slurp(const char *path, size_t *n, int *missing, char *err, size_t errlen)
{
    *missing = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT;
        gate_errf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > GATE_AWS_CREDENTIALS_MAX) {
        gate_errf(err, errlen, "%s: not a regular file of at most %d bytes", path, GATE_AWS_CREDENTIALS_MAX);
        close(fd);
        return NULL;
    }
    char *buf = twin_xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            gate_errf(err, errlen, "%s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got == (size_t)st.st_size + 1) {
            gate_errf(err, errlen, "%s: the file grew while read", path);
            free(buf);
            close(fd);
            return NULL;
        }
    }
    close(fd);
    buf[got] = '\0';
    *n = got;
    return buf;
}

static int valid_key_id(const char *s, size_t n)
{
    if (n < 16 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static int valid_secret(const char *s, size_t n, size_t min, size_t max)
{
    if (n < min || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return 0;
    return 1;
}

static int valid_profile(const char *p)
{
    size_t n = p ? strlen(p) : 0;
    if (n == 0 || n > 128 || p[0] == ' ' || p[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7f || p[i] == ']' || p[i] == '[')
            return 0;
    return 1;
}

/* ---- reading ---- */

int gate_aws_credentials_read(const char *path, const char *profile, gate_aws_key *out, char *err, size_t errlen)
{
    static const char *const names[] = {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"};
    if (!path || !valid_profile(profile)) {
        gate_errf(err, errlen, "%s: the profile name must be 1 to 128 printable characters without brackets",
               path ? path : "(no path)");
        return -1;
    }
    size_t n;
    int missing;
    char *text = slurp(path, &n, &missing, err, errlen);
    if (!text)
        return -1;
    ini f = {0};
    int rc = -1, found = 0;
    gate_aws_key k = {0};
    const ini_line *got[3] = {0};
    size_t lineof[3] = {0};
    if (ini_parse(path, text, n, &f, err, errlen) < 0)
        goto cleanup;
    for (size_t i = 0; i < f.n; i++) {
        const ini_line *l = &f.v[i];
        if (l->kind == L_SECTION && !strcmp(l->name, profile))
            found = 1;
        if (!l->section || strcmp(l->section, profile))
            continue;
        for (int j = 0; j < 3; j++) {
            if (l->kind == L_OPTION && !strcmp(l->name, names[j])) {
                got[j] = l;
                lineof[j] = i + 1;
            }
            if (l->kind == L_CONT && !strcmp(l->option, names[j])) {
                gate_errf(err, errlen, "%s:%zu: an indented line continues %s (its value must be one line)", path,
                       i + 1, names[j]);
                goto cleanup;
            }
        }
    }
    if (!found) {
        gate_errf(err, errlen, "%s: no [%s] section", path, profile);
        goto cleanup;
    }
    for (int j = 0; j < 2; j++)
        if (!got[j] || got[j]->vlen == 0) {
            gate_errf(err, errlen, "%s: [%s] has no %s", path, profile, names[j]);
            goto cleanup;
        }
    if (!valid_key_id(got[0]->value, got[0]->vlen)) {
        gate_errf(err, errlen, "%s:%zu: aws_access_key_id must be 16 to 128 letters and digits", path, lineof[0]);
        goto cleanup;
    }
    if (!valid_secret(got[1]->value, got[1]->vlen, 16, 128)) {
        gate_errf(err, errlen, "%s:%zu: aws_secret_access_key must be 16 to 128 printable characters without spaces",
               path, lineof[1]);
        goto cleanup;
    }
    if (got[2] && got[2]->vlen && !valid_secret(got[2]->value, got[2]->vlen, 1, 64 * 1024)) {
        gate_errf(err, errlen, "%s:%zu: aws_session_token must be printable characters without spaces", path,
               lineof[2]);
        goto cleanup;
    }
    memcpy(k.key_id, got[0]->value, got[0]->vlen);
    memcpy(k.secret, got[1]->value, got[1]->vlen);
    if (got[2] && got[2]->vlen) {
        k.session_token = twin_xmalloc(got[2]->vlen + 1);
        memcpy(k.session_token, got[2]->value, got[2]->vlen);
        k.session_token[got[2]->vlen] = '\0';
    }
    *out = k;
    rc = 0;
cleanup:
    ini_free(&f);
    explicit_bzero(text, n);
    free(text);
    return rc;
}

/* ---- writing ---- */

/* mkdir -p of path's directory, each new component 0700. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char *dir = twin_xstrdup(path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (!slash || slash == dir) {
        free(dir);
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            gate_errf(err, errlen, "%s: cannot create the directory %s: %s", path, dir, strerror(errno));
            rc = -1;
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    free(dir);
    return rc;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int gate_aws_credentials_write(const char *path, const char *profile, const char *key_id, const char *secret,
                               char *err, size_t errlen)
{
    if (!path || !*path) {
        gate_errf(err, errlen, "no credentials file path");
        return -1;
    }
    if (!valid_profile(profile)) {
        gate_errf(err, errlen, "%s: the profile name must be 1 to 128 printable characters without brackets", path);
        return -1;
    }
    if (!key_id || !valid_key_id(key_id, strlen(key_id))) {
        gate_errf(err, errlen, "%s: the access key id must be 16 to 128 letters and digits", path);
        return -1;
    }
    if (!secret || !valid_secret(secret, strlen(secret), 16, 128)) {
        gate_errf(err, errlen, "%s: the secret must be 16 to 128 printable characters without spaces", path);
        return -1;
    }
    size_t n = 0;
    int missing = 0;
    char *text = slurp(path, &n, &missing, err, errlen);
    if (!text && !missing)
        return -1;
    ini f = {0};
    twin_buf b = {0};
    char *tmp = NULL;
    int fd = -1, rc = -1;
    if (text && ini_parse(path, text, n, &f, err, errlen) < 0) {
        size_t l = strlen(err ? err : "");
        if (err && l + 1 < errlen)
            snprintf(err + l, errlen - l, " (the file is left as it is)");
        goto cleanup;
    }
    int done = 0;
    for (size_t i = 0; i < f.n; i++) {
        const ini_line *l = &f.v[i];
        int ours = l->section && !strcmp(l->section, profile);
        if (ours && l->kind == L_OPTION &&
            (!strcmp(l->name, "aws_access_key_id") || !strcmp(l->name, "aws_secret_access_key") ||
             !strcmp(l->name, "aws_session_token")))
            continue;
        if (ours && l->kind == L_CONT &&
            (!strcmp(l->option, "aws_access_key_id") || !strcmp(l->option, "aws_secret_access_key") ||
             !strcmp(l->option, "aws_session_token")))
            continue;
        twin_buf_add(&b, l->text, l->len);
        twin_buf_add(&b, "\n", 1);
        if (l->kind == L_SECTION && ours) {
            twin_buf_addf(&b, "aws_access_key_id = %s\naws_secret_access_key = %s\n", key_id, secret);
            done = 1;
        }
    }
    if (!done) {
        if (b.len && b.s[b.len - 1] != '\n')
            twin_buf_add(&b, "\n", 1);
        twin_buf_addf(&b, "%s[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", b.len ? "\n" : "", profile,
                      key_id, secret);
    }
    if (make_parent(path, err, errlen) < 0)
        goto cleanup;
    tmp = twin_xasprintf("%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        gate_errf(err, errlen, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto cleanup;
    }
    if (fchmod(fd, 0600) < 0 || write_all(fd, b.s, b.len) < 0 || fsync(fd) < 0) {
        gate_errf(err, errlen, "%s: cannot write %s: %s", path, tmp, strerror(errno));
        goto cleanup;
    }
    if (close(fd) < 0) {
        fd = -1;
        gate_errf(err, errlen, "%s: cannot write %s: %s", path, tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        gate_errf(err, errlen, "%s: cannot replace it: %s", path, strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
    /* the rename itself made durable */
    char *dir = twin_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    ini_free(&f);
    if (b.s)
        explicit_bzero(b.s, b.len);
    twin_buf_free(&b);
    if (text) {
        explicit_bzero(text, n);
        free(text);
    }
    return rc;
}

/* ---- new keys ---- */

static void random_bytes(unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            abort(); /* no randomness: no keys, never weak ones */
        p += r;
        n -= (size_t)r;
    }
}

void gate_aws_key_generate(char key_id[21], char secret[41])
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char r[56];
    random_bytes(r, sizeof r);
    memcpy(key_id, "AKIA", 4);
    /* 256 is a multiple of 32 and of 64: masking keeps every character
     * equally likely */
    for (int i = 0; i < 16; i++)
        key_id[4 + i] = b32[r[i] & 31];
    key_id[20] = '\0';
    for (int i = 0; i < 40; i++)
        secret[i] = b64[r[16 + i] & 63];
    secret[40] = '\0';
    explicit_bzero(r, sizeof r);
}

void gate_aws_key_clear(gate_aws_key *key)
{
    if (!key)
        return;
    free(key->session_token);
    explicit_bzero(key, sizeof *key);
}
