/* Reading the URLs of --url-file. */
#include "bench/urlfile.h"
#include "bench/cli.h"
#include "tvl/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_URL_FILE = 16 << 20 };

static int append(tvl_url_list *list, const char *url, size_t len)
{
    char *copy = strndup(url, len);
    if (copy == NULL)
        return -ENOMEM;
    char **grown = realloc(list->urls, (list->n + 1) * sizeof *grown);
    if (grown == NULL) {
        free(copy);
        return -ENOMEM;
    }
    list->urls = grown;
    list->urls[list->n++] = copy;
    return 0;
}

int tvl_url_list_parse(const char *text, size_t len, const char *name, tvl_url_list *list,
                       char *err, size_t errlen)
{
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < len) {
        line_no++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        pos += line_len + (nl != NULL);

        const char *hash = memchr(line, '#', line_len);
        size_t end = hash ? (size_t)(hash - line) : line_len;
        size_t start = 0;
        while (start < end && (line[start] == ' ' || line[start] == '\t'))
            start++;
        while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t' ||
                               line[end - 1] == '\r'))
            end--;
        if (start == end)
            continue;
        char url[4096];
        size_t ulen = end - start;
        if (ulen >= sizeof url) {
            snprintf(err, errlen, "%s:%zu: URL too long (%zu bytes)", name, line_no, ulen);
            return TVL_E_USAGE;
        }
        memcpy(url, line + start, ulen);
        url[ulen] = '\0';
        if (memchr(url, '\0', ulen) != NULL || !tvl_url_is_valid(url)) {
            snprintf(err, errlen, "%s:%zu: malformed URL '%.200s'", name, line_no, url);
            return TVL_E_USAGE;
        }
        int rc = append(list, url, ulen);
        if (rc != 0) {
            snprintf(err, errlen, "%s: out of memory", name);
            return rc;
        }
    }
    return 0;
}

int tvl_url_list_read_file(const char *path, tvl_url_list *list, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        snprintf(err, errlen, "cannot read URL file '%s': %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(MAX_URL_FILE);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, MAX_URL_FILE, f);
    int read_error = ferror(f);
    int too_big = n == MAX_URL_FILE && fgetc(f) != EOF;
    fclose(f);
    int rc;
    if (read_error) {
        snprintf(err, errlen, "cannot read URL file '%s': read error", path);
        rc = -EIO;
    } else if (too_big) {
        snprintf(err, errlen, "URL file '%s' is larger than %d MiB", path, MAX_URL_FILE >> 20);
        rc = TVL_E_USAGE;
    } else {
        rc = tvl_url_list_parse(buf, n, path, list, err, errlen);
        if (rc == 0 && list->n == 0) {
            snprintf(err, errlen, "URL file '%s' has no URL", path);
            rc = TVL_E_USAGE;
        }
    }
    free(buf);
    return rc;
}

void tvl_url_list_free(tvl_url_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->urls[i]);
    free(list->urls);
    list->urls = NULL;
    list->n = 0;
}
