/* The seed's copy DApp: copies every file from the input directory to the
 * output directory, recursively, keeping the tree. Unmodified app: it only
 * sees plain files; the cella runtime decrypts /encryptedInputs and encrypts
 * /encryptedOutputs around it.
 *
 *   copy_files [IN OUT]      default IN=$IN or /encryptedInputs,
 *                                     OUT=$OUT or /encryptedOutputs
 * Exit status 0 on success, 1 on any error (reported on stderr). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int copy_file(int sdir, int ddir, const char *name, const char *shown)
{
    int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        fprintf(stderr, "copy: %s: %s\n", shown, strerror(errno));
        return -1;
    }
    int out = openat(ddir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (out < 0) {
        fprintf(stderr, "copy: %s: %s\n", shown, strerror(errno));
        close(in);
        return -1;
    }
    static char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    if (rc == 0 && fsync(out) != 0)
        rc = -1;
    if (close(out) != 0)
        rc = -1;
    close(in);
    if (rc)
        fprintf(stderr, "copy: %s: %s\n", shown, strerror(errno));
    else
        printf("copied %s\n", shown);
    return rc;
}

static int copy_tree(int sdir, int ddir, const char *prefix, int depth)
{
    if (depth > 64) {
        fprintf(stderr, "copy: %s: too deep\n", prefix);
        return -1;
    }
    int fd = dup(sdir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        fprintf(stderr, "copy: %s: %s\n", *prefix ? prefix : ".", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char shown[4096];
        snprintf(shown, sizeof shown, "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
        struct stat st;
        if (fstatat(sdir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = -1;
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            rc |= copy_file(sdir, ddir, e->d_name, shown);
        } else if (S_ISDIR(st.st_mode)) {
            if (mkdirat(ddir, e->d_name, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "copy: %s: %s\n", shown, strerror(errno));
                rc = -1;
                continue;
            }
            int s2 = openat(sdir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int d2 = openat(ddir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc |= (s2 < 0 || d2 < 0) ? -1 : copy_tree(s2, d2, shown, depth + 1);
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else {
            fprintf(stderr, "copy: %s: skipped (not a regular file or directory)\n", shown);
        }
    }
    closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    const char *in = getenv("IN") ? getenv("IN") : "/encryptedInputs";
    const char *out = getenv("OUT") ? getenv("OUT") : "/encryptedOutputs";
    if (argc == 3) {
        in = argv[1];
        out = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: copy_files [IN_DIR OUT_DIR]\n");
        return 2;
    }
    int s = open(in, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s < 0) {
        fprintf(stderr, "copy: %s: %s\n", in, strerror(errno));
        return 1;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "copy: %s: %s\n", out, strerror(errno));
        return 1;
    }
    int d = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) {
        fprintf(stderr, "copy: %s: %s\n", out, strerror(errno));
        return 1;
    }
    int rc = copy_tree(s, d, "", 0);
    close(s);
    close(d);
    return rc ? 1 : 0;
}
