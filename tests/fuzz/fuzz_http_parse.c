/* libFuzzer target: the delay server's HTTP request parser, and the route
 * grammar of what it accepts. Checks the parser's own promises: a DONE
 * head lies inside the input and its target inside the head; a BAD answer
 * has one of the documented statuses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/http_parse.h"
#include "server/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tvl__http_request req;
    tvl__http_result r = tvl__http_parse((const char *)data, size, &req);
    if (r == TVL__HTTP_DONE) {
        if (req.length == 0 || req.length > size || req.length > TVL__HTTP_MAX_HEAD)
            abort();
        const char *head = (const char *)data;
        if (req.target < head || req.target + req.target_len > head + req.length)
            abort();
        tvl__route route;
        tvl__route_parse(req.target, req.target_len, 1.0, &route);
        if (route.status < 200 || route.status > 599)
            abort();
    } else if (r == TVL__HTTP_BAD) {
        if (req.status != 400 && req.status != 431 && req.status != 501 && req.status != 505)
            abort();
    } else if (size > TVL__HTTP_MAX_HEAD) {
        abort(); /* more than the bound and still asking for more */
    }
    return 0;
}
