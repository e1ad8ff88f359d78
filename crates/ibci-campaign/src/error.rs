//! The campaign's typed errors.

use std::fmt;

/// Why a campaign could not run.
#[derive(Clone, Debug, PartialEq)]
pub enum CampaignError {
    /// The quota to split exceeds the candidates available.
    QuotaExceedsCandidates {
        /// Neurons asked for.
        quota: usize,
        /// Candidates available over all groups.
        candidates: usize,
    },
    /// A layer would have fewer candidates than neurons.
    TooFewCandidates {
        /// Layer, 1-based.
        layer: usize,
        /// Candidates the options give.
        candidates: usize,
        /// The layer's width.
        width: usize,
    },
    /// The data do not fit the network or each other.
    Shape(String),
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// Position of the label.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        classes: usize,
    },
    /// An option is invalid (named, with what was expected).
    Option(String),
    /// A candidate's response or score is not finite (NaN or infinite).
    NonFinite {
        /// Layer, 1-based.
        layer: usize,
        /// What was not finite.
        what: &'static str,
    },
}

impl fmt::Display for CampaignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CampaignError::QuotaExceedsCandidates { quota, candidates } => write!(
                f,
                "cannot elect {quota} neurons from {candidates} candidates"
            ),
            CampaignError::TooFewCandidates {
                layer,
                candidates,
                width,
            } => write!(
                f,
                "layer {layer}: {candidates} candidates for {width} neurons; the campaign needs at least as many candidates as neurons"
            ),
            CampaignError::Shape(s) => write!(f, "shape mismatch: {s}"),
            CampaignError::LabelOutOfRange {
                index,
                label,
                classes,
            } => write!(
                f,
                "label {label} at position {index} is out of range for {classes} classes"
            ),
            CampaignError::Option(s) => write!(f, "{s}"),
            CampaignError::NonFinite { layer, what } => write!(
                f,
                "layer {layer}: non-finite {what} (NaN or infinity in the data or the candidates)"
            ),
        }
    }
}

impl std::error::Error for CampaignError {}
