#!/bin/sh
# make_corpus.sh DIR - seed corpora for the fuzz targets from the test fixtures.
# DIR/table gets every fixture CSV; DIR/scenario gets the valid scenario as one input (parts
# split by "====" lines, as fuzz_scenario.c reads them) and one input per malformed fixture.
set -eu
out=$1
V=tests/data/scenario/valid
mkdir -p "$out/table" "$out/scenario"
for f in $(find tests/data -name '*.csv'); do
  cp "$f" "$out/table/$(echo "$f" | tr '/' '_')"
done
# parts ROLE FILE: the valid scenario with ROLE's CSV replaced by FILE (ROLE "ini": the INI)
parts() {
  first=1
  for r in scenario caseload history population provisions waves preferences costs; do
    [ $first = 1 ] || printf '\n====\n'
    first=0
    if [ "$r" = "$1" ]; then sed 's#\.\./valid/##' "$2"; else
      if [ $r = scenario ]; then cat $V/scenario.ini; else cat $V/$r.csv; fi
    fi
  done
}
parts none none > "$out/scenario/valid"
for ini in tests/data/scenario/bad/*.ini; do
  name=$(basename "$ini" .ini)
  csv=tests/data/scenario/bad/$name.csv
  if [ -f "$csv" ]; then
    role=$(sed -n "s#^\([a-z]*\) = $name\.csv\$#\1#p" "$ini")
    parts "$role" "$csv" > "$out/scenario/$name"
  else
    parts scenario "$ini" > "$out/scenario/$name"
  fi
done
