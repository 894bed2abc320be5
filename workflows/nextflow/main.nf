// tranova workflows for Nextflow DSL2, in step with workflows/snakemake/Snakefile: the same
// five pipelines, the same tranova commands and options. NOT run in CI (Nextflow is not
// installable on the build machine); the Snakefile is the tested version (cli.workflows).
//   nextflow run workflows/nextflow/main.nf -entry GYM_SWEEP --reference DMS_substitutions.csv \
//     --assays_dir DMS_ProteinGym_substitutions --msa_dir DMS_msa_files --model tranception_small.h5
//   nextflow run workflows/nextflow/main.nf -entry VARIANT_EFFECTS --queries proteins.fasta --db uniref50.fasta.gz --model m.h5
//   nextflow run workflows/nextflow/main.nf -entry DENOVO_BATCH --spectra 'runs/*.mgf' --checkpoint casanovo.ckpt
//   nextflow run workflows/nextflow/main.nf -entry SHARDED_SEARCH --query q.fasta --db uniref50.fasta.gz --shards 16
//   nextflow run workflows/nextflow/main.nf -entry TRAINING --train_msa family.a3m --denovo_train annotated.mgf
// Processes are nf-core shaped: a tag, a label for resources, `task.ext.args` for extra
// options (set them in a config: process { withName: 'SCORE' { ext.args = '--window sliding' } }),
// and a versions.yml. Long processes pass --resume like the Snakefile's rules and are retried
// when they exit 75 (SIGTERM/SIGUSR1: progress saved) or are killed. Caveat: Nextflow runs a
// retry in a fresh work folder, so the progress record (score, denovo sequence) or training
// state of the stopped attempt is not found there and the retry starts afresh; the Snakefile
// keeps both beside the output and does continue. Nextflow's -resume skips finished tasks.
nextflow.enable.dsl = 2

params.outdir      = 'results'
// 1. ProteinGym sweep
params.reference   = 'DMS_substitutions.csv'
params.assays_dir  = 'DMS_ProteinGym_substitutions'
params.msa_dir     = 'DMS_msa_files'
params.use_msa     = true
params.model       = 'tranception_small.h5'
params.model_name  = 'Tranception_S'
params.alpha       = 0.6
params.window      = 'optimal'
params.bootstrap   = 10000
// 2. Variant effects
params.queries     = 'proteins.fasta'
params.db          = 'uniref50.fasta.gz'
params.evalue      = 1e-3
params.report_top  = 10
// 3. De novo batch
params.spectra     = 'runs/*.mgf'
params.checkpoint  = 'casanovo.ckpt'
params.arch        = 'casanovo'
// 4. Sharded search
params.query       = 'query.fasta'
params.shards      = 16
// 5. Training
params.train_msa       = 'family.a3m'
params.train_config    = 'tiny'
params.train_steps     = 1500
params.denovo_train    = 'annotated.mgf'
params.denovo_steps    = 1000

// errorStrategy of the long processes: exit 75 = progress saved after a preemption, 137/143 =
// killed: retry (the task resumes); anything else stops the pipeline.

// versions.yml of every process
def versions(name) {
    """
    cat <<-END_VERSIONS > versions.yml
    "${name}":
        tranova: \$(tranova --version)
    END_VERSIONS
    """
}

// ---------------------------------------------------------------------------------------
// 1. ProteinGym sweep
process SCORE {
    tag "$dms_id"
    label 'process_medium'
    errorStrategy { task.exitStatus in [75, 137, 143] ? 'retry' : 'terminate' }
    maxRetries 3
    input:
    tuple val(dms_id), path(dms), val(target), val(msa_args), path(model)
    output:
    path "${dms_id}.csv", emit: scores
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    tranova score --threads ${task.cpus} --model ${model} --dms ${dms} --target ${target} ${msa_args} \\
        --alpha ${params.alpha} --window ${params.window} --no-weights-cache ${args} --resume -o ${dms_id}.csv
    ${versions('SCORE')}
    """
}

process GYM_INGEST_ADD_EVAL {
    label 'process_low'
    publishDir "${params.outdir}/gym", mode: 'copy'
    input:
    path reference
    path assays_dir
    path scores
    output:
    path 'gym.h5'
    path 'report', emit: report
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    mkdir -p scores && mv ${scores} scores/
    tranova gym ingest --reference ${reference} --assays ${assays_dir} -o gym.h5
    tranova gym add gym.h5 --model ${params.model_name} --scores scores
    tranova gym eval --threads ${task.cpus} gym.h5 --bootstrap ${params.bootstrap} ${args} -o report
    ${versions('GYM_INGEST_ADD_EVAL')}
    """
}

workflow GYM_SWEEP {
    rows = Channel.fromPath(params.reference).splitCsv(header: true)
    inputs = rows.map { r ->
        def msa = params.use_msa && r.MSA_filename ?
            "--msa ${params.msa_dir}/${r.MSA_filename} --msa-start ${r.MSA_start} --msa-end ${r.MSA_end}" : ''
        tuple(r.DMS_id, file("${params.assays_dir}/${r.DMS_filename}"), r.target_seq, msa, file(params.model))
    }
    SCORE(inputs)
    GYM_INGEST_ADD_EVAL(file(params.reference), file(params.assays_dir), SCORE.out.scores.collect())
}

// ---------------------------------------------------------------------------------------
// 2. Variant effects: retrieve -> MSA -> all singles (+ heatmap) -> report
process RETRIEVE {
    tag "$id"
    label 'process_medium'
    input:
    tuple val(id), path(query), path(db)
    output:
    tuple val(id), path(query), path("${id}.a2m"), path("${id}.hits.tsv"), emit: msa
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    tranova retrieve --threads ${task.cpus} --query ${query} --db ${db} -e ${params.evalue} ${args} \\
        -o ${id}.a2m --hits ${id}.hits.tsv
    ${versions('RETRIEVE')}
    """
}

process SCORE_ALL_SINGLES {
    tag "$id"
    label 'process_medium'
    errorStrategy { task.exitStatus in [75, 137, 143] ? 'retry' : 'terminate' }
    maxRetries 3
    publishDir "${params.outdir}/variants/${id}", mode: 'copy'
    input:
    tuple val(id), path(query), path(msa), path(hits), path(model)
    output:
    tuple val(id), path(msa), path(hits), path('all_singles.csv'), path('all_singles.svg'), emit: scores
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    tranova score --threads ${task.cpus} --model ${model} --all-singles --fasta ${query} --msa ${msa} \\
        --alpha ${params.alpha} --no-weights-cache ${args} --resume -o all_singles.csv
    ${versions('SCORE_ALL_SINGLES')}
    """
}

process VARIANT_REPORT {
    tag "$id"
    label 'process_single'
    publishDir "${params.outdir}/variants/${id}", mode: 'copy'
    input:
    tuple val(id), path(msa), path(hits), path(scores), path(heatmap)
    output:
    path 'report.md'
    path 'msa_stats.txt'
    path 'versions.yml', emit: versions
    script:
    """
    tranova msa stats ${msa} > msa_stats.txt
    col=\$(head -1 ${scores} | tr ',' '\\n' | grep -nx avg_score | cut -d: -f1)
    {
      echo "# Variant effects: ${id}"; echo
      echo "Homologues retrieved: \$(grep -vc '^#' ${hits} || true) hits; MSA:"; echo
      sed 's/^/    /' msa_stats.txt; echo
      echo "Heatmap of every single substitution: [all_singles.svg](all_singles.svg)"; echo
      echo "## Most damaging substitutions (lowest avg_score)"; echo; echo "| mutant | avg_score |"; echo "|---|---|"
      tail -n +2 ${scores} | cut -d, -f1,\$col | sort -t, -k2,2g | awk -F, -v n=${params.report_top} 'NR <= n {print "| " \$1 " | " \$2 " |"}'
      echo; echo "## Most favourable substitutions (highest avg_score)"; echo; echo "| mutant | avg_score |"; echo "|---|---|"
      tail -n +2 ${scores} | cut -d, -f1,\$col | sort -t, -k2,2gr | awk -F, -v n=${params.report_top} 'NR <= n {print "| " \$1 " | " \$2 " |"}'
    } > report.md
    ${versions('VARIANT_REPORT')}
    """
}

workflow VARIANT_EFFECTS {
    queries = Channel.fromPath(params.queries).splitFasta(record: [id: true, text: true])
        .map { r -> tuple(r.id, file("${workDir}/query_${r.id}.fasta").tap { it.text = r.text }) }
    RETRIEVE(queries.map { id, q -> tuple(id, q, file(params.db)) })
    SCORE_ALL_SINGLES(RETRIEVE.out.msa.map { id, q, msa, hits -> tuple(id, q, msa, hits, file(params.model)) })
    VARIANT_REPORT(SCORE_ALL_SINGLES.out.scores)
}

// ---------------------------------------------------------------------------------------
// 3. De novo batch: spectrum files -> denovo sequence -> denovo eval -> one summary
process CONVERT {
    label 'process_single'
    input:
    path checkpoint
    output:
    path 'model.h5', emit: model
    path 'versions.yml', emit: versions
    script:
    """
    tranova convert --arch ${params.arch} --checkpoint ${checkpoint} -o model.h5
    ${versions('CONVERT')}
    """
}

process DENOVO_SEQUENCE {
    tag "$run"
    label 'process_high'
    errorStrategy { task.exitStatus in [75, 137, 143] ? 'retry' : 'terminate' }
    maxRetries 3
    input:
    tuple val(run), path(spectra), path(model)
    output:
    tuple val(run), path(spectra), path("${run}.mztab"), emit: predictions
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    tranova denovo sequence --threads ${task.cpus} --model ${model} --spectra ${spectra} ${args} --resume -o ${run}.mztab
    ${versions('DENOVO_SEQUENCE')}
    """
}

process DENOVO_EVAL {
    tag "$run"
    label 'process_single'
    input:
    tuple val(run), path(spectra), path(mztab)
    output:
    tuple val(run), path("${run}_eval/summary.json"), emit: summary
    path 'versions.yml', emit: versions
    script:
    """
    tranova denovo eval --predictions ${mztab} --truth ${spectra} -o ${run}_eval
    ${versions('DENOVO_EVAL')}
    """
}

process DENOVO_SUMMARY {
    label 'process_single'
    publishDir "${params.outdir}/denovo", mode: 'copy'
    input:
    val runs
    path summaries
    output:
    path 'summary.tsv'
    script:
    // One row per run: the scalar fields of each summary.json, in the Snakefile's layout.
    """
    python3 - ${summaries} <<'EOF'
import json, sys
runs = "${runs.join(' ')}".split()
rows, keys = [], None
for name, path in zip(runs, sys.argv[1:]):
    s = json.load(open(path))
    flat = {k: v for k, v in s.items() if not isinstance(v, (dict, list))}
    keys = keys or list(flat)
    rows.append([name] + [str(flat.get(k, "")) for k in keys])
with open("summary.tsv", "w") as f:
    f.write("\\t".join(["run"] + keys) + "\\n")
    for r in rows:
        f.write("\\t".join(r) + "\\n")
EOF
    """
}

workflow DENOVO_BATCH {
    CONVERT(file(params.checkpoint))
    runs = Channel.fromPath(params.spectra).map { f -> tuple(f.baseName, f) }
    DENOVO_SEQUENCE(runs.combine(CONVERT.out.model))
    DENOVO_EVAL(DENOVO_SEQUENCE.out.predictions)
    sorted = DENOVO_EVAL.out.summary.toSortedList { a, b -> a[0] <=> b[0] }
    DENOVO_SUMMARY(sorted.map { l -> l.collect { it[0] } }, sorted.map { l -> l.collect { it[1] } })
}

// ---------------------------------------------------------------------------------------
// 4. Sharded database search: N shards (independent jobs) -> merge == one unsharded search
process RETRIEVE_SHARD {
    tag "shard $i/$n"
    label 'process_medium'
    input:
    tuple val(i), val(n), path(query), path(db)
    output:
    path "part${i}.shard", emit: shard
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    tranova retrieve --threads ${task.cpus} --query ${query} --db ${db} --shard ${i}/${n} -e ${params.evalue} ${args} \\
        -o part${i}.shard
    ${versions('RETRIEVE_SHARD')}
    """
}

process RETRIEVE_MERGE {
    label 'process_low'
    publishDir "${params.outdir}/search", mode: 'copy'
    input:
    path shards
    output:
    path 'merged.a2m'
    path 'merged_hits.tsv'
    path 'versions.yml', emit: versions
    script:
    """
    tranova retrieve merge ${shards} -o merged.a2m --hits merged_hits.tsv
    ${versions('RETRIEVE_MERGE')}
    """
}

workflow SHARDED_SEARCH {
    n = params.shards as int
    shards = Channel.of(0..<n).map { i -> tuple(i, n, file(params.query), file(params.db)) }
    RETRIEVE_SHARD(shards)
    RETRIEVE_MERGE(RETRIEVE_SHARD.out.shard.collect())
}

// ---------------------------------------------------------------------------------------
// 5. Training runs (see the caveat above: a retry starts in a fresh work folder without the
//    state; for time-sliced training on a cluster use the Snakefile's rules)
process TRAIN_TRANCEPTION {
    label 'process_high'
    label 'process_gpu'
    errorStrategy { task.exitStatus in [75, 137, 143] ? 'retry' : 'terminate' }
    maxRetries 10
    publishDir "${params.outdir}/training", mode: 'copy'
    input:
    path msa
    output:
    path 'tranception.h5*'
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    resume=; [ -e tranception.h5.state.h5 ] && resume=--resume
    tranova train --arch tranception --threads ${task.cpus} --msa ${msa} --config ${params.train_config} \\
        --max-steps ${params.train_steps} ${args} \$resume -o tranception.h5
    ${versions('TRAIN_TRANCEPTION')}
    """
}

process TRAIN_DENOVO {
    label 'process_high'
    label 'process_gpu'
    errorStrategy { task.exitStatus in [75, 137, 143] ? 'retry' : 'terminate' }
    maxRetries 10
    publishDir "${params.outdir}/training", mode: 'copy'
    input:
    path init
    path train
    output:
    path 'denovo.h5*'
    path 'versions.yml', emit: versions
    script:
    def args = task.ext.args ?: ''
    """
    resume=; [ -e denovo.h5.state.h5 ] && resume=--resume
    tranova denovo train --arch ${params.arch} --threads ${task.cpus} --init ${init} --train ${train} \\
        --max-steps ${params.denovo_steps} ${args} \$resume -o denovo.h5
    ${versions('TRAIN_DENOVO')}
    """
}

workflow TRAINING {
    TRAIN_TRANCEPTION(file(params.train_msa))
    CONVERT(file(params.checkpoint))
    TRAIN_DENOVO(CONVERT.out.model, file(params.denovo_train))
}

workflow {
    GYM_SWEEP()
}
