/*
 * uid.c: UIDs in the "2.25.<decimal of a 128-bit UUID>" form (PS3.5 §B.2,
 * ISO/IEC 9834-8). The random bits come from getrandom(2), so the UIDs need
 * no registered root and no machine address.
 */
#define _GNU_SOURCE /* getrandom */
#include "internal.h"

#include <errno.h>
#include <sys/random.h>

/* Divide the 128-bit big-endian number in place by 10; return the remainder. */
static unsigned divide_by_ten(uint8_t number[16])
{
    unsigned remainder = 0;
    for (size_t i = 0; i < 16; i++) {
        unsigned value = (remainder << 8) | number[i];
        number[i] = (uint8_t)(value / 10);
        remainder = value % 10;
    }
    return remainder;
}

static bool is_zero(const uint8_t number[16])
{
    for (size_t i = 0; i < 16; i++) {
        if (number[i] != 0) {
            return false;
        }
    }
    return true;
}

bool imd_uid_generate(ImdError **error, char uid[65])
{
    uint8_t bits[16];
    size_t have = 0;
    while (have < sizeof bits) {
        ssize_t got = getrandom(bits + have, sizeof bits - have, 0);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            imd_error_set(error, IMD_ERR_IO, "cannot make a UID: getrandom: %s", strerror(errno));
            return false;
        }
        have += (size_t)got;
    }
    /* A version 4 (random) UUID: RFC 4122 §4.4. */
    bits[6] = (uint8_t)((bits[6] & 0x0f) | 0x40);
    bits[8] = (uint8_t)((bits[8] & 0x3f) | 0x80);

    char digits[40];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + divide_by_ten(bits));
    } while (!is_zero(bits));
    memcpy(uid, "2.25.", 5);
    for (size_t i = 0; i < count; i++) {
        uid[5 + i] = digits[count - 1 - i];
    }
    uid[5 + count] = '\0';
    return true;
}
