//! Benchmarks of openclaw. The benches themselves are in `benches/`; run them with
//! `cargo bench -p openclaw-benches` and see `BENCHMARKS.md` at the repository root for the
//! figures and how they were measured.
