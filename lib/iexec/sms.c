#include "iexec/sms.h"

#include <string.h>

#include "identity/keccak.h"

void cella_iexec_sms_challenge(uint8_t out[32], const uint8_t addr[20], const char *name,
                               cella_slice value)
{
    uint8_t buf[32 + 20 + 32 + 32], *p = buf;
    cella_keccak256(p, "IEXEC_SMS_DOMAIN", 16);
    p += 32;
    memcpy(p, addr, 20);
    p += 20;
    if (name) {
        cella_keccak256(p, name, strlen(name));
        p += 32;
    }
    cella_keccak256(p, value.p, value.len);
    p += 32;
    cella_keccak256(out, buf, (size_t)(p - buf));
}

bool cella_iexec_secret_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= CELLA_IEXEC_SECRET_NAME_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}
