/*
 * net.h: the DICOM network layer for a client (issue 17), between src/dicom
 * and the transports. Not installed.
 *
 * - pdu.c: the upper layer's PDUs (PS3.8 §9.3): A-ASSOCIATE-RQ/AC/RJ with
 *   their items, P-DATA-TF with its PDVs, A-RELEASE-RQ/RP and A-ABORT,
 *   encoded and decoded. Every length is checked against the bytes there are
 *   before anything is read or allocated.
 * - association.c: the client side of an association over TCP (PS3.8 §7,
 *   §9.2 state machine, requestor side only): connect, negotiate, send and
 *   receive DIMSE messages fragmented into P-DATA-TF PDUs, release, abort.
 *   Every wait has a timeout and polls the context's cancel flag.
 * - tls.c: TLS under the upper layer (PS3.15 B.12, BCP 195) with OpenSSL;
 *   association.c reads and writes through it when an association has a
 *   TLS session, through plain sockets otherwise.
 * - dimse.c: DIMSE messages (PS3.7 §9, Annex E): a command set in Implicit
 *   VR Little Endian (an ImdDicomDataSet of group 0000 elements) and an
 *   optional data set; C-ECHO and C-STORE, and their statuses.
 */
#ifndef IMAGEDATA_NET_H
#define IMAGEDATA_NET_H

#include "dicom/dicom_internal.h"

#include <stdatomic.h>
#include <stdint.h>

/* The DICOM Application Context Name (PS3.7 Annex A.2.1). */
#define IMD_NET_APPLICATION_CONTEXT "1.2.840.10008.3.1.1.1"
/* Verification SOP Class (PS3.4 Annex A). */
#define IMD_NET_VERIFICATION_SOP_CLASS "1.2.840.10008.1.1"
/* Our implementation class UID: the same as in the files we write (src/dicom/write.c). */
#define IMD_NET_IMPLEMENTATION_CLASS_UID "2.25.145306289640711235384622394312380416533"

/* PDU types (PS3.8 §9.3.1, Table 9-11 ...). */
enum {
    IMD_PDU_ASSOCIATE_RQ = 0x01,
    IMD_PDU_ASSOCIATE_AC = 0x02,
    IMD_PDU_ASSOCIATE_RJ = 0x03,
    IMD_PDU_DATA_TF = 0x04,
    IMD_PDU_RELEASE_RQ = 0x05,
    IMD_PDU_RELEASE_RP = 0x06,
    IMD_PDU_ABORT = 0x07
};

/* Bytes of a PDU header: type, reserved, 32-bit big-endian length (PS3.8 §9.3.1). */
#define IMD_PDU_HEADER 6u
/* The smallest maximum length a peer may announce that we still use (PS3.8 D.1:
 * a P-DATA-TF needs room for a PDV header and some data). */
#define IMD_PDU_MIN_LENGTH 1024u
/* The longest PDU other than P-DATA-TF we accept: associations carry at most
 * 128 contexts of a few UIDs each; 1 MiB is far above any real one. */
#define IMD_PDU_MAX_CONTROL (1u << 20)
/* Our default and largest maximum length for P-DATA-TF we receive. */
#define IMD_PDU_DEFAULT_MAX 65536u
#define IMD_PDU_LARGEST_MAX (16u << 20)

#define IMD_NET_MAX_CONTEXTS 128      /* odd IDs 1..255 (PS3.8 §9.3.2.2) */
#define IMD_NET_MAX_SYNTAXES 16       /* transfer syntaxes we keep per context */
#define IMD_NET_MAX_ROLES 128
#define IMD_NET_UID 65                /* 64 characters and NUL (PS3.5 §9.1) */

/* Presentation context results in an A-ASSOCIATE-AC (PS3.8 Table 9-18). */
enum {
    IMD_PC_ACCEPTANCE = 0,
    IMD_PC_USER_REJECTION = 1,
    IMD_PC_NO_REASON = 2,
    IMD_PC_ABSTRACT_NOT_SUPPORTED = 3,
    IMD_PC_TRANSFER_NOT_SUPPORTED = 4,
    IMD_PC_NOT_ANSWERED = 0xff /* ours: the AC did not mention the context */
};

typedef struct ImdNetContext {
    uint8_t id;
    char abstract_syntax[IMD_NET_UID];             /* RQ (and copied into the AC's answer) */
    char transfer_syntaxes[IMD_NET_MAX_SYNTAXES][IMD_NET_UID]; /* RQ: proposed; AC: [0] */
    size_t transfer_syntax_count;
    uint8_t result; /* AC */
} ImdNetContext;

typedef struct ImdNetRole {
    char sop_class[IMD_NET_UID];
    bool scu, scp;
} ImdNetRole;

/* What an A-ASSOCIATE-RQ or -AC carries (PS3.8 §9.3.2, §9.3.3, Annex D). */
typedef struct ImdNetAssociate {
    char called_aet[17], calling_aet[17]; /* trailing spaces removed */
    char application_context[IMD_NET_UID];
    ImdNetContext contexts[IMD_NET_MAX_CONTEXTS];
    size_t context_count;
    uint32_t max_length;                  /* 0: no limit (PS3.8 D.1) */
    char implementation_class_uid[IMD_NET_UID];
    char implementation_version[17];
    ImdNetRole roles[IMD_NET_MAX_ROLES];
    size_t role_count;
    uint16_t async_invoked, async_performed; /* 0 when absent */
    /* User Identity (PS3.7 D.3.3.7): RQ type 1 username, 2 username and
     * passcode; AC: the server response (primary). Owned, may be NULL. */
    uint8_t identity_type;
    bool identity_response_requested;
    char *identity_primary, *identity_secondary;
    size_t identity_primary_length, identity_secondary_length;
    bool identity_answered; /* AC: a User Identity item was present */
} ImdNetAssociate;

void imd__net_associate_clear(ImdNetAssociate *associate);

/*
 * Encode an A-ASSOCIATE-RQ (`type` IMD_PDU_ASSOCIATE_RQ) or -AC into new
 * memory (*pdu, free()). INVALID_ARG for a field that does not fit.
 */
bool imd__pdu_encode_associate(ImdError **error, uint8_t type, const ImdNetAssociate *associate,
                               uint8_t **pdu, size_t *size);
/*
 * Decode a whole A-ASSOCIATE-RQ or -AC PDU (header included). PROTOCOL naming
 * `name`, the item and the reason for anything malformed; LIMIT beyond our
 * caps. `out` is cleared first and always left valid for clear().
 */
bool imd__pdu_decode_associate(ImdError **error, const uint8_t *pdu, size_t size,
                               ImdNetAssociate *out, const char *name);

/* A-ASSOCIATE-RJ (PS3.8 §9.3.4) and A-ABORT (§9.3.8) fields. */
typedef struct ImdNetReject {
    uint8_t result, source, reason;
} ImdNetReject;
bool imd__pdu_decode_reject(ImdError **error, const uint8_t *pdu, size_t size, ImdNetReject *out,
                            const char *name);
/* "rejected permanently by the called AE: called AE title not recognized" */
const char *imd__net_reject_text(const ImdNetReject *reject, char *buffer, size_t size);
bool imd__pdu_decode_abort(ImdError **error, const uint8_t *pdu, size_t size, uint8_t *source,
                           uint8_t *reason, const char *name);
const char *imd__net_abort_text(uint8_t source, uint8_t reason, char *buffer, size_t size);

/* The 10 bytes of A-RELEASE-RQ/RP and A-ABORT (fixed length 4). */
void imd__pdu_encode_short(uint8_t type, uint8_t byte3, uint8_t byte4, uint8_t out[10]);

/* One PDV of a P-DATA-TF (PS3.8 §9.3.5.1, Annex E.2): points into the PDU. */
typedef struct ImdNetPdv {
    uint8_t context_id;
    bool command; /* message control header bit 0 */
    bool last;    /* bit 1: the last fragment of the command or data set */
    const uint8_t *data;
    size_t size;
} ImdNetPdv;

/*
 * Visit the PDVs of a whole P-DATA-TF PDU in order. PROTOCOL for a PDU
 * without PDVs, a PDV length below 2 or past the PDU's end, reserved bits
 * set; a visit returning false stops (its error is the answer).
 */
bool imd__pdu_decode_data(ImdError **error, const uint8_t *pdu, size_t size,
                          bool (*visit)(ImdError **error, void *user, const ImdNetPdv *pdv),
                          void *user, const char *name);
/* Write the 12 header bytes of a P-DATA-TF holding one PDV of `data_size` bytes. */
void imd__pdu_data_header(uint8_t out[12], uint8_t context_id, bool command, bool last,
                          uint32_t data_size);

/* ---- TLS (tls.c; docs/network.md "TLS") ---- */

/* What the tls_* options give. */
typedef struct ImdTlsConfig {
    const char *cert, *key; /* PEM certificate (chain) and its private key; NULL: none */
    const char *ca;         /* PEM trust anchors; NULL: the system's (client), none (server) */
    bool verify;            /* client: verify the server (chain, host); server: require and
                             * verify a client certificate when `ca` is given */
} ImdTlsConfig;

/* A TLS configuration (an SSL_CTX), shared read-only by the associations
 * of a transport or a receiver, on any thread. */
typedef struct ImdTls ImdTls;
/* Is TLS built in (OpenSSL found at build time)? */
bool imd__tls_available(void);
/* Load and check the files (INVALID_ARG naming the option, the file and the
 * reason: unreadable, not a certificate, key mismatch); UNSUPPORTED without
 * OpenSSL. `name` starts the messages. */
ImdTls *imd__tls_create(ImdError **error, const ImdTlsConfig *config, bool server,
                        const char *name);
void imd__tls_destroy(ImdTls *tls);

/* One connection's TLS state on a non-blocking socket. */
typedef struct ImdTlsSession ImdTlsSession;
typedef enum ImdTlsResult {
    IMD_TLS_OK,     /* done (*done bytes for read and write) */
    IMD_TLS_WAIT,   /* poll for *events, then call again with the same arguments */
    IMD_TLS_CLOSED, /* the peer closed (or reset) the connection */
    IMD_TLS_ERROR   /* *error set (NETWORK: handshake failure with OpenSSL's reason, the
                     * peer not verified, ...); the session may only be freed */
} ImdTlsResult;
/* A session on `fd` (not taken); `host` (client): the name or address the
 * server's certificate must carry when verifying. */
ImdTlsSession *imd__tls_session(ImdError **error, const ImdTls *tls, int fd, const char *host,
                                const char *name);
ImdTlsResult imd__tls_handshake(ImdError **error, ImdTlsSession *session, short *events,
                                const char *name);
ImdTlsResult imd__tls_read(ImdError **error, ImdTlsSession *session, void *buffer, size_t size,
                           size_t *done, short *events, const char *name);
ImdTlsResult imd__tls_write(ImdError **error, ImdTlsSession *session, const void *buffer,
                            size_t size, size_t *done, short *events, const char *name);
/* Decrypted bytes already buffered (poll() cannot see them). */
bool imd__tls_pending(const ImdTlsSession *session);
/* Send close_notify once if the session is healthy; never waits. */
void imd__tls_notify(ImdTlsSession *session);
void imd__tls_free(ImdTlsSession *session);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384, peer certificate CN=..." for logs. */
void imd__tls_describe(const ImdTlsSession *session, char *out, size_t size);

/* ---- the association (association.c) ---- */

typedef struct ImdNetTimeouts {
    int connect_ms;     /* TCP connect */
    int association_ms; /* ARTIM: A-ASSOCIATE-AC/RJ and A-RELEASE-RP (PS3.8 §9.1.5) */
    int dimse_ms;       /* a DIMSE response */
    int idle_ms;        /* between two PDUs / any bytes of a PDU once started */
} ImdNetTimeouts;

#define IMD_NET_DEFAULT_CONNECT_MS 10000
#define IMD_NET_DEFAULT_ASSOCIATION_MS 30000
#define IMD_NET_DEFAULT_DIMSE_MS 60000
#define IMD_NET_DEFAULT_IDLE_MS 60000

typedef struct ImdAssociation ImdAssociation;

/*
 * Connect to host:port and negotiate `request` (its max_length is what we
 * receive; 0 in it means IMD_PDU_DEFAULT_MAX). NETWORK when the connection
 * fails or times out, or the peer rejects (the reason in the message) or
 * aborts; PROTOCOL for a malformed answer; CANCELLED.
 * `name` (the URL) starts every message. With `tls` (NULL: plain TCP) the
 * TLS handshake follows the connection, within the association timeout, and
 * the server must carry `host` in its certificate when verifying.
 */
ImdAssociation *imd__association_open(ImdError **error, const char *host, int port,
                                      const ImdNetAssociate *request,
                                      const ImdNetTimeouts *timeouts, const ImdTls *tls,
                                      const char *name);
/* "TLSv1.3 ..." when the association runs over TLS (imd__tls_describe), else "". */
void imd__association_tls_text(const ImdAssociation *association, char *out, size_t size);
/* The peer's A-ASSOCIATE-AC (accepted contexts, its max length ...). */
const ImdNetAssociate *imd__association_accepted(const ImdAssociation *association);
/* The context ID accepted for `abstract_syntax` with `transfer_syntax`
 * (NULL: any), or 0; *accepted_syntax is the one accepted. */
uint8_t imd__association_find_context(const ImdAssociation *association,
                                      const char *abstract_syntax, const char *transfer_syntax,
                                      const char **accepted_syntax);
/* The abstract and transfer syntax of accepted context `context_id`, or false. */
bool imd__association_context_syntaxes(const ImdAssociation *association, uint8_t context_id,
                                        const char **abstract_syntax,
                                        const char **transfer_syntax);
/*
 * Send a DIMSE message on context `context_id`: the command bytes, then the
 * data set bytes when `data` is not NULL, fragmented to the peer's maximum.
 */
bool imd__association_send(ImdError **error, ImdAssociation *association, uint8_t context_id,
                           const uint8_t *command, size_t command_size, const uint8_t *data,
                           size_t data_size);
/*
 * Receive a whole DIMSE message within `timeout_ms`: its context, command
 * bytes and (when the command says so, `want_data`) data set bytes (free()).
 * A-ABORT, A-RELEASE-RQ, a PDU longer than we allow, an unknown context:
 * NETWORK/PROTOCOL errors (the association is then dead).
 */
bool imd__association_receive(ImdError **error, ImdAssociation *association, int timeout_ms,
                              uint8_t *context_id, uint8_t **command, size_t *command_size,
                              uint8_t **data, size_t *data_size);
/* A-RELEASE-RQ, wait for A-RELEASE-RP; frees the association in every case. */
bool imd__association_release(ImdError **error, ImdAssociation *association);
/* A-ABORT (when still connected) and free; NULL is fine. */
void imd__association_abort(ImdAssociation *association);
/* A-ABORT and close the connection after a protocol error, keeping the
 * object (its later calls fail with NETWORK); free it with abort(). */
void imd__association_fail(ImdAssociation *association);
/* The URL the association was opened for, which starts its messages. */
const char *imd__association_name(const ImdAssociation *association);
/* Is the association still usable (no abort, no protocol error)? */
bool imd__association_alive(const ImdAssociation *association);
/* A new message ID (1, 2, ...). */
uint16_t imd__association_next_message_id(ImdAssociation *association);
const ImdNetTimeouts *imd__association_timeouts(const ImdAssociation *association);

/* ---- DIMSE (dimse.c) ---- */

/* Command Field values (PS3.7 §E.1). */
enum {
    IMD_DIMSE_C_STORE_RQ = 0x0001,
    IMD_DIMSE_C_STORE_RSP = 0x8001,
    IMD_DIMSE_C_GET_RQ = 0x0010,
    IMD_DIMSE_C_GET_RSP = 0x8010,
    IMD_DIMSE_C_FIND_RQ = 0x0020,
    IMD_DIMSE_C_FIND_RSP = 0x8020,
    IMD_DIMSE_C_MOVE_RQ = 0x0021,
    IMD_DIMSE_C_MOVE_RSP = 0x8021,
    IMD_DIMSE_C_ECHO_RQ = 0x0030,
    IMD_DIMSE_C_ECHO_RSP = 0x8030,
    IMD_DIMSE_C_CANCEL_RQ = 0x0fff
};
/* Command Data Set Type (0000,0800): this value means "no data set" (PS3.7 §E.1). */
#define IMD_DIMSE_NO_DATASET 0x0101u

/* Encode a command set (group 0000 elements only) in Implicit VR LE with its
 * Command Group Length first (PS3.7 §6.3.1, §9.1). */
bool imd__dimse_encode_command(ImdError **error, const ImdDicomDataSet *command, uint8_t **bytes,
                               size_t *size);
/* Decode a command set: PROTOCOL for anything but a flat list of group 0000
 * elements in Implicit VR LE, each within the bytes. */
ImdDicomDataSet *imd__dimse_decode_command(ImdError **error, const uint8_t *bytes, size_t size,
                                           const char *name);
/* A US element of a command, or false. */
bool imd__dimse_get_us(const ImdDicomDataSet *command, uint32_t tag, uint16_t *value);

/* Status classes (PS3.7 Annex C). */
typedef enum ImdDimseStatusKind {
    IMD_STATUS_SUCCESS,
    IMD_STATUS_WARNING,
    IMD_STATUS_FAILURE,
    IMD_STATUS_PENDING,
    IMD_STATUS_CANCEL
} ImdDimseStatusKind;
ImdDimseStatusKind imd__dimse_status_kind(uint16_t status);
/* A short description of a C-STORE status (PS3.4 Table B.2-1), or of its class. */
const char *imd__dimse_status_text(uint16_t status);

typedef struct ImdDimseResult {
    uint16_t status;
    char comment[80]; /* Error Comment (0000,0902), "" when absent */
} ImdDimseResult;

/* C-ECHO on an accepted Verification context; the response's status. */
bool imd__dimse_echo(ImdError **error, ImdAssociation *association, ImdDimseResult *result);
/*
 * C-STORE of one instance whose data set is already encoded in the accepted
 * transfer syntax of `context_id`. A response with any status is success of
 * this call (the status is in *result); errors are the association's.
 */
bool imd__dimse_store(ImdError **error, ImdAssociation *association, uint8_t context_id,
                      const char *sop_class, const char *sop_instance, const uint8_t *data,
                      size_t data_size, ImdDimseResult *result);
/*
 * The same in two steps, so that a sender makes its next data set while the
 * peer stores this one (one operation outstanding: PS3.7 §9.1.1 without an
 * asynchronous operations window): _send the request and data set (*message_id
 * its Message ID), _wait for its response.
 */
bool imd__dimse_store_send(ImdError **error, ImdAssociation *association, uint8_t context_id,
                           const char *sop_class, const char *sop_instance, const uint8_t *data,
                           size_t data_size, uint16_t *message_id);
bool imd__dimse_store_wait(ImdError **error, ImdAssociation *association, uint8_t context_id,
                           uint16_t message_id, ImdDimseResult *result);

/*
 * C-FIND (PS3.7 §9.1.2, §9.3.2; PS3.4 Annex C.4.1): send `identifier`
 * (a data set already encoded in the accepted syntax of `context_id`) under
 * `sop_class` (the Information Model - FIND class), then receive responses
 * until the final one: each pending response's identifier goes to `match`
 * (bytes in the context's syntax; returning false cancels nothing but stops
 * with its error). *result is the final status (success, cancel, failure).
 */
typedef bool ImdDimseMatchFn(ImdError **error, void *user, const uint8_t *identifier,
                             size_t size);
bool imd__dimse_find(ImdError **error, ImdAssociation *association, uint8_t context_id,
                     const char *sop_class, const uint8_t *identifier, size_t identifier_size,
                     ImdDimseMatchFn *match, void *user, ImdDimseResult *result);

/*
 * C-GET (PS3.7 §9.1.3, §9.3.3; PS3.4 Annex C.4.3): send `identifier`, then
 * serve the C-STORE sub-operations the peer sends on the same association
 * (we hold the SCP role for storage classes, PS3.7 D.3.3.4): each data set
 * goes to `store` with its context's transfer syntax, which returns the
 * C-STORE-RSP status to send (0x0000, or a failure such as 0xA700); a
 * false return is an error that ends the retrieve. Pending C-GET-RSPs are
 * skipped; the final one's status is *result, its sub-operation counts in
 * `counts` (remaining, completed, failed, warning; 0 when absent).
 */
typedef bool ImdDimseStoreFn(ImdError **error, void *user, const char *sop_class,
                             const char *sop_instance, const char *transfer_syntax,
                             uint8_t *data, size_t size, uint16_t *status);
bool imd__dimse_get(ImdError **error, ImdAssociation *association, uint8_t context_id,
                    const char *sop_class, const uint8_t *identifier, size_t identifier_size,
                    ImdDimseStoreFn *store, void *user, ImdDimseResult *result,
                    uint16_t counts[4]);

/* ---- the acceptor's side of an association (association.c) ---- */

/*
 * Take an accepted connection (fd, closed by the association from now on):
 * Sta2 of PS3.8 §9.2. `our_max` is the longest P-DATA-TF we accept. With
 * `tls` (NULL: plain TCP), read_request first makes the TLS handshake.
 */
ImdAssociation *imd__association_adopt(ImdError **error, int fd, const ImdNetTimeouts *timeouts,
                                       uint32_t our_max, const ImdTls *tls, const char *name);
/* (TLS: the handshake, then) read and decode the A-ASSOCIATE-RQ, all within
 * the association timeout (ARTIM). A failed handshake is NETWORK. */
bool imd__association_read_request(ImdError **error, ImdAssociation *association,
                                   ImdNetAssociate *request);
/* Send A-ASSOCIATE-AC `ac` (contexts answered, abstract syntaxes filled in
 * for our own lookups) for `request`; the association is then established. */
bool imd__association_accept(ImdError **error, ImdAssociation *association,
                             const ImdNetAssociate *request, const ImdNetAssociate *ac);
/* Send A-ASSOCIATE-RJ (PS3.8 Table 9-21 values) and close; free() after. */
bool imd__association_reject(ImdError **error, ImdAssociation *association, uint8_t result,
                             uint8_t source, uint8_t reason);
/*
 * Wait up to `timeout_ms` for the next PDU to start: 1 when bytes are there
 * (buffered TLS bytes count), 0 on timeout, -1 when `*stop` became true
 * (checked every 100 ms).
 */
int imd__association_wait_message(ImdAssociation *association, int timeout_ms,
                                  const atomic_int *stop);
/* Did read_request fail in the TLS handshake? */
bool imd__association_handshake_failed(const ImdAssociation *association);
/* Did the last receive fail because the peer sent A-RELEASE-RQ? */
bool imd__association_peer_released(const ImdAssociation *association);
/* Answer the peer's A-RELEASE-RQ with A-RELEASE-RP, close and free. */
bool imd__association_answer_release(ImdError **error, ImdAssociation *association);
/* Keep at most `cap` bytes of a received data set (0: no cap): a longer one
 * is read to its end and dropped; receive() then gives *data NULL and
 * *data_size its size, and data_overflowed() is true. */
void imd__association_set_data_cap(ImdAssociation *association, size_t cap);
bool imd__association_data_overflowed(const ImdAssociation *association);
/* Free without sending anything (after reject, or when already dead). */
void imd__association_free(ImdAssociation *association);

/* ---- the SCP's DIMSE (dimse.c) ---- */

/*
 * Answer a C-STORE-RQ (`request` decoded, its data set bytes *request_data,
 * taken): `store` gets the data set and returns the status the C-STORE-RSP
 * carries (PS3.4 Table B.2-1). A false return from `store` aborts.
 */
bool imd__dimse_answer_store(ImdError **error, ImdAssociation *association, uint8_t context,
                             const ImdDicomDataSet *request, uint8_t **request_data,
                             size_t data_size, ImdDimseStoreFn *store, void *user);
/* Answer a C-ECHO-RQ with success (PS3.7 §9.3.5.2). */
bool imd__dimse_answer_echo(ImdError **error, ImdAssociation *association, uint8_t context,
                            const ImdDicomDataSet *request);
/*
 * C-MOVE (PS3.7 §9.3.4; PS3.4 C.4.2): ask the peer to send what `identifier`
 * matches to AE `destination` (on associations of its own); wait for the
 * final response: its status in *result, counts (remaining, completed,
 * failed, warning) as for C-GET.
 */
bool imd__dimse_move(ImdError **error, ImdAssociation *association, uint8_t context_id,
                     const char *sop_class, const char *destination, const uint8_t *identifier,
                     size_t identifier_size, ImdDimseResult *result, uint16_t counts[4]);

/* ---- the Storage SCP (acceptor.c) ---- */

typedef struct ImdNetListener ImdNetListener;

/* Listen on address:port (address NULL or "": loopback 127.0.0.1; port 0:
 * any free port). NETWORK naming the address and the reason. */
ImdNetListener *imd__net_listen(ImdError **error, const char *address, int port);
int imd__net_listener_port(const ImdNetListener *listener);
/* Accept one connection within timeout_ms: its fd, or -1 with *error NULL
 * when nothing came (or on EINTR), -1 with *error set on failure. The
 * peer's numeric address goes to `peer`. */
int imd__net_accept(ImdError **error, ImdNetListener *listener, int timeout_ms, char *peer,
                    size_t peer_size);
void imd__net_listener_close(ImdNetListener *listener);

/* Who may associate and what we accept. */
typedef struct ImdNetScpPolicy {
    const char *aet;                   /* the called AE title we answer to */
    const char *const *calling_aets;   /* allow-list (NULL: anyone) */
    size_t calling_count;
    const char *const *addresses;      /* allow-list of numeric peer addresses (NULL: any) */
    size_t address_count;
    uint32_t max_pdu;                  /* the longest P-DATA-TF we receive */
    uint64_t max_instance;             /* the largest data set we take (0: no limit) */
    ImdNetTimeouts timeouts;           /* association (ARTIM), idle (between messages, in a PDU) */
    bool busy;                         /* refuse: local limit exceeded (transient) */
    const ImdTls *tls;                 /* TLS listener (server side), NULL: plain TCP */
} ImdNetScpPolicy;

/* What one association did. */
typedef struct ImdNetScpReport {
    char calling_aet[17], called_aet[17];
    bool rejected;       /* A-ASSOCIATE-RJ sent, or the TLS handshake failed (`reason`) */
    bool released;       /* ended by the peer's A-RELEASE-RQ */
    size_t stored, failed, echoes;
    char reason[200];    /* why it was refused or ended otherwise */
    char tls[200];       /* TLS: version, cipher, peer certificate; "" over plain TCP */
} ImdNetScpReport;

/*
 * Serve one association on connection `fd` (taken) from numeric address
 * `peer`: read the A-ASSOCIATE-RQ, accept (image storage classes and
 * Verification, in the transfer syntaxes our codecs read) or reject per
 * `policy`, then answer C-ECHO-RQ and C-STORE-RQ (each data set to `store`,
 * whose status goes back) until the peer releases or aborts, a timeout, a
 * protocol error, or `*stop` becomes true between messages (then A-ABORT).
 * False only for errors of ours (out of memory); everything the peer did is
 * in the report.
 */
bool imd__net_serve(ImdError **error, int fd, const char *peer, const ImdNetScpPolicy *policy,
                    ImdDimseStoreFn *store, void *user, const atomic_int *stop,
                    ImdNetScpReport *report);

/*
 * A short-lived Storage SCP for C-MOVE (the dicom:// read with
 * move_destination): listens on address:port as AE `aet` and serves the
 * peer's sub-associations one by one on a thread, each data set to `store`
 * (called on that thread). finish() stops accepting and waits for the
 * association being served to end (abort_now: at its next message).
 */
typedef struct ImdNetMoveListener ImdNetMoveListener;
ImdNetMoveListener *imd__net_move_listener_start(ImdError **error, const char *address, int port,
                                                 const char *aet, const ImdNetTimeouts *timeouts,
                                                 uint32_t max_pdu, ImdDimseStoreFn *store,
                                                 void *user);
void imd__net_move_listener_finish(ImdNetMoveListener *listener, bool abort_now, size_t *stored,
                                   size_t *failed, char *reason, size_t reason_size);

#endif
