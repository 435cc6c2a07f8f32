/*
 * tests/abi/plugin_layout.c: pins the plugin ABI (design.md §3.8).
 *
 * Compiled with -fsyntax-only by tests/integration/headers_standalone.sh;
 * nothing here runs. Every _Static_assert below records a fact that plugins
 * built against an earlier imagedata rely on.
 *
 *   CHANGING ANY OFFSET, SIZE OR FUNCTION POINTER TYPE PINNED HERE REQUIRES
 *   BUMPING IMD_PLUGIN_ABI_VERSION (include/imagedata/plugin.h) and then
 *   updating this file. Appending a field at the end of a descriptor is the
 *   compatible way to grow it (struct_size tells the host what it got); then
 *   add the new field's offset here and update the sizeof pin.
 *
 *   Error codes (ImdErrorCode) and element types (ImdDType) are NEVER
 *   renumbered: new values are only appended.
 *
 * Offsets are pinned for x86-64 LP64 (the platform CI runs on); enum values
 * and function pointer types are pinned everywhere.
 */
#include <imagedata/error.h>
#include <imagedata/plugin.h>
#include <imagedata/stream.h>
#include <imagedata/types.h>
#include <imagedata/url.h>
#include <imagedata/axis.h>

#include <stddef.h>

#define PIN_OFFSET(type, field, offset)                                                        \
    _Static_assert(offsetof(type, field) == (offset),                                          \
                   "ABI: offsetof(" #type ", " #field ") changed; bump IMD_PLUGIN_ABI_VERSION")
#define PIN_SIZE(type, size)                                                                   \
    _Static_assert(sizeof(type) == (size),                                                     \
                   "ABI: sizeof(" #type ") changed; bump IMD_PLUGIN_ABI_VERSION")
/* The type of a field, exactly (function pointer signatures included). */
#define PIN_TYPE(type, field, field_type)                                                      \
    _Static_assert(_Generic(((type *)0)->field, field_type: 1, default: 0),                    \
                   "ABI: type of " #type "." #field " changed; bump IMD_PLUGIN_ABI_VERSION")
#define PIN_VALUE(name, value)                                                                 \
    _Static_assert((name) == (value), "ABI: " #name " must stay " #value)

/* ---- versions and names ----------------------------------------------------- */

PIN_VALUE(IMD_PLUGIN_ABI_VERSION, 2u);
_Static_assert(sizeof(IMD_PLUGIN_ENTRY_SYMBOL) == sizeof("imd_plugin_manifest_v2"),
               "ABI: IMD_PLUGIN_ENTRY_SYMBOL must stay \"imd_plugin_manifest_v2\"");

/* ---- enum values ------------------------------------------------------------- */

/* Error codes: never renumbered (error.h). */
PIN_VALUE(IMD_ERR_NOMEM, 1);
PIN_VALUE(IMD_ERR_INVALID_ARG, 2);
PIN_VALUE(IMD_ERR_IO, 3);
PIN_VALUE(IMD_ERR_CORRUPT, 4);
PIN_VALUE(IMD_ERR_UNSUPPORTED, 5);
PIN_VALUE(IMD_ERR_NOT_RECOGNIZED, 6);
PIN_VALUE(IMD_ERR_CANNOT_SORT, 7);
PIN_VALUE(IMD_ERR_LIMIT, 8);
PIN_VALUE(IMD_ERR_NOT_FOUND, 9);
PIN_VALUE(IMD_ERR_NETWORK, 10);
PIN_VALUE(IMD_ERR_PROTOCOL, 11);
PIN_VALUE(IMD_ERR_PLUGIN_ABI, 12);
PIN_VALUE(IMD_ERR_INTERNAL, 13);
PIN_VALUE(IMD_ERR_BAD_STATE, 14);
PIN_VALUE(IMD_ERR_CANCELLED, 15);

/* Option types (ImdOptionSpec.type): never renumbered (options.h). */
PIN_VALUE(IMD_OPTION_STRING, 1);
PIN_VALUE(IMD_OPTION_BOOL, 2);
PIN_VALUE(IMD_OPTION_INT, 3);
PIN_VALUE(IMD_OPTION_DOUBLE, 4);
PIN_VALUE(IMD_OPTION_ORDER, 5);
PIN_VALUE(IMD_OPTION_CHOICE, 6);

/* Element types: never renumbered (types.h). */
PIN_VALUE(IMD_DTYPE_BOOL, 1);
PIN_VALUE(IMD_DTYPE_UINT8, 2);
PIN_VALUE(IMD_DTYPE_INT8, 3);
PIN_VALUE(IMD_DTYPE_UINT16, 4);
PIN_VALUE(IMD_DTYPE_INT16, 5);
PIN_VALUE(IMD_DTYPE_UINT32, 6);
PIN_VALUE(IMD_DTYPE_INT32, 7);
PIN_VALUE(IMD_DTYPE_UINT64, 8);
PIN_VALUE(IMD_DTYPE_INT64, 9);
PIN_VALUE(IMD_DTYPE_FLOAT32, 10);
PIN_VALUE(IMD_DTYPE_FLOAT64, 11);
PIN_VALUE(IMD_DTYPE_COMPLEX64, 12);
PIN_VALUE(IMD_DTYPE_COMPLEX128, 13);
PIN_VALUE(IMD_DTYPE_RGB8, 14);

/* Values that cross the plugin boundary. */
PIN_VALUE(IMD_MODE_READ, 1);
PIN_VALUE(IMD_MODE_WRITE, 2);
PIN_VALUE(IMD_FORMAT_READ, 1u);
PIN_VALUE(IMD_FORMAT_WRITE, 2u);
PIN_VALUE(IMD_PLUGIN_FORMAT, 1);
PIN_VALUE(IMD_PLUGIN_ARCHIVE, 2);
PIN_VALUE(IMD_PLUGIN_TRANSPORT, 3);
PIN_VALUE(IMD_VALUE_MAX, 4);
PIN_VALUE(IMD_VALUE_NUMBER, 1);
PIN_VALUE(IMD_VALUE_VECTOR, 2);
PIN_VALUE(IMD_VALUE_B_VECTOR, 3);
PIN_VALUE(IMD_VALUE_STRING, 4);

/* ---- field types (all platforms) ----------------------------------------------- */

PIN_TYPE(ImdFormatPlugin, abi_version, uint32_t);
PIN_TYPE(ImdFormatPlugin, struct_size, uint32_t);
PIN_TYPE(ImdFormatPlugin, name, const char *);
PIN_TYPE(ImdFormatPlugin, description, const char *);
PIN_TYPE(ImdFormatPlugin, suffixes, const char *const *);
PIN_TYPE(ImdFormatPlugin, flags, uint32_t);
PIN_TYPE(ImdFormatPlugin, probe, int (*)(const uint8_t *, size_t, const char *));
PIN_TYPE(ImdFormatPlugin, reader_create,
         void *(*)(ImdError **, const ImdOptions *, const ImdContext *));
PIN_TYPE(ImdFormatPlugin, reader_add,
         bool (*)(ImdError **, void *, ImdArchive *, const char *, ImdStream *));
PIN_TYPE(ImdFormatPlugin, reader_finish, ImdSeriesList *(*)(ImdError **, void *));
PIN_TYPE(ImdFormatPlugin, reader_destroy, void (*)(void *));
PIN_TYPE(ImdFormatPlugin, write,
         bool (*)(ImdError **, const ImdSeries *, ImdArchive *, const char *,
                  const ImdOptions *));
PIN_TYPE(ImdFormatPlugin, options, const ImdOptionSpec *);

PIN_TYPE(ImdOptionSpec, name, const char *);
PIN_TYPE(ImdOptionSpec, type, uint32_t);
PIN_TYPE(ImdOptionSpec, description, const char *);
PIN_TYPE(ImdOptionSpec, choices, const char *const *);

PIN_TYPE(ImdArchiveMethods, list, bool (*)(ImdError **, ImdArchive *, ImdVisitFn *, void *));
PIN_TYPE(ImdArchiveMethods, open_member,
         ImdStream *(*)(ImdError **, ImdArchive *, const char *, ImdMode));
PIN_TYPE(ImdArchiveMethods, close, bool (*)(ImdError **, ImdArchive *));
PIN_TYPE(ImdArchiveMethods, abort, void (*)(ImdArchive *));
PIN_TYPE(ImdArchiveMethods, local_path, char *(*)(const ImdArchive *, const char *));
PIN_TYPE(ImdArchiveMethods, put_dataset,
         bool (*)(ImdError **, ImdArchive *, const char *, const ImdDicomDataSet *, const char *));

PIN_TYPE(ImdArchivePlugin, abi_version, uint32_t);
PIN_TYPE(ImdArchivePlugin, struct_size, uint32_t);
PIN_TYPE(ImdArchivePlugin, name, const char *);
PIN_TYPE(ImdArchivePlugin, description, const char *);
PIN_TYPE(ImdArchivePlugin, suffixes, const char *const *);
PIN_TYPE(ImdArchivePlugin, probe, int (*)(const uint8_t *, size_t, const char *));
PIN_TYPE(ImdArchivePlugin, open,
         ImdArchive *(*)(ImdError **, ImdTransport *, const char *, ImdMode, const ImdOptions *));

PIN_TYPE(ImdTransportMethods, list, bool (*)(ImdError **, ImdTransport *, ImdVisitFn *, void *));
PIN_TYPE(ImdTransportMethods, open_read, ImdStream *(*)(ImdError **, ImdTransport *, const char *));
PIN_TYPE(ImdTransportMethods, create, ImdStream *(*)(ImdError **, ImdTransport *, const char *));
PIN_TYPE(ImdTransportMethods, put_dataset,
         bool (*)(ImdError **, ImdTransport *, const char *, const ImdDicomDataSet *,
                  const char *));
PIN_TYPE(ImdTransportMethods, local_path, char *(*)(const ImdTransport *, const char *));
PIN_TYPE(ImdTransportMethods, close, bool (*)(ImdError **, ImdTransport *));
PIN_TYPE(ImdTransportMethods, abort, void (*)(ImdTransport *));

PIN_TYPE(ImdTransportPlugin, abi_version, uint32_t);
PIN_TYPE(ImdTransportPlugin, struct_size, uint32_t);
PIN_TYPE(ImdTransportPlugin, name, const char *);
PIN_TYPE(ImdTransportPlugin, description, const char *);
PIN_TYPE(ImdTransportPlugin, schemes, const char *const *);
PIN_TYPE(ImdTransportPlugin, open,
         ImdTransport *(*)(ImdError **, const ImdUrl *, ImdMode, const ImdOptions *));

PIN_TYPE(ImdPluginRecord, kind, uint32_t);
PIN_TYPE(ImdPluginRecord, descriptor, const void *);

PIN_TYPE(ImdPluginManifest, abi_version, uint32_t);
PIN_TYPE(ImdPluginManifest, struct_size, uint32_t);
PIN_TYPE(ImdPluginManifest, library, const char *);
PIN_TYPE(ImdPluginManifest, count, size_t);
PIN_TYPE(ImdPluginManifest, records, const ImdPluginRecord *);

PIN_TYPE(ImdStreamMethods, read, int64_t (*)(ImdError **, ImdStream *, void *, size_t));
PIN_TYPE(ImdStreamMethods, write, int64_t (*)(ImdError **, ImdStream *, const void *, size_t));
PIN_TYPE(ImdStreamMethods, seek, int64_t (*)(ImdError **, ImdStream *, int64_t, int));
PIN_TYPE(ImdStreamMethods, memory, const uint8_t *(*)(ImdStream *, size_t *));
PIN_TYPE(ImdStreamMethods, close, bool (*)(ImdError **, ImdStream *));
PIN_TYPE(ImdStreamMethods, abort, void (*)(ImdStream *));

/* Objects that plugins implement embed these headers first. */
PIN_TYPE(struct ImdStream, methods, const ImdStreamMethods *);
PIN_TYPE(struct ImdStream, name, char *);
PIN_TYPE(struct ImdArchive, methods, const ImdArchiveMethods *);
PIN_TYPE(struct ImdArchive, name, char *);
PIN_TYPE(struct ImdArchive, transport, ImdTransport *);
PIN_TYPE(struct ImdTransport, methods, const ImdTransportMethods *);
PIN_TYPE(struct ImdTransport, name, char *);
PIN_TYPE(struct ImdTransport, object, char *);

PIN_TYPE(ImdValue, count, uint8_t);
PIN_TYPE(ImdValue, kind, uint8_t);

/* The entry point a plugin file exports. */
_Static_assert(_Generic((ImdPluginEntryFn *)0, const ImdPluginManifest *(*)(void): 1, default: 0),
               "ABI: ImdPluginEntryFn changed; bump IMD_PLUGIN_ABI_VERSION");
_Static_assert(_Generic((ImdVisitFn *)0, int (*)(void *, const char *): 1, default: 0),
               "ABI: ImdVisitFn changed; bump IMD_PLUGIN_ABI_VERSION");

/* ---- offsets and sizes (x86-64 LP64) -------------------------------------------- */

#if defined(__x86_64__) && defined(__LP64__)

PIN_OFFSET(ImdFormatPlugin, abi_version, 0);
PIN_OFFSET(ImdFormatPlugin, struct_size, 4);
PIN_OFFSET(ImdFormatPlugin, name, 8);
PIN_OFFSET(ImdFormatPlugin, description, 16);
PIN_OFFSET(ImdFormatPlugin, suffixes, 24);
PIN_OFFSET(ImdFormatPlugin, flags, 32);
PIN_OFFSET(ImdFormatPlugin, probe, 40);
PIN_OFFSET(ImdFormatPlugin, reader_create, 48);
PIN_OFFSET(ImdFormatPlugin, reader_add, 56);
PIN_OFFSET(ImdFormatPlugin, reader_finish, 64);
PIN_OFFSET(ImdFormatPlugin, reader_destroy, 72);
PIN_OFFSET(ImdFormatPlugin, write, 80);
PIN_OFFSET(ImdFormatPlugin, options, 88);
PIN_SIZE(ImdFormatPlugin, 96);

PIN_OFFSET(ImdOptionSpec, name, 0);
PIN_OFFSET(ImdOptionSpec, type, 8);
PIN_OFFSET(ImdOptionSpec, description, 16);
PIN_OFFSET(ImdOptionSpec, choices, 24);
PIN_SIZE(ImdOptionSpec, 32);

PIN_OFFSET(ImdArchiveMethods, list, 0);
PIN_OFFSET(ImdArchiveMethods, open_member, 8);
PIN_OFFSET(ImdArchiveMethods, close, 16);
PIN_OFFSET(ImdArchiveMethods, abort, 24);
PIN_OFFSET(ImdArchiveMethods, local_path, 32);
PIN_OFFSET(ImdArchiveMethods, put_dataset, 40);
PIN_SIZE(ImdArchiveMethods, 48);

PIN_OFFSET(ImdArchivePlugin, abi_version, 0);
PIN_OFFSET(ImdArchivePlugin, struct_size, 4);
PIN_OFFSET(ImdArchivePlugin, name, 8);
PIN_OFFSET(ImdArchivePlugin, description, 16);
PIN_OFFSET(ImdArchivePlugin, suffixes, 24);
PIN_OFFSET(ImdArchivePlugin, probe, 32);
PIN_OFFSET(ImdArchivePlugin, open, 40);
PIN_SIZE(ImdArchivePlugin, 48);

PIN_OFFSET(ImdTransportMethods, list, 0);
PIN_OFFSET(ImdTransportMethods, open_read, 8);
PIN_OFFSET(ImdTransportMethods, create, 16);
PIN_OFFSET(ImdTransportMethods, put_dataset, 24);
PIN_OFFSET(ImdTransportMethods, local_path, 32);
PIN_OFFSET(ImdTransportMethods, close, 40);
PIN_OFFSET(ImdTransportMethods, abort, 48);
PIN_SIZE(ImdTransportMethods, 56);

PIN_OFFSET(ImdTransportPlugin, abi_version, 0);
PIN_OFFSET(ImdTransportPlugin, struct_size, 4);
PIN_OFFSET(ImdTransportPlugin, name, 8);
PIN_OFFSET(ImdTransportPlugin, description, 16);
PIN_OFFSET(ImdTransportPlugin, schemes, 24);
PIN_OFFSET(ImdTransportPlugin, open, 32);
PIN_SIZE(ImdTransportPlugin, 40);

PIN_OFFSET(ImdPluginRecord, kind, 0);
PIN_OFFSET(ImdPluginRecord, descriptor, 8);
PIN_SIZE(ImdPluginRecord, 16);

PIN_OFFSET(ImdPluginManifest, abi_version, 0);
PIN_OFFSET(ImdPluginManifest, struct_size, 4);
PIN_OFFSET(ImdPluginManifest, library, 8);
PIN_OFFSET(ImdPluginManifest, count, 16);
PIN_OFFSET(ImdPluginManifest, records, 24);
PIN_SIZE(ImdPluginManifest, 32);

PIN_OFFSET(ImdStreamMethods, read, 0);
PIN_OFFSET(ImdStreamMethods, write, 8);
PIN_OFFSET(ImdStreamMethods, seek, 16);
PIN_OFFSET(ImdStreamMethods, memory, 24);
PIN_OFFSET(ImdStreamMethods, close, 32);
PIN_OFFSET(ImdStreamMethods, abort, 40);
PIN_SIZE(ImdStreamMethods, 48);

PIN_OFFSET(struct ImdStream, methods, 0);
PIN_OFFSET(struct ImdStream, name, 8);
PIN_SIZE(struct ImdStream, 16);
PIN_OFFSET(struct ImdArchive, methods, 0);
PIN_OFFSET(struct ImdArchive, name, 8);
PIN_OFFSET(struct ImdArchive, transport, 16);
PIN_SIZE(struct ImdArchive, 24);
PIN_OFFSET(struct ImdTransport, methods, 0);
PIN_OFFSET(struct ImdTransport, name, 8);
PIN_OFFSET(struct ImdTransport, object, 16);
PIN_SIZE(struct ImdTransport, 24);

/* ImdValue travels in tags and axes that formats fill. */
PIN_OFFSET(ImdValue, v, 0);
PIN_OFFSET(ImdValue, count, 32);
PIN_OFFSET(ImdValue, kind, 33);
PIN_SIZE(ImdValue, 40);
_Static_assert(_Alignof(ImdValue) == 8, "ABI: alignment of ImdValue changed");

/* ImdUrl is passed to ImdTransportPlugin.open. */
PIN_OFFSET(ImdUrl, scheme, 0);
PIN_OFFSET(ImdUrl, host, 8);
PIN_OFFSET(ImdUrl, port, 16);
PIN_OFFSET(ImdUrl, path, 24);
PIN_OFFSET(ImdUrl, query, 32);
PIN_OFFSET(ImdUrl, aet, 40);
PIN_OFFSET(ImdUrl, parts, 48);
PIN_OFFSET(ImdUrl, part_count, 72);
PIN_SIZE(ImdUrl, 80);

#endif /* x86-64 LP64 */

/* ISO C forbids an empty translation unit; this keeps one declaration. */
typedef int imd_plugin_layout_checked;
