/*
 * fuzz_scp.c: the Storage SCP's association handling (src/net/acceptor.c,
 * the acceptor side of association.c): what a stranger connecting to the
 * receiver controls.
 *
 * The input is the byte stream a peer sends, written into one end of a
 * socket pair and closed; imd__net_serve serves the other end as it would a
 * TCP connection (A-ASSOCIATE-RQ, the admission checks, P-DATA-TF with
 * C-ECHO and C-STORE, release, abort). Its answers pile up unread in the
 * socket buffer (inputs are capped so they fit). Beyond "no crash, no
 * leak": the store callback only ever sees a data set on an accepted
 * context, and the report is consistent.
 */
#define _POSIX_C_SOURCE 200809L
#include "net/net.h"

#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_scp: invariant failed: %s\n", what);
        abort();
    }
}

static bool store(ImdError **error, void *user, const char *sop_class, const char *sop_instance,
                  const char *transfer_syntax, uint8_t *bytes, size_t size, uint16_t *status)
{
    (void)error;
    size_t *count = user;
    require(sop_class != NULL && sop_instance != NULL && sop_instance[0] != '\0' &&
                transfer_syntax != NULL && transfer_syntax[0] != '\0',
            "a stored instance has its UIDs and an accepted syntax");
    (void)size;
    free(bytes);
    (*count)++;
    /* Alternate statuses: the answer path for failures is exercised too. */
    *status = (*count % 3 == 0) ? 0xA700 : 0x0000;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The answers stay unread in the pair's buffer: keep the input (and so
     * the number of answers) well below its size. */
    if (size > 32768) {
        return 0;
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        return 0;
    }
    size_t at = 0;
    while (at < size) {
        ssize_t n = write(pair[1], data + at, size - at);
        if (n <= 0) {
            break;
        }
        at += (size_t)n;
    }
    (void)shutdown(pair[1], SHUT_WR);
    static const char *const callers[] = {"SENDER"};
    static const char *const addresses[] = {"fuzz"};
    ImdNetScpPolicy policy = {0};
    policy.aet = "FUZZ";
    /* The first byte's low bits choose the admission rules exercised. */
    if (size > 10 && (data[10] & 1u)) {
        policy.calling_aets = callers;
        policy.calling_count = 1;
    }
    if (size > 10 && (data[10] & 2u)) {
        policy.addresses = addresses;
        policy.address_count = 1;
    }
    policy.max_pdu = 4096;
    policy.max_instance = 1024;
    policy.timeouts.connect_ms = 100;
    policy.timeouts.association_ms = 100;
    policy.timeouts.dimse_ms = 100;
    policy.timeouts.idle_ms = 100;
    size_t stored = 0;
    ImdNetScpReport report;
    ImdError *error = NULL;
    bool ok = imd__net_serve(&error, pair[0], "fuzz", &policy, store, &stored, NULL, &report);
    require(ok == (error == NULL), "false exactly when an error is set");
    require(report.stored + report.failed >= stored, "every stored instance is counted");
    require(!(report.rejected && (report.stored > 0 || report.echoes > 0)),
            "nothing is served on a rejected association");
    imd_error_clear(&error);
    close(pair[1]);
    return 0;
}
