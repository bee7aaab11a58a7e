//! The report as a small document (headings, paragraphs, lists, tables, figures), written
//! once and rendered both as Markdown (`REPORT.md`) and HTML (`index.html`).

use std::fmt::Write as _;

/// A table cell: text and whether it is marked best.
pub type TCell = (String, bool);

/// One block of the document. Text may use `code` and **bold**.
#[derive(Clone, Debug)]
pub enum Block {
    /// A heading of level 1..=3.
    Heading(u8, String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table: header cells and rows.
    Table(Vec<String>, Vec<Vec<TCell>>),
    /// A figure: SVG file, title, caption lines.
    Figure {
        /// The SVG file, relative to the report.
        file: String,
        /// Title (alt text).
        title: String,
        /// Caption lines.
        caption: Vec<String>,
    },
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders the blocks as Markdown.
pub fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(out, "{} {t}\n", "#".repeat(*level as usize));
            }
            Block::Para(t) => {
                let _ = writeln!(out, "{t}\n");
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(out, "- {i}");
                }
                out.push('\n');
            }
            Block::Table(head, rows) => {
                let _ = writeln!(
                    out,
                    "| {} |",
                    head.iter()
                        .map(|h| md_cell(h))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                for r in rows {
                    let cells: Vec<String> = r
                        .iter()
                        .map(|(t, best)| {
                            if *best {
                                format!("**{}** ★", md_cell(t))
                            } else {
                                md_cell(t)
                            }
                        })
                        .collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
                out.push('\n');
            }
            Block::Figure {
                file,
                title,
                caption,
            } => {
                let _ = writeln!(out, "![{title}]({file})\n");
                for c in caption {
                    let _ = writeln!(out, "*{c}*  ");
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Escapes, then turns `code` and **bold** into tags.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut code = false;
    let mut bold = false;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("**") && !code {
            out.push_str(if bold { "</b>" } else { "<b>" });
            bold = !bold;
            rest = &rest[2..];
            continue;
        }
        if c == '`' {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
        } else {
            out.push_str(&escape(&c.to_string()));
        }
        rest = &rest[c.len_utf8()..];
    }
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</b>");
    }
    out
}

const CSS: &str = "body{font-family:sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.best{background:#d9f2d9;font-weight:bold}\
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #ddd}\
figcaption{font-size:13px;color:#444}.scroll{overflow-x:auto}code{background:#f4f4f4;padding:0 2px}";

/// Renders the blocks as a standalone HTML page.
pub fn html(title: &str, blocks: &[Block]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(title)
    );
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", inline(t));
            }
            Block::Para(t) => {
                let _ = writeln!(out, "<p>{}</p>", inline(t));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", inline(i));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(head, rows) => {
                out.push_str("<div class=\"scroll\"><table>\n<tr>");
                for h in head {
                    let _ = write!(out, "<th>{}</th>", inline(h));
                }
                out.push_str("</tr>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for (t, best) in r {
                        if *best {
                            let _ = write!(out, "<td class=\"best\">{} ★</td>", inline(t));
                        } else {
                            let _ = write!(out, "<td>{}</td>", inline(t));
                        }
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table></div>\n");
            }
            Block::Figure {
                file,
                title,
                caption,
            } => {
                let _ = writeln!(
                    out,
                    "<figure id=\"{}\">\n<img src=\"{}\" alt=\"{}\">\n<figcaption>{}</figcaption>\n</figure>",
                    escape(file.trim_end_matches(".svg")),
                    escape(file),
                    escape(title),
                    caption.iter().map(|c| inline(c)).collect::<Vec<_>>().join("<br>")
                );
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markup_and_escaping() {
        assert_eq!(
            inline("a `b<c>` **d**"),
            "a <code>b&lt;c&gt;</code> <b>d</b>"
        );
        assert_eq!(inline("x = a*b"), "x = a*b");
    }

    #[test]
    fn markdown_table_marks_best() {
        let md = markdown(&[Block::Table(
            vec!["backend".into(), "x".into()],
            vec![vec![("a".into(), false), ("1|2".into(), true)]],
        )]);
        assert!(md.contains("| a | **1\\|2** ★ |"));
    }
}
