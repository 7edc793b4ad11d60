/* Fuzzes cella_image_home (lib/runtime/image.c): an image's /etc/passwd is
 * the image author's bytes, read by the runtime to give the app Docker's
 * HOME. Invariants: the result is "HOME=" and an absolute path that fits
 * in the buffer, and a home other than "/" is bytes of the input. The uid
 * asked is the input's first byte. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t uid = size ? data[0] : 0;
    char out[64];
    cella_image_home(cella_slice_of(data, size), uid, out, sizeof out);
    size_t n = strnlen(out, sizeof out);
    if (n >= sizeof out || n < 6 || memcmp(out, "HOME=/", 6))
        __builtin_trap();
    /* a home other than "/" is a field of the input */
    if (n > 6 && !memmem(data, size, out + 5, n - 5))
        __builtin_trap();
    return 0;
}
