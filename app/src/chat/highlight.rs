//! Code blocks highlighted by a small lexer: keywords, strings, comments and numbers, for the
//! languages people paste most. It runs in the browser on every streamed token, so it is one
//! pass with no regular expressions; a grammar-exact highlighter would weigh more than the
//! rest of the UI together.
//!
//! Output classes: `tk` keyword, `ts` string, `tc` comment, `tn` number.

#[derive(Clone, Copy, PartialEq)]
enum Family {
    /// `//` and `/* */` comments: Rust, C and C++, Java, JavaScript and TypeScript, Go, …
    CLike,
    /// `#` comments: Python, shells, Ruby, YAML, TOML.
    Hash,
    /// `--` and `/* */` comments; keywords in any case.
    Sql,
    Json,
    /// Strings and numbers only.
    Plain,
}

fn family(lang: &str) -> Family {
    match lang.to_ascii_lowercase().as_str() {
        "rust" | "rs" | "c" | "h" | "cpp" | "c++" | "cc" | "hpp" | "java" | "kotlin" | "kt"
        | "js" | "javascript" | "jsx" | "ts" | "typescript" | "tsx" | "go" | "golang" | "swift"
        | "cs" | "csharp" | "c#" | "php" | "scala" | "dart" | "zig" => Family::CLike,
        "python" | "py" | "sh" | "bash" | "shell" | "zsh" | "console" | "ruby" | "rb" | "yaml"
        | "yml" | "toml" | "perl" | "r" | "dockerfile" | "makefile" | "make" | "ini" | "conf"
        | "nix" => Family::Hash,
        "sql" | "postgres" | "postgresql" | "sqlite" | "mysql" => Family::Sql,
        "json" | "jsonc" | "json5" => Family::Json,
        _ => Family::Plain,
    }
}

const C_LIKE: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "continue",
    "crate",
    "default",
    "defer",
    "do",
    "dyn",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "final",
    "fn",
    "for",
    "from",
    "func",
    "function",
    "go",
    "if",
    "impl",
    "import",
    "in",
    "instanceof",
    "int",
    "interface",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "new",
    "nil",
    "null",
    "package",
    "private",
    "protected",
    "pub",
    "public",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "switch",
    "this",
    "throw",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "undefined",
    "unsafe",
    "use",
    "var",
    "void",
    "where",
    "while",
    "yield",
];
const HASH: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "case", "class", "continue", "def", "del",
    "do", "done", "echo", "elif", "else", "end", "esac", "except", "export", "false", "fi",
    "finally", "for", "from", "function", "if", "import", "in", "is", "lambda", "local", "module",
    "None", "nil", "not", "or", "pass", "raise", "require", "return", "self", "then", "true",
    "True", "False", "try", "unless", "while", "with", "yield",
];
const SQL: &[&str] = &[
    "add",
    "all",
    "alter",
    "and",
    "as",
    "asc",
    "begin",
    "between",
    "by",
    "case",
    "commit",
    "create",
    "delete",
    "desc",
    "distinct",
    "drop",
    "else",
    "end",
    "exists",
    "from",
    "group",
    "having",
    "if",
    "in",
    "index",
    "inner",
    "insert",
    "into",
    "is",
    "join",
    "key",
    "left",
    "like",
    "limit",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "set",
    "table",
    "then",
    "union",
    "update",
    "values",
    "when",
    "where",
    "with",
];
const JSON: &[&str] = &["true", "false", "null"];

/// `text` escaped for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    push_escaped(out, text);
    out.push_str("</span>");
}

/// `code` in language `lang` as escaped HTML with highlight spans.
pub fn to_html(lang: &str, code: &str) -> String {
    let family = family(lang);
    let rust = matches!(lang, "rust" | "rs");
    let keywords = match family {
        Family::CLike => C_LIKE,
        Family::Hash => HASH,
        Family::Sql => SQL,
        Family::Json => JSON,
        Family::Plain => &[],
    };
    let mut out = String::with_capacity(code.len() * 2);
    let mut rest = code;
    while let Some(c) = rest.chars().next() {
        let line_comment = match family {
            Family::CLike => rest.starts_with("//"),
            Family::Hash => c == '#',
            Family::Sql => rest.starts_with("--"),
            _ => false,
        };
        let (class, len) = if line_comment {
            ("tc", rest.find('\n').unwrap_or(rest.len()))
        } else if matches!(family, Family::CLike | Family::Sql) && rest.starts_with("/*") {
            ("tc", rest[2..].find("*/").map_or(rest.len(), |end| end + 4))
        } else if c == '"'
            || c == '`' && family == Family::CLike
            || c == '\'' && single_quoted(family, rust, rest)
        {
            ("ts", string_len(rest, c))
        } else if c.is_ascii_digit() {
            (
                "tn",
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                    .unwrap_or(rest.len()),
            )
        } else if c.is_alphabetic() || c == '_' {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..len];
            let keyword = if family == Family::Sql {
                keywords.iter().any(|k| k.eq_ignore_ascii_case(word))
            } else {
                keywords.contains(&word)
            };
            (if keyword { "tk" } else { "" }, len)
        } else {
            ("", c.len_utf8())
        };
        let (token, tail) = rest.split_at(len.max(c.len_utf8()));
        if class.is_empty() {
            push_escaped(&mut out, token);
        } else {
            span(&mut out, class, token);
        }
        rest = tail;
    }
    out
}

/// The length of the string starting at `text` (quote `quote`), up to and with its closing
/// quote, or to the end of the line when it has none.
fn string_len(text: &str, quote: char) -> usize {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\n' if quote != '`' => return i,
            c if c == quote => return i + c.len_utf8(),
            _ => {}
        }
    }
    text.len()
}

/// Whether `'` opens a string here: not in JSON or prose (where it is an apostrophe), nor
/// for a Rust lifetime.
fn single_quoted(family: Family, rust: bool, text: &str) -> bool {
    matches!(family, Family::CLike | Family::Hash | Family::Sql) && (!rust || is_char_literal(text))
}

/// In Rust, `'` opens a char literal (`'a'`, `'\n'`) or names a lifetime (`'a`).
fn is_char_literal(text: &str) -> bool {
    let mut chars = text.chars().skip(1);
    match (chars.next(), chars.next()) {
        (Some('\\'), _) => true,
        (Some(_), Some('\'')) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn keywords_strings_comments_and_numbers_are_marked() {
        assert_eq!(
            to_html("rust", "let x = 42; // answer"),
            r#"<span class="tk">let</span> x = <span class="tn">42</span>; <span class="tc">// answer</span>"#
        );
        assert_eq!(
            to_html("python", "def f(): return 'a#b' # c"),
            r#"<span class="tk">def</span> f(): <span class="tk">return</span> <span class="ts">&#39;a#b&#39;</span> <span class="tc"># c</span>"#
        );
        assert_eq!(
            to_html("sql", "select 1"),
            r#"<span class="tk">select</span> <span class="tn">1</span>"#
        );
    }

    #[test]
    fn rust_lifetimes_are_not_strings_and_escapes_do_not_end_a_string() {
        let html = to_html(
            "rust",
            r#"fn f<'a>(s: &'a str) -> char { let q = "say \"hi\""; '\n' }"#,
        );
        assert!(html.contains("&lt;&#39;a&gt;"), "{html}");
        assert!(
            html.contains(r#"<span class="ts">&quot;say \&quot;hi\&quot;&quot;</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="ts">&#39;\n&#39;</span>"#),
            "{html}"
        );
    }

    #[test]
    fn unknown_languages_and_unclosed_tokens_are_safe() {
        assert_eq!(to_html("", "<b>&"), "&lt;b&gt;&amp;");
        assert_eq!(
            to_html("js", "/* open"),
            r#"<span class="tc">/* open</span>"#
        );
        assert_eq!(
            to_html("js", "\"open\nnext"),
            "<span class=\"ts\">&quot;open</span>\nnext"
        );
        assert_eq!(
            to_html("text", "it's héllo wörld 1.5"),
            r#"it&#39;s héllo wörld <span class="tn">1.5</span>"#
        );
    }
}
