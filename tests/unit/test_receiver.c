/*
 * test_receiver.c: the Storage SCP (src/net/acceptor.c, src/pipeline/receiver.c)
 * on loopback with our own client (src/net/association.c, dimse.c): names
 * made from DICOM values, C-ECHO, a stored instance and where it lands,
 * failure statuses (C000 unreadable, A700 over the size limit), the
 * association limit (transient rejection, local limit exceeded, PS3.8
 * Table 9-21), a wrong called AE, stop.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"
#include "net/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MR "1.2.840.10008.5.1.4.1.1.4"

IMD_TEST(safe_names)
{
    char out[65];
    imd_receiver_safe_name("../../etc", out);
    CHECK(strcmp(out, "_._.._etc") == 0);
    imd_receiver_safe_name("..", out);
    CHECK(strcmp(out, "_.") == 0);
    imd_receiver_safe_name("/etc/passwd", out);
    CHECK(strcmp(out, "_etc_passwd") == 0);
    imd_receiver_safe_name("a\x01" "b\\c d", out);
    CHECK(strcmp(out, "a_b_c_d") == 0);
    imd_receiver_safe_name("", out);
    CHECK(strcmp(out, "_") == 0);
    imd_receiver_safe_name(NULL, out);
    CHECK(strcmp(out, "_") == 0);
    imd_receiver_safe_name("PAT1 ", out); /* DICOM padding is not part of the name */
    CHECK(strcmp(out, "PAT1") == 0);
    char long_value[200];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    imd_receiver_safe_name(long_value, out);
    CHECK(strlen(out) == 64);
    imd_receiver_safe_name("1.2.840.10008", out);
    CHECK(strcmp(out, "1.2.840.10008") == 0);
}

typedef struct Running {
    ImdReceiver *receiver;
    pthread_t thread;
    atomic_int events, stored, failed, ended, rejected;
} Running;

static void on_event(void *user, const ImdReceiverEvent *e)
{
    Running *r = user;
    atomic_fetch_add(&r->events, 1);
    if (e->kind == IMD_RECEIVER_STORED) {
        atomic_fetch_add(&r->stored, 1);
    } else if (e->kind == IMD_RECEIVER_STORE_FAILED) {
        atomic_fetch_add(&r->failed, 1);
    } else {
        atomic_fetch_add(&r->ended, 1);
        atomic_fetch_add(&r->rejected, e->rejected != 0);
    }
}

static void *run_thread(void *user)
{
    Running *r = user;
    ImdError *error = NULL;
    bool ok = imd_receiver_run(&error, r->receiver, on_event, NULL, r);
    CHECK(ok);
    imd_error_clear(&error);
    return NULL;
}

static bool start_with(Running *r, const char *folder, unsigned max_associations,
                       double association_timeout)
{
    memset(r, 0, sizeof *r);
    ImdReceiverConfig config = {0};
    config.association_timeout = association_timeout;
    config.aet = "RECV";
    config.folder = folder;
    config.max_associations = max_associations;
    config.max_instance = 100000;
    config.idle_timeout = 5;
    ImdError *error = NULL;
    r->receiver = imd_receiver_create(&error, &config);
    if (r->receiver == NULL) {
        IMD_FAIL_AT("receiver: %s", imd_error_message(error));
        imd_error_clear(&error);
        return false;
    }
    CHECK(imd_receiver_port(r->receiver) > 0);
    return pthread_create(&r->thread, NULL, run_thread, r) == 0;
}

static bool start(Running *r, const char *folder, unsigned max_associations)
{
    return start_with(r, folder, max_associations, 0);
}

static void finish(Running *r)
{
    imd_receiver_stop(r->receiver);
    pthread_join(r->thread, NULL);
    imd_receiver_destroy(r->receiver);
}

static ImdAssociation *associate(ImdError **error, int port, const char *called)
{
    static const char *const syntaxes[] = {IMD_UID_EXPLICIT_VR_LE, IMD_UID_IMPLICIT_VR_LE};
    ImdNetAssociate *rq = calloc(1, sizeof *rq);
    if (rq == NULL) {
        return NULL;
    }
    snprintf(rq->called_aet, sizeof rq->called_aet, "%s", called);
    snprintf(rq->calling_aet, sizeof rq->calling_aet, "TEST");
    const char *classes[] = {IMD_NET_VERIFICATION_SOP_CLASS, MR,
                             "1.2.840.10008.5.1.4.1.1.88.11" /* Basic Text SR: refused */};
    for (size_t i = 0; i < 3; i++) {
        ImdNetContext *pc = &rq->contexts[rq->context_count++];
        pc->id = (uint8_t)(2 * i + 1);
        snprintf(pc->abstract_syntax, sizeof pc->abstract_syntax, "%s", classes[i]);
        for (size_t t = 0; t < 2; t++) {
            snprintf(pc->transfer_syntaxes[t], IMD_NET_UID, "%s", syntaxes[t]);
        }
        pc->transfer_syntax_count = 2;
    }
    ImdNetTimeouts timeouts = {2000, 2000, 5000, 5000};
    ImdAssociation *a = imd__association_open(error, "127.0.0.1", port, rq, &timeouts, NULL,
                                              "test");
    free(rq);
    return a;
}

/* A small MR data set in Explicit VR LE. */
static uint8_t *tiny_dataset(size_t *size, const char *patient)
{
    ImdError *error = NULL;
    ImdDicomDataSet *ds = imd_dicom_dataset_create(&error);
    CHECK(ds != NULL);
    CHECK(imd_dicom_dataset_set_string(&error, ds, IMD_TAG_SOPClassUID, IMD_VR_UI, MR));
    CHECK(imd_dicom_dataset_set_string(&error, ds, IMD_TAG_SOPInstanceUID, IMD_VR_UI, "1.2.3.4"));
    CHECK(imd_dicom_dataset_set_string(&error, ds, IMD_TAG_PatientID, IMD_VR_LO, patient));
    CHECK(imd_dicom_dataset_set_string(&error, ds, IMD_TAG_StudyInstanceUID, IMD_VR_UI, "1.2.3"));
    CHECK(imd_dicom_dataset_set_string(&error, ds, IMD_TAG_SeriesInstanceUID, IMD_VR_UI,
                                       "1.2.3.9"));
    ImdDicomWriteOptions options = {0};
    options.transfer_syntax = IMD_UID_EXPLICIT_VR_LE;
    options.no_meta = true;
    ImdStream *stream = imd_stream_open_buffer(&error, "tiny");
    CHECK(stream != NULL);
    CHECK(imd_dicom_write(&error, ds, stream, &options));
    void *bytes = imd_stream_buffer_take(stream, size);
    uint8_t *copy = malloc(*size);
    memcpy(copy, bytes, *size);
    imd_free(bytes);
    CHECK(imd_stream_close(NULL, stream));
    imd_dicom_dataset_destroy(ds);
    imd_error_clear(&error);
    return copy;
}

static void temp_folder(char *out, size_t size)
{
    snprintf(out, size, "%s/imd-test-receiver.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(out) != NULL);
}

static void remove_tree(const char *path)
{
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", path);
    CHECK(system(command) == 0);
}

IMD_TEST(echo_store_and_statuses)
{
    char folder[400];
    temp_folder(folder, sizeof folder);
    Running r;
    if (!start(&r, folder, 4)) {
        return;
    }
    int port = imd_receiver_port(r.receiver);
    ImdError *error = NULL;
    ImdAssociation *a = associate(&error, port, "RECV");
    CHECK(a != NULL);
    if (a != NULL) {
        /* Verification and MR accepted, Basic Text SR refused (PS3.8 Table 9-18). */
        const ImdNetAssociate *ac = imd__association_accepted(a);
        CHECK(ac->context_count == 3);
        CHECK(ac->contexts[0].result == IMD_PC_ACCEPTANCE);
        CHECK(ac->contexts[1].result == IMD_PC_ACCEPTANCE);
        CHECK(strcmp(ac->contexts[1].transfer_syntaxes[0], IMD_UID_EXPLICIT_VR_LE) == 0);
        CHECK(ac->contexts[2].result == IMD_PC_ABSTRACT_NOT_SUPPORTED);
        ImdDimseResult result = {0};
        CHECK(imd__dimse_echo(&error, a, &result));
        CHECK(result.status == 0);
        size_t size = 0;
        uint8_t *data = tiny_dataset(&size, "../../etc");
        const char *syntax = NULL;
        uint8_t context = imd__association_find_context(a, MR, NULL, &syntax);
        CHECK(context == 3);
        CHECK(imd__dimse_store(&error, a, context, MR, "1.2.3.4", data, size, &result));
        CHECK(result.status == 0x0000);
        char expected[700];
        snprintf(expected, sizeof expected, "%s/_._.._etc/1.2.3/1.2.3.9/1.2.3.4.dcm", folder);
        struct stat st;
        CHECK(stat(expected, &st) == 0 && (size_t)st.st_size > size);
        /* The stored file is a Part 10 file whose data set is what was sent. */
        ImdDicomDataSet *back = imd_dicom_read_file(&error, expected, NULL);
        CHECK(back != NULL);
        if (back != NULL) {
            CHECK(strcmp(imd_dicom_dataset_transfer_syntax(back), IMD_UID_EXPLICIT_VR_LE) == 0);
            imd_dicom_dataset_destroy(back);
        }
        /* Not a data set: 0xC000 (cannot understand), nothing under a final name. */
        uint8_t junk[64];
        memset(junk, 0xee, sizeof junk);
        CHECK(imd__dimse_store(&error, a, context, MR, "1.2.3.5", junk, sizeof junk, &result));
        CHECK(result.status == 0xC000);
        /* Over max_instance: 0xA700 (refused: out of resources). */
        size_t big_size = 200000;
        uint8_t *big = calloc(1, big_size);
        CHECK(imd__dimse_store(&error, a, context, MR, "1.2.3.6", big, big_size, &result));
        CHECK(result.status == 0xA700);
        free(big);
        free(data);
        CHECK(imd__association_release(&error, a));
    }
    CHECK(error == NULL);
    imd_error_clear(&error);
    /* A wrong called AE: rejected, the reason in the message. */
    a = associate(&error, port, "OTHER");
    CHECK(a == NULL && error != NULL &&
          strstr(imd_error_message(error), "called AE title not recognized") != NULL);
    imd_error_clear(&error);
    finish(&r);
    CHECK(atomic_load(&r.stored) == 1);
    CHECK(atomic_load(&r.failed) == 1); /* the junk; the over-size one is the acceptor's */
    CHECK(atomic_load(&r.ended) == 2);
    CHECK(atomic_load(&r.rejected) == 1);
    remove_tree(folder);
}

IMD_TEST(association_limit)
{
    char folder[400];
    temp_folder(folder, sizeof folder);
    Running r;
    if (!start(&r, folder, 1)) {
        return;
    }
    int port = imd_receiver_port(r.receiver);
    ImdError *error = NULL;
    ImdAssociation *first = associate(&error, port, "RECV");
    CHECK(first != NULL);
    ImdAssociation *second = associate(&error, port, "RECV");
    CHECK(second == NULL && error != NULL &&
          strstr(imd_error_message(error), "local limit exceeded") != NULL);
    if (error != NULL && strstr(imd_error_message(error), "local limit exceeded") == NULL) {
        fprintf(stderr, "second association: %s\n", imd_error_message(error));
    }
    imd_error_clear(&error);
    imd__association_abort(second);
    CHECK(imd__association_release(&error, first));
    imd_error_clear(&error);
    /* Once the first has ended, a new one is let in. */
    ImdAssociation *third = NULL;
    for (int i = 0; i < 50 && third == NULL; i++) {
        third = associate(&error, port, "RECV");
        imd_error_clear(&error);
        if (third == NULL) {
            nanosleep(&(struct timespec){0, 20000000}, NULL);
        }
    }
    CHECK(third != NULL);
    CHECK(imd__association_release(&error, third));
    imd_error_clear(&error);
    finish(&r);
    /* The second; a retry of the third may also have come before the first's
     * thread had ended. */
    CHECK(atomic_load(&r.rejected) >= 1);
    remove_tree(folder);
}

/* A raw TCP connection to the receiver. */
static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {0};
    to.sin_family = AF_INET;
    to.sin_port = htons((uint16_t)port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Read what the receiver sends until it closes (or 5 s); the bytes' count. */
static size_t drain(int fd, uint8_t *out, size_t size, int *closed_after_ms)
{
    size_t got = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) {
            break;
        }
        ssize_t n = recv(fd, got < size ? out + got : out, got < size ? size - got : size, 0);
        if (n <= 0) {
            break;
        }
        got += got < size ? (size_t)n : 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *closed_after_ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    return got;
}

IMD_TEST(hostile_peers)
{
    char folder[400];
    temp_folder(folder, sizeof folder);
    Running r;
    if (!start_with(&r, folder, 4, 0.5)) {
        return;
    }
    int port = imd_receiver_port(r.receiver);
    uint8_t in[4096];
    int ms = 0;
    /* Silent: the connection is closed after the association timeout (ARTIM). */
    int fd = raw_connect(port);
    CHECK(fd >= 0);
    size_t got = drain(fd, in, sizeof in, &ms);
    CHECK(got == 0 && ms >= 400 && ms < 4000);
    close(fd);
    /* A P-DATA-TF longer than our maximum after a good request: A-ABORT. */
    ImdNetAssociate *rq = calloc(1, sizeof *rq);
    snprintf(rq->called_aet, sizeof rq->called_aet, "RECV");
    snprintf(rq->calling_aet, sizeof rq->calling_aet, "HOSTILE");
    rq->context_count = 1;
    rq->contexts[0].id = 1;
    snprintf(rq->contexts[0].abstract_syntax, IMD_NET_UID, "%s", IMD_NET_VERIFICATION_SOP_CLASS);
    snprintf(rq->contexts[0].transfer_syntaxes[0], IMD_NET_UID, "%s", IMD_UID_IMPLICIT_VR_LE);
    rq->contexts[0].transfer_syntax_count = 1;
    rq->max_length = 16384;
    uint8_t *pdu = NULL;
    size_t pdu_size = 0;
    ImdError *error = NULL;
    CHECK(imd__pdu_encode_associate(&error, IMD_PDU_ASSOCIATE_RQ, rq, &pdu, &pdu_size));
    fd = raw_connect(port);
    CHECK(fd >= 0 && send(fd, pdu, pdu_size, 0) == (ssize_t)pdu_size);
    uint8_t header[6];
    CHECK(recv(fd, header, 6, MSG_WAITALL) == 6 && header[0] == IMD_PDU_ASSOCIATE_AC);
    size_t ac_length = ((size_t)header[2] << 24) | ((size_t)header[3] << 16) |
                       ((size_t)header[4] << 8) | header[5];
    CHECK(ac_length < sizeof in && recv(fd, in, ac_length, MSG_WAITALL) == (ssize_t)ac_length);
    const uint8_t huge[6] = {IMD_PDU_DATA_TF, 0, 0, 0x10, 0, 0}; /* 1 MiB > 65536 */
    CHECK(send(fd, huge, sizeof huge, 0) == 6);
    got = drain(fd, in, sizeof in, &ms);
    CHECK(got == 10 && in[0] == IMD_PDU_ABORT);
    close(fd);
    /* Garbage instead of a request: closed at once (A-ABORT). */
    fd = raw_connect(port);
    const uint8_t junk[16] = {0x99, 0, 0, 0, 0, 10};
    CHECK(send(fd, junk, sizeof junk, 0) == (ssize_t)sizeof junk);
    got = drain(fd, in, sizeof in, &ms);
    CHECK(ms < 2000);
    close(fd);
    free(pdu);
    imd__net_associate_clear(rq);
    free(rq);
    imd_error_clear(&error);
    finish(&r);
    CHECK(atomic_load(&r.ended) == 3);
    CHECK(atomic_load(&r.stored) == 0);
    remove_tree(folder);
}

IMD_TEST(bad_configuration)
{
    ImdError *error = NULL;
    ImdReceiverConfig config = {0};
    config.folder = "/tmp";
    config.aet = "BACK\\SLASH";
    CHECK(imd_receiver_create(&error, &config) == NULL && imd_error_code(error) ==
          IMD_ERR_INVALID_ARG);
    imd_error_clear(&error);
    config.aet = "RECV";
    config.address = "not-an-address";
    CHECK(imd_receiver_create(&error, &config) == NULL && imd_error_code(error) ==
          IMD_ERR_INVALID_ARG);
    imd_error_clear(&error);
    config.address = NULL;
    config.max_pdu = 10;
    CHECK(imd_receiver_create(&error, &config) == NULL);
    imd_error_clear(&error);
}

IMD_TEST_MAIN(IMD_CASE(safe_names), IMD_CASE(echo_store_and_statuses),
              IMD_CASE(association_limit), IMD_CASE(hostile_peers),
              IMD_CASE(bad_configuration))
