/*
 * SpiceUsr.h -- the part of the CSPICE user interface that GMAT R2026a's core
 * (as packaged by PyPI's gmatpy 0.2.0) compiles against.
 *
 * Written for gmat-sweep's scripts/build_real_gmat.sh from the public CSPICE
 * API documentation (the "Required Reading" for cells and windows and the
 * per-routine headers of the *_c functions listed below). It is NOT the NAIF
 * header: it declares only what GMAT's sources use, for the compiled
 * libcspice.so shipped inside PyPI's spiceypy 8.3.0 wheel (toolkit N0067,
 * 64-bit Linux, where SpiceInt and f2c's integer are 32-bit int).
 *
 * GMAT includes this file inside extern "C" { } itself. Nothing here is parsed
 * by SWIG. The build checks that every symbol GMAT's libraries end up needing
 * is exported by the library, and a self-test exercises the cell layout and
 * macros against the library before GMAT is built.
 */
#ifndef GMAT_SWEEP_SPICEUSR_H
#define GMAT_SWEEP_SPICEUSR_H

/* ------------------------------------------------------------------------
 * Scalar types (CSPICE's SpiceZdf.h names, 64-bit Linux sizes)
 * ------------------------------------------------------------------------ */
typedef char          SpiceChar;
typedef const char    ConstSpiceChar;
typedef double        SpiceDouble;
typedef const double  ConstSpiceDouble;
typedef float         SpiceFloat;
typedef const float   ConstSpiceFloat;
typedef int           SpiceInt;
typedef const int     ConstSpiceInt;
typedef int           SpiceBoolean;
typedef const int     ConstSpiceBoolean;

#define SPICETRUE   1
#define SPICEFALSE  0

/* ------------------------------------------------------------------------
 * Cells (see "CELLS Required Reading")
 *
 * A cell is a struct describing an array whose first SPICE_CELL_CTRLSZ
 * elements are the Fortran control area; `data` points just past it.
 * Layout (48 bytes): seven ints, padding, then the two pointers.
 * ------------------------------------------------------------------------ */
typedef enum _SpiceDataType
{
   SPICE_CHR  = 0,
   SPICE_DP   = 1,
   SPICE_INT  = 2,
   SPICE_TIME = 3,
   SPICE_BOOL = 4
} SpiceCellDataType;

typedef struct _SpiceCell
{
   SpiceCellDataType  dtype;   /* element type                          */
   SpiceInt           length;  /* string length (character cells only)  */
   SpiceInt           size;    /* capacity in elements                  */
   SpiceInt           card;    /* elements in use                       */
   SpiceBoolean       isSet;   /* elements form a set                   */
   SpiceBoolean       adjust;  /* (reserved for dynamic cells)          */
   SpiceBoolean       init;    /* control area has been synchronised    */
   void              *base;    /* start of the array, control area incl.*/
   void              *data;    /* first data element                    */
} SpiceCell;

typedef const SpiceCell ConstSpiceCell;

#define SPICE_CELL_CTRLSZ  6

/*
 * Declare a double precision or integer cell NAME able to hold SIZE elements.
 * The storage is static (as the toolkit's own declaration macros make it):
 * GMAT declares cells of 200000 doubles inside functions, far too large for
 * the stack, and resets them with scard_c(0, &cell) before use.
 */
#define SPICEDOUBLE_CELL( name, cellSize )                                   \
   static SpiceDouble gmat_sweep_cell_storage_##name                          \
                         [ SPICE_CELL_CTRLSZ + (cellSize) ];                  \
   static SpiceCell name =                                                   \
   {                                                                         \
      SPICE_DP, 0, (cellSize), 0, SPICETRUE, SPICEFALSE, SPICEFALSE,         \
      (void *) gmat_sweep_cell_storage_##name,                               \
      (void *) ( gmat_sweep_cell_storage_##name + SPICE_CELL_CTRLSZ )        \
   }

#define SPICEINT_CELL( name, cellSize )                                      \
   static SpiceInt gmat_sweep_cell_storage_##name                             \
                      [ SPICE_CELL_CTRLSZ + (cellSize) ];                     \
   static SpiceCell name =                                                   \
   {                                                                         \
      SPICE_INT, 0, (cellSize), 0, SPICETRUE, SPICEFALSE, SPICEFALSE,        \
      (void *) gmat_sweep_cell_storage_##name,                               \
      (void *) ( gmat_sweep_cell_storage_##name + SPICE_CELL_CTRLSZ )        \
   }

/* Unchecked element access (an lvalue), as documented for the toolkit. */
#define SPICE_CELL_ELEM_D( cell, i )  ( ( (SpiceDouble *) (cell)->data )[(i)] )
#define SPICE_CELL_ELEM_I( cell, i )  ( ( (SpiceInt    *) (cell)->data )[(i)] )

/*
 * Checked fetch and store. An index outside [0, card) for a fetch or
 * [0, size) for a store signals SPICE(INDEXOUTOFRANGE) through the toolkit's
 * error system (failed_c() is then true) and leaves the target untouched.
 */
#define SPICE_CELL_GET_D( cell, i, item )                                    \
   do                                                                        \
   {                                                                         \
      SpiceInt gmat_sweep_nth = (SpiceInt) (i);                              \
      if ( gmat_sweep_nth < 0 || gmat_sweep_nth >= (cell)->card )            \
      {                                                                      \
         setmsg_c ( "SPICE_CELL_GET_D: element index # is outside the "     \
                    "cell's cardinality #." );                               \
         errint_c ( "#", gmat_sweep_nth );                                   \
         errint_c ( "#", (cell)->card );                                     \
         sigerr_c ( "SPICE(INDEXOUTOFRANGE)" );                              \
      }                                                                      \
      else                                                                   \
      {                                                                      \
         *(item) = ( (SpiceDouble *) (cell)->data )[gmat_sweep_nth];         \
      }                                                                      \
   } while ( 0 )

#define SPICE_CELL_SET_D( item, i, cell )                                    \
   do                                                                        \
   {                                                                         \
      SpiceInt gmat_sweep_nth = (SpiceInt) (i);                              \
      if ( gmat_sweep_nth < 0 || gmat_sweep_nth >= (cell)->size )            \
      {                                                                      \
         setmsg_c ( "SPICE_CELL_SET_D: element index # is outside the "      \
                    "cell's size #." );                                      \
         errint_c ( "#", gmat_sweep_nth );                                   \
         errint_c ( "#", (cell)->size );                                     \
         sigerr_c ( "SPICE(INDEXOUTOFRANGE)" );                              \
      }                                                                      \
      else                                                                   \
      {                                                                      \
         ( (SpiceDouble *) (cell)->data )[gmat_sweep_nth] = (item);          \
      }                                                                      \
   } while ( 0 )

/* ------------------------------------------------------------------------
 * Other types and constants
 * ------------------------------------------------------------------------ */

/* CK type 5 subtypes (ckw05_c). */
typedef enum _SpiceCK05Subtype
{
   C05TP0 = 0,   /* Hermite, quaternions and their derivatives      */
   C05TP1 = 1,   /* Lagrange, quaternions only                      */
   C05TP2 = 2,   /* Hermite, quaternions, derivatives, ang. velocity */
   C05TP3 = 3    /* Lagrange, quaternions and angular velocity      */
} SpiceCK05Subtype;

/* Occultation types accepted by gfoclt_c. */
#define SPICE_GF_FULL     "FULL"
#define SPICE_GF_ANNULR   "ANNULAR"
#define SPICE_GF_PARTL    "PARTIAL"
#define SPICE_GF_ANY      "ANY"

/* ------------------------------------------------------------------------
 * Functions (alphabetical)
 * ------------------------------------------------------------------------ */
void         boddef_c ( ConstSpiceChar *name, SpiceInt code );
void         bodc2n_c ( SpiceInt code, SpiceInt lenout, SpiceChar *name,
                        SpiceBoolean *found );
void         bodn2c_c ( ConstSpiceChar *name, SpiceInt *code,
                        SpiceBoolean *found );
SpiceInt     card_c   ( SpiceCell *cell );
void         chkin_c  ( ConstSpiceChar *module );
void         chkout_c ( ConstSpiceChar *module );
void         ckcls_c  ( SpiceInt handle );
void         ckcov_c  ( ConstSpiceChar *ckfnm, SpiceInt idcode,
                        SpiceBoolean needav, ConstSpiceChar *level,
                        SpiceDouble tol, ConstSpiceChar *timsys,
                        SpiceCell *cover );
void         ckgpav_c ( SpiceInt inst, SpiceDouble sclkdp, SpiceDouble tol,
                        ConstSpiceChar *ref, SpiceDouble cmat[3][3],
                        SpiceDouble av[3], SpiceDouble *clkout,
                        SpiceBoolean *found );
void         ckobj_c  ( ConstSpiceChar *ckfnm, SpiceCell *ids );
void         ckopn_c  ( ConstSpiceChar *fname, ConstSpiceChar *ifname,
                        SpiceInt ncomch, SpiceInt *handle );
void         ckw05_c  ( SpiceInt handle, SpiceCK05Subtype subtyp,
                        SpiceInt degree, SpiceDouble begtim,
                        SpiceDouble endtim, SpiceInt inst,
                        ConstSpiceChar *ref, SpiceBoolean avflag,
                        ConstSpiceChar *segid, SpiceInt n,
                        ConstSpiceDouble sclkdp[], const void *packts,
                        SpiceDouble rate, SpiceInt nints,
                        ConstSpiceDouble starts[] );
void         copy_c   ( SpiceCell *cell, SpiceCell *copy );
SpiceBoolean eqstr_c  ( ConstSpiceChar *a, ConstSpiceChar *b );
void         erract_c ( ConstSpiceChar *op, SpiceInt lenout,
                        SpiceChar *action );
void         errdev_c ( ConstSpiceChar *op, SpiceInt lenout,
                        SpiceChar *device );
void         errint_c ( ConstSpiceChar *marker, SpiceInt number );
void         errprt_c ( ConstSpiceChar *op, SpiceInt lenout,
                        SpiceChar *list );
SpiceBoolean failed_c ( void );
void         ftncls_c ( SpiceInt unit );
void         furnsh_c ( ConstSpiceChar *file );
void         gdpool_c ( ConstSpiceChar *name, SpiceInt start, SpiceInt room,
                        SpiceInt *n, SpiceDouble *values,
                        SpiceBoolean *found );
void         getfat_c ( ConstSpiceChar *file, SpiceInt arclen,
                        SpiceInt typlen, SpiceChar *arch, SpiceChar *type );
void         getmsg_c ( ConstSpiceChar *option, SpiceInt lenout,
                        SpiceChar *msg );
void         gfoclt_c ( ConstSpiceChar *occtyp, ConstSpiceChar *front,
                        ConstSpiceChar *fshape, ConstSpiceChar *fframe,
                        ConstSpiceChar *back, ConstSpiceChar *bshape,
                        ConstSpiceChar *bframe, ConstSpiceChar *abcorr,
                        ConstSpiceChar *obsrvr, SpiceDouble step,
                        SpiceCell *cnfine, SpiceCell *result );
void         gfpa_c   ( ConstSpiceChar *target, ConstSpiceChar *illmn,
                        ConstSpiceChar *abcorr, ConstSpiceChar *obsrvr,
                        ConstSpiceChar *relate, SpiceDouble refval,
                        SpiceDouble adjust, SpiceDouble step,
                        SpiceInt nintvls, SpiceCell *cnfine,
                        SpiceCell *result );
void         gfposc_c ( ConstSpiceChar *target, ConstSpiceChar *frame,
                        ConstSpiceChar *abcorr, ConstSpiceChar *obsrvr,
                        ConstSpiceChar *crdsys, ConstSpiceChar *coord,
                        ConstSpiceChar *relate, SpiceDouble refval,
                        SpiceDouble adjust, SpiceDouble step,
                        SpiceInt nintvls, SpiceCell *cnfine,
                        SpiceCell *result );
void         gftfov_c ( ConstSpiceChar *inst, ConstSpiceChar *target,
                        ConstSpiceChar *tshape, ConstSpiceChar *tframe,
                        ConstSpiceChar *abcorr, ConstSpiceChar *obsrvr,
                        SpiceDouble step, SpiceCell *cnfine,
                        SpiceCell *result );
SpiceDouble  j2000_c  ( void );
void         kclear_c ( void );
SpiceDouble  phaseq_c ( SpiceDouble et, ConstSpiceChar *target,
                        ConstSpiceChar *illmn, ConstSpiceChar *obsrvr,
                        ConstSpiceChar *abcorr );
void         pxform_c ( ConstSpiceChar *from, ConstSpiceChar *to,
                        SpiceDouble et, SpiceDouble rotate[3][3] );
void         reset_c  ( void );
void         scard_c  ( SpiceInt card, SpiceCell *cell );
void         sce2c_c  ( SpiceInt sc, SpiceDouble et, SpiceDouble *sclkdp );
void         sctiks_c ( SpiceInt sc, ConstSpiceChar *clkstr,
                        SpiceDouble *ticks );
void         setmsg_c ( ConstSpiceChar *message );
void         sigerr_c ( ConstSpiceChar *message );
void         spkcls_c ( SpiceInt handle );
void         spkcov_c ( ConstSpiceChar *spkfnm, SpiceInt idcode,
                        SpiceCell *cover );
void         spkez_c  ( SpiceInt targ, SpiceDouble et, ConstSpiceChar *ref,
                        ConstSpiceChar *abcorr, SpiceInt obs,
                        SpiceDouble starg[6], SpiceDouble *lt );
void         spkezp_c ( SpiceInt targ, SpiceDouble et, ConstSpiceChar *ref,
                        ConstSpiceChar *abcorr, SpiceInt obs,
                        SpiceDouble ptarg[3], SpiceDouble *lt );
void         spkezr_c ( ConstSpiceChar *targ, SpiceDouble et,
                        ConstSpiceChar *ref, ConstSpiceChar *abcorr,
                        ConstSpiceChar *obs, SpiceDouble starg[6],
                        SpiceDouble *lt );
void         spkgeo_c ( SpiceInt targ, SpiceDouble et, ConstSpiceChar *ref,
                        SpiceInt obs, SpiceDouble state[6],
                        SpiceDouble *lt );
void         spkobj_c ( ConstSpiceChar *spkfnm, SpiceCell *ids );
void         spkopa_c ( ConstSpiceChar *file, SpiceInt *handle );
void         spkopn_c ( ConstSpiceChar *fname, ConstSpiceChar *ifname,
                        SpiceInt ncomch, SpiceInt *handle );
void         spkpos_c ( ConstSpiceChar *targ, SpiceDouble et,
                        ConstSpiceChar *ref, ConstSpiceChar *abcorr,
                        ConstSpiceChar *obs, SpiceDouble ptarg[3],
                        SpiceDouble *lt );
void         spkw08_c ( SpiceInt handle, SpiceInt body, SpiceInt center,
                        ConstSpiceChar *frame, SpiceDouble first,
                        SpiceDouble last, ConstSpiceChar *segid,
                        SpiceInt degree, SpiceInt n,
                        ConstSpiceDouble states[][6], SpiceDouble epoch1,
                        SpiceDouble step );
void         spkw13_c ( SpiceInt handle, SpiceInt body, SpiceInt center,
                        ConstSpiceChar *frame, SpiceDouble first,
                        SpiceDouble last, ConstSpiceChar *segid,
                        SpiceInt degree, SpiceInt n,
                        ConstSpiceDouble states[][6],
                        ConstSpiceDouble epochs[] );
void         ssize_c  ( SpiceInt size, SpiceCell *cell );
void         sxform_c ( ConstSpiceChar *from, ConstSpiceChar *to,
                        SpiceDouble et, SpiceDouble xform[6][6] );
ConstSpiceChar *tkvrsn_c ( ConstSpiceChar *item );
void         unload_c ( ConstSpiceChar *file );
SpiceInt     wncard_c ( SpiceCell *window );
void         wncond_c ( SpiceDouble left, SpiceDouble right,
                        SpiceCell *window );
void         wndifd_c ( SpiceCell *a, SpiceCell *b, SpiceCell *c );
void         wnfetd_c ( SpiceCell *window, SpiceInt n, SpiceDouble *left,
                        SpiceDouble *right );
void         wninsd_c ( SpiceDouble left, SpiceDouble right,
                        SpiceCell *window );
void         wnintd_c ( SpiceCell *a, SpiceCell *b, SpiceCell *c );

/*
 * Callers of the segment writers pass flat arrays of 6*n doubles; the
 * documented interface lets them do so, converting to the row type. These
 * function-like macros (not re-expanded inside their own replacement) make
 * that conversion for C++ callers, which would otherwise reject double*.
 */
#define GMAT_SWEEP_CONST_VEC6( p )  ( (ConstSpiceDouble (*)[6]) (p) )

#define spkw08_c( handle, body, center, frame, first, last, segid, degree,   \
                  n, states, epoch1, step )                                  \
   ( spkw08_c ( (handle), (body), (center), (frame), (first), (last),        \
                (segid), (degree), (n), GMAT_SWEEP_CONST_VEC6(states),       \
                (epoch1), (step) ) )

#define spkw13_c( handle, body, center, frame, first, last, segid, degree,   \
                  n, states, epochs )                                        \
   ( spkw13_c ( (handle), (body), (center), (frame), (first), (last),        \
                (segid), (degree), (n), GMAT_SWEEP_CONST_VEC6(states),       \
                (epochs) ) )

#endif /* GMAT_SWEEP_SPICEUSR_H */
