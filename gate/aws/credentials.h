/*
 * gate/aws/credentials.h - AWS key pairs: reading a profile of an AWS
 * shared credentials file (~/.aws/credentials: production's key, which the
 * gate signs forwarded calls with), writing one (the key pair the gate
 * gives an agent), and making new key pairs.
 *
 * The file is INI as botocore reads it (configparser): [profile] sections,
 * "key = value" or "key: value" lines, whitespace around the delimiter and
 * the value trimmed, option names case-insensitive, full-line comments
 * starting with '#' or ';', no inline comments (a '#' after a value is part
 * of it), indented lines after an option (nested settings) ignored.  As
 * configparser does, a section or an option given twice is an error.
 * Files are at most GATE_AWS_CREDENTIALS_MAX bytes.
 *
 * Error messages name the file and line and never hold a key id, a secret
 * or a session token, nor any line's text (a mistyped line may be one).
 */
#ifndef GATE_AWS_CREDENTIALS_H
#define GATE_AWS_CREDENTIALS_H

#include <stddef.h>

#define GATE_AWS_CREDENTIALS_MAX (1024 * 1024)

/* A key pair.  key_id is 16..128 letters and digits, secret 16..128
 * printable ASCII bytes without spaces; session_token is NULL or owned
 * (gate_aws_key_clear frees it and wipes the secret). */
typedef struct gate_aws_key {
    char key_id[129];
    char secret[129];
    char *session_token;
} gate_aws_key;

/* Reads aws_access_key_id, aws_secret_access_key and (optional)
 * aws_session_token of [profile] from the file at path.  0 and *out set
 * (release with gate_aws_key_clear), or -1 with err ("path:line: what")
 * and *out untouched. */
int gate_aws_credentials_read(const char *path, const char *profile, gate_aws_key *out, char *err, size_t errlen);

/* Writes key_id and secret as [profile] of the file at path: the file's
 * other sections and lines are kept, the profile's earlier key id, secret
 * and session token are replaced; a new profile is appended.  The file is
 * written atomically (a temporary file in the same directory, fsync,
 * rename) with mode 0600; missing directories are created 0700.  0, or -1
 * with err (the file is then unchanged). */
int gate_aws_credentials_write(const char *path, const char *profile, const char *key_id, const char *secret,
                               char *err, size_t errlen);

/* A new key pair from the kernel's generator (getrandom): an access key id
 * "AKIA" and 16 upper-case base32 characters (A-Z 2-7), and a secret of 40
 * characters of A-Z a-z 0-9 + /, both NUL-terminated.  Aborts if the
 * kernel gives no randomness. */
void gate_aws_key_generate(char key_id[21], char secret[41]);

/* Frees key->session_token and wipes the struct; key may be NULL. */
void gate_aws_key_clear(gate_aws_key *key);

#endif
