/*
 * network.c: the public entry points of the DICOM network (issue 17) that
 * are not a read or a write: C-ECHO (imd_dicom_echo).
 */
#include "pipeline/pipeline.h"

bool imd_dicom_echo(ImdError **error, ImdContext *context, const char *url,
                    const ImdOptions *options, uint16_t *status)
{
    if (url == NULL || status == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "echo: no URL or status");
        return false;
    }
    ImdUrl *parsed = imd_url_parse(error, url);
    if (parsed == NULL) {
        return false;
    }
    bool ok = false;
    if (strcmp(parsed->scheme, "dicom") != 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: not a dicom:// URL", url);
    } else {
        const ImdContext *saved = imd__context_enter(context);
        ok = (context == NULL || imd__check_options(error, context, options, NULL)) &&
             imd__dicom_echo(error, parsed, options, status);
        imd__context_leave(saved);
    }
    imd_url_destroy(parsed);
    return ok;
}
