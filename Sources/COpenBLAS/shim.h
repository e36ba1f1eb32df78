#include <cblas.h>
// LAPACK routines used by RecLab (OpenBLAS exports the Fortran symbols).
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// glibc's allocator tuning (mallopt), used by RecTensor to keep freed training buffers in the heap.
#include <malloc.h>
char *openblas_get_corename(void);
