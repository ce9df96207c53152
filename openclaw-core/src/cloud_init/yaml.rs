//! A deliberately small YAML emitter for cloud-config documents.
//!
//! The user data carries values that come from outside (the instance's name, versions, URLs).
//! Validation keeps them tame, but the document's shape must not depend on validation alone, so
//! the emitter itself only ever writes a handful of fixed forms:
//!
//! - every string as a double-quoted scalar in which `"` and `\`, every control character and
//!   every character YAML 1.1 reads as a line break (NEL, U+2028, U+2029) are escaped, so a
//!   value can neither end its scalar early nor start a new line;
//! - multi-line file contents as literal block scalars (`|2`) with an explicit indentation
//!   indicator, so no first line (indented or not) can move where the block ends; anything that
//!   could end a line inside a block other than `\n` is refused rather than escaped, because a
//!   literal block has no escapes;
//! - keys that are compile-time constants of lowercase letters and `_`.
//!
//! PyYAML (which cloud-init uses) and libyaml read all of these the same way.

use std::fmt::Write as _;

use crate::error::{Error, Result};

/// One node of the document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A string, always written double-quoted.
    Str(String),
    /// A boolean, written plain (`true` / `false`); never built from input.
    Bool(bool),
    /// Multi-line text (a file's contents), written as a literal block scalar.
    Block(String),
    /// A short list of strings on one line (`["a", "b"]`), used for argv-style commands.
    Flow(Vec<String>),
    /// A block sequence.
    Seq(Vec<Node>),
    /// A block mapping; keys keep their order so output is stable.
    Map(Vec<(&'static str, Node)>),
}

/// Writes `root` as a YAML document after the `header` line (`#cloud-config`).
///
/// `field` names the input that is at fault if a block holds a character YAML cannot carry
/// there; the message never repeats the offending text, which may be secret.
pub(crate) fn to_document(header: &str, root: &Node, field: &str) -> Result<String> {
    let Node::Map(entries) = root else {
        return Err(Error::internal("a cloud-config document must be a mapping"));
    };
    let mut emitter = Emitter {
        out: String::with_capacity(8 * 1024),
        field,
    };
    emitter.out.push_str(header);
    emitter.out.push('\n');
    emitter.map(entries, 0, false)?;
    Ok(emitter.out)
}

/// Characters that must never appear raw in a literal block: they would either end a line
/// (CR, NEL, LS, PS), be rejected by a YAML reader (C0/C1 controls, DEL, non-characters), or be
/// read as a byte order mark.
fn forbidden_in_block(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

/// Characters a double-quoted scalar carries only as an escape.
fn needs_unicode_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

/// Writes `value` as a double-quoted YAML scalar. The escapes used (`\"`, `\\`, `\n`, `\r`,
/// `\t`, `\uXXXX`) mean the same in JSON and YAML.
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    // Nearly every value is plain printable ASCII: copy it in one go.
    if value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push_str(value);
        out.push('"');
        return;
    }
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_unicode_escape(c) => {
                // Every such character is in the Basic Multilingual Plane, so four digits do.
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Emitter<'a> {
    out: String,
    field: &'a str,
}

impl Emitter<'_> {
    fn pad(&mut self, columns: usize) {
        const SPACES: &str = "                                ";
        let mut left = columns;
        while left > 0 {
            let n = left.min(SPACES.len());
            self.out.push_str(&SPACES[..n]);
            left -= n;
        }
    }

    /// A block mapping whose keys sit at column `indent`. With `inline_first` the caller has
    /// already written the `- ` that puts the first key at that column.
    fn map(
        &mut self,
        entries: &[(&'static str, Node)],
        indent: usize,
        inline_first: bool,
    ) -> Result<()> {
        for (i, (key, value)) in entries.iter().enumerate() {
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(Error::internal(format!("unsafe YAML key {key:?}")));
            }
            if i > 0 || !inline_first {
                self.pad(indent);
            }
            self.out.push_str(key);
            self.out.push(':');
            self.value(value, indent)?;
        }
        Ok(())
    }

    /// A block sequence whose dashes sit at column `indent`.
    fn seq(&mut self, items: &[Node], indent: usize, inline_first: bool) -> Result<()> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline_first {
                self.pad(indent);
            }
            self.out.push('-');
            match item {
                Node::Map(entries) if !entries.is_empty() => {
                    self.out.push(' ');
                    self.map(entries, indent + 2, true)?;
                }
                Node::Seq(inner) if !inner.is_empty() => {
                    self.out.push(' ');
                    self.seq(inner, indent + 2, true)?;
                }
                other => self.value(other, indent)?,
            }
        }
        Ok(())
    }

    /// The value of a key or sequence entry at column `indent`, written right after its `:` or
    /// `-`, through to the end of its last line.
    fn value(&mut self, node: &Node, indent: usize) -> Result<()> {
        match node {
            Node::Str(s) => {
                self.out.push(' ');
                push_quoted(&mut self.out, s);
                self.out.push('\n');
            }
            Node::Bool(b) => {
                self.out.push_str(if *b { " true\n" } else { " false\n" });
            }
            Node::Flow(items) => {
                self.out.push_str(" [");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    push_quoted(&mut self.out, item);
                }
                self.out.push_str("]\n");
            }
            Node::Block(text) => self.block(text, indent)?,
            Node::Seq(items) if items.is_empty() => self.out.push_str(" []\n"),
            Node::Map(entries) if entries.is_empty() => self.out.push_str(" {}\n"),
            Node::Seq(items) => {
                self.out.push('\n');
                self.seq(items, indent + 2, false)?;
            }
            Node::Map(entries) => {
                self.out.push('\n');
                self.map(entries, indent + 2, false)?;
            }
        }
        Ok(())
    }

    /// A literal block scalar for the node at column `indent`; its lines sit two columns deeper.
    ///
    /// The explicit indentation indicator `2` is counted from the node's own column (the key, or
    /// the dash of a sequence entry) by both PyYAML and libyaml, so content that starts with
    /// spaces stays content instead of redefining the block's indentation.
    fn block(&mut self, text: &str, indent: usize) -> Result<()> {
        // Printable ASCII and newlines (nearly every file) need no per-character look.
        let plain = text
            .bytes()
            .all(|b| b == b'\n' || (0x20..0x7f).contains(&b));
        if !plain && text.chars().any(forbidden_in_block) {
            return Err(Error::invalid(
                self.field,
                "contains a control or line-separator character that cannot go into a file",
            ));
        }
        if text.is_empty() {
            self.out.push_str(" \"\"\n");
            return Ok(());
        }
        // Chomping keeps the text byte for byte: clip for exactly one final newline, strip for
        // none, keep for more than one.
        let chomp = if !text.ends_with('\n') {
            "-"
        } else if text.ends_with("\n\n") || text == "\n" {
            "+"
        } else {
            ""
        };
        self.out.push_str(" |2");
        self.out.push_str(chomp);
        self.out.push('\n');
        let body = text.strip_suffix('\n').unwrap_or(text);
        for line in body.split('\n') {
            if !line.is_empty() {
                self.pad(indent + 2);
                self.out.push_str(line);
            }
            self.out.push('\n');
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn doc(root: &Node) -> String {
        to_document("#cloud-config", root, "test").unwrap()
    }

    fn parse(text: &str) -> serde_yaml::Value {
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
    }

    #[test]
    fn writes_the_fixed_forms() {
        let root = Node::Map(vec![
            ("flag", Node::Bool(true)),
            ("name", Node::Str("a \"b\"\n".into())),
            ("list", Node::Seq(vec![Node::Str("x".into())])),
            (
                "files",
                Node::Seq(vec![Node::Map(vec![
                    ("path", Node::Str("/p".into())),
                    ("content", Node::Block("line\n  indented\n".into())),
                ])]),
            ),
            (
                "cmds",
                Node::Seq(vec![Node::Flow(vec!["a".into(), "b c".into()])]),
            ),
            ("empty", Node::Seq(vec![])),
        ]);
        let expected = "#cloud-config\n\
            flag: true\n\
            name: \"a \\\"b\\\"\\n\"\n\
            list:\n  - \"x\"\n\
            files:\n  - path: \"/p\"\n    content: |2\n      line\n        indented\n\
            cmds:\n  - [\"a\", \"b c\"]\n\
            empty: []\n";
        assert_eq!(doc(&root), expected);
    }

    #[test]
    fn blocks_keep_leading_spaces_blank_lines_and_final_newlines() {
        for text in [
            "  starts indented\nthen not\n",
            "\n\nblank first\n",
            "no final newline",
            "two final newlines\n\n",
            "\n",
            "   \n  only spaces above\n",
            "---\n...\n# not a comment\nkey: value\n- item\n",
        ] {
            let root = Node::Map(vec![(
                "files",
                Node::Seq(vec![Node::Map(vec![
                    ("content", Node::Block(text.into())),
                    ("after", Node::Str("still here".into())),
                ])]),
            )]);
            let value = parse(&doc(&root));
            assert_eq!(
                value["files"][0]["content"].as_str(),
                Some(text),
                "{text:?}"
            );
            assert_eq!(value["files"][0]["after"].as_str(), Some("still here"));
        }
    }

    #[test]
    fn blocks_refuse_what_could_end_a_line() {
        for text in [
            "a\rb",
            "a\u{85}b",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{0}b",
            "a\tb",
            "\u{FEFF}a",
        ] {
            let root = Node::Map(vec![("content", Node::Block(text.into()))]);
            let err = to_document("#cloud-config", &root, "fqdn").unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { ref field, .. } if field == "fqdn"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn keys_are_checked() {
        let root = Node::Map(vec![("bad key: x", Node::Bool(true))]);
        assert!(to_document("#cloud-config", &root, "x").is_err());
    }

    /// Strings rich in YAML syntax, line breaks of every kind and non-ASCII text.
    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ \n\r\t\"'\\\\:#{}\\[\\],&*!|>%@`\\-?a-z0-9\u{85}\u{2028}\u{2029}\u{FEFF}\u{0}\u{1b}é日🦀]{0,40}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn no_string_changes_the_structure(a in hostile(), b in hostile(), c in hostile(), body in hostile()) {
            let root = Node::Map(vec![
                ("first", Node::Str(a.clone())),
                ("files", Node::Seq(vec![
                    Node::Map(vec![("path", Node::Str(b.clone())), ("content", Node::Block(body.clone()))]),
                    Node::Map(vec![("path", Node::Str("/fixed".into()))]),
                ])),
                ("cmds", Node::Seq(vec![Node::Flow(vec![c.clone(), a.clone()]), Node::Str(b.clone())])),
                ("last", Node::Bool(false)),
            ]);
            match to_document("#cloud-config", &root, "x") {
                Err(Error::InvalidInput { .. }) => {
                    prop_assert!(body.chars().any(forbidden_in_block));
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
                Ok(text) => {
                    let value = parse(&text);
                    let top = value.as_mapping().unwrap();
                    let keys: Vec<_> = top.keys().map(|k| k.as_str().unwrap()).collect();
                    prop_assert_eq!(keys, vec!["first", "files", "cmds", "last"]);
                    prop_assert_eq!(value["first"].as_str(), Some(a.as_str()));
                    prop_assert_eq!(value["files"].as_sequence().unwrap().len(), 2);
                    prop_assert_eq!(value["files"][0].as_mapping().unwrap().len(), 2);
                    prop_assert_eq!(value["files"][0]["path"].as_str(), Some(b.as_str()));
                    prop_assert_eq!(value["files"][0]["content"].as_str(), Some(body.as_str()));
                    prop_assert_eq!(value["files"][1].as_mapping().unwrap().len(), 1);
                    prop_assert_eq!(value["cmds"].as_sequence().unwrap().len(), 2);
                    prop_assert_eq!(value["cmds"][0][0].as_str(), Some(c.as_str()));
                    prop_assert_eq!(value["cmds"][0][1].as_str(), Some(a.as_str()));
                    prop_assert_eq!(value["cmds"][1].as_str(), Some(b.as_str()));
                    prop_assert_eq!(value["last"].as_bool(), Some(false));
                }
            }
        }
    }
}
