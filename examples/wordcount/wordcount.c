/* An iExec-style confidential app: counts the lines, words and bytes of the
 * dataset and its most frequent words, and writes them to $IEXEC_OUT.
 *
 * It follows iExec's app conventions and nothing cella-specific: the dataset
 * is $IEXEC_IN/$IEXEC_DATASET_FILENAME (already decrypted by the enclave),
 * the result goes to $IEXEC_OUT/result.txt, and $IEXEC_OUT/computed.json
 * names it as the deterministic output. The first argument (iexec_args), if
 * any, is how many frequent words to list (default 5). */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *word;
    unsigned long count;
} entry;

static entry *g_tab;
static size_t g_cap, g_used;

static unsigned long hash(const char *s)
{
    unsigned long h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static int grow(void)
{
    size_t ncap = g_cap ? 2 * g_cap : 1024;
    entry *n = calloc(ncap, sizeof *n);
    if (!n)
        return -1;
    for (size_t i = 0; i < g_cap; i++) {
        if (!g_tab[i].word)
            continue;
        size_t j = hash(g_tab[i].word) & (ncap - 1);
        while (n[j].word)
            j = (j + 1) & (ncap - 1);
        n[j] = g_tab[i];
    }
    free(g_tab);
    g_tab = n;
    g_cap = ncap;
    return 0;
}

static int add(const char *w)
{
    if (2 * (g_used + 1) > g_cap && grow() != 0)
        return -1;
    size_t j = hash(w) & (g_cap - 1);
    while (g_tab[j].word && strcmp(g_tab[j].word, w) != 0)
        j = (j + 1) & (g_cap - 1);
    if (!g_tab[j].word) {
        if (!(g_tab[j].word = strdup(w)))
            return -1;
        g_used++;
    }
    g_tab[j].count++;
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "wordcount: %s: %s (%s)\n", what, strerror(errno), path ? path : "");
    return 1;
}

int main(int argc, char **argv)
{
    const char *in = getenv("IEXEC_IN"), *out = getenv("IEXEC_OUT");
    const char *name = getenv("IEXEC_DATASET_FILENAME");
    if (!in || !out || !name) {
        fprintf(stderr, "wordcount: IEXEC_IN, IEXEC_OUT and IEXEC_DATASET_FILENAME must be set\n");
        return 2;
    }
    long top = argc > 1 ? strtol(argv[1], NULL, 10) : 5;
    if (top < 0 || top > 1000)
        top = 5;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", in, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail("cannot open the dataset", path);
    unsigned long lines = 0, words = 0, bytes = 0;
    char w[256];
    size_t wl = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        bytes++;
        if (c == '\n')
            lines++;
        if (isalnum(c) || c == '\'' || c >= 0x80) {
            if (wl < sizeof w - 1)
                w[wl++] = (char)tolower(c);
            continue;
        }
        if (wl) {
            w[wl] = '\0';
            words++;
            if (add(w) != 0)
                return fail("out of memory", NULL);
            wl = 0;
        }
    }
    if (wl) {
        w[wl] = '\0';
        words++;
        if (add(w) != 0)
            return fail("out of memory", NULL);
    }
    fclose(f);
    entry *all = malloc((g_used ? g_used : 1) * sizeof *all);
    size_t n = 0;
    for (size_t i = 0; all && i < g_cap; i++)
        if (g_tab[i].word)
            all[n++] = g_tab[i];
    qsort(all, n, sizeof *all, by_count);
    snprintf(path, sizeof path, "%s/result.txt", out);
    FILE *r = fopen(path, "w");
    if (!r)
        return fail("cannot write the result", path);
    fprintf(r, "lines %lu\nwords %lu\nbytes %lu\ndistinct %zu\n", lines, words, bytes, n);
    for (size_t i = 0; i < n && i < (size_t)top; i++)
        fprintf(r, "top %zu %s %lu\n", i + 1, all[i].word, all[i].count);
    if (fclose(r) != 0)
        return fail("cannot write the result", path);
    snprintf(path, sizeof path, "%s/computed.json", out);
    FILE *cj = fopen(path, "w");
    if (!cj || fprintf(cj, "{\"deterministic-output-path\": \"%s/result.txt\"}\n", out) < 0 ||
        fclose(cj) != 0)
        return fail("cannot write computed.json", path);
    printf("wordcount: %lu words in %lu lines\n", words, lines);
    return 0;
}
