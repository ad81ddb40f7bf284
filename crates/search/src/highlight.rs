//! `<mark>` highlighting of query terms in titles and summaries; everything else is HTML-escaped.

use crate::analysis::normalize;

/// Highlights `terms` (already normalized) in `text` and HTML-escapes the rest. Matching runs on
/// the normalized text, so 機器 in a listing is marked for a query 机器. When `max_chars` is set
/// and the text is longer, a window around the first match is returned with `…` marks.
pub fn highlight(text: &str, terms: &[String], max_chars: Option<usize>) -> String {
    // Normalize character by character so every normalized byte maps back to an original char.
    let original: Vec<char> = text.chars().collect();
    let mut normalized = String::new();
    let mut owner: Vec<usize> = Vec::new();
    for (char_index, c) in original.iter().enumerate() {
        let piece = normalize(&c.to_string());
        for _ in 0..piece.len() {
            owner.push(char_index);
        }
        normalized.push_str(&piece);
    }
    let mut marked = vec![false; original.len()];
    for term in terms {
        if term.is_empty() {
            continue;
        }
        for (start, matched) in normalized.match_indices(term.as_str()) {
            for byte in start..start + matched.len() {
                marked[owner[byte]] = true;
            }
        }
    }
    let (window_start, window_end) = match max_chars {
        Some(max) if original.len() > max => {
            let first = marked.iter().position(|m| *m).unwrap_or(0);
            let start = first.saturating_sub(max / 4);
            let start = start.min(original.len() - max);
            (start, start + max)
        }
        _ => (0, original.len()),
    };
    let mut html = String::new();
    if window_start > 0 {
        html.push('…');
    }
    let mut open = false;
    for index in window_start..window_end {
        if marked[index] && !open {
            html.push_str("<mark>");
            open = true;
        } else if !marked[index] && open {
            html.push_str("</mark>");
            open = false;
        }
        push_escaped(&mut html, original[index]);
    }
    if open {
        html.push_str("</mark>");
    }
    if window_end < original.len() {
        html.push('…');
    }
    html
}

fn push_escaped(html: &mut String, c: char) {
    match c {
        '<' => html.push_str("&lt;"),
        '>' => html.push_str("&gt;"),
        '&' => html.push_str("&amp;"),
        '"' => html.push_str("&quot;"),
        '\'' => html.push_str("&#39;"),
        other => html.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_terms_and_escapes_the_rest() {
        let html = highlight("<b>機器視覺</b> & 检测", &["机器".to_string(), "检测".to_string()], None);
        assert_eq!(html, "&lt;b&gt;<mark>機器</mark>視覺&lt;/b&gt; &amp; <mark>检测</mark>");
    }
}
