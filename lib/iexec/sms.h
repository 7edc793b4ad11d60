/* iExec's secret management service (SMS) authentication, shared by cas (which
 * checks it, cas/sms.c) and the CLI (which signs it, cli/cmd_secret.c).
 *
 * A push carries `Authorization: 0x<EIP-191 personal_sign signature>` over the
 * 32-byte challenge (iexec-sdk src/common/sms/push.js):
 *
 *   keccak256( keccak256("IEXEC_SMS_DOMAIN") || address20 [|| keccak256(name)] || keccak256(value) )
 *
 * `name` is NULL for a dataset key (web3), "1" for an app developer secret,
 * the secret's name for web2 and requester secrets. */
#ifndef CELLA_IEXEC_SMS_H
#define CELLA_IEXEC_SMS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/slice.h"

#define CELLA_IEXEC_SMS_MAX_SECRET 4096 /* bytes, as iexec-sms */
#define CELLA_IEXEC_RESULT_KEY_NAME "iexec-result-encryption-public-key"

/* iExec's rule for a requester secret's name: [A-Za-z0-9-_]{1,64}. */
#define CELLA_IEXEC_SECRET_NAME_MAX 64
bool cella_iexec_secret_name_ok(const char *name);

void cella_iexec_sms_challenge(uint8_t out[32], const uint8_t addr[20], const char *name,
                               cella_slice value);

#endif
