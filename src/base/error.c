/* error.c: ImdError, the one way the library reports failure. */
#include "internal.h"

#include <stdio.h>

struct ImdError {
    ImdErrorCode code;
    char *message;
    bool is_static;
};

/* Used when there is no memory left to describe an error (design rule 3). */
static ImdError nomem_error = {IMD_ERR_NOMEM, (char *)"out of memory", true};

static const struct {
    ImdErrorCode code;
    const char *name;
    const char *description;
} error_names[] = {
    {IMD_ERR_NOMEM, "IMD_ERR_NOMEM", "out of memory"},
    {IMD_ERR_INVALID_ARG, "IMD_ERR_INVALID_ARG", "invalid argument"},
    {IMD_ERR_IO, "IMD_ERR_IO", "input/output error"},
    {IMD_ERR_CORRUPT, "IMD_ERR_CORRUPT", "corrupt input"},
    {IMD_ERR_UNSUPPORTED, "IMD_ERR_UNSUPPORTED", "unsupported input"},
    {IMD_ERR_NOT_RECOGNIZED, "IMD_ERR_NOT_RECOGNIZED", "not recognized"},
    {IMD_ERR_CANNOT_SORT, "IMD_ERR_CANNOT_SORT", "cannot sort"},
    {IMD_ERR_LIMIT, "IMD_ERR_LIMIT", "limit exceeded"},
    {IMD_ERR_NOT_FOUND, "IMD_ERR_NOT_FOUND", "not found"},
    {IMD_ERR_NETWORK, "IMD_ERR_NETWORK", "network error"},
    {IMD_ERR_PROTOCOL, "IMD_ERR_PROTOCOL", "protocol error"},
    {IMD_ERR_PLUGIN_ABI, "IMD_ERR_PLUGIN_ABI", "plugin ABI mismatch"},
    {IMD_ERR_INTERNAL, "IMD_ERR_INTERNAL", "internal error"},
    {IMD_ERR_BAD_STATE, "IMD_ERR_BAD_STATE", "bad state"},
    {IMD_ERR_CANCELLED, "IMD_ERR_CANCELLED", "cancelled"},
};

ImdErrorCode imd_error_code(const ImdError *error)
{
    return error != NULL ? error->code : (ImdErrorCode)0;
}

const char *imd_error_message(const ImdError *error)
{
    return error != NULL && error->message != NULL ? error->message : "";
}

const char *imd_error_code_name(ImdErrorCode code)
{
    for (size_t i = 0; i < sizeof error_names / sizeof error_names[0]; i++) {
        if (error_names[i].code == code) {
            return error_names[i].name;
        }
    }
    return "IMD_ERR_UNKNOWN";
}

const char *imd_error_code_description(ImdErrorCode code)
{
    for (size_t i = 0; i < sizeof error_names / sizeof error_names[0]; i++) {
        if (error_names[i].code == code) {
            return error_names[i].description;
        }
    }
    return "unknown error";
}

void imd_error_clear(ImdError **error)
{
    if (error == NULL || *error == NULL) {
        return;
    }
    if (!(*error)->is_static) {
        free((*error)->message);
        free(*error);
    }
    *error = NULL;
}

void imd_error_set(ImdError **error, ImdErrorCode code, const char *format, ...)
{
    if (error == NULL || *error != NULL) {
        /* The first failure is the cause; a second set is a caller bug we tolerate. */
        return;
    }
    ImdError *made = imd__malloc(NULL, sizeof *made);
    if (made == NULL) {
        *error = &nomem_error;
        return;
    }
    va_list args;
    va_start(args, format);
    made->message = imd__vsprintf(NULL, format, args);
    va_end(args);
    if (made->message == NULL) {
        free(made);
        *error = &nomem_error;
        return;
    }
    made->code = code;
    made->is_static = false;
    *error = made;
}

void imd_error_prefix(ImdError **error, const char *format, ...)
{
    if (error == NULL || *error == NULL || (*error)->is_static) {
        return;
    }
    va_list args;
    va_start(args, format);
    char *prefix = imd__vsprintf(NULL, format, args);
    va_end(args);
    if (prefix == NULL) {
        return; /* keep the message we have rather than lose it */
    }
    char *joined = imd__sprintf(NULL, "%s%s", prefix, (*error)->message);
    free(prefix);
    if (joined != NULL) {
        free((*error)->message);
        (*error)->message = joined;
    }
}

void imd_error_propagate(ImdError **destination, ImdError *source)
{
    if (source == NULL) {
        return;
    }
    if (destination == NULL || *destination != NULL) {
        imd_error_clear(&source);
        return;
    }
    *destination = source;
}

bool imd__close_result(ImdError **error, bool ok, ImdError *local, char *name, const char *what)
{
    if (!ok && local == NULL) {
        imd_error_set(&local, IMD_ERR_INTERNAL, "%s: close failed without a reason",
                      name != NULL ? name : what);
    }
    free(name);
    if (ok) {
        imd_error_clear(&local);
    } else {
        imd_error_propagate(error, local);
    }
    return ok;
}
