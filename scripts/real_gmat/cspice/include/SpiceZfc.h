/*
 * SpiceZfc.h -- prototypes of the f2c-translated (Fortran-level) CSPICE
 * routines that GMAT R2026a's kernel writers call directly, for the
 * libcspice.so shipped in PyPI's spiceypy 8.3.0.
 *
 * Written for gmat-sweep's scripts/build_real_gmat.sh from the public SPICE
 * documentation of the Fortran routines TXTOPR (open a text file for reading)
 * and SPCAC (add comments from a text unit to a binary kernel), with f2c's
 * calling convention: every argument by address, then one hidden ftnlen per
 * CHARACTER argument, in order; the result is the f2c "subroutine" int.
 * GMAT includes this file inside extern "C" { } itself.
 */
#ifndef GMAT_SWEEP_SPICEZFC_H
#define GMAT_SWEEP_SPICEZFC_H

#include "GmatSweepF2cTypes.h"
#include "SpiceUsr.h"

/* TXTOPR ( FNAME, UNIT ): open an existing text file, return its unit. */
int txtopr_ ( char *fname, integer *unit, ftnlen fname_len );

/* SPCAC ( HANDLE, UNIT, BMARK, EMARK ): copy comment text between the
   markers (blank = whole file) from UNIT into the kernel's comment area. */
int spcac_  ( integer *handle, integer *unit, char *bmark, char *emark,
              ftnlen bmark_len, ftnlen emark_len );

#endif /* GMAT_SWEEP_SPICEZFC_H */
