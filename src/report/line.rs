//! One `label: text` line of the header, as the header and the lines about builds write it and
//! every exporter lays it out.

/// One `label: text` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    pub text: String,
}

impl Line {
    pub fn new(label: impl Into<String>, text: impl Into<String>) -> Self {
        Line { label: label.into(), text: text.into() }
    }
}
