/* report_alloc.c - write shortfall.csv, provision.csv, cost.csv, waves.csv and compare.csv,
 * atomically (temporary name in the same directory, then rename). */
#include "report_alloc.h"

#include <stdlib.h>
#include <string.h>

#include "outdir.h"
#include "report.h"

/* A number cell with up to 3 decimals, as demand.csv has them. */
static void put_num(FILE *out, double v)
{
    char buf[64];

    report_number(v, buf, sizeof buf);
    fprintf(out, ",%s", buf);
}

/* A free-text cell (ids, wave names): quoted only when it must be. */
static void put_text(FILE *out, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* ALL first, then the codes: index k of the written order. */
static int all_first(int k, int n_codes) { return k == 0 ? n_codes : k - 1; }

static void put_gpn(FILE *out, int year, sim_group g, int ph, int n, const alloc_gpn_band *b)
{
    fprintf(out, "%d,%s,%s,%s", year, group_code(g),
            ph == ALLOC_ALL_PHASE ? "ALL" : phase_code((sim_phase)ph),
            n == ALLOC_ALL_NEED ? "ALL" : need_code((sim_need)n));
    put_num(out, b->capacity);
    put_num(out, b->demand_p50);
    put_num(out, b->demand_p90);
    put_num(out, b->shortfall_mean);
    put_num(out, b->shortfall_p50);
    put_num(out, b->shortfall_p90);
    put_num(out, b->p_shortfall);
    put_num(out, b->places_for_target);
    put_num(out, b->demand_p025);
    put_num(out, b->demand_p10);
    put_num(out, b->demand_p975);
    fputc('\n', out);
}

sim_status report_shortfall(FILE *out, const scenario *sc, const alloc_result *r)
{
    fputs("year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,shortfall_p50,"
          "shortfall_p90,p_shortfall,places_for_target,demand_p025,demand_p10,demand_p975\n",
          out);
    for (int h = 0; h <= alloc_result_horizon(r); h++)     /* h = 0: the census as placed */
        for (int g = 0; g < SIM_N_GROUPS; g++)
            for (int i = 0; i <= SIM_N_PHASES; i++)
                for (int k = 0; k <= SIM_N_NEEDS; k++) {
                    int ph = all_first(i, SIM_N_PHASES), n = all_first(k, SIM_N_NEEDS);
                    const alloc_gpn_band *b = alloc_get_gpn(r, h, (sim_group)g, ph, n);
                    if (b == NULL)
                        break;           /* a group without provisions has no rows */
                    if (i > 0 && k > 0 && b->capacity <= 0.0 && b->demand_p975 <= 0.0
                        && b->demand_mean <= 0.0)
                        continue;
                    put_gpn(out, sc->base_year + h, (sim_group)g, ph, n, b);
                }
    return ferror(out) ? SIM_EIO : SIM_OK;
}

sim_status report_provision(FILE *out, const scenario *sc, const alloc_result *r)
{
    fputs("year,provision_id,places,occupancy_mean,occupancy_p50,occupancy_p90,p_full\n", out);
    for (int h = 0; h <= alloc_result_horizon(r); h++)
        for (size_t p = 0; p < sc->n_provisions; p++) {
            const alloc_prov_band *b = alloc_get_prov(r, h, p);
            fprintf(out, "%d,", sc->base_year + h);
            put_text(out, sc->provisions[p].id);
            put_num(out, b->places);
            put_num(out, b->occupancy_mean);
            put_num(out, b->occupancy_p50);
            put_num(out, b->occupancy_p90);
            put_num(out, b->p_full);
            fputc('\n', out);
        }
    return ferror(out) ? SIM_EIO : SIM_OK;
}

sim_status report_cost(FILE *out, const scenario *sc, const alloc_result *r)
{
    fputs("year,setting,mean,p025,p10,p50,p90,p975\n", out);
    for (int h = 0; h <= alloc_result_horizon(r); h++)
        for (int k = 0; k <= SIM_N_SETTINGS + 1; k++) {
            /* ALL, the settings, then OOB (out of borough, a part of IS) */
            int s = k <= SIM_N_SETTINGS ? all_first(k, SIM_N_SETTINGS) : ALLOC_COST_OOB;
            const alloc_cost_band *b = alloc_get_cost(r, h, s);
            if (k > 0 && s != SET_IS && s != ALLOC_COST_OOB && b->p975 <= 0.0 && b->mean <= 0.0)
                continue;                /* no cost known or no pupils */
            fprintf(out, "%d,%s", sc->base_year + h,
                    s == ALLOC_COST_ALL ? "ALL" : s == ALLOC_COST_OOB ? "OOB"
                                        : setting_code((sim_setting)s));
            put_num(out, b->mean);
            put_num(out, b->p025);
            put_num(out, b->p10);
            put_num(out, b->p50);
            put_num(out, b->p90);
            put_num(out, b->p975);
            fputc('\n', out);
        }
    return ferror(out) ? SIM_EIO : SIM_OK;
}

sim_status report_waves(FILE *out, const alloc_wave_row *w, size_t n)
{
    fputs("wave,open_year,places,shortfall_reduction_mean,latest_safe_open_year,group,"
          "earliest_risk,earliest_risk_year\n", out);
    for (size_t i = 0; i < n; i++) {
        put_text(out, w[i].wave);
        fprintf(out, ",%d", w[i].open_year);
        put_num(out, w[i].places);
        put_num(out, w[i].reduction);
        if (w[i].latest_safe > 0)
            fprintf(out, ",%d", w[i].latest_safe);
        else
            fputc(',', out);
        fprintf(out, ",%s", group_code(w[i].group));
        put_num(out, w[i].earliest_risk);
        fprintf(out, ",%d\n", w[i].earliest_risk_year);
    }
    return ferror(out) ? SIM_EIO : SIM_OK;
}

sim_status report_compare(FILE *out, const alloc_compare_row *rows, size_t n)
{
    fputs("year,measure,a_mean,b_mean,diff_mean,diff_p05,diff_p95\n", out);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%d,%s", rows[i].year, alloc_measure_code(rows[i].measure));
        put_num(out, rows[i].a_mean);
        put_num(out, rows[i].b_mean);
        put_num(out, rows[i].diff_mean);
        put_num(out, rows[i].diff_p05);
        put_num(out, rows[i].diff_p95);
        fputc('\n', out);
    }
    return ferror(out) ? SIM_EIO : SIM_OK;
}

/* ---- atomic files ----------------------------------------------------------------------- */

/* What one file of report_alloc_write() or report_compare_write() is written from. */
typedef enum job_kind { JOB_SHORTFALL, JOB_PROVISION, JOB_COST, JOB_WAVES, JOB_COMPARE } job_kind;

typedef struct job_args {
    job_kind                 kind;
    const scenario          *sc;
    const alloc_result      *r;
    const alloc_wave_row    *waves;
    size_t                   n_waves;
    const alloc_compare_row *rows;
    size_t                   n_rows;
} job_args;

/* outdir's writer callback: the report its job names. */
static sim_status write_job(FILE *fp, const void *arg)
{
    const job_args *a = arg;

    switch (a->kind) {
    case JOB_SHORTFALL: return report_shortfall(fp, a->sc, a->r);
    case JOB_PROVISION: return report_provision(fp, a->sc, a->r);
    case JOB_COST:      return report_cost(fp, a->sc, a->r);
    case JOB_WAVES:     return report_waves(fp, a->waves, a->n_waves);
    default:            return report_compare(fp, a->rows, a->n_rows);
    }
}

sim_status report_alloc_write(const char *dir, const scenario *sc, const alloc_result *r,
                              const alloc_wave_row *waves, size_t n_waves, sim_error *err)
{
    const job_args a[4] = { { JOB_SHORTFALL, sc, r, waves, n_waves, NULL, 0 },
                            { JOB_PROVISION, sc, r, waves, n_waves, NULL, 0 },
                            { JOB_COST, sc, r, waves, n_waves, NULL, 0 },
                            { JOB_WAVES, sc, r, waves, n_waves, NULL, 0 } };
    const outdir_file files[4] = { { "shortfall.csv", write_job, &a[0] },
                                   { "provision.csv", write_job, &a[1] },
                                   { "cost.csv", write_job, &a[2] },
                                   { "waves.csv", write_job, &a[3] } };

    return outdir_write(dir, files, waves ? 4 : 3, err);
}

sim_status report_compare_write(const char *dir, const alloc_compare_row *rows, size_t n,
                                sim_error *err)
{
    const job_args a = { JOB_COMPARE, NULL, NULL, NULL, 0, rows, n };
    const outdir_file files[1] = { { "compare.csv", write_job, &a } };
    sim_status st = outdir_make(dir, err);

    return st != SIM_OK ? st : outdir_write(dir, files, 1, err);
}
