/**
 * @file plugin.h
 * The plugin ABI: format, archive and transport plugins, built in or loaded
 * at run time from a shared object (docs/plugin-abi.md).
 *
 * - Transports move bytes (file system, DICOM network).
 * - Archives hold members (a folder tree, a zip file).
 * - Formats turn members into series and series into members.
 *
 * Every descriptor starts with `abi_version` (IMD_PLUGIN_ABI_VERSION) and
 * `struct_size` (sizeof the descriptor when the plugin was built); fields
 * are only ever appended. A plugin file exports one function,
 * `imd_plugin_manifest_v2`, returning its manifest. The host refuses a
 * manifest or descriptor whose ABI version differs from its own, or whose
 * struct_size is smaller than the first version of the descriptor.
 */
#ifndef IMAGEDATA_PLUGIN_H
#define IMAGEDATA_PLUGIN_H

#include <imagedata/common.h>
#include <imagedata/dicom.h>
#include <imagedata/options.h>
#include <imagedata/stream.h>
#include <imagedata/url.h>

IMD_BEGIN_DECLS

/** Bumped whenever a descriptor or a type they use changes incompatibly. */
#define IMD_PLUGIN_ABI_VERSION 2u

/** The symbol a plugin file exports. */
#define IMD_PLUGIN_ENTRY_SYMBOL "imd_plugin_manifest_v2"

/** Called once per member; return non-zero to stop the walk. */
typedef int ImdVisitFn(void *user, const char *name);

/* ---- formats ------------------------------------------------------------ */

enum {
    IMD_FORMAT_READ = 1u,
    IMD_FORMAT_WRITE = 2u,
    /**
     * Read only a file the input names itself (or with input_format): never a
     * member found in a folder or archive. For documents that are images only
     * when a user says so (PostScript/PDF: a protocol.pdf beside an exam's
     * DICOM files is not a series of it).
     */
    IMD_FORMAT_NAMED_ONLY = 4u
};

typedef struct ImdFormatPlugin {
    uint32_t abi_version, struct_size;
    const char *name;               /**< "dicom", "nifti", "itk", "mat", ... */
    const char *description;
    const char *const *suffixes;    /**< NULL-terminated: ".nii", ".nii.gz"; may be NULL */
    uint32_t flags;                 /**< IMD_FORMAT_READ | IMD_FORMAT_WRITE | IMD_FORMAT_NAMED_ONLY */
    /** How sure (0..100) the plugin is that a member is its format, from its first bytes. */
    int (*probe)(const uint8_t *head, size_t head_length, const char *member_name);
    /**
     * A reader collecting members of one read; NULL on error. `options` and
     * `context` stay valid until reader_destroy; report what was tolerated or
     * skipped with imd_context_log(context, ...).
     */
    void *(*reader_create)(ImdError **error, const ImdOptions *options,
                           const ImdContext *context);
    /**
     * Offer a member. The stream is borrowed for the call; the archive stays
     * open until reader_finish() returns, so a reader may keep only the
     * member's name and reopen it there (imd_archive_open_member) instead of
     * holding its bytes. Return false with IMD_ERR_NOT_RECOGNIZED to decline
     * the member (the host then tries other formats); any other error stops
     * the read.
     */
    bool (*reader_add)(ImdError **error, void *reader, ImdArchive *archive,
                       const char *member_name, ImdStream *member);
    /** Sort and stack what was added into series. */
    ImdSeriesList *(*reader_finish)(ImdError **error, void *reader);
    void (*reader_destroy)(void *reader);
    /**
     * Write `series` into `destination`. `name` is the member name or
     * pattern the user asked for, "" to use the format's default naming.
     * NULL when the format cannot write.
     */
    bool (*write)(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                  const char *name, const ImdOptions *options);
    /**
     * Every option the reader and the writer read, ended by an entry with a
     * NULL name; NULL when the format reads none. The pipeline refuses an
     * option that no format and no pipeline table declares, and a value not
     * of the declared type, before any reader or writer runs (a usage error,
     * INVALID_ARG); the format still checks what it reads (imd_options_get_*).
     * A descriptor whose struct_size ends before this field declares none.
     */
    const ImdOptionSpec *options;
} ImdFormatPlugin;

/* ---- transports --------------------------------------------------------- */

typedef struct ImdTransport ImdTransport;

/**
 * A transport moves bytes between a location (a folder, a file, a DICOM
 * node) and streams. Member names are '/'-separated and relative to the
 * location's root.
 */
typedef struct ImdTransportMethods {
    /**
     * Every readable object under the root (recursively), in strcmp order.
     * A location that is one object (a file) lists only that object.
     */
    bool (*list)(ImdError **error, ImdTransport *transport, ImdVisitFn *visit, void *user);
    /** Open an object to read (a file beside the listed one may be opened too). */
    ImdStream *(*open_read)(ImdError **error, ImdTransport *transport, const char *name);
    /**
     * Create (or replace) an object to write: the stream's close commits it,
     * its abort leaves nothing. NULL in a transport that cannot write.
     */
    ImdStream *(*create)(ImdError **error, ImdTransport *transport, const char *name);
    /**
     * Take one whole DICOM data set (a network node takes data sets, not
     * files); `name` is the member name a file transport would have used,
     * `transfer_syntax` the UID the pixel data is encoded in (encapsulated
     * data sets must be sent in it; native ones in any native syntax).
     * NULL when the transport takes bytes through create().
     */
    bool (*put_dataset)(ImdError **error, ImdTransport *transport, const char *name,
                        const ImdDicomDataSet *dataset, const char *transfer_syntax);
    /** The object's path in the local file system (free()), or NULL; may be NULL. */
    char *(*local_path)(const ImdTransport *transport, const char *name);
    /** Commit (everything created stays) and free; always frees. */
    bool (*close)(ImdError **error, ImdTransport *transport);
    /** Free, removing what this transport created where possible. */
    void (*abort)(ImdTransport *transport);
} ImdTransportMethods;

/** An open transport. Implementations embed this first. */
struct ImdTransport {
    const ImdTransportMethods *methods;
    char *name; /**< the location, for messages; owned by the transport */
    /**
     * When the location is one object (a file to read, or a path to write
     * that is not an existing folder): its member name, so that the host can
     * open an archive (a zip) on it or write a format's default names there.
     * NULL when the location is a collection (a folder). Owned.
     */
    char *object;
};

typedef struct ImdTransportPlugin {
    uint32_t abi_version, struct_size;
    const char *name; /**< "file", "dicom", "memory" */
    const char *description;
    const char *const *schemes; /**< NULL-terminated URL schemes it serves */
    /**
     * Open the location `url` (its scheme is one of `schemes`; the query is
     * the host's). Read mode: IMD_ERR_NOT_FOUND when it does not exist.
     */
    ImdTransport *(*open)(ImdError **error, const ImdUrl *url, ImdMode mode,
                          const ImdOptions *options);
} ImdTransportPlugin;

/* ---- archives ----------------------------------------------------------- */

typedef struct ImdArchiveMethods {
    /** Every regular member (no folders), in sorted order, '/'-separated names. */
    bool (*list)(ImdError **error, ImdArchive *archive, ImdVisitFn *visit, void *user);
    /** Open a member to read or, in a writable archive, to write (create or replace). */
    ImdStream *(*open_member)(ImdError **error, ImdArchive *archive, const char *name,
                              ImdMode mode);
    /** Commit (a zip writes its directory) and free; always frees. */
    bool (*close)(ImdError **error, ImdArchive *archive);
    /** Free, discarding what was written where possible. */
    void (*abort)(ImdArchive *archive);
    /**
     * The member's path in the local file system (a new string, free()), for
     * readers that map files; NULL when members live elsewhere (a zip). May
     * be NULL.
     */
    char *(*local_path)(const ImdArchive *archive, const char *name);
    /** Hand a whole DICOM data set to the transport (imd_archive_put_dataset); may be NULL. */
    bool (*put_dataset)(ImdError **error, ImdArchive *archive, const char *name,
                        const ImdDicomDataSet *dataset, const char *transfer_syntax);
} ImdArchiveMethods;

/** An open archive. Implementations embed this first. */
struct ImdArchive {
    const ImdArchiveMethods *methods;
    char *name; /**< the archive's location, for messages; owned by the archive */
    /**
     * The transport the archive reads and writes through, set by the host
     * after open(): imd_archive_close()/imd_archive_abort() close it after
     * the archive. The archive itself never closes it.
     */
    ImdTransport *transport;
};

typedef struct ImdArchivePlugin {
    uint32_t abi_version, struct_size;
    const char *name; /**< "folder", "zip" */
    const char *description;
    const char *const *suffixes; /**< NULL-terminated, e.g. ".zip" */
    /** How sure (0..100) the plugin is that an object with this head is its archive. */
    int (*probe)(const uint8_t *head, size_t head_length, const char *name);
    /**
     * Open the archive held in `transport`: the object `object` of it (a zip
     * file, possibly new when writing), or, with `object` NULL, the
     * transport's root as a collection (a folder). The transport is borrowed.
     */
    ImdArchive *(*open)(ImdError **error, ImdTransport *transport, const char *object,
                        ImdMode mode, const ImdOptions *options);
} ImdArchivePlugin;

/* ---- the manifest a plugin file exports -------------------------------- */

typedef enum ImdPluginKind {
    IMD_PLUGIN_FORMAT = 1,
    IMD_PLUGIN_ARCHIVE = 2,
    IMD_PLUGIN_TRANSPORT = 3
} ImdPluginKind;

typedef struct ImdPluginRecord {
    uint32_t kind;          /**< ImdPluginKind */
    const void *descriptor; /**< ImdFormatPlugin, ImdArchivePlugin or ImdTransportPlugin */
} ImdPluginRecord;

typedef struct ImdPluginManifest {
    uint32_t abi_version, struct_size;
    const char *library; /**< a name for messages */
    size_t count;
    const ImdPluginRecord *records;
} ImdPluginManifest;

typedef const ImdPluginManifest *ImdPluginEntryFn(void);

/* ---- host functions for plugins ---------------------------------------- */

/** List the members matching `pattern` (imd_member_match(); NULL or "" for all). */
IMD_API bool imd_archive_list(ImdError **error, ImdArchive *archive, const char *pattern,
                              ImdVisitFn *visit, void *user);
/** Open a member; write names must pass imd_member_name_is_safe(). */
IMD_API IMD_NODISCARD ImdStream *imd_archive_open_member(ImdError **error, ImdArchive *archive,
                                                         const char *name, ImdMode mode);
/** Write a whole member in one call. */
IMD_API bool imd_archive_write_member(ImdError **error, ImdArchive *archive, const char *name,
                                      const void *data, size_t size);
/**
 * The path of a member in the local file system, for readers that map files
 * instead of reading them; NULL when the archive keeps members elsewhere (a
 * zip). Release with imd_free().
 */
IMD_API IMD_NODISCARD char *imd_archive_local_path(const ImdArchive *archive, const char *name);
IMD_API bool imd_archive_close(ImdError **error, ImdArchive *archive);
IMD_API void imd_archive_abort(ImdArchive *archive);
IMD_API const char *imd_archive_name(const ImdArchive *archive);
/** Does the archive's transport take whole data sets (a DICOM node)? */
IMD_API bool imd_archive_takes_datasets(const ImdArchive *archive);
/** Hand a data set to such a transport; UNSUPPORTED when it takes bytes. */
IMD_API bool imd_archive_put_dataset(ImdError **error, ImdArchive *archive, const char *name,
                                     const ImdDicomDataSet *dataset,
                                     const char *transfer_syntax);

/* Transports, for hosts and archive plugins (src/io/transport.c). */
IMD_API bool imd_transport_list(ImdError **error, ImdTransport *transport, ImdVisitFn *visit,
                                void *user);
IMD_API IMD_NODISCARD ImdStream *imd_transport_open_read(ImdError **error,
                                                         ImdTransport *transport,
                                                         const char *name);
/** Create a member (names must pass imd_member_name_is_safe()). */
IMD_API IMD_NODISCARD ImdStream *imd_transport_create(ImdError **error, ImdTransport *transport,
                                                      const char *name);
IMD_API IMD_NODISCARD char *imd_transport_local_path(const ImdTransport *transport,
                                                     const char *name);
IMD_API bool imd_transport_close(ImdError **error, ImdTransport *transport);
IMD_API void imd_transport_abort(ImdTransport *transport);
IMD_API const char *imd_transport_name(const ImdTransport *transport);
/** The member name of a one-object location, or NULL for a collection. */
IMD_API const char *imd_transport_object(const ImdTransport *transport);

IMD_END_DECLS

#endif
