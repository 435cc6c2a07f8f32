/*
 * format.c: the MATLAB .mat format plugin through matio (behaviour.md §5.4,
 * dependencies.md §2).
 *
 * Reading: v4, v5 (plain or compressed) and v7.3 (HDF5) files. A file must
 * hold exactly one variable (any name), or the option mat_variable=NAME
 * selects one; otherwise the error (MultipleVariablesInMatlabFile) lists
 * them. Numeric classes are read (logical as bool; complex single/double as
 * complex64/complex128). MATLAB's column-major [rows, cols, slices, tags,
 * d5...] becomes the series' [... d5, tags, slices, rows, cols]: each
 * rows x cols plane is transposed, the planes keep their order. No
 * geometry: spacing 1; tag axes count (0, n, 1), named by input_order
 * ("none" for auto).
 *
 * Colour: MATLAB's truecolor image is an M x N x 3 uint8 array (R, G, B in
 * the third dimension; image sequences M x N x 3 x K). An RGB series is
 * written so, [rows, cols, 3, slices, tags], with a second variable
 * A_colour = 'RGB' (char) saying that the third dimension of A is colour. On
 * reading, a char variable "<NAME>_colour" holding 'RGB' beside a variable
 * NAME is that marker: it is not an image variable of its own, and NAME
 * (uint8, third dimension 3) is read as rgb8. Without the marker a file
 * reads as before (an M x N x 3 array is three slices).
 *
 * matio needs a path: members that are not local files (a zip) are copied
 * to a private temporary file (mkstemp in $TMPDIR or /tmp), read and
 * unlinked. matio's log output is caught (never printed) and its last
 * message is put in the error.
 *
 * Writing: one member (Image.mat by default; ".mat" added when missing)
 * holding variable A as [rows, cols, slices, tags] column-major (rgb8:
 * [rows, cols, 3, slices, tags] and A_colour, see below), v5 with
 * zlib compression, or v7.3 with mat_version=7.3 or when the data is over
 * 2 GB. matio writes to a private temporary file whose bytes are then
 * copied into the member (committed on close) and the file unlinked.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#ifdef IMD_WITH_MATIO
#include <pthread.h>
#include <matio.h>
#include <zlib.h>
#ifdef IMD_MATIO_SONAME
#include <dlfcn.h>
#endif
#endif

#define NO_MATIO "MATLAB files need matio (built without IMD_WITH_MATIO)"
/* Bytes copied at a time between a stream and a temporary file. */
#define CHUNK ((size_t)1 << 20)
/* Data bytes from which v7.3 is written (v5 holds at most 2^31 - 1 per array). */
#define V73_FROM ((size_t)1 << 31)
/* The colour marker: variable "<NAME>_colour" holding this text (see above). */
#define COLOUR_SUFFIX "_colour"
#define COLOUR_VALUE "RGB"

/* ---- names and probe ---- */

static bool has_mat_suffix(const char *name)
{
    size_t length = name != NULL ? strlen(name) : 0;
    return length >= 4 && strcasecmp(name + length - 4, ".mat") == 0;
}

/* "MATLAB x.y MAT-file" text at offset 0 (v5, v7, and v7.3's user block). */
static bool has_text_header(const uint8_t *head, size_t length)
{
    static const char magic[] = "MATLAB ";
    if (head == NULL || length < 20 || memcmp(head, magic, sizeof magic - 1) != 0) {
        return false;
    }
    size_t end = length < 116 ? length : 116;
    for (size_t i = sizeof magic - 1; i + 8 <= end; i++) {
        if (memcmp(head + i, "MAT-file", 8) == 0) {
            return true;
        }
    }
    return false;
}

static int mat_probe(const uint8_t *head, size_t length, const char *name)
{
    if (has_text_header(head, length)) {
        return 100;
    }
    return has_mat_suffix(name) ? 30 : 0; /* v4: no text header */
}

/* ---- the reader ---- */

typedef struct Member {
    ImdMember file;   /* file.path: where matio reads it (matio wants a path) */
    bool temporary;   /* file.path is our temporary copy: unlink it */
} Member;

typedef struct Reader {
    const ImdOptions *options;
    const ImdContext *context;
    /* Options read and checked once, in mat_reader_create (a bad value is a usage error). */
    bool headers_only;
    ImdInputOrder order;
    const char *order_text; /* the option's text, as the series' order */
    Member *members;
    size_t count, capacity;
} Reader;

static void *mat_reader_create(ImdError **error, const ImdOptions *options,
                               const ImdContext *context)
{
    Reader *reader = imd__calloc(error, 1, sizeof *reader);
    if (reader != NULL) {
        reader->options = options;
        reader->context = context;
        reader->order_text = imd_options_get(options, "input_order", "auto");
        if (!imd_options_get_bool(error, options, "headers_only", false,
                                  &reader->headers_only) ||
            !imd__input_order_from_options(error, options, &reader->order)) {
            imd_error_prefix(error, "MATLAB reader: ");
            free(reader);
            return NULL;
        }
    }
    return reader;
}

static void free_member(Member *m)
{
    if (m->temporary && m->file.path != NULL) {
        (void)unlink(m->file.path);
    }
    imd__member_free(&m->file);
}

static void mat_reader_destroy(void *state)
{
    Reader *reader = state;
    if (reader == NULL) {
        return;
    }
    for (size_t i = 0; i < reader->count; i++) {
        free_member(&reader->members[i]);
    }
    free(reader->members);
    imd__input_order_clear(&reader->order);
    free(reader);
}

/* A private temporary file in $TMPDIR or /tmp; its path, and the open descriptor. */
static char *temporary_file(ImdError **error, int *fd)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0') {
        dir = "/tmp";
    }
    char *path = imd__sprintf(error, "%s/imagedata-mat-XXXXXX", dir);
    if (path == NULL) {
        return NULL;
    }
    *fd = mkstemp(path); /* mode 0600 */
    if (*fd < 0) {
        imd_error_set(error, IMD_ERR_IO, "cannot create a temporary file in %s: %s", dir,
                      strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

static bool write_all(ImdError **error, int fd, const uint8_t *data, size_t size,
                      const char *path)
{
    while (size > 0) {
        /* A test build's injected fault looks like a full disk. */
        ssize_t done = imd__fault_write() ? (errno = ENOSPC, -1) : write(fd, data, size);
        if (done < 0 && errno == EINTR) {
            continue;
        }
        if (done <= 0) {
            imd_error_set(error, IMD_ERR_IO, "%s: write failed: %s", path,
                          done < 0 ? strerror(errno) : "no progress");
            return false;
        }
        data += done;
        size -= (size_t)done;
    }
    return true;
}

/* Copy a member's bytes to a temporary file, returning its path. */
static char *stream_to_temporary(ImdError **error, ImdStream *stream)
{
    int fd = -1;
    char *path = temporary_file(error, &fd);
    if (path == NULL) {
        return NULL;
    }
    uint8_t *buffer = imd__malloc(error, CHUNK);
    bool ok = buffer != NULL;
    while (ok) {
        int64_t got = imd_stream_read(error, stream, buffer, CHUNK);
        if (got < 0) {
            ok = false;
        } else if (got == 0) {
            break;
        } else {
            ok = write_all(error, fd, buffer, (size_t)got, path);
        }
    }
    free(buffer);
    if (close(fd) != 0 && ok) {
        imd_error_set(error, IMD_ERR_IO, "%s: %s", path, strerror(errno));
        ok = false;
    }
    if (!ok) {
        (void)unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

static bool mat_reader_add(ImdError **error, void *state, ImdArchive *archive,
                           const char *name, ImdStream *stream)
{
    Reader *reader = state;
    Member m = {0};
    if (!imd__member_keep(error, &m.file, archive, name, stream, IMD__KEEP_NAME, 0)) {
        return false;
    }
    m.file.path = imd_archive_local_path(archive, name);
    if (m.file.path == NULL) {
        /* Not a local file (a zip member): matio reads paths, so a private copy. */
        m.file.path = stream_to_temporary(error, stream);
        m.temporary = true;
        if (m.file.path == NULL) {
            imd_error_prefix(error, "%s: ", name);
            free_member(&m);
            return false;
        }
    }
    if (!imd__member_push(error, (void **)&reader->members, &reader->count, &reader->capacity,
                          &m, sizeof m)) {
        free_member(&m);
        return false;
    }
    return true;
}

#ifdef IMD_WITH_MATIO

/* ---- matio, opened when first needed ---- */

#ifdef IMD_MATIO_SONAME
/*
 * matio is not linked but opened (dlopen) at the first MATLAB file read or
 * written: with HDF5 it pulls in about 35 libraries (curl, TLS, Kerberos,
 * LDAP...) whose loading and relocation cost every run of the library about
 * 6 ms (issue 13 item 7, docs/performance.md), though folders of DICOM files
 * never need them. The functions used are looked up once; each pointer has
 * the type matio.h declares (checked at compile time), and the Mat_ names
 * used below resolve to them.
 */
typedef int LogInitFuncFn(const char *, void (*)(int, char *));
typedef mat_t *CreateVerFn(const char *, const char *, enum mat_ft);
typedef int CloseFn(mat_t *);
typedef mat_t *OpenFn(const char *, int);
typedef matvar_t *VarCreateFn(const char *, enum matio_classes, enum matio_types, int, size_t *,
                              void *, int);
typedef void VarFreeFn(matvar_t *);
typedef matvar_t *VarReadFn(mat_t *, const char *);
typedef matvar_t *VarReadNextInfoFn(mat_t *);
typedef int VarWriteFn(mat_t *, matvar_t *, enum matio_compression);

/* _Generic (C11) compares each function's type as matio.h declares it with ours. */
#define MATIO_SAME_TYPE(function, type)                                                       \
    _Static_assert(_Generic(&function, type *: 1, default: 0), #function " is not a " #type)
MATIO_SAME_TYPE(Mat_LogInitFunc, LogInitFuncFn);
MATIO_SAME_TYPE(Mat_CreateVer, CreateVerFn);
MATIO_SAME_TYPE(Mat_Close, CloseFn);
MATIO_SAME_TYPE(Mat_Open, OpenFn);
MATIO_SAME_TYPE(Mat_VarCreate, VarCreateFn);
MATIO_SAME_TYPE(Mat_VarFree, VarFreeFn);
MATIO_SAME_TYPE(Mat_VarRead, VarReadFn);
MATIO_SAME_TYPE(Mat_VarReadInfo, VarReadFn);
MATIO_SAME_TYPE(Mat_VarReadNextInfo, VarReadNextInfoFn);
MATIO_SAME_TYPE(Mat_VarWrite, VarWriteFn);
#undef MATIO_SAME_TYPE

static struct {
    LogInitFuncFn *LogInitFunc;
    CreateVerFn *CreateVer;
    CloseFn *Close;
    OpenFn *Open;
    VarCreateFn *VarCreate;
    VarFreeFn *VarFree;
    VarReadFn *VarRead, *VarReadInfo;
    VarReadNextInfoFn *VarReadNextInfo;
    VarWriteFn *VarWrite;
} matio;

static pthread_once_t matio_once = PTHREAD_ONCE_INIT;
static bool matio_loaded;
static char matio_failure[256]; /* why it could not be opened */

/* Look up one function: POSIX lets a dlsym() result be used as a function pointer. */
static bool matio_symbol(void *library, const char *name, void *pointer, size_t size)
{
    void *found = dlsym(library, name);
    if (found == NULL) {
        (void)snprintf(matio_failure, sizeof matio_failure, "%s has no %s",
                       IMD_MATIO_SONAME, name);
        return false;
    }
    memcpy(pointer, &found, size);
    return true;
}

static void load_matio(void)
{
    void *library = dlopen(IMD_MATIO_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        (void)snprintf(matio_failure, sizeof matio_failure, "%s",
                       reason != NULL ? reason : "cannot open " IMD_MATIO_SONAME);
        return;
    }
#define MATIO_LOOKUP(field)                                                                   \
    matio_symbol(library, "Mat_" #field, &matio.field, sizeof matio.field)
    matio_loaded = MATIO_LOOKUP(LogInitFunc) && MATIO_LOOKUP(CreateVer) && MATIO_LOOKUP(Close) &&
                   MATIO_LOOKUP(Open) && MATIO_LOOKUP(VarCreate) && MATIO_LOOKUP(VarFree) &&
                   MATIO_LOOKUP(VarRead) && MATIO_LOOKUP(VarReadInfo) &&
                   MATIO_LOOKUP(VarReadNextInfo) && MATIO_LOOKUP(VarWrite);
#undef MATIO_LOOKUP
    /* kept open for the life of the process: matio keeps no state we could release */
}

static bool matio_ready(ImdError **error, const char *name)
{
    (void)pthread_once(&matio_once, load_matio);
    if (!matio_loaded) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: MATLAB files need matio: %s", name,
                      matio_failure);
        return false;
    }
    return true;
}

#define Mat_LogInitFunc matio.LogInitFunc
#define Mat_CreateVer matio.CreateVer
#define Mat_Close matio.Close
#define Mat_Open matio.Open
#define Mat_VarCreate matio.VarCreate
#define Mat_VarFree matio.VarFree
#define Mat_VarRead matio.VarRead
#define Mat_VarReadInfo matio.VarReadInfo
#define Mat_VarReadNextInfo matio.VarReadNextInfo
#define Mat_VarWrite matio.VarWrite
#else
static bool matio_ready(ImdError **error, const char *name)
{
    IMD__UNUSED(error);
    IMD__UNUSED(name);
    return true; /* linked */
}
#endif

/* ---- matio's messages: caught, never printed ---- */

static _Thread_local char last_message[256];
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void catch_message(int level, char *message)
{
    IMD__UNUSED(level);
    (void)snprintf(last_message, sizeof last_message, "%s", message != NULL ? message : "");
}

static void install_logger(void)
{
    (void)Mat_LogInitFunc("imagedata", catch_message);
}

static void quiet_matio(void)
{
    (void)pthread_once(&log_once, install_logger);
    last_message[0] = '\0';
}

/* ": <matio's message>" or "". */
static const char *matio_said(void)
{
    static _Thread_local char text[sizeof last_message + 3];
    if (last_message[0] == '\0') {
        return "";
    }
    (void)snprintf(text, sizeof text, " (%s)", last_message);
    return text;
}

/* ---- element types ---- */

static bool dtype_of_class(const matvar_t *v, ImdDType *dtype)
{
    switch (v->class_type) {
    case MAT_C_DOUBLE: *dtype = v->isComplex ? IMD_DTYPE_COMPLEX128 : IMD_DTYPE_FLOAT64; return true;
    case MAT_C_SINGLE: *dtype = v->isComplex ? IMD_DTYPE_COMPLEX64 : IMD_DTYPE_FLOAT32; return true;
    case MAT_C_INT8: *dtype = IMD_DTYPE_INT8; break;
    case MAT_C_UINT8: *dtype = v->isLogical ? IMD_DTYPE_BOOL : IMD_DTYPE_UINT8; break;
    case MAT_C_INT16: *dtype = IMD_DTYPE_INT16; break;
    case MAT_C_UINT16: *dtype = IMD_DTYPE_UINT16; break;
    case MAT_C_INT32: *dtype = IMD_DTYPE_INT32; break;
    case MAT_C_UINT32: *dtype = IMD_DTYPE_UINT32; break;
    case MAT_C_INT64: *dtype = IMD_DTYPE_INT64; break;
    case MAT_C_UINT64: *dtype = IMD_DTYPE_UINT64; break;
    default: return false;
    }
    return !v->isComplex; /* complex integers: not held by a series */
}

/* The matio data type a class' data comes back as. */
static enum matio_types data_type_of_class(enum matio_classes c)
{
    switch (c) {
    case MAT_C_DOUBLE: return MAT_T_DOUBLE;
    case MAT_C_SINGLE: return MAT_T_SINGLE;
    case MAT_C_INT8: return MAT_T_INT8;
    case MAT_C_UINT8: return MAT_T_UINT8;
    case MAT_C_INT16: return MAT_T_INT16;
    case MAT_C_UINT16: return MAT_T_UINT16;
    case MAT_C_INT32: return MAT_T_INT32;
    case MAT_C_UINT32: return MAT_T_UINT32;
    case MAT_C_INT64: return MAT_T_INT64;
    case MAT_C_UINT64: return MAT_T_UINT64;
    default: return MAT_T_UNKNOWN;
    }
}

static const char *class_name(enum matio_classes c)
{
    switch (c) {
    case MAT_C_EMPTY: return "empty";
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_OBJECT: return "object";
    case MAT_C_CHAR: return "char";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_FUNCTION: return "function";
    case MAT_C_OPAQUE: return "opaque";
    default: return "numeric";
    }
}

/*
 * Planes of `rows` x `cols` elements of `size` bytes, column-major (MATLAB)
 * and row-major (the series). `step` is the distance in bytes between the
 * series' elements: `size`, or 2 * `size` for one part of complex data.
 */
static void to_series(uint8_t *series, const uint8_t *mat, size_t rows, size_t cols,
                      size_t planes, size_t size, size_t step)
{
    size_t plane = rows * cols;
    for (size_t p = 0; p < planes; p++) {
        uint8_t *s = series + p * plane * step;
        const uint8_t *m = mat + p * plane * size;
        for (size_t j = 0; j < cols; j++) {
            for (size_t i = 0; i < rows; i++) {
                memcpy(s + (i * cols + j) * step, m + (i + j * rows) * size, size);
            }
        }
    }
}

static void to_matlab(uint8_t *mat, const uint8_t *series, size_t rows, size_t cols,
                      size_t planes, size_t size, size_t step)
{
    size_t plane = rows * cols;
    for (size_t p = 0; p < planes; p++) {
        const uint8_t *s = series + p * plane * step;
        uint8_t *m = mat + p * plane * size;
        for (size_t i = 0; i < rows; i++) {
            for (size_t j = 0; j < cols; j++) {
                memcpy(m + (i + j * rows) * size, s + (i * cols + j) * step, size);
            }
        }
    }
}

/* ---- reading one file ---- */

typedef struct Names {
    char **names;
    size_t count, capacity;
    bool *short_text; /* per name: a char array of 3 elements (a colour marker's shape) */
} Names;

static void free_names(Names *n)
{
    for (size_t i = 0; i < n->count; i++) {
        free(n->names[i]);
    }
    free(n->names);
    free(n->short_text);
}

static bool list_variables(ImdError **error, mat_t *mat, Names *n)
{
    matvar_t *info;
    size_t flag_capacity = 0;
    while ((info = Mat_VarReadNextInfo(mat)) != NULL) {
        bool short_text = info->class_type == MAT_C_CHAR && info->rank == 2 &&
                          info->dims != NULL &&
                          info->dims[0] * info->dims[1] == strlen(COLOUR_VALUE);
        char *name = imd__strdup(error, info->name != NULL ? info->name : "");
        Mat_VarFree(info);
        if (name == NULL ||
            !imd__grow(error, (void **)&n->names, &n->capacity, n->count + 1, sizeof(char *)) ||
            !imd__grow(error, (void **)&n->short_text, &flag_capacity, n->count + 1,
                       sizeof(bool))) {
            free(name);
            return false;
        }
        n->short_text[n->count] = short_text;
        n->names[n->count++] = name;
    }
    return true;
}

/* Index of variable `name` in `n`, or n->count. */
static size_t find_name(const Names *n, const char *name, size_t length)
{
    for (size_t i = 0; i < n->count; i++) {
        if (strlen(n->names[i]) == length && strncmp(n->names[i], name, length) == 0) {
            return i;
        }
    }
    return n->count;
}

/* The text of a short char variable (a colour marker candidate); false when it is not one. */
static bool short_text(mat_t *mat, const char *name, char *text, size_t size)
{
    quiet_matio();
    matvar_t *v = Mat_VarRead(mat, name);
    bool ok = v != NULL && v->class_type == MAT_C_CHAR && v->data != NULL && v->rank == 2 &&
              v->dims != NULL && v->dims[0] * v->dims[1] < size;
    size_t count = ok ? v->dims[0] * v->dims[1] : 0;
    /* One byte per character (UTF-8 or uint8) or two (UTF-16, uint16: how v5 stores char). */
    size_t unit = !ok ? 0
                  : v->data_type == MAT_T_UINT8 || v->data_type == MAT_T_UTF8 ||
                            v->data_type == MAT_T_INT8
                      ? 1
                  : v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16 ||
                            v->data_type == MAT_T_INT16
                      ? 2
                      : 0;
    ok = ok && unit != 0 && v->nbytes >= count * unit;
    for (size_t i = 0; ok && i < count; i++) {
        const uint8_t *c = (const uint8_t *)v->data + i * unit;
        uint16_t code = unit == 1 ? c[0] : 0;
        if (unit == 2) {
            memcpy(&code, c, 2);
        }
        ok = code > 0 && code < 128;
        text[i] = (char)code;
    }
    if (ok) {
        text[count] = '\0';
    }
    Mat_VarFree(v);
    return ok;
}

/*
 * The colour markers: every short char variable "<NAME>_colour" holding
 * 'RGB' beside a variable NAME. *marker[i] is true for such a variable.
 */
static bool find_markers(ImdError **error, mat_t *mat, const Names *n, bool **marker)
{
    *marker = imd__calloc(error, n->count > 0 ? n->count : 1, sizeof **marker);
    if (*marker == NULL) {
        return false;
    }
    size_t suffix = strlen(COLOUR_SUFFIX);
    for (size_t i = 0; i < n->count; i++) {
        size_t length = strlen(n->names[i]);
        char text[8];
        (*marker)[i] = n->short_text[i] && length > suffix &&
                       strcmp(n->names[i] + length - suffix, COLOUR_SUFFIX) == 0 &&
                       find_name(n, n->names[i], length - suffix) < n->count &&
                       short_text(mat, n->names[i], text, sizeof text) &&
                       strcmp(text, COLOUR_VALUE) == 0;
    }
    return true;
}

/* The variable to read: the only one (colour markers aside), or the one mat_variable names. */
static const char *choose_variable(ImdError **error, const Reader *reader, const Names *n,
                                   const bool *marker)
{
    const char *wanted = imd_options_get(reader->options, "mat_variable", NULL);
    if (wanted != NULL && wanted[0] != '\0') {
        for (size_t i = 0; i < n->count; i++) {
            if (strcmp(n->names[i], wanted) == 0) {
                return n->names[i];
            }
        }
        imd_error_set(error, IMD_ERR_NOT_FOUND, "no variable \"%s\" (mat_variable) in the file",
                      wanted);
        return NULL;
    }
    size_t images = 0, last = 0;
    for (size_t i = 0; i < n->count; i++) {
        if (!marker[i]) {
            images++;
            last = i;
        }
    }
    if (images == 1) {
        return n->names[last];
    }
    if (images == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "no variable in the file%s", matio_said());
        return NULL;
    }
    ImdText text = {0};
    for (size_t i = 0; i < n->count; i++) {
        imd__text_printf(&text, "%s%s", i > 0 ? ", " : "", n->names[i]);
    }
    char *list = imd__text_finish(error, &text);
    if (list != NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "MultipleVariablesInMatlabFile: %zu variables (%s); choose one with the "
                      "option mat_variable=NAME", n->count, list);
    }
    free(list);
    return NULL;
}

/* Is variable `name` marked as colour (a marker "<name>_colour" among the variables)? */
static bool is_colour(const Names *n, const bool *marker, const char *name)
{
    size_t length = strlen(name), suffix = strlen(COLOUR_SUFFIX);
    for (size_t i = 0; i < n->count; i++) {
        if (marker[i] && strlen(n->names[i]) == length + suffix &&
            strncmp(n->names[i], name, length) == 0) {
            return true;
        }
    }
    return false;
}

static bool set_tags(ImdError **error, ImdSeries *series, size_t tag_ndim, const size_t *shape,
                     size_t slices)
{
    ImdHeader *header = imd_series_header(series);
    size_t cells = 1, components = tag_ndim > 0 ? tag_ndim : 1;
    for (size_t d = 0; d < tag_ndim; d++) {
        cells *= shape[d];
    }
    if (!imd_header_set_tag_shape(error, header, slices, tag_ndim, shape, components)) {
        return false;
    }
    for (size_t cell = 0; cell < cells; cell++) {
        size_t index[IMD_MAX_TAG_DIMS] = {0}, rest = cell;
        ImdValue values[IMD_MAX_TAG_DIMS];
        values[0] = imd_value_number(0);
        for (size_t d = tag_ndim; d-- > 0;) {
            index[d] = rest % shape[d];
            rest /= shape[d];
            values[d] = imd_value_number((double)index[d]);
        }
        for (size_t s = 0; s < slices; s++) {
            if (!imd_header_set_tag(error, header, s, index, values)) {
                return false;
            }
        }
    }
    return true;
}

static bool set_axes(ImdError **error, const Reader *reader, ImdSeries *series, size_t tag_ndim)
{
    const ImdInputOrder *wanted = &reader->order; /* parsed once, by the reader */
    const char *order = "none";
    if (tag_ndim > 0 && !wanted->automatic) {
        if (wanted->count == tag_ndim) {
            order = reader->order_text;
        } else {
            imd_context_log(reader->context, IMD_LOG_WARNING, "MATLAB: input order \"%s\" does "
                            "not fit %zu tag dimension(s): \"none\" used", reader->order_text,
                            tag_ndim);
        }
    }
    if (tag_ndim > 0 && !imd_series_set_input_order(error, series, order)) {
        return false;
    }
    for (size_t d = 0; d < tag_ndim; d++) {
        const char *name = imd_axis_name(imd_series_axis(series, d));
        ImdAxis *axis = imd_axis_create_uniform(error, name, 0, 1, imd_series_dim(series, d));
        if (axis == NULL || !imd_series_set_axis(error, series, d, axis)) {
            imd_axis_destroy(axis);
            return false;
        }
    }
    double spacing[3] = {1, 1, 1};
    return imd_series_set_spacing(error, series, spacing);
}

/*
 * The level of a file from its 128-byte header as matio decides it: the
 * version field (bytes 124-125, in the order the endian indicator "IM"/"MI"
 * gives) is 0x0100 for level 5 and 0x0200 for 7.3 (HDF5); anything else is
 * read as level 4. The descriptive text is not looked at (it is free text).
 */
static int mat_level(const uint8_t *header, size_t length)
{
    if (length < 128 || !((header[126] == 'I' && header[127] == 'M') ||
                          (header[126] == 'M' && header[127] == 'I'))) {
        return 4;
    }
    uint16_t version = header[126] == 'M' ? imd__load_be16(header + 124)
                                          : imd__load_le16(header + 124);
    return version == 0x0100 ? 5 : version == 0x0200 ? 73 : 4;
}

/*
 * The most data bytes the file can back, checked against a variable's
 * dimensions before matio allocates them (issue 22: a 200-byte file must
 * not claim 40000 x 40000 doubles). MAT-File Format (Level 5), "MAT-File
 * Structure": a 128-byte header (text, subsystem offset, version 0x0100,
 * endian indicator "IM" or "MI"), then data elements, each an 8-byte tag
 * (type, byte count) or a 4-byte small element tag (count in the upper
 * 16 bits). An miCOMPRESSED (15) element holds zlib data, which expands at
 * most IMD__DEFLATE_MAX_RATIO:1; other elements hold their own bytes (as
 * many as the file really has). v7.3 is HDF5 (chunks may be deflated): its
 * size times that ratio. v4 (no text header): its size.
 */
static uint64_t data_bound(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return 0;
    }
    uint64_t size = 0, bound = 0;
    uint8_t header[128];
    if (fseek(file, 0, SEEK_END) == 0) {
        long end = ftell(file);
        size = end > 0 ? (uint64_t)end : 0;
    }
    rewind(file);
    size_t got = fread(header, 1, sizeof header, file);
    bool v5 = mat_level(header, got) == 5;
    bool v73 = mat_level(header, got) == 73;
    if (v73 || !v5) {
        fclose(file);
        return v73 ? (size <= UINT64_MAX / IMD__DEFLATE_MAX_RATIO ? size * IMD__DEFLATE_MAX_RATIO
                                                                  : UINT64_MAX)
                   : size;
    }
    bool big = header[126] == 'M';
    uint64_t at = sizeof header;
    uint8_t tag[8];
    while (at + 8 <= size && fread(tag, 1, 8, file) == 8) {
        uint32_t type = big ? imd__load_be32(tag) : imd__load_le32(tag);
        uint32_t count = big ? imd__load_be32(tag + 4) : imd__load_le32(tag + 4);
        uint64_t bytes = (type >> 16) != 0 ? 4 : count, step;
        if ((type >> 16) != 0) {
            step = 8; /* a small element: tag and data in 8 bytes */
        } else {
            step = 8 + (type == 15 ? bytes : (bytes + 7) / 8 * 8);
        }
        uint64_t held = size - at - 8 < bytes ? size - at - 8 : bytes;
        bound += type == 15 ? held * IMD__DEFLATE_MAX_RATIO : held;
        at += step;
        if (at > size || fseek(file, (long)at, SEEK_SET) != 0) {
            break;
        }
    }
    fclose(file);
    return bound;
}

/* Bytes of one stored element of a MAT data type (miINT8 = 1 ... miUINT64 = 13); 0: not numeric. */
static size_t stored_size(uint32_t type)
{
    static const uint8_t sizes[] = {0, 1, 1, 2, 2, 4, 4, 4, 0, 8, 0, 0, 8, 8};
    return type < sizeof sizes ? sizes[type] : 0;
}

/*
 * How many elements the real part of the miMATRIX element at `body`
 * (its first `length` bytes) stores, when it is variable `name`: the
 * sub-elements are array flags, dimensions, name, then the real part's tag
 * (MAT-File Format, "miMATRIX Format"). false when it is another variable
 * or cannot be told from these bytes.
 */
/* The first bytes of a compressed element (miCOMPRESSED, type 15): as many as
 * `size` inflate to from the `got` bytes read; 0 when zlib refuses. */
static size_t inflate_head(const uint8_t *raw, size_t got, uint8_t *body, size_t size)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        return 0;
    }
    z.next_in = (Bytef *)(uintptr_t)raw;
    z.avail_in = (uInt)got;
    z.next_out = body;
    z.avail_out = (uInt)size;
    (void)inflate(&z, Z_SYNC_FLUSH);
    size_t length = size - z.avail_out;
    inflateEnd(&z);
    return length;
}

static bool real_part_count(const uint8_t *body, size_t length, bool big, const char *name,
                            uint64_t *count)
{
    size_t at = 0;
    const char *found_name = NULL;
    size_t name_length = 0;
    for (int sub = 0; sub < 4; sub++) {
        if (at + 8 > length) {
            return false;
        }
        uint32_t type = big ? imd__load_be32(body + at) : imd__load_le32(body + at);
        uint32_t bytes = big ? imd__load_be32(body + at + 4) : imd__load_le32(body + at + 4);
        const uint8_t *data = body + at + 8;
        size_t step;
        if ((type >> 16) != 0) {
            bytes = type >> 16;
            type &= 0xffff;
            data = body + at + 4;
            step = 8;
        } else {
            step = 8 + ((size_t)bytes + 7) / 8 * 8;
        }
        if (sub == 2) {
            if ((size_t)(data - body) + bytes > length) {
                return false;
            }
            found_name = (const char *)data;
            name_length = bytes;
        } else if (sub == 3) {
            size_t unit = stored_size(type);
            if (unit == 0 || found_name == NULL || strlen(name) != name_length ||
                memcmp(found_name, name, name_length) != 0) {
                return false;
            }
            *count = bytes / unit;
            return true;
        }
        at += step;
    }
    return false;
}

/*
 * The elements variable `name` really stores (its real part), from the
 * file's bytes: an uncompressed miMATRIX element is read as is, an
 * miCOMPRESSED one only as far as its first kilobyte inflates. false when
 * it cannot be told (v4, v7.3, another layout): the size bound still holds.
 */
static bool stored_count(const char *path, const char *name, uint64_t *count)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return false;
    }
    uint8_t header[128], tag[8], raw[4096], body[1024];
    bool found = false;
    if (mat_level(header, fread(header, 1, sizeof header, file)) != 5) {
        fclose(file);
        return false;
    }
    bool big = header[126] == 'M';
    long at = (long)sizeof header;
    while (!found && fseek(file, at, SEEK_SET) == 0 && fread(tag, 1, 8, file) == 8) {
        uint32_t type = big ? imd__load_be32(tag) : imd__load_le32(tag);
        uint32_t bytes = big ? imd__load_be32(tag + 4) : imd__load_le32(tag + 4);
        if ((type >> 16) != 0) {
            at += 8;
            continue;
        }
        size_t got = fread(raw, 1, bytes < sizeof raw ? bytes : sizeof raw, file);
        if (type == 14) {
            found = real_part_count(raw, got, big, name, count);
        } else if (type == 15) {
            size_t length = inflate_head(raw, got, body, sizeof body);
            uint32_t inner = length >= 8 ? (big ? imd__load_be32(body) : imd__load_le32(body)) : 0;
            found = inner == 14 && real_part_count(body + 8, length - 8, big, name, count);
        }
        if (bytes > (uint32_t)(LONG_MAX - at - 16)) {
            break;
        }
        at += 8 + (long)(type == 15 ? bytes : ((uint64_t)bytes + 7) / 8 * 8);
    }
    fclose(file);
    return found;
}

/*
 * Are the first sub-elements of an miMATRIX body (array flags, dimensions,
 * name) within the element's `claimed` bytes? matio allocates the
 * dimensions and the name from these tags while it lists the variables, so
 * a tag claiming 1.7 GB of dimensions in a 1 KB file must be refused first.
 */
static bool matrix_head_fits(const uint8_t *body, size_t length, uint64_t claimed, bool big)
{
    /*
     * Read as matio reads it: the flags tag and its 8 bytes, then the
     * dimensions tag at offset 16 whatever the flags tag says, its data,
     * then the name tag.
     */
    if (claimed < 24 || length < 24) {
        return false; /* shorter than the head matio reads anyway */
    }
    uint32_t bytes = big ? imd__load_be32(body + 20) : imd__load_le32(body + 20);
    if (claimed < 24 || bytes > claimed - 24) {
        return false;
    }
    /*
     * Classes other than the numeric ones (6-15): cells, structs, objects,
     * function handles and opaque classes make matio allocate per element
     * while listing; each element needs at least an 8-byte tag in the
     * element, so more elements than claimed / 8 cannot be real (a char or
     * sparse array is held to one byte per element).
     */
    unsigned class_type = body[big ? 11 : 8];
    if (class_type < 6 || class_type > 15) {
        uint64_t elements = 1;
        for (uint32_t d = 0; d + 4 <= bytes && 24 + d + 4 <= length; d += 4) {
            uint32_t n = big ? imd__load_be32(body + 24 + d) : imd__load_le32(body + 24 + d);
            elements = n != 0 && elements > UINT64_MAX / n ? UINT64_MAX : elements * n;
        }
        if (elements > (class_type == 4 || class_type == 5 ? claimed : claimed / 8)) {
            return false;
        }
    }
    uint64_t at = 24 + ((uint64_t)bytes + 7) / 8 * 8;
    if (at + 8 > length) {
        return true; /* the name tag lies beyond the bytes looked at */
    }
    uint32_t type = big ? imd__load_be32(body + at) : imd__load_le32(body + at);
    uint32_t name = big ? imd__load_be32(body + at + 4) : imd__load_le32(body + at + 4);
    return (type >> 16) != 0 || (at + 8 <= claimed && name <= claimed - at - 8);
}

/*
 * A level 4 file (MAT-File Format, "Level 4 MAT-File Format"): matrices,
 * each a 20-byte header (type MOPT, mrows, ncols, imagf, namlen), the name,
 * then mrows * ncols elements (twice with imagf). matio allocates the name
 * and data from these numbers: each must fit the bytes left.
 */
static bool check_v4(ImdError **error, FILE *file, uint64_t size)
{
    static const uint8_t element[] = {8, 4, 4, 2, 2, 1};
    uint64_t at = 0;
    uint8_t h[20];
    while (at + 20 <= size && fseek(file, (long)at, SEEK_SET) == 0 && fread(h, 1, 20, file) == 20) {
        /*
         * As matio tells the byte order: the type, byte-swapped when it is
         * not a type (> 4052); then its M digit (0 little, 1 big endian)
         * gives the order of the other fields, whatever order the type was in.
         */
        uint32_t type = imd__load_le32(h);
        if (type > 4052) {
            type = imd__load_be32(h);
        }
        unsigned precision = (type / 10) % 10;
        if (type > 4052 || type / 1000 > 1 || precision > 5) {
            return true; /* not a level 4 header: matio refuses it itself */
        }
        bool big = type / 1000 == 1;
        uint32_t v[5];
        for (int i = 0; i < 5; i++) {
            v[i] = big ? imd__load_be32(h + 4 * i) : imd__load_le32(h + 4 * i);
        }
        v[0] = type;
        uint64_t left = size - at - 20;
        uint64_t data = (uint64_t)v[1] * v[2]; /* both < 2^32: no overflow */
        uint64_t unit = (uint64_t)element[precision] * (v[3] != 0 ? 2 : 1);
        if (v[4] > left || (data != 0 && unit > (left - v[4]) / data)) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "the matrix at offset %llu claims a %u-byte name and %u x %u elements, "
                          "but %llu bytes are left", (unsigned long long)at, v[4], v[1], v[2],
                          (unsigned long long)left);
            return false;
        }
        at += 20 + v[4] + data * unit;
    }
    return true;
}

/*
 * Walk a level 5 file's top-level elements before matio lists them: every
 * miMATRIX head must fit its element, and an miCOMPRESSED element's matrix
 * must fit what its bytes can inflate to. CORRUPT naming the offset.
 */
static bool check_structure(ImdError **error, const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return true; /* matio will say why it cannot open it */
    }
    uint8_t header[128], tag[8], raw[4096], body[1024];
    uint64_t size = 0;
    if (fseek(file, 0, SEEK_END) == 0) {
        long end = ftell(file);
        size = end > 0 ? (uint64_t)end : 0;
    }
    rewind(file);
    bool ok = true;
    int level = mat_level(header, fread(header, 1, sizeof header, file));
    if (level != 5) {
        ok = level == 73 || check_v4(error, file, size);
        fclose(file);
        return ok;
    }
    bool big = header[126] == 'M';
    uint64_t at = sizeof header;
    while (ok && at + 8 <= size && fseek(file, (long)at, SEEK_SET) == 0 &&
           fread(tag, 1, 8, file) == 8) {
        uint32_t type = big ? imd__load_be32(tag) : imd__load_le32(tag);
        uint32_t bytes = big ? imd__load_be32(tag + 4) : imd__load_le32(tag + 4);
        if ((type >> 16) != 0) {
            at += 8;
            continue;
        }
        uint64_t held = size - at - 8 < bytes ? size - at - 8 : bytes;
        size_t got = fread(raw, 1, held < sizeof raw ? (size_t)held : sizeof raw, file);
        if (type == 14) {
            ok = matrix_head_fits(raw, got, held, big);
        } else if (type == 15) {
            size_t length = inflate_head(raw, got, body, sizeof body);
            if (length >= 8) {
                uint32_t inner = big ? imd__load_be32(body) : imd__load_le32(body);
                uint64_t claimed = big ? imd__load_be32(body + 4) : imd__load_le32(body + 4);
                uint64_t can = held * IMD__DEFLATE_MAX_RATIO;
                claimed = claimed < can ? claimed : can;
                ok = inner != 14 || matrix_head_fits(body + 8, length - 8, claimed, big);
            }
        }
        if (!ok) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "the variable at offset %llu: a sub-element claims more than the "
                          "%llu bytes its element holds", (unsigned long long)at,
                          (unsigned long long)held);
        }
        at += 8 + (type == 15 ? (uint64_t)bytes : ((uint64_t)bytes + 7) / 8 * 8);
        if (at > (uint64_t)LONG_MAX) {
            break;
        }
    }
    fclose(file);
    return ok;
}

/*
 * The element type of a variable that holds an image. Structs, cells, text (a
 * .mat of header dumps beside the images) hold none: NOT_RECOGNIZED, listed
 * with -v; complex integers are images a series cannot hold: UNSUPPORTED.
 */
static bool image_class(ImdError **error, const matvar_t *v, ImdDType *dtype)
{
    if (dtype_of_class(v, dtype)) {
        return true;
    }
    bool numeric = v->class_type != MAT_C_STRUCT && v->class_type != MAT_C_CELL &&
                   v->class_type != MAT_C_CHAR && v->class_type != MAT_C_OBJECT &&
                   v->class_type != MAT_C_FUNCTION && v->class_type != MAT_C_OPAQUE &&
                   v->class_type != MAT_C_EMPTY;
    imd_error_set(error, numeric ? IMD_ERR_UNSUPPORTED : IMD_ERR_NOT_RECOGNIZED,
                  "variable %s: %s%s data cannot be read as an image", v->name,
                  v->isComplex ? "complex " : "", class_name(v->class_type));
    return false;
}

/*
 * Check a variable's claim before its data is read: its class must be one
 * we read, and its bytes must fit what the file can hold and the memory
 * limit.
 */
static bool check_claim(ImdError **error, const Reader *reader, const matvar_t *v,
                        const char *path)
{
    ImdDType dtype;
    if (v->rank < 1 || v->dims == NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "variable %s has no dimensions", v->name);
        return false;
    }
    if (!image_class(error, v, &dtype)) {
        return false;
    }
    uint64_t need = imd_dtype_size(dtype);
    for (int d = 0; d < v->rank; d++) {
        uint64_t n = v->dims[d];
        need = n != 0 && need > UINT64_MAX / n ? UINT64_MAX : need * n;
    }
    /* Logical data may be stored as 1-byte elements: the bound is per element byte. */
    uint64_t bound = data_bound(path);
    if (need > bound) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "variable %s: its dimensions need %llu bytes of data, but the file holds "
                      "at most %llu", v->name, (unsigned long long)need,
                      (unsigned long long)bound);
        return false;
    }
    /* Never less data than the dimensions: matio would fill the rest from whatever follows. */
    uint64_t elements = 1, stored = 0;
    for (int d = 0; d < v->rank; d++) {
        elements *= v->dims[d]; /* bounded above: need did not exceed the file's bytes */
    }
    if (stored_count(path, v->name, &stored) && stored < elements) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "variable %s: its dimensions need %llu elements, but it stores %llu",
                      v->name, (unsigned long long)elements, (unsigned long long)stored);
        return false;
    }
    return imd__check_alloc(error, reader->context, need, "the image");
}

/*
 * The colour planes of a truecolor array, MATLAB's [rows, cols, 3, planes]
 * column-major, as the series' interleaved rgb8 [planes, rows, cols].
 */
static void colour_to_series(uint8_t *series, const uint8_t *mat, size_t rows, size_t cols,
                             size_t planes)
{
    size_t plane = rows * cols;
    for (size_t p = 0; p < planes; p++) {
        for (size_t c = 0; c < 3; c++) {
            const uint8_t *m = mat + (p * 3 + c) * plane;
            uint8_t *s = series + p * plane * 3 + c;
            for (size_t j = 0; j < cols; j++) {
                for (size_t i = 0; i < rows; i++) {
                    s[(i * cols + j) * 3] = m[i + j * rows];
                }
            }
        }
    }
}

/*
 * The series of variable `v` (read with its data unless headers_only);
 * `colour`: v is marked as a truecolor array (its third dimension R, G, B).
 */
static ImdSeries *series_of(ImdError **error, const Reader *reader, const matvar_t *v,
                            bool with_data, bool colour)
{
    ImdDType dtype;
    if (v->rank < 1 || v->dims == NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "variable %s has no dimensions", v->name);
        return NULL;
    }
    if (!image_class(error, v, &dtype)) {
        return NULL;
    }
    if (colour && (dtype != IMD_DTYPE_UINT8 || v->rank < 3 || v->dims[2] != 3)) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "variable %s: %s%s says it is a truecolor image, but it is not a uint8 "
                      "M x N x 3 array", v->name, v->name, COLOUR_SUFFIX);
        return NULL;
    }
    /* The colour dimension is not a dimension of the series. */
    size_t rank = (size_t)v->rank - (colour ? 1 : 0);
    if (rank > IMD_MAX_DIMS || rank - 2 > IMD_MAX_TAG_DIMS + 1) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "variable %s has %zu dimensions (at most %d)",
                      v->name, rank, IMD_MAX_DIMS);
        return NULL;
    }
    if (colour) {
        dtype = IMD_DTYPE_RGB8;
    }
    size_t rows = v->dims[0], cols = rank > 1 ? v->dims[1] : 1, count = 1;
    size_t shape[IMD_MAX_DIMS], ndim = 0;
    for (size_t d = (size_t)v->rank; d-- > 2;) {
        if (!(colour && d == 2)) {
            shape[ndim++] = v->dims[d];
        }
    }
    shape[ndim++] = rows;
    shape[ndim++] = cols;
    for (size_t d = 0; d < ndim; d++) {
        if (shape[d] == 0) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED, "variable %s is empty", v->name);
            return NULL;
        }
        if (!imd__mul_size(count, shape[d], &count)) {
            imd_error_set(error, IMD_ERR_LIMIT, "variable %s is too large", v->name);
            return NULL;
        }
    }
    size_t tag_ndim = ndim > 3 ? ndim - 3 : 0, slices = ndim >= 3 ? shape[ndim - 3] : 1;
    ImdSeries *series = imd_series_create(error, dtype, ndim, shape);
    bool ok = series != NULL && set_axes(error, reader, series, tag_ndim) &&
              set_tags(error, series, tag_ndim, shape, slices);
    if (ok && with_data) {
        bool complex = imd_dtype_is_complex(dtype);
        /* Bytes of one stored element: a colour voxel is three uint8 elements. */
        size_t part = colour ? 1 : imd_dtype_size(dtype) / (complex ? 2 : 1), need = 0;
        ok = imd__mul_size(count, colour ? 3 * part : part, &need) && v->data != NULL &&
             v->data_type == data_type_of_class(v->class_type) &&
             (size_t)v->data_size == part && (complex || v->nbytes >= need);
        const mat_complex_split_t *split = complex ? v->data : NULL;
        ok = ok && (!complex || (split->Re != NULL && split->Im != NULL));
        if (!ok) {
            imd_error_set(error, IMD_ERR_CORRUPT, "variable %s: its data (%zu bytes of type %d) "
                          "does not match its %zu elements", v->name, v->nbytes,
                          (int)v->data_type, count);
        } else {
            uint8_t *out = imd_series_data(series);
            size_t planes = count / (rows * cols);
            if (colour) {
                colour_to_series(out, v->data, rows, cols, planes);
            } else if (complex) {
                to_series(out, split->Re, rows, cols, planes, part, 2 * part);
                to_series(out + part, split->Im, rows, cols, planes, part, 2 * part);
            } else {
                to_series(out, v->data, rows, cols, planes, part, part);
            }
            if (dtype == IMD_DTYPE_BOOL) {
                for (size_t i = 0; i < count; i++) {
                    out[i] = out[i] != 0;
                }
            }
        }
    }
    if (!ok) {
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

static ImdSeries *read_file(ImdError **error, const Reader *reader, const Member *m)
{
    bool headers_only = reader->headers_only;
    if (!check_structure(error, m->file.path)) {
        return NULL;
    }
    if (!matio_ready(error, m->file.path)) {
        return NULL;
    }
    quiet_matio();
    mat_t *mat = Mat_Open(m->file.path, MAT_ACC_RDONLY);
    if (mat == NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "not a MATLAB file matio can read%s",
                      matio_said());
        return NULL;
    }
    Names names = {0};
    bool *marker = NULL;
    ImdSeries *series = NULL;
    const char *chosen = NULL;
    if (list_variables(error, mat, &names) && find_markers(error, mat, &names, &marker)) {
        chosen = choose_variable(error, reader, &names, marker);
    }
    if (chosen != NULL) {
        quiet_matio();
        /* The header first: its claim is checked before matio allocates the data. */
        matvar_t *v = Mat_VarReadInfo(mat, chosen);
        bool claim_ok = v != NULL && check_claim(error, reader, v, m->file.path);
        if (claim_ok && !headers_only) {
            Mat_VarFree(v);
            quiet_matio();
            v = Mat_VarRead(mat, chosen);
        }
        if (v != NULL && !claim_ok) {
            Mat_VarFree(v);
            v = NULL;
        } else if (v == NULL) {
            imd_error_set(error, IMD_ERR_CORRUPT, "cannot read variable %s%s", chosen,
                          matio_said());
        } else {
            series = series_of(error, reader, v, !headers_only,
                               is_colour(&names, marker, chosen));
            Mat_VarFree(v);
        }
        if (series != NULL) {
            imd_context_log(reader->context, IMD_LOG_INFO, "MATLAB: %s: variable %s, %zu "
                            "dimensions, %s", m->file.name, chosen, imd_series_ndim(series),
                            imd_dtype_name(imd_series_dtype(series)));
        }
    }
    free_names(&names);
    free(marker);
    (void)Mat_Close(mat);
    return series;
}

static ImdSeriesList *mat_reader_finish(ImdError **error, void *state)
{
    Reader *reader = state;
    ImdSeriesList *list = imd_series_list_create(error);
    bool ok = list != NULL;
    size_t emitted = 0;
    ImdError *declined = NULL; /* why a file holds no image: the error if none does */
    for (size_t i = 0; ok && i < reader->count; i++) {
        Member *m = &reader->members[i];
        ImdError *failure = NULL;
        ImdSeries *series = read_file(&failure, reader, m);
        if (m->temporary) {
            (void)unlink(m->file.path); /* read: the copy is no longer needed */
            m->temporary = false;
        }
        if (series != NULL) {
            ok = imd_context_emit_series(error, reader->context, list, series);
            emitted++;
            continue;
        }
        /* Each file on its own (issue 13): one that holds no image is listed with -v
         * and changes nothing when others are read; a broken one is a failure. */
        imd_error_prefix(&failure, "%s: ", m->file.name);
        ImdErrorCode code = imd_error_code(failure);
        if (code == IMD_ERR_NOMEM || code == IMD_ERR_CANCELLED) {
            imd_error_propagate(error, failure);
            ok = false;
        } else if (code == IMD_ERR_NOT_RECOGNIZED) {
            imd_context_log(reader->context, IMD_LOG_INFO, "skipped %s: not an image",
                            imd_error_message(failure));
            if (declined == NULL) {
                declined = failure; /* the error when no file of this format holds one */
            } else {
                imd_error_clear(&failure);
            }
        } else if (!imd_series_list_add_failure(error, list, failure)) {
            imd_error_clear(&failure);
            ok = false;
        }
    }
    if (ok && declined != NULL && emitted == 0 && imd_series_list_failure_count(list) == 0) {
        imd_error_propagate(error, declined);
        declined = NULL;
        ok = false;
    }
    imd_error_clear(&declined);
    if (!ok) {
        imd_series_list_destroy(list);
        return NULL;
    }
    return list;
}

/* ---- writing ---- */

static enum matio_classes class_of_dtype(ImdDType dtype, enum matio_types *type, int *flags)
{
    *flags = 0;
    switch (dtype) {
    case IMD_DTYPE_BOOL: *type = MAT_T_UINT8; *flags = MAT_F_LOGICAL; return MAT_C_UINT8;
    case IMD_DTYPE_UINT8: *type = MAT_T_UINT8; return MAT_C_UINT8;
    case IMD_DTYPE_RGB8: *type = MAT_T_UINT8; return MAT_C_UINT8; /* M x N x 3 (see above) */
    case IMD_DTYPE_INT8: *type = MAT_T_INT8; return MAT_C_INT8;
    case IMD_DTYPE_UINT16: *type = MAT_T_UINT16; return MAT_C_UINT16;
    case IMD_DTYPE_INT16: *type = MAT_T_INT16; return MAT_C_INT16;
    case IMD_DTYPE_UINT32: *type = MAT_T_UINT32; return MAT_C_UINT32;
    case IMD_DTYPE_INT32: *type = MAT_T_INT32; return MAT_C_INT32;
    case IMD_DTYPE_UINT64: *type = MAT_T_UINT64; return MAT_C_UINT64;
    case IMD_DTYPE_INT64: *type = MAT_T_INT64; return MAT_C_INT64;
    case IMD_DTYPE_FLOAT32: *type = MAT_T_SINGLE; return MAT_C_SINGLE;
    case IMD_DTYPE_FLOAT64: *type = MAT_T_DOUBLE; return MAT_C_DOUBLE;
    case IMD_DTYPE_COMPLEX64: *type = MAT_T_SINGLE; *flags = MAT_F_COMPLEX; return MAT_C_SINGLE;
    case IMD_DTYPE_COMPLEX128: *type = MAT_T_DOUBLE; *flags = MAT_F_COMPLEX; return MAT_C_DOUBLE;
    default: *type = MAT_T_UNKNOWN; return MAT_C_EMPTY;
    }
}

/* mat_version: the first three are level 5 (MATLAB's -v7 is level 5 compressed too),
 * the rest 7.3 (HDF5); absent: 5, or 7.3 from 2 GB. */
static const char *const mat_versions[] = {"5", "v5", "7", "7.3", "v7.3", "73", NULL};

static bool choose_version(ImdError **error, const ImdOptions *options, size_t nbytes,
                           enum mat_ft *version)
{
    size_t chosen = SIZE_MAX;
    *version = nbytes >= V73_FROM ? MAT_FT_MAT73 : MAT_FT_MAT5;
    if (!imd_options_get_choice(error, options, "mat_version", mat_versions, SIZE_MAX,
                                &chosen)) {
        return false;
    }
    if (chosen == SIZE_MAX) {
        return true;
    }
    if (chosen >= 3) {
        *version = MAT_FT_MAT73;
        return true;
    }
    if (nbytes >= V73_FROM) {
        imd_error_set(error, IMD_ERR_LIMIT, "mat_version %s holds at most 2 GB per array "
                      "(the series has %zu bytes): use mat_version=7.3", mat_versions[chosen],
                      nbytes);
        return false;
    }
    return true;
}

/* The inverse of colour_to_series: rgb8 [planes, rows, cols] as [rows, cols, 3, planes]. */
static void colour_to_matlab(uint8_t *mat, const uint8_t *series, size_t rows, size_t cols,
                             size_t planes)
{
    size_t plane = rows * cols;
    for (size_t p = 0; p < planes; p++) {
        for (size_t c = 0; c < 3; c++) {
            uint8_t *m = mat + (p * 3 + c) * plane;
            const uint8_t *s = series + p * plane * 3 + c;
            for (size_t i = 0; i < rows; i++) {
                for (size_t j = 0; j < cols; j++) {
                    m[i + j * rows] = s[(i * cols + j) * 3];
                }
            }
        }
    }
}

/*
 * The series' data laid out column-major as MATLAB's [rows, cols, d3...]
 * (rgb8: [rows, cols, 3, d3...], MATLAB's truecolor layout). `dims` holds
 * IMD_MAX_DIMS + 1 values.
 */
static bool matlab_layout(ImdError **error, const ImdSeries *series, size_t *dims, int *rank,
                          void **data, mat_complex_split_t *split)
{
    size_t ndim = imd_series_ndim(series), count = imd_series_count(series);
    ImdDType dtype = imd_series_dtype(series);
    bool colour = dtype == IMD_DTYPE_RGB8;
    size_t rows = ndim >= 2 ? imd_series_dim(series, ndim - 2) : 1;
    size_t cols = imd_series_dim(series, ndim - 1);
    dims[0] = rows;
    dims[1] = cols;
    *rank = 2;
    if (colour) {
        dims[(*rank)++] = 3;
    }
    for (size_t d = ndim >= 2 ? ndim - 2 : 0; d-- > 0;) {
        dims[(*rank)++] = imd_series_dim(series, d);
    }
    bool complex = imd_dtype_is_complex(dtype);
    size_t part = imd_dtype_size(dtype) / (complex ? 2 : 1), bytes = 0;
    const uint8_t *in = imd_series_const_data(series);
    if (in == NULL || rows == 0 || cols == 0 || !imd__mul_size(count, part, &bytes)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "MATLAB: the series has no data");
        return false;
    }
    size_t planes = count / (rows * cols);
    if (complex) {
        split->Re = imd__malloc(error, bytes);
        split->Im = split->Re != NULL ? imd__malloc(error, bytes) : NULL;
        if (split->Im == NULL) {
            free(split->Re);
            split->Re = NULL;
            return false;
        }
        to_matlab(split->Re, in, rows, cols, planes, part, 2 * part);
        to_matlab(split->Im, in + part, rows, cols, planes, part, 2 * part);
        *data = split;
        return true;
    }
    uint8_t *out = imd__malloc(error, bytes);
    if (out == NULL) {
        return false;
    }
    if (colour) {
        colour_to_matlab(out, in, rows, cols, planes);
    } else {
        to_matlab(out, in, rows, cols, planes, part, part);
    }
    *data = out;
    return true;
}

/* The colour marker beside A: A_colour = 'RGB' (char, 1 x 3). */
static bool write_colour_marker(mat_t *mat)
{
    char value[] = COLOUR_VALUE;
    size_t dims[2] = {1, strlen(COLOUR_VALUE)};
    matvar_t *v = Mat_VarCreate("A" COLOUR_SUFFIX, MAT_C_CHAR, MAT_T_UINT8, 2, dims, value,
                                MAT_F_DONT_COPY_DATA);
    bool ok = v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE) == 0;
    Mat_VarFree(v);
    return ok;
}

/* Write the matio file at `path`. */
static bool write_file(ImdError **error, const ImdSeries *series, const char *path,
                       enum mat_ft version)
{
    enum matio_types type;
    int flags;
    enum matio_classes class_type = class_of_dtype(imd_series_dtype(series), &type, &flags);
    size_t dims[IMD_MAX_DIMS + 1];
    int rank = 0;
    void *data = NULL;
    mat_complex_split_t split = {NULL, NULL};
    if (!matio_ready(error, path) || !matlab_layout(error, series, dims, &rank, &data, &split)) {
        return false;
    }
    quiet_matio();
    mat_t *mat = Mat_CreateVer(path, NULL, version);
    matvar_t *v = mat != NULL ? Mat_VarCreate("A", class_type, type, rank, dims, data,
                                              flags | MAT_F_DONT_COPY_DATA)
                              : NULL;
    bool ok = v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_ZLIB) == 0;
    Mat_VarFree(v); /* the data stays ours */
    if (ok && imd_series_dtype(series) == IMD_DTYPE_RGB8) {
        ok = write_colour_marker(mat);
    }
    if (mat != NULL && Mat_Close(mat) != 0) {
        ok = false;
    }
    if (!ok) {
        imd_error_set(error, IMD_ERR_IO, "matio could not write the file%s", matio_said());
    }
    if (data == &split) {
        free(split.Re);
        free(split.Im);
    } else {
        free(data);
    }
    return ok;
}

/* Copy the file at `path` into the archive member `name` (committed on close). */
static bool copy_into_member(ImdError **error, const char *path, ImdArchive *archive,
                             const char *name)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        imd_error_set(error, IMD_ERR_IO, "%s: %s", path, strerror(errno));
        return false;
    }
    uint8_t *buffer = imd__malloc(error, CHUNK);
    ImdStream *stream =
        buffer != NULL ? imd_archive_open_member(error, archive, name, IMD_MODE_WRITE) : NULL;
    bool ok = stream != NULL;
    while (ok) {
        size_t got = fread(buffer, 1, CHUNK, file);
        if (got > 0) {
            ok = imd_stream_write(error, stream, buffer, got);
        }
        if (got < CHUNK) {
            if (ferror(file)) {
                imd_error_set(error, IMD_ERR_IO, "%s: read failed", path);
                ok = false;
            }
            break;
        }
    }
    (void)fclose(file);
    free(buffer);
    if (ok) {
        ok = imd_stream_close(error, stream);
    } else {
        imd_stream_abort(stream);
    }
    return ok;
}

static bool write_series(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                         const char *member, const ImdOptions *options)
{
    ImdDType dtype = imd_series_dtype(series);
    enum matio_types type;
    int flags;
    if (class_of_dtype(dtype, &type, &flags) == MAT_C_EMPTY) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "MATLAB files cannot hold %s data",
                      imd_dtype_name(dtype));
        return false;
    }
    if (imd_series_ndim(series) > IMD_MAX_DIMS) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "MATLAB: too many dimensions");
        return false;
    }
    enum mat_ft version;
    if (!choose_version(error, options, imd_series_nbytes(series), &version)) {
        return false;
    }
    int fd = -1;
    char *path = temporary_file(error, &fd);
    if (path == NULL) {
        return false;
    }
    (void)close(fd);
    bool ok = write_file(error, series, path, version) &&
              copy_into_member(error, path, destination, member);
    (void)unlink(path);
    free(path);
    return ok;
}

#endif /* IMD_WITH_MATIO */

#ifndef IMD_WITH_MATIO
static ImdSeriesList *mat_reader_finish(ImdError **error, void *state)
{
    IMD__UNUSED(state);
    imd_error_set(error, IMD_ERR_UNSUPPORTED, NO_MATIO);
    return NULL;
}
#endif

/* Image.mat by default; ".mat" added when missing. */
static char *output_name(ImdError **error, const char *name)
{
    size_t length = name != NULL ? strlen(name) : 0;
    if (length == 0 || name[length - 1] == '/') {
        return imd__sprintf(error, "%sImage.mat", length > 0 ? name : "");
    }
    if (has_mat_suffix(name)) {
        return imd__strdup(error, name);
    }
    return imd__sprintf(error, "%s.mat", name);
}

static bool mat_write(ImdError **error, const ImdSeries *series, ImdArchive *destination,
                      const char *name, const ImdOptions *options)
{
    if (series == NULL || destination == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "MATLAB write: no series or destination");
        return false;
    }
#ifdef IMD_WITH_MATIO
    char *member = output_name(error, name);
    if (member == NULL) {
        return false;
    }
    bool ok = write_series(error, series, destination, member, options);
    if (!ok) {
        imd_error_prefix(error, "%s: ", member);
    }
    free(member);
    return ok;
#else
    IMD__UNUSED(options);
    IMD__UNUSED(output_name);
    IMD__UNUSED(name);
    imd_error_set(error, IMD_ERR_UNSUPPORTED, NO_MATIO);
    return false;
#endif
}

static const char *const mat_suffixes[] = {".mat", NULL};

/* docs/metaio-mat.md. */
static const ImdOptionSpec mat_options[] = {
    {"input_order", IMD_OPTION_ORDER, "names of the tag dimensions (auto: none)", NULL},
    {"headers_only", IMD_OPTION_BOOL, "read the variable's shape, leave the voxels zero", NULL},
    {"mat_variable", IMD_OPTION_STRING, "the variable to read when a file holds several", NULL},
    {"mat_version", IMD_OPTION_CHOICE, "5 or 7.3 (HDF5) output; default 5, 7.3 from 2 GB",
     mat_versions},
    {NULL, 0, NULL, NULL},
};

const ImdFormatPlugin imd__mat_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "mat",
    .description = "MATLAB .mat v4, v5 and v7.3 (matio)",
    .suffixes = mat_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = mat_probe,
    .reader_create = mat_reader_create,
    .reader_add = mat_reader_add,
    .reader_finish = mat_reader_finish,
    .reader_destroy = mat_reader_destroy,
    .write = mat_write,
    .options = mat_options,
};
