//! Records the git commit the binary is built from, for run manifests.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    let suffix = if dirty { "+dirty" } else { "" };
    println!("cargo:rustc-env=IBCI_GIT_COMMIT={commit}{suffix}");
    // Rebuild when HEAD moves (a new commit or checkout).
    for f in ["../../.git/HEAD", "../../.git/index"] {
        println!("cargo:rerun-if-changed={f}");
    }
}
