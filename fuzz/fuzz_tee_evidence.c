/* Fuzzes the parsers an attacker reaches before any signature check: the
 * RA-TLS extension envelope and the sim evidence report. */
#include <stddef.h>
#include <stdint.h>

#include "tee/ratls.h"
#include "tee/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cella_slice in = cella_slice_of(data, size);
    cella_tee_kind kind;
    cella_slice ev;
    if (cella_ok(cella_ratls_parse_envelope(in, &kind, &ev))) {
        /* The evidence slice must lie inside the input. */
        if (ev.p < data || ev.p + ev.len > data + size)
            __builtin_trap();
        cella_sim_report r;
        (void)cella_sim_parse(ev, &r);
    }
    cella_sim_report r;
    (void)cella_sim_parse(in, &r);
    return 0;
}
