# tranova gym: ingest the shipped assays, add two models' scores, eval, and check the
# report files exist and parse; plus the failure modes (missing/bad assays, bad scores,
# unwritable outputs) leave nothing half-written.
source "$(dirname "$0")/cli_lib.sh" "$@"

REF="$DATA/gym/DMS_substitutions_subset.csv"   # 6 assays listed, 5 shipped
ASSAYS="$DATA/gym/assays"

run "$TRANOVA" gym --help
expect_rc 0
expect_out "ingest"
expect_out "eval"

# --- ingest ------------------------------------------------------------------------
run "$TRANOVA" gym ingest --reference "$REF" --assays "$ASSAYS" -o gym.h5
expect_rc 1
expect_err "1 of 6 assays listed"
expect_err "--only-present"
expect_one_line_err_q() { run "$@" --quiet; expect_rc 1; expect_one_line_err; }
expect_one_line_err_q "$TRANOVA" gym ingest --reference "$REF" --assays "$ASSAYS" -o gym.h5
expect_no_file gym.h5
expect_no_temp .

# A wrong wild-type letter is reported with file and line.
mkdir bad
cp "$ASSAYS"/*.csv bad/
sed -i '3s/^H24P,/Q24P,/' bad/BLAT_ECOLX_Jacquier_2013.csv
run "$TRANOVA" gym ingest --reference "$REF" --assays bad -o gym.h5 --only-present --quiet
expect_rc 1
expect_err "BLAT_ECOLX_Jacquier_2013.csv:3"
expect_err "expects wild-type Q at position 24 but target_seq has H"
expect_one_line_err
expect_no_file gym.h5
expect_no_temp .
cp "$ASSAYS"/BLAT_ECOLX_Jacquier_2013.csv bad/
sed -i '5s/,-0.25,/,oops,/' bad/BLAT_ECOLX_Jacquier_2013.csv
run "$TRANOVA" gym ingest --reference "$REF" --assays bad -o gym.h5 --only-present --quiet
expect_rc 1
expect_err "BLAT_ECOLX_Jacquier_2013.csv:5: DMS_score 'oops'"

run "$TRANOVA" gym ingest --reference "$REF" --assays "$ASSAYS" -o no/such/dir/gym.h5 --only-present --quiet
expect_rc 1
expect_one_line_err

run "$TRANOVA" gym ingest --reference "$REF" --assays "$ASSAYS" -o gym.h5 --only-present
expect_rc 0
expect_err "SCN5A_HUMAN_Glazer_2019"
expect_err "5 substitutions assays, 3106 variants"
expect_file gym.h5

# --- add ---------------------------------------------------------------------------
# Model 1: a folder of <DMS_id>.csv with avg_score (the layout `tranova score` writes).
mkdir noisy
for f in "$ASSAYS"/*.csv; do
  awk -F, 'BEGIN{srand(7); OFS=","} NR==1{print "mutant","avg_score"; next} {print $1, $3 + 2*(rand()-0.5)}' "$f" >"noisy/$(basename "$f")"
done
# Model 2: one CSV with a DMS_id column; a duplicated row to be averaged; one assay covered partly.
awk -F, 'BEGIN{srand(3); OFS=","; print "DMS_id","mutant","score"}
  FNR==1{id=FILENAME; sub(/.*\//,"",id); sub(/\.csv$/,"",id); next}
  id=="KCNH2_HUMAN_Kozek_2020" && FNR>100 {next}
  {print id,$1,rand()}' "$ASSAYS"/*.csv >random.csv
sed -n 2p random.csv >>random.csv

run "$TRANOVA" gym add gym.h5 --model noisy --scores noisy/ --model-type "toy model"
expect_rc 0
expect_err "added model 'noisy' for 5 assays"
run "$TRANOVA" gym add gym.h5 --model random --scores random.csv --column score
expect_rc 0
expect_err "dropped for 1 assays"
expect_err "KCNH2_HUMAN_Kozek_2020 (99 of 200 variants)"
expect_err "added model 'random' for 4 assays"
run "$TRANOVA" gym add gym.h5 --model noisy --scores noisy/ --quiet
expect_rc 1
expect_err "already has predictions for model 'noisy'"
run "$TRANOVA" gym add gym.h5 --model other --scores random.csv --quiet
expect_rc 1
expect_err "missing score column 'avg_score'"
expect_one_line_err
run "$TRANOVA" gym add gym.h5 --model a/b --scores random.csv --column score --quiet
expect_rc 1
run "$TRANOVA" gym add gym.h5 --model x --scores random.csv --directionality 2
expect_rc 2
expect_no_temp .

# --- eval --------------------------------------------------------------------------
run "$TRANOVA" gym eval gym.h5 -o report --bootstrap 500 --seed 1
expect_rc 0
expect_err "top model by Spearman: noisy"
for f in per_assay.csv summary.csv summary.md gym_summary_mqc.tsv scatter_spearman.svg function_Spearman.svg \
         Spearman/DMS_substitutions_Spearman_DMS_level.csv Spearman/Summary_performance_DMS_substitutions_Spearman.csv \
         AUC/Summary_performance_DMS_substitutions_AUC.csv MCC/DMS_substitutions_MCC_Uniprot_Selection_Type_level.csv \
         NDCG/DMS_substitutions_NDCG_DMS_level.csv Top_recall/Summary_performance_DMS_substitutions_Top_recall.csv \
         Spearman/DMS_substitutions_Spearman_Uniprot_level.csv MCC/DMS_substitutions_MCC_Uniprot_level.csv; do
  expect_file "report/$f"
done
expect_no_temp report
# per_assay.csv: header + one row per (model, assay) = 10 rows of 7 fields, numbers or empty.
if [ "$(head -1 report/per_assay.csv)" = "model,DMS_id,Spearman,AUC,MCC,NDCG,Top_recall" ]; then _pass; else _fail "per_assay.csv header"; fi
if awk -F, 'NR>1 && (NF!=7 || $3 !~ /^-?[0-9.]*$/) {bad=1} END{exit bad || NR!=11}' report/per_assay.csv; then _pass; else _fail "per_assay.csv rows"; fi
# KCNH2 is absent for 'random' (strict subset) -> empty metrics.
if grep -q '^random,KCNH2_HUMAN_Kozek_2020,,,,,$' report/per_assay.csv; then _pass; else _fail "dropped assay not empty"; fi
if awk -F, 'NR==1 && $1=="model" && $4=="Average_Spearman" {h=1} END{exit !(h && NR==3)}' report/summary.csv; then _pass; else _fail "summary.csv"; fi
if head -1 report/Spearman/Summary_performance_DMS_substitutions_Spearman.csv | grep -q '^Model_rank,Model_name,Model type,Average_Spearman,Bootstrap_standard_error_Spearman,Function_Activity'; then _pass; else _fail "official summary header"; fi
if grep -q '^1,noisy,toy model,' report/Spearman/Summary_performance_DMS_substitutions_Spearman.csv; then _pass; else _fail "official summary row"; fi
if grep -q "^# id: 'tranova_gym_summary'" report/gym_summary_mqc.tsv && grep -q "^Model	Rank	Spearman" report/gym_summary_mqc.tsv; then _pass; else _fail "mqc header"; fi
for s in report/*.svg; do
  if head -1 "$s" | grep -q '^<svg xmlns' && tail -1 "$s" | grep -q '^</svg>$'; then _pass; else _fail "svg $s"; fi
done
# Well-formed and renderable (xmllint and rsvg-convert come from scripts/install-deps).
for s in report/*.svg; do
  xmllint --noout "$s" && _pass || _fail "xmllint $s"
  rsvg-convert -o "$WORK/plot.png" "$s" && [ -s "$WORK/plot.png" ] && _pass || _fail "rsvg-convert $s"
done
# Uniprot_level: header ends with the four labels, the last (Average) row has none.
U=report/Spearman/DMS_substitutions_Spearman_Uniprot_level.csv
if head -1 "$U" | grep -q ',Selection Type,UniProt_ID,MSA_Neff_L_category,Taxon$' && tail -1 "$U" | grep -q ',,,$'; then _pass; else _fail "Uniprot_level layout"; fi
# Same seed, same bootstrap; --models and --scatter.
run "$TRANOVA" gym eval gym.h5 -o report2 --bootstrap 500 --seed 1 --models random,noisy --scatter random,noisy --ndcg-ties stable
expect_rc 0
if cmp -s report/summary.csv report2/summary.csv; then _pass; else _fail "summary not reproducible with the same seed"; fi
run "$TRANOVA" gym eval gym.h5 -o report3 --models nope --quiet
expect_rc 1
expect_err "no predictions for model 'nope'"
run "$TRANOVA" gym eval gym.h5 -o /proc/no/such --quiet
expect_rc 1
expect_one_line_err
run "$TRANOVA" gym eval "$REF" -o report4 --quiet
expect_rc 1
expect_err "not an HDF5 file"

# --- clinical ----------------------------------------------------------------------
awk -F, 'BEGIN{OFS=","; print "DMS_id","mutant","DMS_bin_score"} NR>1 {print "NP_TEST.1",$1,($4==1?"Benign":"Pathogenic")}' \
  "$ASSAYS/BLAT_ECOLX_Jacquier_2013.csv" >clinvar.csv
awk -F, 'BEGIN{OFS=","} NR==1{print "DMS_id","mutant","avg_score";next} {print "NP_TEST.1",$1,$2}' \
  noisy/BLAT_ECOLX_Jacquier_2013.csv >clin_scores.csv
run "$TRANOVA" gym clinical --variants clinvar.csv --scores clin_scores.csv --model noisy -o clinical
expect_rc 0
expect_file clinical/clinical_summary.csv
if awk -F, 'NR==2 && $2>0.9 {ok=1} END{exit !ok}' clinical/clinical_summary.csv; then _pass; else _fail "clinical AUC orientation"; fi

finish
