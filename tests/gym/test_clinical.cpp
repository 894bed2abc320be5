// The clinical benchmark behind `tranova gym clinical`: per-gene AUC with pathogenic as the
// positive class and lower fitness = more pathogenic, mean over genes with an AUC, scores
// from one CSV or a folder of <gene>.csv, unscored and NaN rows counted, hostile gene names.
#include "gym/clinical.hpp"

#include "util/error.hpp"

#include "temp_dir.hpp"

#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace tranova::gym;
namespace fs = std::filesystem;

using tranova::test::temp_dir;

namespace {
using tranova::test::file_bytes;
// GENE1: pathogenic variants score lower than benign ones except one pair -> AUC 5/6.
// GENE2: perfectly separated -> AUC 1. GENE3: benign only -> no AUC.
const char* variants_csv =
    "DMS_id,mutant,DMS_bin_score\n"
    "GENE1,A1C,Pathogenic\nGENE1,A1D,Pathogenic\nGENE1,A1E,Benign\nGENE1,A1F,Benign\nGENE1,A1G,benign\n"
    "GENE2,M1K,1\nGENE2,M1L,0\n"
    "GENE3,K2A,Benign\n"
    "GENE1,A1H,Pathogenic\n"   // no score
    "GENE2,M1N,Pathogenic\n";  // NaN score
const char* scores_csv =
    "DMS_id,mutant,avg_score\n"
    "GENE1,A1C,-2\nGENE1,A1D,0.5\nGENE1,A1E,0\nGENE1,A1F,1\nGENE1,A1G,2\n"
    "GENE2,M1K,-1\nGENE2,M1L,1\nGENE2,M1N,nan\nGENE3,K2A,0\n";
}  // namespace

TEST_CASE("clinical AUC per gene and mean over genes", "[gym][clinical]") {
    temp_dir d("clinical");
    clinical_options o;
    o.variants = d.write("v.csv", variants_csv);
    o.scores = d.write("s.csv", scores_csv);
    o.model = "toy";
    o.output = (d.path / "out").string();
    clinical_result r = clinical_evaluate(o);
    REQUIRE(r.genes.size() == 3);
    CHECK(r.genes[0].gene == "GENE1");
    CHECK(r.genes[0].n_variants == 5);
    CHECK(r.genes[0].n_pathogenic == 2);
    // Pathogenic scores -2, 0.5 vs benign 0, 1, 2 after negation: 5 of 6 pairs ranked right.
    CHECK(r.genes[0].auc == Approx(5.0 / 6.0));
    CHECK(r.genes[1].auc == Approx(1.0));
    CHECK(std::isnan(r.genes[2].auc));
    CHECK(r.n_genes == 2);
    CHECK(r.mean_auc == Approx((5.0 / 6.0 + 1.0) / 2));
    CHECK(r.unscored == 1);
    CHECK(r.nan_dropped == 1);

    // Directionality -1 flips every score: GENE1 AUC 1/6, GENE2 0.
    o.directionality = -1;
    clinical_result f = clinical_evaluate(o);
    CHECK(f.genes[0].auc == Approx(1.0 / 6.0));
    CHECK(f.genes[1].auc == Approx(0.0));

    write_clinical_report(r, o);
    CHECK(file_bytes(d.path / "out" / "clinical_summary.csv") == "Model_name,Average_AUC,n_genes\ntoy,0.917,2\n");
    CHECK(file_bytes(d.path / "out" / "clinical_per_gene.csv") ==
          "DMS_id,n_variants,n_pathogenic,AUC\nGENE1,5,2,0.833\nGENE2,2,1,1.0\nGENE3,1,0,\n");
}

TEST_CASE("clinical scores from a folder of <gene>.csv", "[gym][clinical]") {
    temp_dir d("clinical");
    clinical_options o;
    o.variants = d.write("v.csv", variants_csv);
    o.scores = (d.path / "scores").string();
    d.write("scores/GENE1.csv", "mutant,avg_score\nA1C,-2\nA1D,0.5\nA1E,0\nA1F,1\nA1G,2\n");
    d.write("scores/GENE2.csv", "mutant,avg_score\nM1K,-1\nM1L,1\n");
    clinical_result r = clinical_evaluate(o);
    CHECK(r.n_genes == 2);
    CHECK(r.unscored == 3);  // GENE3 has no file; A1H and M1N have no row
    d.write("v2.csv", "DMS_id,mutant,DMS_bin_score\n../escape,A1C,1\n");
    o.variants = (d.path / "v2.csv").string();
    CHECK_THROWS_WITH(clinical_evaluate(o), Catch::Contains("v2.csv:2") && Catch::Contains("cannot name a file"));
}

TEST_CASE("clinical input errors name the file and line", "[gym][clinical]") {
    temp_dir d("clinical");
    clinical_options o;
    o.scores = d.write("s.csv", scores_csv);
    o.variants = d.write("v.csv", "DMS_id,mutant,DMS_bin_score\nGENE1,A1C,maybe\n");
    CHECK_THROWS_WITH(clinical_evaluate(o), Catch::Contains("v.csv:2") && Catch::Contains("neither Pathogenic"));
    o.variants = d.write("v.csv", "DMS_id,mutant,DMS_bin_score\nGENE3,K2A,Benign\n");
    CHECK_THROWS_WITH(clinical_evaluate(o), Catch::Contains("no AUC to average"));
    o.scores = d.write("s.csv", "DMS_id,mutant,avg_score\nGENE3,K2A,high\n");
    CHECK_THROWS_WITH(clinical_evaluate(o), Catch::Contains("s.csv:2") && Catch::Contains("not a number"));
}
