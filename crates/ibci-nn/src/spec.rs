//! Network architecture: layer widths and one activation per weight layer.
//!
//! Written as on the command line: widths `784-100-10`, activations `relu,identity` (one per
//! weight layer; the default is relu for hidden layers and identity for the output, which
//! feeds softmax cross-entropy). `mlp2`, `mlp3` and `mlp5` are the paper's three networks.

use std::fmt;

use ibci_kernels::Activation;

/// Layer widths and activations of an MLP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchSpec {
    /// Widths, input first: `[784, 100, 10]` has two weight layers.
    pub widths: Vec<usize>,
    /// One activation per weight layer (`widths.len() - 1` of them).
    pub acts: Vec<Activation>,
}

/// A malformed architecture or activation list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// A width is not a positive integer.
    BadWidth {
        /// The whole spec.
        spec: String,
        /// The offending part.
        part: String,
    },
    /// Fewer than two widths (no weight layer).
    TooShallow {
        /// The whole spec.
        spec: String,
    },
    /// An unknown activation name.
    BadActivation {
        /// The offending name.
        name: String,
    },
    /// The activation list does not have one entry per weight layer.
    ActivationCount {
        /// Weight layers of the architecture.
        layers: usize,
        /// Activations given.
        given: usize,
    },
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::BadWidth { spec, part } => write!(
                f,
                "architecture {spec:?}: {part:?} is not a positive width; expected e.g. 784-100-10 or mlp2, mlp3, mlp5"
            ),
            SpecError::TooShallow { spec } => write!(
                f,
                "architecture {spec:?}: needs at least an input and an output width, e.g. 784-10"
            ),
            SpecError::BadActivation { name } => write!(
                f,
                "unknown activation {name:?}; expected relu, tanh, sigmoid or identity"
            ),
            SpecError::ActivationCount { layers, given } => write!(
                f,
                "{given} activations for {layers} weight layers; give one per layer, e.g. relu,identity"
            ),
        }
    }
}

impl std::error::Error for SpecError {}

impl ArchSpec {
    /// Parses widths (`784-100-10`) or a preset (`mlp2`, `mlp3`, `mlp5`), with the default
    /// activations (relu hidden, identity output).
    pub fn parse(spec: &str) -> Result<ArchSpec, SpecError> {
        let widths: Vec<usize> = match spec {
            "mlp2" => vec![784, 100, 10],
            "mlp3" => vec![784, 256, 100, 10],
            "mlp5" => vec![784, 32, 32, 32, 32, 10],
            _ => spec
                .split('-')
                .map(|p| match p.trim().parse::<usize>() {
                    Ok(w) if w > 0 => Ok(w),
                    _ => Err(SpecError::BadWidth {
                        spec: spec.to_string(),
                        part: p.to_string(),
                    }),
                })
                .collect::<Result<_, _>>()?,
        };
        if widths.len() < 2 {
            return Err(SpecError::TooShallow {
                spec: spec.to_string(),
            });
        }
        let layers = widths.len() - 1;
        let mut acts = vec![Activation::Relu; layers];
        acts[layers - 1] = Activation::Identity;
        Ok(ArchSpec { widths, acts })
    }

    /// Replaces the activations with a comma-separated list, one per weight layer.
    pub fn with_activations(mut self, list: &str) -> Result<ArchSpec, SpecError> {
        let acts: Vec<Activation> = list
            .split(',')
            .map(|n| {
                Activation::parse(n.trim()).ok_or_else(|| SpecError::BadActivation {
                    name: n.trim().to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        if acts.len() != self.layers() {
            return Err(SpecError::ActivationCount {
                layers: self.layers(),
                given: acts.len(),
            });
        }
        self.acts = acts;
        Ok(self)
    }

    /// Number of weight layers.
    pub fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.widths[0]
    }

    /// Output width (number of classes).
    pub fn outputs(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }
}

impl fmt::Display for ArchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w: Vec<String> = self.widths.iter().map(usize::to_string).collect();
        let a: Vec<&str> = self.acts.iter().map(|a| a.name()).collect();
        write!(f, "{} ({})", w.join("-"), a.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_explicit_specs() {
        let s = ArchSpec::parse("mlp3").unwrap();
        assert_eq!(s.widths, [784, 256, 100, 10]);
        assert_eq!(
            s.acts,
            [Activation::Relu, Activation::Relu, Activation::Identity]
        );
        assert_eq!(s.to_string(), "784-256-100-10 (relu,relu,identity)");
        let s = ArchSpec::parse("4-3-2")
            .unwrap()
            .with_activations("tanh, sigmoid")
            .unwrap();
        assert_eq!(s.acts, [Activation::Tanh, Activation::Sigmoid]);
        assert_eq!(ArchSpec::parse("mlp5").unwrap().layers(), 5);
    }

    #[test]
    fn malformed_specs_are_typed_errors() {
        assert!(
            matches!(ArchSpec::parse("784-0-10"), Err(SpecError::BadWidth { part, .. }) if part == "0")
        );
        assert!(matches!(
            ArchSpec::parse("784-x-10"),
            Err(SpecError::BadWidth { .. })
        ));
        assert!(matches!(
            ArchSpec::parse("784"),
            Err(SpecError::TooShallow { .. })
        ));
        let two = ArchSpec::parse("mlp2").unwrap();
        assert!(matches!(
            two.clone().with_activations("relu"),
            Err(SpecError::ActivationCount {
                layers: 2,
                given: 1
            })
        ));
        assert!(
            matches!(two.with_activations("relu,softplus"), Err(SpecError::BadActivation { name }) if name == "softplus")
        );
    }
}
