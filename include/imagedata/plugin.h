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
 * `imd_plugin_manifest_v1`, returning its manifest. The host refuses a
 * manifest or descriptor whose ABI version differs from its own, or whose
 * struct_size is smaller than the first version of the descriptor.
 */
#ifndef IMAGEDATA_PLUGIN_H
#define IMAGEDATA_PLUGIN_H

#include <imagedata/common.h>
#include <imagedata/options.h>
#include <imagedata/stream.h>
#include <imagedata/url.h>

IMD_BEGIN_DECLS

/** Bumped whenever a descriptor or a type they use changes incompatibly. */
#define IMD_PLUGIN_ABI_VERSION 1u

/** The symbol a plugin file exports. */
#define IMD_PLUGIN_ENTRY_SYMBOL "imd_plugin_manifest_v1"

/** Called once per member; return non-zero to stop the walk. */
typedef int ImdVisitFn(void *user, const char *name);

/* ---- formats ------------------------------------------------------------ */

enum {
    IMD_FORMAT_READ = 1u,
    IMD_FORMAT_WRITE = 2u
};

typedef struct ImdFormatPlugin {
    uint32_t abi_version, struct_size;
    const char *name;               /**< "dicom", "nifti", "itk", "mat", ... */
    const char *description;
    const char *const *suffixes;    /**< NULL-terminated: ".nii", ".nii.gz"; may be NULL */
    uint32_t flags;                 /**< IMD_FORMAT_READ | IMD_FORMAT_WRITE */
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
} ImdArchiveMethods;

/** An open archive. Implementations embed this first. */
struct ImdArchive {
    const ImdArchiveMethods *methods;
    char *name; /**< the archive's path, for messages; owned by the archive */
};

typedef struct ImdArchivePlugin {
    uint32_t abi_version, struct_size;
    const char *name; /**< "filesystem", "zip" */
    const char *description;
    const char *const *suffixes; /**< NULL-terminated, e.g. ".zip" */
    /** How sure (0..100) the plugin is that a file with this head is its archive. */
    int (*probe)(const uint8_t *head, size_t head_length, const char *path);
    /** Open `path` (a folder, a file, or a new path to create when writing). */
    ImdArchive *(*open)(ImdError **error, const char *path, ImdMode mode,
                        const ImdOptions *options);
} ImdArchivePlugin;

/* ---- transports --------------------------------------------------------- */

typedef struct ImdTransport ImdTransport;

typedef struct ImdTransportMethods {
    bool (*close)(ImdError **error, ImdTransport *transport);
} ImdTransportMethods;

struct ImdTransport {
    const ImdTransportMethods *methods;
};

typedef struct ImdTransportPlugin {
    uint32_t abi_version, struct_size;
    const char *name; /**< "file", "dicom" */
    const char *description;
    const char *const *schemes; /**< NULL-terminated URL schemes it serves */
    /** Connect for reading or writing; NULL when unsupported or on error. */
    ImdTransport *(*open)(ImdError **error, const ImdUrl *url, ImdMode mode,
                          const ImdOptions *options);
} ImdTransportPlugin;

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

IMD_END_DECLS

#endif
