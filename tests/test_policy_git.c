/*
 * tests/test_policy_git.c - unit tests for gate/policy's sources and subsets:
 * policy sets read from a git commit (git:REPO[@REF][:DIR]) through libgit2,
 * set versions (the commit, or a directory's sha256), the errors a git
 * source gives (naming repo, ref, path, file and line), ctx.policies (the
 * subset of policies that judge an action) and gate_policy_has. Run from the
 * repository root (lua-policies/ is loaded as a directory spec).
 *
 * The repositories are built here with libgit2 in a temporary directory,
 * never checked out: a non-bare one whose work tree stays empty, with
 *   C1 (annotated tag v1)  root.lua; policies/{config,cost,privilege}.lua and
 *                          policies/lib/util.lua (cost reviews above 5);
 *                          errs/boom.lua (fails at evaluate); links/evil.lua
 *                          (a symbolic link); big/huge.lua (over 1 MiB)
 *   C2                     policies/cost.lua denies above 5 instead;
 *                          subm/sub.lua (a submodule)
 *   C3 (main, HEAD)        policies/cost.lua broken at line 3
 * and a bare one holding C1's files on its only branch.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <git2.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <lua.h>

#include "gate/cmd/cli.h"
#include "gate/engine/policy.h"

/* ---- fixture files ---------------------------------------------------- */

#define CONFIG_LUA "return { cost = { limit = 5 } }\n"
#define UTIL_LUA "return { over = function(x, lim) return x > lim end }\n"
#define COST_LUA(VERDICT)                                                              \
    "return { name = \"cost\", description = \"cost above the limit\",\n"              \
    "  evaluate = function(ctx)\n"                                                     \
    "    local d = ctx.impact.cost_delta or 0\n"                                       \
    "    if lib.util.over(d, ctx.config.cost.limit) then\n"                           \
    "      return " VERDICT "(\"adds %s/month\", d) end\n"                             \
    "    return allow() end }\n"
#define COST_BROKEN_LUA                                                                \
    "return { name = \"cost\",\n"                                                      \
    "  evaluate = function(ctx)\n"                                                     \
    "    return allow( end }\n"
#define PRIVILEGE_LUA                                                                  \
    "return { name = \"privilege\", evaluate = function(ctx) return allow() end }\n"
#define ROOT_LUA "return { name = \"root\", evaluate = function(ctx) return allow() end }\n"
#define A_LUA "return { name = \"a\", evaluate = function(ctx) return allow() end }\n"
#define BOOM_LUA                                                                       \
    "return { name = \"boom\", evaluate = function(ctx)\n"                             \
    "  error(\"boom\") end }\n"

typedef struct tfile {
    const char *path;
    const char *text;   /* NULL: a blob of HUGE_SIZE bytes */
    git_filemode_t mode;   /* 0: a regular blob */
} tfile;

#define HUGE_SIZE (((size_t)1 << 20) + 1)

static const tfile c1_files[] = {
    { "README.md", "policies live in policies/\n", 0 },
    { "root.lua", ROOT_LUA, 0 },
    { "policies/config.lua", CONFIG_LUA, 0 },
    { "policies/lib/util.lua", UTIL_LUA, 0 },
    { "policies/cost.lua", COST_LUA("review"), 0 },
    { "policies/privilege.lua", PRIVILEGE_LUA, 0 },
    { "policies/notes.txt", "not a policy\n", 0 },
    { "errs/boom.lua", BOOM_LUA, 0 },
    { "links/evil.lua", "../policies/cost.lua", GIT_FILEMODE_LINK },
    { "big/huge.lua", NULL, 0 },
    { NULL, NULL, 0 },
};

/* ---- the fixture repositories ----------------------------------------- */

static char tmp[64];          /* the temporary directory */
static char repo_path[128];   /* non-bare: C1, C2, C3 */
static char bare_path[128];   /* bare: C1's files */
static char c1[GIT_OID_HEXSZ + 1], c2[GIT_OID_HEXSZ + 1], c3[GIT_OID_HEXSZ + 1];
static gate_policy_set *defaults;   /* lua-policies/ */

static void check_git(int rc, const char *what)
{
    if (rc < 0) {
        const git_error *e = git_error_last();
        fail_msg("%s: %s", what, e ? e->message : "?");
    }
}

/* Writes a commit of files (a whole tree) on top of parent (NULL: none),
 * moving HEAD's branch to it; submodule, if given, is added as a gitlink
 * subm/sub.lua. */
static void commit_files(git_repository *repo, const tfile *files, const tfile *changes,
                         const git_oid *parent, const git_oid *submodule, git_oid *out)
{
    git_index *index;
    git_oid tree_id;
    git_tree *tree;
    git_commit *pc = NULL;
    git_signature *sig;
    char *huge = NULL;

    check_git(git_index_new(&index), "git_index_new");
    for (int pass = 0; pass < 2; pass++) {
        const tfile *f = pass == 0 ? files : changes;
        for (; f != NULL && f->path != NULL; f++) {
            git_index_entry e;
            size_t len;
            const char *text = f->text;
            if (text == NULL) {
                huge = realloc(huge, HUGE_SIZE);
                memset(huge, '-', HUGE_SIZE);
                text = huge;
                len = HUGE_SIZE;
            } else {
                len = strlen(text);
            }
            memset(&e, 0, sizeof e);
            e.path = f->path;
            e.mode = f->mode ? f->mode : GIT_FILEMODE_BLOB;
            check_git(git_blob_create_from_buffer(&e.id, repo, text, len), "blob");
            check_git(git_index_add(index, &e), f->path);
        }
    }
    free(huge);
    if (submodule != NULL) {
        git_index_entry e;
        memset(&e, 0, sizeof e);
        e.path = "subm/sub.lua";
        e.mode = GIT_FILEMODE_COMMIT;
        e.id = *submodule;
        check_git(git_index_add(index, &e), "submodule");
    }
    check_git(git_index_write_tree_to(&tree_id, index, repo), "write tree");
    check_git(git_tree_lookup(&tree, repo, &tree_id), "tree");
    check_git(git_signature_new(&sig, "Test", "test@example.com", 1700000000, 0), "sig");
    if (parent != NULL)
        check_git(git_commit_lookup(&pc, repo, parent), "parent");
    check_git(git_commit_create(out, repo, "HEAD", sig, sig, NULL, "policies", tree, pc ? 1 : 0,
                                (const git_commit **)&pc),
              "commit");
    git_commit_free(pc);
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(index);
}

static int group_setup(void **state)
{
    static const tfile c2_changes[] = { { "policies/cost.lua", COST_LUA("deny"), 0 },
                                        { NULL, NULL, 0 } };
    static const tfile c3_changes[] = { { "policies/cost.lua", COST_BROKEN_LUA, 0 },
                                        { NULL, NULL, 0 } };
    git_repository *repo;
    git_object *target;
    git_signature *sig;
    git_oid id1, id2, id3, tag, bare1;
    char err[512] = "";

    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/airlock-pgit-XXXXXX");
    if (mkdtemp(tmp) == NULL)
        return -1;
    snprintf(repo_path, sizeof repo_path, "%s/repo", tmp);
    snprintf(bare_path, sizeof bare_path, "%s/bare.git", tmp);

    git_libgit2_init();
    check_git(git_repository_init(&repo, repo_path, 0), "init");
    check_git(git_repository_set_head(repo, "refs/heads/main"), "HEAD -> main");
    commit_files(repo, c1_files, NULL, NULL, NULL, &id1);
    check_git(git_object_lookup(&target, repo, &id1, GIT_OBJECT_COMMIT), "lookup c1");
    check_git(git_signature_new(&sig, "Test", "test@example.com", 1700000000, 0), "sig");
    check_git(git_tag_create(&tag, repo, "v1", target, sig, "first policies", 0), "tag");
    commit_files(repo, c1_files, c2_changes, &id1, &id1, &id2);
    commit_files(repo, c1_files, c3_changes, &id2, &id1, &id3);
    git_oid_tostr(c1, sizeof c1, &id1);
    git_oid_tostr(c2, sizeof c2, &id2);
    git_oid_tostr(c3, sizeof c3, &id3);
    git_signature_free(sig);
    git_object_free(target);
    git_repository_free(repo);

    check_git(git_repository_init(&repo, bare_path, 1), "init bare");
    commit_files(repo, c1_files, NULL, NULL, NULL, &bare1);
    git_repository_free(repo);
    git_libgit2_shutdown();

    if (gate_policy_load_spec(&defaults, "lua-policies", err, sizeof err) != 0) {
        fprintf(stderr, "lua-policies: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    char cmd[160];

    (void)state;
    gate_policy_free(defaults);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---------------------------------------------------------- */

static gate_policy_set *load_spec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static gate_policy_set *load_spec(const char *fmt, ...)
{
    gate_policy_set *set = NULL;
    char spec[512], err[1024] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(spec, sizeof spec, fmt, ap);
    va_end(ap);
    if (gate_policy_load_spec(&set, spec, err, sizeof err) != 0)
        fail_msg("loading %s: %s", spec, err);
    assert_string_equal(gate_policy_source(set), spec);
    return set;
}

/* Loading spec fails, leaves *out alone, and err is exactly want (or
 * starts with it, when prefix). */
static void load_fails(int prefix, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void load_fails(int prefix, const char *want, const char *fmt, ...)
{
    static char sentinel;
    gate_policy_set *set = (gate_policy_set *)&sentinel;
    char spec[512], err[1024] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(spec, sizeof spec, fmt, ap);
    va_end(ap);
    assert_int_equal(gate_policy_load_spec(&set, spec, err, sizeof err), -1);
    assert_ptr_equal(set, (gate_policy_set *)&sentinel);
    if (prefix ? strncmp(err, want, strlen(want)) != 0 : strcmp(err, want) != 0)
        fail_msg("%s: expected \"%s\"%s, got \"%s\"", spec, want, prefix ? "..." : "", err);
}

static void check_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, hay);
}

/* Judges an update adding cost_delta a month; ctx.policies is policies
 * (JSON text, NULL: absent). */
static json_t *judge(gate_policy_set *set, double cost_delta, const char *policies)
{
    json_t *ctx = json_pack("{s:{s:s, s:s}, s:{s:f}, s:{s:s}}", "action", "verb", "update",
                            "resource", "deployments", "impact", "cost_delta", cost_delta,
                            "agent", "name", "ops-bot");
    json_t *verdict = NULL;
    char err[512] = "";

    if (policies != NULL)
        json_object_set_new(ctx, "policies", json_loads(policies, JSON_DECODE_ANY, NULL));
    if (gate_policy_eval(set, ctx, NULL, &verdict, err, sizeof err) != 0)
        fail_msg("gate_policy_eval: %s", err);
    json_decref(ctx);
    return verdict;
}

static const char *verdict_of(const json_t *v)
{
    return json_string_value(json_object_get(v, "verdict"));
}

/* The policies with results, comma-separated. */
static void results_are(const json_t *v, const char *want)
{
    char got[256] = "";
    size_t i;
    json_t *r;

    json_array_foreach(json_object_get(v, "results"), i, r) {
        if (i > 0)
            strcat(got, ",");
        strcat(got, json_string_value(json_object_get(r, "policy")));
    }
    assert_string_equal(got, want);
}

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- loading from git ------------------------------------------------- */

static void loads_a_tag_a_commit_and_a_dir(void **state)
{
    (void)state;
    char want[64];
    json_t *v;

    /* the annotated tag peels to C1: cost reviews, with config and lib */
    gate_policy_set *set = load_spec("git:%s@v1:policies", repo_path);
    snprintf(want, sizeof want, "git:%s", c1);
    assert_string_equal(gate_policy_version(set), want);
    assert_int_equal(gate_policy_count(set), 2);
    v = judge(set, 10, NULL);
    assert_string_equal(verdict_of(v), "review");
    results_are(v, "cost,privilege");
    check_contains(json_string_value(json_object_get(v, "message")), "cost: adds 10.0/month");
    json_decref(v);
    v = judge(set, 1, NULL);
    assert_string_equal(verdict_of(v), "allow");
    json_decref(v);
    gate_policy_free(set);

    /* C2 by its full id: cost denies */
    set = load_spec("git:%s@%s:policies", repo_path, c2);
    snprintf(want, sizeof want, "git:%s", c2);
    assert_string_equal(gate_policy_version(set), want);
    v = judge(set, 10, NULL);
    assert_string_equal(verdict_of(v), "deny");
    json_decref(v);
    gate_policy_free(set);

    /* an abbreviated id and rev-parse syntax; slashes around DIR */
    set = load_spec("git:%s@%.10s:/policies/", repo_path, c2);
    assert_string_equal(gate_policy_version(set) + 4, c2);
    gate_policy_free(set);
    set = load_spec("git:%s@main~1:policies", repo_path);
    assert_string_equal(gate_policy_version(set) + 4, c2);
    gate_policy_free(set);

    /* the root of the tree (no DIR): root.lua only; policies/ is a
     * directory, not a policy, and README.md is not Lua */
    set = load_spec("git:%s@v1", repo_path);
    assert_int_equal(gate_policy_count(set), 1);
    assert_true(gate_policy_has(set, "root"));
    gate_policy_free(set);
    set = load_spec("git:%s@v1:", repo_path);
    assert_int_equal(gate_policy_count(set), 1);
    gate_policy_free(set);
}

static void loads_from_a_bare_repository(void **state)
{
    (void)state;
    gate_policy_set *set = load_spec("git:%s:policies", bare_path);
    json_t *v = judge(set, 10, NULL);

    assert_int_equal(strncmp(gate_policy_version(set), "git:", 4), 0);
    assert_int_equal(strlen(gate_policy_version(set)), 4 + GIT_OID_HEXSZ);
    assert_string_equal(verdict_of(v), "review");
    json_decref(v);
    gate_policy_free(set);
}

static void broken_policy_names_file_and_line(void **state)
{
    (void)state;
    char want[256];

    /* HEAD is C3, whose cost.lua is broken at line 3 */
    snprintf(want, sizeof want, "git:%s@HEAD:policies: cost.lua:3: unexpected symbol near 'end'",
             repo_path);
    load_fails(0, want, "git:%s:policies", repo_path);
    snprintf(want, sizeof want, "git:%s@main:policies: cost.lua:3:", repo_path);
    load_fails(1, want, "git:%s@main:policies", repo_path);
    snprintf(want, sizeof want, "git:%s@%s:policies: cost.lua:3:", repo_path, c3);
    load_fails(1, want, "git:%s@%s:policies", repo_path, c3);
}

/* At run time the chunk name says which commit a policy came from. */
static void runtime_errors_name_the_commit(void **state)
{
    (void)state;
    gate_policy_set *set = load_spec("git:%s@v1:errs", repo_path);
    json_t *v = judge(set, 0, NULL);
    const json_t *r = json_array_get(json_object_get(v, "results"), 0);
    char want[256];

    snprintf(want, sizeof want, "git:%s@%.7s:errs/boom.lua:2: boom", repo_path, c1);
    assert_true(strlen(want) - strlen(": boom") < LUA_IDSIZE);   /* Lua shows it whole */
    assert_string_equal(verdict_of(v), "deny");
    check_contains(json_string_value(json_object_get(r, "reason")), want);
    json_decref(v);
    gate_policy_free(set);
}

static void git_errors_name_repo_ref_and_path(void **state)
{
    (void)state;
    char want[512];

    snprintf(want, sizeof want, "git:%s@nope:policies: no such ref \"nope\"", repo_path);
    load_fails(0, want, "git:%s@nope:policies", repo_path);
    snprintf(want, sizeof want, "git:%s@v1:nodir: no such directory \"nodir\" in commit %.7s",
             repo_path, c1);
    load_fails(0, want, "git:%s@v1:nodir", repo_path);
    snprintf(want, sizeof want, "git:%s@v1:README.md: \"README.md\" in commit %.7s is not a "
             "directory", repo_path, c1);
    load_fails(0, want, "git:%s@v1:README.md", repo_path);
    snprintf(want, sizeof want, "git:%s@v1:links: evil.lua: a symbolic link; only regular files "
             "are loaded from git", repo_path);
    load_fails(0, want, "git:%s@v1:links", repo_path);
    snprintf(want, sizeof want, "git:%s@%s:subm: sub.lua: a submodule; only regular files are "
             "loaded from git", repo_path, c2);
    load_fails(0, want, "git:%s@%s:subm", repo_path, c2);
    snprintf(want, sizeof want, "git:%s@v1:big: huge.lua: larger than 1048576 bytes", repo_path);
    load_fails(0, want, "git:%s@v1:big", repo_path);
    snprintf(want, sizeof want, "git:%s/nowhere@HEAD: cannot open repository: ", tmp);
    load_fails(1, want, "git:%s/nowhere", tmp);
    /* a directory inside a repository's work tree is not the repository */
    snprintf(want, sizeof want, "%s/sub", repo_path);
    assert_int_equal(mkdir(want, 0755), 0);
    snprintf(want, sizeof want, "git:%s/sub@HEAD: cannot open repository: ", repo_path);
    load_fails(1, want, "git:%s/sub", repo_path);
    load_fails(0, "git:: expected git:REPO[@REF][:DIR]", "git:");
    load_fails(0, "git:@v1: expected git:REPO[@REF][:DIR]", "git:@v1");
    snprintf(want, sizeof want, "git:%s@:x: expected git:REPO[@REF][:DIR]", repo_path);
    load_fails(0, want, "git:%s@:x", repo_path);
    /* the tag object itself is fine (peeled); a tree is not a commit */
    snprintf(want, sizeof want, "git:%s@v1^{tree}: ref \"v1^{tree}\" does not name a commit",
             repo_path);
    load_fails(0, want, "git:%s@v1^{tree}", repo_path);
}

/* libgit2 is initialised and shut down around each load (it counts):
 * loads in parallel threads, none holding libgit2 in between, are
 * independent. */
static void *load_in_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        gate_policy_set *set = NULL;
        char spec[256], err[512];
        snprintf(spec, sizeof spec, "git:%s@v1:policies", repo_path);
        if (gate_policy_load_spec(&set, spec, err, sizeof err) != 0 ||
            gate_policy_count(set) != 2) {
            gate_policy_free(set);
            return (void *)1;
        }
        gate_policy_free(set);
    }
    return NULL;
}

static void loads_in_parallel(void **state)
{
    (void)state;
    pthread_t th[4];
    void *rc;

    /* a process holds libgit2 while its threads use it (the server's open
     * audit log does): if the last git_libgit2_shutdown ran while another
     * thread was still alive, that thread's libgit2 data would outlive the
     * key that frees it at thread exit */
    git_libgit2_init();
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_in_thread, NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], &rc), 0);
        assert_null(rc);
    }
    git_libgit2_shutdown();
}

/* ---- directories ------------------------------------------------------ */

static void directory_spec_loads_the_defaults(void **state)
{
    (void)state;
    gate_policy_set *set = NULL;
    gate_cli_opts o;
    char err[512] = "";
    const char *ver = gate_policy_version(defaults);

    assert_int_equal(gate_policy_count(defaults), 6);
    assert_string_equal(gate_policy_source(defaults), "lua-policies");
    assert_int_equal(strncmp(ver, "sha256:", 7), 0);
    assert_int_equal(strlen(ver), 7 + 64);
    assert_int_equal(strspn(ver + 7, "0123456789abcdef"), 64);

    /* gate_policy_load gives the same set and version, load after load */
    assert_int_equal(gate_policy_load(&set, "lua-policies", err, sizeof err), 0);
    assert_string_equal(gate_policy_version(set), ver);
    assert_int_equal(gate_policy_count(set), 6);
    gate_policy_free(set);

    /* the CLI: the default directory, and a git spec */
    memset(&o, 0, sizeof o);
    set = NULL;
    assert_int_equal(gate_cli_load_policies(&o, &set, err, sizeof err), 0);
    assert_int_equal(gate_policy_count(set), 6);
    gate_policy_free(set);
    char spec[256];
    snprintf(spec, sizeof spec, "git:%s@v1:policies", repo_path);
    o.policies = spec;
    set = NULL;
    if (gate_cli_load_policies(&o, &set, err, sizeof err) != 0)
        fail_msg("%s: %s", spec, err);
    assert_int_equal(gate_policy_count(set), 2);
    gate_policy_free(set);
    snprintf(spec, sizeof spec, "%s/no-such-dir", tmp);
    set = NULL;
    assert_int_equal(gate_cli_load_policies(&o, &set, err, sizeof err), -1);
    check_contains(err, "not a policy directory");

    assert_null(gate_policy_version(NULL));
    assert_null(gate_policy_source(NULL));
}

/* The documented hash: sorted relative paths, each PATH NUL LEN NUL TEXT. */
static void expected_digest(char out[7 + 65], const char *const files[][2], size_t n)
{
    unsigned char d[32];
    char buf[4096];
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        len += (size_t)sprintf(buf + len, "%s", files[i][0]) + 1;
        len += (size_t)sprintf(buf + len, "%zu", strlen(files[i][1])) + 1;
        memcpy(buf + len, files[i][1], strlen(files[i][1]));
        len += strlen(files[i][1]);
    }
    assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, len, d), 0);
    strcpy(out, "sha256:");
    for (size_t i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, "%02x", d[i]);
}

static void directory_version_follows_its_files(void **state)
{
    (void)state;
    char dir[128], lib[160], want[7 + 65], first[7 + 65];
    static const char *const files[][2] = {   /* in strcmp order of the path */
        { "a.lua", A_LUA },
        { "config.lua", CONFIG_LUA },
        { "cost.lua", COST_LUA("review") },
        { "lib/util.lua", UTIL_LUA },
    };
    gate_policy_set *set;

    snprintf(dir, sizeof dir, "%s/dirset", tmp);
    snprintf(lib, sizeof lib, "%s/lib", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(lib, 0755), 0);
    write_file(dir, "a.lua", A_LUA);
    write_file(dir, "config.lua", CONFIG_LUA);
    write_file(dir, "cost.lua", COST_LUA("review"));
    write_file(dir, "lib/util.lua", UTIL_LUA);
    write_file(dir, "README", "not loaded\n");

    set = load_spec("%s", dir);
    expected_digest(want, files, 4);
    assert_string_equal(gate_policy_version(set), want);
    snprintf(first, sizeof first, "%s", want);
    gate_policy_free(set);

    /* stable across loads; files that are not loaded do not count */
    write_file(dir, "README", "still not loaded\n");
    set = load_spec("%s", dir);
    assert_string_equal(gate_policy_version(set), first);
    gate_policy_free(set);

    /* a changed lib module changes it; changing it back restores it */
    write_file(dir, "lib/util.lua", "return { over = function(x, l) return x >= l end }\n");
    set = load_spec("%s", dir);
    assert_string_not_equal(gate_policy_version(set), first);
    gate_policy_free(set);
    write_file(dir, "lib/util.lua", UTIL_LUA);
    set = load_spec("%s", dir);
    assert_string_equal(gate_policy_version(set), first);
    gate_policy_free(set);
}

/* ---- subsets and names ------------------------------------------------ */

static void policies_subset_filters_results(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        { "[\"cost\", \"nope\"]", "unknown policy \"nope\"" },
        { "[\"config\"]", "unknown policy \"config\"" },
        { "[\"k8s\"]", "unknown policy \"k8s\"" },
        { "[1]", "ctx.policies[0] must be a string" },
        { "\"cost\"", "ctx.policies must be an array" },
    };
    json_t *v;

    v = judge(defaults, 0, NULL);
    results_are(v, "blast-radius,budget,cost,data-protection,privilege,segmentation");
    json_decref(v);
    v = judge(defaults, 0, "null");
    results_are(v, "blast-radius,budget,cost,data-protection,privilege,segmentation");
    json_decref(v);
    v = judge(defaults, 0, "[\"cost\"]");
    results_are(v, "cost");
    json_decref(v);
    /* load order, whatever the list's order and repetitions */
    v = judge(defaults, 0, "[\"privilege\", \"cost\", \"privilege\"]");
    results_are(v, "cost,privilege");
    json_decref(v);
    v = judge(defaults, 0, "[]");
    results_are(v, "");
    assert_string_equal(verdict_of(v), "allow");
    json_decref(v);

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *ctx = json_pack("{s:{s:s}}", "action", "verb", "update"), *verdict = NULL;
        char err[256] = "";
        json_object_set_new(ctx, "policies", json_loads(bad[i][0], JSON_DECODE_ANY, NULL));
        assert_int_equal(gate_policy_eval(defaults, ctx, NULL, &verdict, err, sizeof err), -1);
        assert_null(verdict);
        assert_string_equal(err, bad[i][1]);
        json_decref(ctx);
    }

    /* a subset without the denying policy: its verdict does not count */
    gate_policy_set *set = load_spec("git:%s@%s:policies", repo_path, c2);
    v = judge(set, 100, NULL);
    assert_string_equal(verdict_of(v), "deny");
    json_decref(v);
    v = judge(set, 100, "[\"privilege\"]");
    assert_string_equal(verdict_of(v), "allow");
    results_are(v, "privilege");
    json_decref(v);
    v = judge(set, 100, "[\"cost\"]");
    assert_string_equal(verdict_of(v), "deny");
    json_decref(v);
    gate_policy_free(set);
}

static void has_knows_policies_only(void **state)
{
    (void)state;
    gate_policy_set *set = load_spec("git:%s@v1:policies", repo_path);

    assert_true(gate_policy_has(set, "cost"));
    assert_true(gate_policy_has(set, "privilege"));
    assert_false(gate_policy_has(set, "config"));
    assert_false(gate_policy_has(set, "util"));
    assert_false(gate_policy_has(set, "cos"));
    assert_false(gate_policy_has(set, NULL));
    assert_false(gate_policy_has(NULL, "cost"));
    assert_true(gate_policy_has(defaults, "blast-radius"));
    gate_policy_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_a_tag_a_commit_and_a_dir),
        cmocka_unit_test(loads_from_a_bare_repository),
        cmocka_unit_test(broken_policy_names_file_and_line),
        cmocka_unit_test(runtime_errors_name_the_commit),
        cmocka_unit_test(git_errors_name_repo_ref_and_path),
        cmocka_unit_test(loads_in_parallel),
        cmocka_unit_test(directory_spec_loads_the_defaults),
        cmocka_unit_test(directory_version_follows_its_files),
        cmocka_unit_test(policies_subset_filters_results),
        cmocka_unit_test(has_knows_policies_only),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
