/* ipf.c - iterative proportional fitting of a three-way table, then controlled rounding.
 *
 * Fitting: each sweep rescales the cells behind every known margin cell (and behind every
 * row's lump of unknown cells) to its target, in the order ab, bc, ac, so ac holds exactly
 * when the sweep ends. Rounding treats the table as rows (a, c) by columns b: a 2-D table with
 * fixed row sums (ac) and column sums (b totals) can always be rounded exactly (floor, then
 * give the missing units along augmenting paths), and moves that add and take one unit on
 * the corners of a rectangle keep both while a local search brings ab and bc closer; where
 * no single rectangle helps, four-cell compound moves that change only bc (or only ab) do. */
#include "ipf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

enum { M_AB, M_AC, M_BC };

/* The geometry of one margin: rows i, columns j, summed-over axis k. */
typedef struct view {
    size_t ni, nj, nk;
    const double *t;         /* targets [ni * nj], NAN unknown */
    const double *row_total; /* [ni] or NULL */
} view;

static view view_of(const ipf_problem *p, int m)
{
    view v;

    if (m == M_AB) {
        v.ni = p->na; v.nj = p->nb; v.nk = p->nc; v.t = p->ab; v.row_total = p->a_total;
    } else if (m == M_AC) {
        v.ni = p->na; v.nj = p->nc; v.nk = p->nb; v.t = p->ac; v.row_total = p->a_total;
    } else {
        v.ni = p->nb; v.nj = p->nc; v.nk = p->na; v.t = p->bc; v.row_total = p->b_total;
    }
    return v;
}

static size_t cell_index(const ipf_problem *p, int m, size_t i, size_t j, size_t k)
{
    if (m == M_AB)
        return (i * p->nb + j) * p->nc + k;
    if (m == M_AC)
        return (i * p->nb + k) * p->nc + j;
    return (k * p->nb + i) * p->nc + j;
}

static double group_sum(const ipf_problem *p, int m, const double *x, size_t i, size_t j)
{
    view v = view_of(p, m);
    double s = 0.0;

    for (size_t k = 0; k < v.nk; k++)
        s += x[cell_index(p, m, i, j, k)];
    return s;
}

/* Scale the cells behind (i, j) so they sum to `target`; spread evenly if they are all 0. */
static void scale_group(const ipf_problem *p, int m, double *x, size_t i, size_t j,
                        double cur, double target)
{
    view v = view_of(p, m);

    for (size_t k = 0; k < v.nk; k++) {
        double *cell = &x[cell_index(p, m, i, j, k)];
        *cell = cur > 0.0 ? *cell * (target / cur) : target / (double)v.nk;
    }
}

/* The lump target of row i: its total less its known targets (never below 0), or NAN. */
static double lump_target(const view *v, size_t i)
{
    double known = 0.0;

    if (v->row_total == NULL || isnan(v->row_total[i]))
        return NAN;
    for (size_t j = 0; j < v->nj; j++)
        if (!isnan(v->t[i * v->nj + j]))
            known += v->t[i * v->nj + j];
    return v->row_total[i] > known ? v->row_total[i] - known : 0.0;
}

/* One pass over margin m: rescale (when `apply`) and return the largest residual before it. */
static double sweep(const ipf_problem *p, int m, double *x, int apply)
{
    view v = view_of(p, m);
    double worst = 0.0;

    if (v.t == NULL)
        return 0.0;
    for (size_t i = 0; i < v.ni; i++) {
        double lump = lump_target(&v, i), lump_cur = 0.0;

        for (size_t j = 0; j < v.nj; j++) {
            double t = v.t[i * v.nj + j], cur = group_sum(p, m, x, i, j);

            if (isnan(t)) {
                lump_cur += cur;
                continue;
            }
            worst = fmax(worst, fabs(cur - t));
            if (apply)
                scale_group(p, m, x, i, j, cur, t);
        }
        if (isnan(lump))
            continue;
        worst = fmax(worst, fabs(lump_cur - lump));
        if (!apply)
            continue;
        /* the unknown cells of the row move together: one factor for the whole lump */
        for (size_t j = 0; j < v.nj; j++) {
            if (!isnan(v.t[i * v.nj + j]))
                continue;
            if (lump_cur > 0.0)
                scale_group(p, m, x, i, j, 1.0, lump / lump_cur);
            else
                scale_group(p, m, x, i, j, 0.0, lump / (double)v.nj);
        }
    }
    return worst;
}

static int bad_targets(const double *t, size_t n)
{
    if (t == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(t[i]) && !(t[i] >= 0.0 && isfinite(t[i])))
            return 1;
    return 0;
}

sim_status ipf_fit(const ipf_problem *p, size_t max_iter, double tol, double *x,
                   ipf_fit_info *info, sim_error *err)
{
    size_t n = p->na * p->nb * p->nc;
    ipf_fit_info in = { 0, 0.0, 0 };

    if (n == 0)
        return sim_error_set(err, SIM_EDATA, NULL, 0, NULL, "IPF: a table dimension is 0");
    if (bad_targets(p->ab, p->na * p->nb) || bad_targets(p->ac, p->na * p->nc) ||
        bad_targets(p->bc, p->nb * p->nc) || bad_targets(p->a_total, p->na) ||
        bad_targets(p->b_total, p->nb))
        return sim_error_set(err, SIM_EDATA, NULL, 0, NULL,
                             "IPF: a margin target is negative or not finite");
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0;
    while (in.iterations < max_iter) {
        sweep(p, M_AB, x, 1);
        sweep(p, M_BC, x, 1);
        sweep(p, M_AC, x, 1);
        in.iterations++;
        in.max_residual = fmax(sweep(p, M_AB, x, 0), sweep(p, M_BC, x, 0));
        if (in.max_residual < tol) {
            in.converged = 1;
            break;
        }
    }
    if (info)
        *info = in;
    return SIM_OK;
}

/* ---- rounding ------------------------------------------------------------------------ */

void ipf_round_vector(const double *v, size_t n, long total, long *out)
{
    double sum = 0.0;
    long given = 0;

    for (size_t i = 0; i < n; i++)
        sum += v[i] > 0.0 ? v[i] : 0.0;
    for (size_t i = 0; i < n; i++) {
        double share = sum > 0.0 ? (v[i] > 0.0 ? v[i] : 0.0) * (double)total / sum
                                 : (double)total / (double)n;
        out[i] = (long)floor(share + 1e-9);
        given += out[i];
    }
    while (given < total) {     /* largest remainder first; ties to the lower index */
        size_t best = 0;
        double best_rem = -1.0;
        for (size_t i = 0; i < n; i++) {
            double share = sum > 0.0 ? (v[i] > 0.0 ? v[i] : 0.0) * (double)total / sum
                                     : (double)total / (double)n;
            double rem = share - (double)out[i];
            if (rem > best_rem + 1e-12) {
                best_rem = rem;
                best = i;
            }
        }
        out[best]++;
        given++;
    }
}

/* The working state of the rounding: rows r = a * nc + c, columns b. */
typedef struct rounder {
    const ipf_problem *p;
    const double *x;
    long   *out;
    long   *rowdef;       /* [na * nc] units a row still needs (negative: too many) */
    long   *coldef;       /* [nb] */
    double *dA;           /* [na * nb] current ab sum - target */
    double *dS;           /* [nb * nc] current bc sum - target */
} rounder;

static size_t idx_rb(const ipf_problem *p, size_t r, size_t b)
{
    return ((r / p->nc) * p->nb + b) * p->nc + r % p->nc;
}

/* Take units off rows, then columns, that have too many after flooring. */
static void remove_excess(rounder *w)
{
    const ipf_problem *p = w->p;
    size_t R = p->na * p->nc;

    for (size_t r = 0; r < R; r++)
        while (w->rowdef[r] < 0) {
            size_t best = p->nb;
            for (size_t b = 0; b < p->nb; b++) {
                size_t i = idx_rb(p, r, b);
                if (w->out[i] > 0 && (best == p->nb ||
                    w->x[i] - w->out[i] < w->x[idx_rb(p, r, best)] - w->out[idx_rb(p, r, best)]))
                    best = b;
            }
            w->out[idx_rb(p, r, best)]--;
            w->rowdef[r]++;
            w->coldef[best]++;
        }
    for (size_t b = 0; b < p->nb; b++)
        while (w->coldef[b] < 0) {
            size_t best = R;
            for (size_t r = 0; r < R; r++) {
                size_t i = idx_rb(p, r, b);
                if (w->out[i] > 0 && (best == R ||
                    w->x[i] - w->out[i] < w->x[idx_rb(p, best, b)] - w->out[idx_rb(p, best, b)]))
                    best = r;
            }
            w->out[idx_rb(p, best, b)]--;
            w->coldef[b]++;
            w->rowdef[best]++;
        }
}

typedef struct frac_cell { double frac; size_t r, b; } frac_cell;

static int by_frac_desc(const void *va, const void *vb)
{
    const frac_cell *a = va, *b = vb;

    if (a->frac != b->frac)
        return a->frac < b->frac ? 1 : -1;
    if (a->r != b->r)
        return a->r < b->r ? -1 : 1;
    return a->b < b->b ? -1 : (a->b > b->b);
}

/* Round up the cells with the largest fractions while their row and column both need it. */
static void greedy_fill(rounder *w)
{
    const ipf_problem *p = w->p;
    size_t R = p->na * p->nc, n = R * p->nb;
    frac_cell *f = xmalloc(n * sizeof *f);

    for (size_t r = 0; r < R; r++)
        for (size_t b = 0; b < p->nb; b++) {
            size_t i = idx_rb(p, r, b);
            f[r * p->nb + b] = (frac_cell){ w->x[i] - (double)w->out[i], r, b };
        }
    qsort(f, n, sizeof *f, by_frac_desc);
    for (size_t k = 0; k < n && f[k].frac > 1e-12; k++)
        if (w->rowdef[f[k].r] > 0 && w->coldef[f[k].b] > 0) {
            w->out[idx_rb(p, f[k].r, f[k].b)]++;
            w->rowdef[f[k].r]--;
            w->coldef[f[k].b]--;
        }
    free(f);
}

/* Breadth-first search from row r0 for a column with a deficit, through cells with x > 0:
 * a row reaches column b through its cell; a column reaches the rows with a unit to give up
 * in it. Returns the column found (prev_row / prev_col hold the path), or nb when none. */
static size_t search_path(const rounder *w, size_t r0, size_t *prev_col, size_t *prev_row)
{
    const ipf_problem *p = w->p;
    size_t R = p->na * p->nc, B = p->nb, *queue = xmalloc(R * sizeof *queue);
    size_t head = 0, tail = 0, found = B;

    for (size_t r = 0; r < R; r++)
        prev_col[r] = (size_t)-1;
    for (size_t b = 0; b < B; b++)
        prev_row[b] = (size_t)-1;
    prev_col[r0] = B;                    /* the root */
    queue[tail++] = r0;
    while (head < tail && found == B) {
        size_t r = queue[head++];
        for (size_t b = 0; b < B && found == B; b++) {
            if (prev_row[b] != (size_t)-1 || w->x[idx_rb(p, r, b)] <= 1e-12)
                continue;
            prev_row[b] = r;
            if (w->coldef[b] > 0) {
                found = b;
                break;
            }
            for (size_t r2 = 0; r2 < R; r2++)
                if (prev_col[r2] == (size_t)-1 && w->out[idx_rb(p, r2, b)] > 0) {
                    prev_col[r2] = b;
                    queue[tail++] = r2;
                }
        }
    }
    free(queue);
    return found;
}

/* Give row r one unit along a shortest path r -> b1 -> r1 -> b2 ... -> b (coldef[b] > 0) that
 * only raises cells the fit made positive and only lowers cells that hold a unit; failing
 * that, raise the cell of r in the needing column the fit likes best. */
static void augment_row(rounder *w, size_t r0, size_t *prev_col, size_t *prev_row)
{
    const ipf_problem *p = w->p;
    const size_t B = p->nb;
    size_t found = search_path(w, r0, prev_col, prev_row);

    if (found == B) {
        double best_x = -1.0;
        for (size_t b = 0; b < B; b++)
            if (w->coldef[b] > 0 && w->x[idx_rb(p, r0, b)] > best_x) {
                best_x = w->x[idx_rb(p, r0, b)];
                found = b;
            }
        w->out[idx_rb(p, r0, found)]++;
    } else {
        for (size_t b = found;;) {       /* walk back: raise (r, b), lower (r, prev b) */
            size_t r = prev_row[b];
            w->out[idx_rb(p, r, b)]++;
            if (r == r0)
                break;
            b = prev_col[r];
            w->out[idx_rb(p, r, b)]--;
        }
    }
    w->rowdef[r0]--;
    w->coldef[found]--;
}

static double ab_target(const rounder *w, size_t a, size_t b)
{
    const ipf_problem *p = w->p;
    double s = 0.0;

    if (p->ab && !isnan(p->ab[a * p->nb + b]))
        return p->ab[a * p->nb + b];
    for (size_t c = 0; c < p->nc; c++)      /* unknown: aim at the fit */
        s += w->x[(a * p->nb + b) * p->nc + c];
    return s;
}

static double bc_target(const rounder *w, size_t b, size_t c)
{
    const ipf_problem *p = w->p;
    double s = 0.0;

    if (p->bc && !isnan(p->bc[b * p->nc + c]))
        return p->bc[b * p->nc + c];
    for (size_t a = 0; a < p->na; a++)
        s += w->x[(a * p->nb + b) * p->nc + c];
    return s;
}

static void compute_devs(rounder *w)
{
    const ipf_problem *p = w->p;

    for (size_t a = 0; a < p->na; a++)
        for (size_t b = 0; b < p->nb; b++) {
            double s = 0.0;
            for (size_t c = 0; c < p->nc; c++)
                s += (double)w->out[(a * p->nb + b) * p->nc + c];
            w->dA[a * p->nb + b] = p->ab ? s - ab_target(w, a, b) : 0.0;
        }
    for (size_t b = 0; b < p->nb; b++)
        for (size_t c = 0; c < p->nc; c++) {
            double s = 0.0;
            for (size_t a = 0; a < p->na; a++)
                s += (double)w->out[(a * p->nb + b) * p->nc + c];
            w->dS[b * p->nc + c] = p->bc ? s - bc_target(w, b, c) : 0.0;
        }
}

/* Change in the sum of squared deviations when row r1 trades a unit of n2 for n1 and row r2
 * the reverse. Each margin cell moves by one; 2d + 1 is the change of d^2 going up by one. */
static double move_delta(const rounder *w, size_t r1, size_t r2, size_t n1, size_t n2)
{
    const ipf_problem *p = w->p;
    size_t a1 = r1 / p->nc, c1 = r1 % p->nc, a2 = r2 / p->nc, c2 = r2 % p->nc, nb = p->nb,
           nc = p->nc;
    double d = 0.0;

    if (a1 != a2 && p->ab)
        d += 4.0 + 2.0 * (w->dA[a1 * nb + n1] - w->dA[a1 * nb + n2] - w->dA[a2 * nb + n1] +
                          w->dA[a2 * nb + n2]);
    if (c1 != c2 && p->bc)
        d += 4.0 + 2.0 * (w->dS[n1 * nc + c1] - w->dS[n2 * nc + c1] - w->dS[n1 * nc + c2] +
                          w->dS[n2 * nc + c2]);
    return d;
}

static void apply_move(rounder *w, size_t r1, size_t r2, size_t n1, size_t n2)
{
    const ipf_problem *p = w->p;
    size_t a1 = r1 / p->nc, c1 = r1 % p->nc, a2 = r2 / p->nc, c2 = r2 % p->nc, nb = p->nb,
           nc = p->nc;

    w->out[idx_rb(p, r1, n1)]++;
    w->out[idx_rb(p, r1, n2)]--;
    w->out[idx_rb(p, r2, n1)]--;
    w->out[idx_rb(p, r2, n2)]++;
    w->dA[a1 * nb + n1] += 1; w->dA[a1 * nb + n2] -= 1;
    w->dA[a2 * nb + n1] -= 1; w->dA[a2 * nb + n2] += 1;
    w->dS[n1 * nc + c1] += 1; w->dS[n2 * nc + c1] -= 1;
    w->dS[n1 * nc + c2] -= 1; w->dS[n2 * nc + c2] += 1;
}

/* First-improvement search over rectangle moves until none improves (bounded). */
static size_t local_search(rounder *w, const long *ac_int)
{
    const ipf_problem *p = w->p;
    size_t R = p->na * p->nc, B = p->nb, n_act = 0, swaps = 0;
    size_t *act = xmalloc(R * sizeof *act);
    int improved = 1;

    if (p->ab == NULL && p->bc == NULL) {
        free(act);
        return 0;
    }
    for (size_t r = 0; r < R; r++)
        if (ac_int[r] > 0)
            act[n_act++] = r;
    compute_devs(w);
    while (improved && swaps < 1000000) {
        improved = 0;
        for (size_t n1 = 0; n1 < B; n1++)
            for (size_t n2 = 0; n2 < B; n2++) {
                if (n1 == n2)
                    continue;
                for (size_t i = 0; i < n_act; i++) {
                    size_t r1 = act[i];
                    for (size_t j = 0; j < n_act && w->out[idx_rb(p, r1, n2)] > 0; j++) {
                        size_t r2 = act[j];
                        if (r1 == r2 || w->out[idx_rb(p, r2, n1)] <= 0)
                            continue;
                        if (move_delta(w, r1, r2, n1, n2) < -1e-9) {
                            apply_move(w, r1, r2, n1, n2);
                            swaps++;
                            improved = 1;
                        }
                    }
                }
            }
    }
    free(act);
    return swaps;
}

/* Add `d` to cell (a, b, c) and keep the deviations in step. */
static void bump(rounder *w, size_t a, size_t b, size_t c, long d)
{
    const ipf_problem *p = w->p;

    w->out[(a * p->nb + b) * p->nc + c] += d;
    w->dA[a * p->nb + b] += (double)d;
    w->dS[b * p->nc + c] += (double)d;
}

static long cell_at(const rounder *w, size_t a, size_t b, size_t c)
{
    return w->out[(a * w->p->nb + b) * w->p->nc + c];
}

/* Moves of four cells that change need x setting only: trade n2 for n1 in (a1, c1) and back
 * in (a2, c2), and undo the need x age side in a third setting c3. Together with the mirror
 * image (need x age only, via a third age) they reach tables a single rectangle cannot. */
static int fix_ns(rounder *w, size_t n1, size_t n2, size_t c1, size_t c2)
{
    const ipf_problem *p = w->p;

    for (size_t a1 = 0; a1 < p->na; a1++) {
        if (cell_at(w, a1, n2, c1) <= 0)
            continue;
        for (size_t a2 = 0; a2 < p->na; a2++) {
            if (a2 == a1 || cell_at(w, a2, n1, c2) <= 0)
                continue;
            for (size_t c3 = 0; c3 < p->nc; c3++) {
                if (c3 == c1 || c3 == c2 || cell_at(w, a1, n1, c3) <= 0 ||
                    cell_at(w, a2, n2, c3) <= 0)
                    continue;
                bump(w, a1, n1, c1, 1); bump(w, a1, n2, c1, -1);
                bump(w, a2, n1, c2, -1); bump(w, a2, n2, c2, 1);
                bump(w, a1, n1, c3, -1); bump(w, a1, n2, c3, 1);
                bump(w, a2, n1, c3, 1); bump(w, a2, n2, c3, -1);
                return 1;
            }
        }
    }
    return 0;
}

static int fix_na(rounder *w, size_t n1, size_t n2, size_t a1, size_t a2)
{
    const ipf_problem *p = w->p;

    for (size_t c1 = 0; c1 < p->nc; c1++) {
        if (cell_at(w, a1, n2, c1) <= 0)
            continue;
        for (size_t c2 = 0; c2 < p->nc; c2++) {
            if (c2 == c1 || cell_at(w, a2, n1, c2) <= 0)
                continue;
            for (size_t a3 = 0; a3 < p->na; a3++) {
                if (a3 == a1 || a3 == a2 || cell_at(w, a3, n1, c1) <= 0 ||
                    cell_at(w, a3, n2, c2) <= 0)
                    continue;
                bump(w, a1, n1, c1, 1); bump(w, a1, n2, c1, -1);
                bump(w, a2, n1, c2, -1); bump(w, a2, n2, c2, 1);
                bump(w, a3, n1, c1, -1); bump(w, a3, n2, c1, 1);
                bump(w, a3, n1, c2, 1); bump(w, a3, n2, c2, -1);
                return 1;
            }
        }
    }
    return 0;
}

/* Apply improving four-cell moves until none is left (bounded). Returns the moves made. */
static size_t compound_search(rounder *w)
{
    const ipf_problem *p = w->p;
    size_t moves = 0, B = p->nb;
    int improved = 1;

    while (improved && moves < 100000) {
        improved = 0;
        for (size_t n1 = 0; n1 < B; n1++)
            for (size_t n2 = 0; n2 < B; n2++) {
                if (n1 == n2)
                    continue;
                for (size_t c1 = 0; p->bc && c1 < p->nc; c1++)
                    for (size_t c2 = 0; c2 < p->nc; c2++) {
                        double d = 4.0 + 2.0 * (w->dS[n1 * p->nc + c1] - w->dS[n2 * p->nc + c1] -
                                                w->dS[n1 * p->nc + c2] + w->dS[n2 * p->nc + c2]);
                        if (c1 != c2 && d < -1e-9 && fix_ns(w, n1, n2, c1, c2)) {
                            moves++;
                            improved = 1;
                        }
                    }
                for (size_t a1 = 0; p->ab && a1 < p->na; a1++)
                    for (size_t a2 = 0; a2 < p->na; a2++) {
                        double d = 4.0 + 2.0 * (w->dA[a1 * B + n1] - w->dA[a1 * B + n2] -
                                                w->dA[a2 * B + n1] + w->dA[a2 * B + n2]);
                        if (a1 != a2 && d < -1e-9 && fix_na(w, n1, n2, a1, a2)) {
                            moves++;
                            improved = 1;
                        }
                    }
            }
    }
    return moves;
}

static void measure(const ipf_problem *p, const long *out, ipf_round_info *info)
{
    for (size_t a = 0; p->ab && a < p->na; a++)
        for (size_t b = 0; b < p->nb; b++) {
            long s = 0, dev;
            if (isnan(p->ab[a * p->nb + b]))
                continue;
            for (size_t c = 0; c < p->nc; c++)
                s += out[(a * p->nb + b) * p->nc + c];
            dev = labs(s - lround(p->ab[a * p->nb + b]));
            if (dev > 0) {
                info->n_dev++;
                info->sum_abs_dev += dev;
                if (dev > info->max_dev)
                    info->max_dev = dev;
            }
        }
    for (size_t b = 0; p->bc && b < p->nb; b++)
        for (size_t c = 0; c < p->nc; c++) {
            long s = 0, dev;
            if (isnan(p->bc[b * p->nc + c]))
                continue;
            for (size_t a = 0; a < p->na; a++)
                s += out[(a * p->nb + b) * p->nc + c];
            dev = labs(s - lround(p->bc[b * p->nc + c]));
            if (dev > 0) {
                info->n_dev++;
                info->sum_abs_dev += dev;
                if (dev > info->max_dev)
                    info->max_dev = dev;
            }
        }
}

/* The two integer margins must be >= 0 and agree on the total. */
static sim_status check_round_targets(size_t R, const long *ac_int, size_t B, const long *b_int,
                                      sim_error *err)
{
    long sum_ac = 0, sum_b = 0;

    for (size_t r = 0; r < R; r++) {
        if (ac_int[r] < 0)
            return sim_error_set(err, SIM_EDATA, NULL, 0, NULL, "rounding: negative target");
        sum_ac += ac_int[r];
    }
    for (size_t b = 0; b < B; b++) {
        if (b_int[b] < 0)
            return sim_error_set(err, SIM_EDATA, NULL, 0, NULL, "rounding: negative target");
        sum_b += b_int[b];
    }
    if (sum_ac != sum_b)
        return sim_error_set(err, SIM_EDATA, NULL, 0, NULL,
                             "rounding: the two margins disagree on the total (%ld and %ld)",
                             sum_ac, sum_b);
    return SIM_OK;
}

/* Start from the floors of x, and the deficits they leave against each margin. */
static void round_down(rounder *w, size_t R, const long *ac_int, size_t B, const long *b_int)
{
    const ipf_problem *p = w->p;

    for (size_t i = 0; i < R * B; i++)
        w->out[i] = w->x[i] > 0.0 ? (long)floor(w->x[i] + 1e-9) : 0;
    for (size_t r = 0; r < R; r++) {
        w->rowdef[r] = ac_int[r];
        for (size_t b = 0; b < B; b++)
            w->rowdef[r] -= w->out[idx_rb(p, r, b)];
    }
    for (size_t b = 0; b < B; b++) {
        w->coldef[b] = b_int[b];
        for (size_t r = 0; r < R; r++)
            w->coldef[b] -= w->out[idx_rb(p, r, b)];
    }
}

sim_status ipf_round(const ipf_problem *p, const double *x, const long *ac_int,
                     const long *b_int, long *out, ipf_round_info *info, sim_error *err)
{
    size_t R = p->na * p->nc, B = p->nb;
    ipf_round_info in = { 0, 0, 0, 0 };
    rounder w = { p, x, out, NULL, NULL, NULL, NULL };
    size_t *prev_col, *prev_row;
    sim_status st = check_round_targets(R, ac_int, B, b_int, err);

    if (st != SIM_OK)
        return st;
    w.rowdef = xcalloc(R, sizeof *w.rowdef);
    w.coldef = xcalloc(B, sizeof *w.coldef);
    w.dA = xcalloc(p->na * B, sizeof *w.dA);
    w.dS = xcalloc(B * p->nc, sizeof *w.dS);
    prev_col = xmalloc(R * sizeof *prev_col);
    prev_row = xmalloc(B * sizeof *prev_row);
    round_down(&w, R, ac_int, B, b_int);
    remove_excess(&w);
    greedy_fill(&w);
    for (size_t r = 0; r < R; r++)
        while (w.rowdef[r] > 0)
            augment_row(&w, r, prev_col, prev_row);
    in.swaps = local_search(&w, ac_int);
    for (int round = 0; round < 10; round++) {   /* each search can unblock the other */
        size_t more = compound_search(&w);
        more += local_search(&w, ac_int);
        in.swaps += more;
        if (more == 0)
            break;
    }
    measure(p, out, &in);
    if (info)
        *info = in;
    free(w.rowdef);
    free(w.coldef);
    free(w.dA);
    free(w.dS);
    free(prev_col);
    free(prev_row);
    return SIM_OK;
}
