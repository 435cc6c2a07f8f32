/*
 * tls.c: TLS under the DICOM upper layer (issue 18 item 5), with Debian's
 * OpenSSL 3 (docs/network.md "TLS" says why OpenSSL).
 *
 * The profile is PS3.15 Annex B.12, "BCP 195 RFC 8996, 9325 TLS Secure
 * Transport Connection Profile" (the successor of the retired Basic TLS
 * profile of Annex B.1, whose suites BCP 195 forbids): TLS 1.2 at least
 * (RFC 8996 deprecates 1.0 and 1.1), 1.3 preferred; no TLS compression
 * (RFC 9325 §3.3, CRIME); no renegotiation (RFC 9325 §3.5 lets it be
 * refused, and it never helps DICOM); for TLS 1.2 only the four ECDHE
 * AES-GCM suites RFC 9325 §4.2 recommends (the same four dcmtk proposes by
 * default), for TLS 1.3 OpenSSL's AEAD suites. The client verifies the
 * server's chain and its name or address (RFC 9325 §7.3, RFC 6125) unless
 * verification is turned off by an explicit option; the server asks for
 * and verifies a client certificate when it is given trust anchors.
 *
 * Sockets stay non-blocking: every call here makes one step and says what
 * to wait for (POLLIN or POLLOUT, from SSL_ERROR_WANT_READ/WRITE), and the
 * association's poll loop (association.c) does the waiting, with its
 * timeouts and cancel checks. The socket BIO is our own so that writes use
 * send(MSG_NOSIGNAL): a peer that goes away must not raise SIGPIPE in a
 * library (OpenSSL's socket BIO uses write()).
 */
#define _POSIX_C_SOURCE 200809L
#include "net/net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#if defined(IMD_WITH_TLS)

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/socket.h>

/* RFC 9325 §4.2 (OpenSSL's names), TLS 1.2 only; TLS 1.3 keeps OpenSSL's list. */
#define TLS12_CIPHERS                                                                            \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                 \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"

struct ImdTls {
    SSL_CTX *ctx;
    bool server, verify;
    char *ca; /* named in verification errors */
};

struct ImdTlsSession {
    SSL *ssl;
    bool failed; /* a fatal error: no close_notify may follow (SSL_shutdown(3)) */
};

bool imd__tls_available(void)
{
    return true;
}

/* ---- our socket BIO (send with MSG_NOSIGNAL) ---- */

static int bio_write(BIO *bio, const char *data, int size)
{
    int fd = (int)(intptr_t)BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t n = send(fd, data, (size_t)size, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_write(bio);
    }
    return (int)n;
}

static int bio_read(BIO *bio, char *data, int size)
{
    int fd = (int)(intptr_t)BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    ssize_t n = recv(fd, data, (size_t)size, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_read(bio);
    }
    return (int)n;
}

static long bio_ctrl(BIO *bio, int command, long number, void *pointer)
{
    (void)number;
    switch (command) {
    case BIO_CTRL_FLUSH: /* nothing is buffered here */
        return 1;
    case BIO_C_GET_FD:
        if (pointer != NULL) {
            *(int *)pointer = (int)(intptr_t)BIO_get_data(bio);
        }
        return (long)(intptr_t)BIO_get_data(bio);
    default:
        return 0;
    }
}

static int bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static BIO_METHOD *socket_method;
static pthread_once_t socket_method_once = PTHREAD_ONCE_INIT;

static void make_socket_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "imagedata socket");
    if (m != NULL && (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
                      !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))) {
        BIO_meth_free(m);
        m = NULL;
    }
    socket_method = m; /* kept for the process's life, like OpenSSL's own methods */
}

/* ---- errors ---- */

/* The first reason on OpenSSL's (thread-local) error queue, which is emptied. */
static void ssl_reason(char *out, size_t size)
{
    unsigned long code = ERR_get_error();
    const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
    if (reason != NULL) {
        snprintf(out, size, "%s", reason);
    } else if (code != 0) {
        ERR_error_string_n(code, out, size);
    } else {
        snprintf(out, size, "no reason given");
    }
    ERR_clear_error();
}

/* A file option must name a readable file: say so before OpenSSL's terse reasons. */
static bool readable(ImdError **error, const char *option, const char *path, const char *name)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        char text[128];
        if (strerror_r(errno, text, sizeof text) != 0) {
            snprintf(text, sizeof text, "error %d", errno);
        }
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: option \"%s\": %s: %s", name, option, path,
                      text);
        return false;
    }
    fclose(f);
    return true;
}

/* Keys protected by a passphrase are refused rather than prompted for: a
 * library never reads the terminal. */
static int no_passphrase(char *buffer, int size, int writing, void *user)
{
    (void)buffer, (void)size, (void)writing, (void)user;
    return 0;
}

ImdTls *imd__tls_create(ImdError **error, const ImdTlsConfig *config, bool server,
                        const char *name)
{
    bool has_cert = config->cert != NULL && config->cert[0] != '\0';
    bool has_key = config->key != NULL && config->key[0] != '\0';
    bool has_ca = config->ca != NULL && config->ca[0] != '\0';
    if (server && (!has_cert || !has_key)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "%s: TLS needs a certificate and its private key (tls_cert, tls_key)", name);
        return NULL;
    }
    if (has_cert != has_key) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: option \"%s\" needs \"%s\"", name,
                      has_cert ? "tls_cert" : "tls_key", has_cert ? "tls_key" : "tls_cert");
        return NULL;
    }
    if ((has_cert && !readable(error, "tls_cert", config->cert, name)) ||
        (has_key && !readable(error, "tls_key", config->key, name)) ||
        (has_ca && !readable(error, "tls_ca", config->ca, name))) {
        return NULL;
    }
    pthread_once(&socket_method_once, make_socket_method);
    ImdTls *tls = imd__calloc(error, 1, sizeof *tls);
    if (tls == NULL) {
        return NULL;
    }
    tls->server = server;
    tls->verify = config->verify;
    if (has_ca && (tls->ca = imd__strdup(error, config->ca)) == NULL) {
        free(tls);
        return NULL;
    }
    char reason[256];
    ERR_clear_error();
    tls->ctx = socket_method != NULL ? SSL_CTX_new(server ? TLS_server_method()
                                                          : TLS_client_method())
                                     : NULL;
    if (tls->ctx == NULL) {
        ssl_reason(reason, sizeof reason);
        imd_error_set(error, IMD_ERR_NOMEM, "%s: cannot set up TLS: %s", name, reason);
        imd__tls_destroy(tls);
        return NULL;
    }
    SSL_CTX *ctx = tls->ctx;
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    /* BCP 195 (PS3.15 B.12): TLS 1.2 or 1.3, no compression, no renegotiation. */
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) {
        ssl_reason(reason, sizeof reason);
        imd_error_set(error, IMD_ERR_INTERNAL, "%s: cannot set the BCP 195 profile: %s", name,
                      reason);
        imd__tls_destroy(tls);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* A write that must wait is retried from a buffer the caller may have
     * moved (association.c stages each PDU fragment). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (has_cert) {
        ERR_clear_error();
        if (SSL_CTX_use_certificate_chain_file(ctx, config->cert) != 1) {
            ssl_reason(reason, sizeof reason);
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "%s: option \"tls_cert\": %s: not a usable PEM certificate: %s", name,
                          config->cert, reason);
            imd__tls_destroy(tls);
            return NULL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, config->key, SSL_FILETYPE_PEM) != 1) {
            /* OpenSSL checks the pair as it loads the key. */
            bool mismatch = ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH;
            ssl_reason(reason, sizeof reason);
            if (mismatch) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "%s: option \"tls_key\": %s does not match the certificate %s: %s",
                              name, config->key, config->cert, reason);
                imd__tls_destroy(tls);
                return NULL;
            }
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "%s: option \"tls_key\": %s: not a usable PEM private key (one "
                          "protected by a passphrase is not supported): %s",
                          name, config->key, reason);
            imd__tls_destroy(tls);
            return NULL;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            ssl_reason(reason, sizeof reason);
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "%s: option \"tls_key\": %s does not match the certificate %s: %s",
                          name, config->key, config->cert, reason);
            imd__tls_destroy(tls);
            return NULL;
        }
    }
    ERR_clear_error();
    if (server) {
        /* TLS 1.3 session tickets are of no use to DICOM peers, which do not
         * resume, and would be bytes the client reads without a PDU. */
        (void)SSL_CTX_set_num_tickets(ctx, 0);
        static const unsigned char context_id[] = "imagedata";
        (void)SSL_CTX_set_session_id_context(ctx, context_id, sizeof context_id - 1);
        if (has_ca && config->verify) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(config->ca);
            if (names == NULL || SSL_CTX_load_verify_locations(ctx, config->ca, NULL) != 1) {
                if (names != NULL) {
                    sk_X509_NAME_pop_free(names, X509_NAME_free);
                }
                ssl_reason(reason, sizeof reason);
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "%s: option \"tls_ca\": %s: no usable PEM certificate: %s", name,
                              config->ca, reason);
                imd__tls_destroy(tls);
                return NULL;
            }
            SSL_CTX_set_client_CA_list(ctx, names);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        }
    } else if (config->verify) {
        int ok = has_ca ? SSL_CTX_load_verify_locations(ctx, config->ca, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            ssl_reason(reason, sizeof reason);
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "%s: option \"tls_ca\": %s: no usable PEM certificate: %s", name,
                          has_ca ? config->ca : "(the system's trust store)", reason);
            imd__tls_destroy(tls);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return tls;
}

void imd__tls_destroy(ImdTls *tls)
{
    if (tls != NULL) {
        SSL_CTX_free(tls->ctx);
        free(tls->ca);
        free(tls);
    }
}

ImdTlsSession *imd__tls_session(ImdError **error, const ImdTls *tls, int fd, const char *host,
                                const char *name)
{
    ImdTlsSession *s = imd__calloc(error, 1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    ERR_clear_error();
    s->ssl = SSL_new(tls->ctx);
    BIO *bio = s->ssl != NULL ? BIO_new(socket_method) : NULL;
    if (bio == NULL) {
        char reason[256];
        ssl_reason(reason, sizeof reason);
        imd_error_set(error, IMD_ERR_NOMEM, "%s: cannot start TLS: %s", name, reason);
        SSL_free(s->ssl);
        free(s);
        return NULL;
    }
    BIO_set_data(bio, (void *)(intptr_t)fd);
    SSL_set_bio(s->ssl, bio, bio); /* one BIO both ways: the SSL holds it once */
    if (tls->server) {
        SSL_set_accept_state(s->ssl);
        return s;
    }
    SSL_set_connect_state(s->ssl);
    if (host != NULL && host[0] != '\0') {
        unsigned char address[16];
        bool numeric = inet_pton(AF_INET, host, address) == 1 ||
                       inet_pton(AF_INET6, host, address) == 1;
        bool ok = true;
        if (!numeric) {
            /* SNI (RFC 6066) names the host; never sent for an address. A
             * copy: OpenSSL's macro casts the const away (clang -Wcast-qual). */
            char sni[256];
            ok = snprintf(sni, sizeof sni, "%s", host) < (int)sizeof sni &&
                 SSL_set_tlsext_host_name(s->ssl, sni) == 1;
        }
        if (ok && tls->verify) {
            /* The certificate must be for the host we asked for (RFC 6125):
             * a subjectAltName DNS name, or an IP address for an address. */
            ok = numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host) == 1
                         : SSL_set1_host(s->ssl, host) == 1;
        }
        if (!ok) {
            char reason[256];
            ssl_reason(reason, sizeof reason);
            imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: TLS: host \"%s\": %s", name, host,
                          reason);
            SSL_free(s->ssl);
            free(s);
            return NULL;
        }
    }
    return s;
}

/*
 * The outcome of an SSL call that returned `rc` <= 0: WAIT with the events
 * to poll for, CLOSED, or ERROR with a message saying `what` failed and why.
 */
static ImdTlsResult outcome(ImdError **error, ImdTlsSession *s, int rc, short *events,
                            const char *name, const char *what)
{
    int saved_errno = errno;
    int kind = SSL_get_error(s->ssl, rc);
    char reason[256];
    switch (kind) {
    case SSL_ERROR_WANT_READ:
        *events = POLLIN;
        return IMD_TLS_WAIT;
    case SSL_ERROR_WANT_WRITE:
        *events = POLLOUT;
        return IMD_TLS_WAIT;
    case SSL_ERROR_ZERO_RETURN: /* close_notify: an orderly close */
        return IMD_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        s->failed = true;
        ERR_clear_error();
        if (rc == 0 || saved_errno == 0 || saved_errno == ECONNRESET || saved_errno == EPIPE) {
            return IMD_TLS_CLOSED; /* the peer closed the TCP connection without close_notify */
        }
        if (strerror_r(saved_errno, reason, sizeof reason) != 0) {
            snprintf(reason, sizeof reason, "error %d", saved_errno);
        }
        imd_error_set(error, IMD_ERR_NETWORK, "%s: %s: %s", name, what, reason);
        return IMD_TLS_ERROR;
    default:
        break;
    }
    s->failed = true;
    unsigned long code = ERR_peek_error();
    ssl_reason(reason, sizeof reason);
    long verify = SSL_get_verify_result(s->ssl);
    bool not_verified = ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
                        verify != X509_V_OK;
    if (not_verified) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: %s: the peer's certificate was not verified: %s (%s)", name, what,
                      X509_verify_cert_error_string(verify), reason);
    } else {
        /* A peer without TLS answers the ClientHello with a PDU, or sends a
         * PDU where a ClientHello belongs: OpenSSL then sees a record it
         * cannot parse. */
        int r = ERR_GET_REASON(code);
        bool plain = r == SSL_R_WRONG_VERSION_NUMBER || r == SSL_R_PACKET_LENGTH_TOO_LONG ||
                     r == SSL_R_HTTP_REQUEST;
        bool old = r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION;
        /* The peer's alerts about our certificate (RFC 8446 §6.2). */
        bool required = r == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED;
        bool refused = r == SSL_R_TLSV1_ALERT_UNKNOWN_CA || r == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
                       r == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
                       r == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
                       r == SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE;
        imd_error_set(error, IMD_ERR_NETWORK, "%s: %s: %s%s", name, what, reason,
                      plain      ? " (does the peer speak TLS on this port?)"
                      : old      ? " (TLS 1.2 or later is required, BCP 195)"
                      : required ? " (the peer requires a client certificate: tls_cert, tls_key)"
                      : refused  ? " (the peer did not accept our certificate, tls_cert)"
                                 : "");
    }
    return IMD_TLS_ERROR;
}

ImdTlsResult imd__tls_handshake(ImdError **error, ImdTlsSession *s, short *events,
                                const char *name)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) {
        return IMD_TLS_OK;
    }
    ImdTlsResult result = outcome(error, s, rc, events, name, "TLS handshake failed");
    if (result == IMD_TLS_CLOSED) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: TLS handshake failed: the peer closed the connection (does it speak "
                      "TLS on this port, and does it accept our certificate?)",
                      name);
        s->failed = true;
        return IMD_TLS_ERROR;
    }
    return result;
}

ImdTlsResult imd__tls_read(ImdError **error, ImdTlsSession *s, void *buffer, size_t size,
                           size_t *done, short *events, const char *name)
{
    size_t got = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read_ex(s->ssl, buffer, size, &got);
    if (rc == 1) {
        *done = got;
        return IMD_TLS_OK;
    }
    return outcome(error, s, rc, events, name, "receiving over TLS");
}

ImdTlsResult imd__tls_write(ImdError **error, ImdTlsSession *s, const void *buffer, size_t size,
                            size_t *done, short *events, const char *name)
{
    size_t put = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write_ex(s->ssl, buffer, size, &put);
    if (rc == 1) {
        *done = put;
        return IMD_TLS_OK;
    }
    return outcome(error, s, rc, events, name, "sending over TLS");
}

bool imd__tls_pending(const ImdTlsSession *s)
{
    return SSL_pending(s->ssl) > 0;
}

void imd__tls_notify(ImdTlsSession *s)
{
    /* One close_notify (RFC 8446 §6.1), without waiting for the peer's. */
    if (s != NULL && !s->failed && SSL_is_init_finished(s->ssl) &&
        !(SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN)) {
        ERR_clear_error();
        (void)SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
}

void imd__tls_free(ImdTlsSession *s)
{
    if (s != NULL) {
        SSL_free(s->ssl);
        free(s);
    }
}

void imd__tls_describe(const ImdTlsSession *s, char *out, size_t size)
{
    const SSL_CIPHER *cipher = SSL_get_current_cipher(s->ssl);
    char subject[160] = "";
    X509 *peer = SSL_get1_peer_certificate(s->ssl);
    if (peer != NULL) {
        X509_NAME *name = X509_get_subject_name(peer);
        int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
        X509_NAME_ENTRY *entry = at >= 0 ? X509_NAME_get_entry(name, at) : NULL;
        const ASN1_STRING *value = entry != NULL ? X509_NAME_ENTRY_get_data(entry) : NULL;
        if (value != NULL) {
            int n = ASN1_STRING_length(value);
            const unsigned char *bytes = ASN1_STRING_get0_data(value);
            size_t k = 0;
            for (int i = 0; i < n && k + 1 < sizeof subject; i++) {
                /* Printable ASCII only: this goes into log lines. */
                subject[k++] = bytes[i] >= 0x20 && bytes[i] < 0x7f ? (char)bytes[i] : '?';
            }
            subject[k] = '\0';
        }
        X509_free(peer);
    }
    snprintf(out, size, "%s %s, %s%s", SSL_get_version(s->ssl),
             cipher != NULL ? SSL_CIPHER_get_name(cipher) : "?",
             peer != NULL ? "peer certificate CN=" : "no peer certificate",
             peer != NULL ? subject : "");
}

#else /* no OpenSSL: every TLS request is refused by name */

struct ImdTls {
    int unused;
};

bool imd__tls_available(void)
{
    return false;
}

ImdTls *imd__tls_create(ImdError **error, const ImdTlsConfig *config, bool server,
                        const char *name)
{
    (void)config, (void)server;
    imd_error_set(error, IMD_ERR_UNSUPPORTED,
                  "%s: TLS was requested but this build has no TLS (OpenSSL, Debian: libssl-dev)",
                  name);
    return NULL;
}

void imd__tls_destroy(ImdTls *tls)
{
    free(tls);
}

ImdTlsSession *imd__tls_session(ImdError **error, const ImdTls *tls, int fd, const char *host,
                                const char *name)
{
    (void)tls, (void)fd, (void)host;
    imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: this build has no TLS", name);
    return NULL;
}

ImdTlsResult imd__tls_handshake(ImdError **error, ImdTlsSession *s, short *events,
                                const char *name)
{
    (void)s, (void)events;
    imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: this build has no TLS", name);
    return IMD_TLS_ERROR;
}

ImdTlsResult imd__tls_read(ImdError **error, ImdTlsSession *s, void *buffer, size_t size,
                           size_t *done, short *events, const char *name)
{
    (void)s, (void)buffer, (void)size, (void)done, (void)events;
    imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: this build has no TLS", name);
    return IMD_TLS_ERROR;
}

ImdTlsResult imd__tls_write(ImdError **error, ImdTlsSession *s, const void *buffer, size_t size,
                            size_t *done, short *events, const char *name)
{
    (void)s, (void)buffer, (void)size, (void)done, (void)events;
    imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: this build has no TLS", name);
    return IMD_TLS_ERROR;
}

bool imd__tls_pending(const ImdTlsSession *s)
{
    (void)s;
    return false;
}

void imd__tls_notify(ImdTlsSession *s)
{
    (void)s;
}

void imd__tls_free(ImdTlsSession *s)
{
    (void)s;
}

void imd__tls_describe(const ImdTlsSession *s, char *out, size_t size)
{
    (void)s;
    snprintf(out, size, "no TLS");
}

#endif
