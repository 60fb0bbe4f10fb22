/* The context switch for x86-64 (System V ABI): saves what a callee must
 * preserve, swaps stack pointers, restores the other side.
 *
 * Callee-saved per the ABI: rbx, rbp, r12-r15, rsp, the control bits of
 * MXCSR and the x87 control word (rounding mode, exception masks). Everything
 * else is caller-saved, so the C caller of tvl__ctx_switch has already
 * spilled what it needs. The signal mask is not switched: that would be a
 * syscall, which is what makes swapcontext slow.
 *
 * A suspended context's stack, from its saved stack pointer up:
 *     [sp+0]  MXCSR (4 bytes), x87 control word (2 bytes), 2 zero bytes
 *     [sp+8]  r15, r14, r13, r12, rbx, rbp
 *     [sp+56] return address
 * The handle of switch.h is that stack pointer.
 *
 * Not done: Intel CET shadow stacks (a ret to another stack's address would
 * fault). The object carries no CET property, so the linker marks the
 * program as not CET-enabled. */

    .text

/* void tvl__ctx_switch(void **save, void *to)   rdi = save, rsi = to */
    .globl  tvl__ctx_switch
    .hidden tvl__ctx_switch
    .type   tvl__ctx_switch, @function
    .p2align 4
tvl__ctx_switch:
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    pushq   $0              /* zeroed, so the slot compares as a whole */
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    (%rsp), %rax

    movq    %rsp, (%rdi)
    /* From here rsp is the other context's, whose frame has the same shape
     * (pushed by this code, or laid out by tvl__ctx_make), so the CFI above
     * stays true. */
    movq    %rsi, %rsp

    /* Loading MXCSR and the x87 control word costs about 2 ns a switch;
     * almost every context uses the same modes, so load only on a change. */
    cmpq    (%rsp), %rax
    jne     .Lload_fp_control
.Lfp_control_done:
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret
.Lload_fp_control:
    .cfi_adjust_cfa_offset 56
    .cfi_rel_offset %rbp, 48
    .cfi_rel_offset %rbx, 40
    .cfi_rel_offset %r12, 32
    .cfi_rel_offset %r13, 24
    .cfi_rel_offset %r14, 16
    .cfi_rel_offset %r15, 8
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    jmp     .Lfp_control_done
    .cfi_endproc
    .size   tvl__ctx_switch, .-tvl__ctx_switch

/* First code of a new context: the switch "returned" here with rbx = start,
 * r12 = arg and rsp 16-byte aligned. The CFI marks the outermost frame, so
 * debuggers and unwinders stop here instead of walking into garbage. */
    .type   fiber_trampoline, @function
    .p2align 4
fiber_trampoline:
    .cfi_startproc
    .cfi_undefined %rip
    movq    %r12, %rdi
    callq   *%rbx
    ud2                     /* start must not return */
    .cfi_endproc
    .size   fiber_trampoline, .-fiber_trampoline

/* void *tvl__ctx_make(void *lo, size_t size, void (*start)(void *), void *arg)
 * rdi = lo, rsi = size, rdx = start, rcx = arg; returns the handle in rax.
 * Lays out, below the 16-byte aligned top:
 *     top-8, top-16   zero (where the trampoline's frame begins; keeps the
 *                     trampoline's rsp aligned for its call)
 *     top-24          fiber_trampoline (popped by the switch's ret)
 *     top-32 .. -72   rbp = 0, rbx = start, r12 = arg, r13 = r14 = r15 = 0
 *     top-80          MXCSR and x87 control word, inherited from the creator */
    .globl  tvl__ctx_make
    .hidden tvl__ctx_make
    .type   tvl__ctx_make, @function
    .p2align 4
tvl__ctx_make:
    .cfi_startproc
    leaq    (%rdi,%rsi), %rax
    andq    $-16, %rax
    subq    $80, %rax
    movq    $0, 72(%rax)
    movq    $0, 64(%rax)
    leaq    fiber_trampoline(%rip), %r8
    movq    %r8, 56(%rax)
    movq    $0, 48(%rax)
    movq    %rdx, 40(%rax)
    movq    %rcx, 32(%rax)
    movq    $0, 24(%rax)
    movq    $0, 16(%rax)
    movq    $0, 8(%rax)
    movq    $0, (%rax)      /* the padding must be zero, see the compare */
    stmxcsr (%rax)
    fnstcw  4(%rax)
    ret
    .cfi_endproc
    .size   tvl__ctx_make, .-tvl__ctx_make

    .section .rodata
    .globl  tvl__ctx_backend
    .hidden tvl__ctx_backend
    .type   tvl__ctx_backend, @object
tvl__ctx_backend:
    .asciz  "x86_64"
    .size   tvl__ctx_backend, .-tvl__ctx_backend

    .section .note.GNU-stack,"",@progbits
