/*
 * fuzz_url.c: URL parsing, "%p" expansion and member patterns.
 *
 * The whole input is a URL; split at the first newline it is also a
 * (pattern, name) pair for imd_member_match() and imd_member_name_is_safe().
 * Beyond "no crash" it checks the result/error invariant of imd_url_parse()
 * and that every parsed field is a string.
 */
#include "internal.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed invariant must stop the fuzzer: abort() is what libFuzzer reports. */
static void require(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_url: invariant failed: %s\n", what);
        abort();
    }
}

static void check_url(const char *text)
{
    ImdError *error = NULL;
    ImdUrl *url = imd_url_parse(&error, text);
    require((url == NULL) == (error != NULL), "result NULL exactly when an error is set");
    if (url != NULL) {
        require(url->scheme != NULL && url->host != NULL && url->path != NULL &&
                    url->query != NULL && url->aet != NULL,
                "string fields are never NULL");
        require(url->part_count <= 3, "at most three dicom parts");
        require(url->port >= 0 && url->port <= 65535, "port in range");
        for (size_t i = 0; i < 3; i++) {
            require(url->parts[i] != NULL, "parts are never NULL");
            (void)strlen(url->parts[i]);
        }
        if (strcmp(url->scheme, "dicom") == 0) {
            size_t aet_length = strlen(url->aet);
            require(aet_length >= 1 && aet_length <= 16, "AE title of 1 to 16 characters");
            require(url->host[0] != '\0', "dicom URLs have a host");
        }
    } else {
        require(imd_error_code(error) == IMD_ERR_INVALID_ARG ||
                    imd_error_code(error) == IMD_ERR_NOMEM,
                "parse errors are INVALID_ARG");
        require(imd_error_message(error)[0] != '\0', "errors have a message");
    }
    imd_url_destroy(url);
    imd_error_clear(&error);

    char *expanded = imd_url_expand_format(&error, text, "nifti");
    require((expanded == NULL) == (error != NULL), "expand: result NULL exactly on error");
    imd_free(expanded);
    imd_error_clear(&error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Every API takes C strings: copy, and stop at an embedded NUL like a caller would. */
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(text, data, size);
    }
    text[size] = '\0';

    check_url(text);

    char *newline = strchr(text, '\n');
    const char *pattern = text, *name = "";
    if (newline != NULL) {
        *newline = '\0';
        name = newline + 1;
    }
    bool matched = imd_member_match(pattern, name);
    /* Spot checks of the documented rules, cheap enough for every input. */
    require(imd_member_match("", name), "an empty pattern matches everything");
    if (strpbrk(pattern, "*?[") == NULL && strcmp(pattern, name) == 0) {
        require(matched, "a pattern without wildcards matches itself");
    }
    if (imd_member_name_is_safe(name)) {
        size_t length = strlen(name);
        bool dot_dot = strcmp(name, "..") == 0 || strncmp(name, "../", 3) == 0 ||
                       strstr(name, "/../") != NULL ||
                       (length >= 3 && strcmp(name + length - 3, "/..") == 0);
        require(name[0] != '/' && !dot_dot && strchr(name, '\\') == NULL,
                "safe names are relative and free of '..' and '\\'");
    }
    (void)imd_member_name_is_safe(pattern);
    free(text);
    return 0;
}
