/* The one table that names and describes every tvl error code. */
#include "tvl/error.h"

#include <string.h>

const char *tvl_err_name(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define TVL__ERR_NAME(name, code, msg) \
    case (code):                       \
        return #name;
        TVL_ERR_MAP(TVL__ERR_NAME)
#undef TVL__ERR_NAME
    default:
        break;
    }
    if (err < 0 && err > TVL__ERR_BASE) {
        const char *n = strerrorname_np(-err); /* thread-safe, static */
        if (n != NULL)
            return n;
    }
    return "UNKNOWN";
}

const char *tvl_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define TVL__ERR_MSG(name, code, msg) \
    case (code):                      \
        return msg;
        TVL_ERR_MAP(TVL__ERR_MSG)
#undef TVL__ERR_MSG
    default:
        break;
    }
    if (err < 0 && err > TVL__ERR_BASE) {
        const char *d = strerrordesc_np(-err); /* thread-safe, static */
        if (d != NULL)
            return d;
    }
    return "unknown error";
}
