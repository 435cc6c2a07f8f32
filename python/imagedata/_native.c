/*
 * _native.c: the CPython extension under imagedata.series, on libimagedata.
 *
 * Limited API (abi3) for Python 3.11 and later: one binary per platform, no
 * numpy C API. Voxels reach numpy through the buffer protocol: a Handle owns
 * one ImdSeries; np.frombuffer(handle) makes an array whose base keeps the
 * handle alive, and imd_series_destroy runs when the last view goes. No copy.
 *
 * A Handle is either a full series (data_valid: read from a file, or wrapping
 * a Python buffer for a write) or a header carrier: the header and axes of a
 * numpy view or ufunc result whose voxels numpy owns. A carrier's data
 * pointer is a placeholder that nothing reads: only header functions, and
 * imd_series_to_json with IMD_JSON_HEADER_ONLY, are called on it.
 *
 * Reading and writing release the GIL. Errors become the exceptions of
 * imagedata.formats through a factory the Python package registers.
 */
#ifndef Py_LIMITED_API
#define Py_LIMITED_API 0x030B0000
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <imagedata/imagedata.h>
#ifdef IMD_HAVE_VIEW
#include <imagedata/view.h>
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- module state (one interpreter; the package is imported once) ------- */

static ImdContext *g_context;
static PyObject *g_error_factory; /* callable(code, message) -> exception instance */
static long g_busy;                /* reads and writes running with the GIL released */
static char g_placeholder;         /* the data pointer of header carriers; never read */

static PyObject *raise_imd(ImdError *error)
{
    long code = (long)imd_error_code(error);
    const char *message = error != NULL ? imd_error_message(error) : "unknown error";
    if (code == 0) {
        code = IMD_ERR_INTERNAL;
    }
    if (g_error_factory != NULL) {
        PyObject *exc = PyObject_CallFunction(g_error_factory, "ls", code, message);
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
    } else {
        PyErr_Format(PyExc_RuntimeError, "imagedata error %ld: %s", code, message);
    }
    imd_error_clear(&error);
    return NULL;
}

/* ---- Handle ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    ImdSeries *series;
    int data_valid;
    int has_view;    /* `view` holds a Python buffer the series wraps */
    Py_buffer view;
    Py_ssize_t exports;
} Handle;

static PyTypeObject *HandleType;

static PyObject *handle_new(ImdSeries *series, int data_valid)
{
    Handle *h = PyObject_New(Handle, HandleType);
    if (h == NULL) {
        imd_series_destroy(series);
        return NULL;
    }
    h->series = series;
    h->data_valid = data_valid;
    h->has_view = 0;
    h->exports = 0;
    memset(&h->view, 0, sizeof h->view);
    return (PyObject *)h;
}

static void handle_dealloc(PyObject *self)
{
    Handle *h = (Handle *)self;
    PyTypeObject *type = Py_TYPE(self);
    imd_series_destroy(h->series);
    h->series = NULL;
    if (h->has_view) {
        PyBuffer_Release(&h->view);
        h->has_view = 0;
    }
    freefunc free_fn = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free_fn(self);
    Py_DECREF(type);
}

static int handle_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    Handle *h = (Handle *)self;
    if (!h->data_valid) {
        PyErr_SetString(PyExc_BufferError, "imagedata: a header carrier has no voxels");
        return -1;
    }
    void *data = imd_series_data(h->series);
    Py_ssize_t bytes = (Py_ssize_t)imd_series_nbytes(h->series);
    if (PyBuffer_FillInfo(view, self, data, bytes, 0, flags) < 0) {
        return -1;
    }
    h->exports++;
    return 0;
}

static void handle_releasebuffer(PyObject *self, Py_buffer *view)
{
    (void)view;
    ((Handle *)self)->exports--;
}

static Handle *as_handle(PyObject *object)
{
    if (!PyObject_TypeCheck(object, HandleType)) {
        PyErr_SetString(PyExc_TypeError, "imagedata: expected a native handle");
        return NULL;
    }
    return (Handle *)object;
}

static PyObject *handle_shape(PyObject *self, void *closure)
{
    (void)closure;
    Handle *h = (Handle *)self;
    size_t ndim = imd_series_ndim(h->series);
    PyObject *shape = PyTuple_New((Py_ssize_t)ndim);
    for (size_t d = 0; shape != NULL && d < ndim; d++) {
        PyTuple_SetItem(shape, (Py_ssize_t)d, PyLong_FromSize_t(imd_series_dim(h->series, d)));
    }
    return shape;
}

static PyObject *handle_dtype(PyObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong((long)imd_series_dtype(((Handle *)self)->series));
}

static PyObject *handle_valid(PyObject *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((Handle *)self)->data_valid);
}

static PyGetSetDef handle_getset[] = {
    {"shape", handle_shape, NULL, "the series' shape", NULL},
    {"dtype", handle_dtype, NULL, "the ImdDType code", NULL},
    {"data_valid", handle_valid, NULL, "true when the handle holds voxels", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot handle_slots[] = {
    {Py_tp_dealloc, handle_dealloc},
    {Py_bf_getbuffer, handle_getbuffer},
    {Py_bf_releasebuffer, handle_releasebuffer},
    {Py_tp_getset, handle_getset},
    {Py_tp_doc, "An ImdSeries owned by Python (imagedata._native)."},
    {0, NULL},
};

static PyType_Spec handle_spec = {
    "imagedata._native.Handle", sizeof(Handle), 0, Py_TPFLAGS_DEFAULT, handle_slots,
};

/* ---- helpers ------------------------------------------------------------ */

/* Options from a sequence of (key, value) string pairs. */
static ImdOptions *options_from(PyObject *pairs)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    if (options == NULL) {
        raise_imd(error);
        return NULL;
    }
    if (pairs == NULL || pairs == Py_None) {
        return options;
    }
    PyObject *iterator = PyObject_GetIter(pairs);
    if (iterator == NULL) {
        imd_options_destroy(options);
        return NULL;
    }
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        const char *key, *value;
        int ok = PyArg_ParseTuple(item, "ss", &key, &value);
        if (ok && !imd_options_set(&error, options, key, value)) {
            raise_imd(error);
            ok = 0;
        }
        Py_DECREF(item);
        if (!ok) {
            Py_DECREF(iterator);
            imd_options_destroy(options);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        imd_options_destroy(options);
        return NULL;
    }
    return options;
}

/* ---- read and write ----------------------------------------------------- */

static PyObject *native_read(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *url_list, *pairs;
    if (!PyArg_ParseTuple(args, "OO", &url_list, &pairs)) {
        return NULL;
    }
    PyObject *urls = PySequence_Tuple(url_list);
    if (urls == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_Size(urls);
    const char **texts = calloc(count > 0 ? (size_t)count : 1, sizeof *texts);
    if (texts == NULL) {
        Py_DECREF(urls);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        texts[i] = PyUnicode_AsUTF8AndSize(PyTuple_GetItem(urls, i), NULL);
        if (texts[i] == NULL) {
            free(texts);
            Py_DECREF(urls);
            return NULL;
        }
    }
    ImdOptions *options = options_from(pairs);
    if (options == NULL) {
        free(texts);
        Py_DECREF(urls);
        return NULL;
    }
    ImdError *error = NULL;
    ImdSeriesList *list;
    g_busy++;
    Py_BEGIN_ALLOW_THREADS
    list = imd_read(&error, g_context, texts, (size_t)count, options);
    Py_END_ALLOW_THREADS
    g_busy--;
    imd_options_destroy(options);
    free(texts);
    Py_DECREF(urls);
    if (list == NULL) {
        return raise_imd(error);
    }
    size_t n = imd_series_list_count(list);
    PyObject *result = PyList_New(0);
    PyObject *failures = PyList_New(0);
    for (size_t i = 0; result != NULL && failures != NULL && i < n; i++) {
        PyObject *h = handle_new(imd_series_list_take(list, 0), 1);
        if (h == NULL || PyList_Append(result, h) < 0) {
            Py_XDECREF(h);
            Py_CLEAR(result);
            break;
        }
        Py_DECREF(h);
    }
    for (size_t i = 0; result != NULL && failures != NULL &&
                       i < imd_series_list_failure_count(list); i++) {
        const ImdError *f = imd_series_list_failure(list, i);
        PyObject *pair = Py_BuildValue("(ls)", (long)imd_error_code(f), imd_error_message(f));
        if (pair == NULL || PyList_Append(failures, pair) < 0) {
            Py_XDECREF(pair);
            Py_CLEAR(result);
            break;
        }
        Py_DECREF(pair);
    }
    imd_series_list_destroy(list);
    if (result == NULL || failures == NULL) {
        Py_XDECREF(result);
        Py_XDECREF(failures);
        return NULL;
    }
    PyObject *out = Py_BuildValue("(NN)", result, failures);
    return out;
}

static PyObject *native_write(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *pairs;
    const char *url, *format;
    if (!PyArg_ParseTuple(args, "OszO", &object, &url, &format, &pairs)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    if (!h->data_valid) {
        PyErr_SetString(PyExc_ValueError, "imagedata: write needs a handle with voxels");
        return NULL;
    }
    ImdOptions *options = options_from(pairs);
    if (options == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    bool ok;
    Py_INCREF(object); /* the voxels stay while the GIL is released */
    g_busy++;
    Py_BEGIN_ALLOW_THREADS
    ok = imd_write(&error, g_context, h->series, url, format, options);
    Py_END_ALLOW_THREADS
    g_busy--;
    Py_DECREF(object);
    imd_options_destroy(options);
    if (!ok) {
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

#ifdef IMD_HAVE_VIEW
/*
 * view([handle], link, replay|None, screenshot|None) -> [(center, width)]:
 * the viewer (docs/viewer.md) on handles with voxels, until the user quits.
 * SDL wants the main thread: the GIL is kept (the viewer runs in this thread).
 */
static PyObject *native_view(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *list;
    int link;
    const char *replay, *screenshot;
    if (!PyArg_ParseTuple(args, "Opzz", &list, &link, &replay, &screenshot)) {
        return NULL;
    }
    Py_ssize_t n = PyList_Size(list);
    if (n < 0) {
        return NULL;
    }
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "imagedata: nothing to view");
        return NULL;
    }
    ImdSeries **series = PyMem_Malloc((size_t)n * sizeof *series);
    ImdViewWindow *windows = PyMem_Malloc((size_t)n * sizeof *windows);
    if (series == NULL || windows == NULL) {
        PyMem_Free(series);
        PyMem_Free(windows);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Handle *h = as_handle(PyList_GetItem(list, i));
        if (h == NULL || !h->data_valid) {
            if (h != NULL) {
                PyErr_SetString(PyExc_ValueError, "imagedata: view needs handles with voxels");
            }
            PyMem_Free(series);
            PyMem_Free(windows);
            return NULL;
        }
        series[i] = h->series;
    }
    ImdViewOptions options;
    memset(&options, 0, sizeof options);
    options.link = link != 0;
    options.replay = replay;
    options.screenshot_prefix = screenshot;
    ImdError *error = NULL;
    bool ok = imd_view(&error, series, (size_t)n, &options, windows);
    PyMem_Free(series);
    PyObject *result = NULL;
    if (!ok) {
        PyMem_Free(windows);
        return raise_imd(error);
    }
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result != NULL && i < n; i++) {
        PyObject *pair = Py_BuildValue("(dd)", windows[i].center, windows[i].width);
        if (pair == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SetItem(result, i, pair);
    }
    PyMem_Free(windows);
    return result;
}
#endif

/* ---- making handles ----------------------------------------------------- */

/* new(dtype, shape): a header carrier with default axes and header. */
static PyObject *native_new(PyObject *module, PyObject *args)
{
    (void)module;
    int dtype;
    PyObject *shape_object;
    if (!PyArg_ParseTuple(args, "iO", &dtype, &shape_object)) {
        return NULL;
    }
    PyObject *shape_tuple = PySequence_Tuple(shape_object);
    if (shape_tuple == NULL) {
        return NULL;
    }
    Py_ssize_t ndim = PyTuple_Size(shape_tuple);
    size_t shape[IMD_MAX_DIMS];
    if (ndim < 1 || ndim > IMD_MAX_DIMS) {
        Py_DECREF(shape_tuple);
        PyErr_Format(PyExc_ValueError, "imagedata: %zd dimensions (1 to %d allowed)", ndim,
                     IMD_MAX_DIMS);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < ndim; i++) {
        shape[i] = PyLong_AsSize_t(PyTuple_GetItem(shape_tuple, i));
        if (PyErr_Occurred()) {
            Py_DECREF(shape_tuple);
            return NULL;
        }
    }
    Py_DECREF(shape_tuple);
    ImdError *error = NULL;
    ImdSeries *series =
        imd_series_wrap(&error, (ImdDType)dtype, (size_t)ndim, shape, &g_placeholder, NULL, NULL);
    if (series == NULL) {
        return raise_imd(error);
    }
    return handle_new(series, 0);
}

/* like(handle, dtype): a carrier with a deep copy of the header and axes. */
static PyObject *native_like(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    int dtype;
    if (!PyArg_ParseTuple(args, "Oi", &object, &dtype)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    ImdSeries *series =
        imd_series_wrap_like(&error, h->series, (ImdDType)dtype, &g_placeholder, NULL, NULL);
    return series != NULL ? handle_new(series, 0) : raise_imd(error);
}

/*
 * with_data(handle, dtype, buffer): a full series with the header of `handle`
 * over the C-contiguous `buffer` (held until the handle goes): for writing.
 */
static PyObject *native_with_data(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *buffer;
    int dtype;
    if (!PyArg_ParseTuple(args, "OiO", &object, &dtype, &buffer)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    Handle *out = PyObject_New(Handle, HandleType);
    if (out == NULL) {
        return NULL;
    }
    out->series = NULL;
    out->data_valid = 0;
    out->has_view = 0;
    out->exports = 0;
    if (PyObject_GetBuffer(buffer, &out->view, PyBUF_C_CONTIGUOUS) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    out->has_view = 1;
    size_t needed = imd_dtype_size((ImdDType)dtype);
    for (size_t d = 0; d < imd_series_ndim(h->series); d++) {
        needed *= imd_series_dim(h->series, d);
    }
    if ((size_t)out->view.len != needed || needed == 0) {
        PyErr_Format(PyExc_ValueError, "imagedata: buffer of %zd bytes for a series of %zu",
                     out->view.len, needed);
        Py_DECREF(out);
        return NULL;
    }
    ImdError *error = NULL;
    out->series = imd_series_wrap_like(&error, h->series, (ImdDType)dtype, out->view.buf, NULL,
                                       NULL);
    if (out->series == NULL) {
        Py_DECREF(out);
        return raise_imd(error);
    }
    out->data_valid = 1;
    return (PyObject *)out;
}

/* subset(handle, [(kind, start, stop, step, has_start, has_stop), ...]): a carrier. */
static PyObject *native_subset(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *indices;
    if (!PyArg_ParseTuple(args, "OO", &object, &indices)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    PyObject *tuple = PySequence_Tuple(indices);
    if (tuple == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_Size(tuple);
    ImdIndex index[IMD_MAX_DIMS];
    if (count > IMD_MAX_DIMS) {
        Py_DECREF(tuple);
        PyErr_SetString(PyExc_IndexError, "imagedata: too many indices");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        int kind, has_start, has_stop;
        long long start, stop, step;
        if (!PyArg_ParseTuple(PyTuple_GetItem(tuple, i), "iLLLpp", &kind, &start, &stop, &step,
                              &has_start, &has_stop)) {
            Py_DECREF(tuple);
            return NULL;
        }
        index[i] = (ImdIndex){(ImdIndexKind)kind, start, stop, step, has_start != 0,
                              has_stop != 0};
    }
    Py_DECREF(tuple);
    ImdError *error = NULL;
    ImdSeries *series =
        imd_series_subset_wrap(&error, h->series, index, (size_t)count, &g_placeholder, NULL, NULL);
    return series != NULL ? handle_new(series, 0) : raise_imd(error);
}

/* ---- header ------------------------------------------------------------- */

static PyObject *native_describe(PyObject *module, PyObject *object)
{
    (void)module;
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    /* Never from the voxels: the window is computed in Python from the array. */
    char *text = imd_series_to_json(&error, h->series, NULL, IMD_JSON_HEADER_ONLY);
    if (text == NULL) {
        return raise_imd(error);
    }
    PyObject *result = PyUnicode_FromString(text);
    imd_free(text);
    return result;
}

static PyObject *native_get(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    const char *keyword;
    if (!PyArg_ParseTuple(args, "Os", &object, &keyword)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    const char *value = imd_header_get_string(imd_series_const_header(h->series), keyword);
    if (value == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(value);
}

static PyObject *native_set(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    const char *keyword, *value;
    if (!PyArg_ParseTuple(args, "Osz", &object, &keyword, &value)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    if (!imd_header_set_string(&error, imd_series_header(h->series), keyword, value)) {
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

static PyObject *native_keywords(PyObject *module, PyObject *object)
{
    (void)module;
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    const ImdHeader *header = imd_series_const_header(h->series);
    size_t n = imd_header_attribute_count(header);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *k = PyUnicode_FromString(imd_header_attribute_keyword(header, i));
        if (k == NULL || PyList_Append(list, k) < 0) {
            Py_XDECREF(k);
            Py_CLEAR(list);
        } else {
            Py_DECREF(k);
        }
    }
    return list;
}

static PyObject *native_template_get(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    const char *keyword;
    if (!PyArg_ParseTuple(args, "Os", &object, &keyword)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    char *value = NULL;
    if (!imd_header_template_string(&error, imd_series_const_header(h->series), keyword,
                                    &value)) {
        return raise_imd(error);
    }
    if (value == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *result = PyUnicode_FromString(value);
    imd_free(value);
    return result;
}

static PyObject *native_set_input_order(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    const char *order;
    int rename_axes;
    if (!PyArg_ParseTuple(args, "Osp", &object, &order, &rename_axes)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    bool ok = rename_axes ? imd_series_set_input_order(&error, h->series, order)
                          : imd_header_set_input_order(&error, imd_series_header(h->series), order);
    if (!ok) {
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

static PyObject *native_set_spacing(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    double s[3];
    if (!PyArg_ParseTuple(args, "O(ddd)", &object, &s[0], &s[1], &s[2])) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    if (!imd_series_set_spacing(&error, h->series, s)) {
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

static PyObject *native_window(PyObject *module, PyObject *object)
{
    (void)module;
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    double center, width;
    if (!imd_header_window(imd_series_const_header(h->series), &center, &width)) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(dd)", center, width);
}

static PyObject *native_set_window(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *center, *width;
    if (!PyArg_ParseTuple(args, "OOO", &object, &center, &width)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    if (center == Py_None || width == Py_None) {
        imd_header_clear_window(imd_series_header(h->series));
        Py_RETURN_NONE;
    }
    double c = PyFloat_AsDouble(center), w = PyFloat_AsDouble(width);
    if (PyErr_Occurred()) {
        return NULL;
    }
    imd_header_set_window(imd_series_header(h->series), c, w);
    Py_RETURN_NONE;
}

/* A sequence of numbers as a new C array (free()); NULL with a Python exception set. */
static double *doubles_of(PyObject *sequence, Py_ssize_t *count)
{
    PyObject *t = PySequence_Tuple(sequence);
    if (t == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_Size(t);
    double *v = calloc(n > 0 ? (size_t)n : 1, sizeof *v);
    if (v == NULL) {
        Py_DECREF(t);
        (void)PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        v[i] = PyFloat_AsDouble(PyTuple_GetItem(t, i));
    }
    Py_DECREF(t);
    if (PyErr_Occurred()) {
        free(v);
        return NULL;
    }
    *count = n;
    return v;
}

/* A tag value: a number, a vector (up to 3 numbers), or (b, direction) as the JSON gives. */
static int value_of(PyObject *v, ImdValue *value)
{
    if (PyNumber_Check(v)) {
        double number = PyFloat_AsDouble(v);
        *value = imd_value_number(number);
        return !PyErr_Occurred();
    }
    PyObject *t = PySequence_Tuple(v);
    if (t == NULL) {
        return 0;
    }
    Py_ssize_t n = PyTuple_Size(t);
    double numbers[IMD_VALUE_MAX] = {0};
    int ok = 1;
    if (n == 2 && PyNumber_Check(PyTuple_GetItem(t, 0)) &&
        !PyNumber_Check(PyTuple_GetItem(t, 1))) {
        Py_ssize_t count = 0;
        double *direction = doubles_of(PyTuple_GetItem(t, 1), &count);
        if (direction == NULL || count > IMD_VALUE_MAX - 1) {
            free(direction);
            Py_DECREF(t);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "imagedata: a b vector has 3 numbers");
            }
            return 0;
        }
        double b = PyFloat_AsDouble(PyTuple_GetItem(t, 0));
        *value = imd_value_b_vector(b, direction, (size_t)count);
        free(direction);
    } else if (n <= IMD_VALUE_MAX - 1) {
        for (Py_ssize_t i = 0; i < n; i++) {
            numbers[i] = PyFloat_AsDouble(PyTuple_GetItem(t, i));
        }
        *value = imd_value_vector(numbers, (size_t)n);
    } else {
        PyErr_SetString(PyExc_ValueError, "imagedata: a tag vector has at most 3 numbers");
        ok = 0;
    }
    Py_DECREF(t);
    return ok && !PyErr_Occurred();
}

/* set_geometry(handle, positions [(x,y,z)...] | None, (row xyz, column xyz) | None, transform 4x4 | None) */
static PyObject *native_set_geometry(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *positions, *orientation, *transform, *locations;
    if (!PyArg_ParseTuple(args, "OOOOO", &object, &positions, &orientation, &transform,
                          &locations)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdHeader *header = imd_series_header(h->series);
    ImdError *error = NULL;
    if (positions != Py_None) {
        PyObject *t = PySequence_Tuple(positions);
        if (t == NULL) {
            return NULL;
        }
        Py_ssize_t n = PyTuple_Size(t);
        ImdVec3 *p = calloc(n > 0 ? (size_t)n : 1, sizeof *p);
        if (p == NULL) {
            Py_DECREF(t);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (!PyArg_ParseTuple(PyTuple_GetItem(t, i), "ddd", &p[i].x, &p[i].y, &p[i].z)) {
                free(p);
                Py_DECREF(t);
                return NULL;
            }
        }
        Py_DECREF(t);
        bool ok = imd_header_set_image_positions(&error, header, p, (size_t)n);
        free(p);
        if (!ok) {
            return raise_imd(error);
        }
        imd_header_set_geometry_defined(header, true);
    }
    if (orientation != Py_None) {
        ImdVec3 r, c;
        if (!PyArg_ParseTuple(orientation, "dddddd", &r.x, &r.y, &r.z, &c.x, &c.y, &c.z)) {
            return NULL;
        }
        if (!imd_header_set_orientation(&error, header, r, c)) {
            return raise_imd(error);
        }
        imd_header_set_geometry_defined(header, true);
    }
    if (locations != Py_None) {
        Py_ssize_t n = 0;
        double *v = doubles_of(locations, &n);
        if (v == NULL) {
            return NULL;
        }
        bool ok = imd_header_set_slice_locations(&error, header, v, (size_t)n);
        free(v);
        if (!ok) {
            return raise_imd(error);
        }
    }
    if (transform == Py_None) {
        imd_header_reset_transform(header);
    } else if (transform != Py_False) {
        ImdMat4 m;
        PyObject *t = PySequence_Tuple(transform);
        if (t == NULL) {
            return NULL;
        }
        if (PyTuple_Size(t) != 16) {
            Py_DECREF(t);
            PyErr_SetString(PyExc_ValueError, "imagedata: a transform has 16 numbers");
            return NULL;
        }
        for (int i = 0; i < 16; i++) {
            m.m[i / 4][i % 4] = PyFloat_AsDouble(PyTuple_GetItem(t, i));
        }
        Py_DECREF(t);
        if (PyErr_Occurred()) {
            return NULL;
        }
        imd_header_set_transform(header, &m);
        imd_header_set_geometry_defined(header, true);
    }
    Py_RETURN_NONE;
}

/* set_axis(handle, dim, name, unit, start, step) or (handle, dim, name, unit, None, [numbers]) */
static PyObject *native_set_axis(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *start, *step;
    Py_ssize_t dim;
    const char *name, *unit;
    if (!PyArg_ParseTuple(args, "OnszOO", &object, &dim, &name, &unit, &start, &step)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    ImdAxis *axis;
    if (start != Py_None) {
        double a = PyFloat_AsDouble(start), b = PyFloat_AsDouble(step);
        if (PyErr_Occurred()) {
            return NULL;
        }
        axis = imd_axis_create_uniform(&error, name, a, b, imd_series_dim(h->series, (size_t)dim));
    } else {
        /* Numbers, vectors or (b, direction) pairs, as the JSON description gives them. */
        PyObject *t = PySequence_Tuple(step);
        if (t == NULL) {
            return NULL;
        }
        Py_ssize_t n = PyTuple_Size(t);
        ImdValue *v = calloc(n > 0 ? (size_t)n : 1, sizeof *v);
        if (v == NULL) {
            Py_DECREF(t);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (!value_of(PyTuple_GetItem(t, i), &v[i])) {
                free(v);
                Py_DECREF(t);
                return NULL;
            }
        }
        Py_DECREF(t);
        axis = imd_axis_create_variable(&error, name, v, (size_t)n);
        free(v);
    }
    if (axis == NULL) {
        return raise_imd(error);
    }
    if (unit != NULL && !imd_axis_set_unit(&error, axis, unit)) {
        imd_axis_destroy(axis);
        return raise_imd(error);
    }
    if (!imd_series_set_axis(&error, h->series, (size_t)dim, axis)) {
        imd_axis_destroy(axis);
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

/* set_tag(handle, slice, index tuple, values tuple|None): one cell of the tag store. */
static PyObject *native_set_tags(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *shape_object, *cells;
    Py_ssize_t slices, components;
    if (!PyArg_ParseTuple(args, "OnOnO", &object, &slices, &shape_object, &components, &cells)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    PyObject *shape_tuple = PySequence_Tuple(shape_object);
    if (shape_tuple == NULL) {
        return NULL;
    }
    size_t ndim = (size_t)PyTuple_Size(shape_tuple), shape[IMD_MAX_TAG_DIMS] = {0};
    size_t cells_per_slice = 1;
    if (ndim > IMD_MAX_TAG_DIMS || components < 0 || components > IMD_VALUE_MAX) {
        Py_DECREF(shape_tuple);
        PyErr_SetString(PyExc_ValueError, "imagedata: bad tag shape");
        return NULL;
    }
    for (size_t i = 0; i < ndim; i++) {
        shape[i] = PyLong_AsSize_t(PyTuple_GetItem(shape_tuple, (Py_ssize_t)i));
        cells_per_slice *= shape[i];
    }
    Py_DECREF(shape_tuple);
    if (PyErr_Occurred()) {
        return NULL;
    }
    ImdHeader *header = imd_series_header(h->series);
    ImdError *error = NULL;
    if (!imd_header_set_tag_shape(&error, header, (size_t)slices, ndim, shape,
                                  (size_t)components)) {
        return raise_imd(error);
    }
    /* cells: a flat sequence, slice-major then C order over the tag dims, of tuples or None */
    PyObject *flat = PySequence_Tuple(cells);
    if (flat == NULL) {
        return NULL;
    }
    if ((size_t)PyTuple_Size(flat) != (size_t)slices * cells_per_slice) {
        Py_DECREF(flat);
        PyErr_SetString(PyExc_ValueError, "imagedata: tag cell count does not match");
        return NULL;
    }
    for (size_t s = 0; s < (size_t)slices; s++) {
        for (size_t c = 0; c < cells_per_slice; c++) {
            PyObject *cell = PyTuple_GetItem(flat, (Py_ssize_t)(s * cells_per_slice + c));
            size_t index[IMD_MAX_TAG_DIMS] = {0}, rest = c;
            for (size_t d = ndim; d-- > 0;) {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            if (cell == Py_None) {
                continue;
            }
            ImdValue values[IMD_VALUE_MAX];
            for (Py_ssize_t k = 0; k < components; k++) {
                PyObject *v = PySequence_GetItem(cell, k);
                int ok = v != NULL && value_of(v, &values[k]);
                Py_XDECREF(v);
                if (!ok) {
                    Py_DECREF(flat);
                    return NULL;
                }
            }
            if (!imd_header_set_tag(&error, header, s, index, values)) {
                Py_DECREF(flat);
                return raise_imd(error);
            }
        }
    }
    Py_DECREF(flat);
    Py_RETURN_NONE;
}

static PyObject *native_add_template(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *a, *b;
    int geometry;
    if (!PyArg_ParseTuple(args, "OOp", &a, &b, &geometry)) {
        return NULL;
    }
    Handle *h = as_handle(a), *source = h != NULL ? as_handle(b) : NULL;
    if (source == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    bool ok = geometry ? imd_series_add_geometry(&error, h->series, source->series)
                       : imd_series_add_template(&error, h->series, source->series);
    if (!ok) {
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

static PyObject *native_new_uid(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    char uid[65];
    ImdError *error = NULL;
    if (!imd_uid_generate(&error, uid)) {
        return raise_imd(error);
    }
    return PyUnicode_FromString(uid);
}

static PyObject *native_tag_ndim(PyObject *module, PyObject *object)
{
    (void)module;
    Handle *h = as_handle(object);
    return h != NULL ? PyLong_FromSize_t(imd_series_tag_ndim(h->series)) : NULL;
}

/*
 * refresh(handle): what a computed result gets (behaviour.md §1.6): a new
 * series UID, no SOPInstanceUIDs, no window.
 */
static PyObject *native_refresh(PyObject *module, PyObject *object)
{
    (void)module;
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdHeader *header = imd_series_header(h->series);
    ImdError *error = NULL;
    char uid[65];
    if (!imd_uid_generate(&error, uid) ||
        !imd_header_set_string(&error, header, "SeriesInstanceUID", uid)) {
        return raise_imd(error);
    }
    imd_header_clear_window(header);
    size_t slices = imd_header_tag_slices(header), ndim = imd_header_tag_ndim(header);
    size_t cells = 1, shape[IMD_MAX_TAG_DIMS];
    for (size_t d = 0; d < ndim; d++) {
        shape[d] = imd_header_tag_shape(header, d);
        cells *= shape[d];
    }
    for (size_t s = 0; s < slices; s++) {
        for (size_t c = 0; c < cells; c++) {
            size_t index[IMD_MAX_TAG_DIMS] = {0}, rest = c;
            for (size_t d = ndim; d-- > 0;) {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            if (imd_header_instance_uid(header, s, index) != NULL &&
                !imd_header_set_instance_uid(&error, header, s, index, NULL)) {
                return raise_imd(error);
            }
        }
    }
    Py_RETURN_NONE;
}

/* ---- Python bytes and file objects: the "imdpy" transport ------------------
 *
 * Series(io.BytesIO(...)) and series.write(file_object) go through the
 * library's transport interface (docs/plugin-abi.md), as any URL does: the
 * Python side puts the bytes into this store under a bucket of its own and
 * reads "imdpy://<bucket>/<name>"; a write to "imdpy://<bucket>/<name>"
 * leaves the objects the format made here, and Python takes them out. The
 * transport is registered by loading this extension file itself as a plugin
 * (imd_context_load_plugin on the path dladdr gives), so the pipeline needs
 * no special case.
 *
 * Read objects borrow the caller's buffer (a Py_buffer held until
 * store_take), so a read makes no copy of its input: the DICOM parser
 * copies what it keeps, and series own their voxels.
 */

typedef struct StoreObject {
    char *bucket, *name;
    Py_buffer view; /* read objects: the caller's bytes */
    int has_view;
    void *data;     /* written objects: owned (imd_free) */
    size_t size;
    struct StoreObject *next;
} StoreObject;

static StoreObject *g_store;
static char g_no_objects[512]; /* why the imdpy transport is not registered ("" when it is) */
static pthread_mutex_t g_store_lock = PTHREAD_MUTEX_INITIALIZER;

static char *text_copy(const char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (copy != NULL) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

/* Unlink an object (lock held); the caller frees it. */
static StoreObject *store_unlink(const char *bucket, const char *name)
{
    for (StoreObject **at = &g_store; *at != NULL; at = &(*at)->next) {
        if (strcmp((*at)->bucket, bucket) == 0 && strcmp((*at)->name, name) == 0) {
            StoreObject *found = *at;
            *at = found->next;
            return found;
        }
    }
    return NULL;
}

/* Free an object; one holding a Py_buffer only with the GIL held. */
static void store_free(StoreObject *o)
{
    if (o == NULL) {
        return;
    }
    if (o->has_view) {
        PyBuffer_Release(&o->view);
    }
    imd_free(o->data);
    free(o->bucket);
    free(o->name);
    free(o);
}

static bool store_has(const char *bucket, const char *name, bool *folder)
{
    size_t length = strlen(name);
    bool object = false;
    *folder = false;
    pthread_mutex_lock(&g_store_lock);
    for (StoreObject *o = g_store; o != NULL; o = o->next) {
        if (strcmp(o->bucket, bucket) != 0) {
            continue;
        }
        object = object || (length > 0 && strcmp(o->name, name) == 0);
        *folder = *folder || length == 0 ||
                  (strncmp(o->name, name, length) == 0 && o->name[length] == '/');
    }
    pthread_mutex_unlock(&g_store_lock);
    return object;
}

typedef struct PyTransport {
    ImdTransport base;
    char *bucket;
    char *root; /* "" or "a/b" */
    ImdMode mode;
} PyTransport;

static char *joined(const char *root, const char *name)
{
    size_t r = strlen(root), n = strlen(name);
    char *full = malloc(r + n + 2);
    if (full != NULL) {
        (void)snprintf(full, r + n + 2, "%s%s%s", root, r > 0 ? "/" : "", name);
    }
    return full;
}

static int compare_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool py_list(ImdError **error, ImdTransport *base, ImdVisitFn *visit, void *user)
{
    PyTransport *t = (PyTransport *)base;
    if (t->base.object != NULL) {
        (void)visit(user, t->base.object);
        return true;
    }
    size_t r = strlen(t->root), count = 0;
    char **names = NULL;
    bool ok = true;
    pthread_mutex_lock(&g_store_lock);
    for (StoreObject *o = g_store; o != NULL && ok; o = o->next) {
        if (strcmp(o->bucket, t->bucket) != 0 ||
            (r > 0 && (strncmp(o->name, t->root, r) != 0 || o->name[r] != '/'))) {
            continue;
        }
        char **grown = realloc(names, (count + 1) * sizeof *names);
        const char *relative = o->name + (r > 0 ? r + 1 : 0);
        ok = grown != NULL && (grown[count] = text_copy(relative, strlen(relative))) != NULL;
        names = grown != NULL ? grown : names;
        count += ok;
    }
    pthread_mutex_unlock(&g_store_lock);
    if (ok) {
        qsort(names, count, sizeof *names, compare_text);
        for (size_t i = 0; i < count && visit(user, names[i]) == 0; i++) {
        }
    } else {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", t->base.name);
    }
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
    return ok;
}

static ImdStream *py_open_read(ImdError **error, ImdTransport *base, const char *name)
{
    PyTransport *t = (PyTransport *)base;
    char *full = joined(t->root, name);
    const void *data = NULL;
    size_t size = 0;
    bool found = false;
    pthread_mutex_lock(&g_store_lock);
    for (StoreObject *o = g_store; full != NULL && o != NULL; o = o->next) {
        if (strcmp(o->bucket, t->bucket) == 0 && strcmp(o->name, full) == 0) {
            found = true;
            data = o->has_view ? o->view.buf : o->data;
            size = o->has_view ? (size_t)o->view.len : o->size;
            break;
        }
    }
    pthread_mutex_unlock(&g_store_lock);
    ImdStream *stream = NULL;
    if (!found) {
        imd_error_set(error, full == NULL ? IMD_ERR_NOMEM : IMD_ERR_NOT_FOUND, "%s/%s: %s",
                      t->base.name, name, full == NULL ? "out of memory" : "no such object");
    } else {
        /* Borrowed: the object stays until Python drops the bucket, after the read. */
        stream = imd_stream_open_memory(error, size > 0 ? data : "", size, full, NULL, NULL);
    }
    free(full);
    return stream;
}

/* A stream being written: a buffer stream whose bytes become an object on close. */
typedef struct PyWriter {
    ImdStream base;
    ImdStream *buffer;
    char *bucket, *full;
} PyWriter;

static void writer_free(PyWriter *w)
{
    free(w->bucket);
    free(w->full);
    free(w->base.name);
    free(w);
}

static int64_t writer_write(ImdError **error, ImdStream *stream, const void *data, size_t length)
{
    PyWriter *w = (PyWriter *)stream;
    return imd_stream_write(error, w->buffer, data, length) ? (int64_t)length : -1;
}

static bool writer_close(ImdError **error, ImdStream *stream)
{
    PyWriter *w = (PyWriter *)stream;
    size_t size = 0;
    void *data = imd_stream_buffer_take(w->buffer, &size);
    imd_stream_abort(w->buffer);
    StoreObject *o = calloc(1, sizeof *o);
    if ((data == NULL && size > 0) || o == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", w->base.name);
        imd_free(data);
        free(o);
        writer_free(w);
        return false;
    }
    o->bucket = w->bucket;
    o->name = w->full;
    o->data = data;
    o->size = size;
    w->bucket = w->full = NULL;
    pthread_mutex_lock(&g_store_lock);
    StoreObject *old = store_unlink(o->bucket, o->name);
    o->next = g_store;
    g_store = o;
    pthread_mutex_unlock(&g_store_lock);
    if (old != NULL) { /* replaced: written objects hold no Py_buffer */
        store_free(old);
    }
    writer_free(w);
    return true;
}

static void writer_abort(ImdStream *stream)
{
    PyWriter *w = (PyWriter *)stream;
    imd_stream_abort(w->buffer);
    writer_free(w);
}

static const ImdStreamMethods writer_methods = {
    NULL, writer_write, NULL, NULL, writer_close, writer_abort,
};

static ImdStream *py_create(ImdError **error, ImdTransport *base, const char *name)
{
    PyTransport *t = (PyTransport *)base;
    if (t->mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: opened for reading", t->base.name);
        return NULL;
    }
    PyWriter *w = calloc(1, sizeof *w);
    if (w != NULL) {
        w->base.methods = &writer_methods;
        w->full = joined(t->root, name);
        w->bucket = text_copy(t->bucket, strlen(t->bucket));
        w->base.name = w->full != NULL ? text_copy(w->full, strlen(w->full)) : NULL;
    }
    if (w == NULL || w->base.name == NULL || w->bucket == NULL) {
        if (w != NULL) {
            writer_free(w);
        }
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", t->base.name);
        return NULL;
    }
    if ((w->buffer = imd_stream_open_buffer(error, w->full)) == NULL) {
        writer_free(w);
        return NULL;
    }
    return &w->base;
}

static void transport_free(PyTransport *t)
{
    free(t->bucket);
    free(t->root);
    free(t->base.object);
    free(t->base.name);
    free(t);
}

static bool py_close(ImdError **error, ImdTransport *base)
{
    (void)error;
    transport_free((PyTransport *)base);
    return true;
}

/* A failed write: Python drops the whole bucket (store_take is never reached). */
static void py_abort(ImdTransport *base)
{
    transport_free((PyTransport *)base);
}

static const ImdTransportMethods py_methods = {
    py_list, py_open_read, py_create, NULL, NULL, py_close, py_abort,
};

static ImdTransport *py_open(ImdError **error, const ImdUrl *url, ImdMode mode,
                             const ImdOptions *options)
{
    (void)options;
    const char *path = url->path;
    while (*path == '/') {
        path++;
    }
    size_t length = strlen(path);
    while (length > 0 && path[length - 1] == '/') {
        length--;
    }
    PyTransport *t = calloc(1, sizeof *t);
    char *clean = text_copy(path, length);
    size_t name_length = strlen(url->host) + length + 10;
    if (t != NULL && clean != NULL) {
        t->base.methods = &py_methods;
        t->mode = mode;
        t->bucket = text_copy(url->host, strlen(url->host));
        t->base.name = malloc(name_length);
    }
    if (t == NULL || clean == NULL || t->bucket == NULL || t->base.name == NULL) {
        free(clean);
        if (t != NULL) {
            transport_free(t);
        }
        imd_error_set(error, IMD_ERR_NOMEM, "imdpy://%s: out of memory", url->host);
        return NULL;
    }
    (void)snprintf(t->base.name, name_length, "imdpy://%s/%s", url->host, clean);
    bool folder;
    bool object = store_has(t->bucket, clean, &folder);
    bool ok = true;
    if (mode == IMD_MODE_READ && !object && !folder) {
        imd_error_set(error, IMD_ERR_NOT_FOUND, "%s: no such object", t->base.name);
        ok = false;
    } else if (object || (!folder && clean[0] != '\0')) {
        /* One object: its folder is the root (a new path is an object of its parent). */
        const char *slash = strrchr(clean, '/');
        t->root = slash != NULL ? text_copy(clean, (size_t)(slash - clean)) : text_copy("", 0);
        t->base.object = text_copy(slash != NULL ? slash + 1 : clean,
                                   strlen(slash != NULL ? slash + 1 : clean));
        ok = t->root != NULL && t->base.object != NULL;
    } else {
        ok = (t->root = text_copy(clean, length)) != NULL;
    }
    if (ok && t->root == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", t->base.name);
        ok = false;
    }
    free(clean);
    if (!ok) {
        transport_free(t);
        return NULL;
    }
    return &t->base;
}

static const char *const py_schemes[] = {"imdpy", NULL};

static const ImdTransportPlugin py_transport = {
    IMD_PLUGIN_ABI_VERSION, sizeof(ImdTransportPlugin), "python",
    "Python bytes and file objects (imagedata._native)", py_schemes, py_open,
};

static const ImdPluginRecord py_records[] = {{IMD_PLUGIN_TRANSPORT, &py_transport}};

static const ImdPluginManifest py_manifest = {
    IMD_PLUGIN_ABI_VERSION, sizeof(ImdPluginManifest), "imagedata._native", 1, py_records,
};

/* The plugin entry point: this extension registers its transport by loading itself. */
IMD_API const ImdPluginManifest *imd_plugin_manifest_v2(void);
IMD_API const ImdPluginManifest *imd_plugin_manifest_v2(void)
{
    return &py_manifest;
}

/* store_put(bucket, name, buffer): the bytes, borrowed until store_take(bucket). */
static PyObject *native_store_put(PyObject *module, PyObject *args)
{
    (void)module;
    const char *bucket, *name;
    PyObject *buffer;
    if (!PyArg_ParseTuple(args, "ssO", &bucket, &name, &buffer)) {
        return NULL;
    }
    if (g_no_objects[0] != '\0') {
        PyErr_Format(PyExc_NotImplementedError,
                     "imagedata: Python bytes and file objects are not available: %s",
                     g_no_objects);
        return NULL;
    }
    StoreObject *o = calloc(1, sizeof *o);
    if (o == NULL) {
        return PyErr_NoMemory();
    }
    if (PyObject_GetBuffer(buffer, &o->view, PyBUF_SIMPLE) < 0) {
        free(o);
        return NULL;
    }
    o->has_view = 1;
    o->bucket = text_copy(bucket, strlen(bucket));
    o->name = text_copy(name, strlen(name));
    if (o->bucket == NULL || o->name == NULL) {
        store_free(o);
        return PyErr_NoMemory();
    }
    pthread_mutex_lock(&g_store_lock);
    StoreObject *old = store_unlink(bucket, name);
    o->next = g_store;
    g_store = o;
    pthread_mutex_unlock(&g_store_lock);
    store_free(old);
    Py_RETURN_NONE;
}

/* objects_unavailable() -> None, or why Python bytes and file objects cannot be used. */
static PyObject *native_objects_unavailable(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    if (g_no_objects[0] == '\0') {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(g_no_objects);
}

/* store_take(bucket) -> [(name, bytes)] sorted by name; the bucket is emptied. */
static PyObject *native_store_take(PyObject *module, PyObject *args)
{
    (void)module;
    const char *bucket;
    if (!PyArg_ParseTuple(args, "s", &bucket)) {
        return NULL;
    }
    StoreObject *taken = NULL;
    pthread_mutex_lock(&g_store_lock);
    for (StoreObject **at = &g_store; *at != NULL;) {
        if (strcmp((*at)->bucket, bucket) == 0) {
            StoreObject *o = *at;
            *at = o->next;
            o->next = taken;
            taken = o;
        } else {
            at = &(*at)->next;
        }
    }
    pthread_mutex_unlock(&g_store_lock);
    PyObject *list = PyList_New(0);
    while (taken != NULL) {
        StoreObject *o = taken;
        taken = o->next;
        if (list != NULL) {
            const void *data = o->has_view ? o->view.buf : o->data;
            size_t size = o->has_view ? (size_t)o->view.len : o->size;
            PyObject *pair = Py_BuildValue("(sy#)", o->name, size > 0 ? data : "",
                                           (Py_ssize_t)size);
            if (pair == NULL || PyList_Append(list, pair) < 0) {
                Py_CLEAR(list);
            }
            Py_XDECREF(pair);
        }
        store_free(o);
    }
    if (list != NULL && PyList_Sort(list) < 0) {
        Py_CLEAR(list);
    }
    return list;
}

/* ---- header state for pickling -------------------------------------------- */

/* The template's operations for a DICOM data set restored from bytes (dicom.h only). */
static void *dataset_clone(const void *dataset)
{
    return imd_dicom_dataset_clone(NULL, dataset);
}

static void dataset_destroy(void *dataset)
{
    imd_dicom_dataset_destroy(dataset);
}

static bool dataset_get_string(ImdError **error, const void *dataset, const char *keyword,
                               char **value)
{
    *value = NULL;
    uint32_t tag;
    if (!imd_dicom_tag(keyword, &tag)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "template attribute: unknown DICOM keyword "
                      "\"%s\"", keyword);
        return false;
    }
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, tag);
    switch (e != NULL ? imd_dicom_element_vr(e) : IMD_VR_SQ) {
    case IMD_VR_AE: case IMD_VR_AS: case IMD_VR_CS: case IMD_VR_DA: case IMD_VR_DS:
    case IMD_VR_DT: case IMD_VR_IS: case IMD_VR_LO: case IMD_VR_LT: case IMD_VR_PN:
    case IMD_VR_SH: case IMD_VR_ST: case IMD_VR_TM: case IMD_VR_UC: case IMD_VR_UI:
    case IMD_VR_UR: case IMD_VR_UT:
        *value = imd_dicom_element_string(error, dataset, e);
        return *value != NULL;
    default:
        return true; /* absent, or not text */
    }
}

static const ImdTemplateOps g_dataset_ops = {dataset_clone, dataset_destroy, dataset_get_string};

/* A DICOM data set as bare explicit-VR bytes (the pickled form). */
static PyObject *dataset_bytes(const ImdDicomDataSet *dataset)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "pickle");
    ImdDicomWriteOptions options = {NULL, true};
    if (stream == NULL || !imd_dicom_write(&error, dataset, stream, &options)) {
        imd_stream_abort(stream);
        return raise_imd(error);
    }
    size_t size = 0;
    void *data = imd_stream_buffer_take(stream, &size);
    imd_stream_abort(stream);
    PyObject *bytes = PyBytes_FromStringAndSize(size > 0 ? data : "", (Py_ssize_t)size);
    imd_free(data);
    return bytes;
}

static ImdDicomDataSet *dataset_from(PyObject *bytes)
{
    char *data;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(bytes, &data, &size) < 0) {
        return NULL;
    }
    ImdError *error = NULL;
    ImdDicomDataSet *dataset = imd_dicom_read_memory(&error, data, (size_t)size, "pickle", NULL);
    if (dataset == NULL) {
        raise_imd(error);
    }
    return dataset;
}

/* Tag cells of the header in C order (slice-major), each with its index. */
static size_t cell_count(const ImdHeader *header, size_t shape[IMD_MAX_TAG_DIMS], size_t *ndim)
{
    *ndim = imd_header_tag_ndim(header);
    size_t cells = 1;
    for (size_t d = 0; d < *ndim; d++) {
        shape[d] = imd_header_tag_shape(header, d);
        cells *= shape[d];
    }
    return cells;
}

static void cell_index(size_t c, size_t ndim, const size_t *shape, size_t *index)
{
    for (size_t d = ndim; d-- > 0;) {
        index[d] = c % shape[d];
        c /= shape[d];
    }
}

/*
 * dicom_state(handle) -> (template bytes|None, [(slice, cell, uid|None, bytes|None)]):
 * what the JSON description does not carry: the DICOM template, and per
 * image its SOPInstanceUID and its own data set.
 */
static PyObject *native_dicom_state(PyObject *module, PyObject *object)
{
    (void)module;
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    const ImdHeader *header = imd_series_const_header(h->series);
    const void *template = imd_header_template(header);
    PyObject *first = template != NULL ? dataset_bytes(template) : Py_NewRef(Py_None);
    PyObject *cells = PyList_New(0);
    size_t shape[IMD_MAX_TAG_DIMS], ndim, per_slice = cell_count(header, shape, &ndim);
    size_t slices = imd_header_tag_slices(header);
    for (size_t s = 0; first != NULL && cells != NULL && s < slices; s++) {
        for (size_t c = 0; c < per_slice; c++) {
            size_t index[IMD_MAX_TAG_DIMS] = {0};
            cell_index(c, ndim, shape, index);
            const char *uid = imd_header_instance_uid(header, s, index);
            const void *own = template != NULL ? imd_header_instance_dataset(header, s, index)
                                               : NULL;
            if (uid == NULL && own == NULL) {
                continue;
            }
            PyObject *bytes = own != NULL ? dataset_bytes(own) : Py_NewRef(Py_None);
            PyObject *item = bytes != NULL ? Py_BuildValue("(nnzN)", (Py_ssize_t)s,
                                                           (Py_ssize_t)c, uid, bytes)
                                           : NULL;
            if (item == NULL || PyList_Append(cells, item) < 0) {
                Py_XDECREF(item);
                Py_CLEAR(cells);
                break;
            }
            Py_DECREF(item);
        }
    }
    if (first == NULL || cells == NULL) {
        Py_XDECREF(first);
        Py_XDECREF(cells);
        return NULL;
    }
    return Py_BuildValue("(NN)", first, cells);
}

/* set_dicom_state(handle, state): after the tags are set (a new tag shape resets cells). */
static PyObject *native_set_dicom_state(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *template, *cells;
    if (!PyArg_ParseTuple(args, "OOO", &object, &template, &cells)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdHeader *header = imd_series_header(h->series);
    ImdError *error = NULL;
    if (template != Py_None) {
        ImdDicomDataSet *dataset = dataset_from(template);
        if (dataset == NULL) {
            return NULL;
        }
        if (!imd_header_set_template(&error, header, dataset, &g_dataset_ops)) {
            imd_dicom_dataset_destroy(dataset);
            return raise_imd(error);
        }
    }
    PyObject *t = PySequence_Tuple(cells);
    if (t == NULL) {
        return NULL;
    }
    size_t shape[IMD_MAX_TAG_DIMS], ndim, per_slice = cell_count(header, shape, &ndim);
    size_t slices = imd_header_tag_slices(header);
    for (Py_ssize_t i = 0; i < PyTuple_Size(t); i++) {
        Py_ssize_t s, c;
        const char *uid;
        PyObject *bytes;
        if (!PyArg_ParseTuple(PyTuple_GetItem(t, i), "nnzO", &s, &c, &uid, &bytes)) {
            Py_DECREF(t);
            return NULL;
        }
        if (s < 0 || c < 0 || (size_t)s >= slices || (size_t)c >= per_slice) {
            Py_DECREF(t);
            PyErr_SetString(PyExc_ValueError, "imagedata: a pickled cell outside the tags");
            return NULL;
        }
        size_t index[IMD_MAX_TAG_DIMS] = {0};
        cell_index((size_t)c, ndim, shape, index);
        if (uid != NULL && !imd_header_set_instance_uid(&error, header, (size_t)s, index, uid)) {
            Py_DECREF(t);
            return raise_imd(error);
        }
        if (bytes != Py_None && imd_header_template(header) != NULL) {
            ImdDicomDataSet *own = dataset_from(bytes);
            if (own == NULL) {
                Py_DECREF(t);
                return NULL;
            }
            if (!imd_header_set_instance_dataset(&error, header, (size_t)s, index, own)) {
                imd_dicom_dataset_destroy(own);
                Py_DECREF(t);
                return raise_imd(error);
            }
        }
    }
    Py_DECREF(t);
    Py_RETURN_NONE;
}

/* set_instance_uid(handle, slice, cell, uid|None) (cell: C-order index over the tag dims). */
static PyObject *native_set_instance_uid(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    Py_ssize_t s, c;
    const char *uid;
    if (!PyArg_ParseTuple(args, "Onnz", &object, &s, &c, &uid)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdHeader *header = imd_series_header(h->series);
    size_t shape[IMD_MAX_TAG_DIMS], ndim, per_slice = cell_count(header, shape, &ndim);
    if (s < 0 || c < 0 || (size_t)s >= imd_header_tag_slices(header) || (size_t)c >= per_slice) {
        PyErr_SetString(PyExc_IndexError, "imagedata: no such image (slice, tag)");
        return NULL;
    }
    size_t index[IMD_MAX_TAG_DIMS] = {0};
    cell_index((size_t)c, ndim, shape, index);
    ImdError *error = NULL;
    if (!imd_header_set_instance_uid(&error, header, (size_t)s, index, uid)) {
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

/* tag_layout(handle) -> (slices, shape, components) of the tag store. */
static PyObject *native_tag_layout(PyObject *module, PyObject *object)
{
    (void)module;
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    const ImdHeader *header = imd_series_const_header(h->series);
    size_t ndim = imd_header_tag_ndim(header);
    PyObject *shape = PyTuple_New((Py_ssize_t)ndim);
    for (size_t d = 0; shape != NULL && d < ndim; d++) {
        PyTuple_SetItem(shape, (Py_ssize_t)d, PyLong_FromSize_t(imd_header_tag_shape(header, d)));
    }
    if (shape == NULL) {
        return NULL;
    }
    return Py_BuildValue("(nNn)", (Py_ssize_t)imd_header_tag_slices(header), shape,
                         (Py_ssize_t)imd_header_tag_components(header));
}

/* geometry_defined(handle[, value]) -> bool */
static PyObject *native_geometry_defined(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    int value = -1;
    if (!PyArg_ParseTuple(args, "O|p", &object, &value)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    if (value >= 0) {
        imd_header_set_geometry_defined(imd_series_header(h->series), value != 0);
    }
    return PyBool_FromLong(imd_header_geometry_defined(imd_series_const_header(h->series)));
}

/*
 * resample(handle with voxels, grid handle, method) -> a new handle owning the
 * voxels put onto grid's voxel grid (imd_series_resample; the GIL released).
 */
static PyObject *native_resample(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object, *grid_object;
    int method;
    if (!PyArg_ParseTuple(args, "OOi", &object, &grid_object, &method)) {
        return NULL;
    }
    Handle *h = as_handle(object), *grid = h != NULL ? as_handle(grid_object) : NULL;
    if (grid == NULL) {
        return NULL;
    }
    if (!h->data_valid) {
        PyErr_SetString(PyExc_ValueError, "imagedata: resample needs a handle with voxels");
        return NULL;
    }
    ImdError *error = NULL;
    ImdSeries *copy = imd_series_clone(&error, h->series);
    if (copy == NULL) {
        return raise_imd(error);
    }
    bool ok;
    Py_INCREF(object);
    Py_INCREF(grid_object);
    g_busy++;
    Py_BEGIN_ALLOW_THREADS
    ok = imd_series_resample(&error, copy, grid->series, (ImdInterpolation)method);
    Py_END_ALLOW_THREADS
    g_busy--;
    Py_DECREF(grid_object);
    Py_DECREF(object);
    if (!ok) {
        imd_series_destroy(copy);
        return raise_imd(error);
    }
    return handle_new(copy, 1);
}

/* keyword_of(tag) -> the DICOM keyword of (group << 16 | element), or None. */
static PyObject *native_keyword_of(PyObject *module, PyObject *args)
{
    (void)module;
    unsigned long tag;
    if (!PyArg_ParseTuple(args, "k", &tag)) {
        return NULL;
    }
    const char *keyword = tag <= 0xffffffffUL ? imd_dicom_keyword((uint32_t)tag) : NULL;
    if (keyword == NULL || keyword[0] == '\0') {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(keyword);
}

/*
 * set_cell_attribute(handle, slice, cell, keyword, text): the attribute in one
 * image's own data set (applied over the template on a DICOM write), for
 * setDicomAttribute(..., slice=, tag=). Needs a DICOM template (a series read
 * from DICOM, or given one with template=). Binary numeric VRs take numbers
 * separated by '\\'.
 */
static PyObject *native_set_cell_attribute(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    Py_ssize_t s, c;
    const char *keyword, *text;
    if (!PyArg_ParseTuple(args, "Onnss", &object, &s, &c, &keyword, &text)) {
        return NULL;
    }
    Handle *h = as_handle(object);
    if (h == NULL) {
        return NULL;
    }
    ImdHeader *header = imd_series_header(h->series);
    if (imd_header_template(header) == NULL) {
        PyErr_SetString(PyExc_NotImplementedError,
                        "imagedata: setDicomAttribute per slice or tag needs a DICOM template "
                        "(a series read from DICOM, or template=)");
        return NULL;
    }
    size_t shape[IMD_MAX_TAG_DIMS], ndim, per_slice = cell_count(header, shape, &ndim);
    if (s < 0 || c < 0 || (size_t)s >= imd_header_tag_slices(header) || (size_t)c >= per_slice) {
        PyErr_SetString(PyExc_IndexError, "imagedata: no such image (slice, tag)");
        return NULL;
    }
    uint32_t tag;
    if (!imd_dicom_tag(keyword, &tag)) {
        PyErr_Format(PyExc_ValueError, "imagedata: \"%s\" is not a DICOM keyword", keyword);
        return NULL;
    }
    size_t index[IMD_MAX_TAG_DIMS] = {0};
    cell_index((size_t)c, ndim, shape, index);
    ImdError *error = NULL;
    const void *own = imd_header_instance_dataset(header, (size_t)s, index);
    ImdDicomDataSet *next = own != NULL ? imd_dicom_dataset_clone(&error, own)
                                        : imd_dicom_dataset_create(&error);
    if (next == NULL) {
        return raise_imd(error);
    }
    ImdVR vr = imd_dicom_dictionary_vr(tag);
    bool ok;
    switch (vr) {
    case IMD_VR_US: case IMD_VR_SS: case IMD_VR_UL: case IMD_VR_SL: case IMD_VR_FL:
    case IMD_VR_FD: case IMD_VR_SV: case IMD_VR_UV: {
        double numbers[64];
        size_t count = 0;
        const char *p = text;
        while (*p != '\0' && count < 64) {
            char *end;
            numbers[count++] = strtod(p, &end);
            if (end == p || (*end != '\0' && *end != '\\')) {
                imd_dicom_dataset_destroy(next);
                PyErr_Format(PyExc_ValueError, "imagedata: %s takes numbers, not \"%s\"",
                             keyword, text);
                return NULL;
            }
            p = *end == '\\' ? end + 1 : end;
        }
        ok = imd_dicom_dataset_set_numbers(&error, next, tag, vr, numbers, count);
        break;
    }
    default:
        ok = imd_dicom_dataset_set_string(&error, next, tag, vr, text);
        break;
    }
    if (!ok || !imd_header_set_instance_dataset(&error, header, (size_t)s, index, next)) {
        imd_dicom_dataset_destroy(next);
        return raise_imd(error);
    }
    Py_RETURN_NONE;
}

/* ---- convert: inputs to an output folder in one call (the batch task) ---- */

/*
 * convert(...) is what one task of imagedata.batch runs (docs/batch.md): read
 * the inputs with imd_read_each and write each series as soon as it is read,
 * all in C with the GIL released, with image_data's layout and naming
 * (cli/image_data.c, docs/cli.md "image_data"): one series goes to OUTPUT
 * itself, several each to OUTPUT/<--name pattern>, a split series gets
 * _<label>, a name used twice a trailing 0, OUTPUT.nii[.gz] with several
 * series is the folder OUTPUT. The batch test compares our outputs with
 * image_data's, file by file. The code is the CLI's rules written again here
 * (the binding may not call into cli/), so the two must change together.
 *
 * Each call has its own context: the worker's thread count and memory limit,
 * its own log (warnings are returned, never printed), and a cancel flag that
 * cancel_converts() raises from another thread.
 */

typedef struct ConvertWritten {
    char *url;
    size_t ndim, shape[IMD_MAX_DIMS];
    char *order;
} ConvertWritten;

typedef struct ConvertFailure {
    long code;
    char *message;
    char *url; /* NULL when the series could not be read */
} ConvertFailure;

typedef struct Convert {
    ImdContext *context;
    ImdOptions *options;          /* the library's: read and write */
    const ImdOptions *attributes; /* sernum, serdes, imagetype, frame, SOPClassUID */
    const char *output;
    char *folder; /* OUTPUT without .nii/.nii.gz when several series go there */
    const char *const *formats;
    size_t format_count;
    const char *pattern;
    bool has_dtype, force_several;
    ImdDType dtype;
    ImdSeries *first;
    size_t seen;
    char **used;
    size_t used_count, used_capacity;
    ConvertWritten *written;
    size_t written_count, written_capacity;
    ConvertFailure *failed;
    size_t failed_count, failed_capacity;
    bool out_of_memory;
    /* The log may be called from the read's threads. */
    pthread_mutex_t log_lock;
    char *warnings[64]; /* the first 64; the count says how many there were */
    size_t warning_count, skipped;
} Convert;


static pthread_mutex_t g_convert_lock = PTHREAD_MUTEX_INITIALIZER;
static ImdContext *g_converting[256]; /* contexts of the converts running now */

static void convert_log(void *user, ImdLogLevel level, const char *message)
{
    Convert *c = user;
    if (level != IMD_LOG_WARNING && level != IMD_LOG_SKIPPED) {
        return;
    }
    pthread_mutex_lock(&c->log_lock);
    if (c->warning_count < sizeof c->warnings / sizeof c->warnings[0]) {
        c->warnings[c->warning_count] = strdup(message); /* NULL: left out of the list */
    }
    c->warning_count++;
    c->skipped += level == IMD_LOG_SKIPPED;
    pthread_mutex_unlock(&c->log_lock);
}

static bool grow(void **items, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity) {
        return true;
    }
    size_t more = *capacity > 0 ? 2 * *capacity : 8;
    void *grown = realloc(*items, more * size);
    if (grown == NULL) {
        return false;
    }
    *items = grown;
    *capacity = more;
    return true;
}

static void convert_failure(Convert *c, ImdError **error, const char *url)
{
    if (!grow((void **)&c->failed, &c->failed_capacity, c->failed_count, sizeof *c->failed)) {
        c->out_of_memory = true;
        imd_error_clear(error);
        return;
    }
    ConvertFailure *f = &c->failed[c->failed_count++];
    f->code = (long)imd_error_code(*error);
    f->message = strdup(imd_error_message(*error));
    f->url = url != NULL ? strdup(url) : NULL;
    imd_error_clear(error);
}

/* Several series into OUTPUT.nii or OUTPUT.nii.gz: the folder OUTPUT of .nii or .nii.gz files. */
static bool convert_prepare_several(ImdError **error, Convert *c)
{
    size_t length = strlen(c->output);
    bool nii = length > 4 && strcmp(c->output + length - 4, ".nii") == 0;
    bool nii_gz = length > 7 && strcmp(c->output + length - 7, ".nii.gz") == 0;
    if (!nii && !nii_gz) {
        return true;
    }
    c->folder = strndup(c->output, length - (nii ? 4 : 7));
    if (c->folder == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
        return false;
    }
    c->output = c->folder;
    return !nii || imd_options_set(error, c->options, "gzip", "false");
}

/* Write one series in every format (and destroy it); a failure is recorded, not fatal. */
static void convert_write(Convert *c, ImdSeries *series, bool several)
{
    ImdError *error = NULL;
    char *url = several ? imd_series_output_name(series, c->output, c->pattern,
                                                 (const char *const *)c->used, c->used_count)
                       : strdup(c->output);
    ImdSeries *converted = NULL;
    bool ok = url != NULL;
    if (!ok) {
        imd_error_set(&error, IMD_ERR_NOMEM, "out of memory");
    }
    if (ok && several) {
        ok = grow((void **)&c->used, &c->used_capacity, c->used_count, sizeof *c->used);
        if (ok) {
            c->used[c->used_count++] = strdup(url);
            ok = c->used[c->used_count - 1] != NULL;
        }
        if (!ok) {
            imd_error_set(&error, IMD_ERR_NOMEM, "out of memory");
        }
    }
    ok = ok && imd_series_set_labels(&error, series, c->attributes, NULL);
    if (ok && c->has_dtype) {
        converted = imd_series_convert(&error, series, c->dtype);
        ok = converted != NULL;
    }
    const ImdSeries *out = converted != NULL ? converted : series;
    size_t count = c->format_count > 0 ? c->format_count : 1;
    for (size_t i = 0; ok && i < count; i++) {
        ok = imd_write(&error, c->context, out, url, c->format_count > 0 ? c->formats[i] : "dicom",
                       c->options);
    }
    if (ok && grow((void **)&c->written, &c->written_capacity, c->written_count,
                   sizeof *c->written)) {
        ConvertWritten *w = &c->written[c->written_count++];
        w->url = url;
        url = NULL;
        w->ndim = imd_series_ndim(out);
        for (size_t d = 0; d < w->ndim && d < IMD_MAX_DIMS; d++) {
            w->shape[d] = imd_series_dim(out, d);
        }
        w->order = strdup(imd_header_input_order(imd_series_const_header(out)));
    } else if (ok) {
        c->out_of_memory = true;
    } else {
        convert_failure(c, &error, url);
    }
    free(url);
    imd_series_destroy(converted);
    imd_series_destroy(series);
}

/* imd_read_each's consumer: the first series is held until a second shows there are several. */
static bool convert_consume(ImdError **error, void *user, ImdSeries *series)
{
    Convert *c = user;
    if (++c->seen == 1 && !c->force_several) {
        c->first = series;
        return true;
    }
    if (c->seen == 1 || c->seen == 2) {
        if (!convert_prepare_several(error, c)) {
            imd_series_destroy(series);
            return false;
        }
    }
    if (c->first != NULL) {
        ImdSeries *first = c->first;
        c->first = NULL;
        convert_write(c, first, true);
    }
    convert_write(c, series, true);
    return true;
}

static void convert_free(Convert *c)
{
    imd_series_destroy(c->first);
    for (size_t i = 0; i < c->used_count; i++) {
        free(c->used[i]);
    }
    free(c->used);
    for (size_t i = 0; i < c->written_count; i++) {
        free(c->written[i].url);
        free(c->written[i].order);
    }
    free(c->written);
    for (size_t i = 0; i < c->failed_count; i++) {
        free(c->failed[i].message);
        free(c->failed[i].url);
    }
    free(c->failed);
    for (size_t i = 0; i < c->warning_count && i < sizeof c->warnings / sizeof c->warnings[0];
         i++) {
        free(c->warnings[i]);
    }
    free(c->folder);
    pthread_mutex_destroy(&c->log_lock);
}

/* Keep `context` among the running converts (false: too many at once). */
static bool convert_register(ImdContext *context, bool add)
{
    bool done = false;
    pthread_mutex_lock(&g_convert_lock);
    for (size_t i = 0; !done && i < sizeof g_converting / sizeof g_converting[0]; i++) {
        if (g_converting[i] == (add ? NULL : context)) {
            g_converting[i] = add ? context : NULL;
            done = true;
        }
    }
    pthread_mutex_unlock(&g_convert_lock);
    return done;
}

static PyObject *convert_result(const Convert *c)
{
    PyObject *written = PyList_New(0), *failed = PyList_New(0), *warnings = PyList_New(0);
    bool ok = written != NULL && failed != NULL && warnings != NULL;
    for (size_t i = 0; ok && i < c->written_count; i++) {
        const ConvertWritten *w = &c->written[i];
        PyObject *shape = PyTuple_New((Py_ssize_t)w->ndim);
        for (size_t d = 0; shape != NULL && d < w->ndim; d++) {
            PyTuple_SetItem(shape, (Py_ssize_t)d, PyLong_FromSize_t(w->shape[d]));
        }
        PyObject *row = shape != NULL ? Py_BuildValue("(sNs)", w->url, shape,
                                                      w->order != NULL ? w->order : "")
                                      : NULL;
        ok = row != NULL && PyList_Append(written, row) == 0;
        Py_XDECREF(row);
    }
    for (size_t i = 0; ok && i < c->failed_count; i++) {
        const ConvertFailure *f = &c->failed[i];
        PyObject *row = Py_BuildValue("(lsz)", f->code,
                                      f->message != NULL ? f->message : "out of memory", f->url);
        ok = row != NULL && PyList_Append(failed, row) == 0;
        Py_XDECREF(row);
    }
    for (size_t i = 0; ok && i < c->warning_count && i < sizeof c->warnings / sizeof c->warnings[0];
         i++) {
        PyObject *text = PyUnicode_FromString(c->warnings[i] != NULL ? c->warnings[i] : "");
        ok = text != NULL && PyList_Append(warnings, text) == 0;
        Py_XDECREF(text);
    }
    if (!ok) {
        Py_XDECREF(written);
        Py_XDECREF(failed);
        Py_XDECREF(warnings);
        return NULL;
    }
    return Py_BuildValue("{sNsNsNsnsn}", "written", written, "failed", failed, "warnings",
                         warnings, "warning_count", (Py_ssize_t)c->warning_count, "skipped",
                         (Py_ssize_t)c->skipped);
}

/* A list of str as a NULL-free C array borrowed from `tuple` (kept alive by the caller). */
static const char **texts_of(PyObject *tuple, size_t *count)
{
    Py_ssize_t n = PyTuple_Size(tuple);
    const char **texts = calloc(n > 0 ? (size_t)n : 1, sizeof *texts);
    if (texts == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        texts[i] = PyUnicode_AsUTF8AndSize(PyTuple_GetItem(tuple, i), NULL);
        if (texts[i] == NULL) {
            free(texts);
            return NULL;
        }
    }
    *count = (size_t)n;
    return texts;
}

static PyObject *native_convert(PyObject *module, PyObject *args, PyObject *kwargs)
{
    (void)module;
    static char *keywords[] = {"inputs", "output", "formats", "options", "attributes", "name",
                               "dtype", "several", "threads", "memory_limit", "plugins", NULL};
    PyObject *input_list, *format_list = Py_None, *pairs = Py_None, *attribute_pairs = Py_None;
    PyObject *plugin_list = Py_None;
    const char *output, *name = NULL, *dtype = NULL;
    int several = 0;
    unsigned int threads = 1;
    unsigned long long memory_limit = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "Os|OOOzzpIKO", keywords, &input_list,
                                     &output, &format_list, &pairs, &attribute_pairs, &name,
                                     &dtype, &several, &threads, &memory_limit, &plugin_list)) {
        return NULL;
    }
    PyObject *inputs = PySequence_Tuple(input_list);
    PyObject *formats = format_list != Py_None ? PySequence_Tuple(format_list) : PyTuple_New(0);
    PyObject *plugins = plugin_list != Py_None ? PySequence_Tuple(plugin_list) : PyTuple_New(0);
    Convert c = {.output = output, .pattern = name != NULL ? name : IMD_SERIES_NAME_DEFAULT,
                 .force_several = several != 0};
    pthread_mutex_init(&c.log_lock, NULL);
    size_t input_count = 0, plugin_count = 0;
    const char **input_texts = NULL, **plugin_texts = NULL;
    ImdOptions *attributes = NULL;
    PyObject *result = NULL;
    ImdError *error = NULL;
    ImdSeriesList *failures = NULL;
    bool ok = true, registered = false;
    if (inputs == NULL || formats == NULL || plugins == NULL ||
        (input_texts = texts_of(inputs, &input_count)) == NULL ||
        (c.formats = texts_of(formats, &c.format_count)) == NULL ||
        (plugin_texts = texts_of(plugins, &plugin_count)) == NULL ||
        (c.options = options_from(pairs)) == NULL ||
        (attributes = options_from(attribute_pairs)) == NULL) {
        goto done;
    }
    c.attributes = attributes;
    if (dtype != NULL) {
        if (!imd_dtype_from_name(dtype, &c.dtype)) {
            PyErr_Format(PyExc_ValueError, "imagedata: unknown dtype %s", dtype);
            goto done;
        }
        c.has_dtype = true;
    }
    if (input_count == 0) {
        PyErr_SetString(PyExc_ValueError, "imagedata: convert needs at least one input");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    c.context = imd_context_create(&error);
    ok = c.context != NULL;
    if (ok) {
        imd_context_set_log(c.context, convert_log, &c);
        imd_context_set_threads(c.context, threads);
        imd_context_set_memory_limit(c.context, memory_limit);
        /* As the CLIs: IMAGEDATA_PLUGINS first, then the ones named. */
        const char *listed = getenv("IMAGEDATA_PLUGINS");
        ok = listed == NULL || *listed == '\0' ||
             imd_context_load_plugin_list(&error, c.context, listed);
        for (size_t i = 0; ok && i < plugin_count; i++) {
            ok = imd_context_load_plugin(&error, c.context, plugin_texts[i]);
        }
    }
    if (ok) {
        registered = convert_register(c.context, true);
        failures = imd_read_each(&error, c.context, input_texts, input_count, c.options,
                                 convert_consume, &c);
        ok = failures != NULL;
    }
    if (ok && c.first != NULL) {
        ImdSeries *only = c.first;
        c.first = NULL;
        convert_write(&c, only, false);
    }
    for (size_t i = 0; ok && i < imd_series_list_failure_count(failures); i++) {
        ImdError *copy = NULL;
        const ImdError *f = imd_series_list_failure(failures, i);
        imd_error_set(&copy, imd_error_code(f), "%s", imd_error_message(f));
        convert_failure(&c, &copy, NULL);
    }
    if (ok && imd_context_cancelled(c.context)) {
        /* A cancel between two series: what was written is not the whole exam. */
        imd_error_set(&error, IMD_ERR_CANCELLED, "%s: cancelled", output);
        ok = false;
    }
    if (registered) {
        (void)convert_register(c.context, false);
    }
    imd_series_list_destroy(failures);
    Py_END_ALLOW_THREADS
    if (!ok) {
        raise_imd(error);
    } else if (c.out_of_memory) {
        PyErr_NoMemory();
    } else {
        result = convert_result(&c);
    }
done:
    convert_free(&c);
    imd_context_destroy(c.context); /* after every series it made */
    imd_options_destroy(c.options);
    imd_options_destroy(attributes);
    free(input_texts);
    free((void *)c.formats);
    free(plugin_texts);
    Py_XDECREF(inputs);
    Py_XDECREF(formats);
    Py_XDECREF(plugins);
    return result;
}

static PyObject *native_cancel_converts(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    long count = 0;
    pthread_mutex_lock(&g_convert_lock);
    for (size_t i = 0; i < sizeof g_converting / sizeof g_converting[0]; i++) {
        if (g_converting[i] != NULL) {
            imd_context_cancel(g_converting[i]);
            count++;
        }
    }
    pthread_mutex_unlock(&g_convert_lock);
    return PyLong_FromLong(count);
}

/* ---- anonymization (Series.anonymize) -------------------------------------- */

/* One rule: the attribute's new text, or NULL to remove it. */
typedef struct AnonRule {
    uint32_t tag;
    const char *value;
} AnonRule;

typedef struct Anon {
    const AnonRule *rules;
    size_t rule_count;
    PyObject *uid_map; /* callable: an instance UID -> its replacement */
    const char *date;  /* every other non-empty DA (and DT) value; NULL keeps them */
} Anon;

static const AnonRule *anon_rule(const Anon *a, uint32_t tag)
{
    for (size_t i = 0; i < a->rule_count; i++) {
        if (a->rules[i].tag == tag) {
            return &a->rules[i];
        }
    }
    return NULL;
}

/*
 * The UIDs of a UI value ('\'-separated) through the map, except registered
 * ones (SOP classes, transfer syntaxes, coding schemes: PS3.6 Annex A), which
 * identify no one. A new text to release with PyMem_Free, or NULL with an
 * exception set.
 */
static char *anon_uids(const Anon *a, const char *text)
{
    PyObject *parts = PyList_New(0);
    const char *p = text;
    while (parts != NULL) {
        const char *end = strchr(p, '\\');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        PyObject *part = PyUnicode_FromStringAndSize(p, (Py_ssize_t)n);
        char *uid = part != NULL ? PyMem_Malloc(n + 1) : NULL;
        PyObject *mapped = NULL;
        if (uid != NULL) {
            memcpy(uid, p, n);
            uid[n] = '\0';
            mapped = n == 0 || imd_dicom_uid_name(uid) != NULL
                         ? Py_NewRef(part)
                         : PyObject_CallFunctionObjArgs(a->uid_map, part, NULL);
            PyMem_Free(uid);
        } else if (part != NULL) {
            PyErr_NoMemory();
        }
        Py_XDECREF(part);
        if (mapped == NULL || !PyUnicode_Check(mapped) || PyList_Append(parts, mapped) < 0) {
            if (mapped != NULL && !PyUnicode_Check(mapped)) {
                PyErr_SetString(PyExc_TypeError, "imagedata: the UID map gave a non-string");
            }
            Py_XDECREF(mapped);
            Py_CLEAR(parts);
            break;
        }
        Py_DECREF(mapped);
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    if (parts == NULL) {
        return NULL;
    }
    PyObject *separator = PyUnicode_FromString("\\");
    PyObject *joined = separator != NULL ? PyUnicode_Join(separator, parts) : NULL;
    Py_XDECREF(separator);
    Py_DECREF(parts);
    Py_ssize_t size = 0;
    const char *utf8 = joined != NULL ? PyUnicode_AsUTF8AndSize(joined, &size) : NULL;
    char *out = utf8 != NULL ? PyMem_Malloc((size_t)size + 1) : NULL;
    if (out != NULL) {
        memcpy(out, utf8, (size_t)size + 1);
    } else if (utf8 != NULL) {
        PyErr_NoMemory();
    }
    Py_XDECREF(joined);
    return out;
}

static bool anon_text(ImdDicomDataSet *dst, uint32_t tag, ImdVR vr, const char *value)
{
    ImdError *error = NULL;
    if (!imd_dicom_dataset_set_string(&error, dst, tag, vr, value)) {
        raise_imd(error);
        return false;
    }
    return true;
}

/*
 * Copy `src` into the empty `dst`, anonymized: private elements (odd groups,
 * their creators too: PS3.5 §7.8) left out at every depth, the rules applied
 * wherever their attribute occurs, instance UIDs mapped, dates replaced, and
 * sequences rebuilt item by item so that their contents are anonymized too.
 * False with a Python exception set.
 */
static bool anon_copy(const Anon *a, const ImdDicomDataSet *src, ImdDicomDataSet *dst)
{
    ImdError *error = NULL;
    for (size_t i = 0; i < imd_dicom_dataset_count(src); i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(src, i);
        uint32_t tag = imd_dicom_element_tag(e);
        ImdVR vr = imd_dicom_element_vr(e);
        if ((IMD_TAG_GROUP(tag) & 1u) != 0 || imd_dicom_element_is_encapsulated(e)) {
            continue;
        }
        const AnonRule *rule = anon_rule(a, tag);
        if (rule != NULL) {
            if (rule->value != NULL &&
                !anon_text(dst, tag, imd_dicom_vr_is_text(vr) ? vr : (ImdVR)0, rule->value)) {
                return false;
            }
            continue;
        }
        size_t items = imd_dicom_element_item_count(e);
        if (vr == IMD_VR_SQ || items > 0) {
            if (items == 0 && !imd_dicom_dataset_set_bytes(&error, dst, tag, IMD_VR_SQ, NULL, 0)) {
                raise_imd(error);
                return false;
            }
            for (size_t k = 0; k < items; k++) {
                ImdDicomDataSet *item = imd_dicom_dataset_append_item(&error, dst, tag);
                if (item == NULL) {
                    raise_imd(error);
                    return false;
                }
                if (!anon_copy(a, imd_dicom_element_item(e, k), item)) {
                    return false;
                }
            }
            continue;
        }
        size_t size = 0;
        const uint8_t *bytes = imd_dicom_element_bytes(e, &size);
        if (size > 0 && (vr == IMD_VR_UI || ((vr == IMD_VR_DA || vr == IMD_VR_DT) &&
                                             a->date != NULL))) {
            char *text = imd_dicom_element_string(&error, src, e);
            if (text == NULL) {
                raise_imd(error);
                return false;
            }
            bool ok;
            if (vr == IMD_VR_UI) {
                char *mapped = text[0] != '\0' ? anon_uids(a, text) : NULL;
                ok = text[0] == '\0' || (mapped != NULL && anon_text(dst, tag, vr, mapped));
                PyMem_Free(mapped);
            } else {
                ok = text[0] == '\0' || anon_text(dst, tag, vr, a->date);
            }
            if (ok && text[0] == '\0') {
                ok = imd_dicom_dataset_set_bytes(&error, dst, tag, vr, bytes, size) ||
                     raise_imd(error) != NULL;
            }
            imd_free(text);
            if (!ok) {
                return false;
            }
            continue;
        }
        if (!imd_dicom_dataset_set_bytes(&error, dst, tag, vr, bytes, size)) {
            raise_imd(error);
            return false;
        }
    }
    return true;
}

/*
 * anonymize_dataset(bytes|None, [(keyword, text|None)], uid_map, date|None, add) -> bytes:
 * a data set (bare explicit-VR bytes, as dicom_state gives) anonymized as
 * anon_copy says; with `add`, every rule with a text is also set at the top
 * level when absent (the template: PatientIdentityRemoved and the like).
 * With None, only the rules' keywords are checked (None is returned).
 */
static PyObject *native_anonymize_dataset(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *bytes, *rule_list, *uid_map;
    const char *date;
    int add;
    if (!PyArg_ParseTuple(args, "OOOzp", &bytes, &rule_list, &uid_map, &date, &add)) {
        return NULL;
    }
    if (bytes != Py_None && !PyBytes_Check(bytes)) {
        PyErr_SetString(PyExc_TypeError, "imagedata: anonymize_dataset takes bytes or None");
        return NULL;
    }
    if (!PyCallable_Check(uid_map)) {
        PyErr_SetString(PyExc_TypeError, "imagedata: the UID map must be callable");
        return NULL;
    }
    PyObject *t = PySequence_Tuple(rule_list);
    if (t == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_Size(t);
    AnonRule *rules = PyMem_Calloc(count > 0 ? (size_t)count : 1, sizeof *rules);
    if (rules == NULL) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        const char *keyword, *value;
        if (!PyArg_ParseTuple(PyTuple_GetItem(t, i), "sz", &keyword, &value)) {
            PyMem_Free(rules);
            Py_DECREF(t);
            return NULL;
        }
        if (!imd_dicom_tag(keyword, &rules[i].tag)) {
            PyErr_Format(PyExc_ValueError, "imagedata: anonymize: \"%s\" is not a DICOM keyword",
                         keyword);
            PyMem_Free(rules);
            Py_DECREF(t);
            return NULL;
        }
        rules[i].value = value; /* borrowed from t, which lives until the end */
    }
    Anon a = {rules, (size_t)count, uid_map, date};
    if (bytes == Py_None) { /* the rules checked, no data set */
        PyMem_Free(rules);
        Py_DECREF(t);
        Py_RETURN_NONE;
    }
    PyObject *result = NULL;
    ImdError *error = NULL;
    ImdDicomDataSet *src = dataset_from(bytes);
    ImdDicomDataSet *dst = src != NULL ? imd_dicom_dataset_create(&error) : NULL;
    if (src != NULL && dst == NULL) {
        raise_imd(error);
    }
    bool ok = dst != NULL && anon_copy(&a, src, dst);
    for (size_t i = 0; ok && add && i < a.rule_count; i++) {
        if (rules[i].value != NULL && imd_dicom_dataset_find(dst, rules[i].tag) == NULL) {
            ok = anon_text(dst, rules[i].tag, (ImdVR)0, rules[i].value);
        }
    }
    if (ok) {
        result = dataset_bytes(dst);
    }
    imd_dicom_dataset_destroy(dst);
    imd_dicom_dataset_destroy(src);
    PyMem_Free(rules);
    Py_DECREF(t);
    return result;
}

/* ---- context ------------------------------------------------------------ */

static PyObject *native_set_threads(PyObject *module, PyObject *args)
{
    (void)module;
    unsigned int threads;
    if (!PyArg_ParseTuple(args, "I", &threads)) {
        return NULL;
    }
    if (g_busy > 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "imagedata.set_threads: a read or write is running in another thread");
        return NULL;
    }
    imd_context_set_threads(g_context, threads);
    return PyLong_FromUnsignedLong(imd_context_threads(g_context));
}

static PyObject *native_threads(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromUnsignedLong(imd_context_threads(g_context));
}

static PyObject *native_set_error_factory(PyObject *module, PyObject *factory)
{
    (void)module;
    PyObject *old = g_error_factory;
    Py_INCREF(factory);
    g_error_factory = factory;
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

static PyObject *native_version(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyUnicode_FromString(imd_version());
}

static PyObject *native_dtype_size(PyObject *module, PyObject *args)
{
    (void)module;
    int dtype;
    if (!PyArg_ParseTuple(args, "i", &dtype)) {
        return NULL;
    }
    return PyLong_FromSize_t(imd_dtype_size((ImdDType)dtype));
}

static PyMethodDef native_methods[] = {
    {"read", native_read, METH_VARARGS, "read(urls, options) -> ([Handle], [(code, message)])"},
    {"write", native_write, METH_VARARGS, "write(handle, url, format|None, options)"},
    {"new", native_new, METH_VARARGS, "new(dtype, shape) -> carrier with defaults"},
    {"like", native_like, METH_VARARGS, "like(handle, dtype) -> carrier with a copied header"},
    {"with_data", native_with_data, METH_VARARGS, "with_data(handle, dtype, buffer) -> Handle"},
    {"subset", native_subset, METH_VARARGS, "subset(handle, indices) -> carrier"},
    {"describe", native_describe, METH_O, "describe(handle) -> JSON text"},
    {"get", native_get, METH_VARARGS, "get(handle, keyword) -> str|None"},
    {"set", native_set, METH_VARARGS, "set(handle, keyword, value|None)"},
    {"keywords", native_keywords, METH_O, "keywords(handle) -> [keyword]"},
    {"template_get", native_template_get, METH_VARARGS, "template_get(handle, keyword)"},
    {"set_input_order", native_set_input_order, METH_VARARGS, "set_input_order(h, order, axes)"},
    {"set_spacing", native_set_spacing, METH_VARARGS, "set_spacing(handle, (ds, dr, dc))"},
    {"window", native_window, METH_O, "window(handle) -> (center, width)|None"},
    {"set_window", native_set_window, METH_VARARGS, "set_window(handle, center, width)"},
    {"set_geometry", native_set_geometry, METH_VARARGS,
     "set_geometry(handle, positions, orientation, transform, locations)"},
    {"set_axis", native_set_axis, METH_VARARGS, "set_axis(handle, dim, name, unit, start, step)"},
    {"set_tags", native_set_tags, METH_VARARGS,
     "set_tags(handle, slices, shape, components, cells)"},
    {"add_template", native_add_template, METH_VARARGS, "add_template(handle, source, geometry)"},
    {"tag_ndim", native_tag_ndim, METH_O, "tag_ndim(handle) -> leading tag dimensions"},
    {"refresh", native_refresh, METH_O, "refresh(handle): new series UID, no window"},
    {"new_uid", native_new_uid, METH_NOARGS, "new_uid() -> a 2.25 UID"},
    {"set_threads", native_set_threads, METH_VARARGS, "set_threads(n) -> threads in use"},
    {"threads", native_threads, METH_NOARGS, "threads() -> threads in use"},
    {"set_error_factory", native_set_error_factory, METH_O, "set_error_factory(fn)"},
    {"version", native_version, METH_NOARGS, "the library's version"},
#ifdef IMD_HAVE_VIEW
    {"view", native_view, METH_VARARGS, "view([handle], link, replay, screenshot) -> [(c, w)]"},
#endif
    {"dtype_size", native_dtype_size, METH_VARARGS, "dtype_size(code) -> bytes"},
    {"convert", (PyCFunction)(void (*)(void))native_convert, METH_VARARGS | METH_KEYWORDS,
     "convert(inputs, output, formats, options, attributes, name, dtype, several, threads,\n"
     "memory_limit, plugins) -> {written, failed, warnings, warning_count, skipped}"},
    {"cancel_converts", native_cancel_converts, METH_NOARGS,
     "cancel_converts() -> how many running converts were asked to stop"},
    {"tag_layout", native_tag_layout, METH_O, "tag_layout(handle) -> (slices, shape, components)"},
    {"geometry_defined", native_geometry_defined, METH_VARARGS,
     "geometry_defined(handle[, value]) -> bool"},
    {"resample", native_resample, METH_VARARGS, "resample(handle, grid, method) -> Handle"},
    {"keyword_of", native_keyword_of, METH_VARARGS, "keyword_of(tag) -> keyword|None"},
    {"objects_unavailable", native_objects_unavailable, METH_NOARGS,
     "objects_unavailable() -> None | reason"},
    {"set_cell_attribute", native_set_cell_attribute, METH_VARARGS,
     "set_cell_attribute(handle, slice, cell, keyword, text)"},
    {"store_put", native_store_put, METH_VARARGS, "store_put(bucket, name, buffer)"},
    {"store_take", native_store_take, METH_VARARGS, "store_take(bucket) -> [(name, bytes)]"},
    {"dicom_state", native_dicom_state, METH_O, "dicom_state(handle) -> (template, cells)"},
    {"anonymize_dataset", native_anonymize_dataset, METH_VARARGS,
     "anonymize_dataset(bytes, rules, uid_map, date, add) -> bytes"},
    {"set_dicom_state", native_set_dicom_state, METH_VARARGS,
     "set_dicom_state(handle, template, cells)"},
    {"set_instance_uid", native_set_instance_uid, METH_VARARGS,
     "set_instance_uid(handle, slice, cell, uid|None)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "imagedata._native", "libimagedata for imagedata.series", -1,
    native_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) {
        return NULL;
    }
    HandleType = (PyTypeObject *)PyType_FromSpec(&handle_spec);
    if (HandleType == NULL) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF((PyObject *)HandleType);
    if (PyModule_AddObject(module, "Handle", (PyObject *)HandleType) < 0) {
        Py_DECREF(HandleType);
        Py_DECREF(module);
        return NULL;
    }
    if (g_context == NULL) {
        ImdError *error = NULL;
        g_context = imd_context_create(&error);
        if (g_context == NULL) {
            Py_DECREF(module);
            return raise_imd(error);
        }
        /* As the CLIs: plugins named by IMAGEDATA_PLUGINS. */
        const char *plugins = getenv("IMAGEDATA_PLUGINS");
        if (plugins != NULL && *plugins != '\0' &&
            !imd_context_load_plugin_list(&error, g_context, plugins)) {
            Py_DECREF(module);
            return raise_imd(error);
        }
        /* The imdpy:// transport: this file, loaded as a plugin (see above).
         * A library built without plugin loading (IMD_ENABLE_PLUGINS off)
         * still serves URLs: file objects then raise, naming the reason. */
        Dl_info self;
        if (dladdr((void *)&py_manifest, &self) == 0 || self.dli_fname == NULL) {
            (void)snprintf(g_no_objects, sizeof g_no_objects,
                           "cannot find the extension's own path (dladdr)");
        } else if (!imd_context_load_plugin(&error, g_context, self.dli_fname)) {
            (void)snprintf(g_no_objects, sizeof g_no_objects, "%s", imd_error_message(error));
            imd_error_clear(&error);
        }
    }
    return module;
}
