#include "core/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "core/encoding.h"
#include "core/fs.h"
#include "core/secure.h"

cella_res cella_keyfile_load(const char *path, uint8_t key[static 32])
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cella_fail(errno == ENOENT ? CELLA_E_NOTFOUND : CELLA_E_IO, path,
                          "cannot read key file: %s", strerror(errno));
    CELLA_ENSURE((st.st_mode & 077) == 0, CELLA_E_PERM, path,
                 "key file is accessible by other users (run: chmod 600 %s)", path);
    uint8_t *buf;
    size_t len;
    CELLA_TRY(cella_read_file(AT_FDCWD, path, 256, true, &buf, &len));
    size_t n = len;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    cella_res r = cella_hex_decode(key, 32, (const char *)buf, n, path);
    if (!cella_ok(r))
        r = cella_fail(CELLA_E_PARSE, path, "key file must hold 64 hex digits");
    cella_secure_free(buf, len + 1);
    return r;
}

cella_res cella_keyfile_load_or_new(const char *path, uint8_t key[static 32], bool *fresh)
{
    *fresh = false;
    cella_res r = cella_keyfile_load(path, key);
    if (r.code != CELLA_E_NOTFOUND)
        return r;
    cella_error_clear();
    CELLA_TRY(cella_random(key, 32));
    *fresh = true;
    return CELLA_OK_RES;
}

cella_res cella_keyfile_save(const char *path, const uint8_t key[static 32])
{
    char *hex = cella_secure_alloc(66);
    CELLA_ENSURE(hex, CELLA_E_NOMEM, path, "out of memory");
    cella_hex_encode(hex, key, 32, false);
    hex[64] = '\n';
    cella_res r = cella_write_file_atomic(AT_FDCWD, path, hex, 65, 0600, true);
    cella_secure_free(hex, 66);
    return r;
}

cella_res cella_keyfile_load_or_create(const char *path, uint8_t key[static 32], bool *created)
{
    CELLA_TRY(cella_keyfile_load_or_new(path, key, created));
    if (!*created)
        return CELLA_OK_RES;
    cella_res r = cella_keyfile_save(path, key);
    if (!cella_ok(r)) {
        cella_wipe(key, 32);
        *created = false;
    }
    return r;
}
