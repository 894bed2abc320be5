# tranova retrieve at database scale: many queries in one pass (= each query alone), the
# .tix index (= the FASTA), shards + merge (= byte for byte the unsharded run), bad inputs.
source "$(dirname "$0")/cli_lib.sh" "$@"
D="$DATA/retrieval"
Q3=three.fasta
# Three queries: PTEN, HBB and a globin taken from the database, one with a '|' in its id.
cat "$D/pten.fasta" "$D/hbb.fasta" > $Q3
printf '>sp|MYG|test\nVLSDAEWQLVLNVWAKVEADIPGHGQEVLIRLFKGHPETLEKFDKFKHLKSEDEMKASEDLKKHGATVLTALGGILKKKGHHEAELKPLAQSHATKHKIPVKYLEFISEAIIHVLHSRHPGDFGADAQGAMNKALELFRKDIAAKYKELGYQG\n' >> $Q3
cp "$D/small_db.fasta.gz" db.fa.gz

# `index` is listed with the retrieval commands.
run "$TRANOVA" help
expect_rc 0
expect_out "index"
run "$TRANOVA" retrieve merge --help
expect_rc 0
expect_out "Usage: tranova retrieve merge"

# --- Many queries per pass = each query alone.
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --out-dir batch --hits batch.tsv
expect_rc 0
expect_file batch/PTEN_HUMAN.a2m
expect_file batch/HBB_HUMAN.a2m
expect_file batch/sp_MYG_test.a2m   # ids sanitised
head -1 batch.tsv > alone.tsv
for name in PTEN_HUMAN HBB_HUMAN 'sp|MYG|test'; do
  awk -v N="$name" '/^>/{p = substr($1, 2) == N} p' $Q3 > one.fa
  f=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.\n-' '_')
  run "$TRANOVA" retrieve --quiet --query one.fa --db db.fa.gz -o "alone_$f.a2m" --hits one.tsv
  expect_rc 0
  cmp -s "alone_$f.a2m" "batch/$f.a2m" && _pass || _fail "batch alignment of $name differs from the query alone"
  tail -n +2 one.tsv >> alone.tsv
done
cmp -s alone.tsv batch.tsv && _pass || _fail "batch hits table differs from the queries alone"
# --out-dir also takes a single query; -o and --out-dir together are refused.
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db db.fa.gz --out-dir single
expect_rc 0
cmp -s single/HBB_HUMAN.a2m batch/HBB_HUMAN.a2m && _pass || _fail "--out-dir with one query"
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db db.fa.gz --out-dir single -o x.a2m
expect_rc 2
expect_one_line_err
# Duplicate ids: exit 2, nothing written.
cat "$D/hbb.fasta" "$D/hbb.fasta" > dup.fa
run "$TRANOVA" retrieve --quiet --query dup.fa --db db.fa.gz --out-dir dupdir
expect_rc 2
expect_one_line_err
expect_err "both named 'HBB_HUMAN'"
expect_no_file dupdir

# --- The index: same results, stale or foreign index refused.
run "$TRANOVA" index db.fa.gz -o db.tix
expect_rc 0
expect_file db.tix
expect_err "495 sequences, 189881 residues"
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.tix --out-dir via_index --hits via_index.tsv
expect_rc 0
diff -r batch via_index > /dev/null && _pass || _fail "index alignments differ from the FASTA's"
cmp -s batch.tsv via_index.tsv && _pass || _fail "index hits differ from the FASTA's"
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --index db.tix --out-dir via_index2
expect_rc 0
diff -r batch via_index2 > /dev/null && _pass || _fail "--index alignments differ"
run "$TRANOVA" retrieve --quiet --query $Q3 --db "$D/small_db.fasta.bgz" --index db.tix --out-dir foreign
expect_rc 1
expect_one_line_err
expect_err "does not match"
expect_no_temp foreign
# --query-id from the index.
run "$TRANOVA" retrieve --quiet --db db.tix --query-id MYG_ESCGI -o myg.a2m
expect_rc 0
head -1 myg.a2m | grep -q '^>MYG_ESCGI/1-153$' && _pass || _fail "query from the .tix"
run "$TRANOVA" retrieve --quiet --db db.tix --query-id NOPE -o nope.a2m
expect_rc 1
expect_one_line_err
expect_err "no sequence named 'NOPE'"
run "$TRANOVA" index --quiet nonexistent.fa -o x.tix
expect_rc 1
expect_one_line_err
expect_no_file x.tix
run "$TRANOVA" index db.fa.gz
expect_rc 2
printf 'TRNVTIX1 not really' > fake.tix
run "$TRANOVA" retrieve --quiet --query $Q3 --db fake.tix --out-dir fake
expect_rc 1
expect_one_line_err
expect_err "not a tranova index"
head -c 4000 db.tix > trunc.tix
run "$TRANOVA" retrieve --quiet --query $Q3 --db trunc.tix --out-dir trunc
expect_rc 1
expect_one_line_err
expect_err "truncated or corrupt index"

# --- Shards: N = 3 -> merge = the unsharded run, byte for byte (A2M, A3M, hits).
for i in 0 1 2; do
  run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --shard $i/3 -o part$i.shard
  expect_rc 0
  expect_file part$i.shard
done
run "$TRANOVA" retrieve merge --quiet part2.shard part0.shard part1.shard --out-dir merged --hits merged.tsv
expect_rc 0
diff -r batch merged > /dev/null && _pass || _fail "merged alignments differ from the unsharded run"
cmp -s batch.tsv merged.tsv && _pass || _fail "merged hits differ from the unsharded run"
# Shards from the index merge the same way; one query to a single -o file, A3M too.
for i in 0 1; do
  run "$TRANOVA" retrieve --quiet --query "$D/pten.fasta" --db db.tix --shard $i/2 -o pten$i.shard
  expect_rc 0
done
run "$TRANOVA" retrieve --quiet --query "$D/pten.fasta" --db db.fa.gz -o pten.a3m
run "$TRANOVA" retrieve merge --quiet pten0.shard pten1.shard -o pten_merged.a3m
expect_rc 0
cmp -s pten.a3m pten_merged.a3m && _pass || _fail "merged A3M differs"

# Bad shard specs and sets: one line, exit 2 (usage) or 1 (files that do not belong together).
for bad in 3/2 0/0 2/2 -1/3 x/3 1; do
  run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --shard "$bad" -o bad.shard
  expect_rc 2
  expect_one_line_err
  expect_no_file bad.shard
done
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --shard 0/2 -o bad.shard --iterations 2
expect_rc 2
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --shard 0/2 --out-dir x
expect_rc 2
run "$TRANOVA" retrieve merge --quiet part0.shard part2.shard --out-dir m2
expect_rc 2
expect_one_line_err
expect_err "missing shard(s) 1/3"
expect_no_file m2
run "$TRANOVA" retrieve merge --quiet part0.shard part1.shard part1.shard part2.shard --out-dir m2
expect_rc 2
expect_err "given twice"
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --shard 1/3 -o strict1.shard --evalue 1e-6
run "$TRANOVA" retrieve merge --quiet part0.shard strict1.shard part2.shard --out-dir m2
expect_rc 1
expect_one_line_err
expect_err "different parameters"
# Composition-based statistics change E-values: such a shard does not merge with plain ones.
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.fa.gz --shard 1/3 -o cbs1.shard --comp-based-stats
expect_rc 0
run "$TRANOVA" retrieve merge --quiet part0.shard cbs1.shard part2.shard --out-dir m2
expect_rc 1
expect_err "different parameters"
expect_no_file m2
zcat db.fa.gz | head -400 > other.fa
run "$TRANOVA" retrieve --quiet --query $Q3 --db other.fa --shard 1/3 -o other1.shard
run "$TRANOVA" retrieve merge --quiet part0.shard other1.shard part2.shard --out-dir m2
expect_rc 1
expect_err "different databases"
run "$TRANOVA" retrieve --quiet --query "$D/hbb.fasta" --db db.fa.gz --shard 1/3 -o hbb1.shard
run "$TRANOVA" retrieve merge --quiet part0.shard hbb1.shard part2.shard --out-dir m2
expect_rc 1
expect_err "different queries"
head -c 3000 part1.shard > cut1.shard
run "$TRANOVA" retrieve merge --quiet part0.shard cut1.shard part2.shard --out-dir m2
expect_rc 1
expect_one_line_err
expect_err "cut1.shard"
expect_no_file m2
run "$TRANOVA" retrieve merge --quiet --out-dir m2
expect_rc 2

# A database changed since indexing: the index is refused (searches and shards alike).
touch -d '+1 minute' db.fa.gz
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.tix --out-dir stale
expect_rc 1
expect_one_line_err
expect_err "changed since indexing"
expect_no_temp stale
run "$TRANOVA" retrieve --quiet --query $Q3 --db db.tix --shard 0/3 -o stale.shard
expect_rc 1
expect_no_file stale.shard
finish
