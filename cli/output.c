#include "output.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"

#define MAX_CAPTURE ((size_t)64 << 20) /* what a verb may print for one document */

static bool g_json;
static json_t *g_fields; /* the success document's fields, once a verb sets one */
static json_t *g_error;

bool cli_json(void) { return g_json; }

void cli_json_set(const char *key, json_t *v)
{
    if (!g_json || !v) {
        json_decref(v);
        return;
    }
    if (!g_fields)
        g_fields = json_object();
    json_object_set_new(g_fields, key, v);
}

void cli_json_set_str(const char *key, const char *s)
{
    cli_json_set(key, s ? json_string(s) : json_null());
}

void cli_json_error(const char *message, const char *where, const char *code)
{
    if (!g_json)
        return;
    json_decref(g_error);
    g_error = json_pack("{s:s, s:s, s:s}", "message", message, "where", where ? where : "",
                        "code", code);
}

/* What the verb printed, when it set no field: one JSON value as "result",
 * else its lines as "output". */
static void add_text(json_t *doc, const char *text, size_t n)
{
    json_error_t je;
    json_t *v = n ? json_loadb(text, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je) : NULL;
    if (v) {
        json_object_set_new(doc, "result", v);
        return;
    }
    json_t *lines = json_array();
    for (size_t a = 0; a < n;) {
        const char *nl = memchr(text + a, '\n', n - a);
        size_t end = nl ? (size_t)(nl - text) : n;
        json_t *line = json_stringn(text + a, end - a); /* NULL for bytes that are not UTF-8 */
        json_array_append_new(lines, line ? line : json_string("(not UTF-8)"));
        a = end + 1;
    }
    json_object_set_new(doc, "output", lines);
}

/* The verb's stdout goes to a memory file while it runs. */
static int capture_begin(int *saved)
{
    fflush(stdout);
    int mem = memfd_create("cella-stdout", MFD_CLOEXEC);
    *saved = mem >= 0 ? dup(STDOUT_FILENO) : -1;
    if (mem < 0 || *saved < 0 || dup2(mem, STDOUT_FILENO) < 0) {
        if (mem >= 0)
            close(mem);
        return -1;
    }
    return mem;
}

static char *capture_end(int mem, int saved, size_t *n)
{
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    off_t size = lseek(mem, 0, SEEK_END);
    if (size > 0 && (size_t)size > MAX_CAPTURE) { /* the caller reports it */
        close(mem);
        *n = SIZE_MAX;
        return NULL;
    }
    *n = size > 0 ? (size_t)size : 0;
    char *text = malloc(*n + 1);
    if (text && *n && pread(mem, text, *n, 0) != (ssize_t)*n)
        *n = 0;
    close(mem);
    if (text)
        text[*n] = '\0';
    return text;
}

int cli_json_run(const cli_command *c, int argc, char **argv)
{
    g_json = true;
    int saved, mem = capture_begin(&saved);
    if (mem < 0) {
        printf("{\"ok\": false, \"error\": {\"message\": \"cannot capture the output\", "
               "\"where\": \"--json\", \"code\": \"io\"}}\n");
        return 1;
    }
    int status = c->fn(argc, argv);
    size_t n;
    char *text = capture_end(mem, saved, &n);
    json_t *doc = json_object();
    json_object_set_new(doc, "ok", json_boolean(status == 0));
    if (status != 0) {
        json_object_set_new(doc, "error",
                            g_error ? json_incref(g_error)
                                    : json_pack("{s:s, s:s, s:s}", "message", "failed", "where",
                                                "", "code", "internal"));
        if (g_fields) /* what the verb found before it failed (doctor's checks) */
            json_object_update_missing(doc, g_fields);
    } else if (n == SIZE_MAX) {
        json_object_set_new(doc, "ok", json_false());
        json_object_set_new(doc, "error",
                            json_pack("{s:s, s:s, s:s}", "message",
                                      "the output is larger than --json takes (64 MiB)", "where",
                                      "--json", "code", "toobig"));
        status = 1;
    } else if (g_fields) {
        json_object_update(doc, g_fields);
    } else if (text) {
        add_text(doc, text, n);
    }
    char *out = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (out)
        printf("%s\n", out);
    free(out);
    free(text);
    json_decref(doc);
    json_decref(g_fields);
    json_decref(g_error);
    g_fields = g_error = NULL;
    return status;
}
