/* Shared helpers for cmocka unit tests. */
#ifndef CELLA_TESTUTIL_H
#define CELLA_TESTUTIL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>
#include <jansson.h>

#include "core/error.h"
#include "identity/eip712.h"

/* Asserts a call failed with the given code. */
#define assert_fails_with(expr, want)                                          \
    do {                                                                       \
        cella_res r_ = (expr);                                                 \
        if (r_.code != (want))                                                 \
            fail_msg("expected %s, got %s: %s (%s)", cella_code_str(want),     \
                     cella_code_str(r_.code), cella_error_what(),              \
                     cella_error_where());                                     \
    } while (0)

#define assert_succeeds(expr)                                                  \
    do {                                                                       \
        cella_res r_ = (expr);                                                 \
        if (r_.code != CELLA_OK)                                               \
            fail_msg("unexpected failure %s: %s (%s)", cella_code_str(r_.code), \
                     cella_error_what(), cella_error_where());                 \
    } while (0)

/* A fresh temp directory (mkdtemp under $TMPDIR); removed by test_rmdir. */
char *test_tmpdir(void);
void test_rmdir(char *dir);
/* Writes `content` to ROOT/REL (its parent folders made as needed, an
 * existing file replaced) with `mode`; any failure fails the test. */
void test_put_file(const char *root, const char *rel, const char *content, mode_t mode);

/* The test vectors from real tools: $CELLA_VECTORS when set, else the
 * repository's tests/vectors (see tests/vectors/PROVENANCE.md). */
const char *test_vectors_dir(void);

/* out = <vectors>/<rel>; the test fails if it does not fit. */
void test_vector_path(char *out, size_t cap, const char *rel);

/* A JSON file under the vectors; fails the test if it is missing or not JSON. */
json_t *test_load_vector(const char *rel);

/* A store's database for one test: DIR/store.db (SQLite), or, when
 * $CELLA_TEST_PG names a PostgreSQL server, a new schema of its own there. */
void test_db_url(char *out, size_t cap, const char *dir);

/* Exactly n bytes from hex, or the test fails. */
void test_unhex(uint8_t *out, size_t n, const char *hex);

/* Sets an order's uint256 field to v, or its address field to a, or the
 * test fails. */
void test_order_u64(cella_order *o, const char *field, uint64_t v);
void test_order_addr(cella_order *o, const char *field, const uint8_t a[20]);

/* The static busybox of Debian's busybox-static (scripts/deps.sh). */
#define TEST_BUSYBOX "/bin/busybox"

/* Makes `rootfs` (which must not exist) a minimal image root filesystem:
 * bin/busybox and bin/sh, id, cat... linked to it, nothing else (no /tmp,
 * /proc, /dev, /etc). False (nothing made) when TEST_BUSYBOX is not a static
 * executable: the caller skips. */
bool test_busybox_rootfs(const char *rootfs);

/* Skips the calling test, saying why, when `avail` is false (FUSE cannot
 * mount here: `why` from cella_shield_available). */
#define TEST_NEED_FUSE(avail, why)                                             \
    do {                                                                       \
        if (!(avail)) {                                                        \
            print_message("skipped: FUSE is not available here: %s\n", (why)); \
            skip();                                                            \
        }                                                                      \
    } while (0)

#endif
