/* Error codes of every tvl module: 0 for success, a negative value for failure.
 *
 * Codes that have an errno equivalent are the negated errno value (-ENOMEM,
 * -ETIMEDOUT, ...), as in libuv. Failures with no errno equivalent (an HTTP
 * status, a checksum mismatch) get codes below TVL__ERR_BASE. One table,
 * TVL_ERR_MAP, gives each code its name and its message.
 *
 * Thread safety: every function here may be called from any thread. */
#ifndef TVL_ERROR_H
#define TVL_ERROR_H

#include <errno.h>

#define TVL__ERR_BASE (-5000)

/* XX(NAME, code, "message") */
#define TVL_ERR_MAP(XX)                                                         \
    XX(EPERM, -EPERM, "operation not permitted")                                \
    XX(ENOENT, -ENOENT, "no such file or directory")                            \
    XX(EINTR, -EINTR, "interrupted")                                            \
    XX(EIO, -EIO, "i/o error")                                                  \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                     \
    XX(ENOMEM, -ENOMEM, "out of memory")                                        \
    XX(EACCES, -EACCES, "permission denied")                                    \
    XX(EBUSY, -EBUSY, "resource busy or already running")                       \
    XX(EEXIST, -EEXIST, "already exists")                                       \
    XX(EINVAL, -EINVAL, "invalid argument")                                     \
    XX(EMFILE, -EMFILE, "too many open files")                                  \
    XX(ENOSPC, -ENOSPC, "no space left")                                        \
    XX(EPIPE, -EPIPE, "broken pipe")                                            \
    XX(ERANGE, -ERANGE, "result out of range")                                  \
    XX(ENOSYS, -ENOSYS, "function not implemented")                             \
    XX(EPROTO, -EPROTO, "protocol error")                                       \
    XX(EMSGSIZE, -EMSGSIZE, "message too long")                                 \
    XX(ENOTSUP, -ENOTSUP, "operation not supported")                            \
    XX(EADDRINUSE, -EADDRINUSE, "address already in use")                       \
    XX(ENETUNREACH, -ENETUNREACH, "network is unreachable")                     \
    XX(ECONNABORTED, -ECONNABORTED, "connection aborted")                       \
    XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                     \
    XX(ESHUTDOWN, -ESHUTDOWN, "shut down")                                      \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                      \
    XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                       \
    XX(EHOSTUNREACH, -EHOSTUNREACH, "host is unreachable")                      \
    XX(EALREADY, -EALREADY, "already finished")                                 \
    XX(EINPROGRESS, -EINPROGRESS, "operation in progress")                      \
    XX(ECANCELED, -ECANCELED, "cancelled")                                      \
    XX(EOWNERDEAD, -EOWNERDEAD, "owner died")                                   \
    XX(E_HTTP_STATUS, TVL__ERR_BASE - 1, "HTTP error status")                   \
    XX(E_RESOLVE, TVL__ERR_BASE - 2, "could not resolve host")                  \
    XX(E_TLS, TVL__ERR_BASE - 3, "TLS handshake or certificate verification failed") \
    XX(E_SHORT_BODY, TVL__ERR_BASE - 4, "body shorter than announced")          \
    XX(E_CHECKSUM, TVL__ERR_BASE - 5, "body checksum mismatch")                 \
    XX(E_TRANSFER, TVL__ERR_BASE - 6, "transfer failed")                        \
    XX(E_GROUP, TVL__ERR_BASE - 7, "one or more tasks of the group failed")     \
    XX(E_USAGE, TVL__ERR_BASE - 8, "usage error")                               \
    XX(E_URL, TVL__ERR_BASE - 9, "malformed URL")

enum tvl_errno {
#define TVL__ERR_ENUM(name, code, msg) TVL_##name = (code),
    TVL_ERR_MAP(TVL__ERR_ENUM)
#undef TVL__ERR_ENUM
};

/* The name of an error code ("ETIMEDOUT", "E_HTTP_STATUS"), or "UNKNOWN".
 * Returns a static string; never NULL. */
const char *tvl_err_name(int err);

/* The message of an error code. Returns a static string; never NULL. Codes
 * outside the table that are negated errno values get the C library's
 * description; anything else gets "unknown error". 0 gives "success". */
const char *tvl_strerror(int err);

/* Maps an errno value (positive, as errno holds it) to a tvl code. */
static inline int tvl_from_errno(int e) { return e > 0 ? -e : (e == 0 ? -EIO : e); }

#endif
