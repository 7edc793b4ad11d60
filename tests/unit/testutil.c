#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
