//! The paper's methods and its Tables 1 and 2.

/// The methods of the paper's tables, in table order.
pub(super) const METHODS: [(&str, &str); 5] = [
    ("vanilla", "Vanilla"),
    ("lsuv", "LSUV"),
    ("ibci", "IBCI"),
    ("tie", "TIE only"),
    ("iim", "IIM only"),
];

/// The paper's Table 1 and Table 2: (base, net, method) -> (mean %, std %, epoch).
pub(super) fn paper_value(base: &str, net: &str, method: &str) -> Option<(f64, f64, u32)> {
    type Cell = (f64, f64, u32);
    let rows: [(&str, &str, [Cell; 5]); 6] = [
        (
            "xavier",
            "mlp2",
            [
                (2.04, 0.03, 75),
                (2.05, 0.06, 51),
                (1.93, 0.06, 60),
                (2.04, 0.07, 58),
                (2.07, 0.09, 84),
            ],
        ),
        (
            "xavier",
            "mlp3",
            [
                (1.82, 0.05, 52),
                (1.80, 0.07, 63),
                (1.71, 0.09, 36),
                (1.82, 0.03, 43),
                (1.82, 0.05, 52),
            ],
        ),
        (
            "xavier",
            "mlp5",
            [
                (2.83, 0.16, 98),
                (3.13, 0.17, 69),
                (2.53, 0.09, 78),
                (2.68, 0.05, 82),
                (2.57, 0.09, 84),
            ],
        ),
        (
            "he",
            "mlp2",
            [
                (2.03, 0.03, 65),
                (2.00, 0.04, 70),
                (1.93, 0.07, 57),
                (2.07, 0.06, 59),
                (2.034, 0.09, 62),
            ],
        ),
        (
            "he",
            "mlp3",
            [
                (1.83, 0.05, 54),
                (1.86, 0.07, 71),
                (1.73, 0.04, 35),
                (1.83, 0.07, 42),
                (1.856, 0.05, 55),
            ],
        ),
        (
            "he",
            "mlp5",
            [
                (2.76, 0.07, 80),
                (2.90, 0.12, 77),
                (2.62, 0.08, 73),
                (2.89, 0.11, 74),
                (2.67, 0.12, 86),
            ],
        ),
    ];
    let m = METHODS.iter().position(|(k, _)| *k == method)?;
    rows.iter()
        .find(|(b, n, _)| *b == base && *n == net)
        .map(|(_, _, v)| v[m])
}
