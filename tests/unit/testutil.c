#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "core/fs.h"

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

json_t *test_load_vector(const char *rel)
{
    const char *dir = getenv("CELLA_VECTORS");
    assert_non_null(dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
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
