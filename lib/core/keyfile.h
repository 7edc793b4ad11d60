/* Key files: 32 secret bytes stored as 64 hex digits and a newline, mode 0600.
 * Created atomically and exclusively; refused when others may read them. */
#ifndef CELLA_CORE_KEYFILE_H
#define CELLA_CORE_KEYFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* Loads the key at `path`. Fails if the file is missing (CELLA_E_NOTFOUND),
 * malformed, or readable/writable by group or others (CELLA_E_PERM). */
CELLA_RESULT cella_keyfile_load(const char *path, uint8_t key[static 32]);

/* Loads the key at `path`, or, if there is none, makes a fresh random key in
 * memory only (*fresh set): the caller saves it with cella_keyfile_save once
 * its inputs are checked, so a failed command leaves no key file behind. */
CELLA_RESULT cella_keyfile_load_or_new(const char *path, uint8_t key[static 32], bool *fresh);

/* Writes `key` to a new key file at `path` (atomically, mode 0600; fails with
 * CELLA_E_EXISTS if the file appeared meanwhile). */
CELLA_RESULT cella_keyfile_save(const char *path, const uint8_t key[static 32]);

/* Loads the key at `path`, or creates it with a fresh random key if absent.
 * *created tells which happened. */
CELLA_RESULT cella_keyfile_load_or_create(const char *path, uint8_t key[static 32],
                                          bool *created);

#endif
