#include "core/encoding.h"

#include <stdio.h>

#include <time.h>

#include <openssl/evp.h>
#include <string.h>

#include "core/secure.h"

void cella_hex_encode(char *out, const uint8_t *in, size_t n, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Branch-free digit decode: returns 0..15, or a value with bit 8 set if c is
 * not a hex digit. */
static unsigned hex_val(unsigned char c)
{
    unsigned num = c ^ 0x30u;             /* '0'..'9' -> 0..9 */
    unsigned num_ok = (num - 10u) >> 8;   /* all ones if num < 10 */
    unsigned alpha = (c & ~0x20u) - 55u;  /* 'A'..'F' / 'a'..'f' -> 10..15 */
    unsigned alpha_ok = ((alpha - 10u) ^ (alpha - 16u)) >> 8;
    unsigned ok = (num_ok | alpha_ok) & 1u;
    return (num & num_ok & 0xFu) | (alpha & alpha_ok & 0xFu) | ((ok ^ 1u) << 8);
}

cella_res cella_hex_decode(uint8_t *out, size_t n, const char *hex, size_t hex_len,
                           const char *what)
{
    if (hex_len >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
        hex += 2;
        hex_len -= 2;
    }
    CELLA_ENSURE(hex_len == 2 * n, CELLA_E_PARSE, what,
                 "expected %zu hex digits, got %zu", 2 * n, hex_len);
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned hi = hex_val((unsigned char)hex[2 * i]);
        unsigned lo = hex_val((unsigned char)hex[2 * i + 1]);
        bad |= (hi | lo) & 0x100u;
        out[i] = (uint8_t)((hi << 4) | (lo & 0xFu));
    }
    if (bad) {
        cella_wipe(out, n);
        return cella_fail(CELLA_E_PARSE, what, "not a hex string");
    }
    return CELLA_OK_RES;
}

size_t cella_base64_encode(char *out, size_t cap, const uint8_t *in, size_t n)
{
    size_t need = 4 * ((n + 2) / 3) + 1;
    if (cap < need || n > INT32_MAX)
        return 0;
    return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

cella_res cella_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in,
                              size_t in_len, const char *what)
{
    *out_len = 0;
    CELLA_ENSURE(in_len % 4 == 0 && in_len <= INT32_MAX, CELLA_E_PARSE, what,
                 "not base64 (length %zu)", in_len);
    size_t raw = in_len / 4 * 3;
    CELLA_ENSURE(raw <= cap, CELLA_E_TOOBIG, what, "base64 value too long");
    for (size_t i = 0; i < in_len; i++) {
        char c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || (c == '=' && i >= in_len - 2);
        CELLA_ENSURE(ok, CELLA_E_PARSE, what, "not base64 (bad character at %zu)", i);
    }
    if (in_len == 0)
        return CELLA_OK_RES;
    int got = EVP_DecodeBlock(out, (const unsigned char *)in, (int)in_len);
    CELLA_ENSURE(got >= 0, CELLA_E_PARSE, what, "not base64");
    size_t pad = (in[in_len - 1] == '=') + (in[in_len - 2] == '=');
    *out_len = (size_t)got - pad;
    return CELLA_OK_RES;
}

void cella_iso_time(int64_t t, char out[CELLA_ISO_TIME_LEN])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, CELLA_ISO_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, CELLA_ISO_TIME_LEN, "%lld", (long long)t);
}
