/* URL files: one URL a line, '#' starts a comment, blank lines skipped. */
#ifndef TVL_BENCH_URLFILE_H
#define TVL_BENCH_URLFILE_H

#include <stddef.h>

typedef struct tvl_url_list {
    char **urls; /* each malloc'd */
    size_t n;
} tvl_url_list;

/* Parses text[0..len) (no NUL needed) and appends its URLs to *list. On a
 * malformed line returns TVL_E_USAGE with "LINE: reason" in err; -ENOMEM
 * when out of memory. `name` prefixes the message. */
int tvl_url_list_parse(const char *text, size_t len, const char *name, tvl_url_list *list,
                       char *err, size_t errlen);

/* Reads and parses the file at path: -errno with a reason when it cannot be
 * read, otherwise as tvl_url_list_parse(). */
int tvl_url_list_read_file(const char *path, tvl_url_list *list, char *err, size_t errlen);

void tvl_url_list_free(tvl_url_list *list);

#endif
