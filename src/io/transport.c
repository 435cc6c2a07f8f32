/*
 * transport.c: the host functions on an ImdTransport (include/imagedata/
 * plugin.h). Like the archive functions, they refuse unsafe names for
 * writing and hold transport plugins to the result/error contract: a
 * failure always carries an error, a method a transport lacks is
 * IMD_ERR_UNSUPPORTED naming the transport.
 */
#include "internal.h"

const char *imd_transport_name(const ImdTransport *transport)
{
    return transport != NULL && transport->name != NULL ? transport->name : "";
}

const char *imd_transport_object(const ImdTransport *transport)
{
    return transport != NULL ? transport->object : NULL;
}

static bool check_transport(ImdError **error, const ImdTransport *transport,
                            const char *function)
{
    if (transport == NULL || transport->methods == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no transport", function);
        return false;
    }
    return true;
}

/* Pass on a plugin's error, or make one when it failed without saying why. */
static void plugin_failed(ImdError **error, ImdError *local, const ImdTransport *transport,
                          const char *what, const char *name)
{
    if (local == NULL) {
        imd_error_set(&local, IMD_ERR_INTERNAL, "%s: %s%s%s failed without a reason",
                      imd_transport_name(transport), name != NULL ? name : "",
                      name != NULL ? ": " : "", what);
    }
    imd_error_propagate(error, local);
}

bool imd_transport_list(ImdError **error, ImdTransport *transport, ImdVisitFn *visit,
                        void *user)
{
    if (!check_transport(error, transport, "imd_transport_list")) {
        return false;
    }
    if (visit == NULL || transport->methods->list == NULL) {
        imd_error_set(error, visit == NULL ? IMD_ERR_INVALID_ARG : IMD_ERR_UNSUPPORTED,
                      "%s: %s", imd_transport_name(transport),
                      visit == NULL ? "list without a visitor" : "this transport cannot list");
        return false;
    }
    ImdError *local = NULL;
    if (!transport->methods->list(&local, transport, visit, user)) {
        plugin_failed(error, local, transport, "listing", NULL);
        return false;
    }
    imd_error_clear(&local);
    return true;
}

static ImdStream *open_stream(ImdError **error, ImdTransport *transport, const char *name,
                              ImdMode mode)
{
    const char *function = mode == IMD_MODE_READ ? "imd_transport_open_read"
                                                 : "imd_transport_create";
    if (!check_transport(error, transport, function)) {
        return NULL;
    }
    if (name == NULL || (mode == IMD_MODE_WRITE && !imd_member_name_is_safe(name))) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: %s \"%s\"",
                      imd_transport_name(transport),
                      name == NULL ? "no object name" : "unsafe object name",
                      name != NULL ? name : "");
        return NULL;
    }
    ImdStream *(*method)(ImdError **, ImdTransport *, const char *) =
        mode == IMD_MODE_READ ? transport->methods->open_read : transport->methods->create;
    if (method == NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: this transport cannot %s",
                      imd_transport_name(transport), mode == IMD_MODE_READ ? "read" : "write");
        return NULL;
    }
    ImdError *local = NULL;
    ImdStream *stream = method(&local, transport, name);
    if (stream == NULL) {
        plugin_failed(error, local, transport, mode == IMD_MODE_READ ? "open" : "create", name);
        return NULL;
    }
    imd_error_clear(&local);
    return stream;
}

ImdStream *imd_transport_open_read(ImdError **error, ImdTransport *transport, const char *name)
{
    return open_stream(error, transport, name, IMD_MODE_READ);
}

ImdStream *imd_transport_create(ImdError **error, ImdTransport *transport, const char *name)
{
    return open_stream(error, transport, name, IMD_MODE_WRITE);
}

char *imd_transport_local_path(const ImdTransport *transport, const char *name)
{
    if (transport == NULL || transport->methods == NULL ||
        transport->methods->local_path == NULL || name == NULL) {
        return NULL;
    }
    return transport->methods->local_path(transport, name);
}

bool imd_transport_close(ImdError **error, ImdTransport *transport)
{
    if (transport == NULL) {
        return true;
    }
    if (transport->methods == NULL || transport->methods->close == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_transport_close: transport without methods");
        return false;
    }
    char *name = imd__strdup(NULL, imd_transport_name(transport));
    ImdError *local = NULL;
    bool ok = transport->methods->close(&local, transport);
    return imd__close_result(error, ok, local, name, "transport");
}

void imd_transport_abort(ImdTransport *transport)
{
    if (transport == NULL || transport->methods == NULL) {
        return;
    }
    if (transport->methods->abort != NULL) {
        transport->methods->abort(transport);
    } else if (transport->methods->close != NULL) {
        (void)transport->methods->close(NULL, transport);
    }
}
