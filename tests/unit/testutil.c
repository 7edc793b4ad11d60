#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "hub/match.h"

char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *p = malloc(strlen(base) + 32);
    assert_non_null(p);
    sprintf(p, "%s/cella-unit.XXXXXX", base);
    assert_non_null(mkdtemp(p));
    return p;
}

void test_rmdir(char *dir)
{
    cella_rm_tree(AT_FDCWD, dir);
    free(dir);
}

const char *test_vectors_dir(void)
{
    const char *v = getenv("CELLA_VECTORS");
    return v && *v ? v : CELLA_TEST_VECTORS;
}

void test_vector_path(char *out, size_t cap, const char *rel)
{
    int n = snprintf(out, cap, "%s/%s", test_vectors_dir(), rel);
    if (n < 0 || (size_t)n >= cap)
        fail_msg("vector path too long: %s", rel);
}

json_t *test_load_vector(const char *rel)
{
    char path[1024];
    test_vector_path(path, sizeof path, rel);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("%s: %s", path, err.text);
    return j;
}

void test_unhex(uint8_t *out, size_t n, const char *hex)
{
    assert_non_null(hex);
    assert_succeeds(cella_hex_decode(out, n, hex, strlen(hex), "vector"));
}

#include <libpq-fe.h>
#include <unistd.h>

void test_db_url(char *out, size_t cap, const char *dir)
{
    const char *pg = getenv("CELLA_TEST_PG");
    if (!pg || !*pg) {
        int n = snprintf(out, cap, "%s/store.db", dir);
        if (n < 0 || (size_t)n >= cap)
            fail_msg("database path too long");
        return;
    }
    /* A schema of its own on the test server, named after the test's
     * directory (unique, mkdtemp's), so the same directory gives the same
     * database again (a reopen); the URL's search_path picks it. */
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    char schema[64] = "t_";
    size_t k = 2;
    for (const char *p = base; *p && k < sizeof schema - 1; p++)
        schema[k++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p
                             : (*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : '_');
    schema[k] = 0;
    PGconn *c = PQconnectdb(pg);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("CELLA_TEST_PG: %s", PQerrorMessage(c));
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        fail_msg("CELLA_TEST_PG: %s", PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
    int n = snprintf(out, cap, "%s%coptions=-csearch_path%%3D%s", pg, strchr(pg, '?') ? '&' : '?',
                     schema);
    if (n < 0 || (size_t)n >= cap)
        fail_msg("database URL too long");
}

void test_order_u64(cella_order *o, const char *field, uint64_t v)
{
    uint8_t w[32];
    hub_u256_from_u64(w, v);
    assert_succeeds(cella_order_set_word(o, field, w));
}

void test_order_addr(cella_order *o, const char *field, const uint8_t a[20])
{
    uint8_t w[32] = {0};
    memcpy(w + 12, a, 20);
    assert_succeeds(cella_order_set_word(o, field, w));
}

/* ---- a hand-made image root filesystem -------------------------------------------- */

#include <elf.h>
#include <sys/stat.h>

/* A static ELF has no program interpreter (PT_INTERP): it runs in a root
 * filesystem that holds no libc. */
static bool static_elf(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr eh;
    bool ok = fd >= 0 && pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
              !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64;
    for (unsigned i = 0; ok && i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        ok = pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * eh.e_phentsize)) ==
                 (ssize_t)sizeof ph &&
             ph.p_type != PT_INTERP;
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

bool test_busybox_rootfs(const char *rootfs)
{
    static const char *const applets[] = {"sh", "id", "touch", "cat", "env", "ls", "awk",
                                          "sleep", "true", "pwd", "echo", "test", "head"};
    if (!static_elf(TEST_BUSYBOX))
        return false;
    char p[1024];
    snprintf(p, sizeof p, "%s/bin", rootfs);
    assert_true(mkdir(rootfs, 0755) == 0 && mkdir(p, 0755) == 0);
    snprintf(p, sizeof p, "%s/bin/busybox", rootfs);
    int in = open(TEST_BUSYBOX, O_RDONLY | O_CLOEXEC);
    int out = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
    assert_true(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    for (size_t i = 0; i < sizeof applets / sizeof *applets; i++) {
        snprintf(p, sizeof p, "%s/bin/%s", rootfs, applets[i]);
        assert_int_equal(symlink("busybox", p), 0);
    }
    return true;
}

void test_put_file(const char *root, const char *rel, const char *content, mode_t mode)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    /* mkdir -p of the parent */
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    unlink(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}
