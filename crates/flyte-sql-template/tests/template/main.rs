//! The template crate's tests, one binary.

// The reference's golden cases (interpolation.json, normalization.json).
mod conformance;
// Compatible mode: renderings, error texts, quoting warnings.
mod compat;
// python3 as the oracle for renderings, the scanner and interpolate_query.
mod python_differential;
// Safe mode snapshots: SQL and binds per dialect, errors.
mod safe;
// The property that a statement has exactly the template's binds, or is refused when defined.
mod statements;
// The property that no value changes a safe statement's structure.
mod structure;
// Fixtures, the seeded generator, the python3 runner.
mod support;
