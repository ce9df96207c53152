//! Examples of embedding openclaw, in `examples/`:
//!
//! - `in_memory`: the whole provisioning lifecycle against the in-memory adapters, with a
//!   subscriber printing every event. `cargo run -p openclaw-examples --example in_memory`.
