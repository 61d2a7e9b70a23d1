/*
 * GmatSweepF2cTypes.h -- the f2c scalar types shared by f2c.h and SpiceZfc.h.
 *
 * Written for gmat-sweep's scripts/build_real_gmat.sh from the f2c
 * documentation ("A Fortran-to-C Converter", Feldman et al.): INTEGER and
 * LOGICAL map to a C integer type, REAL to float, DOUBLE PRECISION to double,
 * and hidden character-length arguments have type ftnlen. In the CSPICE
 * library shipped with PyPI's spiceypy 8.3.0 (64-bit Linux) integer, logical
 * and ftnlen are 32-bit int. Kept apart from f2c.h so that C++ code including
 * SpiceZfc.h does not get f2c.h's function-like macros (abs, min, max).
 */
#ifndef GMAT_SWEEP_F2C_TYPES_H
#define GMAT_SWEEP_F2C_TYPES_H

typedef int            integer;
typedef unsigned int   uinteger;
typedef char          *address;
typedef short int      shortint;
typedef float          real;
typedef double         doublereal;
typedef struct { real r, i; }       complex;
typedef struct { doublereal r, i; } doublecomplex;
typedef int            logical;
typedef short int      shortlogical;
typedef char           logical1;
typedef char           integer1;

typedef int            flag;
typedef int            ftnlen;
typedef int            ftnint;

#endif /* GMAT_SWEEP_F2C_TYPES_H */
