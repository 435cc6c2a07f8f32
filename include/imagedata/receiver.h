/**
 * @file receiver.h
 * A DICOM Storage SCP (issue 18, docs/network.md "Receiver"): listens on an
 * address, accepts associations for the image storage SOP classes and
 * Verification, and stores each received instance durably (temporary name,
 * fsync, rename; then the success status) as
 * FOLDER/<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm,
 * every part sanitised. Events report instances and associations to the
 * caller, which groups and converts (the image_receive program).
 */
#ifndef IMAGEDATA_RECEIVER_H
#define IMAGEDATA_RECEIVER_H

#include <imagedata/common.h>
#include <imagedata/error.h>

#include <stddef.h>
#include <stdint.h>

IMD_BEGIN_DECLS

/** What the receiver accepts and where it stores. Zero values are defaults. */
typedef struct ImdReceiverConfig {
    const char *address;              /**< numeric address to bind (NULL: 127.0.0.1) */
    int port;                         /**< 0: any free port (see imd_receiver_port) */
    const char *aet;                  /**< our AE title: the called AE must match (required) */
    const char *const *calling_aets;  /**< allow-list of calling AE titles (NULL: any) */
    size_t calling_count;
    const char *const *addresses;     /**< allow-list of numeric peer addresses (NULL: any) */
    size_t address_count;
    const char *folder;               /**< where instances are stored (created; required) */
    unsigned max_associations;        /**< at once (0: 4); more are rejected (transient) */
    uint32_t max_pdu;                 /**< the longest P-DATA-TF we receive (0: 65536) */
    uint64_t max_instance;            /**< largest data set, bytes (0: no limit) */
    uint64_t min_free_disk;           /**< refuse instances when less is free (0: no check) */
    double association_timeout;       /**< s for the A-ASSOCIATE-RQ (0: 30) */
    double idle_timeout;              /**< s between messages and inside a PDU (0: 60) */
    /* TLS (PS3.15 B.12, docs/network.md "TLS"): when tls_cert is given the
     * listener speaks only TLS. With tls_ca, a client certificate signed by
     * one of its CAs is required (unless tls_no_verify). */
    const char *tls_cert;             /**< our certificate (PEM; NULL: plain TCP) */
    const char *tls_key;              /**< its private key (PEM, no passphrase) */
    const char *tls_ca;               /**< trusted CAs for client certificates (PEM) */
    int tls_no_verify;                /**< boolean: do not ask for client certificates */
} ImdReceiverConfig;

typedef enum ImdReceiverEventKind {
    IMD_RECEIVER_STORED = 1,      /**< an instance is on disk and acknowledged next */
    IMD_RECEIVER_STORE_FAILED,    /**< an instance answered with a failure status */
    IMD_RECEIVER_ASSOCIATION_END  /**< an association ended (released, aborted, rejected) */
} ImdReceiverEventKind;

/** One event; strings are valid during the callback only. */
typedef struct ImdReceiverEvent {
    ImdReceiverEventKind kind;
    uint64_t association;        /**< 1, 2, ... in order of connection */
    const char *peer;            /**< numeric address */
    const char *calling_aet;     /**< "" before the request was read */
    /* STORED / STORE_FAILED */
    const char *path;            /**< the final file (STORED) */
    const char *series_folder;   /**< its folder (STORED) */
    const char *series_uid, *sop_instance_uid;
    uint16_t status;             /**< the C-STORE-RSP status */
    /* ASSOCIATION_END */
    int rejected, released;      /**< booleans */
    size_t stored, failed, echoes;
    const char *reason;          /**< why it was refused, aborted or failed ("" otherwise) */
    const char *tls;             /**< ASSOCIATION_END over TLS: version, cipher, peer
                                      certificate's CN; "" over plain TCP */
} ImdReceiverEvent;

/** Called from the association threads, possibly concurrently. */
typedef void ImdReceiverEventFn(void *user, const ImdReceiverEvent *event);
/** Called about every 100 ms from the thread in imd_receiver_run. */
typedef void ImdReceiverTickFn(void *user);

typedef struct ImdReceiver ImdReceiver;

/**
 * Check the configuration, create the folder and bind the listening socket
 * (nothing is accepted before imd_receiver_run). Leftover temporary files
 * of an earlier run (".part-*", never acknowledged) are removed.
 * Errors: INVALID_ARG (also a TLS file that cannot be used: the option, the
 * file and the reason), UNSUPPORTED (TLS asked of a build without OpenSSL),
 * NETWORK (cannot listen: the address and the reason), IO (the folder).
 */
IMD_API IMD_NODISCARD ImdReceiver *imd_receiver_create(ImdError **error,
                                                       const ImdReceiverConfig *config);
/** The port listened on (the chosen one when the configuration said 0). */
IMD_API int imd_receiver_port(const ImdReceiver *receiver);
/**
 * Accept and serve associations until imd_receiver_stop(): each on a thread
 * of its own, at most max_associations at once. Then no new association is
 * accepted, the open ones finish their current instance and are aborted,
 * and this returns once all have ended.
 */
IMD_API bool imd_receiver_run(ImdError **error, ImdReceiver *receiver, ImdReceiverEventFn *event,
                              ImdReceiverTickFn *tick, void *user);
/** Ask imd_receiver_run to return; async-signal-safe. */
IMD_API void imd_receiver_stop(ImdReceiver *receiver);
/** Close and free (after run returned); NULL is fine. */
IMD_API void imd_receiver_destroy(ImdReceiver *receiver);

/**
 * A file or folder name made from a DICOM value: only letters, digits,
 * '-', '_', '.' are kept (others become '_'), no leading '.', never empty,
 * at most 64 bytes. Writes into `out` (65 bytes).
 */
IMD_API void imd_receiver_safe_name(const char *value, char out[65]);

IMD_END_DECLS

#endif
