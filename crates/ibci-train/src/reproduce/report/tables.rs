//! `summary.md`: the paper's tables with ours beside them, intervals and verdicts.

use crate::args::flag_name;
use ibci_nn::TrainConfig;

use super::{base_label, cell_text, net_label, Cells};
use crate::reproduce::args::LsuvVariant;
use crate::reproduce::paper::{paper_value, METHODS};
use crate::reproduce::sweep::Sweep;
use crate::reproduce::SUBSET_SEED;
use crate::stats::{mean, std};

pub(super) fn summary_md(sweep: &Sweep, c: &Cells<'_>) -> String {
    let mut s = String::new();
    let title = match sweep.name.as_str() {
        "quick" => {
            "the QUICK version (fewer epochs and seeds than the paper; `--full` is its protocol)"
        }
        "full" => "the paper's protocol (`--full`)",
        "decisive" => "the decisive comparison (`--decisive`: the paper's protocol, 20 seeds)",
        _ => "a custom sweep",
    };
    s += &format!("# ibci reproduce: {title}\n\n");
    let p = TrainConfig::default();
    s += &format!(
        "Dataset {}{}; networks {}; bases {}; {}; {}; SGD lr {}, batch {}, no momentum, no weight decay, biases 0; LSUV{} on one batch of {} training images{}; IBCI variant `{}`.\n\n",
        sweep.dataset,
        sweep.train_subset.map_or(String::new(), |n| format!(" (training subset of {n} images, seed {SUBSET_SEED:#x})")),
        sweep.nets.iter().map(|n| net_label(n)).collect::<Vec<_>>().join(", "),
        sweep.bases.join(", "),
        sweep.epochs_text(),
        match sweep.seeds {
            1 => "seed 1".to_string(),
            n => format!("seeds 1..{n}"),
        },
        p.lr,
        p.batch,
        match sweep.lsuv.0 {
            LsuvVariant::Base => "",
            LsuvVariant::Orthonormal => " (Algorithm 1 on an orthonormal start)",
            LsuvVariant::Pytorch => " (the author's PyTorch code: orthonormal start, |std - 1| tested, biases shifted)",
            LsuvVariant::PytorchBase => " (the author's PyTorch code on the base init: |std - 1| tested, biases shifted)",
        },
        sweep.lsuv.1.unwrap_or(p.batch),
        sweep.lsuv.2.map_or(String::new(), |t| format!(", tolerance {t}")),
        flag_name(&sweep.variant)
    );
    // The paper reports MNIST only: no published value next to another data set's.
    let mnist = sweep.dataset == "mnist";
    let paper = |b: &str, n: &str, m: &str| if mnist { paper_value(b, n, m) } else { None };
    if !mnist {
        s += "The paper reports MNIST only, so the `paper` and `Δ` columns are empty.\n\n";
    }
    s += "Each cell: minimal test error % over epochs 1..E (model selection on the test set, as in the paper), mean ± sample std over seeds, and in brackets the mean epoch at which the minimum is reached (epoch e = after e passes over the training set). `paper` is the published value; `Δ` is ours minus the paper's.\n";
    let table = |s: &mut String, title: &str, methods: &[usize]| {
        let present: Vec<usize> = methods
            .iter()
            .copied()
            .filter(|&k| c.keys().any(|&(_, _, kk)| kk == k))
            .collect();
        if present.is_empty() {
            return;
        }
        *s += &format!("\n## {title}\n\n| base | net |");
        for &k in &present {
            *s += &format!(" {} | paper | Δ |", METHODS[k].1);
        }
        *s += "\n|---|---|";
        for _ in &present {
            *s += "---|---|---|";
        }
        *s += "\n";
        for (b, base) in sweep.bases.iter().enumerate() {
            for (n, net) in sweep.nets.iter().enumerate() {
                *s += &format!("| {} | {} |", base_label(base), net_label(net));
                for &k in &present {
                    match c.get(&(n, b, k)) {
                        Some(rs) => {
                            let (txt, m) = cell_text(rs);
                            match paper(base, net, METHODS[k].0) {
                                Some((pm, ps, pe)) => {
                                    // As printed: two decimals, three where the paper has three.
                                    let pt = if (pm * 100.0 - (pm * 100.0).round()).abs() > 1e-6 {
                                        format!("{pm:.3}")
                                    } else {
                                        format!("{pm:.2}")
                                    };
                                    *s += &format!(
                                        " {txt} | {pt} ± {ps:.2} ({pe}) | {:+.2} |",
                                        m - pm
                                    )
                                }
                                None => *s += &format!(" {txt} | – | – |"),
                            }
                        }
                        None => *s += " – | – | – |",
                    }
                }
                *s += "\n";
            }
        }
    };
    table(
        &mut s,
        "Table 1: minimal test error %, IBCI against the baselines",
        &[0, 1, 2],
    );
    s += &super::compare::comparisons_md(sweep, c);
    table(
        &mut s,
        "Table 2: minimal test error %, IBCI against single-criterion versions",
        &[2, 3, 4],
    );
    // Final-epoch errors.
    s += &format!(
        "\n## Final-epoch (epoch {}) test error %, mean ± std over seeds\n\n| base | net |",
        sweep.epochs
    );
    let present: Vec<usize> = (0..METHODS.len())
        .filter(|&k| c.keys().any(|&(_, _, kk)| kk == k))
        .collect();
    for &k in &present {
        s += &format!(" {} |", METHODS[k].1);
    }
    s += "\n|---|---|";
    for _ in &present {
        s += "---|";
    }
    s += "\n";
    for (b, base) in sweep.bases.iter().enumerate() {
        for (n, net) in sweep.nets.iter().enumerate() {
            s += &format!("| {} | {} |", base_label(base), net_label(net));
            for &k in &present {
                match c.get(&(n, b, k)) {
                    Some(rs) => {
                        let v: Vec<f64> = rs.iter().map(|r| 100.0 * r.last()).collect();
                        s += &match v.len() {
                            1 => format!(" {:.2}, 1 seed |", v[0]),
                            _ => format!(" {:.2} ± {:.2} |", mean(&v), std(&v)),
                        };
                    }
                    None => s += " – |",
                }
            }
            s += "\n";
        }
    }
    s
}
