/* Unit tests for the shield's chunk store (lib/runtime/shield_store.c): after
 * a small buffered read, the rest of that authenticated chunk, and nothing
 * beyond it, is in the mount's page cache (mincore shows which pages); a
 * tampered chunk is still refused while its neighbours are warm; nothing stored
 * outlives the mount.
 *
 * The whole file is skipped (with the reason) where FUSE cannot mount. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/shield.h"
#include "testutil.h"
#include "volume/format.h"
#include "volume/volume.h"

static const uint8_t KEY[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
#define C 65536u          /* chunk size of the test volume */
#define CHUNKS 20u
#define PAGES (C / 4096u) /* pages per chunk */

static struct {
    bool avail;
    const char *why;
    char *dir;
    char src[512], vol[512], mnt[512];
    char *plain; /* the file's text, CHUNKS * C bytes */
    cella_volume *v;
    cella_shield *s;
} g;

#define NEED_FUSE() TEST_NEED_FUSE(g.avail, g.why)

static void mount_vol(bool store)
{
    cella_shield_opts so = {.vol_dir = g.vol, .no_chunk_store = !store};
    assert_succeeds(cella_vol_open(g.vol, KEY, NULL, &g.v));
    assert_succeeds(cella_shield_mount(g.v, g.mnt, &so, &g.s));
}

static void unmount_vol(void)
{
    if (g.s) {
        cella_res r = cella_shield_unmount(g.s);
        if (!cella_ok(r))
            fprintf(stderr, "unmount: %s (%s)\n", cella_error_what(), cella_error_where());
        g.s = NULL;
    }
    if (g.v) {
        cella_vol_close(g.v);
        g.v = NULL;
    }
}

/* A fresh volume holding victim.txt (CHUNKS chunks of recognisable text). */
static void make_volume(void)
{
    if (g.dir)
        test_rmdir(g.dir);
    g.dir = test_tmpdir();
    snprintf(g.src, sizeof g.src, "%s/src", g.dir);
    snprintf(g.vol, sizeof g.vol, "%s/vol", g.dir);
    snprintf(g.mnt, sizeof g.mnt, "%s/mnt", g.dir);
    mkdir(g.src, 0755);
    mkdir(g.mnt, 0700);
    test_put_file(g.src, "victim.txt", g.plain, 0644);
    uint8_t tag[16];
    cella_vol_opts vo = {.chunk_size = C};
    assert_succeeds(cella_vol_encrypt_dir(g.src, g.vol, KEY, &vo, tag));
}

/* Flips one byte of chunk i of victim.txt's ciphertext, `at` bytes in. */
static void tamper(uint64_t i, size_t at)
{
    DIR *d = opendir(g.vol);
    assert_non_null(d);
    struct dirent *de;
    char cfile[1400] = "";
    while ((de = readdir(d)) != NULL)
        if (strlen(de->d_name) == 32)
            snprintf(cfile, sizeof cfile, "%s/%s", g.vol, de->d_name);
    closedir(d);
    assert_true(cfile[0]);
    int fd = open(cfile, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    off_t off = (off_t)(cella_vol_chunk_offset(i, C) + at);
    assert_int_equal(pread(fd, &byte, 1, off), 1);
    byte ^= 0x01;
    assert_int_equal(pwrite(fd, &byte, 1, off), 1);
    close(fd);
}

static int open_victim(void)
{
    char p[700];
    snprintf(p, sizeof p, "%s/victim.txt", g.mnt);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

/* Which pages of the file are in the mount's page cache (bit 0 of each). */
static void residency(int fd, unsigned char vec[CHUNKS * PAGES])
{
    void *map = mmap(NULL, (size_t)CHUNKS * C, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mincore(map, (size_t)CHUNKS * C, vec), 0);
    munmap(map, (size_t)CHUNKS * C);
}

/* How many pages of chunk i are in the mount's page cache. */
static unsigned resident(int fd, uint64_t i)
{
    unsigned char vec[CHUNKS * PAGES];
    residency(fd, vec);
    unsigned n = 0;
    for (unsigned k = 0; k < PAGES; k++)
        n += vec[i * PAGES + k] & 1;
    return n;
}

/* The store runs after the reply: waits (up to 5 s) for chunk i to hold
 * `want` pages. */
static unsigned wait_resident(int fd, uint64_t i, unsigned want)
{
    unsigned n = 0;
    for (int t = 0; t < 500 && (n = resident(fd, i)) != want; t++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    return n;
}

/* A 4 KiB buffered read at `off`, checked against the plaintext. */
static void read_4k(int fd, uint64_t off)
{
    char buf[4096];
    assert_int_equal(pread(fd, buf, sizeof buf, (off_t)off), (ssize_t)sizeof buf);
    assert_memory_equal(buf, g.plain + off, sizeof buf);
}

/* Reads chunk i until it is resident whole. While as many stores run as the
 * shield allows (one on 2 CPUs), a chunk waits in a short queue, and is
 * skipped when that is full, so on a busy machine a read may store nothing:
 * then a page not yet resident is read again, which stores again. */
static unsigned warm(int fd, uint64_t i)
{
    unsigned n = 0;
    for (int attempt = 0; attempt < 10 && n != PAGES; attempt++) {
        unsigned char vec[CHUNKS * PAGES];
        residency(fd, vec);
        unsigned k = 0;
        while (k < PAGES - 1 && (vec[i * PAGES + k] & 1))
            k++;
        read_4k(fd, i * C + (uint64_t)k * 4096);
        for (int t = 0; t < 100 && (n = resident(fd, i)) != PAGES; t++)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return n;
}

static void expect_eio(int fd, size_t len, uint64_t off)
{
    char *buf = malloc(len);
    assert_non_null(buf);
    errno = 0;
    assert_int_equal(pread(fd, buf, len, (off_t)off), -1);
    assert_int_equal(errno, EIO);
    free(buf);
}

/* ---- tests ----------------------------------------------------------------- */

/* One 4 KiB read: the whole chunk becomes resident, its neighbours do not;
 * with the store off, only the page asked for. */
static void store_fills_the_chunk(void **state)
{
    (void)state;
    NEED_FUSE();
    make_volume();
    mount_vol(true);
    int fd = open_victim();
    read_4k(fd, 3 * C + 8192);
    assert_int_equal(wait_resident(fd, 3, PAGES), PAGES);
    assert_int_equal(resident(fd, 2), 0);
    assert_int_equal(resident(fd, 4), 0);
    read_4k(fd, 3 * C + 40960); /* now from the page cache, and right */
    read_4k(fd, 3 * C);
    close(fd);
    unmount_vol();

    mount_vol(false);
    fd = open_victim();
    read_4k(fd, 3 * C + 8192);
    nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    assert_int_equal(resident(fd, 3), 1);
    close(fd);
    unmount_vol();
}

/* Chunk 10 is tampered; chunks 9 and 11 are read and stored whole: chunk 10
 * is still refused with EIO, alone or in a read that starts in chunk 9 (which
 * returns no byte of it), and none of its pages enter the page cache. */
static void tampered_chunk_refused_beside_warm_ones(void **state)
{
    (void)state;
    NEED_FUSE();
    make_volume();
    tamper(10, 20000);
    mount_vol(true);
    int fd = open_victim();
    assert_int_equal(warm(fd, 9), PAGES);
    assert_int_equal(warm(fd, 11), PAGES);
    expect_eio(fd, 4096, 10 * C + 8192);
    expect_eio(fd, 4096, 10 * C + 16384);
    expect_eio(fd, C, 10 * C);
    /* the cached part of chunk 9 may be returned, never anything past it */
    char *buf = malloc(2 * C);
    assert_non_null(buf);
    ssize_t r = pread(fd, buf, 2 * C, 9 * C + 5);
    assert_true(r == -1 || r == (ssize_t)(C - 5));
    if (r > 0)
        assert_memory_equal(buf, g.plain + 9 * C + 5, (size_t)r);
    free(buf);
    assert_int_equal(resident(fd, 10), 0);
    close(fd);
    unmount_vol();
}

/* Chunk 5 is read and stored whole, the mount goes, chunk 5 is tampered, the
 * volume is mounted again: a page that was stored, not the one asked for,
 * reads EIO: the stored pages went with the first mount. */
static void nothing_stored_outlives_the_mount(void **state)
{
    (void)state;
    NEED_FUSE();
    make_volume();
    mount_vol(true);
    int fd = open_victim();
    read_4k(fd, 5 * C);
    assert_int_equal(wait_resident(fd, 5, PAGES), PAGES);
    close(fd);
    unmount_vol();
    tamper(5, 30000);
    mount_vol(true);
    fd = open_victim();
    expect_eio(fd, 4096, 5 * C + 32768);
    close(fd);
    unmount_vol();
}

static int group_setup(void **state)
{
    (void)state;
    g.avail = cella_shield_available(&g.why);
    if (!g.avail)
        return 0;
    g.plain = malloc((size_t)CHUNKS * C + 1);
    assert_non_null(g.plain);
    for (size_t i = 0; i < (size_t)CHUNKS * C; i++)
        g.plain[i] = (char)('A' + i % 26);
    g.plain[(size_t)CHUNKS * C] = '\0';
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    unmount_vol();
    if (g.mnt[0])
        umount2(g.mnt, MNT_DETACH); /* belt and braces: never leave a mount */
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g.dir)
        test_rmdir(g.dir);
    free(g.plain);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(store_fills_the_chunk, test_teardown),
        cmocka_unit_test_teardown(tampered_chunk_refused_beside_warm_ones, test_teardown),
        cmocka_unit_test_teardown(nothing_stored_outlives_the_mount, test_teardown),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    if (failed == 0 && !g.avail)
        return 77; /* skipped, not passed */
    return failed;
}
