//! The cloud-config document as typed data, written by `serde_json` after the
//! `#cloud-config` line: JSON is YAML, so cloud-init reads it as it reads any cloud-config,
//! and no hand-written emitter decides how a value is quoted.
//!
//! Every string is a JSON string: `"` and `\` and every control character escaped, so no value
//! can end its string early, start a line or change the document's structure. Characters
//! outside printable ASCII are refused rather than written: PyYAML (cloud-init's reader) folds
//! the line breaks of YAML 1.1 (NEL, U+2028, U+2029) inside double-quoted scalars and rejects
//! other non-printable characters, and everything a document carries is validated into ASCII
//! first anyway.

use serde::Serialize;

use crate::error::{Error, Result};

/// The keys of the document, in the order cloud-init reads them best (modules run in their
/// own order regardless).
#[derive(Debug, Serialize)]
pub(crate) struct CloudConfig {
    /// Password logins over SSH.
    pub(crate) ssh_pwauth: bool,
    /// Commands run on every boot, early: before packages, files or downloads.
    pub(crate) bootcmd: Vec<Vec<String>>,
    /// Whether to update the package index first.
    pub(crate) package_update: bool,
    /// Packages to install.
    pub(crate) packages: Vec<String>,
    /// Files to write.
    pub(crate) write_files: Vec<WriteFile>,
    /// Commands run once, on the first boot, in order.
    pub(crate) runcmd: Vec<Vec<String>>,
}

/// One `write_files` entry.
#[derive(Debug, Serialize)]
pub(crate) struct WriteFile {
    /// Where.
    pub(crate) path: String,
    /// `user:group`.
    pub(crate) owner: &'static str,
    /// Octal mode, as a string (`"0600"`).
    pub(crate) permissions: &'static str,
    /// The whole file.
    pub(crate) content: String,
    /// Written after the packages are installed (`true` only; left out otherwise).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) defer: bool,
}

/// `document` after the `#cloud-config` line, as compact JSON. `field` names the input at
/// fault if a value holds a character the document cannot carry; the message never repeats
/// it (it may be secret).
pub(crate) fn to_user_data(document: &CloudConfig, field: &str) -> Result<String> {
    let json = serde_json::to_string(document)
        .map_err(|e| Error::internal(format!("writing the cloud-config document: {e}")))?;
    // serde_json escapes controls below U+0020; anything else outside printable ASCII is
    // refused (see the module's documentation).
    if let Some(bad) = json.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(Error::invalid(
            field,
            format!(
                "holds a character cloud-init cannot read safely (U+{:04X}); values must be \
                 printable ASCII",
                u32::from(bad)
            ),
        ));
    }
    Ok(format!("#cloud-config\n{json}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(content: &str) -> CloudConfig {
        CloudConfig {
            ssh_pwauth: false,
            bootcmd: vec![vec!["true".into()]],
            package_update: true,
            packages: vec!["jq".into()],
            write_files: vec![WriteFile {
                path: "/x".into(),
                owner: "root:root",
                permissions: "0600",
                content: content.into(),
                defer: false,
            }],
            runcmd: vec![],
        }
    }

    #[test]
    fn writes_json_after_the_header_and_escapes_what_could_break_out() {
        let text = to_user_data(&document("a\"b\\c\nd\u{1}:\n- [x]\n"), "user_data").unwrap();
        assert!(text.starts_with("#cloud-config\n{\"ssh_pwauth\":false,"));
        assert_eq!(
            text.lines().count(),
            2,
            "one line of JSON: nothing starts a line"
        );
        assert!(
            text.contains(r#""content":"a\"b\\c\nd\u0001:\n- [x]\n""#),
            "{text}"
        );
        assert!(!text.contains("defer"), "false is left out");
    }

    #[test]
    fn refuses_what_yaml_would_read_differently() {
        for c in ['\u{85}', '\u{2028}', '\u{2029}', '\u{feff}', 'é', '\u{7f}'] {
            let err = to_user_data(&document(&format!("x{c}y")), "user_data").unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field, .. } if field == "user_data"),
                "{c:?}: {err:?}"
            );
        }
    }
}
