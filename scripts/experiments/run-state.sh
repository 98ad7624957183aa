# Sourced by the experiment scripts: whether a run is finished, and how to continue one that is not.
# An interrupted run (Ctrl-C, SIGTERM, --stop_after) writes its summary too, with "Interrupted": true,
# so a summary's presence alone does not mean the run is done.

# run_finished RUNS_DIR RUN: the run RUN (name_regularizer, or the SimNet's name) ran to its end.
run_finished() { grep -q '"Interrupted": false' "$1/$2_summary.json" 2>/dev/null; }

# resume_flags RUNS_DIR RUN: `--resume true` when an interrupted run left its _Last checkpoint, nothing otherwise.
resume_flags() { if [ -e "$1/$2_Last.safetensors" ]; then echo "--resume true"; fi; }

# settings_tag SETTINGS: the run-name part of a METHODS entry's settings (delta_alpha=0.001,delta_beta=0 gives
# delta_alpha0.001_delta_beta0); fashion_transfer_report.sh derives the same.
settings_tag() { local t="${1//=/}"; echo "${t//,/_}"; }
