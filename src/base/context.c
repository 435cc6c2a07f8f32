/*
 * context.c: what a read or write is run with: the log and progress
 * callbacks, the memory limit, the cancel flag, the sink of a streaming
 * read, and the plugins loaded from files (their records and dlopen
 * handles; the registry that searches them is src/pipeline/registry.c).
 * A context is set up by one thread and then only read (design.md §3.6).
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#ifdef IMD_ENABLE_PLUGINS
#include <dlfcn.h>
#endif

struct ImdContext {
    ImdPluginRecord *plugins; /* loaded from files, priority order (last loaded first) */
    size_t count, capacity;
    void **libraries; /* dlopen handles, closed in imd_context_destroy() */
    size_t library_count, library_capacity;
    ImdLogFn *log;
    void *log_user;
    ImdProgressFn *progress;
    void *progress_user;
    ImdFillFn *fill;
    void *fill_user;
    uint64_t memory_limit; /* bytes; 0: none */
    /* Set from signal handlers: a lock-free atomic is async-signal-safe (C11 7.14.1.1). */
    _Atomic int cancelled;
    /* A streaming read in progress (imd_read_each): where finished series go. */
    bool (*sink)(ImdError **error, void *user, ImdSeries *series);
    void *sink_user;
    unsigned threads; /* imd_context_set_threads; 0: the number of online cores */
    /*
     * The thread pool (threads.c), made on first use by whichever thread
     * needs it first: an atomic pointer, as reads run with a const context
     * and may start on several threads at once.
     */
    _Atomic(ImdPool *) pool;
};


/*
 * The context of the imd_read()/imd_write() running on this thread, so that
 * code reached through the plugin ABI (which passes no context to writers,
 * streams or imd_series_create) can still poll the cancel flag and consult
 * the memory limit.
 */
static _Thread_local const ImdContext *current_context;

void imd__context_set_sink(ImdContext *context,
                           bool (*sink)(ImdError **error, void *user, ImdSeries *series),
                           void *user)
{
    context->sink = sink;
    context->sink_user = user;
}

bool imd__context_sink(const ImdContext *context,
                       bool (**sink)(ImdError **error, void *user, ImdSeries *series), void **user)
{
    if (context == NULL || context->sink == NULL) {
        return false;
    }
    *sink = context->sink;
    *user = context->sink_user;
    return true;
}

/* ---- context ---- */

const ImdContext *imd__context_enter(const ImdContext *context)
{
    const ImdContext *saved = current_context;
    current_context = context;
    return saved;
}

void imd__context_leave(const ImdContext *saved)
{
    current_context = saved;
}

const ImdContext *imd__context_current(void)
{
    return current_context;
}

void imd_context_set_memory_limit(ImdContext *context, uint64_t bytes)
{
    if (context != NULL) {
        context->memory_limit = bytes;
    }
}

uint64_t imd_context_memory_limit(const ImdContext *context)
{
    return context != NULL ? context->memory_limit : 0;
}

void imd_context_cancel(ImdContext *context)
{
    if (context != NULL) {
        context->cancelled = 1;
    }
}

bool imd_context_cancelled(const ImdContext *context)
{
    /* Reading an _Atomic object is an atomic load (C11 6.2.6.1, 7.17.7.2). */
    return context != NULL && context->cancelled != 0;
}

void imd_context_reset_cancel(ImdContext *context)
{
    if (context != NULL) {
        context->cancelled = 0;
    }
}

bool imd__check_cancel(ImdError **error, const ImdContext *context, const char *what)
{
    if (context == NULL) {
        context = current_context;
    }
    if (!imd_context_cancelled(context)) {
        return true;
    }
    imd_error_set(error, IMD_ERR_CANCELLED, "%s: cancelled", what != NULL ? what : "work");
    return false;
}

bool imd__check_alloc(ImdError **error, const ImdContext *context, uint64_t bytes,
                      const char *what)
{
    if (context == NULL) {
        context = current_context;
    }
    uint64_t limit = imd_context_memory_limit(context);
    if (limit != 0 && bytes > limit) {
        imd_error_set(error, IMD_ERR_LIMIT,
                      "%s: %llu bytes needed, more than the memory limit of %llu bytes "
                      "(--memory-limit)",
                      what != NULL ? what : "image", (unsigned long long)bytes,
                      (unsigned long long)limit);
        return false;
    }
    return imd__check_cancel(error, context, what);
}

ImdContext *imd_context_create(ImdError **error)
{
    ImdContext *context = imd__calloc(error, 1, sizeof *context);
    if (context == NULL) {
        return NULL;
    }
    return context;
}

void imd_context_destroy(ImdContext *context)
{
    if (context == NULL) {
        return;
    }
    /* Its workers first: they run no plugin code now, and nothing after the unload. */
    imd__pool_destroy(atomic_exchange(&context->pool, NULL));
#ifdef IMD_ENABLE_PLUGINS
    for (size_t i = context->library_count; i-- > 0;) {
        dlclose(context->libraries[i]);
    }
#endif
    free(context->libraries);
    free(context->plugins);
    free(context);
}

void imd_context_set_threads(ImdContext *context, unsigned threads)
{
    if (context == NULL) {
        return;
    }
    context->threads = threads > IMD__MAX_THREADS ? IMD__MAX_THREADS : threads;
    /* A new size takes a new pool (made on next use); no work runs now (set it before a read). */
    imd__pool_destroy(atomic_exchange(&context->pool, NULL));
}

unsigned imd_context_threads(const ImdContext *context)
{
    return context != NULL && context->threads != 0 ? context->threads : imd__default_threads();
}

ImdPool *imd__context_pool(const ImdContext *context)
{
    if (context == NULL || imd_context_threads(context) <= 1) {
        return NULL;
    }
    /* The pool is the context's cache, not its settings: made here even for a const context
     * (the object itself is not const: imd_context_create allocated it). */
    ImdContext *owner = (ImdContext *)(uintptr_t)context;
    ImdPool *pool = atomic_load(&owner->pool);
    if (pool != NULL) {
        return pool;
    }
    ImdPool *made = imd__pool_create(NULL, imd_context_threads(context));
    if (made == NULL) {
        return NULL; /* no pool: the work runs in the calling thread */
    }
    ImdPool *expected = NULL;
    if (!atomic_compare_exchange_strong(&owner->pool, &expected, made)) {
        imd__pool_destroy(made); /* another thread made one first (no worker started yet) */
        return expected;
    }
    return made;
}

void imd_context_set_progress(ImdContext *context, ImdProgressFn *fn, void *user)
{
    context->progress = fn;
    context->progress_user = user;
}

void imd_context_progress(const ImdContext *context, const char *stage, size_t done,
                          size_t total)
{
    if (context != NULL && context->progress != NULL) {
        context->progress(context->progress_user, stage, done, total);
    }
}

void imd_context_set_fill_watch(ImdContext *context, ImdFillFn *fn, void *user)
{
    context->fill = fn;
    context->fill_user = user;
}

void imd_context_fill(const ImdContext *context, ImdFillEvent event, const ImdSeries *series,
                      size_t image)
{
    if (context != NULL && context->fill != NULL) {
        context->fill(context->fill_user, event, series, image);
    }
}

bool imd_context_fill_watched(const ImdContext *context)
{
    return context != NULL && context->fill != NULL;
}

void imd_context_set_log(ImdContext *context, ImdLogFn *fn, void *user)
{
    context->log = fn;
    context->log_user = user;
}

static void log_message(const ImdContext *context, ImdLogLevel level, const char *format,
                        va_list args) IMD_PRINTF(3, 0);

static void log_message(const ImdContext *context, ImdLogLevel level, const char *format,
                        va_list args)
{
    if (context == NULL || context->log == NULL) {
        return;
    }
    char *message = imd__vsprintf(NULL, format, args);
    if (message != NULL) {
        context->log(context->log_user, level, message);
        free(message);
    }
}

void imd__log(const ImdContext *context, ImdLogLevel level, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    log_message(context, level, format, args);
    va_end(args);
}

void imd_context_log(const ImdContext *context, ImdLogLevel level, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    log_message(context, level, format, args);
    va_end(args);
}

/* ---- plugins loaded from files ---- */

bool imd__context_add_plugins(ImdError **error, ImdContext *context, void *library,
                              const ImdPluginRecord *records, size_t count)
{
    if (!imd__grow(error, (void **)&context->plugins, &context->capacity,
                   context->count + count, sizeof(ImdPluginRecord)) ||
        (library != NULL &&
         !imd__grow(error, (void **)&context->libraries, &context->library_capacity,
                    context->library_count + 1, sizeof(void *)))) {
        return false;
    }
    memmove(context->plugins + count, context->plugins,
            context->count * sizeof(ImdPluginRecord));
    memcpy(context->plugins, records, count * sizeof(ImdPluginRecord));
    context->count += count;
    if (library != NULL) {
        context->libraries[context->library_count++] = library;
    }
    return true;
}

const ImdPluginRecord *imd__context_plugins(const ImdContext *context, size_t *count)
{
    *count = context != NULL ? context->count : 0;
    return context != NULL ? context->plugins : NULL;
}
