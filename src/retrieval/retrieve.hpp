// `tranova retrieve` and `tranova retrieve merge` as library entry points: the command files
// (apps/retrieve) only parse options into these structs. Everything that checks option
// combinations, fetches and cuts queries, claims outputs before the search and writes the
// alignments, hits tables and shard files lives here (docs/retrieval.md).
#pragma once

#include "retrieval/search.hpp"

#include <string>
#include <vector>

namespace tranova::retrieval {

struct retrieve_options {
    std::string query;     // query FASTA (one or more records), or
    std::string query_id;  // a database record taken by name (needs the FASTA's .fai, or a .tix database)
    std::string db;        // FASTA (plain, gzip, bgzip) or .tix index
    std::string index;     // a .tix of the FASTA db (checked to match it)
    std::string out;       // alignment (.a2m/.a3m), a folder for several queries, or the shard file with `shard`
    std::string out_dir;   // DIR/<query id>.a2m per query
    std::string hits;      // BLAST-tabular hits table
    std::string format = "auto";  // auto (from -o), a2m or a3m
    std::string region;    // START-END (1-based, inclusive) of the one query
    std::string shard;     // "i/N": search one slice and write a shard file
    bool index_db = false; // build DB.fai (+ .gzi) first; with no query, only that
    search_options search;
    msa_options msa;
};

// Runs a retrieval as the command does. Option mistakes throw usage_error, bad inputs
// tranova::error; outputs are claimed before the search and written whole or not at all.
void run_retrieve(retrieve_options opt);

struct merge_options {
    std::vector<std::string> shards;  // shard files of `retrieve --shard i/N`, every i once
    std::string out, out_dir, hits, format = "auto";
};

// `retrieve merge`: the shards' pooled hits -> exactly the unsharded run's outputs.
void run_merge(merge_options opt);

// A query id as a file name: every character other than A-Z a-z 0-9 _ - . becomes '_'.
std::string safe_file_name(std::string id);

}  // namespace tranova::retrieval
