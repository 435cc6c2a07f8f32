/*
 * association.c: the requestor's side of a DICOM association over TCP
 * (PS3.8 §7.1-§7.3, §9.2: states Sta4-Sta7 of the state machine, the
 * acceptor's states are not ours).
 *
 * The socket is non-blocking and every wait is a poll() in slices of at most
 * 100 ms, so that a cancel (imd_context_cancel) is seen quickly and nothing
 * waits longer than its timeout: connect, ARTIM (the answer to A-ASSOCIATE-RQ
 * and A-RELEASE-RQ, PS3.8 §9.1.5), DIMSE (a response) and idle (the rest of
 * a PDU once it started, and sending). A PDU is read header first; its
 * length is checked against what we negotiated (P-DATA-TF) or a fixed cap
 * (the others) before its buffer grows.
 *
 * TLS (tls.c) sits under the same loop: every byte goes through
 * conn_read/send_iov, which call either recv/sendmsg or the TLS session;
 * a TLS call that must wait says for which event (POLLIN or POLLOUT, from
 * SSL_ERROR_WANT_READ/WRITE) and the same poll with the same deadlines does
 * the waiting. Decrypted bytes OpenSSL holds are seen before any poll
 * (imd__association_wait_message asks imd__tls_pending).
 */
#define _POSIX_C_SOURCE 200809L
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Largest fragment we send even when the peer allows more or sets no limit. */
#define SEND_FRAGMENT_CAP (1u << 20)
/* Largest command set we collect (commands are a few hundred bytes). */
#define COMMAND_CAP (64u << 10)

struct ImdAssociation {
    int fd;
    char *name;
    ImdNetTimeouts timeouts;
    ImdNetAssociate *request, *accepted;
    uint32_t our_max;  /* the longest P-DATA-TF (variable field) we accept */
    uint32_t send_max; /* the longest P-DATA-TF variable field we send */
    uint16_t message_id;
    bool dead;
    bool acceptor;      /* adopted by the acceptor (imd__association_adopt) */
    bool peer_released; /* acceptor: the peer sent A-RELEASE-RQ at a message boundary */
    size_t data_cap;    /* acceptor: data set bytes kept at most (0: no cap) */
    bool data_overflow; /* the last message's data set went over data_cap */
    uint8_t *pdu;
    size_t pdu_capacity;
    const ImdTls *tls_config; /* acceptor: make the handshake before the request */
    ImdTlsSession *tls;       /* NULL over plain TCP */
    bool handshake_failed;    /* acceptor: the TLS handshake did not complete */
    bool peer_closed;         /* the peer closed or reset the connection */
    uint8_t *staging;         /* TLS: one PDU fragment gathered for one SSL_write */
    size_t staging_capacity;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void set_errno(ImdError **error, const char *name, const char *action, int number)
{
    char text[160];
    if (strerror_r(number, text, sizeof text) != 0) {
        snprintf(text, sizeof text, "error %d", number);
    }
    imd_error_set(error, IMD_ERR_NETWORK, "%s: %s: %s", name, action, text);
}

/*
 * Wait until fd is ready for `events` or `deadline` (monotonic ms) passes:
 * NETWORK "timed out after N ms <what>", CANCELLED.
 */
static bool wait_fd(ImdError **error, int fd, short events, int64_t deadline, int timeout_ms,
                    const char *name, const char *what)
{
    for (;;) {
        if (!imd__check_cancel(error, NULL, name)) {
            return false;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            imd_error_set(error, IMD_ERR_NETWORK, "%s: timed out after %d ms %s", name,
                          timeout_ms, what);
            return false;
        }
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)(left < 100 ? left : 100));
        if (n > 0) {
            return true; /* readable, writable, or an error the next call reports */
        }
        if (n < 0 && errno != EINTR) {
            set_errno(error, name, "poll", errno);
            return false;
        }
    }
}

static void drop(ImdAssociation *a)
{
    if (a->tls != NULL) {
        imd__tls_notify(a->tls);
        imd__tls_free(a->tls);
        a->tls = NULL;
    }
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    a->dead = true;
}

/* Send iov[0..count) whole over TLS: gathered into one buffer, so that a
 * PDU fragment is one SSL_write (and as few records as its size needs). */
static bool send_tls(ImdError **error, ImdAssociation *a, struct iovec *iov, int count)
{
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        total += iov[i].iov_len;
    }
    const uint8_t *bytes = iov[0].iov_base;
    if (count > 1) {
        if (total > a->staging_capacity &&
            !imd__grow(error, (void **)&a->staging, &a->staging_capacity, total, 1)) {
            imd__association_fail(a);
            return false;
        }
        size_t at = 0;
        for (int i = 0; i < count; i++) {
            memcpy(a->staging + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        bytes = a->staging;
    }
    int64_t deadline = now_ms() + a->timeouts.idle_ms;
    size_t sent = 0;
    while (sent < total) {
        size_t done = 0;
        short events = 0;
        /* Without partial writes, a retry after WAIT repeats the same call. */
        ImdTlsResult r = imd__tls_write(error, a->tls, bytes + sent, total - sent, &done, &events,
                                        a->name);
        if (r == IMD_TLS_OK) {
            sent += done;
            deadline = now_ms() + a->timeouts.idle_ms;
            continue;
        }
        if (r == IMD_TLS_CLOSED) {
            a->peer_closed = true;
            imd_error_set(error, IMD_ERR_NETWORK, "%s: sending: the peer closed the connection",
                          a->name);
        }
        if (r != IMD_TLS_WAIT ||
            !wait_fd(error, a->fd, events, deadline, a->timeouts.idle_ms, a->name,
                     "sending (the peer stopped reading)")) {
            drop(a);
            return false;
        }
    }
    return true;
}

/* Send iov[0..count) whole (idle timeout while the peer does not read). */
static bool send_iov(ImdError **error, ImdAssociation *a, struct iovec *iov, int count)
{
    if (a->dead) {
        imd_error_set(error, IMD_ERR_NETWORK, "%s: the association is closed", a->name);
        return false;
    }
    if (a->tls != NULL) {
        return send_tls(error, a, iov, count);
    }
    int64_t deadline = now_ms() + a->timeouts.idle_ms;
    while (count > 0) {
        struct msghdr message = {0};
        message.msg_iov = iov;
        message.msg_iovlen = (size_t)count;
        ssize_t n = sendmsg(a->fd, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!wait_fd(error, a->fd, POLLOUT, deadline, a->timeouts.idle_ms, a->name,
                             "sending (the peer stopped reading)")) {
                    drop(a);
                    return false;
                }
                continue;
            }
            set_errno(error, a->name, "sending", errno);
            drop(a);
            return false;
        }
        deadline = now_ms() + a->timeouts.idle_ms; /* progress */
        size_t sent = (size_t)n;
        while (count > 0 && sent >= iov[0].iov_len) {
            sent -= iov[0].iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov[0].iov_base = (uint8_t *)iov[0].iov_base + sent;
            iov[0].iov_len -= sent;
        }
    }
    return true;
}

static bool send_bytes(ImdError **error, ImdAssociation *a, const void *bytes, size_t size)
{
    struct iovec iov = {(void *)(uintptr_t)bytes, size};
    return send_iov(error, a, &iov, 1);
}

/*
 * The seam between plain TCP and TLS for reading: some bytes (OK, *done),
 * WAIT for *events, CLOSED by the peer, or ERROR (*error set).
 */
static ImdTlsResult conn_read(ImdError **error, ImdAssociation *a, uint8_t *out, size_t size,
                              size_t *done, short *events)
{
    if (a->tls != NULL) {
        return imd__tls_read(error, a->tls, out, size, done, events, a->name);
    }
    ssize_t n = recv(a->fd, out, size, 0);
    if (n > 0) {
        *done = (size_t)n;
        return IMD_TLS_OK;
    }
    if (n == 0) {
        return IMD_TLS_CLOSED;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
        *events = POLLIN; /* EINTR: the poll returns at once when bytes are there */
        return IMD_TLS_WAIT;
    }
    a->peer_closed = errno == ECONNRESET;
    set_errno(error, a->name, "receiving", errno);
    return IMD_TLS_ERROR;
}

/* Read exactly `size` bytes before `deadline`; then each further byte within the idle time. */
static bool recv_exact(ImdError **error, ImdAssociation *a, uint8_t *out, size_t size,
                       int64_t deadline, int timeout_ms, const char *what)
{
    size_t got = 0;
    while (got < size) {
        size_t n = 0;
        short events = POLLIN;
        ImdTlsResult r = conn_read(error, a, out + got, size - got, &n, &events);
        if (r == IMD_TLS_OK) {
            got += n;
            deadline = now_ms() + a->timeouts.idle_ms;
            timeout_ms = a->timeouts.idle_ms;
            what = "in the middle of a PDU (the peer stopped sending)";
            continue;
        }
        if (r == IMD_TLS_CLOSED) {
            a->peer_closed = true;
            imd_error_set(error, IMD_ERR_NETWORK, "%s: the peer closed the connection %s",
                          a->name, got == 0 && size == IMD_PDU_HEADER ? "without a word" :
                          "in the middle of a PDU");
            drop(a);
            return false;
        }
        if (r == IMD_TLS_ERROR ||
            !wait_fd(error, a->fd, events, deadline, timeout_ms, a->name, what)) {
            drop(a);
            return false;
        }
    }
    return true;
}

/*
 * Read one whole PDU into a->pdu (header included) within `timeout_ms` for
 * its first bytes. Lengths: P-DATA-TF at most what we announced, the others
 * at most IMD_PDU_MAX_CONTROL, A-RELEASE and A-ABORT exactly 4.
 */
static bool read_pdu(ImdError **error, ImdAssociation *a, int timeout_ms, const char *what,
                     size_t *size)
{
    uint8_t header[IMD_PDU_HEADER];
    if (a->dead) {
        imd_error_set(error, IMD_ERR_NETWORK, "%s: the association is closed", a->name);
        return false;
    }
    if (!recv_exact(error, a, header, sizeof header, now_ms() + timeout_ms, timeout_ms, what)) {
        return false;
    }
    uint8_t type = header[0];
    uint32_t length = imd__load_be32(header + 2);
    uint32_t limit = type == IMD_PDU_DATA_TF ? a->our_max : IMD_PDU_MAX_CONTROL;
    if (type < IMD_PDU_ASSOCIATE_RQ || type > IMD_PDU_ABORT) {
        /* A TLS record (RFC 8446 §5.1: content type 21 alert or 22
         * handshake, then version 3.x) where a PDU belongs: a TLS peer. */
        bool tls_record = a->tls == NULL && (type == 0x15 || type == 0x16) && header[1] == 3;
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: unknown PDU type 0x%02x from the peer%s",
                      a->name, type,
                      !tls_record  ? ""
                      : a->acceptor ? " (a TLS record: the peer speaks TLS, this port does not)"
                                    : " (a TLS record: the peer expects TLS, see the option tls)");
        imd__association_fail(a);
        return false;
    }
    if (length > limit) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: the peer sent a PDU of type 0x%02x with %u bytes, more than the %u "
                      "negotiated (PS3.8 D.1)",
                      a->name, type, length, limit);
        imd__association_fail(a);
        return false;
    }
    size_t total = IMD_PDU_HEADER + (size_t)length;
    if (total > a->pdu_capacity) {
        uint8_t *grown = realloc(a->pdu, total);
        if (grown == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory for a PDU of %zu bytes",
                          a->name, total);
            imd__association_fail(a);
            return false;
        }
        a->pdu = grown;
        a->pdu_capacity = total;
    }
    memcpy(a->pdu, header, sizeof header);
    if (!recv_exact(error, a, a->pdu + IMD_PDU_HEADER, length, now_ms() + a->timeouts.idle_ms,
                    a->timeouts.idle_ms, "in the middle of a PDU (the peer stopped sending)")) {
        return false;
    }
    *size = total;
    return true;
}

/* An A-ABORT or an unexpected PDU where another was expected: the error. */
static void unexpected(ImdError **error, ImdAssociation *a, size_t size, const char *expected)
{
    uint8_t source = 0, reason = 0;
    char text[160];
    if (a->pdu[0] == IMD_PDU_ABORT) {
        if (imd__pdu_decode_abort(error, a->pdu, size, &source, &reason, a->name)) {
            imd_error_set(error, IMD_ERR_NETWORK, "%s: %s", a->name,
                          imd__net_abort_text(source, reason, text, sizeof text));
        }
        drop(a);
        return;
    }
    if (a->pdu[0] == IMD_PDU_RELEASE_RQ && a->acceptor) {
        /* The acceptor's normal end (PS3.8 §7.2.1): answered by
         * imd__association_answer_release, not an abort. */
        a->peer_released = true;
        imd_error_set(error, IMD_ERR_NETWORK, "%s: the peer released the association", a->name);
        return;
    }
    if (a->pdu[0] == IMD_PDU_RELEASE_RQ) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: the peer asked to release the association while %s was expected",
                      a->name, expected);
    } else {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: unexpected PDU type 0x%02x while %s was expected",
                      a->name, a->pdu[0], expected);
    }
    imd__association_fail(a);
}

static void association_free(ImdAssociation *a)
{
    if (a == NULL) {
        return;
    }
    drop(a);
    if (a->request != NULL) {
        imd__net_associate_clear(a->request);
    }
    if (a->accepted != NULL) {
        imd__net_associate_clear(a->accepted);
    }
    free(a->request);
    free(a->accepted);
    free(a->pdu);
    free(a->staging);
    free(a->name);
    free(a);
}

static int connect_to(ImdError **error, const char *host, int port, const ImdNetTimeouts *t,
                      const char *name)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {0}, *list = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, service, &hints, &list);
    if (rc != 0) {
        imd_error_set(error, IMD_ERR_NETWORK, "%s: cannot resolve host \"%s\": %s", name, host,
                      gai_strerror(rc));
        return -1;
    }
    int fd = -1, last = 0;
    int64_t deadline = now_ms() + t->connect_ms;
    for (struct addrinfo *ai = list; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last = errno;
                close(fd);
                fd = -1;
                continue;
            }
            ImdError *wait_error = NULL;
            if (!wait_fd(&wait_error, fd, POLLOUT, deadline, t->connect_ms, name,
                         "connecting")) {
                close(fd);
                freeaddrinfo(list);
                imd_error_propagate(error, wait_error);
                return -1;
            }
            int so_error = 0;
            socklen_t length = sizeof so_error;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0 || so_error != 0) {
                last = so_error != 0 ? so_error : errno;
                close(fd);
                fd = -1;
                continue;
            }
        }
    }
    freeaddrinfo(list);
    if (fd < 0) {
        char action[300];
        snprintf(action, sizeof action, "cannot connect to %s port %d", host, port);
        set_errno(error, name, action, last);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Check the AC against what we proposed (PS3.8 §9.3.3.2). */
static bool check_accept(ImdError **error, ImdAssociation *a)
{
    ImdNetAssociate *ac = a->accepted;
    for (size_t i = 0; i < ac->context_count; i++) {
        ImdNetContext *got = &ac->contexts[i];
        const ImdNetContext *asked = NULL;
        for (size_t j = 0; j < a->request->context_count && asked == NULL; j++) {
            asked = a->request->contexts[j].id == got->id ? &a->request->contexts[j] : NULL;
        }
        if (asked == NULL) {
            imd_error_set(error, IMD_ERR_PROTOCOL,
                          "%s: the peer answered presentation context %u, which was not proposed",
                          a->name, got->id);
            return false;
        }
        memcpy(got->abstract_syntax, asked->abstract_syntax, sizeof got->abstract_syntax);
        if (got->result != IMD_PC_ACCEPTANCE) {
            continue;
        }
        bool proposed = false;
        for (size_t t = 0; t < asked->transfer_syntax_count && !proposed; t++) {
            proposed = strcmp(asked->transfer_syntaxes[t], got->transfer_syntaxes[0]) == 0;
        }
        if (!proposed) {
            imd_error_set(error, IMD_ERR_PROTOCOL,
                          "%s: the peer accepted context %u with transfer syntax %s, which was "
                          "not proposed for it",
                          a->name, got->id, got->transfer_syntaxes[0]);
            return false;
        }
    }
    /* A maximum length too small for a PDV header and a byte is unusable. */
    if (ac->max_length != 0 && ac->max_length < 8) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: the peer's maximum PDU length %u is unusable",
                      a->name, ac->max_length);
        return false;
    }
    a->send_max = ac->max_length == 0 || ac->max_length > SEND_FRAGMENT_CAP ? SEND_FRAGMENT_CAP
                                                                            : ac->max_length;
    return true;
}

/* The TLS handshake on the connected socket within `timeout_ms` (PS3.15
 * B.12: TLS is set up before any PDU). */
static bool tls_handshake(ImdError **error, ImdAssociation *a, const ImdTls *tls,
                          const char *host, int timeout_ms)
{
    a->tls = imd__tls_session(error, tls, a->fd, host, a->name);
    if (a->tls == NULL) {
        drop(a);
        return false;
    }
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        short events = 0;
        ImdTlsResult r = imd__tls_handshake(error, a->tls, &events, a->name);
        if (r == IMD_TLS_OK) {
            if (!a->acceptor) {
                char text[240];
                imd__tls_describe(a->tls, text, sizeof text);
                imd__log(imd__context_current(), IMD_LOG_INFO, "%s: TLS: %s", a->name, text);
            }
            return true;
        }
        if (r != IMD_TLS_WAIT ||
            !wait_fd(error, a->fd, events, deadline, timeout_ms, a->name,
                     "in the TLS handshake (does the peer speak TLS on this port?)")) {
            drop(a);
            return false;
        }
    }
}

void imd__association_tls_text(const ImdAssociation *association, char *out, size_t size)
{
    if (association->tls != NULL) {
        imd__tls_describe(association->tls, out, size);
    } else if (size > 0) {
        out[0] = '\0';
    }
}

ImdAssociation *imd__association_open(ImdError **error, const char *host, int port,
                                      const ImdNetAssociate *request,
                                      const ImdNetTimeouts *timeouts, const ImdTls *tls,
                                      const char *name)
{
    ImdAssociation *a = imd__calloc(error, 1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    a->fd = -1;
    a->timeouts = *timeouts;
    a->name = imd__strdup(error, name);
    a->request = imd__malloc(error, sizeof *a->request);
    a->accepted = imd__calloc(error, 1, sizeof *a->accepted);
    if (a->name == NULL || a->request == NULL || a->accepted == NULL) {
        free(a->request);
        a->request = NULL;
        association_free(a);
        return NULL;
    }
    *a->request = *request;
    /* The identity strings stay the caller's: the copy must not free them. */
    a->request->identity_primary = NULL;
    a->request->identity_secondary = NULL;
    a->our_max = request->max_length != 0 ? request->max_length : IMD_PDU_DEFAULT_MAX;
    a->request->max_length = a->our_max;
    uint8_t *rq = NULL;
    size_t rq_size = 0, size = 0;
    ImdNetAssociate with_identity = *a->request;
    with_identity.identity_primary = request->identity_primary;
    with_identity.identity_secondary = request->identity_secondary;
    if (!imd__pdu_encode_associate(error, IMD_PDU_ASSOCIATE_RQ, &with_identity, &rq, &rq_size) ||
        (a->fd = connect_to(error, host, port, timeouts, name)) < 0 ||
        (tls != NULL && !tls_handshake(error, a, tls, host, timeouts->association_ms))) {
        free(rq);
        association_free(a);
        return NULL;
    }
    /* PS3.8 §9.2: Sta4 -> send A-ASSOCIATE-RQ, Sta5: await AC/RJ with ARTIM. */
    ImdError *answer_error = NULL;
    bool ok = send_bytes(&answer_error, a, rq, rq_size) &&
              read_pdu(&answer_error, a, timeouts->association_ms,
                       "waiting for the answer to the association request", &size);
    free(rq);
    if (!ok) {
        /* A TLS-only node drops a request that is not a ClientHello; a TLS
         * 1.3 server checks the client's certificate after the client's
         * handshake is done, and may close before its alert can be read. */
        if (a->peer_closed && answer_error != NULL) {
            imd_error_set(error, IMD_ERR_NETWORK, "%s (%s)", imd_error_message(answer_error),
                          tls == NULL ? "if the node expects TLS, see the option tls"
                                      : "right after the TLS handshake: does the node require "
                                        "a client certificate (tls_cert, tls_key) or not trust "
                                        "ours?");
            imd_error_clear(&answer_error);
        }
        imd_error_propagate(error, answer_error);
        association_free(a);
        return NULL;
    }
    if (a->pdu[0] == IMD_PDU_ASSOCIATE_AC) {
        ok = imd__pdu_decode_associate(error, a->pdu, size, a->accepted, name) &&
             check_accept(error, a);
        if (!ok) {
            imd__association_fail(a);
        }
    } else if (a->pdu[0] == IMD_PDU_ASSOCIATE_RJ) {
        ImdNetReject reject;
        char text[200];
        if (imd__pdu_decode_reject(error, a->pdu, size, &reject, name)) {
            imd_error_set(error, IMD_ERR_NETWORK, "%s: %s", name,
                          imd__net_reject_text(&reject, text, sizeof text));
        }
        ok = false;
    } else {
        unexpected(error, a, size, "A-ASSOCIATE-AC");
        ok = false;
    }
    if (!ok) {
        association_free(a);
        return NULL;
    }
    bool any = false;
    for (size_t i = 0; i < a->accepted->context_count; i++) {
        any = any || a->accepted->contexts[i].result == IMD_PC_ACCEPTANCE;
    }
    if (!any) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: the peer accepted the association but none of the %zu presentation "
                      "contexts proposed",
                      name, a->request->context_count);
        imd__association_release(NULL, a);
        return NULL;
    }
    return a;
}

const ImdNetAssociate *imd__association_accepted(const ImdAssociation *association)
{
    return association->accepted;
}

const char *imd__association_name(const ImdAssociation *association)
{
    return association->name;
}

const ImdNetTimeouts *imd__association_timeouts(const ImdAssociation *association)
{
    return &association->timeouts;
}

bool imd__association_alive(const ImdAssociation *association)
{
    return association != NULL && !association->dead;
}

uint16_t imd__association_next_message_id(ImdAssociation *association)
{
    association->message_id = (uint16_t)(association->message_id + 1);
    if (association->message_id == 0) {
        association->message_id = 1;
    }
    return association->message_id;
}

uint8_t imd__association_find_context(const ImdAssociation *association,
                                      const char *abstract_syntax, const char *transfer_syntax,
                                      const char **accepted_syntax)
{
    const ImdNetAssociate *ac = association->accepted;
    for (size_t i = 0; i < ac->context_count; i++) {
        const ImdNetContext *pc = &ac->contexts[i];
        if (pc->result == IMD_PC_ACCEPTANCE &&
            strcmp(pc->abstract_syntax, abstract_syntax) == 0 &&
            (transfer_syntax == NULL || strcmp(pc->transfer_syntaxes[0], transfer_syntax) == 0)) {
            if (accepted_syntax != NULL) {
                *accepted_syntax = pc->transfer_syntaxes[0];
            }
            return pc->id;
        }
    }
    return 0;
}

bool imd__association_context_syntaxes(const ImdAssociation *association, uint8_t context_id,
                                        const char **abstract_syntax,
                                        const char **transfer_syntax)
{
    const ImdNetAssociate *ac = association->accepted;
    for (size_t i = 0; i < ac->context_count; i++) {
        const ImdNetContext *pc = &ac->contexts[i];
        if (pc->id == context_id && pc->result == IMD_PC_ACCEPTANCE) {
            *abstract_syntax = pc->abstract_syntax;
            *transfer_syntax = pc->transfer_syntaxes[0];
            return true;
        }
    }
    return false;
}

/* Send `size` bytes as PDVs of one P-DATA-TF each, the last one flagged. */
static bool send_fragments(ImdError **error, ImdAssociation *a, uint8_t context_id, bool command,
                           const uint8_t *bytes, size_t size)
{
    /* The maximum length bounds the PDU's variable field: the PDV item
     * length (4), context ID (1) and control header (1) come off it. */
    size_t room = a->send_max - 6;
    size_t at = 0;
    do {
        if (!imd__check_cancel(error, NULL, a->name)) {
            imd__association_fail(a);
            return false;
        }
        size_t n = size - at < room ? size - at : room;
        bool last = at + n == size;
        uint8_t header[12];
        imd__pdu_data_header(header, context_id, command, last, (uint32_t)n);
        struct iovec iov[2] = {{header, sizeof header}, {(void *)(uintptr_t)(bytes + at), n}};
        if (!send_iov(error, a, iov, n > 0 ? 2 : 1)) {
            return false;
        }
        at += n;
    } while (at < size);
    return true;
}

bool imd__association_send(ImdError **error, ImdAssociation *association, uint8_t context_id,
                           const uint8_t *command, size_t command_size, const uint8_t *data,
                           size_t data_size)
{
    return send_fragments(error, association, context_id, true, command, command_size) &&
           (data == NULL || send_fragments(error, association, context_id, false, data,
                                           data_size));
}

/* ---- receiving a message ---- */

typedef struct Collect {
    ImdAssociation *association;
    uint8_t context_id; /* 0 until the first PDV */
    uint8_t *command, *data;
    size_t command_size, command_capacity, data_size, data_capacity;
    bool command_done, expect_data, data_done;
    size_t discarded; /* data set bytes over the cap, counted but not kept */
} Collect;

static bool append(ImdError **error, uint8_t **buffer, size_t *size, size_t *capacity,
                   const uint8_t *bytes, size_t n, size_t cap, const char *name, const char *what)
{
    if (n > cap - *size) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: a %s longer than %zu bytes", name, what, cap);
        return false;
    }
    if (*size + n > *capacity) {
        size_t grown = *capacity > 0 ? *capacity : 4096;
        while (grown < *size + n) {
            grown = grown > cap / 2 ? cap : grown * 2;
        }
        if (!imd__grow(error, (void **)buffer, capacity, grown, 1)) {
            return false;
        }
    }
    if (n > 0) {
        memcpy(*buffer + *size, bytes, n);
    }
    *size += n;
    return true;
}

static bool collect_pdv(ImdError **error, void *user, const ImdNetPdv *pdv)
{
    Collect *c = user;
    ImdAssociation *a = c->association;
    bool known = false;
    for (size_t i = 0; i < a->accepted->context_count && !known; i++) {
        known = a->accepted->contexts[i].id == pdv->context_id &&
                a->accepted->contexts[i].result == IMD_PC_ACCEPTANCE;
    }
    if (!known) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: a PDV on presentation context %u, which was not accepted", a->name,
                      pdv->context_id);
        return false;
    }
    if (c->context_id != 0 && pdv->context_id != c->context_id) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: a message's fragments on presentation contexts %u and %u", a->name,
                      c->context_id, pdv->context_id);
        return false;
    }
    c->context_id = pdv->context_id;
    if (pdv->command) {
        if (c->command_done) {
            imd_error_set(error, IMD_ERR_PROTOCOL, "%s: a command fragment after the last one",
                          a->name);
            return false;
        }
        if (!append(error, &c->command, &c->command_size, &c->command_capacity, pdv->data,
                     pdv->size, COMMAND_CAP, a->name, "DIMSE command")) {
            return false;
        }
        if (pdv->last) {
            c->command_done = true;
            ImdDicomDataSet *command = imd__dimse_decode_command(error, c->command,
                                                                 c->command_size, a->name);
            if (command == NULL) {
                return false;
            }
            uint16_t type = IMD_DIMSE_NO_DATASET;
            if (!imd__dimse_get_us(command, IMD_TAG_CommandDataSetType, &type)) {
                imd_dicom_dataset_destroy(command);
                imd_error_set(error, IMD_ERR_PROTOCOL,
                              "%s: a DIMSE command without Command Data Set Type", a->name);
                return false;
            }
            imd_dicom_dataset_destroy(command);
            c->expect_data = type != IMD_DIMSE_NO_DATASET;
        }
        return true;
    }
    if (!c->command_done || !c->expect_data || c->data_done) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: a data set fragment %s", a->name,
                      !c->command_done ? "before the command's last fragment"
                      : !c->expect_data ? "after a command that announced none"
                                        : "after the data set's last fragment");
        return false;
    }
    /* Over the acceptor's cap the rest of the data set is read and dropped,
     * so that the message can still be answered (with a failure status). */
    if (c->discarded > 0 || (a->data_cap != 0 && pdv->size > a->data_cap - c->data_size)) {
        c->discarded += c->data_size + pdv->size;
        free(c->data);
        c->data = NULL;
        c->data_size = c->data_capacity = 0;
        c->data_done = pdv->last;
        return true;
    }
    /* Data sets grow only with bytes received, so memory follows the input. */
    if (!append(error, &c->data, &c->data_size, &c->data_capacity, pdv->data, pdv->size,
                SIZE_MAX / 2, a->name, "data set")) {
        return false;
    }
    c->data_done = pdv->last;
    return true;
}

bool imd__association_receive(ImdError **error, ImdAssociation *association, int timeout_ms,
                              uint8_t *context_id, uint8_t **command, size_t *command_size,
                              uint8_t **data, size_t *data_size)
{
    ImdAssociation *a = association;
    Collect c = {a, 0, NULL, NULL, 0, 0, 0, 0, false, false, false, 0};
    a->data_overflow = false;
    bool first = true;
    while (!c.command_done || (c.expect_data && !c.data_done)) {
        size_t size = 0;
        if (!read_pdu(error, a, first ? timeout_ms : a->timeouts.idle_ms,
                      first ? "waiting for a DIMSE response" : "waiting for the rest of a message",
                      &size)) {
            goto failed;
        }
        first = false;
        if (a->pdu[0] != IMD_PDU_DATA_TF) {
            unexpected(error, a, size, "P-DATA-TF");
            goto failed;
        }
        if (!imd__pdu_decode_data(error, a->pdu, size, collect_pdv, &c, a->name)) {
            imd__association_fail(a);
            goto failed;
        }
    }
    *context_id = c.context_id;
    *command = c.command;
    *command_size = c.command_size;
    *data = c.data;
    *data_size = c.data_size;
    if (c.discarded > 0) {
        a->data_overflow = true;
        *data_size = c.discarded; /* the size it had; *data is NULL */
    }
    return true;
failed:
    free(c.command);
    free(c.data);
    return false;
}

bool imd__association_release(ImdError **error, ImdAssociation *association)
{
    ImdAssociation *a = association;
    if (a == NULL) {
        return true;
    }
    bool ok = true;
    if (!a->dead) {
        /* PS3.8 §7.2: A-RELEASE-RQ, then wait (ARTIM) for A-RELEASE-RP. */
        uint8_t rq[10];
        size_t size = 0;
        imd__pdu_encode_short(IMD_PDU_RELEASE_RQ, 0, 0, rq);
        ok = send_bytes(error, a, rq, sizeof rq);
        while (ok) {
            ok = read_pdu(error, a, a->timeouts.association_ms,
                          "waiting for the answer to the release request", &size);
            if (ok && a->pdu[0] == IMD_PDU_RELEASE_RP) {
                break;
            }
            if (ok && a->pdu[0] != IMD_PDU_DATA_TF) {
                unexpected(error, a, size, "A-RELEASE-RP");
                ok = false;
            }
            /* P-DATA-TF still in flight before the RP (PS3.8 §7.2.2) is dropped. */
        }
        if (!ok) {
            imd__association_fail(a);
        }
    }
    association_free(a);
    return ok;
}

void imd__association_fail(ImdAssociation *association)
{
    if (association == NULL || association->dead) {
        return;
    }
    /* A-ABORT, source 0 (service user), reason not specified (PS3.8 §9.3.8);
     * one attempt without waiting: the peer may be gone. */
    uint8_t abort_pdu[10];
    imd__pdu_encode_short(IMD_PDU_ABORT, 0, 0, abort_pdu);
    if (association->tls != NULL) {
        size_t done = 0;
        short events = 0;
        (void)imd__tls_write(NULL, association->tls, abort_pdu, sizeof abort_pdu, &done, &events,
                             association->name);
    } else {
        (void)send(association->fd, abort_pdu, sizeof abort_pdu, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    drop(association);
}

void imd__association_abort(ImdAssociation *association)
{
    imd__association_fail(association);
    association_free(association);
}

/* ---- the acceptor's side (PS3.8 §9.2: Sta2, Sta3, Sta6, Sta8) ---- */

ImdAssociation *imd__association_adopt(ImdError **error, int fd, const ImdNetTimeouts *timeouts,
                                       uint32_t our_max, const ImdTls *tls, const char *name)
{
    ImdAssociation *a = imd__calloc(error, 1, sizeof *a);
    if (a == NULL) {
        close(fd);
        return NULL;
    }
    a->fd = fd;
    a->acceptor = true;
    a->tls_config = tls;
    a->timeouts = *timeouts;
    a->our_max = our_max != 0 ? our_max : IMD_PDU_DEFAULT_MAX;
    a->name = imd__strdup(error, name);
    a->request = imd__calloc(error, 1, sizeof *a->request);
    a->accepted = imd__calloc(error, 1, sizeof *a->accepted);
    if (a->name == NULL || a->request == NULL || a->accepted == NULL) {
        association_free(a);
        return NULL;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        set_errno(error, name, "making the socket non-blocking", errno);
        association_free(a);
        return NULL;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return a;
}

bool imd__association_read_request(ImdError **error, ImdAssociation *a, ImdNetAssociate *rq)
{
    size_t size = 0;
    /* Sta2: ARTIM runs until the A-ASSOCIATE-RQ is in (PS3.8 §9.1.5, AE-5);
     * over TLS it covers the handshake too (a peer that never finishes one
     * holds nothing longer than one that never sends a request). */
    int64_t start = now_ms();
    if (a->tls_config != NULL && a->tls == NULL) {
        if (!tls_handshake(error, a, a->tls_config, NULL, a->timeouts.association_ms)) {
            a->handshake_failed = true;
            return false;
        }
    }
    int left = a->timeouts.association_ms - (int)(now_ms() - start);
    if (!read_pdu(error, a, left > 1 ? left : 1, "waiting for the association request", &size)) {
        return false;
    }
    if (a->pdu[0] != IMD_PDU_ASSOCIATE_RQ) {
        unexpected(error, a, size, "A-ASSOCIATE-RQ");
        return false;
    }
    if (!imd__pdu_decode_associate(error, a->pdu, size, rq, a->name)) {
        imd__association_fail(a);
        return false;
    }
    return true;
}

/*
 * After our last PDU (A-ASSOCIATE-RJ, A-RELEASE-RP): the requestor closes
 * the connection (PS3.8 §9.2, Sta13). Closing first with unread bytes could
 * reset the connection and lose the answer, so wait (at most 1 s) for the
 * peer's close, dropping anything it still sends.
 */
static void linger_close(ImdAssociation *a)
{
    if (a->fd < 0) {
        return;
    }
    /* Over TLS the peer reads our last PDU before our close_notify; what it
     * sends after is drained below as raw bytes. */
    imd__tls_notify(a->tls);
    (void)shutdown(a->fd, SHUT_WR);
    int64_t deadline = now_ms() + 1000;
    uint8_t sink[512];
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {a->fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            break;
        }
        ssize_t n = recv(a->fd, sink, sizeof sink, 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            break;
        }
    }
    drop(a);
}

bool imd__association_accept(ImdError **error, ImdAssociation *a, const ImdNetAssociate *rq,
                             const ImdNetAssociate *ac)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    *a->request = *rq;
    a->request->identity_primary = a->request->identity_secondary = NULL;
    *a->accepted = *ac;
    a->accepted->identity_primary = a->accepted->identity_secondary = NULL;
    a->accepted->identity_answered = false;
    /* Our maximum is what the AC announces; the peer's bounds what we send. */
    a->accepted->max_length = a->our_max;
    a->send_max = rq->max_length == 0 || rq->max_length > SEND_FRAGMENT_CAP ? SEND_FRAGMENT_CAP
                                                                            : rq->max_length;
    if (a->send_max < 8) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: the peer's maximum PDU length %u is unusable",
                      a->name, rq->max_length);
        imd__association_fail(a);
        return false;
    }
    if (!imd__pdu_encode_associate(error, IMD_PDU_ASSOCIATE_AC, a->accepted, &bytes, &size)) {
        imd__association_fail(a);
        return false;
    }
    bool ok = send_bytes(error, a, bytes, size);
    free(bytes);
    return ok;
}

bool imd__association_reject(ImdError **error, ImdAssociation *a, uint8_t result, uint8_t source,
                             uint8_t reason)
{
    /* A-ASSOCIATE-RJ (PS3.8 §9.3.4): type 3, length 4, reserved, result,
     * source, reason. */
    uint8_t rj[10] = {IMD_PDU_ASSOCIATE_RJ, 0, 0, 0, 0, 4, 0, result, source, reason};
    bool ok = send_bytes(error, a, rj, sizeof rj);
    linger_close(a);
    return ok;
}

int imd__association_wait_message(ImdAssociation *a, int timeout_ms, const atomic_int *stop)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (stop != NULL && atomic_load(stop)) {
            return -1;
        }
        /* OpenSSL may hold a whole decrypted PDU that poll() cannot see. */
        if (a->dead || (a->tls != NULL && imd__tls_pending(a->tls))) {
            return 1; /* a dead association: the receive reports why */
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            return 0;
        }
        struct pollfd p = {a->fd, POLLIN, 0};
        int n = poll(&p, 1, (int)(left < 100 ? left : 100));
        if (n > 0) {
            return 1;
        }
    }
}

bool imd__association_handshake_failed(const ImdAssociation *a)
{
    return a->handshake_failed;
}

bool imd__association_peer_released(const ImdAssociation *a)
{
    return a->peer_released;
}

bool imd__association_answer_release(ImdError **error, ImdAssociation *a)
{
    uint8_t rp[10];
    imd__pdu_encode_short(IMD_PDU_RELEASE_RP, 0, 0, rp);
    bool ok = !a->dead && send_bytes(error, a, rp, sizeof rp);
    linger_close(a);
    association_free(a);
    return ok;
}

void imd__association_free(ImdAssociation *a)
{
    association_free(a);
}

void imd__association_set_data_cap(ImdAssociation *a, size_t cap)
{
    a->data_cap = cap;
}

bool imd__association_data_overflowed(const ImdAssociation *a)
{
    return a->data_overflow;
}
