/*
 * receiver.c: the Storage SCP as a library object (issue 18): the listener,
 * one thread per association (bounded), and durable storage of what arrives.
 *
 * Nothing lost (issue 18 item 2): an instance is written under a temporary
 * name ".part-..." in the storage folder, fsync'd, renamed to its final name
 * in its series folder, and the folder fsync'd, before the store callback
 * returns the success status that the C-STORE-RSP carries. A crash at any
 * point leaves either the finished file under its final name or a ".part-"
 * file (removed at the next start) and no acknowledgement. Any failure is
 * answered with a failure status (PS3.4 Table B.2-1): A700 out of resources
 * (disk, size, I/O), C000 cannot understand (not a data set we can read).
 */
#define _POSIX_C_SOURCE 200809L
#include "pipeline/pipeline.h"

#include "net/net.h"

#include <imagedata/receiver.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

struct ImdReceiver {
    ImdNetListener *listener;
    int port;
    char *folder;
    ImdNetScpPolicy policy;
    char aet[17];
    char **calling, **addresses; /* copies of the allow-lists */
    unsigned max_associations;
    uint64_t min_free_disk;
    atomic_int stop;
    atomic_uint_fast64_t part_counter;
    pthread_mutex_t lock;
    pthread_cond_t ended;
    unsigned active;
    uint64_t associations;
    ImdReceiverEventFn *event;
    void *user;
    ImdTls *tls; /* NULL: plain TCP */
};

void imd_receiver_safe_name(const char *value, char out[65])
{
    size_t n = 0;
    for (const char *p = value != NULL ? value : ""; *p != '\0' && n < 64; p++) {
        char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
        out[n++] = keep ? c : '_';
    }
    /* Trailing spaces are DICOM padding (PS3.5 §6.2), not part of the value. */
    while (n > 0 && out[n - 1] == '_' && value[n - 1] == ' ') {
        n--;
    }
    if (n == 0) {
        out[n++] = '_';
    }
    /* No "." or ".." and no hidden names: a leading dot becomes '_'. */
    if (out[0] == '.') {
        out[0] = '_';
    }
    out[n] = '\0';
}

static char **copy_list(ImdError **error, const char *const *list, size_t count)
{
    if (list == NULL) {
        return NULL;
    }
    char **copy = imd__calloc(error, count + 1, sizeof *copy);
    for (size_t i = 0; copy != NULL && i < count; i++) {
        copy[i] = imd__strdup(error, list[i]);
        if (copy[i] == NULL) {
            for (size_t j = 0; j < i; j++) {
                free(copy[j]);
            }
            free(copy);
            copy = NULL;
        }
    }
    return copy;
}

static void free_list(char **list)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        free(list[i]);
    }
    free(list);
}

static bool valid_aet(const char *aet)
{
    size_t n = aet != NULL ? strlen(aet) : 0;
    for (size_t i = 0; i < n; i++) {
        if (aet[i] < 0x20 || aet[i] > 0x7e || aet[i] == '\\') {
            return false;
        }
    }
    return n > 0 && n <= 16 && aet[0] != ' ' && aet[n - 1] != ' ';
}

/* mkdir that accepts an existing folder; fsyncs the parent when it made one. */
static bool make_folder(const char *path, const char *parent)
{
    if (mkdir(path, 0777) == 0) {
        int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
        return true;
    }
    struct stat st;
    return errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Remove ".part-*" files an interrupted run left (never acknowledged). */
static void remove_parts(const char *folder)
{
    DIR *dir = opendir(folder);
    if (dir == NULL) {
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strncmp(entry->d_name, ".part-", 6) == 0) {
            (void)unlinkat(dirfd(dir), entry->d_name, 0);
        }
    }
    closedir(dir);
}

ImdReceiver *imd_receiver_create(ImdError **error, const ImdReceiverConfig *config)
{
    if (config == NULL || config->folder == NULL || config->folder[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "receiver: no storage folder");
        return NULL;
    }
    if (!valid_aet(config->aet)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "receiver: AE title \"%s\": 1 to 16 printable characters, no backslash "
                      "(PS3.5 §6.2)",
                      config->aet != NULL ? config->aet : "");
        return NULL;
    }
    for (size_t i = 0; config->calling_aets != NULL && i < config->calling_count; i++) {
        if (!valid_aet(config->calling_aets[i])) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "receiver: calling AE title \"%s\" in the "
                          "allow-list is not a valid AE title", config->calling_aets[i]);
            return NULL;
        }
    }
    if ((config->max_pdu != 0 && (config->max_pdu < IMD_PDU_MIN_LENGTH ||
                                  config->max_pdu > IMD_PDU_LARGEST_MAX)) ||
        config->association_timeout < 0 || config->idle_timeout < 0 ||
        config->association_timeout > 86400 || config->idle_timeout > 86400) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "receiver: maximum PDU %u (1024 to 16 MiB) or a timeout out of range",
                      config->max_pdu);
        return NULL;
    }
    if (strlen(config->folder) > 3000) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "receiver: storage folder name longer than "
                      "3000 bytes");
        return NULL;
    }
    if (!make_folder(config->folder, ".")) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot create the storage folder: %s",
                      config->folder, strerror(errno));
        return NULL;
    }
    remove_parts(config->folder);
    ImdReceiver *r = imd__calloc(error, 1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->ended, NULL);
    snprintf(r->aet, sizeof r->aet, "%s", config->aet);
    r->folder = imd__strdup(error, config->folder);
    r->calling = copy_list(error, config->calling_aets, config->calling_count);
    r->addresses = copy_list(error, config->addresses, config->address_count);
    if (r->folder == NULL || (config->calling_aets != NULL && r->calling == NULL) ||
        (config->addresses != NULL && r->addresses == NULL)) {
        imd_receiver_destroy(r);
        return NULL;
    }
    r->policy.aet = r->aet;
    r->policy.calling_aets = (const char *const *)r->calling;
    r->policy.calling_count = config->calling_count;
    r->policy.addresses = (const char *const *)r->addresses;
    r->policy.address_count = config->address_count;
    r->policy.max_pdu = config->max_pdu != 0 ? config->max_pdu : IMD_PDU_DEFAULT_MAX;
    r->policy.max_instance = config->max_instance;
    r->policy.timeouts.connect_ms = IMD_NET_DEFAULT_CONNECT_MS;
    r->policy.timeouts.association_ms = config->association_timeout > 0
                                            ? (int)(config->association_timeout * 1000)
                                            : IMD_NET_DEFAULT_ASSOCIATION_MS;
    r->policy.timeouts.idle_ms = config->idle_timeout > 0 ? (int)(config->idle_timeout * 1000)
                                                          : IMD_NET_DEFAULT_IDLE_MS;
    r->policy.timeouts.dimse_ms = r->policy.timeouts.idle_ms;
    r->max_associations = config->max_associations != 0 ? config->max_associations : 4;
    r->min_free_disk = config->min_free_disk;
    if (config->tls_cert != NULL || config->tls_key != NULL || config->tls_ca != NULL) {
        ImdTlsConfig tls = {config->tls_cert, config->tls_key, config->tls_ca,
                            !config->tls_no_verify};
        r->tls = imd__tls_create(error, &tls, true, "receiver: TLS");
        if (r->tls == NULL) {
            imd_receiver_destroy(r);
            return NULL;
        }
        r->policy.tls = r->tls;
    }
    r->listener = imd__net_listen(error, config->address, config->port);
    if (r->listener == NULL) {
        imd_receiver_destroy(r);
        return NULL;
    }
    r->port = imd__net_listener_port(r->listener);
    return r;
}

int imd_receiver_port(const ImdReceiver *receiver)
{
    return receiver->port;
}

void imd_receiver_stop(ImdReceiver *receiver)
{
    atomic_store(&receiver->stop, 1);
}

void imd_receiver_destroy(ImdReceiver *receiver)
{
    if (receiver == NULL) {
        return;
    }
    imd__net_listener_close(receiver->listener);
    imd__tls_destroy(receiver->tls);
    free_list(receiver->calling);
    free_list(receiver->addresses);
    free(receiver->folder);
    pthread_mutex_destroy(&receiver->lock);
    pthread_cond_destroy(&receiver->ended);
    free(receiver);
}

/* ---- storing one instance ---- */

typedef struct Session {
    ImdReceiver *receiver;
    uint64_t id;
    int fd;
    char peer[64];
    ImdNetScpReport report; /* filled by imd__net_serve as it goes (calling AE) */
} Session;

/* Append a little-endian explicit-VR meta element (PS3.10 §7.1). */
static size_t meta_element(uint8_t *p, uint16_t element, const char *vr, const void *value,
                           size_t size)
{
    size_t padded = size + (size & 1u), at = 0;
    uint8_t head[12] = {2, 0, (uint8_t)element, (uint8_t)(element >> 8), (uint8_t)vr[0],
                        (uint8_t)vr[1]};
    if (vr[0] == 'O') { /* OB: 2 reserved bytes, 32-bit length (PS3.5 §7.1.2) */
        head[8] = (uint8_t)padded;
        memcpy(p, head, 12);
        at = 12;
    } else {
        head[6] = (uint8_t)padded;
        head[7] = (uint8_t)(padded >> 8);
        memcpy(p, head, 8);
        at = 8;
    }
    memcpy(p + at, value, size);
    if (padded != size) {
        p[at + size] = 0; /* UI pads with NUL (PS3.5 §9.1) */
    }
    return at + padded;
}

/* Preamble, "DICM" and the File Meta Information for a received data set
 * (PS3.10 §7.1); its length. `out` holds 132 + 14 + 12 + 4 * (8 + 66). */
static size_t part10_head(uint8_t *out, const char *sop_class, const char *sop_instance,
                          const char *syntax)
{
    static const uint8_t version[2] = {0, 1};
    memset(out, 0, 128);
    memcpy(out + 128, "DICM", 4);
    uint8_t body[4 * 74 + 14];
    size_t n = meta_element(body, 0x0001, "OB", version, 2);
    n += meta_element(body + n, 0x0002, "UI", sop_class, strlen(sop_class));
    n += meta_element(body + n, 0x0003, "UI", sop_instance, strlen(sop_instance));
    n += meta_element(body + n, 0x0010, "UI", syntax, strlen(syntax));
    n += meta_element(body + n, 0x0012, "UI", IMD_NET_IMPLEMENTATION_CLASS_UID,
                      strlen(IMD_NET_IMPLEMENTATION_CLASS_UID));
    uint8_t length[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    size_t at = 132 + meta_element(out + 132, 0x0000, "UL", length, 4);
    memcpy(out + at, body, n);
    return at + n;
}

/* Write the whole iovec to fd (short writes and EINTR). */
static bool write_all(int fd, struct iovec *iov, int count)
{
    while (count > 0) {
        ssize_t n = writev(fd, iov, count);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        size_t done = (size_t)n;
        while (count > 0 && done >= iov[0].iov_len) {
            done -= iov[0].iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov[0].iov_base = (uint8_t *)iov[0].iov_base + done;
            iov[0].iov_len -= done;
        }
    }
    return true;
}

static void emit_store(Session *s, ImdReceiverEventKind kind, const char *path,
                       const char *series_folder, const char *series_uid,
                       const char *sop_instance, uint16_t status, const char *reason)
{
    if (s->receiver->event == NULL) {
        return;
    }
    ImdReceiverEvent e = {0};
    e.kind = kind;
    e.association = s->id;
    e.peer = s->peer;
    e.calling_aet = s->report.calling_aet;
    e.path = path != NULL ? path : "";
    e.series_folder = series_folder != NULL ? series_folder : "";
    e.series_uid = series_uid != NULL ? series_uid : "";
    e.sop_instance_uid = sop_instance;
    e.status = status;
    e.reason = reason != NULL ? reason : "";
    e.tls = "";
    s->receiver->event(s->receiver->user, &e);
}

/* The value of a text element, trailing padding removed, into out (65). */
static void value_of(const ImdDicomDataSet *dataset, uint32_t tag, char out[65])
{
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, tag);
    size_t n = e != NULL && e->value != NULL && e->items == NULL ? e->size : 0;
    n = n < 64 ? n : 64;
    while (n > 0 && (e->value[n - 1] == ' ' || e->value[n - 1] == '\0')) {
        n--;
    }
    for (size_t i = 0; i < n; i++) {
        /* NUL inside a value would cut the name short: make it visible. */
        out[i] = e->value[i] != 0 ? (char)e->value[i] : '_';
    }
    out[n] = '\0';
}

static bool store_instance(ImdError **error, void *user, const char *sop_class,
                           const char *sop_instance, const char *syntax, uint8_t *data,
                           size_t size, uint16_t *status)
{
    (void)error;
    Session *s = user;
    ImdReceiver *r = s->receiver;
    char reason[4400] = "";
    char part[4096], final[4096], series_folder[4096];
    bool made = false;
    *status = 0xA700;
    if (r->min_free_disk != 0) {
        struct statvfs fs;
        if (statvfs(r->folder, &fs) == 0 &&
            (uint64_t)fs.f_bavail * fs.f_frsize < r->min_free_disk + size) {
            snprintf(reason, sizeof reason, "less than %llu bytes free on the storage folder's "
                     "disk", (unsigned long long)r->min_free_disk);
            goto failed;
        }
    }
    snprintf(part, sizeof part, "%.3000s/.part-%llu-%lu", r->folder,
             (unsigned long long)atomic_fetch_add(&r->part_counter, 1), (unsigned long)getpid());
    int fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(reason, sizeof reason, "%s: %s", part, strerror(errno));
        goto failed;
    }
    made = true;
    uint8_t head[132 + 14 + 12 + 4 * 74];
    size_t head_size = part10_head(head, sop_class, sop_instance, syntax);
    struct iovec iov[2] = {{head, head_size}, {data, size}};
    if (!write_all(fd, iov, size > 0 ? 2 : 1) || fsync(fd) != 0) {
        snprintf(reason, sizeof reason, "%s: %s", part, strerror(errno));
        close(fd);
        goto failed;
    }
    if (close(fd) != 0) {
        snprintf(reason, sizeof reason, "%s: %s", part, strerror(errno));
        goto failed;
    }
    free(data);
    data = NULL;
    /* The names come from the stored file as the DICOM reader sees it: a
     * data set it cannot read is refused here rather than kept. */
    ImdError *parse_error = NULL;
    ImdDicomReadOptions options = {0};
    options.stop_tag = IMD_TAG_PixelData;
    ImdDicomDataSet *dataset = imd_dicom_read_file(&parse_error, part, &options);
    if (dataset == NULL) {
        snprintf(reason, sizeof reason, "cannot read the data set: %s",
                 imd_error_message(parse_error));
        imd_error_clear(&parse_error);
        *status = 0xC000;
        goto failed;
    }
    char patient[65], study[65], series[65];
    value_of(dataset, IMD_TAG_PatientID, patient);
    value_of(dataset, IMD_TAG_StudyInstanceUID, study);
    value_of(dataset, IMD_TAG_SeriesInstanceUID, series);
    imd_dicom_dataset_destroy(dataset);
    if (series[0] == '\0') {
        snprintf(reason, sizeof reason, "no Series Instance UID");
        *status = 0xC000;
        goto failed;
    }
    char safe_patient[65], safe_study[65], safe_series[65], safe_sop[65];
    imd_receiver_safe_name(patient, safe_patient);
    imd_receiver_safe_name(study, safe_study);
    imd_receiver_safe_name(series, safe_series);
    imd_receiver_safe_name(sop_instance, safe_sop);
    char patient_folder[4096], study_folder[4096];
    snprintf(patient_folder, sizeof patient_folder, "%.3000s/%s", r->folder, safe_patient);
    snprintf(study_folder, sizeof study_folder, "%.3070s/%s", patient_folder, safe_study);
    snprintf(series_folder, sizeof series_folder, "%.3140s/%s", study_folder, safe_series);
    snprintf(final, sizeof final, "%.3210s/%s.dcm", series_folder, safe_sop);
    if (!make_folder(patient_folder, r->folder) || !make_folder(study_folder, patient_folder) ||
        !make_folder(series_folder, study_folder)) {
        snprintf(reason, sizeof reason, "%s: cannot create: %s", series_folder, strerror(errno));
        goto failed;
    }
    /* rename() is atomic (POSIX): the final name holds the old file or the
     * new one, never part of either; a resent instance replaces itself. */
    if (rename(part, final) != 0) {
        snprintf(reason, sizeof reason, "%s: %s", final, strerror(errno));
        goto failed;
    }
    made = false;
    int dir = open(series_folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0 || fsync(dir) != 0) {
        snprintf(reason, sizeof reason, "%s: cannot sync the folder: %s", series_folder,
                 strerror(errno));
        if (dir >= 0) {
            close(dir);
        }
        /* The file may be there, but it is not known to be durable. */
        goto failed;
    }
    close(dir);
    *status = 0x0000;
    emit_store(s, IMD_RECEIVER_STORED, final, series_folder, series, sop_instance, *status, "");
    return true;
failed:
    free(data);
    if (made) {
        (void)unlink(part);
    }
    emit_store(s, IMD_RECEIVER_STORE_FAILED, NULL, NULL, NULL, sop_instance, *status, reason);
    return true;
}

/* ---- associations ---- */

static void *serve_thread(void *argument)
{
    Session *s = argument;
    ImdReceiver *r = s->receiver;
    ImdNetScpPolicy policy = r->policy;
    ImdNetScpReport *report_pointer = &s->report, report;
    ImdError *error = NULL;
    bool ok = imd__net_serve(&error, s->fd, s->peer, &policy, store_instance, s, &r->stop,
                             report_pointer);
    report = s->report;
    if (!ok && report.reason[0] == '\0') {
        snprintf(report.reason, sizeof report.reason, "%s", imd_error_message(error));
    }
    imd_error_clear(&error);
    if (r->event != NULL) {
        ImdReceiverEvent e = {0};
        e.kind = IMD_RECEIVER_ASSOCIATION_END;
        e.association = s->id;
        e.peer = s->peer;
        e.calling_aet = report.calling_aet;
        e.path = e.series_folder = e.series_uid = e.sop_instance_uid = "";
        e.rejected = report.rejected;
        e.released = report.released;
        e.stored = report.stored;
        e.failed = report.failed;
        e.echoes = report.echoes;
        e.reason = report.reason;
        e.tls = report.tls;
        r->event(r->user, &e);
    }
    free(s);
    pthread_mutex_lock(&r->lock);
    r->active--;
    pthread_cond_broadcast(&r->ended);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Refuse a connection beyond the limit on this thread, quickly (a peer
 * that sends nothing holds the loop for at most 2 s). */
static void refuse_busy(ImdReceiver *r, int fd, const char *peer, uint64_t id)
{
    ImdNetScpPolicy policy = r->policy;
    policy.busy = true;
    if (policy.timeouts.association_ms > 2000) {
        policy.timeouts.association_ms = 2000;
    }
    ImdError *error = NULL;
    Session s = {.receiver = r, .id = id, .fd = fd};
    snprintf(s.peer, sizeof s.peer, "%s", peer);
    (void)imd__net_serve(&error, fd, peer, &policy, store_instance, &s, &r->stop, &s.report);
    ImdNetScpReport report = s.report;
    imd_error_clear(&error);
    if (r->event != NULL) {
        ImdReceiverEvent e = {0};
        e.kind = IMD_RECEIVER_ASSOCIATION_END;
        e.association = id;
        e.peer = peer;
        e.calling_aet = report.calling_aet;
        e.path = e.series_folder = e.series_uid = e.sop_instance_uid = "";
        e.rejected = 1;
        e.reason = report.reason;
        e.tls = report.tls;
        r->event(r->user, &e);
    }
}

bool imd_receiver_run(ImdError **error, ImdReceiver *r, ImdReceiverEventFn *event,
                      ImdReceiverTickFn *tick, void *user)
{
    r->event = event;
    r->user = user;
    bool ok = true;
    while (!atomic_load(&r->stop)) {
        if (tick != NULL) {
            tick(user);
        }
        char peer[64];
        ImdError *accept_error = NULL;
        int fd = imd__net_accept(&accept_error, r->listener, 100, peer, sizeof peer);
        if (fd < 0) {
            if (accept_error != NULL) {
                imd_error_propagate(error, accept_error);
                ok = false;
                break;
            }
            continue;
        }
        pthread_mutex_lock(&r->lock);
        uint64_t id = ++r->associations;
        bool busy = r->active >= r->max_associations;
        if (!busy) {
            r->active++;
        }
        pthread_mutex_unlock(&r->lock);
        if (busy) {
            refuse_busy(r, fd, peer, id);
            continue;
        }
        Session *s = calloc(1, sizeof *s);
        pthread_t thread;
        pthread_attr_t attributes;
        bool started = false;
        if (s != NULL && pthread_attr_init(&attributes) == 0) {
            *s = (Session){.receiver = r, .id = id, .fd = fd};
            snprintf(s->peer, sizeof s->peer, "%s", peer);
            (void)pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
            started = pthread_create(&thread, &attributes, serve_thread, s) == 0;
            pthread_attr_destroy(&attributes);
        }
        if (!started) {
            /* No thread: the peer learns it from the closed connection. */
            free(s);
            close(fd);
            pthread_mutex_lock(&r->lock);
            r->active--;
            pthread_mutex_unlock(&r->lock);
        }
    }
    /* Refuse new ones (the listener closes), let the open ones end: each
     * finishes the instance it is receiving, then aborts. */
    atomic_store(&r->stop, 1);
    imd__net_listener_close(r->listener);
    r->listener = NULL;
    pthread_mutex_lock(&r->lock);
    while (r->active > 0) {
        pthread_cond_wait(&r->ended, &r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}
