//! The report as a small document (headings, paragraphs, lists, tables, figures), written
//! once and rendered both as Markdown (`REPORT.md`) and HTML (`index.html`).

use std::fmt::Write as _;

/// A table cell: text and whether it is marked best.
pub type TCell = (String, bool);

/// One situation in the "which strategy" panel.
#[derive(Clone, Debug)]
pub struct Card {
    /// The situation.
    pub title: String,
    /// The winner or the tie, in a few words (may use `code`).
    pub verdict: String,
    /// Whether a winner (or a tie) was found.
    pub decided: bool,
    /// The small chart's SVG file, relative to the report (none when nothing was measured).
    pub file: Option<String>,
    /// The chart's alt text.
    pub alt: String,
    /// One sentence why (may use `code`).
    pub why: String,
}

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
    /// The "which strategy" panel: a heading, a lead paragraph and one card per situation.
    Panel {
        /// The panel's heading.
        heading: String,
        /// One line under the heading.
        lead: String,
        /// The situations.
        cards: Vec<Card>,
        /// Where the detailed guide is (a heading's text, linked by its anchor).
        more: String,
    },
    /// A paragraph that is a link: its text, its target and plain text after it.
    Link {
        /// The link's text.
        text: String,
        /// Its target (a relative path or an anchor).
        href: String,
        /// Text after the link (may use `code`).
        after: String,
    },
    /// A table of contents: the level-2 headings and collapsible sections after it.
    Contents,
    /// A section that starts folded in HTML (`<details>`); a level-2 heading in Markdown.
    Details(String, Vec<Block>),
}

/// The anchor of a heading: lower case, letters, digits and single dashes (GitHub's style
/// for plain text, so that the Markdown's links work there too).
pub fn anchor(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if (c == ' ' || c == '-') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// The entries of the table of contents: every level-2 heading and collapsible section
/// after the [`Block::Contents`] block, in order.
fn contents(blocks: &[Block]) -> Vec<String> {
    let at = blocks
        .iter()
        .position(|b| matches!(b, Block::Contents))
        .map_or(blocks.len(), |i| i + 1);
    blocks[at..]
        .iter()
        .filter_map(|b| match b {
            Block::Heading(2, t) | Block::Details(t, _) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// Text without its `code` and **bold** markers.
fn plain(s: &str) -> String {
    s.replace("**", "").replace('`', "")
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders the blocks as Markdown.
pub fn markdown(blocks: &[Block]) -> String {
    let toc = contents(blocks);
    let mut out = String::new();
    markdown_into(&mut out, blocks, &toc);
    out
}

fn markdown_into(out: &mut String, blocks: &[Block], toc: &[String]) {
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
            Block::Panel {
                heading,
                lead,
                cards,
                more,
            } => {
                let _ = writeln!(out, "## {heading}\n\n{lead}\n");
                for c in cards {
                    let _ = writeln!(out, "- **{}**: {}. {}", c.title, c.verdict, c.why);
                }
                out.push('\n');
                for c in cards {
                    if let Some(file) = &c.file {
                        let _ = writeln!(out, "![{}]({file})", c.alt);
                    }
                }
                let _ = writeln!(out, "\nIn full: [{more}](#{}).\n", anchor(more));
            }
            Block::Link { text, href, after } => {
                let _ = writeln!(out, "[{text}]({href}) {after}\n");
            }
            Block::Contents => {
                out.push_str("Contents:\n\n");
                for t in toc {
                    let _ = writeln!(out, "- [{}](#{})", plain(t), anchor(&plain(t)));
                }
                out.push('\n');
            }
            Block::Details(summary, inner) => {
                let _ = writeln!(out, "## {summary}\n");
                markdown_into(out, inner, toc);
            }
        }
    }
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

/// The page's only style: no fonts, images or scripts from anywhere else. Charts and tables
/// fit a phone (charts scale down, a wide table scrolls inside its own box); print drops
/// the contents and unfolds every section.
const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1400px;margin:0.5em auto;padding:0 1em;color:#222;line-height:1.35}\
h1{font-size:1.6em;margin:0.3em 0 0.2em}h2{margin-top:1.4em}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.best{background:#d9f2d9;font-weight:bold}\
figure{margin:1em 0 2em}img{max-width:100%;height:auto}figure img{border:1px solid #ddd}\
figcaption{font-size:13px;color:#444}p,li,figcaption,summary{overflow-wrap:break-word}.scroll{overflow-x:auto;max-width:100%}code{background:#f4f4f4;padding:0 2px;overflow-wrap:anywhere}\
#guide-panel h2{margin:0.2em 0;font-size:1.25em}#guide-panel .lead{margin:0.2em 0 0.5em;font-size:14px}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:8px}\
.card{border:1px solid #ccc;border-radius:4px;padding:4px 8px;font-size:13px;break-inside:avoid}\
.card h3{font-size:14px;margin:0}.card .verdict{margin:2px 0;font-size:14px}.card .verdict.none{color:#888}\
.card img{display:block;width:100%;max-width:340px}.card .why{margin:2px 0;color:#333}\
nav.toc{font-size:14px;border-top:1px solid #ddd;border-bottom:1px solid #ddd;margin:0.8em 0;padding:0.2em 0}\
nav.toc ul{margin:0.3em 0;padding-left:1.2em;columns:2 260px}\
details{margin:1em 0;border:1px solid #ddd;border-radius:4px;padding:0 0.8em}\
details>summary{cursor:pointer;font-size:1.2em;font-weight:bold;padding:0.4em 0}\
@media (max-width:600px){body{padding:0 0.5em}table{font-size:12px}h1{font-size:1.3em}}\
@media print{body{max-width:none;margin:0;font-size:11pt}nav.toc,details>summary::marker{display:none}\
details{border:none;padding:0}.scroll{overflow:visible}figure,.card,tr{break-inside:avoid}h2,h3{break-after:avoid}\
a{color:inherit;text-decoration:none}}";

/// Records script errors and images that fail to load into the page itself
/// (`data-page-errors` on `<html>`), and the bottom edge of the guide panel
/// (`data-panel-bottom`, CSS pixels from the top) once the page has loaded: what a
/// headless browser's dumped DOM can be checked against. Before printing, it unfolds every
/// `<details>` section. Nothing is fetched.
const SCRIPT: &str = "(function(){var d=document.documentElement,errs=[];\
function note(m){errs.push(m);d.setAttribute('data-page-errors',errs.join(' | '));}\
window.addEventListener('error',function(e){var t=e.target;\
note(t&&t.tagName?'failed to load '+(t.src||t.href||t.tagName):'error: '+e.message);},true);\
window.addEventListener('load',function(){var imgs=document.images,n=0;\
for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0){n++;}else{note('image not shown: '+imgs[i].getAttribute('src'));}}\
d.setAttribute('data-images-shown',String(n));\
var p=document.getElementById('guide-panel');\
if(p){d.setAttribute('data-panel-bottom',String(Math.round(p.getBoundingClientRect().bottom+window.scrollY)));}\
d.setAttribute('data-page-width',String(d.scrollWidth));d.setAttribute('data-loaded','1');});\
window.addEventListener('beforeprint',function(){var s=document.querySelectorAll('details');\
for(var i=0;i<s.length;i++){s[i].open=true;}});})();";

fn table_html(out: &mut String, head: &[String], rows: &[Vec<TCell>]) {
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

fn html_into(out: &mut String, blocks: &[Block], toc: &[String]) {
    for b in blocks {
        match b {
            Block::Heading(level, t) => {
                let _ = writeln!(
                    out,
                    "<h{level} id=\"{}\">{}</h{level}>",
                    anchor(&plain(t)),
                    inline(t)
                );
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
            Block::Table(head, rows) => table_html(out, head, rows),
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
            Block::Panel {
                heading,
                lead,
                cards,
                more,
            } => {
                let _ = writeln!(
                    out,
                    "<section id=\"guide-panel\">\n<h2>{}</h2>\n<p class=\"lead\">{} <a href=\"#{}\">In full</a>.</p>\n<div class=\"cards\">",
                    inline(heading),
                    inline(lead),
                    anchor(&plain(more))
                );
                for c in cards {
                    let _ = writeln!(
                        out,
                        "<div class=\"card\">\n<h3>{}</h3>\n<p class=\"verdict{}\">{}</p>",
                        inline(&c.title),
                        if c.decided { "" } else { " none" },
                        if c.decided {
                            format!("<b>{}</b>", inline(&c.verdict))
                        } else {
                            inline(&c.verdict)
                        }
                    );
                    if let Some(file) = &c.file {
                        let _ = writeln!(
                            out,
                            "<img src=\"{}\" alt=\"{}\">",
                            escape(file),
                            escape(&c.alt)
                        );
                    }
                    let _ = writeln!(out, "<p class=\"why\">{}</p>\n</div>", inline(&c.why));
                }
                out.push_str("</div>\n</section>\n");
            }
            Block::Link { text, href, after } => {
                let _ = writeln!(
                    out,
                    "<p><a href=\"{}\">{}</a> {}</p>",
                    escape(href),
                    inline(text),
                    inline(after)
                );
            }
            Block::Contents => {
                out.push_str("<nav class=\"toc\"><b>Contents</b>\n<ul>\n");
                for t in toc {
                    let _ = writeln!(
                        out,
                        "<li><a href=\"#{}\">{}</a></li>",
                        anchor(&plain(t)),
                        inline(t)
                    );
                }
                out.push_str("</ul>\n</nav>\n");
            }
            Block::Details(summary, inner) => {
                let _ = writeln!(
                    out,
                    "<details id=\"{}\">\n<summary>{}</summary>",
                    anchor(&plain(summary)),
                    inline(summary)
                );
                html_into(out, inner, toc);
                out.push_str("</details>\n");
            }
        }
    }
}

/// Renders the blocks as a standalone HTML page: one file with its style and a small
/// inline script (see `SCRIPT`), referring only to the chart files beside it and to
/// links the blocks hold.
pub fn html(title: &str, blocks: &[Block]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n<script>{SCRIPT}</script>\n</head>\n<body>\n",
        escape(title)
    );
    let toc = contents(blocks);
    html_into(&mut out, blocks, &toc);
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
