/* A test app (tests/cli/task_env.sh): writes its whole environment to
 * $IEXEC_OUT/env.bin (NAME=value, each ended by a NUL byte, as `env -0`) and
 * the names in /iexec_in to $IEXEC_OUT/in.txt, one a line. A C program, not a
 * shell script: a shell would add variables (PWD, SHLVL) of its own. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(void)
{
    FILE *f = fopen("/iexec_out/env.bin", "wb");
    if (!f)
        return 1;
    for (char **e = environ; *e; e++)
        fwrite(*e, 1, strlen(*e) + 1, f);
    if (fclose(f))
        return 1;
    f = fopen("/iexec_out/in.txt", "w");
    DIR *d = opendir("/iexec_in");
    if (!f || !d)
        return 1;
    struct dirent *x;
    while ((x = readdir(d)))
        if (strcmp(x->d_name, ".") && strcmp(x->d_name, ".."))
            fprintf(f, "%s\n", x->d_name);
    closedir(d);
    if (fclose(f))
        return 1;
    f = fopen("/iexec_out/computed.json", "w");
    if (!f)
        return 1;
    fputs("{\"deterministic-output-path\": \"/iexec_out/env.bin\"}\n", f);
    return fclose(f) ? 1 : 0;
}
