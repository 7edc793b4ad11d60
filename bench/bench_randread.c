/* Random 4 KiB reads, the way a database or an index lookup reads: N preads of
 * 4096 bytes at 4 KiB-aligned offsets drawn uniformly over the file (a fixed
 * seed, so every file system gets the same offsets). Prints reads per second.
 * usage: bench_randread FILE N [SEED] */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: bench_randread FILE N [SEED]\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    uint64_t x = argc == 4 ? strtoull(argv[3], NULL, 10) : 42;
    if (x == 0)
        x = 42;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 4096 || n <= 0) {
        perror(argv[1]);
        return 1;
    }
    uint64_t blocks = (uint64_t)st.st_size / 4096;
    static unsigned char buf[4096];
    unsigned sum = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (pread(fd, buf, sizeof buf, (off_t)((x % blocks) * 4096)) != (ssize_t)sizeof buf) {
            perror("pread");
            return 1;
        }
        sum += buf[x % sizeof buf];
    }
    double t = now() - t0;
    close(fd);
    printf("%.0f\n", (double)n / t);
    fprintf(stderr, "bench_randread: %ld reads in %.3f s (checksum %u)\n", n, t, sum);
    return 0;
}
