/* CRC-32 as zlib, PNG and Ethernet define it (reflected, polynomial
 * 0xEDB88320, initial value and final XOR 0xFFFFFFFF): the delay server's
 * body checksum, which every client recomputes over each body it reads.
 *
 * Why this one: the check sits on a request's path, after its last byte
 * arrives. FNV-1a, used before, costs a multiply per byte in one dependency
 * chain (1.15 ns a byte here); this table-driven CRC takes 8 bytes a step
 * (slicing by 8; 0.52 ns a byte), and Python computes the same value in C
 * with zlib.crc32, where FNV-1a had to run byte by byte in Python. On an
 * x86-64 CPU with carry-less multiplication, buffers of 64 bytes and more
 * are folded 64 bytes a step instead (crc32.c says how): 0.07 ns a byte
 * against the tables' 0.51, here, whether a 245 kB body comes whole or in
 * pieces of 1 or 16 KiB (2 December 2026, best of 50). */
#ifndef TVL_CORE_CRC32_H
#define TVL_CORE_CRC32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Continues the CRC-32 `crc` over n bytes at p and returns it; start with
 * 0. Same contract as zlib's crc32() and Python's zlib.crc32(data, crc):
 * feeding a buffer in pieces gives the same result as feeding it whole.
 * p may be NULL when n is 0. Thread-safe. */
uint32_t tvl__crc32(uint32_t crc, const void *p, size_t n);

/* The same CRC by the tables alone, whatever the CPU: for the tests, and
 * to measure what folding saves. */
uint32_t tvl__crc32_tables(uint32_t crc, const void *p, size_t n);

/* Whether tvl__crc32() folds long buffers on this CPU. */
bool tvl__crc32_folds(void);

#endif
