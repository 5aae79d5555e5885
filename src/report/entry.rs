//! One cell of a human-readable table: its text and what kind of text it is, so exporters can
//! align and colour it; the texts of a failed or missing cell; how a verdict is coloured.

use crate::model::results::{Ratio, Verdict};

/// Shown for a cell whose column failed, or whose operations all failed.
pub const ERROR: &str = "error";
/// Shown where there is nothing to show (no cell, no comparison).
pub const MISSING: &str = "-";
/// Shown for an operation the column's client does not have (the notes say why).
pub const NOT_SUPPORTED: &str = crate::engine::failure::NOT_SUPPORTED;

/// What kind of text an entry holds, so exporters can align and colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The operation name in the first column.
    Operation,
    /// A measured number.
    Value,
    /// A column, or every operation of a cell, failed.
    Error,
    /// Nothing measured or nothing to compare.
    Missing,
    /// A ratio where the column beats its baseline.
    Faster,
    /// A ratio where the column loses to its baseline.
    Slower,
    /// A ratio within 1%.
    Same,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub text: String,
    pub kind: Kind,
}

impl Entry {
    pub fn new(text: impl Into<String>, kind: Kind) -> Self {
        Entry { text: text.into(), kind }
    }
}

/// How a verdict is shown (colour).
fn verdict_kind(v: Verdict) -> Kind {
    match v {
        Verdict::Faster => Kind::Faster,
        Verdict::Slower => Kind::Slower,
        Verdict::NoClearDifference | Verdict::WithinMinEffect | Verdict::SingleRound => Kind::Same,
        Verdict::NotComparable => Kind::Missing,
    }
}

/// A ratio's text, coloured by its verdict; `-` when there is none.
pub fn ratio_entry(ratio: Option<&Ratio>) -> Entry {
    match ratio {
        Some(r) => Entry::new(r.text.clone(), verdict_kind(r.verdict)),
        None => Entry::new(MISSING, Kind::Missing),
    }
}

/// A service verdict's text, coloured by its verdict; `-` when there is none.
pub fn service_verdict_entry(verdict: Option<&crate::model::service::ServiceVerdict>) -> Entry {
    match verdict {
        Some(v) => Entry::new(v.text.clone(), verdict_kind(v.verdict)),
        None => Entry::new(MISSING, Kind::Missing),
    }
}
