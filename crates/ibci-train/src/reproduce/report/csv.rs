//! `runs.csv`: one row per run and epoch (empty cells for non-finite values).

use crate::reproduce::cache::RunResult;
use crate::reproduce::sweep::Run;

/// The CSV text of every run's history.
pub(super) fn runs_csv(all: &[Run], results: &[RunResult]) -> String {
    let mut csv =
        String::from("net,base,method,seed,epoch,train_loss,train_acc,test_loss,test_err\n");
    for (r, res) in all.iter().zip(results) {
        for h in &res.history {
            let f = |v: f64| {
                if v.is_finite() {
                    format!("{v}")
                } else {
                    String::new()
                }
            };
            csv += &format!(
                "{},{},{},{},{},{},{},{},{}\n",
                r.net,
                r.base,
                r.method,
                r.seed,
                h[0] as usize,
                f(h[1]),
                f(h[2]),
                f(h[3]),
                f(h[4])
            );
        }
    }
    csv
}
