/* chart.h - the briefing pack: charts (PNG, SVG) and briefing.pdf drawn from a run's output CSVs.
 *
 * Charts read back the CSV files the run has already written (through table.h), so data flows
 * one way: summary -> report CSV -> chart. Each chart is drawn when its input file exists in
 * `outdir` and skipped when it does not (backtest.csv exists only after `sendsim backtest`).
 * Nothing is written until every check has passed, every file is first drawn under a
 * temporary name in `outdir` and renamed at the end, and on failure every temporary file is
 * removed, so a failed call leaves no new files behind.
 *
 * Input files and the rows each chart uses (columns as DESIGN.md "Outputs"; extra columns are
 * ignored; rows of other breakdowns are ignored):
 *   demand.csv     year,phase,need,setting,mean,sd,p025,p05,p10,p25,p50,p75,p90,p95,p975
 *     fan_total       rows phase=ALL need=ALL setting=ALL: years up to the base year are the
 *                     published history (p50), later years the projection bands.
 *     demand_by_need  rows phase=ALL setting=ALL need=<code>: `mean` by need (means add up,
 *                     medians do not, so the small needs are grouped as "Other needs" by
 *                     summing their means).
 *   shortfall.csv  year,group,phase,need,capacity,demand_p50,demand_p90,shortfall_mean,
 *                  shortfall_p50,shortfall_p90,p_shortfall,places_for_target
 *                  [,demand_p025,demand_p10,demand_p975]  (optional: when present the
 *                  capacity charts draw the 80% and 95% demand bands; without them, the
 *                  median and the 90th percentile line)
 *     capacity_<G>    rows group=G phase=ALL need=ALL, for each group with capacity > 0 in some
 *                     year, from the first year in the file (the run writes the base year):
 *                     top panel, capacity as a step line with the wave labels in rows above
 *                     every data value, demand_p50 and its bands; bottom panel, shortfall_p50
 *                     as hatched bars from zero ("children without a matching local place"),
 *                     with a note for years whose demand_p50 < capacity yet shortfall_p50 > 0
 *                     (places that do not match ages and needs); p_shortfall of the last year.
 *     shortfall_risk  rows phase!=ALL need=ALL, years after the base year: heat map of
 *                     p_shortfall by (group, phase).
 *     summary page    the headline row of the headline year: among (RP or SS, PRI/SEC/P16,
 *                     need) rows with p_shortfall >= risk_target, the largest shortfall_p50
 *                     (then any (group, phase, need) at risk; then the highest p_shortfall,
 *                     said to be within target); its places_for_target by the September before.
 *   waves.csv      wave,open_year,places,shortfall_reduction_mean,latest_safe_open_year[,group]
 *                  labels the capacity charts (by `group` when present; otherwise each rise in
 *                  capacity is labelled with its size) and feeds the summary page.
 *                  latest_safe_open_year may be empty when no year keeps the risk in target;
 *                  then optional earliest_risk,earliest_risk_year (the risk left with the wave
 *                  opening in September of the base year) explain it in the summary.
 *   cost.csv       year,setting,mean,p025,p10,p50,p90,p975 (pounds); setting is ALL, a setting
 *                  code or OOB (out of borough: pupils no local provision could take, a part
 *                  of IS, which is all independent and non-maintained special spend)
 *     cost            rows setting=ALL (all placements) and setting=OOB (out of borough); a
 *                     file without OOB rows shows IS instead, labelled independent special.
 *   backtest.csv   origin,horizon,year,band,actual,p025,p10,p50,p90,p975,ape,in80,in95
 *     backtest        rows band=ALL, one panel per horizon (up to 3).
 *   compare.csv    year,measure,a_mean,b_mean,diff_mean,diff_p05,diff_p95
 *     compare         (chart_compare only) measure is `shortfall`, `out_of_borough` or `spend`
 *                     (pounds); diff = B - A on common random numbers, diff_p05..diff_p95 its
 *                     90% band. Other measures are drawn with their code as the title.
 *
 * Outputs: NAME.png (pngcairo, 1200x720 pixels) and NAME.svg (svgcairo) for each chart drawn,
 * and briefing.pdf (pdfcairo, A4 landscape): a title page, a one-page summary, then every chart.
 *
 * PLplot keeps global state: call these from one thread at a time. */
#ifndef SENDSIM_CHART_H
#define SENDSIM_CHART_H

#include <stddef.h>
#include "status.h"

/* What the title page, the summary and each chart's source line say. All strings are borrowed
 * for the duration of the call; NULL strings get the default in brackets. */
typedef struct chart_meta {
    const char   *scenario;        /* scenario name ["scenario"] */
    const char   *la;              /* local authority, e.g. "Hackney (E09000012)" [""] */
    int           base_year;       /* last published January; 0: the last demand.csv year with
                                      sd 0 and p025 = p975 */
    long          replications;    /* runs behind every band (shown on each chart) */
    unsigned long seed;
    const char   *date;            /* date of the run, e.g. "2026-11-22" [today, UTC] */
    const char   *version;         /* [SENDSIM_VERSION] */
    const char   *source;          /* data sources, e.g. "DfE SEN2 2025, ONS 2022-based SNPP"
                                      ["sendsim scenario inputs"] */
    double        risk_target;     /* acceptable P(shortfall) [0.10 when 0] */
    int           headline_year;   /* year of the summary's headline [base_year + 5, within the
                                      years of shortfall.csv] */
    const char *const *notes;      /* extra sentences for the summary page (borrowed) */
    size_t        n_notes;
} chart_meta;

/* Draw every chart whose input CSV exists in `outdir` into `outdir` as NAME.png and NAME.svg,
 * and briefing.pdf. Returns SIM_OK; SIM_EIO (nothing written) when a cairo device is missing,
 * `outdir` is not a writable directory or an output name is taken by a directory; SIM_ENOENT
 * when demand.csv (which every pack needs) is absent; SIM_EDATA, naming file, line and column,
 * when an input CSV lacks a column or holds a bad value. On failure fills `err` (may be NULL)
 * and leaves no new file in `outdir`. */
sim_status chart_pack(const char *outdir, const chart_meta *meta, sim_error *err);

/* Every file chart_pack() can write for a run (each chart's .png and .svg, every group's
 * capacity chart, briefing.pdf; not the backtest chart), into names[0..max): how many. */
size_t chart_pack_files(char names[][32], size_t max);

/* Draw compare.png and compare.svg into `outdir` from `outdir`/compare.csv: per measure, both
 * scenarios' means (top) and the difference B - A with its 90% band (bottom). `name_a` and
 * `name_b` label the scenarios (NULL: "A", "B"); `meta` gives the source line (may be NULL).
 * Errors as chart_pack(); SIM_ENOENT when compare.csv is absent. */
sim_status chart_compare(const char *outdir, const char *name_a, const char *name_b,
                         const chart_meta *meta, sim_error *err);

/* The summary page's headline sentences, one a line ending in '\n', into buf[n] (truncated to
 * fit), from the CSVs in `outdir` as chart_pack() reads them; draws nothing, so main.c can also
 * print them. The first is about the headline row (above) of meta->headline_year, e.g. "In
 * 2030 there is an 86% chance that some secondary-age children with autistic spectrum disorder
 * (ASD) cannot get a matching local special school place: the median shortfall is 34 places,
 * and 87 more such places open by September 2029 would bring the risk under 10%." Then the
 * total, the need that grows most, the groups, spend and, when a wave has no safe date, why.
 * Sentences whose file is absent are left out. Errors as chart_pack(). */
sim_status chart_headlines(const char *outdir, const chart_meta *meta, char *buf, size_t n,
                           sim_error *err);

/* SIM_OK when PLplot has the output device `device` ("pngcairo", ...); otherwise SIM_EIO with a
 * message naming the missing device and the package that provides it. chart_pack() and
 * chart_compare() call it for each device before drawing. */
sim_status chart_check_device(const char *device, sim_error *err);

/* A title or line of page text made to fit `room` characters at character size `size`: up
 * to `room` code points are kept as they are at `size`; longer ones are shrunk, down to 70%
 * of `size`; longer still, they are cut to what fits at 70% and end in U+2026 (never inside
 * a UTF-8 character). Writes the text to out[0..n) and returns the size to draw it at. (A long
 * scenario name ran off the page.) */
double chart_fit_line(const char *s, size_t room, double size, char *out, size_t n);

#endif /* SENDSIM_CHART_H */
