//! What a key bound to a customer reads about its instances: the stable codes, and messages
//! written for that customer. The text of providers and the database (Hetzner's and
//! Cloudflare's error messages, SQL errors, internal names) goes only to the logs and to admin
//! and manage keys, never to a customer.

use crate::auth::Caller;
use crate::model::{EventKindView, EventView, InstanceView, Status};

/// Whether `caller` reads the customer's words rather than the operator's.
fn for_customer(caller: &Caller) -> bool {
    caller.customer.is_some()
}

/// The customer's message for a failed operation.
fn failed_operation(operation: &str) -> String {
    let what = match operation {
        "provision" => "Setting up your assistant",
        "suspend" => "Pausing your assistant",
        "unsuspend" => "Resuming your assistant",
        "terminate" => "Removing your assistant",
        "rollback" => "Undoing an unfinished setup",
        "change_plan" => "Changing your plan",
        _ => "An operation on your assistant",
    };
    format!("{what} did not succeed. Our team has been notified and will take care of it.")
}

/// The customer's words for a status.
fn status_reason(to: Status) -> &'static str {
    match to {
        Status::Pending => "Your order was received.",
        Status::Provisioning => "Your assistant is being set up.",
        Status::Active => "Your assistant is ready.",
        Status::Suspending => "Your assistant is being paused.",
        Status::Suspended => "Your assistant is paused.",
        Status::Unsuspending => "Your assistant is being resumed.",
        Status::Terminating => "Your assistant is being removed.",
        Status::Terminated => "Your assistant was removed.",
        Status::RollingBack => "An unfinished setup is being undone.",
        Status::RolledBack => "The unfinished setup was undone; it can be started again.",
        Status::Failed => "Something went wrong; our team has been notified.",
        Status::Resizing => "Your assistant is moving to its new plan.",
    }
}

/// `view` as `caller` may read it.
pub fn instance(caller: &Caller, mut view: InstanceView) -> InstanceView {
    if for_customer(caller) {
        if let Some(error) = view.last_error.as_mut() {
            error.message = failed_operation(&error.operation);
        }
    }
    view
}

/// `view` as `caller` may read it.
pub fn event(caller: &Caller, mut view: EventView) -> EventView {
    if for_customer(caller) {
        view.reason = match &view.kind {
            EventKindView::StatusChanged { to, .. } => status_reason(*to).to_string(),
            EventKindView::Alert { code } => {
                format!("Our team was alerted about your assistant ({code}).")
            }
            EventKindView::Audit { action, .. } => format!("Recorded: {action}."),
        };
    }
    view
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use openclaw_core::domain::{CustomerId, Scope};

    use super::*;

    fn caller(customer: Option<&str>) -> Caller {
        Caller {
            key_id: "k".into(),
            name: "k".into(),
            scope: Scope::Manage,
            customer: customer.map(|c| CustomerId::parse(c).unwrap()),
        }
    }

    #[test]
    fn customers_read_codes_and_their_own_words_operators_read_everything() {
        let provider_text =
            "hetzner error resource_limit_exceeded (HTTP 403): server limit reached";
        let event = EventView {
            sequence: 7,
            topic: "provisioning".into(),
            instance_id: None,
            kind: EventKindView::StatusChanged {
                from: Some(Status::Provisioning),
                to: Status::Failed,
            },
            reason: provider_text.into(),
            at: Utc::now(),
        };
        let seen = super::event(&caller(Some("alice")), event.clone());
        assert!(!seen.reason.contains("hetzner"), "{}", seen.reason);
        assert_eq!(seen.kind, event.kind, "the stable parts stay");
        assert_eq!(super::event(&caller(None), event).reason, provider_text);

        for operation in [
            "provision",
            "suspend",
            "unsuspend",
            "terminate",
            "rollback",
            "x",
        ] {
            let message = failed_operation(operation);
            assert!(message.contains("Our team has been notified"), "{message}");
        }
    }
}
