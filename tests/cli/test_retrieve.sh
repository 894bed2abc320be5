# tranova retrieve: real searches on the small test database (gzip, bgzip, indexed), output
# formats accepted by the shared MSA reader, and one-line errors for bad inputs.
source "$(dirname "$0")/cli_lib.sh" "$@"
D="$DATA/retrieval"

run "$TRANOVA" retrieve --help
expect_rc 0
expect_out "Usage: tranova retrieve"

# A real run: A2M + hits table.
run "$TRANOVA" retrieve --quiet --query "$D/pten.fasta" --db "$D/small_db.fasta.gz" -o pten.a2m --hits pten.tsv
expect_rc 0
expect_file pten.a2m
expect_file pten.tsv
head -1 pten.a2m | grep -q '^>PTEN_HUMAN/1-403$' && _pass || _fail "query header"
n=$(grep -c '^PTEN_HUMAN	PTEN_' pten.tsv); [ "$n" -eq 150 ] && _pass || _fail "planted PTEN family hits: $n (expected 150)"
head -1 pten.tsv | grep -q $'^qseqid\tsseqid\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tevalue\tbitscore$' && _pass || _fail "hits header"
awk -F'\t' 'NF != 12 {bad=1} END {exit bad}' pten.tsv && _pass || _fail "hits table columns"
# Every row has the query's length (focus mode); the shared reader and msa stats accept it.
awk '/^>/{next} length($0) != 403 {bad=1} END {exit bad}' pten.a2m && _pass || _fail "row lengths"
run "$TRANOVA" msa stats --quiet pten.a2m
expect_rc 0
expect_out "columns: 403"
rows=$(echo "$OUT" | awk -F': ' '$1=="rows"{print $2}'); [ "$rows" -ge 140 ] && _pass || _fail "MSA rows $rows"

# A3M, bgzip database, several queries into a folder, profile iterations.
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.bgz" -o hbb.a3m --iterations 2
expect_rc 0
expect_file hbb.a3m
run "$TRANOVA" msa stats --quiet hbb.a3m
expect_rc 0
expect_out "columns: 146"
run "$TRANOVA" retrieve --quiet --query "$D/two_queries.fasta" --db "$D/small_db.fasta.gz" -o many --hits many.tsv
expect_rc 0
expect_file many/PTEN_HUMAN.a2m
expect_file many/HBB_HUMAN.a2m
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz" -o strict.a2m --bits-per-residue 1.5 --hits strict.tsv
expect_rc 0
awk -F'\t' 'NR > 1 && $12 < 219 {bad=1} END {exit bad}' strict.tsv && _pass || _fail "bits-per-residue threshold"

# A region of the query: header NAME/START-END, rows of the region's length.
run "$TRANOVA" retrieve --quiet --query "$D/pten.fasta" --db "$D/small_db.fasta.gz" -o region.a2m --region 14-185
expect_rc 0
head -1 region.a2m | grep -q '^>PTEN_HUMAN/14-185$' && _pass || _fail "region header"
awk '/^>/{next} length($0) != 172 {bad=1} END {exit bad}' region.a2m && _pass || _fail "region row lengths"
run "$TRANOVA" retrieve --quiet --query "$D/pten.fasta" --db "$D/small_db.fasta.gz" -o region.a2m --region 300-500
expect_rc 2

# Indexed database: --index-db, --query-id, stale index, duplicate names.
cp "$D/small_db.fasta.bgz" db.fa.bgz
run "$TRANOVA" retrieve --quiet --db db.fa.bgz --index-db
expect_rc 0
expect_file db.fa.bgz.fai
run "$TRANOVA" retrieve --quiet --db db.fa.bgz --query-id MYG_ESCGI -o myg.a2m
expect_rc 0
head -1 myg.a2m | grep -q '^>MYG_ESCGI/1-153$' && _pass || _fail "query from the index"
touch -d '+1 minute' db.fa.bgz
run "$TRANOVA" retrieve --quiet --db db.fa.bgz --query "$D/hbb.fasta" -o stale.a2m
expect_rc 1
expect_one_line_err
expect_err "older than"
expect_no_file stale.a2m
printf '>a\nMKVLAAGLLLKKAAW\n>b\nMKVLAAGLLLKKAAW\n>a\nMKVLAAGLLLKKAAW\n' > dup.fa
run "$TRANOVA" retrieve --quiet --db dup.fa --index-db
expect_rc 1
expect_one_line_err
expect_err "duplicate sequence name 'a'"
# An index built elsewhere (htslib keeps the first of duplicate names) is caught while streaming.
printf 'a\t15\t3\t15\t16\nb\t15\t22\t15\t16\n' > dup.fa.fai
run "$TRANOVA" retrieve --quiet --db dup.fa --query "$D/hbb.fasta" -o dup.a2m
expect_rc 1
expect_err "duplicate sequence name 'a'"
cp "$D/small_db.fasta.gz" plain.fa.gz
run "$TRANOVA" retrieve --quiet --db plain.fa.gz --index-db
expect_rc 1
expect_err "bgzip"

# Bad queries and databases: one-line errors, exit 1, no output file.
: > empty.fa
run "$TRANOVA" retrieve --quiet --query empty.fa --db "$D/small_db.fasta.gz" -o x.a2m
expect_rc 1
expect_one_line_err
expect_err "no query"
expect_no_file x.a2m
printf '>dna\nACGTACGGTACGATCGATCGATCGTAGCTAGCTAGCTAGCATCGAT\n' > dna.fa
run "$TRANOVA" retrieve --quiet --query dna.fa --db "$D/small_db.fasta.gz" -o x.a2m
expect_rc 1
expect_one_line_err
expect_err "nucleotide"
head -c 50000 "$D/small_db.fasta.gz" > trunc.fa.gz
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db trunc.fa.gz -o x.a2m
expect_rc 1
expect_one_line_err
expect_err "truncated"
expect_no_file x.a2m
printf 'this is not gzip\n' > fake.gz
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db fake.gz -o x.a2m
expect_rc 1
expect_one_line_err
expect_err "expected a '>' header"
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db nonexistent.fa.gz -o x.a2m
expect_rc 1
expect_one_line_err
expect_err "cannot open"
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz"
expect_rc 2
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz" -o x.a2m --iterations 0
expect_rc 2

# Unwritable output: exit 1, nothing left behind.
# Profile statistics options: --inclusion-evalue must be > 0; the PSI-BLAST-style rescaled
# PSSM with and without composition-based statistics, and CBS in BLOSUM62 rounds run; CBS
# never adds hits.
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz" -o x.a2m --iterations 2 --inclusion-evalue 0
expect_rc 2
expect_one_line_err
expect_err "inclusion-evalue"
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz" -o incl.a2m --iterations 2 --evalue 1 --inclusion-evalue 1e-10 --hits incl.tsv
expect_rc 0
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz" -o rescaled.a2m --iterations 2 --profile-rescale
expect_rc 0
expect_file rescaled.a2m
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz" -o nocbs.a2m --iterations 2 --profile-rescale --no-profile-comp-stats
expect_rc 0
expect_file nocbs.a2m
run "$TRANOVA" retrieve --quiet --query "$D/two_queries.fasta" --db "$D/small_db.fasta.gz" --out-dir cbs --comp-based-stats --hits cbs.tsv --evalue 10
expect_rc 0
run "$TRANOVA" retrieve --quiet --query "$D/two_queries.fasta" --db "$D/small_db.fasta.gz" --out-dir plain10 --hits plain10.tsv --evalue 10
[ "$(wc -l < cbs.tsv)" -le "$(wc -l < plain10.tsv)" ] && [ "$(wc -l < cbs.tsv)" -gt 100 ] && _pass || _fail "CBS hits $(wc -l < cbs.tsv) vs $(wc -l < plain10.tsv)"
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db "$D/small_db.fasta.gz" -o no/such/dir/x.a2m
expect_rc 1
expect_no_file no/such/dir/x.a2m
expect_no_temp .
finish
