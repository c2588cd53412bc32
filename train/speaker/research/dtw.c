#include <math.h>
#include <stdlib.h>
/* DTW with steps (1,0),(0,1),(1,1) over a precomputed cost matrix d [n][m];
   returns the accumulated cost divided by (n+m). */
double dtw(const double *d, int n, int m, double *acc) {
    for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) {
        double c = d[i*m+j], best;
        if (i == 0 && j == 0) best = 0;
        else {
            best = INFINITY;
            if (i > 0 && acc[(i-1)*m+j] < best) best = acc[(i-1)*m+j];
            if (j > 0 && acc[i*m+j-1] < best) best = acc[i*m+j-1];
            if (i > 0 && j > 0 && acc[(i-1)*m+j-1] < best) best = acc[(i-1)*m+j-1];
        }
        acc[i*m+j] = best + c;
    }
    return acc[n*m-1] / (n + m);
}
