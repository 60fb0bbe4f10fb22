/* The context switch for AArch64 (AAPCS64): saves what a callee must
 * preserve, swaps stack pointers, restores the other side.
 *
 * Callee-saved per the ABI: x19-x28, the frame pointer x29, the link
 * register x30 (our return address), sp, and the low 64 bits of v8-v15
 * (d8-d15), and the modes in FPCR (rounding, flush-to-zero), which a
 * function must give back as it found them. Everything else is
 * caller-saved, so the C caller has already spilled what it needs. The
 * signal mask is not switched (that would be a system call).
 *
 * A suspended context's stack, from its saved stack pointer up (176 bytes,
 * keeping sp 16-byte aligned as the architecture requires):
 *     [sp+0]   x19 x20   [sp+16] x21 x22   [sp+32] x23 x24   [sp+48] x25 x26
 *     [sp+64]  x27 x28   [sp+80] x29 x30
 *     [sp+96]  d8 d9     [sp+112] d10 d11  [sp+128] d12 d13  [sp+144] d14 d15
 *     [sp+160] FPCR, 8 bytes of padding
 * The handle of switch.h is that stack pointer.
 *
 * Not done: pointer authentication and BTI landing pads (the object carries
 * no such property, so the linker marks the program as not using them).
 * Written from the ABI, assembled with a cross toolchain, not run here. */

    .text

/* void tvl__ctx_switch(void **save, void *to)   x0 = save, x1 = to */
    .globl  tvl__ctx_switch
    .hidden tvl__ctx_switch
    .type   tvl__ctx_switch, %function
    .p2align 4
tvl__ctx_switch:
    .cfi_startproc
    sub     sp, sp, #176
    .cfi_def_cfa_offset 176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    .cfi_offset x19, -176
    .cfi_offset x20, -168
    .cfi_offset x21, -160
    .cfi_offset x22, -152
    .cfi_offset x23, -144
    .cfi_offset x24, -136
    .cfi_offset x25, -128
    .cfi_offset x26, -120
    .cfi_offset x27, -112
    .cfi_offset x28, -104
    .cfi_offset x29, -96
    .cfi_offset x30, -88
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    str     x9, [sp, #160]

    mov     x2, sp
    str     x2, [x0]
    /* From here sp is the other context's, whose frame has the same shape
     * (stored by this code, or laid out by tvl__ctx_make), so the CFI above
     * stays true. */
    mov     sp, x1

    /* Writing FPCR can stall the pipeline; almost every context uses the
     * same modes, so write it only on a change. */
    ldr     x10, [sp, #160]
    cmp     x9, x10
    b.eq    1f
    msr     fpcr, x10
1:
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #176
    .cfi_def_cfa_offset 0
    ret
    .cfi_endproc
    .size   tvl__ctx_switch, .-tvl__ctx_switch

/* First code of a new context: the switch "returned" here (x30) with
 * x19 = start, x20 = arg and sp 16-byte aligned. The CFI marks the outermost
 * frame so that unwinders stop here. */
    .type   fiber_trampoline, %function
    .p2align 4
fiber_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20
    blr     x19
    brk     #0x3e8          /* start must not return */
    .cfi_endproc
    .size   fiber_trampoline, .-fiber_trampoline

/* void *tvl__ctx_make(void *lo, size_t size, void (*start)(void *), void *arg)
 * x0 = lo, x1 = size, x2 = start, x3 = arg; returns the handle in x0.
 * Lays out a 176-byte frame below the 16-byte aligned top: all registers
 * zero except x19 = start, x20 = arg, x30 = fiber_trampoline, and FPCR
 * inherited from the creator. x29 = 0 ends the frame-pointer chain. */
    .globl  tvl__ctx_make
    .hidden tvl__ctx_make
    .type   tvl__ctx_make, %function
    .p2align 4
tvl__ctx_make:
    .cfi_startproc
    add     x0, x0, x1
    and     x0, x0, #-16
    sub     x0, x0, #176
    stp     x2, x3, [x0, #0]
    stp     xzr, xzr, [x0, #16]
    stp     xzr, xzr, [x0, #32]
    stp     xzr, xzr, [x0, #48]
    stp     xzr, xzr, [x0, #64]
    adr     x4, fiber_trampoline
    stp     xzr, x4, [x0, #80]
    stp     xzr, xzr, [x0, #96]
    stp     xzr, xzr, [x0, #112]
    stp     xzr, xzr, [x0, #128]
    stp     xzr, xzr, [x0, #144]
    mrs     x5, fpcr
    stp     x5, xzr, [x0, #160]
    ret
    .cfi_endproc
    .size   tvl__ctx_make, .-tvl__ctx_make

    .section .rodata
    .globl  tvl__ctx_backend
    .hidden tvl__ctx_backend
    .type   tvl__ctx_backend, %object
tvl__ctx_backend:
    .asciz  "aarch64"
    .size   tvl__ctx_backend, .-tvl__ctx_backend

    .section .note.GNU-stack,"",@progbits
