#!/usr/bin/env bash
# Grades the repository checked out in the current folder, as GitHub
# Classroom runs it on every push: the repository is a class of one.
# Exit 0 with full marks, 1 otherwise; the reports are left in $OUT.
set -uo pipefail
start=${WSCONFORM_START:-"sh start.sh {port}"}
out=${OUT:-wsconform-grades}
name=${GITHUB_REPOSITORY:-submission}
name=${name##*/}

class=$(mktemp -d)
chmod 755 "$class"
mkdir "$class/$name"
cp -r . "$class/$name/"
chmod -R a+rX "$class"

# shellcheck disable=SC2086
wsconform grade --submissions "$class" --start "$start" --out "$out" --no-progress \
    ${WSCONFORM_ARGS:-} || exit 2

# The gradebook's only row: submission,points,max_points,status,chapters...
IFS=, read -r _ points max status _ < <(sed -n 2p "$out/grades.csv")
echo "wsconform: $points / $max points ($status)"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  {
    echo "### wsconform: $points / $max points ($status)"
    echo
    echo '```'
    cat "$out/grades.csv"
    echo '```'
  } >> "$GITHUB_STEP_SUMMARY"
fi
[ "$status" = ok ] && [ "$points" = "$max" ]
