/* cli_report: one line for the current error (and the JSON document's error
 * under --json). Shared by `cella` and the lean `cella-runtime`. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/json_wipe.h"
#include "core/log.h"
#include "core/secure.h"
#include "output.h"

/* "usage", "not_found", ...: the code's name without CELLA_E_, in lower case. */
static void code_name(cella_code code, char *out, size_t cap)
{
    static const char *const names[] = {
#define CELLA_X_NAME(name, text) #name,
        CELLA_ERRORS(CELLA_X_NAME)
#undef CELLA_X_NAME
    };
    const char *n = (unsigned)code < CELLA_E__COUNT ? names[code] : "CELLA_E_INTERNAL";
    n += strncmp(n, "CELLA_E_", 8) ? 6 : 8; /* "CELLA_OK" -> "OK" */
    size_t i = 0;
    for (; n[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)n[i]);
    out[i] = '\0';
}

int cli_report(cella_res r)
{
    if (cella_ok(r))
        return 0;
    char line[2048];
    const char *where = cella_error_where();
    if (where && *where)
        snprintf(line, sizeof line, "%s (%s)", cella_error_what(), where);
    else
        snprintf(line, sizeof line, "%s", cella_error_what());
    cella_redact(line, sizeof line);
    fprintf(stderr, "cella: error: %s\n", line);
    if (cli_json()) {
        char what[2048], code[32];
        snprintf(what, sizeof what, "%s", cella_error_what());
        cella_redact(what, sizeof what);
        code_name(r.code, code, sizeof code);
        cli_json_error(what, where, code);
    }
    return r.code == CELLA_E_USAGE ? 2 : 1;
}

