/*
 * acceptor.c: the Storage SCP's side of an association (issue 18): a
 * listening socket, the acceptor's negotiation (PS3.8 §9.2 Sta2 -> Sta3 ->
 * Sta6, A-ASSOCIATE-AC/RJ §9.3.3, §9.3.4) and the DIMSE loop answering
 * C-ECHO and C-STORE (PS3.7 §9.3.1, §9.3.5; PS3.4 Annex A, B).
 *
 * Threads are not made here: the caller (the receiver in src/pipeline, the
 * C-MOVE listener in src/transports/dicom.c) serves each connection on a
 * thread of its own and bounds how many there are (policy.busy refuses with
 * "local limit exceeded"). Every wait is bounded: ARTIM for the request, the
 * idle timeout between messages and inside a PDU; `*stop` is looked at
 * between messages, every 100 ms while waiting.
 */
#define _POSIX_C_SOURCE 200809L
#include "net/net.h"

#include "dicom/codec.h"

#include <stdatomic.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ImdNetListener {
    int fd;
    int port;
};

static void errno_text(int number, char *text, size_t size)
{
    if (strerror_r(number, text, size) != 0) {
        snprintf(text, size, "error %d", number);
    }
}

ImdNetListener *imd__net_listen(ImdError **error, const char *address, int port)
{
    if (address == NULL || address[0] == '\0') {
        address = "127.0.0.1";
    }
    if (port < 0 || port > 65535) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "listen port %d: not 0 to 65535", port);
        return NULL;
    }
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {0}, *list = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    /* Numeric only: we bind to the address given, never to what a name
     * happens to resolve to. */
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(address, service, &hints, &list);
    if (rc != 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "listen address \"%s\": %s (a numeric IPv4 or "
                      "IPv6 address)", address, gai_strerror(rc));
        return NULL;
    }
    int fd = socket(list->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int number = errno;
    if (fd >= 0) {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (list->ai_family == AF_INET6) {
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        }
        if (bind(fd, list->ai_addr, list->ai_addrlen) != 0 || listen(fd, 64) != 0) {
            number = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    if (fd < 0) {
        char text[128];
        errno_text(number, text, sizeof text);
        imd_error_set(error, IMD_ERR_NETWORK, "cannot listen on %s port %d: %s", address, port,
                      text);
        return NULL;
    }
    struct sockaddr_storage bound;
    socklen_t length = sizeof bound;
    int actual = port;
    if (getsockname(fd, (struct sockaddr *)&bound, &length) == 0) {
        actual = bound.ss_family == AF_INET6
                     ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                     : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    }
    ImdNetListener *listener = imd__calloc(error, 1, sizeof *listener);
    if (listener == NULL) {
        close(fd);
        return NULL;
    }
    listener->fd = fd;
    listener->port = actual;
    return listener;
}

int imd__net_listener_port(const ImdNetListener *listener)
{
    return listener->port;
}

int imd__net_accept(ImdError **error, ImdNetListener *listener, int timeout_ms, char *peer,
                    size_t peer_size)
{
    struct pollfd p = {listener->fd, POLLIN, 0};
    int n = poll(&p, 1, timeout_ms);
    if (n <= 0) {
        if (n < 0 && errno != EINTR) {
            char text[128];
            errno_text(errno, text, sizeof text);
            imd_error_set(error, IMD_ERR_NETWORK, "waiting for connections: %s", text);
        }
        return -1;
    }
    struct sockaddr_storage from;
    socklen_t length = sizeof from;
    int fd = accept(listener->fd, (struct sockaddr *)&from, &length);
    if (fd < 0) {
        /* The peer may have gone between poll and accept; out of
         * descriptors is also not fatal: the next round tries again. */
        return -1;
    }
    /* Not inherited by converters the receiver starts. */
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    peer[0] = '\0';
    char host[INET6_ADDRSTRLEN + 16];
    if (getnameinfo((struct sockaddr *)&from, length, host, sizeof host, NULL, 0,
                    NI_NUMERICHOST) == 0) {
        snprintf(peer, peer_size, "%s", host);
    }
    return fd;
}

void imd__net_listener_close(ImdNetListener *listener)
{
    if (listener != NULL) {
        close(listener->fd);
        free(listener);
    }
}

/* ---- negotiation ---- */

/*
 * The image storage SOP classes we accept (PS3.4 Annex B.5, Table B.5-1):
 * classes whose instances carry Pixel Data that the DICOM reader turns into
 * a series. Non-image classes (SR, presentation states, waveforms, raw data)
 * are rejected as "abstract syntax not supported".
 */
static const char *const image_storage[] = {
    "1.2.840.10008.5.1.4.1.1.1",       /* Computed Radiography */
    "1.2.840.10008.5.1.4.1.1.1.1",     /* Digital X-Ray - For Presentation */
    "1.2.840.10008.5.1.4.1.1.1.1.1",   /* Digital X-Ray - For Processing */
    "1.2.840.10008.5.1.4.1.1.1.2",     /* Digital Mammography - For Presentation */
    "1.2.840.10008.5.1.4.1.1.1.2.1",   /* Digital Mammography - For Processing */
    "1.2.840.10008.5.1.4.1.1.1.3",     /* Digital Intra-Oral X-Ray - For Presentation */
    "1.2.840.10008.5.1.4.1.1.1.3.1",   /* Digital Intra-Oral X-Ray - For Processing */
    "1.2.840.10008.5.1.4.1.1.2",       /* CT */
    "1.2.840.10008.5.1.4.1.1.2.1",     /* Enhanced CT */
    "1.2.840.10008.5.1.4.1.1.2.2",     /* Legacy Converted Enhanced CT */
    "1.2.840.10008.5.1.4.1.1.3.1",     /* Ultrasound Multi-frame */
    "1.2.840.10008.5.1.4.1.1.4",       /* MR */
    "1.2.840.10008.5.1.4.1.1.4.1",     /* Enhanced MR */
    "1.2.840.10008.5.1.4.1.1.4.3",     /* Enhanced MR Color */
    "1.2.840.10008.5.1.4.1.1.4.4",     /* Legacy Converted Enhanced MR */
    "1.2.840.10008.5.1.4.1.1.6.1",     /* Ultrasound */
    "1.2.840.10008.5.1.4.1.1.6.2",     /* Enhanced US Volume */
    "1.2.840.10008.5.1.4.1.1.7",       /* Secondary Capture */
    "1.2.840.10008.5.1.4.1.1.7.1",     /* Multi-frame Single Bit SC */
    "1.2.840.10008.5.1.4.1.1.7.2",     /* Multi-frame Grayscale Byte SC */
    "1.2.840.10008.5.1.4.1.1.7.3",     /* Multi-frame Grayscale Word SC */
    "1.2.840.10008.5.1.4.1.1.7.4",     /* Multi-frame True Color SC */
    "1.2.840.10008.5.1.4.1.1.12.1",    /* X-Ray Angiographic */
    "1.2.840.10008.5.1.4.1.1.12.1.1",  /* Enhanced XA */
    "1.2.840.10008.5.1.4.1.1.12.2",    /* X-Ray Radiofluoroscopic */
    "1.2.840.10008.5.1.4.1.1.12.2.1",  /* Enhanced XRF */
    "1.2.840.10008.5.1.4.1.1.13.1.1",  /* X-Ray 3D Angiographic */
    "1.2.840.10008.5.1.4.1.1.13.1.3",  /* Breast Tomosynthesis */
    "1.2.840.10008.5.1.4.1.1.20",      /* Nuclear Medicine */
    "1.2.840.10008.5.1.4.1.1.30",      /* Parametric Map */
    "1.2.840.10008.5.1.4.1.1.66.4",    /* Segmentation */
    "1.2.840.10008.5.1.4.1.1.77.1.1",  /* VL Endoscopic */
    "1.2.840.10008.5.1.4.1.1.77.1.2",  /* VL Microscopic */
    "1.2.840.10008.5.1.4.1.1.77.1.4",  /* VL Photographic */
    "1.2.840.10008.5.1.4.1.1.77.1.5.1", /* Ophthalmic Photography 8 Bit */
    "1.2.840.10008.5.1.4.1.1.77.1.5.2", /* Ophthalmic Photography 16 Bit */
    "1.2.840.10008.5.1.4.1.1.77.1.5.4", /* Ophthalmic Tomography */
    "1.2.840.10008.5.1.4.1.1.77.1.6",  /* VL Whole Slide Microscopy */
    "1.2.840.10008.5.1.4.1.1.128",     /* Positron Emission Tomography */
    "1.2.840.10008.5.1.4.1.1.128.1",   /* Legacy Converted Enhanced PET */
    "1.2.840.10008.5.1.4.1.1.130",     /* Enhanced PET */
    "1.2.840.10008.5.1.4.1.1.481.1",   /* RT Image */
    "1.2.840.10008.5.1.4.1.1.481.2",   /* RT Dose */
};

static bool is_image_storage(const char *uid)
{
    for (size_t i = 0; i < sizeof image_storage / sizeof image_storage[0]; i++) {
        if (strcmp(image_storage[i], uid) == 0) {
            return true;
        }
    }
    return false;
}

/* Transfer syntaxes we take: the two native little-endian ones, and every
 * encapsulated one a codec of ours decodes (the data set is stored as sent). */
static bool is_readable_syntax(const char *uid)
{
    if (strcmp(uid, IMD_UID_IMPLICIT_VR_LE) == 0 || strcmp(uid, IMD_UID_EXPLICIT_VR_LE) == 0) {
        return true;
    }
    return imd__codec_is_encapsulated(uid) && imd__codec_find(NULL, uid) != NULL;
}

/* Answer every proposed context (PS3.8 §9.3.3.2): the first transfer syntax
 * the requestor listed that we read (its order is its preference). */
static size_t answer_contexts(const ImdNetAssociate *rq, ImdNetAssociate *ac)
{
    size_t accepted = 0;
    ac->context_count = rq->context_count;
    for (size_t i = 0; i < rq->context_count; i++) {
        const ImdNetContext *asked = &rq->contexts[i];
        ImdNetContext *answer = &ac->contexts[i];
        memset(answer, 0, sizeof *answer);
        answer->id = asked->id;
        memcpy(answer->abstract_syntax, asked->abstract_syntax, sizeof answer->abstract_syntax);
        bool verification = strcmp(asked->abstract_syntax, IMD_NET_VERIFICATION_SOP_CLASS) == 0;
        if (!verification && !is_image_storage(asked->abstract_syntax)) {
            answer->result = IMD_PC_ABSTRACT_NOT_SUPPORTED;
            continue;
        }
        answer->result = IMD_PC_TRANSFER_NOT_SUPPORTED;
        for (size_t t = 0; t < asked->transfer_syntax_count; t++) {
            const char *syntax = asked->transfer_syntaxes[t];
            /* Verification has no data set: only the default syntax matters. */
            bool usable = verification ? strcmp(syntax, IMD_UID_IMPLICIT_VR_LE) == 0 ||
                                             strcmp(syntax, IMD_UID_EXPLICIT_VR_LE) == 0
                                       : is_readable_syntax(syntax);
            if (usable) {
                answer->result = IMD_PC_ACCEPTANCE;
                memcpy(answer->transfer_syntaxes[0], syntax, IMD_NET_UID);
                answer->transfer_syntax_count = 1;
                accepted++;
                break;
            }
        }
    }
    return accepted;
}

static bool in_list(const char *value, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(list[i], value) == 0) {
            return true;
        }
    }
    return false;
}

/* A-ASSOCIATE-RJ values (PS3.8 Table 9-21). */
enum {
    RJ_PERMANENT = 1,
    RJ_TRANSIENT = 2,
    RJ_SOURCE_USER = 1,     /* DICOM UL service-user */
    RJ_SOURCE_ACSE = 2,     /* DICOM UL service-provider (ACSE related function) */
    RJ_SOURCE_PRESENTATION = 3,
    RJ_NO_REASON = 1,
    RJ_APPLICATION_CONTEXT = 2,
    RJ_CALLING_AE = 3,
    RJ_CALLED_AE = 7,
    RJ_PROTOCOL_VERSION = 2, /* with source 2 */
    RJ_LOCAL_LIMIT = 2       /* with source 3 */
};

/* Decide on the request; false with *result etc. set for a rejection. */
static bool admit(const ImdNetScpPolicy *policy, const char *peer, const ImdNetAssociate *rq,
                  uint8_t rj[3], char *reason, size_t size)
{
    if (policy->busy) {
        rj[0] = RJ_TRANSIENT, rj[1] = RJ_SOURCE_PRESENTATION, rj[2] = RJ_LOCAL_LIMIT;
        snprintf(reason, size, "too many associations (local limit exceeded)");
        return false;
    }
    if (strcmp(rq->application_context, IMD_NET_APPLICATION_CONTEXT) != 0) {
        rj[0] = RJ_PERMANENT, rj[1] = RJ_SOURCE_USER, rj[2] = RJ_APPLICATION_CONTEXT;
        snprintf(reason, size, "application context %.64s not supported",
                 rq->application_context);
        return false;
    }
    if (strcmp(rq->called_aet, policy->aet) != 0) {
        rj[0] = RJ_PERMANENT, rj[1] = RJ_SOURCE_USER, rj[2] = RJ_CALLED_AE;
        snprintf(reason, size, "called AE title \"%s\" is not ours (\"%s\")", rq->called_aet,
                 policy->aet);
        return false;
    }
    if (policy->calling_aets != NULL &&
        !in_list(rq->calling_aet, policy->calling_aets, policy->calling_count)) {
        rj[0] = RJ_PERMANENT, rj[1] = RJ_SOURCE_USER, rj[2] = RJ_CALLING_AE;
        snprintf(reason, size, "calling AE title \"%s\" is not in the allow-list",
                 rq->calling_aet);
        return false;
    }
    if (policy->addresses != NULL && !in_list(peer, policy->addresses, policy->address_count)) {
        rj[0] = RJ_PERMANENT, rj[1] = RJ_SOURCE_USER, rj[2] = RJ_NO_REASON;
        snprintf(reason, size, "address %s is not in the allow-list", peer);
        return false;
    }
    return true;
}

/* ---- the DIMSE loop ---- */

typedef struct Limit {
    ImdDimseStoreFn *store;
    void *user;
    uint64_t max_instance;
    ImdNetScpReport *report;
} Limit;

/* The store callback behind the instance size limit and the report's counts. */
static bool limited_store(ImdError **error, void *user, const char *sop_class,
                          const char *sop_instance, const char *transfer_syntax, uint8_t *data,
                          size_t size, uint16_t *status)
{
    Limit *l = user;
    if (l->max_instance != 0 && size > l->max_instance) {
        free(data);
        *status = 0xA700; /* Refused: out of resources (PS3.4 Table B.2-1) */
        l->report->failed++;
        return true;
    }
    if (!l->store(error, l->user, sop_class, sop_instance, transfer_syntax, data, size, status)) {
        return false;
    }
    if (imd__dimse_status_kind(*status) == IMD_STATUS_FAILURE) {
        l->report->failed++;
    } else {
        l->report->stored++;
    }
    return true;
}

static void set_reason(ImdNetScpReport *report, ImdError *error)
{
    if (report->reason[0] == '\0' && error != NULL) {
        snprintf(report->reason, sizeof report->reason, "%s", imd_error_message(error));
    }
}

bool imd__net_serve(ImdError **error, int fd, const char *peer, const ImdNetScpPolicy *policy,
                    ImdDimseStoreFn *store, void *user, const atomic_int *stop,
                    ImdNetScpReport *report)
{
    memset(report, 0, sizeof *report);
    char name[128];
    snprintf(name, sizeof name, "association from %s", peer);
    ImdAssociation *a = imd__association_adopt(error, fd, &policy->timeouts, policy->max_pdu,
                                               policy->tls, name);
    if (a == NULL) {
        return false;
    }
    ImdNetAssociate *rq = calloc(1, sizeof *rq), *ac = calloc(1, sizeof *ac);
    if (rq == NULL || ac == NULL) {
        free(rq);
        free(ac);
        imd__association_abort(a);
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", name);
        return false;
    }
    ImdError *peer_error = NULL;
    bool ok = true;
    uint8_t rj[3];
    if (!imd__association_read_request(&peer_error, a, rq)) {
        /* A failed TLS handshake refuses this connection only (PS3.15
         * B.12: no PDU is exchanged without TLS on a TLS port). */
        report->rejected = imd__association_handshake_failed(a);
        set_reason(report, peer_error);
        imd__association_abort(a);
        goto done;
    }
    imd__association_tls_text(a, report->tls, sizeof report->tls);
    snprintf(report->calling_aet, sizeof report->calling_aet, "%s", rq->calling_aet);
    snprintf(report->called_aet, sizeof report->called_aet, "%s", rq->called_aet);
    if (!admit(policy, peer, rq, rj, report->reason, sizeof report->reason)) {
        report->rejected = true;
        (void)imd__association_reject(NULL, a, rj[0], rj[1], rj[2]);
        imd__association_free(a);
        goto done;
    }
    /* The AC repeats the AE titles and answers each context (PS3.8 §9.3.3). */
    snprintf(ac->called_aet, sizeof ac->called_aet, "%s", rq->called_aet);
    snprintf(ac->calling_aet, sizeof ac->calling_aet, "%s", rq->calling_aet);
    if (answer_contexts(rq, ac) == 0) {
        /* Nothing usable: an AC with every context refused is allowed, but a
         * rejection tells the requestor more plainly (PS3.8 §7.1.1.7). */
        report->rejected = true;
        snprintf(report->reason, sizeof report->reason,
                 "none of the %zu presentation contexts is an image storage class or "
                 "Verification in a transfer syntax we read",
                 rq->context_count);
        (void)imd__association_reject(NULL, a, RJ_PERMANENT, RJ_SOURCE_USER, RJ_NO_REASON);
        imd__association_free(a);
        goto done;
    }
    if (!imd__association_accept(&peer_error, a, rq, ac)) {
        set_reason(report, peer_error);
        imd__association_abort(a);
        goto done;
    }
    Limit limit = {store, user, policy->max_instance, report};
    /* A data set over the limit is not kept in memory: it is read, dropped
     * and answered 0xA700 (limited_store) from its size alone. */
    if (policy->max_instance != 0 && policy->max_instance < SIZE_MAX) {
        imd__association_set_data_cap(a, (size_t)policy->max_instance);
    }
    for (;;) {
        int ready = imd__association_wait_message(a, policy->timeouts.idle_ms, stop);
        if (ready <= 0) {
            snprintf(report->reason, sizeof report->reason, "%s",
                     ready == 0 ? "no message within the idle timeout" : "shutting down");
            imd__association_abort(a);
            break;
        }
        uint8_t context = 0, *command_bytes = NULL, *data = NULL;
        size_t command_size = 0, data_size = 0;
        if (!imd__association_receive(&peer_error, a, policy->timeouts.idle_ms, &context,
                                      &command_bytes, &command_size, &data, &data_size)) {
            if (imd__association_peer_released(a)) {
                report->released = true;
                (void)imd__association_answer_release(NULL, a);
            } else {
                set_reason(report, peer_error);
                imd__association_abort(a);
            }
            break;
        }
        if (data == NULL && imd__association_data_overflowed(a)) {
            data = malloc(1); /* a stand-in: limited_store refuses it by its size */
            if (data == NULL) {
                free(command_bytes);
                imd__association_abort(a);
                ok = false;
                imd_error_set(&peer_error, IMD_ERR_NOMEM, "%s: out of memory", name);
                break;
            }
        }
        ImdDicomDataSet *command = imd__dimse_decode_command(&peer_error, command_bytes,
                                                             command_size, name);
        free(command_bytes);
        uint16_t field = 0;
        if (command == NULL || !imd__dimse_get_us(command, IMD_TAG_CommandField, &field)) {
            if (command != NULL) {
                imd_error_set(&peer_error, IMD_ERR_PROTOCOL, "%s: a command without a field",
                              name);
            }
            set_reason(report, peer_error);
            imd_dicom_dataset_destroy(command);
            free(data);
            imd__association_abort(a);
            break;
        }
        bool answered = false;
        const char *abstract = NULL, *syntax = NULL;
        (void)imd__association_context_syntaxes(a, context, &abstract, &syntax);
        if (field == IMD_DIMSE_C_ECHO_RQ &&
            strcmp(abstract, IMD_NET_VERIFICATION_SOP_CLASS) == 0) {
            free(data);
            answered = imd__dimse_answer_echo(&peer_error, a, context, command);
            report->echoes += answered;
        } else if (field == IMD_DIMSE_C_STORE_RQ &&
                   strcmp(abstract, IMD_NET_VERIFICATION_SOP_CLASS) != 0) {
            answered = imd__dimse_answer_store(&peer_error, a, context, command, &data,
                                               data_size, limited_store, &limit);
            if (!answered && peer_error != NULL &&
                imd_error_code(peer_error) == IMD_ERR_NOMEM) {
                ok = false;
            }
        } else {
            /* A service we do not provide, or on the wrong context: PS3.7
             * §9.1 leaves no answer to give but an abort. */
            free(data);
            imd_error_set(&peer_error, IMD_ERR_PROTOCOL,
                          "%s: command 0x%04X on presentation context %u (%.64s) is not served",
                          name, field, context, abstract);
        }
        imd_dicom_dataset_destroy(command);
        if (!answered) {
            set_reason(report, peer_error);
            imd__association_abort(a);
            break;
        }
    }
done:
    if (!ok && peer_error != NULL) {
        imd_error_propagate(error, peer_error);
        peer_error = NULL;
    }
    imd_error_clear(&peer_error);
    imd__net_associate_clear(rq);
    imd__net_associate_clear(ac);
    free(rq);
    free(ac);
    return ok;
}

/* ---- a short-lived Storage SCP for C-MOVE (PS3.4 C.4.2.2) ---- */

struct ImdNetMoveListener {
    ImdNetListener *listener;
    ImdNetScpPolicy policy;
    char aet[17];
    ImdDimseStoreFn *store;
    void *user;
    atomic_int finish; /* stop accepting once nothing is being served */
    atomic_int abort_now;
    size_t stored, failed, associations;
    char reason[200];
    pthread_t thread;
};

static void *move_thread(void *argument)
{
    ImdNetMoveListener *m = argument;
    /* The C-MOVE SCP opens its sub-associations while the C-MOVE is open;
     * serve them one by one (it needs no more at once) until told to end. */
    while (!atomic_load(&m->finish)) {
        char peer[64];
        int fd = imd__net_accept(NULL, m->listener, 100, peer, sizeof peer);
        if (fd < 0) {
            continue;
        }
        ImdNetScpReport report;
        if (!imd__net_serve(NULL, fd, peer, &m->policy, m->store, m->user, &m->abort_now,
                            &report)) {
            snprintf(m->reason, sizeof m->reason, "out of memory");
        }
        m->associations++;
        m->stored += report.stored;
        m->failed += report.failed;
        if ((report.rejected || !report.released) && report.reason[0] != '\0') {
            snprintf(m->reason, sizeof m->reason, "%s", report.reason);
        }
    }
    return NULL;
}

ImdNetMoveListener *imd__net_move_listener_start(ImdError **error, const char *address, int port,
                                                 const char *aet, const ImdNetTimeouts *timeouts,
                                                 uint32_t max_pdu, ImdDimseStoreFn *store,
                                                 void *user)
{
    ImdNetMoveListener *m = imd__calloc(error, 1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    snprintf(m->aet, sizeof m->aet, "%s", aet);
    m->policy.aet = m->aet;
    m->policy.max_pdu = max_pdu;
    m->policy.timeouts = *timeouts;
    m->store = store;
    m->user = user;
    m->listener = imd__net_listen(error, address, port);
    if (m->listener == NULL) {
        free(m);
        return NULL;
    }
    if (pthread_create(&m->thread, NULL, move_thread, m) != 0) {
        imd_error_set(error, IMD_ERR_NOMEM, "cannot start the C-MOVE listener's thread");
        imd__net_listener_close(m->listener);
        free(m);
        return NULL;
    }
    return m;
}

void imd__net_move_listener_finish(ImdNetMoveListener *m, bool abort_now, size_t *stored,
                                   size_t *failed, char *reason, size_t reason_size)
{
    if (m == NULL) {
        return;
    }
    atomic_store(&m->finish, 1);
    if (abort_now) {
        atomic_store(&m->abort_now, 1);
    }
    pthread_join(m->thread, NULL);
    imd__net_listener_close(m->listener);
    if (stored != NULL) {
        *stored = m->stored;
    }
    if (failed != NULL) {
        *failed = m->failed;
    }
    if (reason != NULL && reason_size > 0) {
        snprintf(reason, reason_size, "%s", m->reason);
    }
    free(m);
}
