#!/usr/bin/env bash
# backtest_all.sh - import every LA in the shared data and backtest each one; print per-LA and
# pooled tables and check issue 7's criteria. A script, not part of `make test` (about a minute).
#
#   tests/backtest_all.sh [--bin ./sendsim] [--data ../shared/data] [--origins 2016:2022]
#                         [--horizon 3] [--reps 2000] [--seed 1] [--keep DIR] [LA ...]
#
# With no LA codes it backtests every LA found in the 2022 release's caseload file. Pooled
# figures are computed from every LA's points (backtest_points.csv), not averaged from the
# per-LA summaries, so the median is a true median. Exit status 0 when every criterion holds,
# 1 when one fails, 2 when an import or backtest fails.
set -euo pipefail

BIN=${SENDSIM_BIN:-./sendsim}
DATA=../shared/data
ORIGINS=2016:2022
HORIZON=3
REPS=2000
SEED=1
KEEP=
LAS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --origins) ORIGINS=$2; shift 2 ;;
    --horizon) HORIZON=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "backtest_all.sh: unknown option $1" >&2; exit 64 ;;
    *) LAS+=("$1"); shift ;;
    esac
done

SEN2=$DATA/ehcp-sen2-2025-release
SEN2_2022=$DATA/ehcp-sen2-2022-release
[ -x "$BIN" ] || { echo "backtest_all.sh: $BIN is not an executable (use --bin)" >&2; exit 66; }
[ -d "$SEN2" ] && [ -d "$SEN2_2022" ] || { echo "backtest_all.sh: no SEN2 releases in $DATA" >&2; exit 66; }

if [ ${#LAS[@]} -eq 0 ]; then
    # Every LA with an old code in the 2022 release's age caseload file (column old_la_code).
    mapfile -t LAS < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "old_la_code") c = i; next }
                                c && $c ~ /^[0-9]+$/ { print $c }' "$SEN2_2022/sen2_age_caseload.csv" | sort -un)
fi

if [ -n "$KEEP" ]; then
    WORK=$KEEP
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/sendsim-backtest-all.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi

: >"$WORK/points.csv"
: >"$WORK/model.csv"
for la in "${LAS[@]}"; do
    if ! "$BIN" import --la "$la" --sen2 "$SEN2" --sen2-2022 "$SEN2_2022" --out "$WORK/$la" \
            >"$WORK/$la.import.log" 2>&1; then
        echo "backtest_all.sh: import of LA $la failed:" >&2
        cat "$WORK/$la.import.log" >&2
        exit 2
    fi
    ini=$(ls "$WORK/$la"/*.ini | head -1)
    if ! "$BIN" backtest "$ini" --origins "$ORIGINS" --horizon "$HORIZON" --reps "$REPS" \
            --seed "$SEED" --out "$WORK/$la/backtest" >"$WORK/$la.backtest.log" 2>&1; then
        echo "backtest_all.sh: backtest of LA $la failed:" >&2
        cat "$WORK/$la.backtest.log" >&2
        exit 2
    fi
    tail -n +2 "$WORK/$la/backtest/backtest_points.csv" | sed "s/^/$la,/" >>"$WORK/points.csv"
    tail -n +2 "$WORK/$la/backtest/backtest.csv" | sed "s/^/$la,/" >>"$WORK/model.csv"
done

echo "Backtest: ${#LAS[@]} LAs, origins $ORIGINS, horizons 1-$HORIZON, $REPS replications"
echo
echo "Per LA, total caseload: MAPE (%) by method and horizon; model 80%/95% coverage (all horizons)"
printf "%-6s" LA
for h in $(seq 1 "$HORIZON"); do
    for m in model last lastgrow meangr3 trend5; do printf " %8s" "$m$h"; done
done
printf " %6s %6s\n" cov80 cov95
awk -F, -v H="$HORIZON" '
    # points.csv: la,method,origin,horizon,year,band,actual,forecast,ape,pe
    FILENAME ~ /points/ && $6 == "ALL" { s[$1, $2, $4] += $9; n[$1, $2, $4]++; las[$1] = 1 }
    # model.csv: la,origin,horizon,year,band,actual,p025,p10,p50,p90,p975,ape,in80,in95
    FILENAME ~ /model/ && $5 == "ALL" { c80[$1] += $13; c95[$1] += $14; cn[$1]++ }
    END {
        split("model last last_growth mean_growth3 trend5", m, " ")
        for (la in las) {
            printf "%-6s", la
            for (h = 1; h <= H; h++) for (k = 1; k <= 5; k++)
                printf " %8.2f", n[la, m[k], h] ? s[la, m[k], h] / n[la, m[k], h] : -1
            printf " %5.0f%% %5.0f%%\n", 100 * c80[la] / cn[la], 100 * c95[la] / cn[la]
        }
    }' "$WORK/points.csv" "$WORK/model.csv" | sort

pooled() {  # $1 = ALL for the total, BANDS for the age bands
    awk -F, -v want="$1" '
        function med(key,   i, j, t, k) {
            k = n[key]
            for (i = 1; i <= k; i++) a[i] = v[key, i]
            for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
            # type 7: position (k - 1) / 2 from the first
            i = int((k - 1) / 2) + 1
            return (k % 2) ? a[i] : (a[i] + a[i + 1]) / 2
        }
        FILENAME ~ /points/ && (want == "ALL") == ($6 == "ALL") {
            key = $2 SUBSEP $4; n[key]++; v[key, n[key]] = $9; s[key] += $9; b[key] += $10
            keys[key] = 1
        }
        FILENAME ~ /model/ && (want == "ALL") == ($5 == "ALL") { c80[$3] += $13; c95[$3] += $14; cn[$3]++ }
        END {
            for (key in keys) {
                split(key, p, SUBSEP)
                cov = p[1] == "model" ? sprintf("%6.1f%% %6.1f%%", 100 * c80[p[2]] / cn[p[2]], 100 * c95[p[2]] / cn[p[2]]) : sprintf("%7s %7s", "-", "-")
                printf "%-13s %2d %5d %6.2f%% %6.2f%% %+6.2f%% %s\n", p[1], p[2], n[key], s[key] / n[key], med(key), b[key] / n[key], cov
            }
        }' "$WORK/points.csv" "$WORK/model.csv" | sort -k2,2n -k1,1
}

echo
echo "Pooled, total caseload (band ALL)"
printf "%-13s %2s %5s %7s %7s %7s %7s %7s\n" method h n MAPE MdAPE bias cover80 cover95
pooled ALL | tee "$WORK/pooled_total.txt"
echo
echo "Pooled, published age bands"
printf "%-13s %2s %5s %7s %7s %7s %7s %7s\n" method h n MAPE MdAPE bias cover80 cover95
pooled BANDS

# Issue 7's criteria, on the total: model MAPE <= best naive MAPE at each horizon; pooled 80%
# band holds 70-90% and 95% band 88-99% of the actuals (all horizons together).
echo
awk -F, '
    FILENAME ~ /points/ && $6 == "ALL" { s[$2, $4] += $9; n[$2, $4]++; if ($4 > H) H = $4 }
    FILENAME ~ /model/ && $5 == "ALL" { c80 += $13; c95 += $14; cn++ }
    END {
        ok = 1
        for (h = 1; h <= H; h++) {
            best = ""; bm = 1e300
            split("last last_growth mean_growth3 trend5", m, " ")
            for (k = 1; k <= 4; k++) if (n[m[k], h] && s[m[k], h] / n[m[k], h] < bm) { bm = s[m[k], h] / n[m[k], h]; best = m[k] }
            mm = s["model", h] / n["model", h]
            pass = mm <= bm + 1e-9
            ok = ok && pass
            printf "%s  h%d: model MAPE %.2f%% vs best naive (%s) %.2f%%\n", pass ? "PASS" : "FAIL", h, mm, best, bm
        }
        p80 = c80 / cn; p95 = c95 / cn
        pass = p80 >= 0.70 && p80 <= 0.90; ok = ok && pass
        printf "%s  80%% band holds %.1f%% of %d actuals (target 70-90%%)\n", pass ? "PASS" : "FAIL", 100 * p80, cn
        pass = p95 >= 0.88 && p95 <= 0.99; ok = ok && pass
        printf "%s  95%% band holds %.1f%% of %d actuals (target 88-99%%)\n", pass ? "PASS" : "FAIL", 100 * p95, cn
        exit ok ? 0 : 1
    }' "$WORK/points.csv" "$WORK/model.csv"
