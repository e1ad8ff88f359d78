//! The scale-out recipes that docs/reproducing.md shows are the script files that CI runs
//! (`.ci/cluster.sh` runs them on a real one-node Slurm and under GNU parallel).

use std::path::Path;

#[test]
fn the_docs_show_the_scripts_that_ci_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let docs = std::fs::read_to_string(root.join("docs/reproducing.md")).unwrap();
    for script in ["scripts/slurm-shard.sh", "scripts/parallel-shards.sh"] {
        let text = std::fs::read_to_string(root.join(script)).unwrap();
        assert!(
            docs.contains(&format!("```sh\n{text}```\n")),
            "docs/reproducing.md must show {script} verbatim in a ```sh block"
        );
        let ci = std::fs::read_to_string(root.join(".ci/cluster.sh")).unwrap();
        assert!(ci.contains(script), ".ci/cluster.sh must run {script}");
    }
}
