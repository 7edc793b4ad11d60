/* Private to lib/app: the tree walker and tarball code shared by bundles
 * (app.c), manifests (manifest.c), trees (tree.c) and image import. */
#ifndef CELLA_APP_INTERNAL_H
#define CELLA_APP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "app/app.h"
#include "core/slice.h"

#define CELLA_IO_CHUNK (256u * 1024u)
#define CELLA_MAX_ENTRIES_WALK 100000u

char *cella_xstrdup(const char *s);
void cella_free_strv(char **v, size_t n);

typedef struct {
    char *path;
    char type;     /* 'f' regular file, 'd' directory, 'l' symbolic link */
    uint32_t mode; /* permission bits (07777) as found on disk; 0 for a link */
    char *target;  /* a link's target, verbatim; NULL otherwise */
} tree_ent;

typedef struct {
    tree_ent *v;
    size_t n, cap;
} tree_list;

void tree_free(tree_list *l);
int tree_cmp_ent(const void *a, const void *b);

/* Lists `dir` (opened as *rootfd) sorted bytewise by path. Symbolic links are
 * refused, except below `links_under` (a top-level directory name, or NULL),
 * where they are listed with their target. */
CELLA_RESULT tree_list_dir(const char *dir, const char *links_under, int *rootfd, tree_list *l);

/* Opens a listed regular file beneath the root, re-checking its type. */
CELLA_RESULT tree_open_listed(int rootfd, const char *path, int *fd, struct stat *st);

/* Packs the listed entries (deterministic tarball, atomic write). With
 * `exact_modes`, files and directories keep their permission bits (07777 &
 * mode, which bundles keep to 0777) and links are written as links; else modes
 * are normalised to 0755/0644 and the list must hold no link. */
CELLA_RESULT tree_pack_listed(int rootfd, const tree_list *l, bool exact_modes,
                              const char *out_path, uint8_t checksum[static 32]);

/* cella_tree_unpack, but symbolic links are created (never followed) below
 * `links_under` (a top-level directory name) and permission bits are kept
 * (masked to 0777, owner read/write always set, so the tree stays readable
 * and removable by its owner). */
CELLA_RESULT tree_unpack_links(const char *tarball, const char *dir,
                               const cella_tree_limits *lim, const char *links_under);

/* The permission bits an image bundle keeps for a file ('f') or directory
 * ('d'): 0777 of `mode`, with the owner's read and write (and, for a
 * directory, search) bits always set so the importer can read, measure and
 * remove what it wrote. Setuid, setgid and sticky bits are never kept. */
static inline uint32_t tree_image_mode(uint32_t mode, char type)
{
    return (mode & 0777u) | (type == 'd' ? 0700u : 0600u);
}

/* Opens `dir`, reads and validates its manifest, lists it (links allowed
 * under rootfs/ of an image bundle) and checks the bundle. On success the
 * caller owns *rootfd, *l and *m. */
CELLA_RESULT app_load_listed(const char *dir, int *rootfd, tree_list *l, cella_app_manifest *m);

/* Writes the directory `dir` (which must not exist) all or nothing: `fill`
 * fills a staging directory beside it (given opened), which is then renamed
 * into place (RENAME_NOREPLACE); on any failure it is removed. */
typedef CELLA_RESULT (*tree_fill_fn)(int stage, void *ud);
CELLA_RESULT tree_publish_dir(const char *dir, tree_fill_fn fill, void *ud);

/* A random staging name ".BASE.tmp-HEX". */
CELLA_RESULT tree_temp_name(char *out, size_t cap, const char *base);

/* The error of a failed step, kept while another step runs. */
typedef struct {
    cella_code code;
    char what[512], where[512];
} saved_error;
void app_save_error(saved_error *s);
cella_res app_restore_error(const saved_error *s);

#endif
