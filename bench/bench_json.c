/* The cost of wiping jansson's freed blocks (core/json_wipe.h): parse, dump
 * and free an order-sized document N times with jansson's default free, then
 * with the wiping one; prints both and their ratio (bench/hub.sh runs it in
 * `make bench`). usage: bench_json [N] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json_wipe.h"

static const char DOC[] =
    "{\"order\": {\"app\": \"0x8f2a6d0c8c5b2f1e9d3a7b4c6e1f0a2b3c4d5e6f\", \"appprice\": \"0\", "
    "\"volume\": \"1000\", \"tag\": "
    "\"0x0000000000000000000000000000000000000000000000000000000000000003\", "
    "\"datasetrestrict\": \"0x0000000000000000000000000000000000000000\", "
    "\"workerpoolrestrict\": \"0x0000000000000000000000000000000000000000\", "
    "\"requesterrestrict\": \"0x0000000000000000000000000000000000000000\", "
    "\"salt\": \"0x5c2a7e0f1d3b4a6c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5\", "
    "\"sign\": \"0x4f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"
    "8796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f01b\"}, \"params\": {\"iexec_args\": "
    "\"--words 3\", \"iexec_input_files\": [\"https://example.org/a.txt\", "
    "\"https://example.org/b.txt\"]}, \"category\": 0, \"trust\": 1}";

static double run(unsigned n)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (unsigned i = 0; i < n; i++) {
        json_t *j = json_loads(DOC, 0, NULL);
        char *t = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        free(t);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
}

int main(int argc, char **argv)
{
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 50000;
    run(n / 10); /* warm up */
    /* alternating rounds, best of each: the machine's other load hits both */
    double plain = 1e30, wiped = 1e30;
    for (int round = 0; round < 7; round++) {
        json_set_alloc_funcs(malloc, free);
        double p = run(n);
        cella_json_wipe_install();
        double w = run(n);
        plain = p < plain ? p : plain;
        wiped = w < wiped ? w : wiped;
    }
    printf("%-46s %10s %-34s %10s %7s\n", "figure (ns per order document)", "cella",
           "baseline (same run)", "baseline", "ratio");
    printf("%-46s %10.0f %-34s %10.0f %7.2f\n", "json parse+dump+free, wiping free",
           wiped, "jansson's default free", plain, wiped / plain);
    return 0;
}
