//! Hetzner's label selectors (`GET /servers?label_selector=…`), as the fake server evaluates
//! them.
//!
//! Grammar: requirements separated by commas, all of which must hold:
//! `k=v` and `k==v` (equal), `k!=v` (not equal, or no label `k`), `k` (present), `!k`
//! (absent), `k in (v1,v2)` and `k notin (v1,v2)`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A parsed selector: every requirement must match.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    /// The requirements, in the order written.
    pub requirements: Vec<Requirement>,
}

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `k=v` or `k==v`.
    Equals {
        /// Label key.
        key: String,
        /// Wanted value.
        value: String,
    },
    /// `k!=v`: the label is absent or has another value.
    NotEquals {
        /// Label key.
        key: String,
        /// Unwanted value.
        value: String,
    },
    /// `k`: the label is present, whatever its value.
    Exists(String),
    /// `!k`: the label is absent.
    NotExists(String),
    /// `k in (a,b)`: the label is present with one of the values.
    In {
        /// Label key.
        key: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// `k notin (a,b)`: the label is absent or has none of the values.
    NotIn {
        /// Label key.
        key: String,
        /// Refused values.
        values: Vec<String>,
    },
}

/// Why a selector does not parse; the fake answers `invalid_input` with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(pub String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid label selector: {}", self.0)
    }
}

impl std::error::Error for SelectorError {}

impl LabelSelector {
    /// Parses a selector. The empty string selects everything.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for term in split_top_level(text)? {
            requirements.push(parse_requirement(term)?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals { key, value } => labels.get(key) == Some(value),
            Requirement::NotEquals { key, value } => labels.get(key) != Some(value),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::NotExists(key) => !labels.contains_key(key),
            Requirement::In { key, values } => labels.get(key).is_some_and(|v| values.contains(v)),
            Requirement::NotIn { key, values } => {
                labels.get(key).is_none_or(|v| !values.contains(v))
            }
        }
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Equals { key, value } => write!(f, "{key}={value}"),
            Requirement::NotEquals { key, value } => write!(f, "{key}!={value}"),
            Requirement::Exists(key) => f.write_str(key),
            Requirement::NotExists(key) => write!(f, "!{key}"),
            Requirement::In { key, values } => write!(f, "{key} in ({})", values.join(",")),
            Requirement::NotIn { key, values } => write!(f, "{key} notin ({})", values.join(",")),
        }
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, SelectorError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut terms = Vec::new();
    let mut depth = 0u32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' => return Err(SelectorError("nested parentheses".into())),
            ')' if depth == 1 => depth = 0,
            ')' => return Err(SelectorError("unbalanced ')'".into())),
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SelectorError("unclosed '('".into()));
    }
    terms.push(&text[start..]);
    Ok(terms)
}

fn parse_requirement(term: &str) -> Result<Requirement, SelectorError> {
    let term = term.trim();
    if term.is_empty() {
        return Err(SelectorError("empty requirement".into()));
    }
    if let Some(open) = term.find('(') {
        return parse_set(term, open);
    }
    if let Some(key) = term.strip_prefix('!') {
        if key.contains(['=', '!']) {
            return Err(SelectorError(format!(
                "{term:?} mixes '!' and a comparison"
            )));
        }
        return Ok(Requirement::NotExists(key_of(key)?));
    }
    if let Some((key, value)) = term.split_once("!=") {
        return Ok(Requirement::NotEquals {
            key: key_of(key)?,
            value: value_of(value)?,
        });
    }
    if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Requirement::Equals {
            key: key_of(key)?,
            value: value_of(value)?,
        });
    }
    Ok(Requirement::Exists(key_of(term)?))
}

fn parse_set(term: &str, open: usize) -> Result<Requirement, SelectorError> {
    let inner = term[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| SelectorError(format!("{term:?}: text after ')'")))?;
    let mut head = term[..open].split_whitespace();
    let (Some(key), Some(op), None) = (head.next(), head.next(), head.next()) else {
        return Err(SelectorError(format!(
            "{term:?}: expected `key in (…)` or `key notin (…)`"
        )));
    };
    let values = inner
        .split(',')
        .map(value_of)
        .collect::<Result<Vec<_>, _>>()?;
    let key = key_of(key)?;
    match op {
        "in" => Ok(Requirement::In { key, values }),
        "notin" => Ok(Requirement::NotIn { key, values }),
        other => Err(SelectorError(format!("unknown set operator {other:?}"))),
    }
}

/// A label key: an optional DNS-style prefix and `/`, then a name; letters, digits and
/// `-_./`.
fn key_of(text: &str) -> Result<String, SelectorError> {
    let key = text.trim();
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(SelectorError(format!("{key:?} is not a label key")))
    }
}

/// A label value: empty, or up to 63 letters, digits and `-_.`.
fn value_of(text: &str) -> Result<String, SelectorError> {
    let value = text.trim();
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(SelectorError(format!("{value:?} is not a label value")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator() {
        let l = labels(&[("openclaw/owner", "prod"), ("env", "eu"), ("flag", "")]);
        let yes = [
            "",
            "openclaw/owner=prod",
            "openclaw/owner==prod",
            "env!=us",
            "missing!=x",
            "flag",
            "!missing",
            "env in (us, eu)",
            "env notin (us,ap)",
            "missing notin (x)",
            "openclaw/owner=prod,env=eu,flag",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&l), "{s}");
        }
        let no = [
            "openclaw/owner=staging",
            "env!=eu",
            "missing",
            "!flag",
            "env in (us)",
            "missing in (x)",
            "env notin (eu)",
            "openclaw/owner=prod,env=us",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&l), "{s}");
        }
    }

    #[test]
    fn bad_selectors_are_errors() {
        for s in [
            "a=b,",
            "(",
            "a in (b",
            "a in b)",
            "a is (b)",
            "a=b c",
            "!a=b",
            "a in ((b))",
            ",",
        ] {
            assert!(LabelSelector::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn display_round_trips() {
        let s = LabelSelector::parse("a=b, c!=d,e,!f,g in (h, i),j notin (k)").unwrap();
        assert_eq!(s.to_string(), "a=b,c!=d,e,!f,g in (h,i),j notin (k)");
        assert_eq!(LabelSelector::parse(&s.to_string()).unwrap(), s);
    }
}
