/* alloc.c: allocation helpers that report IMD_ERR_NOMEM, and growing text. */
#include "internal.h"

#include <stdio.h>

#include <stdatomic.h>

#ifdef IMD_FAULT_INJECTION
#include <pthread.h>

/*
 * The counters are atomic because the DICOM reader, the NIfTI writer and
 * gzip allocate on worker threads; which thread draws the Nth number may
 * vary from run to run, the total does not. Only the Nth call fails (not
 * every call after it), so the error paths themselves can still allocate
 * their messages, as they would after a transient shortage.
 */
static atomic_ullong fault_allocations, fault_writes;
static unsigned long long fault_alloc_at, fault_write_at; /* 0: never */
static const char *fault_count_path;
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;

static unsigned long long fault_env(const char *name)
{
    const char *text = getenv(name);
    if (text == NULL || text[0] == '\0') {
        return 0;
    }
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    return *end == '\0' ? value : 0;
}

/* The one exception to "the library never writes on its own": a test build's count. */
static void fault_report(void)
{
    FILE *file = fopen(fault_count_path, "w");
    if (file != NULL) {
        (void)fprintf(file, "%llu %llu\n", (unsigned long long)atomic_load(&fault_allocations),
                      (unsigned long long)atomic_load(&fault_writes));
        (void)fclose(file);
    }
}

static void fault_setup(void)
{
    fault_alloc_at = fault_env("IMD_FAIL_ALLOC");
    fault_write_at = fault_env("IMD_FAIL_WRITE");
    fault_count_path = getenv("IMD_COUNT_ALLOC");
    if (fault_count_path != NULL && fault_count_path[0] != '\0') {
        (void)atexit(fault_report);
    }
}

bool imd__fault_alloc(void)
{
    (void)pthread_once(&fault_once, fault_setup);
    return atomic_fetch_add(&fault_allocations, 1) + 1 == fault_alloc_at;
}

bool imd__fault_write(void)
{
    (void)pthread_once(&fault_once, fault_setup);
    return atomic_fetch_add(&fault_writes, 1) + 1 == fault_write_at;
}
#endif

/* Every failed allocation of the wrappers below (any thread). */
static atomic_size_t alloc_failures;

size_t imd__alloc_failures(void)
{
    return atomic_load_explicit(&alloc_failures, memory_order_relaxed);
}

static void count_failure(void)
{
    (void)atomic_fetch_add_explicit(&alloc_failures, 1, memory_order_relaxed);
}

void imd_free(void *memory)
{
    free(memory);
}

void *imd__malloc(ImdError **error, size_t size)
{
    void *memory = imd__fault_alloc() ? NULL : malloc(size == 0 ? 1 : size);
    if (memory == NULL) {
        count_failure();
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory (%zu bytes)", size);
    }
    return memory;
}

void *imd__calloc(ImdError **error, size_t count, size_t size)
{
    if (count == 0 || size == 0) {
        count = size = 1;
    }
    void *memory = imd__fault_alloc() ? NULL : calloc(count, size);
    if (memory == NULL) {
        count_failure();
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory (%zu x %zu bytes)", count, size);
    }
    return memory;
}

void *imd__realloc(ImdError **error, void *memory, size_t size)
{
    void *grown = imd__fault_alloc() ? NULL : realloc(memory, size == 0 ? 1 : size);
    if (grown == NULL) {
        count_failure();
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory (%zu bytes)", size);
    }
    return grown;
}

bool imd__grow(ImdError **error, void **array, size_t *capacity, size_t needed, size_t item)
{
    if (needed <= *capacity) {
        return true;
    }
    size_t wanted = *capacity < 8 ? 8 : *capacity;
    while (wanted < needed) {
        if (wanted > SIZE_MAX / 2) {
            wanted = needed;
            break;
        }
        wanted *= 2;
    }
    size_t bytes;
    if (!imd__mul_size(wanted, item, &bytes)) {
        imd_error_set(error, IMD_ERR_LIMIT, "array of %zu items is too large", wanted);
        return false;
    }
    void *grown = imd__realloc(error, *array, bytes);
    if (grown == NULL) {
        return false;
    }
    *array = grown;
    *capacity = wanted;
    return true;
}

char *imd__strndup(ImdError **error, const char *text, size_t length)
{
    char *copy = imd__malloc(error, length + 1);
    if (copy != NULL) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

char *imd__strdup(ImdError **error, const char *text)
{
    return imd__strndup(error, text, strlen(text));
}

char *imd__vsprintf(ImdError **error, const char *format, va_list args)
{
    va_list again;
    va_copy(again, args);
    int length = vsnprintf(NULL, 0, format, args);
    if (length < 0) {
        va_end(again);
        imd_error_set(error, IMD_ERR_INTERNAL, "bad format \"%s\"", format);
        return NULL;
    }
    char *text = imd__malloc(error, (size_t)length + 1);
    if (text != NULL) {
        (void)vsnprintf(text, (size_t)length + 1, format, again);
    }
    va_end(again);
    return text;
}

char *imd__sprintf(ImdError **error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = imd__vsprintf(error, format, args);
    va_end(args);
    return text;
}

void imd__text_append(ImdText *text, const char *data, size_t length)
{
    if (text->failed) {
        return;
    }
    size_t needed;
    if (!imd__add_size(text->length, length + 1, &needed) ||
        !imd__grow(NULL, (void **)&text->data, &text->capacity, needed, 1)) {
        text->failed = true;
        return;
    }
    memcpy(text->data + text->length, data, length);
    text->length += length;
    text->data[text->length] = '\0';
}

void imd__text_puts(ImdText *text, const char *data)
{
    imd__text_append(text, data, strlen(data));
}

void imd__text_printf(ImdText *text, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *piece = imd__vsprintf(NULL, format, args);
    va_end(args);
    if (piece == NULL) {
        text->failed = true;
        return;
    }
    imd__text_puts(text, piece);
    free(piece);
}

char *imd__text_finish(ImdError **error, ImdText *text)
{
    if (text->failed) {
        imd__text_free(text);
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory building text");
        return NULL;
    }
    if (text->data == NULL) {
        return imd__strdup(error, "");
    }
    char *result = text->data;
    text->data = NULL;
    text->length = text->capacity = 0;
    return result;
}

void imd__text_free(ImdText *text)
{
    free(text->data);
    text->data = NULL;
    text->length = text->capacity = 0;
    text->failed = false;
}
