//! The list filters of `GET /zones/{zone_id}/dns_records`: `name`, `type`, `content`,
//! `proxied`, `comment` and `comment.*`, `tag` and `tag.*`, `match`, `tag_match`, `search`,
//! paging and ordering, as the spec describes them (plus the `name.*`/`content.*` predicates
//! newer clients send). An unknown parameter is refused, so a misspelled filter fails a test
//! instead of silently returning everything.

use std::cmp::Ordering;

use super::zone::Row;

/// How a text filter compares. Every comparison ignores ASCII case, as the spec says of
/// comment and tag filters and as DNS names are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        match text {
            "exact" => Some(Op::Exact),
            "contains" => Some(Op::Contains),
            "startswith" => Some(Op::StartsWith),
            "endswith" => Some(Op::EndsWith),
            _ => None,
        }
    }

    fn test(self, value: &str, wanted: &str) -> bool {
        let value = value.to_ascii_lowercase();
        let wanted = wanted.to_ascii_lowercase();
        match self {
            Op::Exact => value == wanted,
            Op::Contains => value.contains(&wanted),
            Op::StartsWith => value.starts_with(&wanted),
            Op::EndsWith => value.ends_with(&wanted),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Content,
    Comment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Cond {
    Text(Field, Op, String),
    CommentPresent(bool),
    Type(String),
    Proxied(bool),
    Search(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TagCond {
    Present(String, bool),
    Value(String, Op, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderBy {
    Type,
    Name,
    Content,
    Ttl,
    Proxied,
}

/// A parsed list query.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    conds: Vec<Cond>,
    tags: Vec<TagCond>,
    match_any: bool,
    tag_match_any: bool,
    pub(crate) page: u64,
    pub(crate) per_page: u64,
    order: OrderBy,
    descending: bool,
}

/// The schema's bounds on `per_page`.
const MAX_PER_PAGE: u64 = 5_000_000;

fn bool_param(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("{key} must be true or false, got {value:?}")),
    }
}

fn number_param(key: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{key} must be a whole number from {min} to {max}, got {value:?}"))
}

fn split_tag(value: &str) -> Result<(String, String), String> {
    value
        .split_once(':')
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .ok_or_else(|| format!("tag filter {value:?} must be <name>:<value>"))
}

impl ListQuery {
    /// Parses the query pairs; the error is a message for a 400.
    pub(crate) fn parse(pairs: &[(String, String)]) -> Result<ListQuery, String> {
        let mut q = ListQuery {
            conds: Vec::new(),
            tags: Vec::new(),
            match_any: false,
            tag_match_any: false,
            page: 1,
            per_page: 100,
            order: OrderBy::Type,
            descending: false,
        };
        for (key, value) in pairs {
            let (base, predicate) = match key.split_once('.') {
                Some((b, p)) => (b, Some(p)),
                None => (key.as_str(), None),
            };
            match (base, predicate) {
                ("name" | "content" | "comment", None) => {
                    q.conds
                        .push(Cond::Text(field(base), Op::Exact, value.clone()));
                }
                ("comment", Some("present")) => q.conds.push(Cond::CommentPresent(true)),
                ("comment", Some("absent")) => q.conds.push(Cond::CommentPresent(false)),
                ("name" | "content" | "comment", Some(p)) => {
                    let op = Op::parse(p).ok_or_else(|| format!("unknown filter {key}"))?;
                    q.conds.push(Cond::Text(field(base), op, value.clone()));
                }
                ("type", None) => q.conds.push(Cond::Type(value.to_ascii_uppercase())),
                ("proxied", None) => q.conds.push(Cond::Proxied(bool_param(key, value)?)),
                ("search", None) => q.conds.push(Cond::Search(value.clone())),
                ("tag", None) => match value.split_once(':') {
                    Some((n, v)) => q.tags.push(TagCond::Value(n.into(), Op::Exact, v.into())),
                    None => q.tags.push(TagCond::Present(value.clone(), true)),
                },
                ("tag", Some("present")) => q.tags.push(TagCond::Present(value.clone(), true)),
                ("tag", Some("absent")) => q.tags.push(TagCond::Present(value.clone(), false)),
                ("tag", Some(p)) => {
                    let op = Op::parse(p).ok_or_else(|| format!("unknown filter {key}"))?;
                    let (n, v) = split_tag(value)?;
                    q.tags.push(TagCond::Value(n, op, v));
                }
                ("match", None) => q.match_any = any_or_all(key, value)?,
                ("tag_match", None) => q.tag_match_any = any_or_all(key, value)?,
                ("page", None) => q.page = number_param(key, value, 1, u64::MAX)?,
                ("per_page", None) => q.per_page = number_param(key, value, 1, MAX_PER_PAGE)?,
                ("order", None) => {
                    q.order = match value.as_str() {
                        "type" => OrderBy::Type,
                        "name" => OrderBy::Name,
                        "content" => OrderBy::Content,
                        "ttl" => OrderBy::Ttl,
                        "proxied" => OrderBy::Proxied,
                        _ => return Err(format!("cannot order by {value:?}")),
                    }
                }
                ("direction", None) => {
                    q.descending = match value.as_str() {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(format!("direction must be asc or desc, got {value:?}")),
                    }
                }
                _ => return Err(format!("unknown query parameter {key}")),
            }
        }
        Ok(q)
    }

    fn cond_holds(cond: &Cond, row: &Row) -> bool {
        match cond {
            Cond::Text(Field::Name, op, v) => op.test(&row.name, v),
            Cond::Text(Field::Content, op, v) => op.test(&row.content, v),
            Cond::Text(Field::Comment, op, v) => {
                row.comment.as_deref().is_some_and(|c| op.test(c, v))
            }
            Cond::CommentPresent(present) => row.comment.is_some() == *present,
            Cond::Type(t) => row.record_type == *t,
            Cond::Proxied(p) => row.proxied == *p,
            Cond::Search(s) => {
                Op::Contains.test(&row.name, s)
                    || Op::Contains.test(&row.content, s)
                    || row
                        .comment
                        .as_deref()
                        .is_some_and(|c| Op::Contains.test(c, s))
            }
        }
    }

    fn tag_holds(cond: &TagCond, row: &Row) -> bool {
        let tags = row
            .tags
            .iter()
            .map(|t| t.split_once(':').unwrap_or((t, "")));
        match cond {
            TagCond::Present(name, present) => {
                let mut tags = tags;
                tags.any(|(n, _)| n.eq_ignore_ascii_case(name)) == *present
            }
            TagCond::Value(name, op, value) => {
                let mut tags = tags;
                tags.any(|(n, v)| n.eq_ignore_ascii_case(name) && op.test(v, value))
            }
        }
    }

    /// Whether `row` passes. `match` combines the plain filters, `tag_match` the tag
    /// filters, and the two groups are then combined by `match`.
    pub(crate) fn matches(&self, row: &Row) -> bool {
        let mut groups = Vec::new();
        if !self.conds.is_empty() {
            let mut each = self.conds.iter().map(|c| Self::cond_holds(c, row));
            groups.push(if self.match_any {
                each.any(|b| b)
            } else {
                each.all(|b| b)
            });
        }
        if !self.tags.is_empty() {
            let mut each = self.tags.iter().map(|c| Self::tag_holds(c, row));
            groups.push(if self.tag_match_any {
                each.any(|b| b)
            } else {
                each.all(|b| b)
            });
        }
        if groups.is_empty() {
            return true;
        }
        if self.match_any {
            groups.iter().any(|b| *b)
        } else {
            groups.iter().all(|b| *b)
        }
    }

    /// The ordering the query asks for; ties keep creation order, so pages are stable.
    pub(crate) fn compare(&self, a: &Row, b: &Row) -> Ordering {
        let primary = match self.order {
            OrderBy::Type => a.record_type.cmp(&b.record_type),
            OrderBy::Name => a.name.cmp(&b.name),
            OrderBy::Content => a.content.cmp(&b.content),
            OrderBy::Ttl => a.ttl.cmp(&b.ttl),
            OrderBy::Proxied => a.proxied.cmp(&b.proxied),
        };
        let primary = if self.descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then(a.seq.cmp(&b.seq))
    }
}

fn field(base: &str) -> Field {
    match base {
        "name" => Field::Name,
        "content" => Field::Content,
        _ => Field::Comment,
    }
}

fn any_or_all(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "any" => Ok(true),
        "all" => Ok(false),
        _ => Err(format!("{key} must be any or all, got {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, comment: Option<&str>, tags: &[&str]) -> Row {
        Row {
            seq: 0,
            id: "x".into(),
            name: name.into(),
            record_type: "A".into(),
            content: "192.0.2.1".into(),
            ttl: 1,
            proxied: false,
            comment: comment.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            created_on: String::new(),
            modified_on: String::new(),
        }
    }

    fn q(pairs: &[(&str, &str)]) -> ListQuery {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(&pairs).unwrap()
    }

    #[test]
    fn comment_filters_ignore_case() {
        let r = row("a.example.com", Some("openclaw:prod:1234"), &[]);
        assert!(q(&[("comment.startswith", "OPENCLAW:prod:")]).matches(&r));
        assert!(!q(&[("comment.startswith", "openclaw:prod-eu:")]).matches(&r));
        assert!(q(&[("comment", "openclaw:prod:1234")]).matches(&r));
        assert!(q(&[("comment.present", "")]).matches(&r));
        assert!(!q(&[("comment.absent", "")]).matches(&r));
        assert!(!q(&[("comment.contains", "x")]).matches(&row("a", None, &[])));
    }

    #[test]
    fn match_any_and_tags() {
        let r = row("a.example.com", None, &["team:dns"]);
        assert!(!q(&[("name", "b.example.com"), ("type", "A")]).matches(&r));
        assert!(q(&[("name", "b.example.com"), ("type", "A"), ("match", "any")]).matches(&r));
        assert!(q(&[("tag", "team")]).matches(&r));
        assert!(q(&[("tag", "team:DNS")]).matches(&r));
        assert!(q(&[("tag.absent", "owner")]).matches(&r));
        assert!(q(&[("tag.startswith", "team:d")]).matches(&r));
    }

    #[test]
    fn unknown_or_bad_parameters_are_refused() {
        let parse = |k: &str, v: &str| ListQuery::parse(&[(k.to_string(), v.to_string())]);
        assert!(parse("comment.starts_with", "x").is_err());
        assert!(parse("zone", "x").is_err());
        assert!(parse("per_page", "0").is_err());
        assert!(parse("page", "0").is_err());
        assert!(parse("proxied", "yes").is_err());
        assert!(parse("tag.exact", "novalue").is_err());
    }
}
