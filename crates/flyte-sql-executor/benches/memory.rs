//! Peak-memory benchmark (being written).

fn main() {}
