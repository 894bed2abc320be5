// ProteinGym-style sweep with tranova (Nextflow DSL2): score each assay, gather, evaluate.
//   nextflow run workflows/nextflow/main.nf --reference DMS_substitutions.csv \
//     --assays_dir DMS_ProteinGym_substitutions --msa_dir DMS_msa_files --model tranception_small.h5
nextflow.enable.dsl = 2

params.reference  = 'DMS_substitutions.csv'
params.assays_dir = 'DMS_ProteinGym_substitutions'
params.msa_dir    = 'DMS_msa_files'
params.model      = 'tranception_small.h5'
params.model_name = 'Tranception_S'
params.alpha      = 0.6
params.outdir     = 'gym_sweep'

process SCORE {
    tag "$dms_id"
    cpus 8
    memory '8 GB'
    errorStrategy { task.exitStatus in ((130..145) + 104) ? 'retry' : 'finish' }
    input:
    tuple val(dms_id), path(dms), val(target), val(msa_args), path(model)
    output:
    path "${dms_id}.csv"
    script:
    """
    tranova score --threads ${task.cpus} --model ${model} --dms ${dms} --target ${target} \\
        ${msa_args} --alpha ${params.alpha} -o ${dms_id}.csv
    """
}

process EVAL {
    publishDir params.outdir, mode: 'copy'
    cpus 2
    input:
    path reference
    path assays_dir
    path scores
    output:
    path 'report'
    script:
    """
    mkdir -p scores && mv ${scores} scores/
    tranova gym ingest --reference ${reference} --assays ${assays_dir} -o gym.h5
    tranova gym add gym.h5 --model ${params.model_name} --scores scores
    tranova gym eval --threads ${task.cpus} gym.h5 -o report
    """
}

workflow {
    rows = Channel.fromPath(params.reference).splitCsv(header: true)
    inputs = rows.map { r ->
        def msa = r.MSA_filename ? "--msa ${params.msa_dir}/${r.MSA_filename} --msa-start ${r.MSA_start} --msa-end ${r.MSA_end}" : ''
        tuple(r.DMS_id, file("${params.assays_dir}/${r.DMS_filename}"), r.target_seq, msa, file(params.model))
    }
    scores = SCORE(inputs).collect()
    EVAL(file(params.reference), file(params.assays_dir), scores)
}
