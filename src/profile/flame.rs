//! Flame graphs (SVG) of folded stacks, drawn by inferno: one per column and operation, and
//! differential ones between two builds (the later build's stacks, red where a frame's share
//! grew, blue where it shrank).

use std::io::BufReader;

/// The flame graph of `folded` (folded stacks as text) with `title`.
pub fn render(folded: &str, title: &str, subtitle: &str) -> Result<Vec<u8>, String> {
    let mut options = options(title, subtitle);
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg)
        .map_err(|e| format!("cannot draw the flame graph: {e}"))?;
    Ok(svg)
}

/// The differential flame graph from `before` to `after` (folded stacks as text), each
/// normalised to the same number of samples.
pub fn render_differential(before: &str, after: &str, title: &str, subtitle: &str) -> Result<Vec<u8>, String> {
    let mut both = Vec::new();
    let diff = inferno::differential::Options { normalize: true, strip_hex: true };
    inferno::differential::from_readers(
        diff,
        BufReader::new(before.as_bytes()),
        BufReader::new(after.as_bytes()),
        &mut both,
    )
    .map_err(|e| format!("cannot compare the two profiles: {e}"))?;
    let both = String::from_utf8_lossy(&both);
    let mut options = options(title, subtitle);
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, both.lines(), &mut svg)
        .map_err(|e| format!("cannot draw the differential flame graph: {e}"))?;
    Ok(svg)
}

fn options(title: &str, subtitle: &str) -> inferno::flamegraph::Options<'static> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.subtitle = Some(subtitle.to_owned());
    options.count_name = "samples".to_owned();
    options.deterministic = true;
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_svg_naming_the_frames() {
        let svg = String::from_utf8(render("run;get;as_dict 30\nrun;get 10\n", "get", "a column").unwrap()).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("as_dict"), "{}", &svg[..200.min(svg.len())]);
        let diff =
            render_differential("run;get 10\n", "run;get 10\nrun;get;as_dict 30\n", "get", "b against a").unwrap();
        let diff = String::from_utf8(diff).unwrap();
        assert!(diff.contains("as_dict"));
    }
}
