//! Every failure as the Python exception of its class. The classes are Python's
//! (`openclaw/_errors.py`: `NotFound` is also a `LookupError`, `InvalidInput` a `ValueError`),
//! raised from here with the core's stable code and the fields the class documents.

use std::time::Duration;

use openclaw_core::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::IntoPyObjectExt;
use serde_json::Value;

/// What went wrong, before it becomes a Python exception.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The embedded provisioner's error.
    Core(Error),
    /// A server's answer in the API's error shape (`{"error": {code, message, details}}`).
    Api {
        /// The HTTP status.
        status: u16,
        /// The error's code.
        code: String,
        /// Its message.
        message: String,
        /// Its details (the field of an invalid input, the statuses of a refused transition).
        details: Value,
        /// `Retry-After`, in seconds, on a 429 or 503.
        retry_after: Option<f64>,
    },
    /// No answer in that shape: the server is unreachable, or answered something else.
    Transport(String),
    /// A wait ran out of time.
    Timeout(String),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Core(error)
    }
}

/// A result whose error becomes a Python exception.
pub(crate) type Outcome<T> = Result<T, Failure>;

/// The class of each code: those with a class of their own, else the base `Error`.
fn class_of(code: &str) -> &'static str {
    match code {
        "not_found" => "NotFound",
        "invalid_input" | "malformed_json" | "payload_too_large" => "InvalidInput",
        "conflict" | "gone" | "idempotency_conflict" => "Conflict",
        "invalid_transition" => "InvalidTransition",
        "rate_limited" | "too_many_streams" => "RateLimited",
        "unavailable" | "agent_unavailable" | "store_error" => "Unavailable",
        "unauthorized" | "forbidden" => "Unauthorized",
        "timeout" => "Timeout",
        _ => "Error",
    }
}

/// Builds the exception: `class(message)` with `code` and the class's fields set.
fn raise(py: Python<'_>, code: &str, message: &str, fields: &[(&str, Py<PyAny>)]) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let module = py.import("openclaw._errors")?;
        let class = module.getattr(class_of(code))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("code", code)?;
        for (name, value) in fields {
            kwargs.set_item(*name, value)?;
        }
        let exception = class.call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(exception))
    })();
    built.unwrap_or_else(|error| error)
}

fn seconds(duration: Option<Duration>) -> Option<f64> {
    duration.map(|d| d.as_secs_f64())
}

impl Failure {
    /// The Python exception.
    pub(crate) fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Core(error) => {
                let error = error.root().clone();
                let message = error.to_string();
                let fields = match &error {
                    Error::InvalidInput { field, .. } => {
                        vec![("field", object(py, field.as_str()))]
                    }
                    Error::InvalidTransition { from, to } => vec![
                        ("from_status", object(py, from.as_str())),
                        ("to_status", object(py, to.as_str())),
                    ],
                    Error::RateLimited { retry_after, .. } => {
                        vec![("retry_after", object(py, seconds(*retry_after)))]
                    }
                    _ => Vec::new(),
                };
                raise(py, error.code(), &message, &fields)
            }
            Failure::Api {
                status,
                code,
                message,
                details,
                retry_after,
            } => {
                let detail = |name: &str| object(py, details.get(name).and_then(Value::as_str));
                let mut fields = vec![("status", object(py, status))];
                match class_of(&code) {
                    "InvalidInput" => fields.push(("field", detail("field"))),
                    "InvalidTransition" => {
                        fields.push(("from_status", detail("from")));
                        fields.push(("to_status", detail("to")));
                    }
                    "RateLimited" => fields.push(("retry_after", object(py, retry_after))),
                    _ => {}
                }
                raise(py, &code, &message, &fields)
            }
            Failure::Transport(message) => raise(py, "unavailable", &message, &[]),
            Failure::Timeout(message) => raise(py, "timeout", &message, &[]),
        }
    }
}

/// `value` as a Python object (`None` if it cannot be one).
fn object<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> Py<PyAny> {
    value.into_py_any(py).unwrap_or_else(|_| py.None())
}

/// `outcome` as a Python result (taking the GIL for the exception if it failed).
pub(crate) fn into_py_result<T>(outcome: Outcome<T>) -> PyResult<T> {
    outcome.map_err(|failure| Python::attach(|py| failure.into_py_err(py)))
}
