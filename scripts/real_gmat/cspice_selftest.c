/*
 * cspice_selftest.c -- checks the hand-written CSPICE declarations in
 * scripts/real_gmat/cspice/include against the libcspice.so they will be
 * linked with, before GMAT is built on them.
 *
 * A wrong struct layout, enum value or prototype does not fail to link; it
 * corrupts memory or returns nonsense at run time. So this program drives the
 * same kinds of calls GMAT makes -- cells and windows through the macros,
 * SPK coverage from a real kernel, segment writing with comments through the
 * f2c-level TXTOPR/SPCAC, the f2c formatted and list-directed WRITE runtime
 * used by MSISE-90 -- and compares every result with a known answer.
 *
 * Compiled twice by build_real_gmat.sh: as C (like msise90_sub.c) and as
 * C++ with the headers inside extern "C" (like GMAT's C++ sources).
 *
 * usage: cspice_selftest <expected toolkit version> <an SPK with Earth (399)>
 *        <scratch directory>
 * Exit status 0 and "cspice selftest: all N checks passed" on success.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "SpiceUsr.h"
#include "SpiceZfc.h"
#include "f2c.h"
/* f2c runtime entry points, declared as f2c-translated code declares them. */
integer s_wsfe ( cilist * );
integer do_fio ( integer *, char *, ftnlen );
integer e_wsfe ( void );
integer s_wsle ( cilist * );
integer do_lio ( integer *, integer *, char *, ftnlen );
integer e_wsle ( void );
double  pow_dd ( doublereal *, doublereal * );
double  r_lg10 ( real * );
double  r_mod  ( real *, real * );
#ifdef __cplusplus
}
#endif

static int checks = 0;
static int failures = 0;

static void check ( int ok, const char *what )
{
   ++checks;
   if ( !ok )
   {
      ++failures;
      fprintf ( stderr, "cspice selftest FAILED: %s\n", what );
   }
}

static void check_no_spice_error ( const char *where )
{
   char msg[1841];
   if ( failed_c() )
   {
      getmsg_c ( "LONG", (SpiceInt) sizeof msg, msg );
      fprintf ( stderr, "cspice selftest: SPICE error after %s: %s\n", where, msg );
      reset_c();
      check ( 0, where );
   }
}

static int near ( double a, double b ) { return fabs ( a - b ) <= 1e-12 * ( 1.0 + fabs ( b ) ); }

static void test_layout ( void )
{
   check ( sizeof ( SpiceInt ) == 4, "SpiceInt is 32-bit" );
   check ( sizeof ( integer ) == 4 && sizeof ( ftnlen ) == 4, "f2c integer/ftnlen are 32-bit" );
   check ( sizeof ( SpiceCell ) == 48, "sizeof(SpiceCell) == 48" );
   check ( offsetof ( SpiceCell, init ) == 24, "SpiceCell.init at offset 24" );
   check ( offsetof ( SpiceCell, base ) == 32, "SpiceCell.base at offset 32" );
   check ( offsetof ( SpiceCell, data ) == 40, "SpiceCell.data at offset 40" );
   check ( offsetof ( cilist, cifmt ) == 16 && sizeof ( cilist ) == 32, "cilist layout" );
}

static void test_version ( const char *expected )
{
   ConstSpiceChar *version = tkvrsn_c ( "TOOLKIT" );
   printf ( "cspice selftest: toolkit version %s\n", version );
   check ( strcmp ( version, expected ) == 0, "toolkit version matches the pinned one" );
}

static void test_windows ( void )
{
   SPICEDOUBLE_CELL ( win, 20 );
   SPICEDOUBLE_CELL ( other, 20 );
   SPICEDOUBLE_CELL ( result, 20 );
   SpiceDouble left, right, d = -1.0;
   char msg[200];

   scard_c ( 0, &win );
   wninsd_c ( 1.0, 3.0, &win );
   wninsd_c ( 7.0, 11.0, &win );
   wninsd_c ( 2.0, 5.0, &win );                 /* merges into [1, 5] */
   check_no_spice_error ( "wninsd_c" );
   check ( wncard_c ( &win ) == 2, "wncard_c after merging inserts" );
   check ( card_c ( &win ) == 4 && win.card == 4, "card_c and the synced card field" );
   check ( SPICE_CELL_ELEM_D ( &win, 0 ) == 1.0 && SPICE_CELL_ELEM_D ( &win, 1 ) == 5.0
           && SPICE_CELL_ELEM_D ( &win, 2 ) == 7.0 && SPICE_CELL_ELEM_D ( &win, 3 ) == 11.0,
           "SPICE_CELL_ELEM_D reads the window endpoints" );
   wnfetd_c ( &win, 1, &left, &right );
   check ( left == 7.0 && right == 11.0, "wnfetd_c second interval" );

   SPICE_CELL_GET_D ( &win, 3, &d );
   check ( d == 11.0, "SPICE_CELL_GET_D in range" );
   SPICE_CELL_SET_D ( 12.0, 3, &win );
   wnfetd_c ( &win, 1, &left, &right );
   check ( right == 12.0, "SPICE_CELL_SET_D is seen by the library" );

   /* out of range: signalled, target untouched */
   d = -1.0;
   SPICE_CELL_GET_D ( &win, 4, &d );
   check ( failed_c() && d == -1.0, "SPICE_CELL_GET_D out of range signals" );
   getmsg_c ( "SHORT", (SpiceInt) sizeof msg, msg );
   check ( strcmp ( msg, "SPICE(INDEXOUTOFRANGE)" ) == 0, "out-of-range short message" );
   reset_c();
   SPICE_CELL_SET_D ( 1.0, 20, &win );
   check ( failed_c(), "SPICE_CELL_SET_D out of range signals" );
   reset_c();

   wncond_c ( 0.5, 0.5, &win );                 /* [1.5, 4.5] [7.5, 11.5] */
   check ( near ( SPICE_CELL_ELEM_D ( &win, 0 ), 1.5 ) && near ( SPICE_CELL_ELEM_D ( &win, 3 ), 11.5 ),
           "wncond_c contracts" );

   scard_c ( 0, &other );
   wninsd_c ( 4.0, 8.0, &other );
   scard_c ( 0, &result );
   wnintd_c ( &win, &other, &result );          /* [4, 4.5] [7.5, 8] */
   check ( wncard_c ( &result ) == 2 && SPICE_CELL_ELEM_D ( &result, 0 ) == 4.0
           && SPICE_CELL_ELEM_D ( &result, 3 ) == 8.0, "wnintd_c" );
   scard_c ( 0, &result );
   wndifd_c ( &win, &other, &result );          /* [1.5, 4] [8, 11.5] */
   check ( wncard_c ( &result ) == 2 && SPICE_CELL_ELEM_D ( &result, 1 ) == 4.0
           && SPICE_CELL_ELEM_D ( &result, 2 ) == 8.0, "wndifd_c" );
   copy_c ( &win, &result );
   check ( card_c ( &result ) == 4 && SPICE_CELL_ELEM_D ( &result, 2 ) == 7.5, "copy_c" );
   ssize_c ( 10, &result );
   check ( result.size == 10, "ssize_c" );
   check_no_spice_error ( "window operations" );
}

static void test_bodies ( void )
{
   SpiceInt code = 0;
   SpiceBoolean found = SPICEFALSE;
   SpiceChar name[40];

   bodn2c_c ( "EARTH", &code, &found );
   check ( found && code == 399, "bodn2c_c EARTH" );
   bodc2n_c ( 301, (SpiceInt) sizeof name, name, &found );
   check ( found && strcmp ( name, "MOON" ) == 0, "bodc2n_c 301" );
   boddef_c ( "GMAT_SWEEP_TEST_BODY", -424242 );
   bodn2c_c ( "gmat_sweep_test_body", &code, &found );
   check ( found && code == -424242, "boddef_c then bodn2c_c" );
   check ( eqstr_c ( "Earth ", " EARTH" ) && !eqstr_c ( "EARTH", "MOON" ), "eqstr_c" );
   check ( j2000_c() == 2451545.0, "j2000_c" );
   check_no_spice_error ( "body names" );
}

static void test_spk ( const char *spk, const char *scratch )
{
   SPICEINT_CELL ( ids, 200 );
   SPICEDOUBLE_CELL ( cover, 2000 );
   SpiceInt i, handle = 0;
   integer unit = 0;
   int has_earth = 0;
   SpiceChar arch[8], type[8];
   char written[1024], comments[1024], blank[2] = " ";
   FILE *txt;
   double states[12];
   double epochs[2] = { 0.0, 86400.0 };

   getfat_c ( spk, (SpiceInt) sizeof arch, (SpiceInt) sizeof type, arch, type );
   check ( strcmp ( arch, "DAF" ) == 0 && strcmp ( type, "SPK" ) == 0, "getfat_c on the SPK" );

   scard_c ( 0, &ids );
   spkobj_c ( spk, &ids );
   check_no_spice_error ( "spkobj_c" );
   check ( card_c ( &ids ) > 0, "spkobj_c found bodies" );
   for ( i = 0; i < card_c ( &ids ); ++i )
      if ( SPICE_CELL_ELEM_I ( &ids, i ) == 399 )
         has_earth = 1;
   check ( has_earth, "SPICE_CELL_ELEM_I finds Earth (399) in the SPK" );

   scard_c ( 0, &cover );
   spkcov_c ( spk, 399, &cover );
   check_no_spice_error ( "spkcov_c" );
   check ( wncard_c ( &cover ) >= 1 && SPICE_CELL_ELEM_D ( &cover, 0 ) < SPICE_CELL_ELEM_D ( &cover, 1 ),
           "spkcov_c gives a coverage window for Earth" );

   /* Write a type 13 and a type 8 segment, then comments, as GMAT does. */
   snprintf ( written, sizeof written, "%s/selftest.bsp", scratch );
   snprintf ( comments, sizeof comments, "%s/selftest-comments.txt", scratch );
   remove ( written );
   txt = fopen ( comments, "w" );
   if ( txt == NULL ) { check ( 0, "open comment file" ); return; }
   fprintf ( txt, "written by gmat-sweep's cspice selftest\n" );
   fclose ( txt );
   for ( i = 0; i < 12; ++i ) states[i] = ( i % 6 < 3 ) ? 7000.0 + i : 0.0;

   spkopn_c ( written, "gmat-sweep selftest", 100, &handle );
   spkw13_c ( handle, -10001, 399, "J2000", 0.0, 86400.0, "SEG13", 1, 2, states, epochs );
   spkw08_c ( handle, -10002, 399, "J2000", 0.0, 86400.0, "SEG08", 1, 2, states, 0.0, 86400.0 );
   txtopr_ ( comments, &unit, (ftnlen) strlen ( comments ) );
   spcac_ ( &handle, &unit, blank, blank, 1, 1 );
   ftncls_c ( unit );
   spkcls_c ( handle );
   check_no_spice_error ( "writing an SPK with comments" );

   scard_c ( 0, &cover );
   spkcov_c ( written, -10001, &cover );
   check ( wncard_c ( &cover ) == 1 && SPICE_CELL_ELEM_D ( &cover, 1 ) == 86400.0,
           "spkw13_c segment coverage" );
   scard_c ( 0, &cover );
   spkcov_c ( written, -10002, &cover );
   check ( wncard_c ( &cover ) == 1 && SPICE_CELL_ELEM_D ( &cover, 1 ) == 86400.0,
           "spkw08_c segment coverage" );
   check_no_spice_error ( "reading the written SPK" );
   remove ( written );
   remove ( comments );
}

static void test_f2c ( void )
{
   static char fmt[] = "(1x,'f2c formatted',i5,f8.3)";
   cilist formatted = { 0, 6, 0, fmt, 0 };
   cilist listed = { 0, 6, 0, 0, 0 };
   integer one = 1, type_char = 9, type_real = 4, number = 42;
   real value = 1.5f, hundred = 100.0f, x = 7.5f, y = 2.0f;
   doublereal two = 2.0, ten = 10.0;

   fflush ( stdout );
   s_wsfe ( &formatted );
   do_fio ( &one, (char *) &number, (ftnlen) sizeof ( integer ) );
   do_fio ( &one, (char *) &value, (ftnlen) sizeof ( real ) );
   e_wsfe();
   s_wsle ( &listed );
   do_lio ( &type_char, &one, (char *) "f2c list-directed", (ftnlen) 17 );
   do_lio ( &type_real, &one, (char *) &value, (ftnlen) sizeof ( real ) );
   e_wsle();
   fflush ( stdout );

   check ( pow_dd ( &two, &ten ) == 1024.0, "pow_dd" );
   check ( near ( r_lg10 ( &hundred ), 2.0 ), "r_lg10" );
   check ( r_mod ( &x, &y ) == 1.5, "r_mod" );
   check ( dmax ( 1.0f, 2.5 ) == 2.5 && dabs ( -3 ) == 3.0, "f2c intrinsic macros" );
}

int main ( int argc, char **argv )
{
   char action[] = "RETURN", device[] = "NULL", list[] = "NONE";

   if ( argc != 4 )
   {
      fprintf ( stderr, "usage: %s TOOLKIT_VERSION SPK SCRATCH_DIR\n", argv[0] );
      return 2;
   }
   /* Report errors through failed_c/getmsg_c instead of aborting, as GMAT does. */
   erract_c ( "SET", 0, action );
   errdev_c ( "SET", 0, device );
   errprt_c ( "SET", 0, list );

   test_layout();
   test_version ( argv[1] );
   test_windows();
   test_bodies();
   test_spk ( argv[2], argv[3] );
   test_f2c();

   kclear_c();
   if ( failures )
   {
      fprintf ( stderr, "cspice selftest: %d of %d checks failed\n", failures, checks );
      return 1;
   }
   printf ( "cspice selftest: all %d checks passed\n", checks );
   return 0;
}
