//! Listings: the statements behind `list_instances` and `list_jobs`, built from a filter in
//! either dialect (the store says how a placeholder is written and binds the values), and
//! the page a listing makes.

use openclaw_core::domain::{Instance, InstanceFilter, JobFilter, Page};
use uuid::Uuid;

use crate::instances::INSTANCE_COLUMNS;
use crate::jobs::JOB_COLUMNS;
use crate::numbers::limit;

/// A value a listing binds, in the order of its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A text column's value.
    Text(String),
    /// An id (the store binds it as its UUID type).
    Id(Uuid),
    /// A count (`LIMIT`).
    Int(i64),
}

/// A statement and the values for its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The SQL.
    pub sql: String,
    /// The values, the first for placeholder 1.
    pub params: Vec<Param>,
}

impl Listing {
    fn new(select: String) -> Self {
        Listing {
            sql: select,
            params: Vec::new(),
        }
    }

    /// Appends `sql` followed by the placeholder of `param`.
    fn push(&mut self, sql: &str, param: Param, placeholder: &impl Fn(usize) -> String) {
        self.params.push(param);
        self.sql.push_str(sql);
        self.sql.push_str(&placeholder(self.params.len()));
    }
}

/// The statement of `list_instances`: the filter's conditions, ordered by id, one row more
/// than a page (it tells whether another page follows; see [`page_of`]). `placeholder(n)`
/// writes the n-th placeholder (`$n`, `?n`).
pub fn instance_listing(filter: &InstanceFilter, placeholder: impl Fn(usize) -> String) -> Listing {
    let mut listing = Listing::new(format!(
        "SELECT {INSTANCE_COLUMNS} FROM instances WHERE 1 = 1"
    ));
    if let Some(customer) = &filter.customer_id {
        let value = Param::Text(customer.as_str().to_string());
        listing.push(" AND customer_id = ", value, &placeholder);
    }
    if let Some(status) = filter.status {
        let value = Param::Text(status.as_str().to_string());
        listing.push(" AND status = ", value, &placeholder);
    }
    if let Some(reference) = &filter.external_ref {
        let value = Param::Text(reference.as_str().to_string());
        listing.push(" AND external_ref = ", value, &placeholder);
    }
    if let Some(text) = &filter.search {
        // A prefix of the FQDN (`<subdomain>.<zone>`, a column; the subdomain is only in
        // `details`) by its length, not LIKE: the text's `_` and `%` mean themselves.
        let length = Param::Int(i64::try_from(text.chars().count()).unwrap_or(i64::MAX));
        listing.push(" AND ((substr(fqdn, 1, CAST(", length, &placeholder);
        listing.push(" AS INTEGER)) = ", Param::Text(text.clone()), &placeholder);
        listing.push(
            ") OR external_ref = ",
            Param::Text(text.clone()),
            &placeholder,
        );
        listing.sql.push(')');
    }
    if let Some(after) = filter.after {
        listing.push(" AND id > ", Param::Id(after.as_uuid()), &placeholder);
    }
    let rows = Param::Int(limit(filter.effective_limit() + 1));
    listing.push(" ORDER BY id LIMIT ", rows, &placeholder);
    listing
}

/// The page of at most `filter.effective_limit()` instances in `rows` (what
/// [`instance_listing`] selected), with the cursor of the next page if there is one.
pub fn page_of(mut rows: Vec<Instance>, filter: &InstanceFilter) -> Page<Instance> {
    let page_size = filter.effective_limit();
    let next = if rows.len() > page_size {
        rows.truncate(page_size);
        rows.last().map(|i| i.id)
    } else {
        None
    };
    Page { items: rows, next }
}

/// The statement of `list_jobs`: the filter's conditions, oldest first.
pub fn job_listing(filter: &JobFilter, placeholder: impl Fn(usize) -> String) -> Listing {
    let mut listing = Listing::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
    if let Some(state) = filter.state {
        let value = Param::Text(state.as_str().to_string());
        listing.push(" AND state = ", value, &placeholder);
    }
    if let Some(instance) = filter.instance_id {
        listing.push(
            " AND instance_id = ",
            Param::Id(instance.as_uuid()),
            &placeholder,
        );
    }
    listing.sql.push_str(" ORDER BY seq");
    if let Some(n) = filter.limit {
        listing.push(" LIMIT ", Param::Int(limit(n)), &placeholder);
    }
    listing
}

#[cfg(test)]
mod tests {
    use openclaw_core::domain::{InstanceId, InstanceStatus, JobState};

    use super::*;

    #[test]
    fn conditions_come_with_their_placeholders_in_order() {
        let filter = InstanceFilter {
            search: None,
            status: Some(InstanceStatus::Active),
            after: Some(InstanceId::new()),
            limit: Some(10),
            ..InstanceFilter::default()
        };
        let listing = instance_listing(&filter, |n| format!("${n}"));
        assert!(
            listing
                .sql
                .ends_with("WHERE 1 = 1 AND status = $1 AND id > $2 ORDER BY id LIMIT $3"),
            "{}",
            listing.sql
        );
        assert_eq!(listing.params.len(), 3);
        assert_eq!(listing.params[2], Param::Int(11), "one row past the page");
        let jobs = job_listing(
            &JobFilter {
                state: Some(JobState::Dead),
                ..JobFilter::default()
            },
            |n| format!("?{n}"),
        );
        assert!(
            jobs.sql.ends_with("AND state = ?1 ORDER BY seq"),
            "{}",
            jobs.sql
        );
    }
}
