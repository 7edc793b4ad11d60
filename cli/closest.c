/* "Did you mean": the nearest of some names to a word (help.h). */
#include <string.h>

#include "help.h"

/* Levenshtein distance, capped: anything above 3 is 3 (bounded work for any
 * length of input). */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 3;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] > 3 ? 3 : row[lb];
}

const char *cli_closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL, *prefix = NULL;
    int best_d = 3;
    size_t prefixes = 0, wl = strlen(word);
    for (size_t i = 0; i < n; i++) {
        int d = distance(word, cands[i]);
        if (d < best_d && (size_t)d * 2 < wl) {
            best_d = d;
            best = cands[i];
        }
        if (wl >= 2 && !strncmp(cands[i], word, wl) && (!prefix || strcmp(prefix, cands[i]))) {
            prefix = cands[i];
            prefixes++;
        }
    }
    if (best)
        return best;
    return prefixes == 1 ? prefix : NULL;
}

