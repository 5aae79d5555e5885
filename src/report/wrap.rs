//! Word wrapping for the lines above and below the tables, so no line is wider than the screen:
//! a label, then text that continues under itself.

/// `indent` + `label` padded to `label_width`, then `text` wrapped to `width`, continuation lines
/// aligned under the text. Words longer than a line (paths) are cut.
pub fn labelled(indent: &str, label: &str, label_width: usize, text: &str, width: usize) -> String {
    let gap = if label_width == 0 { " " } else { "  " };
    let head = format!("{indent}{label:<label_width$}{gap}");
    let hang = " ".repeat(head.chars().count());
    let room = width.saturating_sub(hang.chars().count()).max(10);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        while word.chars().count() > room {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            let cut: String = word.chars().take(room).collect();
            word = word.chars().skip(room).collect();
            lines.push(cut);
        }
        if current.is_empty() {
            current = word;
        } else if current.chars().count() + 1 + word.chars().count() <= room {
            current.push(' ');
            current.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut current, word));
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| if i == 0 { format!("{head}{l}") } else { format!("{hang}{l}") })
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_under_the_text() {
        let out = labelled("  ", "Server", 8, "one two three four five six seven eight nine ten", 30);
        for line in out.lines() {
            assert!(line.chars().count() <= 30, "{line:?}");
        }
        assert!(out.starts_with("  Server    one two"), "{out}");
        assert!(out.lines().nth(1).unwrap().starts_with("            "), "{out}");
        let long = labelled("", "Path", 4, &"x".repeat(100), 40);
        assert!(long.lines().all(|l| l.chars().count() <= 40), "{long}");
        assert_eq!(long.replace(['\n', ' '], "").matches('x').count(), 100);
    }
}
