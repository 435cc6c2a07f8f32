/*
 * fuzz_numbered_name: the output name formatter (src/base/url.c:
 * imd__name_has_number, imd__format_numbered_name). The first 4 bytes are
 * the index, the rest the name. Checks: the result/error invariant; a name
 * said to hold a number formats (or fails with INVALID_ARG, never another
 * code), and the index's decimal digits appear in the result.
 */
#include "internal.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    size_t index = imd__load_le32(data) % 100000;
    char *name = imd__strndup(NULL, (const char *)data + 4, size - 4);
    if (name == NULL) {
        abort();
    }
    bool has = imd__name_has_number(name);
    ImdError *error = NULL;
    char *result = imd__format_numbered_name(&error, name, index);
    if ((result == NULL) != (error != NULL)) {
        abort();
    }
    if (result == NULL && imd_error_code(error) != IMD_ERR_INVALID_ARG) {
        abort();
    }
    if (result != NULL) {
        char digits[32];
        snprintf(digits, sizeof digits, "%zu", index);
        if (!has || strstr(result, digits) == NULL) {
            abort();
        }
    }
    free(result);
    free(name);
    imd_error_clear(&error);
    return 0;
}
