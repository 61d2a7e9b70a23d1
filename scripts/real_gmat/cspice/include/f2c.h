/*
 * f2c.h -- what f2c-translated Fortran (GMAT's msise90_sub.c) needs from the
 * f2c runtime bundled in CSPICE's libcspice.so (PyPI spiceypy 8.3.0).
 *
 * Written for gmat-sweep's scripts/build_real_gmat.sh from the f2c
 * documentation ("A Fortran-to-C Converter", Feldman et al., and libf2c's
 * documented I/O entry points). Not the netlib header: only the types,
 * macros and the formatted/list-directed WRITE control block that
 * msise90_sub.c uses. The runtime routines themselves (s_wsfe, do_fio, e_wsfe,
 * s_wsle, do_lio, e_wsle, pow_dd, r_lg10, r_mod) are declared by the
 * translated code, as f2c emits them.
 */
#ifndef GMAT_SWEEP_F2C_H
#define GMAT_SWEEP_F2C_H

#include "GmatSweepF2cTypes.h"

#define TRUE_  (1)
#define FALSE_ (0)

#define VOID void

/*
 * External I/O control list: the argument of s_wsfe / s_wsle (a Fortran
 * WRITE statement). Field order fixed by the runtime:
 *   cierr  -- an ERR= label is present
 *   ciunit -- the unit number
 *   ciend  -- an END= label is present
 *   cifmt  -- the format (text), or 0 for list-directed I/O
 *   cirec  -- the record number for direct access (0 otherwise)
 */
typedef struct
{
   flag    cierr;
   ftnint  ciunit;
   flag    ciend;
   char   *cifmt;
   ftnint  cirec;
} cilist;

/* Intrinsics that f2c expands inline. */
#define abs(x)     ( (x) >= 0 ? (x) : -(x) )
#define dabs(x)    ( (doublereal) abs(x) )
#define min(a, b)  ( (a) <= (b) ? (a) : (b) )
#define max(a, b)  ( (a) >= (b) ? (a) : (b) )
#define dmin(a, b) ( (doublereal) min(a, b) )
#define dmax(a, b) ( (doublereal) max(a, b) )

#endif /* GMAT_SWEEP_F2C_H */
