/* libFuzzer target: the --url-file parser. */
#include <stddef.h>
#include <stdint.h>

#include "bench/urlfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tvl_url_list list = {0};
    char err[256];
    tvl_url_list_parse((const char *)data, size, "fuzz", &list, err, sizeof err);
    tvl_url_list_free(&list);
    return 0;
}
